//! The exported MongoDB classes: `MongoDB` (a service), `MongoDBDatabase`, `MongoDBCollection`
//! and `ChangeStream` (what `watch()` returns: an async iterator). The collection and stream
//! classes are generic in TypeScript, which wasm-bindgen cannot express, so their declarations
//! are written in `types.rs` and the generated ones are skipped.

use std::cell::RefCell;

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;

use super::fetch::FetchTransport;
use super::classes::{get, optional, promise, rejected, string_arg, type_name};
use super::convert::{encode_document, encode_document_list, encode_optional_document, reply_to_js, to_js, to_optional_document, to_value};
use crate::ejson::Value;
use crate::error::{Error, Result};
use crate::mongo::{self, Part, WatchOptions};

/// `user.mongoClient(serviceName)`.
#[wasm_bindgen]
pub struct MongoDB {
    inner: mongo::MongoDBService,
}

impl MongoDB {
    pub(crate) fn new(inner: mongo::MongoDBService) -> MongoDB {
        MongoDB { inner }
    }
}

#[wasm_bindgen]
impl MongoDB {
    /// A database of this service.
    pub fn db(
        &self,
        #[wasm_bindgen(js_name = "databaseName", unchecked_param_type = "string")] name: JsValue,
    ) -> std::result::Result<MongoDBDatabase, JsValue> {
        let name = string_arg(&name, "db(databaseName): databaseName").map_err(super::errors::to_js_error)?;
        Ok(MongoDBDatabase { inner: self.inner.db(&name) })
    }

    /// The service name.
    #[wasm_bindgen(getter = serviceName, unchecked_return_type = "string")]
    pub fn service_name(&self) -> JsValue {
        JsValue::from_str(self.inner.service_name())
    }
}

/// `service.db(name)`.
#[wasm_bindgen(skip_typescript)]
pub struct MongoDBDatabase {
    inner: mongo::MongoDBDatabase,
}

#[wasm_bindgen]
impl MongoDBDatabase {
    /// A collection of this database.
    #[wasm_bindgen(skip_typescript)]
    pub fn collection(&self, name: JsValue) -> std::result::Result<MongoDBCollection, JsValue> {
        let name = string_arg(&name, "collection(collectionName): collectionName").map_err(super::errors::to_js_error)?;
        Ok(MongoDBCollection::new(self.inner.collection(&name)))
    }

    /// The database name.
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn name(&self) -> JsValue {
        JsValue::from_str(self.inner.name())
    }
}

/// `db.collection(name)`: MongoDB operations through the App Services function API.
#[wasm_bindgen(skip_typescript)]
pub struct MongoDBCollection {
    inner: mongo::MongoDBCollection,
    /// What the fast path (`call` in codec.js) reuses from call to call, made on first use.
    fast: RefCell<Option<Fast>>,
}

