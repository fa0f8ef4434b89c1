//! The Data API v1: `POST /data/<version>/action/<action>` with a JSON or EJSON body naming
//! `dataSource`, `database` and `collection`. Each action is one `service::Engine::call` under the
//! app's rules for the caller (or as the configured user or the system), answered as the Data API
//! documented: `{document}`, `{documents}`, `{insertedId}`, `{insertedIds}`, `{matchedCount,
//! modifiedCount, upsertedId?}`, `{deletedCount}`.
//!
//! Fields a request does not use are ignored, as the Data API did; the ones an action needs are
//! required (`filter` too for updates, replacements and deletes, so that a misspelt filter never
//! means "every document"). `find` answers at most `limit` documents, 1,000 by default and 50,000
//! at most, as documented.

use super::format::{encode, negotiate};
use super::request::Seen;
use super::{authn, EndpointError, Endpoints, Reply, Request};
use crate::config::{DataApiConfig, RunAsSetting, Validation};
use crate::functions::{CallEnv, RunAs};
use crate::service::Caller;
use axum::http::Method;
use bson::{Bson, Document};

/// `find`'s default `limit`.
pub const DEFAULT_FIND_LIMIT: i64 = 1000;
/// The most documents `find` answers.
pub const MAX_FIND_LIMIT: i64 = 50_000;

/// What an action's answer looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Wrap {
    /// `{"document": …}`.
    Document,
    /// `{"documents": […]}`.
    Documents,
    /// The service's result as it is (`{insertedId}`, `{matchedCount, …}`, …).
    AsIs,
}

/// One action: the service operation, the body fields it reads (Data API name → service name),
/// which of them are required, and its answer's shape.
struct Action {
    op: &'static str,
    fields: &'static [(&'static str, &'static str)],
    required: &'static [&'static str],
    wrap: Wrap,
}

const FILTER: (&str, &str) = ("filter", "query");
const PROJECTION: (&str, &str) = ("projection", "project");

fn action(name: &str) -> Option<Action> {
    let a = |op, fields, required, wrap| Some(Action { op, fields, required, wrap });
    match name {
        "findOne" => a("findOne", &[FILTER, PROJECTION], &[], Wrap::Document),
        "find" => a("find", &[FILTER, PROJECTION, ("sort", "sort"), ("limit", "limit"), ("skip", "skip")], &[], Wrap::Documents),
        "insertOne" => a("insertOne", &[("document", "document")], &["document"], Wrap::AsIs),
        "insertMany" => a("insertMany", &[("documents", "documents")], &["documents"], Wrap::AsIs),
        "updateOne" => a("updateOne", &[FILTER, ("update", "update"), ("upsert", "upsert")], &["filter", "update"], Wrap::AsIs),
        "updateMany" => a("updateMany", &[FILTER, ("update", "update"), ("upsert", "upsert")], &["filter", "update"], Wrap::AsIs),
        "replaceOne" => a("replaceOne", &[FILTER, ("replacement", "replacement"), ("upsert", "upsert")], &["filter", "replacement"], Wrap::AsIs),
        "deleteOne" => a("deleteOne", &[FILTER], &["filter"], Wrap::AsIs),
        "deleteMany" => a("deleteMany", &[FILTER], &["filter"], Wrap::AsIs),
        "aggregate" => a("aggregate", &[("pipeline", "pipeline")], &["pipeline"], Wrap::Documents),
        _ => None,
    }
}

