//! Users, identities, providers, sessions and tokens of one app.
//!
//! Providers: `anon-user`, `local-userpass` (`userpass`), `api-key` (`api_keys`), `custom-token`
//! (`custom_token`), `custom-function` (`custom_function`). The app's server functions (the
//! custom-function provider, confirmation and reset functions, the user creation function) are
//! reached through [`AuthFunctions`], set at start-up. Everything lives in redb (`store`), so a restart keeps users, sessions, API
//! keys and pending confirmations. Refresh tokens are random and stored only as SHA-256 hashes;
//! access tokens are HS256 JWTs (`tokens`) bound to their session (`sessions`), so ending a
//! session ends its access tokens too. Logins, account routes and email links are rate limited
//! (`rate_limit`), password hashing is bounded (`hashing`), and stale records are purged (`purge`).

mod api_keys;
mod custom_function;
mod custom_token;
mod events;
mod hashing;
mod outbox;
mod purge;
mod rate_limit;
mod sessions;
mod tables;
mod tokens;
mod userpass;
mod verified;

pub use api_keys::ApiKey;
pub use events::{AuthEvent, AuthEvents};
pub use hashing::{default_max_concurrent_hashes, HashStats};
pub use outbox::Outbox;
pub use tokens::AccessClaims;
pub use userpass::PendingConfirmation;

use crate::config::AppConfig;
use crate::query::Filter;
use crate::store::{Namespace, Store, StoreError};
use argon2::password_hash::rand_core::{OsRng, RngCore};
use bson::{doc, oid::ObjectId, Bson, Document};
use rate_limit::{RateLimiter, Subject};
use redb::{Database, ReadableDatabase, ReadableTable, WriteTransaction};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use tables::*;

/// Runs the app's server functions for auth. Set once at start-up (`Auth::set_functions`): auth
/// does not depend on the function runtime, which itself needs auth (to find users).
pub trait AuthFunctions: Send + Sync {
    /// Runs function `name` as the system user with `args` and waits for it (called on a blocking
    /// thread, never while a transaction is open). `Err` says why it failed, as its caller is told
    /// (a thrown Error's message).
    fn run(&self, name: &str, args: Vec<Bson>) -> Result<Bson, String>;
}

/// Authentication failures (mapped to HTTP statuses in `http`). Messages are App Services' own
/// wording where it had one, since clients and their tests match on them.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Missing, malformed, expired or revoked token.
    #[error("invalid session: {0}")]
    InvalidSession(String),
    /// Wrong email or password (or API key, or custom JWT).
    #[error("invalid username/password")]
    InvalidPassword,
    /// The right password of an account whose user was deleted.
    #[error("unauthorized")]
    Unauthorized,
    /// A login credential that is not a password was refused.
    #[error("{0}")]
    AuthFailed(String),
    /// Registration of an existing email.
    #[error("name already in use")]
    AccountNameInUse,
    /// Linking an identity that belongs to another user.
    #[error("a user already exists with the specified provider")]
    IdentityInUse,
    /// Confirming an already confirmed user.
    #[error("already confirmed")]
    UserAlreadyConfirmed,
    /// Logging in before confirming the email address.
    #[error("confirmation required")]
    ConfirmationRequired,
    /// Invalid input.
    #[error("{0}")]
    BadRequest(String),
    /// An argument App Services refused as invalid (e.g. an API key name).
    #[error("{0}")]
    InvalidParameter(String),
    /// Provider not enabled / unknown.
    #[error("authentication via '{0}' is unsupported")]
    ProviderNotFound(String),
    /// The user does not exist.
    #[error("user not found")]
    UserNotFound,
    /// The user was disabled by an operator.
    #[error("user is disabled")]
    UserDisabled,
    /// API key not found (or not the caller's).
    #[error("API key \"{0}\" doesn't exist")]
    ApiKeyNotFound(String),
    /// The caller already has a key with this name.
    #[error("API key with name '{0}' already exists")]
    ApiKeyExists(String),
    /// Too many attempts (logins, account requests, email links).
    #[error("{0}")]
    TooManyRequests(String),
    /// Too much hashing already queued: try again later.
    #[error("{0}")]
    Busy(String),
    /// A reset function answered `fail` (or threw), or the user creation function threw; the
    /// message is App Services' for a failed function.
    #[error("{0}")]
    FunctionFailed(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing or signing failed.
    #[error("internal auth error: {0}")]
    Internal(String),
}

