//! A `FunctionHost` over today's `service::call` with a real `RedbStore` and real rule sets, for
//! the functions tests and bench (the server's own host is wired by the HTTP layer).

#![allow(dead_code)]

use bson::{Bson, Document};
use realm_wasm_server::functions::{CanEvaluate, FunctionHost, HostError, HostFuture, RunAs, UserInfo};
use realm_wasm_server::rules::{CollectionRules, Role, RuleSet, UserContext};
use realm_wasm_server::service::{self, CallResult};
use realm_wasm_server::store::{open_database, RedbStore};
use std::collections::HashMap;
use std::sync::Arc;

/// The server's own MongoDB service over a real store: the app's rules for a user, an
/// all-access rule set for system.
pub struct Host {
    pub store: Arc<RedbStore>,
    rules: Arc<RuleSet>,
    system: Arc<RuleSet>,
    users: HashMap<String, UserInfo>,
    _dir: tempfile::TempDir,
}

impl Host {
    pub fn new(rules: RuleSet) -> Host {
        let dir = tempfile::tempdir().expect("tmp");
        let store = RedbStore::open(open_database(dir.path()).expect("db")).expect("store");
        let system = RuleSet::new(HashMap::new(), Some(CollectionRules { roles: vec![Role::all_access("system")] }));
        let users = ["u1", "u2"].iter().map(|id| (id.to_string(), UserInfo::with_id(id))).collect();
        Host { store: Arc::new(store), rules: Arc::new(rules), system: Arc::new(system), users, _dir: dir }
    }
}

impl FunctionHost for Host {
    fn mongo(&self, run_as: &RunAs, service: &str, op: &str, arg: Document) -> HostFuture<Bson> {
        let (store, op, service) = (self.store.clone(), op.to_string(), service.to_string());
        let (rules, user) = match run_as {
            RunAs::System => (self.system.clone(), UserContext::with_id("")),
            RunAs::User(u) => (self.rules.clone(), UserContext::new(&u.id, u.data.clone(), u.custom_data.clone(), Vec::new())),
        };
        Box::pin(async move {
            if service != "mongodb-atlas" {
                return Err(HostError { code: "ServiceNotFound".into(), message: format!("service not found: '{service}'") });
            }
            let result = tokio::task::spawn_blocking(move || service::call(store.as_ref(), &rules, &user, &op, &[Bson::Document(arg)]))
                .await
                .map_err(|e| HostError { code: "InternalServerError".into(), message: e.to_string() })?;
            match result {
                Ok(CallResult::Value(v)) => Ok(v),
                Ok(CallResult::Count(n)) => Ok(Bson::Int64(n as i64)),
                Err(e) => Err(HostError { code: "MongoDBError".into(), message: e.to_string() }),
            }
        })
    }

    fn user(&self, id: &str) -> HostFuture<Option<UserInfo>> {
        let user = self.users.get(id).cloned();
        Box::pin(async move { Ok(user) })
    }

    /// Only `{"%%user.id": "<id>"}`, enough for these tests (the server evaluates full rule
    /// expressions).
    fn can_evaluate(&self, expression: &Bson, input: CanEvaluate) -> HostFuture<bool> {
        let wanted = expression.as_document().and_then(|d| d.get_str("%%user.id").ok()).map(str::to_string);
        Box::pin(async move { Ok(wanted.is_some() && wanted == input.user.map(|u| u.id)) })
    }
}

