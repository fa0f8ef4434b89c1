//! App Services Functions: the export's JavaScript functions run in an embedded QuickJS engine
//! (`rquickjs`, no file system, process or network access except through `context`), with the
//! `context` object and the globals App Services documents.
//!
//! Each call gets a fresh context on one of `pool_size` runtimes, so no state leaks between calls.
//! It runs in place on the async worker that took the request, which first hands its other tasks
//! to another thread when the call runs long or waits (`pool`), so a slow function never blocks
//! the async server. A call has a
//! time limit (the engine's interrupt handler), its runtime a memory limit and a stack limit; a
//! runtime that hit one is replaced. MongoDB goes through a [`FunctionHost`] as the calling user
//! (rules apply) or as system (rules bypassed).
//!
//! How a caller uses it:
//! ```ignore
//! let functions = Functions::new(defs, values, AppInfo::from_config(&app), host, Limits::from_settings(&settings))?;
//! let result = functions.call("sum", vec![Bson::Int32(2), Bson::Int32(3)], CallEnv::client(user, Some(request))).await?;
//! ```

mod convert;
mod crypto;
mod engine;
mod http;
mod natives;
mod pool;

pub use pool::runtime_builder;

pub use crate::config::{FunctionDef, RunAsScript, RunAsSetting, Values};

use bson::{doc, Bson, Document};
use engine::{JobEnv, Shared, Target};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A message thrown into JS as an `Error` by a global (utils.crypto, EJSON, …).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScriptError(pub String);

/// One identity of a user (`context.user.identities[]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    /// The provider's id for the user.
    pub id: String,
    /// `anon-user`, `local-userpass`, `api-key`, `custom-token`, `custom-function`, …
    pub provider_type: String,
}

/// A user as `context.user` shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserInfo {
    /// User id.
    pub id: String,
    /// `normal`, or `server` for an API-key login.
    pub user_type: String,
    /// Profile data (email, name, …).
    pub data: Document,
    /// Custom user data.
    pub custom_data: Document,
    /// Identities.
    pub identities: Vec<Identity>,
}

impl UserInfo {
    /// A `normal` user known by id only.
    pub fn with_id(id: &str) -> UserInfo {
        UserInfo { id: id.to_string(), user_type: "normal".into(), ..UserInfo::default() }
    }

    /// The user object functions see (`context.user`, an authentication event's `user`).
    pub fn to_document(&self) -> Document {
        doc! {
            "id": &self.id,
            "type": &self.user_type,
            "data": self.data.clone(),
            "custom_data": self.custom_data.clone(),
            "identities": self.identities.iter().map(|i| Bson::Document(doc! {"id": &i.id, "provider_type": &i.provider_type})).collect::<Vec<_>>(),
        }
    }
}

/// Who MongoDB calls run as.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // made once per call; boxing would only add an allocation
pub enum RunAs {
    /// The system user: rules are bypassed.
    System,
    /// This user: the app's rules apply.
    User(UserInfo),
}

/// The HTTP request behind a call (`context.request`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestInfo {
    /// Client address.
    pub remote_ip_address: String,
    /// Headers, each name with all its values.
    pub request_headers: Vec<(String, Vec<String>)>,
    /// `GET`, `POST`, …
    pub http_method: String,
    /// The endpoint route, for HTTPS endpoints.
    pub webhook_url: Option<String>,
    /// The query string without the leading `?` (and without a `secret=` pair).
    pub raw_query_string: String,
    /// `Referer`.
    pub http_referrer: Option<String>,
    /// `User-Agent`.
    pub http_user_agent: Option<String>,
    /// The service, for service calls.
    pub service: Option<String>,
    /// The function or action called.
    pub action: Option<String>,
}

impl RequestInfo {
    /// Headers as App Services shows them to functions: `content-type` → `Content-Type`, the
    /// values of a repeated header together, in the order they came.
    pub fn group_headers<'a>(headers: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<(String, Vec<String>)> {
        let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
        for (name, value) in headers {
            let value = String::from_utf8_lossy(value).into_owned();
            match grouped.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                Some((_, values)) => values.push(value),
                None => grouped.push((http::canonical_header(name), vec![value])),
            }
        }
        grouped
    }
}

