//! Dotted-path lookup and mutation inside documents (with arrays traversed like MongoDB).

use bson::{Bson, Document};

/// Every value a dotted path reaches in `doc`. Arrays met on the way are traversed: a numeric
/// component indexes into the array, any other component is looked up in each element document.
/// An empty result means the path is missing.
pub(crate) fn lookup<'a>(doc: &'a Document, path: &str) -> Vec<&'a Bson> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    if let Some(v) = doc.get(parts[0]) {
        walk(v, &parts[1..], &mut out);
    }
    out
}

fn walk<'a>(value: &'a Bson, rest: &[&str], out: &mut Vec<&'a Bson>) {
    let Some((head, tail)) = rest.split_first() else {
        out.push(value);
        return;
    };
    match value {
        Bson::Document(d) => {
            if let Some(v) = d.get(*head) {
                walk(v, tail, out);
            }
        }
        Bson::Array(items) => {
            if let Ok(i) = head.parse::<usize>() {
                if let Some(v) = items.get(i) {
                    walk(v, tail, out);
                }
            }
            for item in items {
                if let Bson::Document(d) = item {
                    if let Some(v) = d.get(*head) {
                        walk(v, tail, out);
                    }
                }
            }
        }
        _ => {}
    }
}

/// The single value at `path` without array fan-out (used by updates and projection).
pub(crate) fn get_exact<'a>(doc: &'a Document, path: &str) -> Option<&'a Bson> {
    let mut parts = path.split('.');
    let mut cur = doc.get(parts.next()?)?;
    for part in parts {
        cur = match cur {
            Bson::Document(d) => d.get(part)?,
            Bson::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Sets `path` to `value`, creating intermediate documents. Fails when a non-container
/// value is in the way (MongoDB: "Cannot create field … in element …").
pub(crate) fn set_path(doc: &mut Document, path: &str, value: Bson) -> Result<(), String> {
    set_path_padding(doc, path, value, &mut |_| Ok(()))
}

/// `set_path`, asking `pad` before an array is padded with that many nulls (an index past its end).
pub(crate) fn set_path_padding(doc: &mut Document, path: &str, value: Bson, pad: Pad) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    set_in_doc(doc, &parts, value, path, pad)
}

/// Asked before padding an array with `n` nulls; an error stops the write.
pub(crate) type Pad<'a> = &'a mut dyn FnMut(usize) -> Result<(), String>;

fn set_in_doc(doc: &mut Document, parts: &[&str], value: Bson, full: &str, pad: Pad) -> Result<(), String> {
    let (head, tail) = parts.split_first().ok_or_else(|| "empty field path".to_string())?;
    if head.is_empty() {
        return Err(format!("empty field name in path '{full}'"));
    }
    if tail.is_empty() {
        doc.insert(*head, value);
        return Ok(());
    }
    if !doc.contains_key(*head) {
        doc.insert(*head, Document::new());
    }
    match doc.get_mut(*head) {
        Some(child) => set_in_value(child, tail, value, full, pad),
        None => Err(format!("cannot set '{full}'")),
    }
}

/// The most nulls a `$set` of an array index may pad an array with (as MongoDB).
const MAX_BACKFILL: usize = 1_500_000;

fn set_in_value(target: &mut Bson, parts: &[&str], value: Bson, full: &str, pad: Pad) -> Result<(), String> {
    match target {
        Bson::Document(d) => set_in_doc(d, parts, value, full, pad),
        Bson::Array(items) => {
            let (head, tail) = parts.split_first().ok_or_else(|| "empty field path".to_string())?;
            let i: usize = head
                .parse()
                .map_err(|_| format!("Cannot create field '{head}' in an array (path '{full}')"))?;
            // MongoDB's limit: an index far past the end would pad the array with nulls until
            // the allocation aborts the process.
            if i.saturating_sub(items.len()) > MAX_BACKFILL {
                return Err(format!("can't backfill more than {MAX_BACKFILL} elements (path '{full}')"));
            }
            if i >= items.len() {
                pad(i + 1 - items.len())?;
            }
            while items.len() <= i {
                items.push(Bson::Null);
            }
            if tail.is_empty() {
                items[i] = value;
                Ok(())
            } else {
                if items[i] == Bson::Null {
                    items[i] = Bson::Document(Document::new());
                }
                set_in_value(&mut items[i], tail, value, full, pad)
            }
        }
        other => Err(format!(
            "Cannot create field '{}' in element {{{}}} (path '{full}')",
            parts.first().copied().unwrap_or_default(),
            other
        )),
    }
}

/// Removes `path`; returns whether something was removed. Array elements become null, as in MongoDB.
pub(crate) fn unset_path(doc: &mut Document, path: &str) -> bool {
    let parts: Vec<&str> = path.split('.').collect();
    unset_in_doc(doc, &parts)
}

fn unset_in_doc(doc: &mut Document, parts: &[&str]) -> bool {
    let Some((head, tail)) = parts.split_first() else { return false };
    if tail.is_empty() {
        return doc.remove(*head).is_some();
    }
    match doc.get_mut(*head) {
        Some(Bson::Document(d)) => unset_in_doc(d, tail),
        Some(Bson::Array(items)) => {
            let Ok(i) = tail[0].parse::<usize>() else { return false };
            match items.get_mut(i) {
                Some(item) if tail.len() == 1 => {
                    let changed = *item != Bson::Null;
                    *item = Bson::Null;
                    changed
                }
                Some(Bson::Document(d)) => unset_in_doc(d, &tail[1..]),
                _ => false,
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn lookup_traverses_documents_and_arrays() {
        let d = doc! {"a": {"b": 1}, "arr": [{"x": 1}, {"x": 2}, {"y": 3}], "n": [10, 20]};
        assert_eq!(lookup(&d, "a.b"), vec![&Bson::Int32(1)]);
        assert_eq!(lookup(&d, "arr.x"), vec![&Bson::Int32(1), &Bson::Int32(2)]);
        assert_eq!(lookup(&d, "n.1"), vec![&Bson::Int32(20)]);
        assert!(lookup(&d, "a.c").is_empty());
        assert!(lookup(&d, "missing").is_empty());
    }

    #[test]
    fn set_and_unset_paths() {
        let mut d = doc! {"a": 1, "arr": [1, 2]};
        set_path(&mut d, "b.c.d", Bson::Int32(5)).expect("set");
        assert_eq!(d, doc! {"a": 1, "arr": [1, 2], "b": {"c": {"d": 5}}});
        set_path(&mut d, "arr.3", Bson::Int32(9)).expect("set");
        assert_eq!(d.get_array("arr").expect("arr").len(), 4);
        assert!(set_path(&mut d, "a.x", Bson::Int32(1)).is_err());
        assert!(unset_path(&mut d, "b.c.d"));
        assert!(!unset_path(&mut d, "b.c.d"));
        assert_eq!(get_exact(&d, "arr.1"), Some(&Bson::Int32(2)));
    }
}