/// The service name and the service call's argument document for `action` with `body`.
fn arguments(name: &str, action: &Action, body: &Document) -> Result<(String, Document), EndpointError> {
    let text = |key: &str| match body.get(key) {
        Some(Bson::String(s)) if !s.is_empty() => Ok(s.clone()),
        None | Some(Bson::Null) => Err(EndpointError::MissingParameter(format!("the request body must name '{key}'"))),
        Some(_) => Err(EndpointError::InvalidParameter(format!("'{key}' must be a non-empty string"))),
    };
    let data_source = text("dataSource")?;
    let mut args = bson::doc! {"database": text("database")?, "collection": text("collection")?};
    for (field, arg) in action.fields {
        match body.get(*field) {
            None | Some(Bson::Null) if action.required.contains(field) => {
                return Err(EndpointError::MissingParameter(format!("{name} requires '{field}'")));
            }
            None | Some(Bson::Null) => {}
            // Checked here so that the message names the Data API's field, not the service's.
            Some(v @ Bson::Document(_)) if matches!(*field, "filter" | "projection" | "sort" | "document" | "update" | "replacement") => {
                args.insert(*arg, v.clone());
            }
            Some(_) if matches!(*field, "filter" | "projection" | "sort" | "document" | "update" | "replacement") => {
                return Err(EndpointError::InvalidParameter(format!("'{field}' must be an object")));
            }
            Some(v @ Bson::Array(_)) if matches!(*field, "documents" | "pipeline") => {
                args.insert(*arg, v.clone());
            }
            Some(_) if matches!(*field, "documents" | "pipeline") => {
                return Err(EndpointError::InvalidParameter(format!("'{field}' must be an array")));
            }
            Some(v) => {
                args.insert(*arg, v.clone());
            }
        }
    }
    if action.op == "find" {
        let limit = match args.get("limit") {
            None => DEFAULT_FIND_LIMIT,
            Some(Bson::Int32(n)) => i64::from(*n),
            Some(Bson::Int64(n)) => *n,
            Some(Bson::Double(d)) if d.fract() == 0.0 && d.abs() <= 1e15 => *d as i64,
            Some(_) => return Err(EndpointError::InvalidParameter("'limit' must be an integer".into())),
        };
        if !(1..=MAX_FIND_LIMIT).contains(&limit) {
            return Err(EndpointError::InvalidParameter(format!("'limit' must be between 1 and {MAX_FIND_LIMIT} (use 'skip' to page through more)")));
        }
        args.insert("limit", limit);
    }
    Ok((data_source, args))
}

/// The request body: a JSON object in canonical or relaxed extended JSON.
fn parse_body(bytes: &[u8]) -> Result<Document, EndpointError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(EndpointError::InvalidParameter("expected a JSON object body naming dataSource, database and collection".into()));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| EndpointError::InvalidParameter(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(EndpointError::InvalidParameter("expected the body to be a JSON object".into()));
    }
    match Bson::try_from(value) {
        Ok(Bson::Document(d)) => Ok(d),
        Ok(_) => Err(EndpointError::InvalidParameter("expected the body to be a JSON object".into())),
        Err(e) => Err(EndpointError::InvalidParameter(format!("the body is not valid extended JSON: {e}"))),
    }
}

