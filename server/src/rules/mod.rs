//! Access rules: (user, namespace, operation) → the filter a user may see and write checks.
//!
//! The skeleton knows one kind of rule, "owner": a user reads and writes only documents whose
//! owner field equals their user id. Namespaces without a rule are open to any logged-in user.

use crate::config::AppConfig;
use bson::{doc, Bson, Document};

/// What a user may do in one namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Permission {
    owner: Option<(String, String)>,
}

/// Why a write was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RuleError {
    /// Inserting or producing a document the user may not own.
    #[error("{op} not permitted: field '{field}' must equal the caller's user id")]
    NotPermitted {
        /// operation
        op: &'static str,
        /// owner field
        field: String,
    },
}

/// Resolves the permission of `user_id` on `db.coll` under `app`'s rules.
pub fn permission(app: &AppConfig, user_id: &str, db: &str, coll: &str) -> Permission {
    let owner = app
        .owner_rules
        .iter()
        .find(|r| r.database == db && r.collection == coll)
        .map(|r| (r.owner_field.clone(), user_id.to_string()));
    Permission { owner }
}

impl Permission {
    /// Combines a query filter with the documents this user may see.
    pub fn restrict(&self, filter: Document) -> Document {
        match &self.owner {
            None => filter,
            Some((field, uid)) if filter.is_empty() => doc! { field.as_str(): uid.as_str() },
            Some((field, uid)) => doc! { "$and": [ { field.as_str(): uid.as_str() }, filter ] },
        }
    }

    /// Checks a document the user is about to write (insert, update result, upsert).
    pub fn check_write(&self, op: &'static str, document: &Document) -> Result<(), RuleError> {
        match &self.owner {
            None => Ok(()),
            Some((field, uid)) => match document.get(field) {
                Some(Bson::String(s)) if s == uid => Ok(()),
                _ => Err(RuleError::NotPermitted { op, field: field.clone() }),
            },
        }
    }
}

/// Namespaces without any rule (logged once at start-up as a warning).
pub fn describe_open_access(app: &AppConfig) -> String {
    let owned: Vec<String> = app.owner_rules.iter().map(|r| format!("{}.{}", r.database, r.collection)).collect();
    format!(
        "app {}: every collection except [{}] is readable and writable by any logged-in user",
        app.app_id,
        owned.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Filter;

    #[test]
    fn owner_rule_restricts_app_users() {
        let app = AppConfig::default_app();
        let p = permission(&app, "u1", "app", "users");
        let mine = doc! {"userID": "u1", "x": 1};
        let theirs = doc! {"userID": "u2", "x": 1};
        let table = vec![(doc! {}, true, false), (doc! {"x": 1}, true, false), (doc! {"userID": "u2"}, false, false)];
        for (filter, sees_mine, sees_theirs) in table {
            let f = Filter::parse(&p.restrict(filter.clone())).expect("parse");
            assert_eq!(f.matches(&mine), sees_mine, "{filter}");
            assert_eq!(f.matches(&theirs), sees_theirs, "{filter}");
        }
        assert!(p.check_write("insert", &mine).is_ok());
        assert!(p.check_write("insert", &theirs).is_err());
        assert!(p.check_write("insert", &doc! {"x": 1}).is_err());
        assert!(p.check_write("insert", &doc! {"userID": 5}).is_err());
    }

    #[test]
    fn other_collections_are_open() {
        let app = AppConfig::default_app();
        let p = permission(&app, "u1", "app", "other");
        assert_eq!(p.restrict(doc! {"a": 1}), doc! {"a": 1});
        assert!(p.check_write("insert", &doc! {"userID": "u2"}).is_ok());
        let p = permission(&app, "u1", "other", "users");
        assert!(p.check_write("insert", &doc! {}).is_ok());
        assert!(describe_open_access(&app).contains("app.users"));
    }
}
