//! The collection methods and their option types (protocol §7).

use super::layout::{layout, Part};
use super::watch::ChangeStream;
use crate::ejson::{self, Document, Value};
use crate::error::Result;
use crate::user::User;

/// A collection call's answer as EJSON text, decoded on demand: the wasm layer decodes it in the
/// JS engine (one `JSON.parse` and a walk), Rust callers with [`Reply::value`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reply(Option<String>);

impl Reply {
    /// The EJSON text (`None`: the answer had no content, i.e. null).
    pub fn text(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The decoded answer.
    pub fn value(&self) -> Result<Value> {
        Ok(self.0.as_deref().map(ejson::parse).transpose()?.unwrap_or(Value::Null))
    }
}

/// A filter argument: a document (or [`Value::Raw`] canonical EJSON of one); `None` is `{}`.
fn or_empty(filter: Option<Value>) -> Value {
    filter.unwrap_or_else(|| Value::Document(Document::new()))
}

/// Options of `find`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindOptions {
    /// Sent as `project`.
    pub projection: Option<Value>,
    /// Sent as `sort`.
    pub sort: Option<Value>,
    /// Sent as `limit`.
    pub limit: Option<Value>,
}

/// Options of `findOne`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindOneOptions {
    /// Sent as `project`.
    pub projection: Option<Value>,
    /// Sent as `sort`.
    pub sort: Option<Value>,
}

/// Options of `count`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CountOptions {
    /// Sent as `limit`.
    pub limit: Option<Value>,
}

/// Options of `updateOne` / `updateMany`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateOptions {
    /// Sent as `upsert`.
    pub upsert: Option<bool>,
    /// Sent as `arrayFilters`.
    pub array_filters: Option<Value>,
}

/// Options of `findOneAndUpdate` / `findOneAndReplace` / `findOneAndDelete`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindOneAndModifyOptions {
    /// Sent as `sort`.
    pub sort: Option<Value>,
    /// Sent as `projection` (not `project`, §7).
    pub projection: Option<Value>,
    /// Sent as `upsert` (not for delete).
    pub upsert: Option<bool>,
    /// Sent as `returnNewDocument` (not for delete).
    pub return_new_document: Option<bool>,
}

/// Options of `watch`.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchOptions {
    /// Only changes of documents with these `_id`s.
    pub ids: Option<Value>,
    /// A match document on change events.
    pub filter: Option<Value>,
    /// Reconnect after a dropped stream and continue after the last event (default true).
    pub resume: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions { ids: None, filter: None, resume: true }
    }
}

/// A method's `functions/call` body with holes for its arguments: `prefix`, then for each argument
/// present its key text (`,"query":`) and canonical EJSON value, then `suffix` is the body
/// [`MongoDBCollection`]'s method sends.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Frame {
    pub prefix: String,
    pub parts: Vec<(String, Part)>,
    pub suffix: String,
}

/// What a call on the wasm fast path goes out with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ready {
    /// The location URL (see [`MongoDBCollection::call_url`]).
    pub location: String,
    pub token: String,
    /// The token may go out until then (ms since the epoch); later, take the usual path.
    pub fresh_until_ms: f64,
    pub timeout_ms: Option<u32>,
}

/// `db.collection(name)`: every method is a `functions/call` with `service` set.
#[derive(Debug, Clone)]
pub struct MongoDBCollection {
    user: User,
    service: String,
    database: String,
    name: String,
}

fn put(doc: &mut Document, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        doc.insert(key, v);
    }
}

impl MongoDBCollection {
    pub(crate) fn new(user: User, service: String, database: String, name: String) -> MongoDBCollection {
        MongoDBCollection { user, service, database, name }
    }

    /// The collection name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The database name.
    pub fn database_name(&self) -> &str {
        &self.database
    }

    fn args(&self) -> Document {
        Document::new()
            .with("database", Value::from(self.database.as_str()))
            .with("collection", Value::from(self.name.as_str()))
    }

