//! The export's `triggers/*.json`: database, authentication and scheduled triggers.
//!
//! One file per trigger (the file name is not enforced). The function a trigger runs is named
//! either by `event_processors.FUNCTION.config.function_name` (current exports) or by a top-level
//! `function_name` (older ones and the docs' examples); both forms are read. A trigger that sends
//! its events to AWS EventBridge is left out with a warning (this server cannot deliver them).
//!
//! Unknown keys warn; an invalid value, a duplicate name or a function that does not exist stops
//! start-up naming the file and the key, like the rest of the export reader.

use super::export::{error, read_json, ConfigError, Obj};
use bson::{Bson, Document};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One trigger of the export.
#[derive(Debug, Clone)]
pub struct TriggerDef {
    /// Name (at most 64 of `[A-Za-z0-9_-]`), unique.
    pub name: String,
    /// The function it runs.
    pub function: String,
    /// `disabled` in the export.
    pub disabled: bool,
    /// What fires it.
    pub kind: TriggerKind,
    /// The file it was read from.
    pub file: PathBuf,
}

/// What fires a trigger.
#[derive(Debug, Clone)]
pub enum TriggerKind {
    /// Changes to a collection, a database or the whole deployment.
    Database(DatabaseTrigger),
    /// Logins, user creation and deletion.
    Authentication(AuthTrigger),
    /// A CRON schedule.
    Scheduled(ScheduledTrigger),
}

/// A change-stream operation type a database trigger can fire on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationType {
    /// `INSERT`.
    Insert,
    /// `UPDATE`.
    Update,
    /// `REPLACE`.
    Replace,
    /// `DELETE`.
    Delete,
}

impl OperationType {
    /// The change event's `operationType`.
    pub fn event_name(self) -> &'static str {
        match self {
            OperationType::Insert => "insert",
            OperationType::Update => "update",
            OperationType::Replace => "replace",
            OperationType::Delete => "delete",
        }
    }
}

/// Collection-level operation types App Services also offered; this server has no such events.
const DDL_OPERATION_TYPES: [&str; 10] = [
    "CREATE_COLLECTION", "MODIFY_COLLECTION", "RENAME_COLLECTION", "SHARD_COLLECTION", "DROP_COLLECTION", "RESHARD_COLLECTION",
    "REFINE_COLLECTION_SHARD_KEY", "CREATE_INDEXES", "DROP_INDEXES", "DROP_DATABASE",
];

/// A database trigger's `config`.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseTrigger {
    /// Watched database (`None`: every database, a deployment trigger).
    pub database: Option<String>,
    /// Watched collection (`None`: every collection of `database`, a database trigger).
    pub collection: Option<String>,
    /// What fires it.
    pub operation_types: Vec<OperationType>,
    /// UPDATE events carry `fullDocument`.
    pub full_document: bool,
    /// Events other than INSERT carry `fullDocumentBeforeChange`.
    pub full_document_before_change: bool,
    /// Resume after lost history instead of suspending.
    pub tolerate_resume_errors: bool,
    /// Events may be handled concurrently, out of order.
    pub unordered: bool,
    /// Accepted for compatibility (App Services: a higher concurrency limit).
    pub maximum_throughput: bool,
    /// Re-enabling skips the events that happened while it was disabled.
    pub skip_catchup_events: bool,
    /// `$match` on the change event (validated).
    pub match_filter: Option<Document>,
    /// `$project` on the change event (validated; an inclusion keeps `operationType`).
    pub project: Option<Document>,
}

/// An authentication event kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOperation {
    /// A login.
    Login,
    /// A new user.
    Create,
    /// A user deleted.
    Delete,
}

impl AuthOperation {
    /// The event's `operationType`.
    pub fn name(self) -> &'static str {
        match self {
            AuthOperation::Login => "LOGIN",
            AuthOperation::Create => "CREATE",
            AuthOperation::Delete => "DELETE",
        }
    }
}