impl From<redb::Error> for AuthError {
    fn from(e: redb::Error) -> Self {
        AuthError::Store(StoreError::Backend(e))
    }
}

macro_rules! redb_from {
    ($($t:ty),*) => {$(
        impl From<$t> for AuthError {
            fn from(e: $t) -> Self { AuthError::from(redb::Error::from(e)) }
        }
    )*};
}
redb_from!(redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

/// What a successful login returns on the wire.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoginResponse {
    /// User id (24 hex).
    pub user_id: String,
    /// Access token (JWT).
    pub access_token: String,
    /// Refresh token (absent when linking: the user keeps their session).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Device id (24 hex).
    pub device_id: String,
}

/// Seconds since the epoch; injectable so tests can expire tokens without waiting.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> u64;
    /// Resolves once `now()` has reached `at` (a test clock resolves it when the test moves it).
    fn sleep_until(&self, at: u64) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let secs = at.saturating_sub(self.now());
        Box::pin(tokio::time::sleep(std::time::Duration::from_secs(secs)))
    }
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// Limits and collaborators of an `Auth` beyond the app config.
pub struct AuthOptions {
    /// Operator-given signing key; generated and persisted when `None`.
    pub signing_key: Option<String>,
    /// Where confirmation / reset links go.
    pub outbox: Outbox,
    /// Failed logins per account per minute.
    pub login_limit_per_account: u32,
    /// Failed logins per client address per minute.
    pub login_limit_per_address: u32,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Password/API-key hashes computed at once.
    pub max_concurrent_hashes: usize,
    /// Requests per client address per minute to the email/password routes that work without a
    /// session (register, confirm/send, confirm/call, reset, reset/send, reset/call).
    pub account_limit_per_address: u32,
    /// Confirmation / reset links per email address per hour.
    pub email_limit_per_account: u32,
}

impl Default for AuthOptions {
    fn default() -> Self {
        AuthOptions {
            signing_key: None,
            outbox: Outbox::new(None),
            login_limit_per_account: 10,
            login_limit_per_address: 60,
            clock: Arc::new(SystemClock),
            max_concurrent_hashes: default_max_concurrent_hashes(),
            account_limit_per_address: 60,
            email_limit_per_account: 5,
        }
    }
}

/// An identity proven by a credential, before it is bound to a user.
struct Identity {
    provider_type: &'static str,
    external_id: String,
    /// `id` shown in the profile.
    id: String,
    provider_data: Document,
    /// Merged into the user's profile `data` at each login.
    data: Document,
}

/// A user about to be created: id, identities and profile data.
struct NewUser {
    id: String,
    identities: Vec<Bson>,
    data: Document,
}

impl NewUser {
    fn new(identity: Option<&Identity>) -> NewUser {
        let (identities, data) = match identity {
            Some(i) => (vec![Bson::Document(identity_doc(i))], i.data.clone()),
            None => {
                let anon = doc! {"id": ObjectId::new().to_hex(), "provider_type": "anon-user", "provider_id": "anon-user", "provider_data": {}};
                (vec![Bson::Document(anon)], Document::new())
            }
        };
        NewUser { id: ObjectId::new().to_hex(), identities, data }
    }
}

/// Who a credential logs in as.
enum Proven {
    /// A new anonymous user.
    Anonymous,
    /// An existing user, through one of their API keys (the session remembers which).
    ApiKey { user_id: String, key_id: String },
    /// An identity that may or may not have a user yet.
    Identity(Box<Identity>),
}

/// The authentication service of one app.
pub struct Auth {
    db: Arc<Database>,
    app: Arc<AppConfig>,
    store: Arc<dyn Store>,
    keys: tokens::Keys,
    outbox: Outbox,
    /// Failed logins, per account and per client address, per minute.
    login_limiter: RateLimiter,
    /// Unauthenticated email/password requests per client address per minute.
    account_limiter: RateLimiter,
    /// Confirmation / reset links per email address per hour.
    email_limiter: RateLimiter,
    hashes: hashing::HashGate,
    clock: Arc<dyn Clock>,
    verified: verified::VerifiedTokens,
    /// Bumped whenever sessions end (logout, revoke, disable, delete, password reset, API key
    /// removal, purge): open watch streams re-check their token when it changes.
    revocations: tokio::sync::watch::Sender<u64>,
    /// Where logins, new users and deletions are reported (authentication triggers).
    events: std::sync::OnceLock<Arc<dyn AuthEvents>>,
    /// The app's server functions (set once the runtime exists).
    functions: std::sync::OnceLock<Arc<dyn AuthFunctions>>,
}