/// The fast path's per-collection parts, as JS values (no string crosses per call).
struct Fast {
    /// The App's `fetch` override (undefined: `globalThis.fetch`); `None`: another transport
    /// (tests), which takes the usual path.
    fetch: Option<JsValue>,
    /// The call URL, by location.
    url: JsText,
    token: JsText,
    /// `resume(body, url, token, head)`: the Rust continuation for anything but a plain answer.
    resume: JsValue,
    /// Method name → its frame as `call` takes it: `[prefix, suffix, key, source, option, …]`.
    plans: Vec<(&'static str, JsValue)>,
}

/// A string and the JS string made from it (by `make`), made again only when the string changes.
#[derive(Default)]
struct JsText(Option<(String, JsValue)>);

impl JsText {
    fn get(&mut self, text: String, make: impl FnOnce(&str) -> JsValue) -> &JsValue {
        let (_, js) = match self.0.take() {
            Some(known) if known.0 == text => self.0.insert(known),
            _ => {
                let js = make(&text);
                self.0.insert((text, js))
            }
        };
        js
    }
}

impl Fast {
    fn new(inner: &mongo::MongoDBCollection) -> Fast {
        let fetch = inner.transport().as_any().and_then(|t| t.downcast_ref::<FetchTransport>()).map(|t| match &t.fetch {
            Some(f) => JsValue::from(f),
            None => JsValue::UNDEFINED,
        });
        let inner = inner.clone();
        let resume = Closure::<dyn Fn(String, String, String, JsValue) -> Promise>::new(
            move |body: String, url: String, token: String, head: JsValue| {
                let inner = inner.clone();
                promise(async move {
                    let first = first_attempt(&head, &url, inner.timeout_ms());
                    reply_to_js(&inner.resume(&url, body, token, first).await?)
                })
            },
        )
        .into_js_value();
        Fast { fetch, url: JsText::default(), token: JsText::default(), resume, plans: Vec::new() }
    }
}

/// What the first attempt gave, from what `call` (codec.js) handed to `resume`: a response, or
/// `{ error, timedOut }` when fetch threw or rejected, as the Rust transport reports them.
fn first_attempt(head: &JsValue, url: &str, timeout_ms: Option<u32>) -> Result<crate::transport::Response> {
    let key = JsValue::from_str("error");
    if !(head.is_object() && Reflect::has(head, &key).unwrap_or(false)) {
        return super::fetch::head_to_response(head, "POST", url);
    }
    let (method, url) = ("POST".to_owned(), url.to_owned());
    Err(match (get(head, "timedOut").is_truthy(), timeout_ms) {
        (true, Some(timeout_ms)) => Error::Timeout { method, url, timeout_ms },
        _ => Error::Network { method, url, message: super::convert::describe(&get(head, "error")) },
    })
}

/// A frame as `call` (codec.js) takes it, with its codes for where each argument comes from.
fn plan_of(frame: mongo::Frame) -> JsValue {
    let plan = js_sys::Array::new();
    plan.push(&JsValue::from_str(&frame.prefix));
    plan.push(&JsValue::from_str(&frame.suffix));
    for (key, part) in frame.parts {
        let (source, option) = match part {
            Part::Filter => (0, None),
            Part::Document(0) => (1, None),
            Part::Document(_) => (2, None),
            Part::Documents => (3, None),
            Part::Value(name) => (4, Some(name)),
            Part::Flag(name) => (5, Some(name)),
        };
        plan.push(&JsValue::from_str(&key));
        plan.push(&JsValue::from(source));
        plan.push(&option.map(JsValue::from_str).unwrap_or(JsValue::UNDEFINED));
    }
    plan.into()
}

impl MongoDBCollection {
    fn new(inner: mongo::MongoDBCollection) -> MongoDBCollection {
        MongoDBCollection { inner, fast: RefCell::new(None) }
    }

    /// Sends method `name` with the positional arguments `a0`, `a1` and `options` in one JS call
    /// when the call can go out at once and the arguments are ones the JS encoder covers; `None`:
    /// nothing was sent, take the usual path (which also reports invalid arguments).
    fn fast_call(&self, name: &'static str, a0: &JsValue, a1: &JsValue, options: &JsValue) -> Option<Promise> {
        let ready = self.inner.ready()?;
        // Held while `fetch` (user code) runs: a call it makes on this collection finds it taken
        // and takes the usual path.
        let mut slot = self.fast.try_borrow_mut().ok()?;
        let fast = slot.get_or_insert_with(|| Fast::new(&self.inner));
        let at = match fast.plans.iter().position(|(n, _)| *n == name) {
            Some(at) => at,
            None => {
                fast.plans.push((name, plan_of(self.inner.call_frame(name)?)));
                fast.plans.len() - 1
            }
        };
        let url = fast.url.get(ready.location, |location| JsValue::from_str(&self.inner.call_url(location)));
        let token = fast.token.get(ready.token, JsValue::from_str);
        let fetch = fast.fetch.as_ref()?;
        super::codec::codec_call(fetch, url, token, ready.fresh_until_ms, ready.timeout_ms, &fast.plans[at].1, a0, a1, options, &fast.resume)
    }
}

/// An options argument: `undefined` or an object.
fn options_object(options: &JsValue, what: &str) -> Result<()> {
    if options.is_undefined() || options.is_null() || (options.is_object() && !js_sys::Array::is_array(options)) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!("{what} must be an object, got {}", type_name(options))))
    }
}

/// The usual (Rust) path of method `name`, whose JS parameters are `params`: the arguments
/// converted as its layout says, then one request. One non-generic future for every method:
/// a future per method cost ~1 KB of wasm each.
#[inline(never)]
fn rust_call(collection: &mongo::MongoDBCollection, name: &'static str, params: &str, args: [&JsValue; 3]) -> Promise {
    match layout_args(name, params, args) {
        Ok(parts) => {
            let collection = collection.clone();
            promise(async move { reply_to_js(&collection.call_parts(name, parts).await?) })
        }
        Err(e) => rejected(e),
    }
}