/// The provider names an authentication trigger may list (App Services' internal names).
pub const AUTH_PROVIDERS: [&str; 8] =
    ["anon-user", "local-userpass", "api-key", "custom-token", "custom-function", "oauth2-facebook", "oauth2-google", "oauth2-apple"];

/// An authentication trigger's `config`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthTrigger {
    /// What fires it (`operation_type`, a string or an array).
    pub operation_types: Vec<AuthOperation>,
    /// Which providers' events (empty: none fire it).
    pub providers: Vec<String>,
}

/// A scheduled trigger's `config`.
#[derive(Debug, Clone)]
pub struct ScheduledTrigger {
    /// The schedule.
    pub schedule: Schedule,
    /// Runs missed while the server was down (or the trigger disabled) are skipped, not caught up.
    pub skip_catchup_events: bool,
}

/// A 5-field CRON expression evaluated in UTC: minute, hour, day of month, month (1-12 or
/// JAN-DEC), weekday (0-6 or SUN-SAT); each field `*`, a value, a range `a-b`, a list `a,b`, and
/// in the minute and hour fields a step `x/n`. It fires when every field matches.
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    cron: croner::Cron,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        self.text == other.text
    }
}

/// Field names, bounds and whether a step is allowed, in order.
const CRON_FIELDS: [(&str, u32, u32, bool); 5] =
    [("minute", 0, 59, true), ("hour", 0, 23, true), ("day of month", 1, 31, false), ("month", 1, 12, false), ("weekday", 0, 6, false)];
const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Schedule {
    /// Parses the documented CRON subset (anything else is refused with the reason).
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!("{text:?} is not a 5-field CRON expression (minute hour day-of-month month weekday)"));
        }
        for (field, (name, lo, hi, step_ok)) in fields.iter().zip(CRON_FIELDS) {
            let names: &[&str] = match name {
                "month" => &MONTHS,
                "weekday" => &WEEKDAYS,
                _ => &[],
            };
            let offset = if name == "month" { 1 } else { 0 };
            let value = |v: &str| -> Result<u32, String> {
                let n = match v.parse::<u32>() {
                    Ok(n) => n,
                    Err(_) => names
                        .iter()
                        .position(|m| m.eq_ignore_ascii_case(v))
                        .map(|i| i as u32 + offset)
                        .ok_or_else(|| format!("{v:?} is not a valid {name}"))?,
                };
                if n < lo || n > hi {
                    return Err(format!("{name} {n} is out of range {lo}-{hi}"));
                }
                Ok(n)
            };
            for item in field.split(',') {
                let (range, step) = match item.split_once('/') {
                    Some((range, step)) => (range, Some(step)),
                    None => (item, None),
                };
                if let Some(step) = step {
                    if !step_ok {
                        return Err(format!("a step ({item:?}) is only allowed in the minute and hour fields"));
                    }
                    if !step.parse::<u32>().is_ok_and(|s| s >= 1 && s <= hi) {
                        return Err(format!("{step:?} is not a valid step for the {name} field"));
                    }
                }
                if range != "*" {
                    let (a, b) = range.split_once('-').map_or((range, None), |(a, b)| (a, Some(b)));
                    let a = value(a)?;
                    if let Some(b) = b.map(value).transpose()? {
                        if b < a {
                            return Err(format!("the {name} range {range:?} is backwards"));
                        }
                    }
                }
            }
        }
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .year(croner::parser::Year::Disallowed)
            .dom_and_dow(true)
            .build()
            .parse(text)
            .map_err(|e| format!("{text:?}: {e}"))?;
        Ok(Schedule { text: text.to_string(), cron })
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The first time (seconds since the epoch, UTC) after `after` that the schedule matches.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let t = chrono::DateTime::<chrono::Utc>::from_timestamp(after, 0)?;
        self.cron.find_next_occurrence(&t, false).ok().map(|d| d.timestamp())
    }
}