/// Picks the device id: the client's `options.device.deviceId` if it is a real ObjectId, else a new one.
pub fn device_id_from(body: &Document) -> String {
    let given = body
        .get_document("options")
        .ok()
        .and_then(|o| o.get_document("device").ok())
        .and_then(|d| d.get("deviceId"));
    match given {
        Some(Bson::ObjectId(oid)) if oid.bytes() != [0u8; 12] => oid.to_hex(),
        Some(Bson::String(s)) if s.len() == 24 && s != "000000000000000000000000" && ObjectId::parse_str(s).is_ok() => {
            s.clone()
        }
        _ => ObjectId::new().to_hex(),
    }
}

/// A required string field of a login body.
fn body_str<'a>(body: &'a Document, key: &str) -> Result<&'a str, AuthError> {
    match body.get(key) {
        Some(Bson::String(s)) if s.len() <= 16 * 1024 => Ok(s),
        Some(Bson::String(_)) => Err(AuthError::BadRequest(format!("'{key}' is too long"))),
        _ => Err(AuthError::BadRequest(format!("expected a string '{key}'"))),
    }
}

impl Auth {
    /// Opens the auth tables (creating them and the signing key on first use).
    pub fn open(db: Arc<Database>, app: Arc<AppConfig>, store: Arc<dyn Store>, options: AuthOptions) -> Result<Auth, AuthError> {
        let txn = db.begin_write()?;
        let secret = {
            txn.open_table(USERS)?;
            txn.open_table(IDENTITIES)?;
            txn.open_table(USERPASS)?;
            txn.open_table(EMAIL_TOKENS)?;
            txn.open_table(SESSIONS)?;
            txn.open_table(SESSION_IDS)?;
            txn.open_table(API_KEYS)?;
            txn.open_table(USERPASS_FOLDED)?;
            sessions::migrate(&txn, &app.app_id)?;
            userpass::migrate(&txn)?;
            let mut meta = txn.open_table(META)?;
            let existing = meta.get("jwt_secret")?.map(|v| v.value().to_vec());
            match (&options.signing_key, existing) {
                (Some(given), _) => given.as_bytes().to_vec(),
                (None, Some(s)) => s,
                (None, None) => {
                    let mut s = vec![0u8; 64];
                    OsRng.fill_bytes(&mut s);
                    meta.insert("jwt_secret", s.as_slice())?;
                    s
                }
            }
        };
        txn.commit()?;
        let keys = tokens::Keys::new(&secret, &app.app_id);
        Ok(Auth {
            db,
            app,
            store,
            keys,
            outbox: options.outbox,
            login_limiter: RateLimiter::new("failed logins", 60, options.login_limit_per_account, options.login_limit_per_address),
            account_limiter: RateLimiter::new("account requests", 60, u32::MAX, options.account_limit_per_address),
            email_limiter: RateLimiter::new("emails", 3600, options.email_limit_per_account, u32::MAX),
            hashes: hashing::HashGate::new(options.max_concurrent_hashes),
            clock: options.clock,
            verified: verified::VerifiedTokens::new(),
            revocations: tokio::sync::watch::Sender::new(0),
            events: std::sync::OnceLock::new(),
            functions: std::sync::OnceLock::new(),
        })
    }

    /// Sets who runs the app's functions (once; until then configured functions fail).
    pub fn set_functions(&self, functions: Arc<dyn AuthFunctions>) {
        let _ = self.functions.set(functions);
    }

    /// Runs function `name` as system and waits for it.
    fn run_function(&self, name: &str, args: Vec<Bson>) -> Result<Bson, String> {
        match self.functions.get() {
            Some(f) => f.run(name, args),
            None => Err(format!("function '{name}' cannot run: the function runtime is not available")),
        }
    }

    /// Changes whenever sessions end; a watcher re-verifies its access token when it does.
    pub fn revocations(&self) -> tokio::sync::watch::Receiver<u64> {
        self.revocations.subscribe()
    }

