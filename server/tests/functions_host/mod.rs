//! A `FunctionHost` over the server's `service::Engine` with a real `RedbStore` and the app's real
//! rule set (system calls bypass the rules inside the engine), for the functions tests and bench.
//! The server's own host is wired by the HTTP layer.

#![allow(dead_code)]

use bson::{Bson, Document};
use realm_wasm_server::{open_database, CallLimits, Caller, CanEvaluate, Engine, FunctionHost, HostError, HostFuture, Limits as ServerLimits, RedbStore, RuleSet, RunAs, ServiceError, Store, UserContext, UserInfo};
use std::collections::HashMap;
use std::sync::Arc;

/// The engine, the users `run_as_user_id` may name, and the data directory.
pub struct Host {
    pub engine: Arc<Engine>,
    users: HashMap<String, UserInfo>,
    _dir: tempfile::TempDir,
}

impl Host {
    /// A fresh store serving `mongodb-atlas` under `rules`; users `u1` and `u2` exist.
    pub fn new(rules: RuleSet) -> Host {
        let dir = tempfile::tempdir().expect("tmp");
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(open_database(dir.path()).expect("db")).expect("store"));
        let limits = ServerLimits::default();
        let services = HashMap::from([("mongodb-atlas".to_string(), Arc::new(rules))]);
        let engine = Engine::new(store, services, CallLimits::from(&limits), limits.query_memory_bytes, Arc::new(realm_wasm_server::ChangeLog::default()));
        let users = ["u1", "u2"].iter().map(|id| (id.to_string(), UserInfo::with_id(id))).collect();
        Host { engine: Arc::new(engine), users, _dir: dir }
    }
}

fn code(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::ServiceNotFound(_) => "ServiceNotFound",
        ServiceError::FunctionNotFound(_) => "FunctionNotFound",
        ServiceError::Rule(_) => "NotPermitted",
        _ => "MongoDBError",
    }
}

impl FunctionHost for Host {
    fn mongo(&self, run_as: &RunAs, service: &str, op: &str, arg: Document) -> HostFuture<Bson> {
        let (engine, op, service) = (self.engine.clone(), op.to_string(), service.to_string());
        let caller = match run_as {
            RunAs::System => Caller::System,
            RunAs::User(u) => Caller::User(UserContext::new(&u.id, u.data.clone(), u.custom_data.clone(), Vec::new())),
        };
        Box::pin(async move {
            engine
                .call(&caller, &service, &op, &[Bson::Document(arg)])
                .await
                .map(|r| r.into_bson())
                .map_err(|e| HostError { code: code(&e).into(), message: e.to_string() })
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