/// The arguments of method `name` (`args`: the positional ones, then options) as its wire
/// fields, validated in the order of its parameters; errors name `name(params): param`.
fn layout_args(name: &str, params: &str, args: [&JsValue; 3]) -> Result<Vec<(&'static str, Value)>> {
    let layout = mongo::layout(name).unwrap_or_default();
    let what = |at: usize| format!("{name}({params}): {}", params.split(',').nth(at).unwrap_or_default().trim_start());
    let options = args[2];
    let mut parts = Vec::with_capacity(layout.len());
    let mut checked = false;
    for &(key, part) in layout {
        let value = match part {
            Part::Filter => Some(encode_optional_document(args[0], &what(0))?.unwrap_or_else(|| Value::Document(Default::default()))),
            Part::Document(at) => Some(encode_document(args[usize::from(at)], &what(usize::from(at)))?),
            Part::Documents => Some(encode_document_list(args[0], &what(0))?),
            Part::Value(option) | Part::Flag(option) => {
                if !checked {
                    // The options object is checked after the positional arguments.
                    options_object(options, &what(params.split(',').count() - 1))?;
                    checked = true;
                }
                match (part, get(options, option)) {
                    (_, v) if v.is_undefined() => None,
                    (Part::Flag(_), v) => Some(Value::Bool(v.is_truthy())),
                    (_, v) => Some(to_value(&v)?),
                }
            }
        };
        if let Some(value) = value {
            parts.push((key, value));
        }
    }
    Ok(parts)
}

impl MongoDBCollection {
    /// Method `name` with its positional arguments `a0`, `a1` and `options`: the fast path, or
    /// else the usual one.
    fn call(&self, name: &'static str, params: &str, a0: &JsValue, a1: &JsValue, options: &JsValue) -> Promise {
        match self.fast_call(name, a0, a1, options) {
            Some(p) => p,
            None => rust_call(&self.inner, name, params, [a0, a1, options]),
        }
    }
}

#[wasm_bindgen]
impl MongoDBCollection {
    /// The collection name.
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn name(&self) -> JsValue {
        JsValue::from_str(self.inner.name())
    }

    /// The database name.
    #[wasm_bindgen(getter = databaseName, skip_typescript)]
    pub fn database_name(&self) -> JsValue {
        JsValue::from_str(self.inner.database_name())
    }

    /// Documents matching `filter`.
    #[wasm_bindgen(skip_typescript)]
    pub fn find(&self, filter: JsValue, options: JsValue) -> Promise {
        self.call("find", "filter, options", &filter, &JsValue::UNDEFINED, &options)
    }

    /// The first document matching `filter`, or null.
    #[wasm_bindgen(js_name = findOne, skip_typescript)]
    pub fn find_one(&self, filter: JsValue, options: JsValue) -> Promise {
        self.call("findOne", "filter, options", &filter, &JsValue::UNDEFINED, &options)
    }

    /// Updates the first match; resolves to the document before (or after, with
    /// `returnNewDocument`) the update, or null.
    #[wasm_bindgen(js_name = findOneAndUpdate, skip_typescript)]
    pub fn find_one_and_update(&self, filter: JsValue, update: JsValue, options: JsValue) -> Promise {
        self.call("findOneAndUpdate", "filter, update, options", &filter, &update, &options)
    }

    /// Replaces the first match; resolves to the document before (or after) or null.
    #[wasm_bindgen(js_name = findOneAndReplace, skip_typescript)]
    pub fn find_one_and_replace(&self, filter: JsValue, replacement: JsValue, options: JsValue) -> Promise {
        self.call("findOneAndReplace", "filter, replacement, options", &filter, &replacement, &options)
    }

    /// Deletes the first match; resolves to it or null.
    #[wasm_bindgen(js_name = findOneAndDelete, skip_typescript)]
    pub fn find_one_and_delete(&self, filter: JsValue, options: JsValue) -> Promise {
        self.call("findOneAndDelete", "filter, options", &filter, &JsValue::UNDEFINED, &options)
    }

    /// Runs an aggregation pipeline.
    #[wasm_bindgen(skip_typescript)]
    pub fn aggregate(&self, pipeline: JsValue) -> Promise {
        self.call("aggregate", "pipeline", &pipeline, &JsValue::UNDEFINED, &JsValue::UNDEFINED)
    }

    /// The number of documents matching `filter`.
    #[wasm_bindgen(skip_typescript)]
    pub fn count(&self, filter: JsValue, options: JsValue) -> Promise {
        self.call("count", "filter, options", &filter, &JsValue::UNDEFINED, &options)
    }

    /// Inserts one document; resolves to `{ insertedId }`.
    #[wasm_bindgen(js_name = insertOne, skip_typescript)]
    pub fn insert_one(&self, document: JsValue) -> Promise {
        self.call("insertOne", "document", &document, &JsValue::UNDEFINED, &JsValue::UNDEFINED)
    }

    /// Inserts documents; resolves to `{ insertedIds }`.
    #[wasm_bindgen(js_name = insertMany, skip_typescript)]
    pub fn insert_many(&self, documents: JsValue) -> Promise {
        self.call("insertMany", "documents", &documents, &JsValue::UNDEFINED, &JsValue::UNDEFINED)
    }