    /// Resolves when the clock reaches `at` (an access token's expiry).
    pub fn sleep_until(&self, at: u64) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.clock.sleep_until(at)
    }

    /// How much password hashing has been done, and at most how much at once.
    pub fn hash_stats(&self) -> HashStats {
        self.hashes.stats()
    }

    /// Sessions ended: cached verifications are dropped and watchers told to re-check.
    fn revoked(&self) {
        self.verified.invalidate();
        self.revocations.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// Counts a request to an unauthenticated email/password route against the client's budget.
    fn limit_account_route(&self, client: Option<IpAddr>) -> Result<(), AuthError> {
        let subjects: Vec<Subject> = client.map(Subject::Address).into_iter().collect();
        self.account_limiter.reserve(subjects, self.now()).map(|_| ())
    }

    /// The app this service authenticates for.
    pub fn app(&self) -> &AppConfig {
        &self.app
    }

    fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Logs in with a provider; `body` is the decoded login request (credentials + options).
    /// `client` is the caller's address, for rate limiting.
    pub fn login(&self, provider: &str, body: &Document, client: Option<IpAddr>) -> Result<LoginResponse, AuthError> {
        let device_id = device_id_from(body);
        let proven = self.prove(provider, body, client)?;
        let provider_type = match &proven {
            Proven::Identity(i) => i.provider_type,
            _ => provider,
        }
        .to_string();
        let (user_id, key_id) = match proven {
            Proven::Anonymous => (self.create_user(None)?, None),
            Proven::ApiKey { user_id, key_id } => (user_id, Some(key_id)),
            Proven::Identity(identity) => (self.bind_identity(*identity, None)?, None),
        };
        self.check_enabled(&user_id)?;
        let (refresh_token, session_id) = self.create_session(&user_id, &device_id, key_id.as_deref())?;
        let access_token = self.issue_access_token(&user_id, &device_id, &session_id)?;
        self.emit(crate::config::AuthOperation::Login, vec![provider_type], &user_id, None);
        Ok(LoginResponse { user_id, access_token, refresh_token: Some(refresh_token), device_id })
    }

    /// Checks a credential (a `local-userpass`, `api-key` or `custom-token` login body) under the
    /// login rate limits and returns its user's id, creating no session: HTTPS endpoints and the
    /// Data API authenticate every request this way. Valid credentials of nobody create the user
    /// only with `create_user`; otherwise they fail with `UserNotFound`.
    pub fn authenticate(&self, provider: &str, body: &Document, client: Option<IpAddr>, create_user: bool) -> Result<String, AuthError> {
        let user_id = match self.prove(provider, body, client)? {
            Proven::Anonymous => return Err(AuthError::ProviderNotFound(provider.to_string())),
            Proven::ApiKey { user_id, .. } => user_id,
            Proven::Identity(identity) => {
                let key = identity_key(identity.provider_type, &identity.external_id);
                let owner = self.db.begin_read()?.open_table(IDENTITIES)?.get(key.as_str())?.map(|v| v.value().to_string());
                match owner {
                    Some(id) => id,
                    None if create_user => self.bind_identity(*identity, None)?,
                    None => return Err(AuthError::UserNotFound),
                }
            }
        };
        self.check_enabled(&user_id)?;
        Ok(user_id)
    }

    /// `?link=true`: adds the credential's identity to the user behind `claims`.
    pub fn link(&self, claims: &AccessClaims, provider: &str, body: &Document, client: Option<IpAddr>) -> Result<LoginResponse, AuthError> {
        let identity = match self.prove(provider, body, client)? {
            Proven::Identity(identity) => *identity,
            Proven::Anonymous => return Err(AuthError::BadRequest("linking an anonymous identity is not allowed".into())),
            Proven::ApiKey { .. } => return Err(AuthError::BadRequest("linking an api-key identity is not allowed".into())),
        };
        self.bind_identity(identity, Some(&claims.sub))?;
        let access_token = self.issue_access_token(&claims.sub, &claims.baas_device_id, &claims.baas_session_id)?;
        Ok(LoginResponse {
            user_id: claims.sub.clone(),
            access_token,
            refresh_token: None,
            device_id: claims.baas_device_id.clone(),
        })
    }

    /// Checks a credential under the login rate limits: the attempt is counted against the client
    /// address and, where the credential names one, the account before anything is hashed, and
    /// given back if it succeeds.
    fn prove(&self, provider: &str, body: &Document, client: Option<IpAddr>) -> Result<Proven, AuthError> {
        let app = &self.app;
        let mut subjects: Vec<Subject> = client.map(Subject::Address).into_iter().collect();
        let now = self.now();
        let check: Box<dyn FnOnce() -> Result<Proven, AuthError> + '_> = match provider {
            "anon-user" if app.anon_enabled => Box::new(|| Ok(Proven::Anonymous)),
            "local-userpass" if app.userpass.is_some() => {
                let username = body_str(body, "username").or_else(|_| body_str(body, "email"))?;
                let password = body_str(body, "password")?;
                subjects.push(Subject::Account(format!("local-userpass/{}", userpass::fold(username))));
                Box::new(move || self.check_password(username, password).map(|i| Proven::Identity(Box::new(i))))
            }
            "api-key" if app.api_key_enabled => {
                let key = body_str(body, "key")?;
                subjects.push(Subject::Account(format!("api-key/{}", key.get(..24).unwrap_or(key))));
                Box::new(move || self.check_api_key(key).map(|(user_id, key_id)| Proven::ApiKey { user_id, key_id }))
            }
            "custom-token" if app.custom_token.is_some() => {
                let token = body_str(body, "token")?;
                Box::new(move || self.verify_custom_token(token).map(|i| Proven::Identity(Box::new(i))))
            }
            "custom-function" if app.custom_function.is_some() => {
                // The credential's payload is the body without the SDK's `options` (device info).
                let mut payload = body.clone();
                payload.remove("options");
                Box::new(move || self.run_auth_function(payload).map(|i| Proven::Identity(Box::new(i))))
            }
            other => return Err(AuthError::ProviderNotFound(other.to_string())),
        };
        let attempt = self.login_limiter.reserve(subjects, now)?;
        let result = check();
        if result.is_ok() {
            self.login_limiter.release(attempt);
        }
        result
    }

    fn check_enabled(&self, user_id: &str) -> Result<(), AuthError> {
        match self.user(user_id)? {
            Some(u) if u.get_bool("disabled").unwrap_or(false) => Err(AuthError::UserDisabled),
            Some(_) => Ok(()),
            None => Err(AuthError::UserNotFound),
        }
    }

    fn user(&self, user_id: &str) -> Result<Option<Document>, AuthError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(USERS)?;
        let user = table.get(user_id)?.map(|v| from_bytes(v.value())).transpose()?;
        Ok(user)
    }

    /// Creates a user, optionally with a first identity.
    fn create_user(&self, identity: Option<&Identity>) -> Result<String, AuthError> {
        let user = NewUser::new(identity);
        self.on_user_creation(&user)?;
        let txn = self.db.begin_write()?;
        self.insert_user(&txn, &user, identity)?;
        txn.commit()?;
        let provider = identity.map_or("anon-user", |i| i.provider_type);
        self.emit(crate::config::AuthOperation::Create, vec![provider.to_string()], &user.id, None);
        Ok(user.id)
    }

    fn creation_function(&self) -> Option<&str> {
        self.app.custom_user_data.as_ref().and_then(|c| c.on_user_creation_function.as_deref())
    }

    /// Runs the user creation function (`on_user_creation_function_name`), if any, with the user
    /// about to be created (as `context.user` shows users); a throw refuses the creation. No
    /// transaction may be open meanwhile: the function may write (custom user data) through the
    /// store, which shares the database.
    fn on_user_creation(&self, user: &NewUser) -> Result<(), AuthError> {
        let Some(name) = self.creation_function() else { return Ok(()) };
        let identities: Vec<Bson> = user
            .identities
            .iter()
            .filter_map(Bson::as_document)
            .map(|i| Bson::Document(doc! {"id": i.get_str("id").unwrap_or_default(), "provider_type": i.get_str("provider_type").unwrap_or_default()}))
            .collect();
        let shown = doc! {"id": &user.id, "type": "normal", "data": user.data.clone(), "custom_data": {}, "identities": identities};
        self.run_function(name, vec![Bson::Document(shown)])
            .map(|_| ())
            .map_err(|e| AuthError::FunctionFailed(format!("user creation function '{name}' failed: {e}")))
    }

    fn insert_user(&self, txn: &WriteTransaction, user: &NewUser, identity: Option<&Identity>) -> Result<(), AuthError> {
        if let Some(i) = identity {
            txn.open_table(IDENTITIES)?.insert(identity_key(i.provider_type, &i.external_id).as_str(), user.id.as_str())?;
        }
        let now = self.now() as i64;
        let record = doc! {
            "_id": &user.id, "type": "normal", "created": now, "last_active": now, "disabled": false,
            "identities": user.identities.clone(), "data": user.data.clone(),
        };
        txn.open_table(USERS)?.insert(user.id.as_str(), to_bytes(&record)?.as_slice())?;
        Ok(())
    }

    /// Finds or creates the user owning `identity`; with `link_to`, attaches it to that user.
    fn bind_identity(&self, identity: Identity, link_to: Option<&str>) -> Result<String, AuthError> {
        let key = identity_key(identity.provider_type, &identity.external_id);
        let txn = self.db.begin_write()?;
        let owner = txn.open_table(IDENTITIES)?.get(key.as_str())?.map(|v| v.value().to_string());
        let user_id = match (owner, link_to) {
            (Some(owner), Some(target)) if owner != target => return Err(AuthError::IdentityInUse),
            (Some(owner), _) => owner,
            (None, None) if self.creation_function().is_some() => {
                // The creation function runs with no transaction open; a login that created the
                // identity's user meanwhile wins (this user is then never created).
                txn.abort()?;
                let user = NewUser::new(Some(&identity));
                self.on_user_creation(&user)?;
                let txn = self.db.begin_write()?;
                if txn.open_table(IDENTITIES)?.get(key.as_str())?.is_some() {
                    txn.abort()?;
                    return self.bind_identity(identity, None);
                }
                self.insert_user(&txn, &user, Some(&identity))?;
                txn.commit()?;
                self.emit(crate::config::AuthOperation::Create, vec![identity.provider_type.to_string()], &user.id, None);
                return Ok(user.id);
            }
            (None, None) => {
                let user = NewUser::new(Some(&identity));
                self.insert_user(&txn, &user, Some(&identity))?;
                txn.commit()?;
                self.emit(crate::config::AuthOperation::Create, vec![identity.provider_type.to_string()], &user.id, None);
                return Ok(user.id);
            }
            (None, Some(target)) => {
                if identity.provider_type == "local-userpass" && has_identity(&txn, target, "local-userpass")? {
                    return Err(AuthError::BadRequest(
                        "linking a local-userpass identity is not allowed when one is already linked".into(),
                    ));
                }
                txn.open_table(IDENTITIES)?.insert(key.as_str(), target)?;
                target.to_string()
            }
        };
        let mut users = txn.open_table(USERS)?;
        let mut user = match users.get(user_id.as_str())? {
            Some(v) => from_bytes(v.value())?,
            None => return Err(AuthError::UserNotFound),
        };
        let mut identities = user.get_array("identities").cloned().unwrap_or_default();
        let known = identities.iter().any(|i| {
            i.as_document().is_some_and(|d| {
                d.get_str("provider_type") == Ok(identity.provider_type) && d.get_str("id") == Ok(identity.id.as_str())
            })
        });
        if !known {
            identities.push(Bson::Document(identity_doc(&identity)));
        }
        let mut data = user.get_document("data").cloned().unwrap_or_default();
        data.extend(identity.data);
        user.insert("identities", identities);
        user.insert("data", data);
        users.insert(user_id.as_str(), to_bytes(&user)?.as_slice())?;
        drop(users);
        txn.commit()?;
        Ok(user_id)
    }

    /// Issues a fresh access token for a session, carrying the user's current custom data.
    pub(super) fn issue_access_token(&self, user_id: &str, device_id: &str, session_id: &str) -> Result<String, AuthError> {
        let user_data = self.custom_data(user_id)?;
        let iat = self.now();
        self.keys.sign(&AccessClaims {
            exp: iat + self.app.access_token_ttl_secs,
            iat,
            sub: user_id.to_string(),
            user_data,
            baas_device_id: device_id.to_string(),
            baas_app_id: self.app.app_id.clone(),
            typ: "access".into(),
            baas_session_id: session_id.to_string(),
            jti: ObjectId::new().to_hex(),
        })
    }

    /// The user's custom data document as relaxed extended JSON, if there is one.
    pub fn custom_data(&self, user_id: &str) -> Result<Option<serde_json::Value>, AuthError> {
        let Some(cud) = &self.app.custom_user_data else { return Ok(None) };
        let ns = Namespace::new(&cud.database, &cud.collection)?;
        // Exact equality, not query matching: a document whose id field is an array holding
        // several ids must not become every one of those users' custom data.
        let filter = Filter::parse(&doc! { "$expr": { "$eq": [format!("${}", cud.user_id_field), { "$literal": user_id }] } })
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let snapshot = self.store.read(&ns)?;
        let found = snapshot.view().docs().find(|d| filter.matches(d)).cloned();
        let pending = snapshot.pending();
        drop(snapshot);
        if let Some(ticket) = pending {
            // Only durable custom data goes into a token.
            self.store.wait_durable(ticket)?;
        }
        Ok(found.map(|d| Bson::Document(d).into_relaxed_extjson()))
    }

    /// Validates an access token and returns its claims: its session must still be live and its
    /// user still exist and be enabled.
    pub fn verify_access_token(&self, token: &str) -> Result<AccessClaims, AuthError> {
        let now = self.now();
        let pending = match self.verified.lookup(token, now) {
            Ok(claims) => return Ok(claims),
            Err(pending) => pending,
        };
        let claims = self.keys.verify(token, now)?;
        self.check_session(&claims)?;
        match self.check_enabled(&claims.sub) {
            Ok(()) => {
                self.verified.remember(pending, &claims);
                Ok(claims)
            }
            Err(e) => Err(session_error(e)),
        }
    }

    /// The caller as rules see them (`%%user`), from their access token: profile data and
    /// identities are read only when `with_profile`, custom data (from the token) only when
    /// `with_custom_data` — what the rules of the service called use.
    pub fn rule_context(&self, claims: &AccessClaims, with_profile: bool, with_custom_data: bool) -> Result<crate::rules::UserContext, AuthError> {
        let json_doc = |v: Option<&serde_json::Value>| match v.cloned().map(Bson::try_from) {
            Some(Ok(Bson::Document(d))) => d,
            _ => Document::new(),
        };
        let custom_data = if with_custom_data { json_doc(claims.user_data.as_ref()) } else { Document::new() };
        let (data, identities) = if with_profile {
            // One redb read: cheaper inline than a blocking-pool hop (as for the token check).
            let profile = self.profile(&claims.sub)?;
            let identities = match profile.get("identities").cloned().map(Bson::try_from) {
                Some(Ok(Bson::Array(a))) => a,
                _ => Vec::new(),
            };
            (json_doc(profile.get("data")), identities)
        } else {
            (Document::new(), Vec::new())
        };
        Ok(crate::rules::UserContext::new(&claims.sub, data, custom_data, identities))
    }

    /// `GET /auth/profile` body for a user.
    pub fn profile(&self, user_id: &str) -> Result<serde_json::Value, AuthError> {
        let user = self.user(user_id)?.ok_or(AuthError::UserNotFound)?;
        Ok(profile_json(&user, &self.app.app_id))
    }

    /// Every user (admin API), as profiles plus `disabled` and `created`.
    pub fn list_users(&self) -> Result<Vec<serde_json::Value>, AuthError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(USERS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (_, v) = entry?;
            let user = from_bytes(v.value())?;
            let mut p = profile_json(&user, &self.app.app_id);
            p["disabled"] = user.get_bool("disabled").unwrap_or(false).into();
            p["created"] = user.get_i64("created").unwrap_or(0).into();
            out.push(p);
        }
        Ok(out)
    }

    /// Disables or enables a user; disabling also ends their sessions.
    pub fn set_user_disabled(&self, user_id: &str, disabled: bool) -> Result<(), AuthError> {
        let txn = self.db.begin_write()?;
        {
            let mut users = txn.open_table(USERS)?;
            let mut user = match users.get(user_id)? {
                Some(v) => from_bytes(v.value())?,
                None => return Err(AuthError::UserNotFound),
            };
            user.insert("disabled", disabled);
            users.insert(user_id, to_bytes(&user)?.as_slice())?;
        }
        if disabled {
            sessions::remove_where(&txn, |s| s.get_str("user_id") == Ok(user_id))?;
        }
        txn.commit()?;
        if disabled {
            self.revoked();
        }
        Ok(())
    }

    /// `DELETE /auth/delete` and the admin API: removes the user with their identities,
    /// email/password accounts, sessions and API keys, in one transaction.
    pub fn delete_user(&self, user_id: &str) -> Result<(), AuthError> {
        // What the DELETE event reports: the user as they were, with every provider they had.
        let snapshot = self.event_snapshot(user_id);
        let txn = self.db.begin_write()?;
        if !delete_user_in(&txn, user_id)? {
            return Err(AuthError::UserNotFound);
        }
        txn.commit()?;
        self.revoked();
        if let Some(snapshot) = snapshot {
            self.emit_deleted(user_id, snapshot);
        }
        Ok(())
    }
}