impl RequestInfo {
    /// `context.request` / `%%request` as a document.
    pub fn to_document(&self) -> Document {
        let mut headers = Document::new();
        for (name, values) in &self.request_headers {
            headers.insert(name.clone(), values.clone());
        }
        let mut d = doc! {
            "remoteIPAddress": &self.remote_ip_address,
            "requestHeaders": headers,
            "httpMethod": &self.http_method,
            "rawQueryString": &self.raw_query_string,
        };
        for (key, value) in [
            ("webhookUrl", &self.webhook_url),
            ("httpReferrer", &self.http_referrer),
            ("httpUserAgent", &self.http_user_agent),
            ("service", &self.service),
            ("action", &self.action),
        ] {
            if let Some(v) = value {
                d.insert(key, v.clone());
            }
        }
        d
    }
}

/// Who a call is for and where it comes from.
#[derive(Debug, Clone)]
pub struct CallEnv {
    /// The authenticated caller (`context.user`); `None` for system callers (triggers, auth
    /// functions without a user).
    pub caller: Option<UserInfo>,
    /// Who MongoDB calls run as unless the function's settings say otherwise (see `call`).
    pub run_as: RunAs,
    /// `context.request`.
    pub request: Option<RequestInfo>,
    /// Request id for the function's log lines.
    pub request_id: Option<String>,
    /// A client (SDK) call: `private` functions are refused, `can_evaluate` and the function's
    /// run-as settings apply.
    pub from_client: bool,
}

impl CallEnv {
    /// What the runtime gets for this call, running MongoDB calls as `run_as`.
    fn job(&self, run_as: RunAs) -> JobEnv {
        JobEnv { caller: self.caller.clone(), run_as, request: self.request.clone(), request_id: self.request_id.clone() }
    }

    /// A call by a client on behalf of `user`.
    pub fn client(user: UserInfo, request: Option<RequestInfo>) -> CallEnv {
        CallEnv { caller: Some(user.clone()), run_as: RunAs::User(user), request, request_id: None, from_client: true }
    }

    /// A call by the server itself (trigger, auth function, rule): as system, no caller.
    pub fn system() -> CallEnv {
        CallEnv { caller: None, run_as: RunAs::System, request: None, request_id: None, from_client: false }
    }
}

/// `context.app`, and the MongoDB services `context.services.get` knows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppInfo {
    /// App id.
    pub id: String,
    /// Client app id.
    pub client_app_id: String,
    /// App name.
    pub name: String,
    /// Project id (`""` here).
    pub project_id: String,
    /// `GLOBAL` or `LOCAL`.
    pub deployment_model: String,
    /// e.g. `aws-us-east-1`.
    pub provider_region: String,
    /// ISO date of the last deployment (here: when the server started).
    pub last_deployed: String,
    /// Static hosting URI (`""`: none).
    pub hosting_uri: String,
    /// Names `context.services.get` answers with a MongoDB client.
    pub mongo_services: Vec<String>,
}

impl AppInfo {
    /// From the served app's configuration.
    pub fn from_config(app: &crate::config::AppConfig) -> AppInfo {
        AppInfo {
            id: app.app_id.clone(),
            client_app_id: app.app_id.clone(),
            name: app.name.clone(),
            project_id: String::new(),
            deployment_model: app.deployment_model.clone(),
            provider_region: app.location.clone(),
            last_deployed: bson::DateTime::now().try_to_rfc3339_string().unwrap_or_default(),
            hosting_uri: String::new(),
            mongo_services: {
                let sources: Vec<String> = app.data_sources.iter().filter(|d| d.kind == crate::config::MONGODB_ATLAS).map(|d| d.name.clone()).collect();
                if sources.is_empty() { vec![app.mongo_service.clone()] } else { sources }
            },
        }
    }

    fn to_document(&self) -> Document {
        doc! {
            "id": &self.id,
            "clientAppId": &self.client_app_id,
            "name": &self.name,
            "projectId": &self.project_id,
            "deployment": {"model": &self.deployment_model, "providerRegion": &self.provider_region},
            "lastDeployed": &self.last_deployed,
            "hostingUri": &self.hosting_uri,
        }
    }
}