/// Reads `triggers/*.json` of the export in `dir` (none without the folder). `function_exists`
/// says whether the export defines a function; `mongo_services` are the app's MongoDB data
/// sources (a database trigger's `service_name` must be one of them).
pub fn load_triggers(dir: &Path, function_exists: &dyn Fn(&str) -> bool, mongo_services: &[&str]) -> Result<Vec<TriggerDef>, ConfigError> {
    let folder = dir.join("triggers");
    let Ok(entries) = std::fs::read_dir(&folder) else { return Ok(Vec::new()) };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    files.sort();
    let mut defs: Vec<TriggerDef> = Vec::new();
    for file in files {
        let Some(json) = read_json(&file)? else { continue };
        let Some(def) = read_trigger(&file, &json, function_exists, mongo_services)? else { continue };
        if defs.iter().any(|d| d.name == def.name) {
            return Err(error(&file, "name", format!("a trigger named {:?} is defined twice", def.name)));
        }
        defs.push(def);
    }
    Ok(defs)
}

fn read_trigger(file: &Path, json: &Value, function_exists: &dyn Fn(&str) -> bool, mongo_services: &[&str]) -> Result<Option<TriggerDef>, ConfigError> {
    let mut t = Obj::new(file, String::new(), json)?;
    t.string("id")?;
    let name = t.string("name")?.ok_or_else(|| t.err("name", "required"))?;
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(t.err("name", format!("{name:?} is not a trigger name: 1 to 64 ASCII letters, digits, '_' or '-'")));
    }
    let disabled = t.bool("disabled")?.unwrap_or(false);
    let kind_name = t.string("type")?.ok_or_else(|| t.err("type", "required: DATABASE, AUTHENTICATION or SCHEDULED"))?;
    let top_function = t.string("function_name")?;
    // `event_processors`: FUNCTION (what we run) or AWS_EVENTBRIDGE (what we cannot).
    let mut processor_function = None;
    let mut eventbridge = false;
    if let Some(mut processors) = t.object("event_processors")? {
        if let Some(mut function) = processors.object("FUNCTION")? {
            if let Some(mut config) = function.object("config")? {
                processor_function = config.string("function_name")?;
                config.finish();
            }
            function.finish();
        }
        eventbridge = processors.get("AWS_EVENTBRIDGE").is_some();
        processors.finish();
    }
    t.get("error_handler");
    let config = t.object("config")?;
    let kind = match (kind_name.as_str(), config) {
        ("DATABASE", Some(c)) => TriggerKind::Database(read_database(c, mongo_services)?),
        ("AUTHENTICATION", Some(c)) => TriggerKind::Authentication(read_auth(c)?),
        ("SCHEDULED", Some(c)) => TriggerKind::Scheduled(read_scheduled(c)?),
        ("DATABASE" | "AUTHENTICATION" | "SCHEDULED", None) => return Err(t.err("config", "required")),
        (other, _) => return Err(t.err("type", format!("{other:?} is not a trigger type: DATABASE, AUTHENTICATION or SCHEDULED"))),
    };
    let (function, function_key) = match (processor_function, top_function) {
        (Some(a), Some(b)) if a != b => {
            return Err(t.err("function_name", format!("names {b:?} but event_processors.FUNCTION names {a:?}: give one")))
        }
        (Some(f), _) => (f, "event_processors.FUNCTION.config.function_name"),
        (None, Some(f)) => (f, "function_name"),
        (None, None) if eventbridge => {
            tracing::warn!(file = %file.display(), "trigger {name:?} sends its events to AWS EventBridge, which this server does not support: it will not fire (point it at a function instead)");
            t.finish();
            return Ok(None);
        }
        (None, None) => return Err(t.err("event_processors", "names no function: give event_processors.FUNCTION.config.function_name or function_name")),
    };
    if !function_exists(&function) {
        return Err(t.err(function_key, format!("trigger {name:?} runs function {function:?}, which the export does not define (functions/)")));
    }
    t.finish();
    Ok(Some(TriggerDef { name, function, disabled, kind, file: file.to_path_buf() }))
}