/// Whether the user already has an identity of `provider_type`.
fn has_identity(txn: &WriteTransaction, user_id: &str, provider_type: &str) -> Result<bool, AuthError> {
    let user = txn.open_table(USERS)?.get(user_id)?.map(|v| from_bytes(v.value())).transpose()?;
    Ok(user.is_some_and(|u| {
        u.get_array("identities")
            .is_ok_and(|ids| ids.iter().any(|i| i.as_document().is_some_and(|d| d.get_str("provider_type") == Ok(provider_type))))
    }))
}

/// Removes a user with their identities, pending links, sessions and API keys; false when there is
/// no such user. Their email/password accounts stay as tombstones (`userpass::bury`): logging in
/// with one answers `unauthorized` as App Services did, and the address can be registered again.
fn delete_user_in(txn: &WriteTransaction, user_id: &str) -> Result<bool, AuthError> {
    if txn.open_table(USERS)?.remove(user_id)?.is_none() {
        return Ok(false);
    }
    let mut emails = Vec::new();
    {
        let mut identities = txn.open_table(IDENTITIES)?;
        let keys: Vec<String> = identities
            .iter()?
            .filter_map(|e| e.ok())
            .filter(|(_, v)| v.value() == user_id)
            .map(|(k, _)| k.value().to_string())
            .collect();
        for key in keys {
            identities.remove(key.as_str())?;
            if let Some(email) = key.strip_prefix("local-userpass/") {
                emails.push(email.to_string());
            }
        }
    }
    userpass::bury(txn, &emails)?;
    remove_where(txn, EMAIL_TOKENS, |d| d.get_str("email").is_ok_and(|e| emails.iter().any(|x| x == e)))?;
    sessions::remove_where(txn, |d| d.get_str("user_id") == Ok(user_id))?;
    remove_where(txn, API_KEYS, |d| d.get_str("user_id") == Ok(user_id))?;
    Ok(true)
}

