//! Where sessions are persisted (protocol §9.1): by default the environment's `defaultStorage`
//! (`api.js`: `localStorage` under `realm-web:` in browsers, so realm-web's saved sessions are
//! shared, one in-memory store per Node process; `setEnvironment` swaps it), a JSON file in a
//! directory, or any JS object with `get/set/remove`. Keys are realm-web's: `app(<id>):…` in the
//! store given. Nothing here runs at import time, so importing the package never touches `window`
//! (SSR-safe).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::ejson::write_json_string;
use crate::error::{Error, Result};
use crate::json::{self, Json};
use crate::storage::Storage;

thread_local! {
    /// Adapters by JS object, so Apps given the same object share their users.
    static OBJECTS: RefCell<Vec<(JsValue, Rc<dyn Storage>)>> = const { RefCell::new(Vec::new()) };
    static DIRECTORIES: RefCell<Vec<(String, Rc<dyn Storage>)>> = const { RefCell::new(Vec::new()) };
}

fn get(target: &JsValue, key: &str) -> JsValue {
    if target.is_object() || target.is_function() {
        Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

fn method(target: &JsValue, name: &str) -> Option<Function> {
    get(target, name).dyn_into::<Function>().ok()
}

/// A JS store: `{get, set, remove}` or the Web Storage API (`getItem`, `setItem`, `removeItem`).
struct JsStorage {
    target: JsValue,
    get: Function,
    set: Function,
    remove: Function,
}

impl JsStorage {
    fn from(target: &JsValue) -> Option<JsStorage> {
        let pick = |a: &str, b: &str| method(target, a).or_else(|| method(target, b));
        Some(JsStorage {
            target: target.clone(),
            get: pick("get", "getItem")?,
            set: pick("set", "setItem")?,
            remove: pick("remove", "removeItem")?,
        })
    }
}

impl Storage for JsStorage {
    fn get(&self, key: &str) -> Option<String> {
        self.get.call1(&self.target, &JsValue::from_str(key)).ok().and_then(|v| v.as_string())
    }
    // A throwing store (quota, private mode) keeps the session in memory only.
    fn set(&self, key: &str, value: &str) {
        let _ = self.set.call2(&self.target, &JsValue::from_str(key), &JsValue::from_str(value));
    }
    fn remove(&self, key: &str) {
        let _ = self.remove.call1(&self.target, &JsValue::from_str(key));
    }
}

/// A JSON object of strings in `<dir>/realm-wasm-storage.json`, rewritten (temporary file +
/// rename, so a crash never leaves half a file) on every change. Node only.
struct FileStorage {
    fs: JsValue,
    path: String,
    // A handful of keys per user: a list (a BTreeMap costs ~8 KB of wasm).
    entries: RefCell<Vec<(String, String)>>,
}

impl FileStorage {
    fn open(dir: &str) -> Result<FileStorage> {
        let process = get(&super::global_this(), "process");
        let fs = method(&process, "getBuiltinModule")
            .and_then(|f| f.call1(&process, &JsValue::from_str("node:fs")).ok())
            .filter(JsValue::is_object)
            .ok_or_else(|| {
                Error::InvalidArgument(
                    "App config `storage`: a directory path needs Node 20.16 or later (process.getBuiltinModule); pass an object with get/set/remove instead".to_owned(),
                )
            })?;
        let call = |name: &str, args: &[JsValue]| -> std::result::Result<JsValue, JsValue> {
            let f = method(&fs, name).ok_or_else(|| JsValue::from_str(name))?;
            f.apply(&fs, &args.iter().collect())
        };
        let options = js_sys::Object::new();
        let _ = Reflect::set(&options, &"recursive".into(), &JsValue::TRUE);
        call("mkdirSync", &[JsValue::from_str(dir), options.into()]).map_err(|e| {
            Error::InvalidArgument(format!("App config `storage`: cannot create directory {dir}: {}", super::convert::describe(&e)))
        })?;
        let path = format!("{}/realm-wasm-storage.json", dir.trim_end_matches('/'));
        let entries = match call("readFileSync", &[JsValue::from_str(&path), JsValue::from_str("utf8")]) {
            // A missing or unreadable file is an empty store.
            Ok(text) => read_entries(&text.as_string().unwrap_or_default()),
            Err(_) => Vec::new(),
        };
        Ok(FileStorage { fs, path, entries: RefCell::new(entries) })
    }

    fn save(&self) {
        let text = write_entries(&self.entries.borrow());
        let tmp = format!("{}.tmp", self.path);
        let call = |name: &str, a: &str, b: &str| {
            if let Some(f) = method(&self.fs, name) {
                let _ = f.call2(&self.fs, &JsValue::from_str(a), &JsValue::from_str(b));
            }
        };
        call("writeFileSync", &tmp, &text);
        call("renameSync", &tmp, &self.path);
    }
}

/// The store file's `{"key": "value", …}`; anything else (or unreadable) is an empty store.
fn read_entries(text: &str) -> Vec<(String, String)> {
    let Ok(Json::Object(entries)) = json::parse(text) else { return Vec::new() };
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let Json::String(v) = v else { return Vec::new() };
        out.push((k, v));
    }
    out
}

fn write_entries(entries: &[(String, String)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(&mut out, k);
        out.push(':');
        write_json_string(&mut out, v);
    }
    out.push('}');
    out
}

impl Storage for FileStorage {
    fn get(&self, key: &str) -> Option<String> {
        self.entries.borrow().iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
    fn set(&self, key: &str, value: &str) {
        {
            let mut entries = self.entries.borrow_mut();
            match entries.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => value.clone_into(&mut slot.1),
                None => entries.push((key.to_owned(), value.to_owned())),
            }
        }
        self.save();
    }
    fn remove(&self, key: &str) {
        let removed = {
            let mut entries = self.entries.borrow_mut();
            let at = entries.iter().position(|(k, _)| k == key);
            at.map(|i| entries.remove(i))
        };
        if removed.is_some() {
            self.save();
        }
    }
}

/// The storage for the App config's `storage` value.
pub(crate) fn choose(option: &JsValue) -> Result<Rc<dyn Storage>> {
    if option.is_undefined() || option.is_null() {
        let environment = super::api::default_storage()
            .map_err(|e| Error::InvalidArgument(format!("getEnvironment() failed: {}", super::convert::describe(&e))))?;
        return object_storage(&environment).ok_or_else(|| {
            Error::InvalidArgument("getEnvironment().defaultStorage must be an object with get(key), set(key, value) and remove(key)".to_owned())
        });
    }
    if let Some(dir) = option.as_string() {
        let existing = DIRECTORIES.with(|d| d.borrow().iter().find(|(p, _)| *p == dir).map(|(_, s)| s.clone()));
        let storage = match existing {
            Some(s) => s,
            None => {
                let s: Rc<dyn Storage> = Rc::new(FileStorage::open(&dir)?);
                DIRECTORIES.with(|d| d.borrow_mut().push((dir, s.clone())));
                s
            }
        };
        return Ok(storage);
    }
    object_storage(option).ok_or_else(|| {
        Error::InvalidArgument(
            "App config `storage` must be a directory path (Node) or an object with get(key), set(key, value) and remove(key)".to_owned(),
        )
    })
}

/// The adapter of a JS store (one per object, so Apps given the same object share their users).
fn object_storage(option: &JsValue) -> Option<Rc<dyn Storage>> {
    let existing = OBJECTS.with(|o| o.borrow().iter().find(|(obj, _)| js_sys::Object::is(obj, option)).map(|(_, s)| s.clone()));
    if existing.is_some() {
        return existing;
    }
    let storage: Rc<dyn Storage> = Rc::new(JsStorage::from(option)?);
    OBJECTS.with(|o| o.borrow_mut().push((option.clone(), storage.clone())));
    Some(storage)
}