/// Limits of the runtime (flags `--function-timeout`, `--function-memory-mb`, `--function-pool`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time one call may take (all its awaits included).
    pub timeout: Duration,
    /// Memory of one runtime (one running call).
    pub memory_bytes: usize,
    /// Runtimes, i.e. calls running at once.
    pub pool_size: usize,
    /// Calls that may wait for a runtime; more are refused (`Busy`).
    pub max_queue: usize,
    /// JavaScript stack of one call.
    pub stack_bytes: usize,
    /// Largest result (and largest value passed to MongoDB or `context.http`, and HTTP response body).
    pub max_result_bytes: usize,
}

/// Default time limit of a call (App Services allows 300 s; issue 13 asks 120 s).
pub const DEFAULT_TIMEOUT_SECS: u64 = 120;
/// Default memory of a runtime.
pub const DEFAULT_MEMORY_MB: usize = 128;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            memory_bytes: DEFAULT_MEMORY_MB * 1024 * 1024,
            pool_size: default_pool_size(),
            max_queue: 1024,
            stack_bytes: 1024 * 1024,
            max_result_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Runtimes by default: 4 per core, at least 4, so a few functions waiting on I/O do not hold
/// everything up (each uses memory only while it runs).
pub fn default_pool_size() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get() * 4).max(4)
}

impl Limits {
    /// From the server settings.
    pub fn from_settings(s: &crate::config::ServerSettings) -> Limits {
        Limits {
            timeout: Duration::from_secs(s.function_timeout_secs),
            memory_bytes: s.function_memory_mb * 1024 * 1024,
            pool_size: s.function_pool,
            max_result_bytes: s.max_body_bytes,
            ..Limits::default()
        }
    }
}

/// A failed host operation, as JS sees it (`err.message`, `err.code`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct HostError {
    /// App Services error code (`NoMatchingRule`, `MongoDBError`, …).
    pub code: String,
    /// Message.
    pub message: String,
}

/// A boxed, sendable host future.
pub type HostFuture<T> = Pin<Box<dyn Future<Output = Result<T, HostError>> + Send + 'static>>;

/// What `can_evaluate` sees (`%%user`, `%%args`, `%%request`).
#[derive(Debug, Clone)]
pub struct CanEvaluate {
    /// The function.
    pub function: String,
    /// `%%user` (`None`: no caller).
    pub user: Option<UserInfo>,
    /// `%%args`.
    pub args: Vec<Bson>,
    /// `%%request`.
    pub request: Option<RequestInfo>,
}

/// What functions need from the rest of the server.
pub trait FunctionHost: Send + Sync {
    /// A `mongodb-atlas` service operation (`find`, `insertOne`, …; the argument document as the
    /// client route takes it, with `database` and `collection`), as `run_as`; resolves once the
    /// writes are durable, to the wire result (a count as Int64).
    fn mongo(&self, run_as: &RunAs, service: &str, op: &str, arg: Document) -> HostFuture<Bson>;

    /// The user with this id (for `run_as_user_id`), with profile and custom data.
    fn user(&self, id: &str) -> HostFuture<Option<UserInfo>>;

