//! The server's `FunctionHost`: functions reach MongoDB through `service::Engine` (as their user,
//! whose rules apply, or as system), find users through `auth`, and have their `can_evaluate`
//! expressions checked by `rules`.

use crate::auth::Auth;
use crate::functions::{CanEvaluate, FunctionHost, HostError, HostFuture, Identity, RunAs, UserInfo};
use crate::rules::{ExpressionInputs, UserContext};
use crate::service::{Caller, Engine, ServiceError};
use bson::{Bson, Document};
use std::sync::Arc;

/// Functions' view of the rest of the server.
pub struct ServerHost {
    engine: Arc<Engine>,
    auth: Arc<Auth>,
    /// `%%values` for `can_evaluate`.
    values: Document,
}

impl ServerHost {
    /// A host over `engine` and `auth`; `values` are the app's values by name.
    pub fn new(engine: Arc<Engine>, auth: Arc<Auth>, values: Document) -> ServerHost {
        ServerHost { engine, auth, values }
    }
}

/// The rules' view of a function's user.
pub fn rule_context(user: &UserInfo) -> UserContext {
    let identities = user
        .identities
        .iter()
        .map(|i| Bson::Document(bson::doc! {"id": &i.id, "provider_type": &i.provider_type}))
        .collect();
    UserContext::new(&user.id, user.data.clone(), user.custom_data.clone(), identities)
}

/// A user as functions see it, from their profile (`GET /auth/profile`'s body) and custom data.
pub fn user_info(profile: &serde_json::Value, custom_data: Option<&serde_json::Value>) -> UserInfo {
    let doc = |v: Option<&serde_json::Value>| match v.cloned().map(Bson::try_from) {
        Some(Ok(Bson::Document(d))) => d,
        _ => Document::new(),
    };
    let identities = profile["identities"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .map(|i| Identity {
                    id: i["id"].as_str().unwrap_or_default().to_string(),
                    provider_type: i["provider_type"].as_str().unwrap_or_default().to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    UserInfo {
        id: profile["user_id"].as_str().unwrap_or_default().to_string(),
        user_type: profile["type"].as_str().unwrap_or("normal").to_string(),
        data: doc(profile.get("data")),
        custom_data: doc(custom_data),
        identities,
    }
}

fn host_error(e: &ServiceError) -> HostError {
    let code = match e {
        ServiceError::ServiceNotFound(_) => "ServiceNotFound",
        ServiceError::FunctionNotFound(_) => "FunctionNotFound",
        ServiceError::Rule(crate::rules::RuleError::NoMatchingRule(_)) => "NoMatchingRule",
        ServiceError::Rule(_) => "NotPermitted",
        ServiceError::BadArgument(_) => "InvalidParameter",
        _ => "MongoDBError",
    };
    HostError { code: code.into(), message: e.to_string() }
}

impl FunctionHost for ServerHost {
    fn mongo(&self, run_as: &RunAs, service: &str, op: &str, arg: Document) -> HostFuture<Bson> {
        let (engine, op, service) = (self.engine.clone(), op.to_string(), service.to_string());
        let caller = match run_as {
            RunAs::System => Caller::System,
            RunAs::User(u) => Caller::User(rule_context(u)),
        };
        Box::pin(async move {
            engine.call(&caller, &service, &op, &[Bson::Document(arg)]).await.map(|r| r.into_bson()).map_err(|e| host_error(&e))
        })
    }

    fn user(&self, id: &str) -> HostFuture<Option<UserInfo>> {
        let (auth, id) = (self.auth.clone(), id.to_string());
        Box::pin(async move {
            let found = tokio::task::spawn_blocking(move || -> Result<Option<UserInfo>, crate::auth::AuthError> {
                let profile = match auth.profile(&id) {
                    Ok(p) => p,
                    Err(crate::auth::AuthError::UserNotFound) => return Ok(None),
                    Err(e) => return Err(e),
                };
                Ok(Some(user_info(&profile, auth.custom_data(&id)?.as_ref())))
            })
            .await;
            match found {
                Ok(Ok(user)) => Ok(user),
                Ok(Err(e)) => Err(HostError { code: "InternalServerError".into(), message: e.to_string() }),
                Err(e) => Err(HostError { code: "InternalServerError".into(), message: e.to_string() }),
            }
        })
    }

    fn can_evaluate(&self, expression: &Bson, input: CanEvaluate) -> HostFuture<bool> {
        let user = input.user.as_ref().map(rule_context);
        let request = input.request.as_ref().map(|r| r.to_document());
        let inputs = ExpressionInputs { user: user.as_ref(), args: &input.args, request: request.as_ref(), values: Some(&self.values) };
        let allowed = crate::rules::evaluate(expression, &inputs);
        Box::pin(async move { Ok(allowed) })
    }
}