fn read_database(mut c: Obj<'_>, mongo_services: &[&str]) -> Result<DatabaseTrigger, ConfigError> {
    c.string("service_id")?;
    if let Some(service) = c.string("service_name")? {
        if !mongo_services.contains(&service.as_str()) {
            return Err(c.err("service_name", format!("{service:?} is not one of the app's MongoDB data sources ({})", mongo_services.join(", "))));
        }
    }
    let database = c.string("database")?.filter(|d| !d.is_empty());
    let collection = c.string("collection")?.filter(|d| !d.is_empty());
    if database.is_none() && collection.is_some() {
        return Err(c.err("database", "required when a collection is given"));
    }
    if let Some(db) = &database {
        crate::store::Namespace::new(db, "x").map_err(|e| c.err("database", e.to_string()))?;
        if let Some(coll) = &collection {
            crate::store::Namespace::new(db, coll).map_err(|e| c.err("collection", e.to_string()))?;
        }
    }
    let mut operation_types = Vec::new();
    for op in c.strings("operation_types")? {
        match op.as_str() {
            "INSERT" => operation_types.push(OperationType::Insert),
            "UPDATE" => operation_types.push(OperationType::Update),
            "REPLACE" => operation_types.push(OperationType::Replace),
            "DELETE" => operation_types.push(OperationType::Delete),
            ddl if DDL_OPERATION_TYPES.contains(&ddl) => {
                tracing::warn!(key = %c.path("operation_types"), "{ddl}: this server has no collection-level events; it never fires");
            }
            other => return Err(c.err("operation_types", format!("{other:?} is not an operation type (INSERT, UPDATE, REPLACE, DELETE)"))),
        }
    }
    if operation_types.is_empty() && c.get("operation_types").is_none() {
        return Err(c.err("operation_types", "required: a list of INSERT, UPDATE, REPLACE, DELETE"));
    }
    let full_document = c.bool("full_document")?.unwrap_or(false);
    let full_document_before_change = c.bool("full_document_before_change")?.unwrap_or(false);
    let tolerate_resume_errors = c.bool("tolerate_resume_errors")?.unwrap_or(false);
    let unordered = c.bool("unordered")?.unwrap_or(false);
    let maximum_throughput = c.bool("maximum_throughput")?.unwrap_or(false);
    if maximum_throughput && !unordered {
        return Err(c.err("maximum_throughput", "requires unordered: true (event ordering must be off)"));
    }
    let skip_catchup_events = c.bool("skip_catchup_events")?.unwrap_or(false);
    let match_filter = document(&mut c, "match")?;
    if let Some(m) = &match_filter {
        crate::query::Filter::parse(m).map_err(|e| c.err("match", format!("not a valid $match filter: {e}")))?;
    }
    let mut project = document(&mut c, "project")?;
    if let Some(p) = project.as_mut() {
        check_project(p).map_err(|reason| c.err("project", reason))?;
    }
    c.finish();
    Ok(DatabaseTrigger {
        database,
        collection,
        operation_types,
        full_document,
        full_document_before_change,
        tolerate_resume_errors,
        unordered,
        maximum_throughput,
        skip_catchup_events,
        match_filter: match_filter.filter(|m| !m.is_empty()),
        project: project.filter(|p| !p.is_empty()),
    })
}

/// An (extended) JSON object as a document; `{}` and absent are `None`-like (empty).
fn document(c: &mut Obj<'_>, key: &'static str) -> Result<Option<Document>, ConfigError> {
    match c.get(key) {
        None => Ok(None),
        Some(v @ Value::Object(_)) => match Bson::try_from(v.clone()) {
            Ok(Bson::Document(d)) => Ok(Some(d)),
            Ok(_) | Err(_) => Err(c.err(key, "must be an object")),
        },
        Some(_) => Err(c.err(key, "must be an object")),
    }
}