    /// Evaluates a function's `can_evaluate` expression (a rule expression). The default refuses
    /// every expression, so a host that cannot evaluate them never lets a call through.
    fn can_evaluate(&self, expression: &Bson, input: CanEvaluate) -> HostFuture<bool> {
        let _ = (expression, input);
        Box::pin(async { Ok(false) })
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FunctionError {
    /// No function of this name.
    #[error("function not found: '{0}'")]
    NotFound(String),
    /// A private function called by a client.
    #[error("function not found: '{0}' (it is private: only other functions and rules may call it)")]
    Private(String),
    /// `can_evaluate` said no.
    #[error("rule not matched for function '{0}': its can_evaluate expression does not allow this call")]
    NotPermitted(String),
    /// The function threw, or its Promise rejected (`name` is empty for a thrown non-Error).
    #[error("{}", if name.is_empty() { message.clone() } else { format!("{name}: {message}") })]
    Execution {
        /// The error's `name` (`Error`, `TypeError`, …).
        name: String,
        /// Its `message`, or the text of a thrown non-Error value.
        message: String,
    },
    /// Over the time limit.
    #[error("function '{function}' ran longer than its time limit of {secs} s")]
    Timeout {
        /// Function.
        function: String,
        /// The limit.
        secs: f64,
    },
    /// Over the memory limit.
    #[error("function '{function}' used more memory than its limit of {limit_mb} MB")]
    OutOfMemory {
        /// Function.
        function: String,
        /// The limit.
        limit_mb: usize,
    },
    /// Over the stack limit.
    #[error("function '{function}' exceeded the maximum call stack depth (too deep a recursion)")]
    StackOverflow {
        /// Function.
        function: String,
    },
    /// The result is too large to answer.
    #[error("the result of function '{function}' is larger than {limit} bytes")]
    ResultTooLarge {
        /// Function.
        function: String,
        /// The limit.
        limit: usize,
    },
    /// The function's Promise can no longer settle (no pending operation or timer).
    #[error("function '{function}' returned a Promise that never settles (nothing left to wait for)")]
    NeverSettled {
        /// Function.
        function: String,
    },
    /// Every runtime is busy and the queue is full.
    #[error("too many function calls at once: try again later")]
    Busy,
    /// The function's run-as user could not be determined.
    #[error("cannot run function '{function}': {reason}")]
    RunAs {
        /// Function.
        function: String,
        /// Why.
        reason: String,
    },
    /// The runtime failed.
    #[error("function runtime error: {0}")]
    Internal(String),
}

impl FunctionError {
    /// The App Services `error_code` for the wire.
    pub fn error_code(&self) -> &'static str {
        match self {
            FunctionError::NotFound(_) | FunctionError::Private(_) => "FunctionNotFound",
            FunctionError::Busy => "TooManyRequests",
            FunctionError::Internal(_) => "InternalServerError",
            _ => "FunctionExecutionError",
        }
    }

    /// The `error` text App Services sends for a thrown Error: `{"message": …, "name": …}` as
    /// JSON; a thrown non-Error value as its text; other failures their message.
    pub fn wire_message(&self) -> String {
        match self {
            FunctionError::Execution { name, message } if !name.is_empty() => serde_json::json!({"message": message, "name": name}).to_string(),
            other => other.to_string(),
        }
    }
}

/// What an HTTPS endpoint's function answered: its return value and what it set on `response`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointReply {
    /// The return value (`None`: it returned `undefined`).
    pub result: Option<Bson>,
    /// `response.setStatusCode`.
    pub status: Option<u16>,
    /// `response.setHeader` / `addHeader`, in order.
    pub headers: Vec<(String, String)>,
    /// `response.setBody`.
    pub body: Option<Vec<u8>>,
}

impl EndpointReply {
    /// Reads what core.js's `endpoint` gives: `{status?, headers: [[name, value]…], body?, result?}`.
    fn from_bson(reply: Bson) -> Result<EndpointReply, FunctionError> {
        let bad = || FunctionError::Internal("an endpoint call gave an answer of the wrong shape".into());
        let Bson::Document(mut d) = reply else { return Err(bad()) };
        let status = match d.remove("status") {
            None => None,
            Some(Bson::Int32(n)) => Some(u16::try_from(n).map_err(|_| bad())?),
            Some(_) => return Err(bad()),
        };
        let mut headers = Vec::new();
        if let Some(Bson::Array(items)) = d.remove("headers") {
            for item in items {
                match item {
                    Bson::Array(pair) => match pair.as_slice() {
                        [Bson::String(n), Bson::String(v)] => headers.push((n.clone(), v.clone())),
                        _ => return Err(bad()),
                    },
                    _ => return Err(bad()),
                }
            }
        }
        let body = match d.remove("body") {
            None => None,
            Some(Bson::Binary(b)) => Some(b.bytes),
            Some(_) => return Err(bad()),
        };
        Ok(EndpointReply { result: d.remove("result"), status, headers, body })
    }
}

/// The app's functions, ready to run.
pub struct Functions {
    shared: Arc<Shared>,
    pool: pool::Pool,
    /// Runtimes of the functions rules call (`%function`), started at the first such call. Their
    /// own pool, because a rule is evaluated for a call that may hold a runtime of `pool` while
    /// it waits: with one pool, enough such calls at once would wait for each other for ever.
    rule_pool: std::sync::OnceLock<pool::Pool>,
}