/// Answers a Data API request.
pub(super) async fn handle(this: &Endpoints, config: &DataApiConfig, name: &str, req: Request) -> Result<Reply, EndpointError> {
    let action = action(name).ok_or_else(|| {
        EndpointError::NotFound(format!("no Data API action {name:?} (findOne, find, insertOne, insertMany, updateOne, updateMany, replaceOne, deleteOne, deleteMany, aggregate)"))
    })?;
    // The docs show some actions sent with GET and a body: accepted too.
    if req.method != Method::POST && req.method != Method::GET {
        return Err(EndpointError::MethodNotAllowed(format!("Data API actions are called with POST, not {}", req.method)));
    }
    authn::validate(&config.validation, req.query.as_deref(), &req.headers, &req.body)?;
    let application = config.run_as == RunAsSetting::Caller;
    let authenticated = if application { Some(this.authenticate(&req.headers, req.client, config.create_user_on_auth).await?) } else { None };
    let (data_source, args) = arguments(name, &action, &parse_body(&req.body)?)?;
    if this.engine.rules(&data_source).is_err() {
        return Err(EndpointError::InvalidParameter(format!("data source {data_source:?} does not exist (dataSource names a data source of the app, e.g. \"mongodb-atlas\")")));
    }
    // What can_evaluate and a run-as script see of the request (built only when one needs it).
    let needs_request = config.can_evaluate.is_some() || matches!(config.run_as, RunAsSetting::Script(_) | RunAsSetting::UserId(_));
    let by_secret = matches!(config.validation, Validation::SecretAsQueryParam(_));
    let seen = needs_request.then(|| Seen::new(&req, &req.route, name, by_secret, application));
    let caller = match (&config.run_as, authenticated) {
        (RunAsSetting::Caller, Some(found)) => Caller::User(this.rule_context(&data_source, &found).await?),
        (RunAsSetting::System, _) => Caller::System,
        (setting, _) => {
            let seen = seen.as_ref().ok_or_else(|| EndpointError::NotPermitted("no caller".into()))?;
            let env = CallEnv { caller: None, run_as: RunAs::System, request: Some(seen.info.clone()), request_id: None, from_client: false };
            let argument = Bson::Document(seen.argument(&req.body));
            match this.functions.run_as(DataApiConfig::SCRIPT_NAME, setting, &[argument], &env).await? {
                RunAs::System => Caller::System,
                RunAs::User(user) => Caller::User(crate::host::rule_context(&user)),
            }
        }
    };
    if let Some(seen) = &seen {
        let user = match &caller {
            Caller::User(u) => Some(u),
            Caller::System => None,
        };
        this.can_evaluate(config.can_evaluate.as_ref(), user, &seen.info)?;
    }
    let result = this.engine.call(&caller, &data_source, action.op, &[Bson::Document(args)]).await?;
    let answer = match action.wrap {
        Wrap::Document => Bson::Document(bson::doc! {"document": result.into_bson()}),
        Wrap::Documents => Bson::Document(bson::doc! {"documents": result.into_bson()}),
        Wrap::AsIs => result.into_bson(),
    };
    let (body, content_type) = encode(answer, negotiate(&req.headers, config.return_type));
    Ok(Reply { status: 200, headers: vec![("Content-Type".into(), content_type.into())], body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn args(name: &str, body: Document) -> Result<(String, Document), EndpointError> {
        arguments(name, &action(name).expect("action"), &body)
    }

    #[test]
    fn actions_become_service_calls() {
        let ns = |extra: Document| {
            let mut d = doc! {"dataSource": "mongodb-atlas", "database": "db", "collection": "c"};
            d.extend(extra);
            d
        };
        let (source, a) = args("find", ns(doc! {"filter": {"a": 1}, "projection": {"a": 1}, "sort": {"a": -1}, "skip": 2, "unknown": true})).expect("find");
        assert_eq!(source, "mongodb-atlas");
        assert_eq!(a, doc! {"database": "db", "collection": "c", "query": {"a": 1}, "project": {"a": 1}, "sort": {"a": -1}, "skip": 2, "limit": 1000_i64});
        let (_, a) = args("replaceOne", ns(doc! {"filter": {}, "replacement": {"b": 1}, "upsert": true})).expect("replace");
        assert_eq!(a, doc! {"database": "db", "collection": "c", "query": {}, "replacement": {"b": 1}, "upsert": true});
        let (_, a) = args("findOne", ns(doc! {})).expect("findOne without filter");
        assert_eq!(a, doc! {"database": "db", "collection": "c"});
        for (name, body) in [
            ("deleteMany", ns(doc! {})),
            ("updateOne", ns(doc! {"filter": {}})),
            ("insertOne", ns(doc! {})),
            ("aggregate", ns(doc! {})),
            ("find", doc! {"database": "db", "collection": "c"}),
        ] {
            assert!(matches!(args(name, body.clone()), Err(EndpointError::MissingParameter(_))), "{name} {body}");
        }
        for (name, body) in [
            ("find", ns(doc! {"filter": [1]})),
            ("find", ns(doc! {"limit": 50_001})),
            ("find", ns(doc! {"limit": 0})),
            ("aggregate", ns(doc! {"pipeline": {"$match": {}}})),
            ("insertMany", ns(doc! {"documents": {"a": 1}})),
            ("find", doc! {"dataSource": 1, "database": "db", "collection": "c"}),
        ] {
            assert!(matches!(args(name, body.clone()), Err(EndpointError::InvalidParameter(_))), "{name} {body}");
        }
        assert!(action("drop").is_none());
    }

    #[test]
    fn bodies_are_json_or_ejson_objects() {
        assert_eq!(parse_body(br#"{"filter": {"_id": {"$oid": "629971c0d71aad65bd59c595"}}}"#).expect("ejson").get_document("filter").map(|f| f.get_object_id("_id").is_ok()), Ok(true));
        for bad in [&b""[..], b"  ", b"[1]", b"{", b"\"x\""] {
            assert!(matches!(parse_body(bad), Err(EndpointError::InvalidParameter(_))), "{}", String::from_utf8_lossy(bad));
        }
    }
}