/// A `$project` on change events: inclusive or exclusive, never excluding `operationType`; an
/// inclusion gets `operationType: 1` (the trigger always sees it, as in App Services).
fn check_project(p: &mut Document) -> Result<(), String> {
    crate::query::Projection::parse(p).map_err(|e| format!("not a valid $project: {e}"))?;
    let flags: Vec<bool> = p
        .iter()
        .filter(|(k, _)| k.as_str() != "_id")
        .map(|(_, v)| match v {
            Bson::Boolean(b) => Ok(*b),
            Bson::Int32(n) => Ok(*n != 0),
            Bson::Int64(n) => Ok(*n != 0),
            Bson::Double(f) => Ok(*f != 0.0),
            _ => Err("values must be 0 or 1 (expressions are not supported in a trigger's project)".to_string()),
        })
        .collect::<Result<_, _>>()?;
    let inclusive = flags.first().copied().unwrap_or(p.get("_id").is_some_and(|v| v != &Bson::Int32(0) && v != &Bson::Boolean(false)));
    if inclusive {
        if !p.contains_key("operationType") {
            p.insert("operationType", 1);
        }
    } else if p.contains_key("operationType") {
        return Err("operationType cannot be excluded".into());
    }
    Ok(())
}

fn read_auth(mut c: Obj<'_>) -> Result<AuthTrigger, ConfigError> {
    let mut operation_types = Vec::new();
    for op in c.strings("operation_type")? {
        operation_types.push(match op.as_str() {
            "LOGIN" => AuthOperation::Login,
            "CREATE" => AuthOperation::Create,
            "DELETE" => AuthOperation::Delete,
            other => return Err(c.err("operation_type", format!("{other:?} is not an authentication operation (LOGIN, CREATE, DELETE)"))),
        });
    }
    if operation_types.is_empty() {
        return Err(c.err("operation_type", "required: LOGIN, CREATE or DELETE"));
    }
    let providers = c.strings("providers")?;
    if let Some(bad) = providers.iter().find(|p| !AUTH_PROVIDERS.contains(&p.as_str())) {
        return Err(c.err("providers", format!("{bad:?} is not a provider ({})", AUTH_PROVIDERS.join(", "))));
    }
    if providers.is_empty() {
        return Err(c.err("providers", format!("required: a list of providers ({})", AUTH_PROVIDERS.join(", "))));
    }
    c.finish();
    Ok(AuthTrigger { operation_types, providers })
}