impl Functions {
    /// Compiles every function (a syntax error names its file) and starts the runtimes.
    pub fn new(
        defs: Vec<FunctionDef>,
        values: Values,
        app: AppInfo,
        host: Arc<dyn FunctionHost>,
        limits: Limits,
    ) -> Result<Functions, crate::config::ConfigError> {
        Functions::with_run_as_scripts(defs, Vec::new(), values, app, host, limits)
    }

    /// `new`, plus run-as scripts that belong to no function (HTTPS endpoints', the Data API's),
    /// run by [`Functions::run_as`] under their names.
    pub fn with_run_as_scripts(
        defs: Vec<FunctionDef>,
        scripts: Vec<RunAsScript>,
        values: Values,
        app: AppInfo,
        host: Arc<dyn FunctionHost>,
        limits: Limits,
    ) -> Result<Functions, crate::config::ConfigError> {
        let code = engine::compile(&defs, &scripts)?;
        let internal = |reason: String| crate::config::ConfigError { file: "functions".into(), key: "-".into(), reason };
        let http = http::HttpClients::new().map_err(|e| internal(format!("cannot create the HTTP client: {e}")))?;
        let sources = defs.iter().map(|d| (d.name.clone(), engine::wrap(&d.source))).collect();
        let mut run_as_scripts: HashMap<String, String> = defs
            .iter()
            .filter_map(|d| match &d.run_as {
                RunAsSetting::Script(s) => Some((d.name.clone(), engine::wrap(s))),
                _ => None,
            })
            .collect();
        for script in scripts {
            if run_as_scripts.insert(script.name.clone(), engine::wrap(&script.source)).is_some() {
                let reason = format!("a run-as script named {:?} already exists (rename the function of that name)", script.name);
                return Err(crate::config::ConfigError { file: script.file, key: script.key, reason });
            }
        }
        let defs: HashMap<String, FunctionDef> = defs.into_iter().map(|d| (d.name.clone(), d)).collect();
        let (pool_size, max_queue) = (limits.pool_size, limits.max_queue);
        let shared = Arc::new(Shared { sources, run_as_scripts, defs, values, app, host, limits, http, code });
        let pool = pool::Pool::start(shared.clone(), pool_size, max_queue);
        Ok(Functions { shared, pool, rule_pool: std::sync::OnceLock::new() })
    }

    /// Starts the runtimes of the functions rules call (else the first such call does).
    pub fn prepare_rule_runtimes(&self) {
        self.rule_pool();
    }

    fn rule_pool(&self) -> &pool::Pool {
        self.rule_pool.get_or_init(|| pool::Pool::start(self.shared.clone(), (self.shared.limits.pool_size / 2).max(2), self.shared.limits.max_queue))
    }

    /// Runs function `name` for a `%function` in a rule: private functions included, no
    /// `can_evaluate`, as system (a function evaluating a rule as its user would evaluate the same
    /// rules again), with `context.user` the user the rule is evaluated for.
    pub async fn call_from_rule(&self, name: &str, args: Vec<Bson>, user: Option<UserInfo>) -> Result<Bson, FunctionError> {
        if !self.contains(name) {
            return Err(FunctionError::NotFound(name.to_string()));
        }
        let pool = self.rule_pool();
        let job = JobEnv { caller: user, run_as: RunAs::System, request: None, request_id: None };
        pool.run(Target::Function(name.to_string()), args, job).await
    }