/// A user check's failure as the answer to a token: the session is over.
fn session_error(e: AuthError) -> AuthError {
    match e {
        AuthError::UserDisabled => AuthError::InvalidSession("user is disabled".into()),
        AuthError::UserNotFound => AuthError::InvalidSession("user no longer exists".into()),
        e => e,
    }
}

/// Removes the records of a BSON-valued table matching `pred`; returns how many.
fn remove_where(
    txn: &WriteTransaction,
    def: redb::TableDefinition<&str, &[u8]>,
    pred: impl Fn(&Document) -> bool,
) -> Result<usize, AuthError> {
    let mut table = txn.open_table(def)?;
    let mut doomed = Vec::new();
    for entry in table.iter()? {
        let (k, v) = entry?;
        if from_bytes(v.value()).is_ok_and(|d| pred(&d)) {
            doomed.push(k.value().to_string());
        }
    }
    for k in &doomed {
        table.remove(k.as_str())?;
    }
    Ok(doomed.len())
}

fn identity_doc(i: &Identity) -> Document {
    doc! {"id": &i.id, "provider_type": i.provider_type, "provider_id": i.provider_type, "provider_data": i.provider_data.clone()}
}

fn profile_json(user: &Document, app_id: &str) -> serde_json::Value {
    let identities = user.get_array("identities").cloned().unwrap_or_default();
    let data = user.get_document("data").cloned().unwrap_or_default();
    serde_json::json!({
        "user_id": user.get_str("_id").unwrap_or_default(),
        "domain_id": app_id,
        "type": user.get_str("type").unwrap_or("normal"),
        "identities": Bson::Array(identities).into_relaxed_extjson(),
        "data": Bson::Document(data).into_relaxed_extjson(),
    })
}

#[cfg(test)]
mod tests;