    /// Updates the first match; resolves to `{ matchedCount, modifiedCount, upsertedId? }`.
    #[wasm_bindgen(js_name = updateOne, skip_typescript)]
    pub fn update_one(&self, filter: JsValue, update: JsValue, options: JsValue) -> Promise {
        self.call("updateOne", "filter, update, options", &filter, &update, &options)
    }

    /// Updates every match; resolves to `{ matchedCount, modifiedCount, upsertedId? }`.
    #[wasm_bindgen(js_name = updateMany, skip_typescript)]
    pub fn update_many(&self, filter: JsValue, update: JsValue, options: JsValue) -> Promise {
        self.call("updateMany", "filter, update, options", &filter, &update, &options)
    }

    /// Deletes the first match; resolves to `{ deletedCount }`.
    #[wasm_bindgen(js_name = deleteOne, skip_typescript)]
    pub fn delete_one(&self, filter: JsValue) -> Promise {
        self.call("deleteOne", "filter", &filter, &JsValue::UNDEFINED, &JsValue::UNDEFINED)
    }

    /// Deletes every match; resolves to `{ deletedCount }`.
    #[wasm_bindgen(js_name = deleteMany, skip_typescript)]
    pub fn delete_many(&self, filter: JsValue) -> Promise {
        self.call("deleteMany", "filter", &filter, &JsValue::UNDEFINED, &JsValue::UNDEFINED)
    }

    /// Opens a change stream: `for await (const change of collection.watch({ ids, filter }))`.
    #[wasm_bindgen(skip_typescript)]
    pub fn watch(&self, options: JsValue) -> std::result::Result<JsValue, JsValue> {
        let parse = || -> Result<WatchOptions> {
            options_object(&options, "watch(options): options")?;
            let ids = optional(&options, "ids")?;
            if ids.as_ref().is_some_and(|v| !matches!(v, Value::Array(_))) {
                return Err(Error::InvalidArgument("watch(options): options.ids must be an array of ids".to_owned()));
            }
            let filter = to_optional_document(&get(&options, "filter"), "watch(options): options.filter")?;
            let resume = get(&options, "resume");
            Ok(WatchOptions { ids, filter: filter.map(Value::Document), resume: resume.is_undefined() || resume.is_truthy() })
        };
        let options = parse().map_err(super::errors::to_js_error)?;
        let stream = JsValue::from(ChangeStream { inner: self.inner.watch(options) });
        install_async_iterator(&stream);
        Ok(stream)
    }
}

/// `ChangeStream.prototype[Symbol.asyncIterator]` returns the stream itself
/// (`Object.prototype.valueOf` does exactly that, without eval or a closure).
pub(crate) fn install_async_iterator(instance: &JsValue) {
    let proto = Object::get_prototype_of(instance);
    let key: JsValue = js_sys::Symbol::async_iterator().into();
    if !Reflect::has(&proto, &key).unwrap_or(true) {
        let _ = Reflect::set(&proto, &key, &get(&Object::new().into(), "valueOf"));
    }
}

/// What `watch()` returns: an async iterator of change events; `return()` (or leaving a
/// `for await` loop) closes the connection.
#[wasm_bindgen(skip_typescript)]
pub struct ChangeStream {
    inner: mongo::ChangeStream,
}

pub(crate) fn iterator_result(value: JsValue, done: bool) -> JsValue {
    let o = Object::new();
    let _ = Reflect::set(&o, &"value".into(), &value);
    let _ = Reflect::set(&o, &"done".into(), &JsValue::from_bool(done));
    o.into()
}

#[wasm_bindgen]
impl ChangeStream {
    /// The next change event.
    #[wasm_bindgen(skip_typescript)]
    pub fn next(&self) -> Promise {
        let stream = self.inner.clone();
        promise(async move {
            Ok(match stream.next().await? {
                Some(event) => iterator_result(to_js(&event), false),
                None => iterator_result(JsValue::UNDEFINED, true),
            })
        })
    }

    /// Closes the stream (called by `break` in a `for await` loop).
    #[wasm_bindgen(js_name = "return", skip_typescript)]
    pub fn return_(&self, value: JsValue) -> Promise {
        self.inner.close();
        Promise::resolve(&iterator_result(value, true))
    }

    /// Closes the stream.
    #[wasm_bindgen(skip_typescript)]
    pub fn close(&self) {
        self.inner.close();
    }

    /// The resume token (`_id`) of the last delivered event, or undefined.
    #[wasm_bindgen(getter = resumeToken, skip_typescript)]
    pub fn resume_token(&self) -> JsValue {
        self.inner.resume_token().map(|v| to_js(&v)).unwrap_or(JsValue::UNDEFINED)
    }
}