    /// Whether a function of this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.shared.defs.contains_key(name)
    }

    /// The settings of function `name`.
    pub fn def(&self, name: &str) -> Option<&FunctionDef> {
        self.shared.defs.get(name)
    }

    /// Runs function `name` with `args`.
    ///
    /// For a client call (`env.from_client`): a private function is refused, `can_evaluate` is
    /// asked of the host, and the function's authentication setting decides who it runs as
    /// (`run_as_system`, `run_as_user_id`, the run-as script, or else `env.run_as`). Any other
    /// call runs as `env.run_as`. `context.user` is always `env.caller`.
    pub async fn call(&self, name: &str, args: Vec<Bson>, env: CallEnv) -> Result<Bson, FunctionError> {
        let def = self.shared.defs.get(name).ok_or_else(|| FunctionError::NotFound(name.to_string()))?;
        if !env.from_client {
            return self.pool.run(Target::Function(name.to_string()), args, env.job(env.run_as.clone())).await;
        }
        if def.private {
            return Err(FunctionError::Private(name.to_string()));
        }
        self.check_can_evaluate(def, &args, &env).await?;
        let run_as = self.run_as(name, &def.run_as, &args, &env).await?;
        self.pool.run(Target::Function(name.to_string()), args, env.job(run_as)).await
    }

    /// Runs function `name` for an HTTPS endpoint: it gets `(request, response)`, `request` being
    /// `{query, headers, body}`, and runs as `env.run_as` (which the endpoint decided, see
    /// [`Functions::run_as`]). The function's `can_evaluate` applies; `private` does not (the
    /// endpoint, not a client, calls it).
    pub async fn call_endpoint(&self, name: &str, request: Document, env: CallEnv) -> Result<EndpointReply, FunctionError> {
        let def = self.shared.defs.get(name).ok_or_else(|| FunctionError::NotFound(name.to_string()))?;
        let args = vec![Bson::Document(request)];
        self.check_can_evaluate(def, &args, &env).await?;
        EndpointReply::from_bson(self.pool.run(Target::Endpoint(name.to_string()), args, env.job(env.run_as.clone())).await?)
    }

    /// Who a call runs as under `setting`, the run-as setting of `owner` (a function, or a script
    /// given to `with_run_as_scripts`): `env.run_as` for the caller, the system, a fixed user, or
    /// the user whose id `owner`'s script returns (`{runAsSystem: true}`: the system). The script
    /// runs as system, with `args` and `env`'s caller and request.
    pub async fn run_as(&self, owner: &str, setting: &RunAsSetting, args: &[Bson], env: &CallEnv) -> Result<RunAs, FunctionError> {
        Ok(match setting {
            RunAsSetting::Caller => env.run_as.clone(),
            RunAsSetting::System => RunAs::System,
            RunAsSetting::UserId(id) => RunAs::User(self.user(owner, id).await?),
            RunAsSetting::Script(_) => {
                let script_env = env.job(RunAs::System);
                match self.pool.run(Target::RunAsScript(owner.to_string()), args.to_vec(), script_env).await? {
                    Bson::String(id) => RunAs::User(self.user(owner, &id).await?),
                    Bson::Document(d) if d.get_bool("runAsSystem") == Ok(true) => RunAs::System,
                    other => {
                        return Err(FunctionError::RunAs {
                            function: owner.to_string(),
                            reason: format!("run_as_user_id_script_source returned {other}, not a user id string or {{runAsSystem: true}}"),
                        })
                    }
                }
            }
        })
    }

    /// The function's `can_evaluate` (`%%user`: the caller, `%%args`, `%%request`).
    async fn check_can_evaluate(&self, def: &FunctionDef, args: &[Bson], env: &CallEnv) -> Result<(), FunctionError> {
        let Some(expression) = &def.can_evaluate else { return Ok(()) };
        let name = &def.name;
        let input = CanEvaluate { function: name.clone(), user: env.caller.clone(), args: args.to_vec(), request: env.request.clone() };
        let allowed = match expression {
            Bson::Boolean(b) => *b,
            e => self.shared.host.can_evaluate(e, input).await.map_err(|e| FunctionError::RunAs { function: name.clone(), reason: format!("can_evaluate: {e}") })?,
        };
        if allowed {
            Ok(())
        } else {
            Err(FunctionError::NotPermitted(name.clone()))
        }
    }

    async fn user(&self, function: &str, id: &str) -> Result<UserInfo, FunctionError> {
        let fail = |reason: String| FunctionError::RunAs { function: function.to_string(), reason };
        match self.shared.host.user(id).await {
            Ok(Some(u)) => Ok(u),
            Ok(None) => Err(fail(format!("its run-as user '{id}' does not exist"))),
            Err(e) => Err(fail(format!("cannot read its run-as user '{id}': {e}"))),
        }
    }
}

#[cfg(test)]
mod tests;
