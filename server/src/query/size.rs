//! The encoded (BSON) size of values, computed without encoding: what memory budgets and the
//! change-event log count. Exact for the common types, an upper bound for the rest.

use bson::{Bson, Document};

/// Bytes `doc` takes as BSON.
pub fn doc_bytes(doc: &Document) -> usize {
    // int32 length + elements + terminating NUL.
    5 + doc.iter().map(|(k, v)| element_bytes(k.len(), v)).sum::<usize>()
}

/// Bytes `items` take as a BSON array (keys "0", "1", …).
fn array_bytes(items: &[Bson]) -> usize {
    5 + items.iter().enumerate().map(|(i, v)| element_bytes(decimal_digits(i), v)).sum::<usize>()
}

/// Type byte + key + NUL + value.
fn element_bytes(key_len: usize, v: &Bson) -> usize {
    2 + key_len + value_bytes(v)
}

/// Bytes of a value without its key.
pub fn value_bytes(v: &Bson) -> usize {
    match v {
        Bson::Double(_) | Bson::Int64(_) | Bson::DateTime(_) | Bson::Timestamp(_) => 8,
        Bson::Int32(_) => 4,
        Bson::Boolean(_) => 1,
        Bson::Null | Bson::Undefined | Bson::MinKey | Bson::MaxKey => 0,
        Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s) => 5 + s.len(),
        Bson::Document(d) => doc_bytes(d),
        Bson::Array(a) => array_bytes(a),
        Bson::ObjectId(_) => 12,
        Bson::Decimal128(_) => 16,
        Bson::Binary(b) => 5 + b.bytes.len(),
        Bson::RegularExpression(r) => 2 + r.pattern.len() + r.options.len(),
        Bson::JavaScriptCodeWithScope(c) => 4 + 5 + c.code.len() + doc_bytes(&c.scope),
        Bson::DbPointer(_) => 5 + 64 + 12,
    }
}

fn decimal_digits(i: usize) -> usize {
    i.checked_ilog10().map_or(1, |d| d as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn matches_the_encoder_for_common_types() {
        let samples = [
            doc! {},
            doc! {"a": 1, "b": 2.5, "c": "text", "d": true, "e": null, "f": 5_i64},
            doc! {"arr": [1, "two", {"x": [null, null, null, null, null, null, null, null, null, null, null, 3]}]},
            doc! {"id": bson::oid::ObjectId::new(), "when": bson::DateTime::now(), "bin": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1, 2, 3] }},
        ];
        for d in samples {
            assert_eq!(doc_bytes(&d), bson::to_vec(&d).expect("encode").len(), "{d}");
        }
    }
}
