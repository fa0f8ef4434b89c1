//! Where functions meet the rest of the server. `ServerHost` is the functions' `FunctionHost`: they
//! reach MongoDB through `service::Engine` (as their user, whose rules apply, or as system), find
//! users through `auth`, and have their `can_evaluate` expressions checked by `rules`. The other
//! way round, auth and the rules reach the functions through the runners below, set in `lib.rs`
//! once both sides exist (neither module depends on `functions`).

use crate::auth::{Auth, AuthFunctions};
use crate::functions::{CallEnv, CanEvaluate, FunctionError, FunctionHost, Functions, HostError, HostFuture, Identity, RunAs, UserInfo};
use crate::rules::{ExpressionInputs, FunctionCall, RuleFunctions, UserContext};
use crate::service::{Caller, Engine, ServiceError};
use bson::{Bson, Document};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

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

/// A user as functions see them, from the rules' view of them (`%function` calls).
fn user_from_rules(user: &UserContext) -> UserInfo {
    let identities = user
        .identities
        .iter()
        .filter_map(Bson::as_document)
        .map(|i| Identity {
            id: i.get_str("id").unwrap_or_default().to_string(),
            provider_type: i.get_str("provider_type").unwrap_or_default().to_string(),
        })
        .collect();
    UserInfo { id: user.id.clone(), user_type: "normal".into(), data: user.data.clone(), custom_data: user.custom_data.clone(), identities }
}

/// What a failed function tells its caller: a thrown Error's message, else the failure's text.
fn failure_message(e: &FunctionError) -> String {
    match e {
        FunctionError::Execution { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Auth's way to the app's functions (custom-function provider, confirmation and reset functions,
/// the user creation function): system calls, waited for on auth's blocking thread. It holds the
/// functions weakly: they hold auth (through the host), and a cycle would keep both alive.
pub struct AuthFunctionRunner {
    functions: Weak<Functions>,
}

impl AuthFunctionRunner {
    /// A runner over `functions`.
    pub fn new(functions: &Arc<Functions>) -> AuthFunctionRunner {
        AuthFunctionRunner { functions: Arc::downgrade(functions) }
    }
}

impl AuthFunctions for AuthFunctionRunner {
    fn run(&self, name: &str, args: Vec<Bson>) -> Result<Bson, String> {
        let functions = self.functions.upgrade().ok_or_else(|| "the function runtime has stopped".to_string())?;
        let handle = tokio::runtime::Handle::try_current().map_err(|_| "functions must be called from the server's runtime".to_string())?;
        handle.block_on(functions.call(name, args, CallEnv::system())).map_err(|e| failure_message(&e))
    }
}

/// The rules' way to the app's functions (`%function`): run as system for the user the rule is
/// evaluated for, on the rule runtimes. A failure makes the expressions using the call false; it
/// is logged (at debug for a throw, which may be how a function says no).
pub struct RuleFunctionRunner {
    functions: Weak<Functions>,
    /// `%%values` for the arguments.
    values: Document,
}

impl RuleFunctionRunner {
    /// A runner over `functions`; `values` are the app's values by name.
    pub fn new(functions: &Arc<Functions>, values: Document) -> RuleFunctionRunner {
        RuleFunctionRunner { functions: Arc::downgrade(functions), values }
    }
}

impl RuleFunctions for RuleFunctionRunner {
    fn call(&self, call: &FunctionCall, user: &UserContext) -> Pin<Box<dyn Future<Output = Option<Bson>> + Send>> {
        let args = call.arguments_for(user, &self.values);
        let (functions, name, caller) = (self.functions.clone(), call.name.clone(), user_from_rules(user));
        Box::pin(async move {
            let functions = functions.upgrade()?;
            match functions.call_from_rule(&name, args, Some(caller)).await {
                Ok(v) => Some(v),
                Err(e @ FunctionError::Execution { .. }) => {
                    tracing::debug!(function = %name, "%function threw (the expression is false): {e}");
                    None
                }
                Err(e) => {
                    tracing::warn!(function = %name, "%function failed (the expression is false): {e}");
                    None
                }
            }
        })
    }
}