    /// For the wasm fast path: the `functions/call` body of method `name` around its arguments
    /// (see [`Frame`]); `None` for a method that is not a single request.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn call_frame(&self, name: &str) -> Option<Frame> {
        let layout = super::layout::layout(name)?;
        let body = Document::new()
            .with("name", name)
            .with("arguments", Value::Array(vec![Value::Raw("\0".to_owned())]))
            .with("service", self.service.as_str());
        let body = ejson::to_canonical_string(&Value::Document(body));
        let (before, after) = body.split_once('\0')?;
        let args = ejson::to_canonical_string(&Value::Document(self.args()));
        let args = args.strip_suffix('}')?;
        let parts = layout
            .iter()
            .map(|(key, part)| (format!(",{}:", ejson::to_canonical_string(&Value::from(*key))), *part))
            .collect();
        Some(Frame { prefix: format!("{before}{args}"), parts, suffix: format!("}}{after}") })
    }

    /// For the wasm fast path: the location, access token and timeout a call can go out with,
    /// without any await before it (location known, no refresh due until `fresh_until_ms`);
    /// `None`: take the usual path.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn ready(&self) -> Option<Ready> {
        let app = self.user.host();
        let location = app.cached_location()?;
        let (token, fresh_until_ms) = crate::fetcher::ready_token(&self.user)?;
        Some(Ready { location, token, fresh_until_ms, timeout_ms: app.timeout_ms() })
    }

    /// For the wasm fast path: the `functions/call` URL at `location`.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn call_url(&self, location: &str) -> String {
        format!("{location}{}", crate::routes::functions_call(self.user.host().app_id()))
    }

    /// For the wasm fast path: the app's timeout, for the error of a first attempt that timed out.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn timeout_ms(&self) -> Option<u32> {
        self.user.host().timeout_ms()
    }

    /// For the wasm fast path: the transport of the user's app.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn transport(&self) -> std::rc::Rc<dyn crate::transport::Transport> {
        self.user.host().transport()
    }

    /// For the wasm fast path: finishes a call sent with what [`Self::ready`] gave, whose first
    /// attempt gave `first` (anything but a 2xx JSON answer the JS decoder took), as
    /// [`Self::call`] would have.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) async fn resume(&self, url: &str, body: String, token: String, first: Result<crate::transport::Response>) -> Result<Reply> {
        let app = self.user.host();
        Ok(Reply(crate::fetcher::resume_text(&*app, &self.user, url, body, token, first).await?))
    }

    /// Method `name` with its wire fields `parts` (in [`layout`] order), as the wasm layer reads
    /// them from JS arguments and the typed methods below make them.
    ///
    /// [`layout`]: super::layout::layout
    pub(crate) async fn call_parts(&self, name: &str, parts: Vec<(&'static str, Value)>) -> Result<Reply> {
        let mut a = self.args();
        for (key, value) in parts {
            a.insert(key, value);
        }
        let text = self.user.call_function_text(name, vec![Value::Document(a)], Some(&self.service)).await?;
        Ok(Reply(text))
    }

    /// Method `name` with, for each argument of its layout (`super::layout`, the one description
    /// of the wire format, which the wasm fast path writes bodies from too), the value `value_of`
    /// gives for it (`None`: left out).
    async fn send(&self, name: &str, mut value_of: impl FnMut(Part) -> Option<Value>) -> Result<Reply> {
        let parts = layout(name)
            .unwrap_or_default()
            .iter()
            .filter_map(|(key, part)| value_of(*part).map(|value| (*key, value)))
            .collect();
        self.call_parts(name, parts).await
    }

    /// Documents matching `filter`.
    pub async fn find(&self, filter: Option<Value>, options: FindOptions) -> Result<Reply> {
        let FindOptions { mut projection, mut sort, mut limit } = options;
        let mut filter = Some(or_empty(filter));
        self.send("find", |part| match part {
            Part::Filter => filter.take(),
            Part::Value("projection") => projection.take(),
            Part::Value("sort") => sort.take(),
            Part::Value("limit") => limit.take(),
            _ => None,
        })
        .await
    }

    /// The first document matching `filter`, or null.
    pub async fn find_one(&self, filter: Option<Value>, options: FindOneOptions) -> Result<Reply> {
        let FindOneOptions { mut projection, mut sort } = options;
        let mut filter = Some(or_empty(filter));
        self.send("findOne", |part| match part {
            Part::Filter => filter.take(),
            Part::Value("projection") => projection.take(),
            Part::Value("sort") => sort.take(),
            _ => None,
        })
        .await
    }

    /// The number of documents matching `filter`.
    pub async fn count(&self, filter: Option<Value>, options: CountOptions) -> Result<Reply> {
        let mut limit = options.limit;
        let mut filter = Some(or_empty(filter));
        self.send("count", |part| match part {
            Part::Filter => filter.take(),
            Part::Value("limit") => limit.take(),
            _ => None,
        })
        .await
    }

    /// Inserts one document: `{insertedId}`.
    pub async fn insert_one(&self, document: Value) -> Result<Reply> {
        let mut document = Some(document);
        self.send("insertOne", |_| document.take()).await
    }

    /// Inserts documents: `{insertedIds}`.
    pub async fn insert_many(&self, documents: Value) -> Result<Reply> {
        let mut documents = Some(documents);
        self.send("insertMany", |_| documents.take()).await
    }

    /// Deletes the first match: `{deletedCount}`.
    pub async fn delete_one(&self, filter: Option<Value>) -> Result<Reply> {
        let mut filter = Some(or_empty(filter));
        self.send("deleteOne", |_| filter.take()).await
    }

    /// Deletes every match: `{deletedCount}`.
    pub async fn delete_many(&self, filter: Option<Value>) -> Result<Reply> {
        let mut filter = Some(or_empty(filter));
        self.send("deleteMany", |_| filter.take()).await
    }

    async fn update(&self, name: &str, filter: Value, update: Value, options: UpdateOptions) -> Result<Reply> {
        let (mut filter, mut update) = (Some(filter), Some(update));
        let UpdateOptions { upsert, mut array_filters } = options;
        self.send(name, |part| match part {
            Part::Filter => filter.take(),
            Part::Document(_) => update.take(),
            Part::Flag("upsert") => upsert.map(Value::Bool),
            Part::Value("arrayFilters") => array_filters.take(),
            _ => None,
        })
        .await
    }

    /// Updates the first match: `{matchedCount, modifiedCount, upsertedId?}`.
    pub async fn update_one(&self, filter: Value, update: Value, options: UpdateOptions) -> Result<Reply> {
        self.update("updateOne", filter, update, options).await
    }

    /// Updates every match: `{matchedCount, modifiedCount, upsertedId?}`.
    pub async fn update_many(&self, filter: Value, update: Value, options: UpdateOptions) -> Result<Reply> {
        self.update("updateMany", filter, update, options).await
    }

    /// `findOneAnd*`: the layout of `name` says which of the options it sends.
    async fn modify(&self, name: &str, filter: Option<Value>, update: Option<Value>, options: FindOneAndModifyOptions) -> Result<Reply> {
        let (mut filter, mut update) = (Some(or_empty(filter)), update);
        let FindOneAndModifyOptions { mut sort, mut projection, upsert, return_new_document } = options;
        self.send(name, |part| match part {
            Part::Filter => filter.take(),
            Part::Document(_) => update.take(),
            Part::Value("sort") => sort.take(),
            Part::Value("projection") => projection.take(),
            Part::Flag("upsert") => upsert.map(Value::Bool),
            Part::Flag("returnNewDocument") => return_new_document.map(Value::Bool),
            _ => None,
        })
        .await
    }

    /// Updates the first match and returns it (before or, with `returnNewDocument`, after), or null.
    pub async fn find_one_and_update(&self, filter: Option<Value>, update: Value, options: FindOneAndModifyOptions) -> Result<Reply> {
        self.modify("findOneAndUpdate", filter, Some(update), options).await
    }

    /// Replaces the first match and returns it (before or after), or null.
    pub async fn find_one_and_replace(&self, filter: Option<Value>, replacement: Value, options: FindOneAndModifyOptions) -> Result<Reply> {
        self.modify("findOneAndReplace", filter, Some(replacement), options).await
    }

    /// Deletes the first match and returns it, or null; sent as `findOneAndDelete` (realm-web
    /// sends `findOneAndReplace`, §7). Its layout has no update, upsert or returnNewDocument.
    pub async fn find_one_and_delete(&self, filter: Option<Value>, options: FindOneAndModifyOptions) -> Result<Reply> {
        self.modify("findOneAndDelete", filter, None, options).await
    }

    /// Runs an aggregation pipeline: an array of documents.
    pub async fn aggregate(&self, pipeline: Value) -> Result<Reply> {
        let mut pipeline = Some(pipeline);
        self.send("aggregate", |_| pipeline.take()).await
    }

    /// Opens a change stream (§11) of this collection.
    pub fn watch(&self, options: WatchOptions) -> ChangeStream {
        let mut a = self.args();
        put(&mut a, "ids", options.ids);
        put(&mut a, "filter", options.filter);
        ChangeStream::new(self.user.clone(), self.service.clone(), a, options.resume)
    }
}