fn read_scheduled(mut c: Obj<'_>) -> Result<ScheduledTrigger, ConfigError> {
    let text = c.string("schedule")?.ok_or_else(|| c.err("schedule", "required: a 5-field CRON expression"))?;
    let schedule = Schedule::parse(&text).map_err(|reason| c.err("schedule", reason))?;
    // The docs' UI reference spells it without the final s.
    let skip = c.bool("skip_catchup_events")?.or(c.bool("skip_catchup_event")?).unwrap_or(false);
    c.string("schedule_type")?;
    c.finish();
    Ok(ScheduledTrigger { schedule, skip_catchup_events: skip })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_files::write;
    use bson::doc;

    fn exists(name: &str) -> bool {
        ["onChange", "onLogin", "tick"].contains(&name)
    }

    #[test]
    fn every_type_in_both_function_forms() {
        let tmp = tempfile::tempdir().expect("tmp");
        let d = tmp.path();
        assert!(load_triggers(d, &exists, &["mongodb-atlas"]).expect("no triggers/").is_empty());
        write(d, "triggers/a.json", r#"{
            "name": "orders", "type": "DATABASE", "disabled": false,
            "config": {"service_name": "mongodb-atlas", "database": "shop", "collection": "orders",
                "operation_types": ["INSERT", "UPDATE", "DROP_COLLECTION"], "full_document": true,
                "full_document_before_change": true, "tolerate_resume_errors": true, "unordered": true,
                "maximum_throughput": true, "skip_catchup_events": true,
                "match": {"fullDocument.total": {"$gt": {"$numberInt": "10"}}}, "project": {"fullDocument": 1}},
            "event_processors": {"FUNCTION": {"config": {"function_name": "onChange"}}}
        }"#);
        write(d, "triggers/b.json", r#"{"name": "logins", "type": "AUTHENTICATION", "function_name": "onLogin",
            "config": {"operation_type": "LOGIN", "providers": ["anon-user", "local-userpass"]}, "disabled": true}"#);
        write(d, "triggers/c.json", r#"{"name": "every-minute", "type": "SCHEDULED", "function_name": "tick",
            "config": {"schedule": "* * * * *", "skip_catchup_events": true}}"#);
        write(d, "triggers/d.json", r#"{"name": "bridge", "type": "DATABASE", "config": {"database": "shop", "collection": "x", "operation_types": ["INSERT"]},
            "event_processors": {"AWS_EVENTBRIDGE": {"config": {"account_id": "1", "region": "us-east-1"}}}}"#);
        write(d, "triggers/notes.txt", "ignored");
        let defs = load_triggers(d, &exists, &["mongodb-atlas"]).expect("load");
        let names: Vec<&str> = defs.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["orders", "logins", "every-minute"], "the EventBridge trigger is left out");
        let TriggerKind::Database(db) = &defs[0].kind else { panic!("database") };
        assert_eq!(defs[0].function, "onChange");
        assert_eq!((db.database.as_deref(), db.collection.as_deref()), (Some("shop"), Some("orders")));
        assert_eq!(db.operation_types, vec![OperationType::Insert, OperationType::Update]);
        assert!(db.full_document && db.full_document_before_change && db.tolerate_resume_errors && db.unordered && db.skip_catchup_events);
        assert_eq!(db.match_filter, Some(doc! {"fullDocument.total": {"$gt": 10}}));
        assert_eq!(db.project, Some(doc! {"fullDocument": 1, "operationType": 1}), "an inclusion keeps operationType");
        let TriggerKind::Authentication(a) = &defs[1].kind else { panic!("auth") };
        assert_eq!((a.operation_types.as_slice(), a.providers.len(), defs[1].disabled), ([AuthOperation::Login].as_slice(), 2, true));
        let TriggerKind::Scheduled(s) = &defs[2].kind else { panic!("scheduled") };
        assert!(s.skip_catchup_events);
        assert_eq!(s.schedule.next_after(1_700_000_030), Some(1_700_000_040), "the next whole minute");
    }

    #[test]
    fn invalid_values_name_the_file_and_key() {
        let tmp = tempfile::tempdir().expect("tmp");
        let d = tmp.path();
        let base = |config: &str, extra: &str| {
            format!(r#"{{"name": "t", "type": "DATABASE", "function_name": "onChange", "config": {config}{extra}}}"#)
        };
        let cases = [
            (r#"{"name": "t", "type": "DATABASE", "function_name": "nope", "config": {"database": "db", "collection": "c", "operation_types": ["INSERT"]}}"#.to_string(), "function_name"),
            (r#"{"name": "t", "type": "DATABASE", "event_processors": {"FUNCTION": {"config": {"function_name": "nope"}}}, "config": {"database": "db", "collection": "c", "operation_types": ["INSERT"]}}"#.to_string(), "event_processors.FUNCTION.config.function_name"),
            (base(r#"{"database": "db", "collection": "c", "operation_types": ["UPSERT"]}"#, ""), "config.operation_types"),
            (base(r#"{"database": "db", "collection": "c"}"#, ""), "config.operation_types"),
            (base(r#"{"service_name": "other", "database": "db", "collection": "c", "operation_types": ["INSERT"]}"#, ""), "config.service_name"),
            (base(r#"{"database": "db", "collection": "c", "operation_types": ["INSERT"], "match": {"a": {"$where": "1"}}}"#, ""), "config.match"),
            (base(r#"{"database": "db", "collection": "c", "operation_types": ["INSERT"], "project": {"a": 1, "b": 0}}"#, ""), "config.project"),
            (base(r#"{"database": "db", "collection": "c", "operation_types": ["INSERT"], "project": {"operationType": 0}}"#, ""), "config.project"),
            (base(r#"{"database": "db", "collection": "c", "operation_types": ["INSERT"], "maximum_throughput": true}"#, ""), "config.maximum_throughput"),
            (base(r#"{"database": "db", "collection": "c", "operation_types": ["INSERT"], "unordered": "yes"}"#, ""), "config.unordered"),
            (base(r#"{"collection": "c", "operation_types": ["INSERT"]}"#, ""), "config.database"),
            (base(r#"{"database": "d b", "collection": "c", "operation_types": ["INSERT"]}"#, ""), "config.database"),
            (r#"{"name": "bad name!", "type": "DATABASE", "config": {}}"#.to_string(), "name"),
            (r#"{"name": "t", "type": "CRON", "function_name": "tick", "config": {}}"#.to_string(), "type"),
            (r#"{"name": "t", "type": "SCHEDULED", "function_name": "tick", "config": {"schedule": "* * * *"}}"#.to_string(), "config.schedule"),
            (r#"{"name": "t", "type": "SCHEDULED", "function_name": "tick", "config": {"schedule": "61 * * * *"}}"#.to_string(), "config.schedule"),
            (r#"{"name": "t", "type": "SCHEDULED", "function_name": "tick", "config": {"schedule": "* * */2 * *"}}"#.to_string(), "config.schedule"),
            (r#"{"name": "t", "type": "SCHEDULED", "function_name": "tick", "config": {"schedule": "* * L * *"}}"#.to_string(), "config.schedule"),
            (r#"{"name": "t", "type": "SCHEDULED", "function_name": "tick"}"#.to_string(), "config"),
            (r#"{"name": "t", "type": "AUTHENTICATION", "function_name": "onLogin", "config": {"operation_type": "LOGOUT", "providers": ["anon-user"]}}"#.to_string(), "config.operation_type"),
            (r#"{"name": "t", "type": "AUTHENTICATION", "function_name": "onLogin", "config": {"operation_type": ["CREATE"], "providers": ["github"]}}"#.to_string(), "config.providers"),
            (r#"{"name": "t", "type": "AUTHENTICATION", "config": {"operation_type": ["CREATE"], "providers": ["anon-user"]}}"#.to_string(), "event_processors"),
            (r#"{"name": "t", "type": "AUTHENTICATION", "function_name": "onLogin", "event_processors": {"FUNCTION": {"config": {"function_name": "tick"}}}, "config": {"operation_type": ["CREATE"], "providers": ["anon-user"]}}"#.to_string(), "function_name"),
        ];
        for (json, key) in cases {
            write(d, "triggers/t.json", &json);
            let e = load_triggers(d, &exists, &["mongodb-atlas"]).expect_err(&json);
            assert!(e.file.ends_with("triggers/t.json"), "{e}");
            assert_eq!(e.key, key, "{json}: {e}");
        }
        write(d, "triggers/t.json", &base(r#"{"database": "db", "collection": "c", "operation_types": ["INSERT"]}"#, ""));
        write(d, "triggers/u.json", &base(r#"{"database": "db", "operation_types": ["DELETE"]}"#, ""));
        let e = load_triggers(d, &exists, &["mongodb-atlas"]).expect_err("twice");
        assert!(e.reason.contains("defined twice"), "{e}");
    }

    #[test]
    fn cron_subset_and_semantics() {
        let next = |expr: &str, t: i64| Schedule::parse(expr).expect(expr).next_after(t);
        // 2024-01-01T00:00:00Z was a Monday.
        let monday = 1_704_067_200;
        assert_eq!(next("*/25 * * * *", monday), Some(monday + 25 * 60));
        assert_eq!(next("0 11 * 1,3,7 *", monday), Some(monday + 11 * 3600));
        assert_eq!(next("0 0 * * TUE", monday), Some(monday + 86_400));
        assert_eq!(next("0 0 * FEB *", monday), Some(1_706_745_600), "2024-02-01");
        assert_eq!(next("0 0 2 * 5", monday), Some(1_706_832_000), "day 2 AND a Friday: 2024-02-02 (every field must match)");
        for bad in ["* * * * * *", "*/0 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 7", "* * * */2 *", "5-1 * * * *", "? * * * *", "* * * * MON#1", "@daily"] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
    }
}
