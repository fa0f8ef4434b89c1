//! The nine collection methods and their option types (protocol §7).

use crate::ejson::{Document, Value};
use crate::error::Result;
use crate::user::User;

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

    async fn call(&self, name: &str, args: Document) -> Result<Value> {
        self.user
            .call_function(name, vec![Value::Document(args)], Some(&self.service))
            .await
    }

    /// Documents matching `filter`.
    pub async fn find(&self, filter: Option<Document>, options: FindOptions) -> Result<Value> {
        let mut a = self.args().with("query", filter.unwrap_or_default());
        put(&mut a, "project", options.projection);
        put(&mut a, "sort", options.sort);
        put(&mut a, "limit", options.limit);
        self.call("find", a).await
    }

    /// The first document matching `filter`, or null.
    pub async fn find_one(&self, filter: Option<Document>, options: FindOneOptions) -> Result<Value> {
        let mut a = self.args().with("query", filter.unwrap_or_default());
        put(&mut a, "project", options.projection);
        put(&mut a, "sort", options.sort);
        self.call("findOne", a).await
    }

    /// The number of documents matching `filter`.
    pub async fn count(&self, filter: Option<Document>, options: CountOptions) -> Result<Value> {
        let mut a = self.args().with("query", filter.unwrap_or_default());
        put(&mut a, "limit", options.limit);
        self.call("count", a).await
    }

    /// Inserts one document: `{insertedId}`.
    pub async fn insert_one(&self, document: Document) -> Result<Value> {
        self.call("insertOne", self.args().with("document", document)).await
    }

    /// Inserts documents: `{insertedIds}`.
    pub async fn insert_many(&self, documents: Vec<Value>) -> Result<Value> {
        self.call("insertMany", self.args().with("documents", documents)).await
    }

    /// Deletes the first match: `{deletedCount}`.
    pub async fn delete_one(&self, filter: Option<Document>) -> Result<Value> {
        self.call("deleteOne", self.args().with("query", filter.unwrap_or_default())).await
    }

    /// Deletes every match: `{deletedCount}`.
    pub async fn delete_many(&self, filter: Option<Document>) -> Result<Value> {
        self.call("deleteMany", self.args().with("query", filter.unwrap_or_default())).await
    }

    fn update_args(&self, filter: Document, update: Document, options: UpdateOptions) -> Document {
        let mut a = self.args().with("query", filter).with("update", update);
        put(&mut a, "upsert", options.upsert.map(Value::Bool));
        put(&mut a, "arrayFilters", options.array_filters);
        a
    }

    /// Updates the first match: `{matchedCount, modifiedCount, upsertedId?}`.
    pub async fn update_one(&self, filter: Document, update: Document, options: UpdateOptions) -> Result<Value> {
        self.call("updateOne", self.update_args(filter, update, options)).await
    }

    /// Updates every match: `{matchedCount, modifiedCount, upsertedId?}`.
    pub async fn update_many(&self, filter: Document, update: Document, options: UpdateOptions) -> Result<Value> {
        self.call("updateMany", self.update_args(filter, update, options)).await
    }
}

#[cfg(test)]
mod tests {
    use crate::credentials::Credentials;
    use crate::ejson::{Document, Value};
    use crate::testing::{block_on, fake_app};
    use crate::transport::Method;

    #[test]
    fn wire_argument_names() {
        let (app, state) = fake_app(false);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"))).unwrap();
        let c = user.mongo_client("mongodb-atlas").db("app").collection("users");
        let f = || Some(Document::new().with("a", 1));
        let d = || Document::new().with("x", 2);
        let one = Value::Int32(1);
        block_on(c.find(f(), super::FindOptions { projection: Some(d().into()), sort: Some(d().into()), limit: Some(one.clone()) })).unwrap();
        block_on(c.find(None, Default::default())).unwrap();
        block_on(c.find_one(f(), super::FindOneOptions { projection: Some(d().into()), sort: None })).unwrap();
        block_on(c.count(f(), super::CountOptions { limit: Some(one) })).unwrap();
        block_on(c.insert_one(d())).unwrap();
        block_on(c.insert_many(vec![d().into(), d().into()])).unwrap();
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
    fn results_are_decoded() {
        let (app, _state) = fake_app(false);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"))).unwrap();
        let c = user.mongo_client("mongodb-atlas").db("app").collection("users");
        let r = block_on(c.update_one(Document::new(), Document::new(), Default::default())).unwrap();
        assert_eq!(r, Value::Document(Document::new().with("matchedCount", 1).with("modifiedCount", 1)));
    }
}