#[cfg(test)]
mod tests {
    use crate::credentials::Credentials;
    use crate::ejson::{self, Document, Value};
    use crate::testing::{block_on, fake_app};
    use crate::transport::Method;

    #[test]
    fn wire_argument_names() {
        let (app, state) = fake_app(false);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), true)).unwrap();
        let c = user.mongo_client("mongodb-atlas").db("app").collection("users");
        let f = || Some(Value::from(Document::new().with("a", 1)));
        let d = || Value::from(Document::new().with("x", 2));
        let one = Value::Int32(1);
        block_on(c.find(f(), super::FindOptions { projection: Some(d()), sort: Some(d()), limit: Some(one.clone()) })).unwrap();
        block_on(c.find(None, Default::default())).unwrap();
        block_on(c.find_one(f(), super::FindOneOptions { projection: Some(d()), sort: None })).unwrap();
        block_on(c.count(f(), super::CountOptions { limit: Some(one) })).unwrap();
        block_on(c.insert_one(d())).unwrap();
        block_on(c.insert_many(vec![d(), d()].into())).unwrap();
        block_on(c.update_one(d(), d(), super::UpdateOptions { upsert: Some(true), array_filters: None })).unwrap();
        block_on(c.update_many(d(), d(), Default::default())).unwrap();
        block_on(c.delete_one(f())).unwrap();
        block_on(c.delete_many(None)).unwrap();
        let bodies: Vec<String> = state
            .requests
            .borrow()
            .iter()
            .filter(|r| r.method == Method::Post && r.url.ends_with("/functions/call"))
            .map(|r| r.body.clone().unwrap())
            .collect();
        let pre = r#""arguments":[{"database":"app","collection":"users","#;
        let a = r#"{"a":{"$numberInt":"1"}}"#;
        let x = r#"{"x":{"$numberInt":"2"}}"#;
        let expected = [
            format!(r#"{{"name":"find",{pre}"query":{a},"project":{x},"sort":{x},"limit":{{"$numberInt":"1"}}}}],"service":"mongodb-atlas"}}"#),
            format!(r#"{{"name":"find",{pre}"query":{{}}}}],"service":"mongodb-atlas"}}"#),
            format!(r#"{{"name":"findOne",{pre}"query":{a},"project":{x}}}],"service":"mongodb-atlas"}}"#),
            format!(r#"{{"name":"count",{pre}"query":{a},"limit":{{"$numberInt":"1"}}}}],"service":"mongodb-atlas"}}"#),
            format!(r#"{{"name":"insertOne",{pre}"document":{x}}}],"service":"mongodb-atlas"}}"#),
            format!(r#"{{"name":"insertMany",{pre}"documents":[{x},{x}]}}],"service":"mongodb-atlas"}}"#),
            format!(r#"{{"name":"updateOne",{pre}"query":{x},"update":{x},"upsert":true}}],"service":"mongodb-atlas"}}"#),
            format!(r#"{{"name":"updateMany",{pre}"query":{x},"update":{x}}}],"service":"mongodb-atlas"}}"#),
            format!(r#"{{"name":"deleteOne",{pre}"query":{a}}}],"service":"mongodb-atlas"}}"#),
            format!(r#"{{"name":"deleteMany",{pre}"query":{{}}}}],"service":"mongodb-atlas"}}"#),
        ];
        assert_eq!(bodies, expected);
    }

    #[test]
    fn find_one_and_modify_and_aggregate_wire_names() {
        let (app, state) = fake_app(false);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), false)).unwrap();
        let c = user.mongo_client("svc").db("d").collection("c");
        let x = || Value::from(Document::new().with("x", 2));
        let all = super::FindOneAndModifyOptions {
            sort: Some(x()),
            projection: Some(x()),
            upsert: Some(true),
            return_new_document: Some(true),
        };
        block_on(c.find_one_and_update(Some(x()), x(), all.clone())).unwrap();
        block_on(c.find_one_and_replace(None, x(), Default::default())).unwrap();
        block_on(c.find_one_and_delete(Some(x()), all)).unwrap();
        block_on(c.aggregate(vec![Value::Document(Document::new().with("$match", x()))].into())).unwrap();
        let bodies: Vec<String> = state.requests.borrow().iter().filter(|r| r.url.ends_with("/functions/call")).map(|r| r.body.clone().unwrap()).collect();
        let x = r#"{"x":{"$numberInt":"2"}}"#;
        let pre = r#""arguments":[{"database":"d","collection":"c","#;
        assert_eq!(
            bodies,
            [
                format!(r#"{{"name":"findOneAndUpdate",{pre}"filter":{x},"update":{x},"sort":{x},"projection":{x},"upsert":true,"returnNewDocument":true}}],"service":"svc"}}"#),
                format!(r#"{{"name":"findOneAndReplace",{pre}"filter":{{}},"update":{x}}}],"service":"svc"}}"#),
                format!(r#"{{"name":"findOneAndDelete",{pre}"filter":{x},"sort":{x},"projection":{x}}}],"service":"svc"}}"#),
                format!(r#"{{"name":"aggregate",{pre}"pipeline":[{{"$match":{x}}}]}}],"service":"svc"}}"#),
            ]
        );
    }

    /// The wasm fast path writes bodies from `call_frame`: filled with the same arguments, each
    /// frame must give exactly the body the method sends, with every option and with none.
    #[test]
    fn call_frames_give_the_sent_bodies() {
        use super::{CountOptions, FindOneAndModifyOptions, FindOneOptions, FindOptions, Part, UpdateOptions};
        let (app, state) = fake_app(false);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), true)).unwrap();
        let c = user.mongo_client("svc\"1").db("d\u{e9}b").collection("c/\"x\"");
        let doc = |key: &str, n: i32| Value::from(Document::new().with(key, n));
        let filter = doc("f", 1);
        let second = Value::from(Document::new().with("$set", Document::new().with("s", "t\"\u{1F600}")));
        let list = Value::Array(vec![doc("a", 1), doc("b", 2)]);
        // The option values, by JS option name.
        let option = |name: &str| match name {
            "projection" => doc("p", 1),
            "sort" => doc("s", -1),
            "limit" => Value::Int32(3),
            "arrayFilters" => Value::Array(vec![doc("e.x", 0)]),
            "upsert" => Value::Bool(true),
            "returnNewDocument" => Value::Bool(false),
            other => panic!("no option {other}"),
        };
        let modify = |all: bool| match all {
            true => FindOneAndModifyOptions {
                sort: Some(option("sort")),
                projection: Some(option("projection")),
                upsert: Some(true),
                return_new_document: Some(false),
            },
            false => Default::default(),
        };
        let update = |all: bool| match all {
            true => UpdateOptions { upsert: Some(true), array_filters: Some(option("arrayFilters")) },
            false => Default::default(),
        };
        for all in [false, true] {
            let f = || all.then(|| filter.clone());
            let before = state.requests.borrow().len();
            let find = FindOptions { projection: Some(option("projection")), sort: Some(option("sort")), limit: Some(option("limit")) };
            block_on(c.find(f(), if all { find } else { Default::default() })).unwrap();
            let find_one = FindOneOptions { projection: Some(option("projection")), sort: Some(option("sort")) };
            block_on(c.find_one(f(), if all { find_one } else { Default::default() })).unwrap();
            block_on(c.count(f(), if all { CountOptions { limit: Some(option("limit")) } } else { Default::default() })).unwrap();
            block_on(c.insert_one(second.clone())).unwrap();
            block_on(c.insert_many(list.clone())).unwrap();
            block_on(c.delete_one(f())).unwrap();
            block_on(c.delete_many(f())).unwrap();
            let or_empty = || f().unwrap_or_else(|| Document::new().into());
            block_on(c.update_one(or_empty(), second.clone(), update(all))).unwrap();
            block_on(c.update_many(or_empty(), second.clone(), update(all))).unwrap();
            block_on(c.find_one_and_update(f(), second.clone(), modify(all))).unwrap();
            block_on(c.find_one_and_replace(f(), second.clone(), modify(all))).unwrap();
            block_on(c.find_one_and_delete(f(), modify(all))).unwrap();
            block_on(c.aggregate(list.clone())).unwrap();
            let sent: Vec<String> = state.requests.borrow()[before..].iter().map(|r| r.body.clone().unwrap()).collect();
            let names = [
                "find", "findOne", "count", "insertOne", "insertMany", "deleteOne", "deleteMany", "updateOne", "updateMany",
                "findOneAndUpdate", "findOneAndReplace", "findOneAndDelete", "aggregate",
            ];
            assert_eq!(sent.len(), names.len());
            for (name, body) in names.iter().zip(&sent) {
                let frame = c.call_frame(name).unwrap_or_else(|| panic!("no frame for {name}"));
                let mut filled = frame.prefix.clone();
                for (key, part) in &frame.parts {
                    let value = match *part {
                        Part::Filter => Some(f().unwrap_or_else(|| Document::new().into())),
                        Part::Document(_) => Some(second.clone()),
                        Part::Documents => Some(list.clone()),
                        Part::Value(name) | Part::Flag(name) => all.then(|| option(name)),
                    };
                    if let Some(value) = value {
                        filled.push_str(key);
                        filled.push_str(&ejson::to_canonical_string(&value));
                    }
                }
                filled.push_str(&frame.suffix);
                assert_eq!(&filled, body, "{name}, all options: {all}");
            }
        }
        assert_eq!(c.call_frame("watch"), None);
    }

    #[test]
    fn raw_arguments_are_sent_verbatim() {
        let (app, state) = fake_app(false);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), true)).unwrap();
        let c = user.mongo_client("s").db("d").collection("c");
        block_on(c.insert_many(Value::Raw(r#"[{"x":{"$numberInt":"2"}}]"#.to_owned()))).unwrap();
        let requests = state.requests.borrow();
        let body = requests.last().and_then(|r| r.body.clone()).unwrap();
        assert_eq!(body, r#"{"name":"insertMany","arguments":[{"database":"d","collection":"c","documents":[{"x":{"$numberInt":"2"}}]}],"service":"s"}"#);
    }

    #[test]
    fn results_are_decoded() {
        let (app, _state) = fake_app(false);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), true)).unwrap();
        let c = user.mongo_client("mongodb-atlas").db("app").collection("users");
        let r = block_on(c.update_one(Document::new().into(), Document::new().into(), Default::default())).unwrap();
        assert_eq!(r.value().unwrap(), Value::Document(Document::new().with("matchedCount", 1).with("modifiedCount", 1)));
    }
}
