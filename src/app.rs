//! The app: configuration, the (shared, persisted) list of users, the lazily fetched location
//! (protocol §1), logging in (§2), deleting users (§9.4) and the email/password routes (§8.1).

use std::cell::RefCell;
use std::rc::Rc;

use crate::credentials::{Credentials, ANONYMOUS};
use crate::ejson::{self, Document, ObjectId, Value};
use crate::error::{Error, Result};
use crate::fetcher::{self, Auth, Call, Location};
use crate::flight::SingleFlight;
use crate::listeners::Listeners;
use crate::routes;
use crate::storage::{Keys, MemoryStorage, Storage};
use crate::transport::{Method, Transport};
use crate::transport::LocalBoxFuture;
use crate::user::{LoginResponse, Profile, User, UserApp, UserState};

/// The default base URL of Atlas App Services.
pub const DEFAULT_BASE_URL: &str = "https://services.cloud.mongodb.com";
const ZERO_DEVICE_ID: &str = "000000000000000000000000";

/// Describes the running platform in the login's `options.device` (§2.2).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// e.g. `node` or `chrome`.
    pub platform: String,
    /// e.g. `20.20.2`.
    pub platform_version: String,
}

impl Default for DeviceInfo {
    fn default() -> Self {
        DeviceInfo {
            platform: "wasm".to_owned(),
            platform_version: "0.0.0".to_owned(),
        }
    }
}

/// App configuration (`new App({ id, baseUrl, timeout, skipLocationRequest, app })`).
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    /// The App Services app id.
    pub id: String,
    /// Where the location request goes.
    pub base_url: String,
    /// Per-request timeout in milliseconds.
    pub timeout_ms: Option<u32>,
    /// Use `base_url` directly instead of asking for the location.
    pub skip_location_request: bool,
    /// Platform description sent on login.
    pub device: DeviceInfo,
    /// The local application's name and version (`app: {name, version}`), sent on login.
    pub local_app: Option<(Option<String>, Option<String>)>,
    /// Storage key root: `realm-web:` in browsers, empty in Node (§9.1).
    pub storage_root: String,
}

impl AppConfig {
    /// A configuration with defaults for everything but the id.
    pub fn new(id: impl Into<String>) -> AppConfig {
        AppConfig {
            id: id.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout_ms: None,
            skip_location_request: false,
            device: DeviceInfo::default(),
            local_app: None,
            storage_root: String::new(),
        }
    }
}

/// What every `App` object with the same id and storage shares (realm-js #6439): the users,
/// the device id, the listeners and the storage they are persisted to.
pub(crate) struct AppState {
    users: RefCell<Vec<User>>,
    device_id: RefCell<Option<String>>,
    storage: Rc<dyn Storage>,
    keys: Keys,
    /// The user-id list as last read from or written to storage: when the storage holds something
    /// else (cleared, or written by another client), a new App loads it afresh instead of sharing.
    stored_ids: RefCell<Option<String>>,
    pub(crate) listeners: Listeners,
}

type StateKey = (String, String, String, *const ());

thread_local! {
    /// Shared states by (app id, base URL, storage root, storage object), sorted by key: a
    /// process may make Apps for many ids, and each `new App` looks its state up here.
    static STATES: RefCell<Vec<(StateKey, Rc<AppState>)>> = const { RefCell::new(Vec::new()) };
}

impl AppState {
    /// Writes a user's tokens, provider type and profile (absent values are removed).
    pub(crate) fn persist_user(&self, user: &User) {
        if user.state() == UserState::Removed {
            return;
        }
        let key = |field: &str| self.keys.user(user.id(), field);
        let put = |field: &str, value: Option<String>| match value {
            Some(v) => self.storage.set(&key(field), &v),
            None => self.storage.remove(&key(field)),
        };
        put("accessToken", user.access_token());
        put("refreshToken", user.refresh_token());
        put("providerType", Some(user.provider_type().to_owned()));
        if let Some(profile) = user.profile() {
            put("profile", Some(profile.to_stored_string()));
        }
    }

    fn persist_user_ids(&self) {
        let ids: Vec<Value> = self.users.borrow().iter().map(|u| Value::from(u.id())).collect();
        let text = ejson::to_canonical_string(&Value::Array(ids));
        self.storage.set(&self.keys.user_ids(), &text);
        *self.stored_ids.borrow_mut() = Some(text);
    }

    /// True while the storage still holds the user list this state last read or wrote.
    fn matches_storage(&self) -> bool {
        self.storage.get(&self.keys.user_ids()) == *self.stored_ids.borrow()
    }

    fn forget_user(&self, user: &User) {
        for field in ["accessToken", "refreshToken", "providerType", "profile"] {
            self.storage.remove(&self.keys.user(user.id(), field));
        }
        self.persist_user_ids();
    }

    /// Rebuilds the user list from storage (no network traffic). A user without a stored
    /// provider type cannot be rebuilt and is dropped.
    fn hydrate(&self, app: &Rc<AppInner>) {
        *self.device_id.borrow_mut() = self.storage.get(&self.keys.device_id());
        let stored = self.storage.get(&self.keys.user_ids());
        *self.stored_ids.borrow_mut() = stored.clone();
        let ids = stored
            .and_then(|json| ejson::parse(&json).ok())
            .and_then(|v| match v {
                Value::Array(ids) => Some(ids.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect::<Vec<_>>()),
                _ => None,
            })
            .unwrap_or_default();
        let mut users = Vec::new();
        for id in ids {
            let get = |field: &str| self.storage.get(&self.keys.user(&id, field));
            let Some(provider_type) = get("providerType") else { continue };
            let user = User::new(app.clone(), id.clone(), provider_type, get("accessToken"), get("refreshToken"));
            if let Some(profile) = get("profile").and_then(|p| ejson::parse(&p).ok()) {
                if let Ok(profile) = Profile::from_response(Some(profile)) {
                    *user.0.profile_cell().borrow_mut() = Some(profile);
                }
            }
            users.push(user);
        }
        *self.users.borrow_mut() = users;
    }
}

pub(crate) struct AppInner {
    config: AppConfig,
    transport: Rc<dyn Transport>,
    location: RefCell<Option<String>>,
    location_flight: SingleFlight<Result<String>>,
    state: Rc<AppState>,
}

impl AppInner {
    /// The location URL: `base_url` with `skip_location_request`, else fetched once and cached;
    /// concurrent first calls share one request, a failure is not cached (§1).
    async fn location(&self) -> Result<String> {
        if self.config.skip_location_request {
            return Ok(self.config.base_url.clone());
        }
        if let Some(location) = self.location.borrow().clone() {
            return Ok(location);
        }
        self.location_flight
            .run(|| async {
                let url = format!("{}{}", self.config.base_url, routes::location(&self.config.id));
                let body = fetcher::send(self, Method::Get, &url, None, None).await?;
                let hostname = body
                    .as_ref()
                    .and_then(Value::as_document)
                    .and_then(|d| d.get("hostname"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| Error::decode("the location response: expected a 'hostname' string"))?
                    .to_owned();
                *self.location.borrow_mut() = Some(hostname.clone());
                Ok(hostname)
            })
            .await
    }

    /// The login's `options.device` (§2.2).
    fn device(&self) -> Document {
        let d = &self.config.device;
        let mut device = Document::new()
            .with("sdkVersion", Value::from(env!("CARGO_PKG_VERSION")))
            .with("platform", Value::from(d.platform.as_str()))
            .with("platformVersion", Value::from(d.platform_version.as_str()));
        if let Some((name, version)) = &self.config.local_app {
            if let Some(name) = name {
                device.insert("appId", name.as_str());
            }
            if let Some(version) = version {
                device.insert("appVersion", version.as_str());
            }
        }
        if let Some(id) = self.state.device_id.borrow().as_deref() {
            if let Ok(oid) = ObjectId::parse_hex(id) {
                device.insert("deviceId", Value::ObjectId(oid));
            }
        }
        device
    }
}

impl Location for AppInner {
    fn transport(&self) -> Rc<dyn Transport> {
        self.transport.clone()
    }
    fn timeout_ms(&self) -> Option<u32> {
        self.config.timeout_ms
    }
    fn location(&self) -> LocalBoxFuture<'_, Result<String>> {
        Box::pin(AppInner::location(self))
    }
    fn cached_location(&self) -> Option<String> {
        if self.config.skip_location_request {
            return Some(self.config.base_url.clone());
        }
        self.location.borrow().clone()
    }
}

impl UserApp for AppInner {
    fn app_id(&self) -> &str {
        &self.config.id
    }
    fn device(&self) -> Document {
        AppInner::device(self)
    }
    fn persist(&self, user: &User) {
        self.state.persist_user(user);
    }
    fn changed(&self) {
        self.state.listeners.emit();
    }
    fn as_any(self: Rc<Self>) -> Rc<dyn std::any::Any> {
        self
    }
}

/// An App Services app; cheap to clone (shared state).
#[derive(Clone)]
pub struct App(pub(crate) Rc<AppInner>);

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("id", &self.0.config.id).finish()
    }
}

/// The body of an email/password provider route.
fn strings(pairs: &[(&str, &str)]) -> Document {
    let mut doc = Document::new();
    for (k, v) in pairs {
        doc.insert(*k, *v);
    }
    doc
}

impl App {
    /// Creates an app with its own in-memory storage.
    pub fn new(config: AppConfig, transport: Rc<dyn Transport>) -> Result<App> {
        App::with_storage(config, transport, Rc::new(MemoryStorage::default()))
    }

    /// Creates an app persisting sessions in `storage`. Apps with the same id, base URL, storage
    /// root and storage object share their users; the first one loads them from storage, and so
    /// does the first one after the stored user list changed behind their back (a test clearing
    /// the storage between cases gets a fresh App, as with realm-web).
    pub fn with_storage(config: AppConfig, transport: Rc<dyn Transport>, storage: Rc<dyn Storage>) -> Result<App> {
        if config.id.is_empty() {
            return Err(Error::InvalidArgument(
                "Missing an Atlas App Services app-id: pass new App(\"<app id>\") or new App({ id })".to_owned(),
            ));
        }
        let key: StateKey =
            (config.id.clone(), config.base_url.clone(), config.storage_root.clone(), Rc::as_ptr(&storage) as *const ());
        let existing = STATES.with(|s| {
            let states = s.borrow();
            states.binary_search_by(|(k, _)| k.cmp(&key)).ok().map(|at| states[at].1.clone())
        });
        let existing = existing.filter(|state| state.matches_storage());
        let fresh = existing.is_none();
        let state = existing.unwrap_or_else(|| {
            Rc::new(AppState {
                users: RefCell::new(Vec::new()),
                device_id: RefCell::new(None),
                keys: Keys::new(&config.storage_root, &config.id),
                storage,
                stored_ids: RefCell::new(None),
                listeners: Listeners::default(),
            })
        });
        let app = App(Rc::new(AppInner {
            config,
            transport,
            location: RefCell::new(None),
            location_flight: SingleFlight::default(),
            state: state.clone(),
        }));
        if fresh {
            state.hydrate(&app.0);
            STATES.with(|s| {
                let mut states = s.borrow_mut();
                match states.binary_search_by(|(k, _)| k.cmp(&key)) {
                    // A state whose storage changed under it: later Apps share the new one.
                    Ok(at) => states[at].1 = state,
                    Err(at) => states.insert(at, (key, state)),
                }
            });
        }
        Ok(app)
    }

    /// The app id.
    pub fn id(&self) -> &str {
        &self.0.config.id
    }

    /// The configuration.
    pub fn config(&self) -> &AppConfig {
        &self.0.config
    }

    pub(crate) fn state(&self) -> &AppState {
        &self.0.state
    }

    /// The app's change listeners (login, logout, switch, removal, token refresh).
    pub fn listeners(&self) -> &Listeners {
        &self.0.state.listeners
    }

    #[cfg(test)]
    pub(crate) fn transport(&self) -> Rc<dyn Transport> {
        self.0.transport.clone()
    }

    /// The first active user of the list, if any (§9.2).
    pub fn current_user(&self) -> Option<User> {
        self.state().users.borrow().iter().find(|u| u.is_logged_in()).cloned()
    }

    /// Every user in the list (active and logged out), most recent first.
    pub fn all_users(&self) -> Vec<User> {
        self.state().users.borrow().clone()
    }

    /// Moves `user` to the front of the list.
    pub fn switch_user(&self, user: &User) -> Result<()> {
        self.move_to_front(user)?;
        self.listeners().emit();
        Ok(())
    }

    fn move_to_front(&self, user: &User) -> Result<()> {
        let mut users = self.state().users.borrow_mut();
        let idx = users
            .iter()
            .position(|u| u.ptr_eq(user))
            .ok_or_else(|| Error::InvalidArgument("The user was never logged into this app".to_owned()))?;
        let u = users.remove(idx);
        users.insert(0, u);
        Ok(())
    }

    /// Logs the user out and takes it out of the list and storage (state `removed`); the local
    /// clean-up happens even when the logout request fails, whose error is then returned.
    pub async fn remove_user(&self, user: &User) -> Result<()> {
        if !self.state().users.borrow().iter().any(|u| u.ptr_eq(user)) {
            return Err(Error::InvalidArgument("The user was never logged into this app".to_owned()));
        }
        let result = user.log_out().await;
        self.state().users.borrow_mut().retain(|u| !u.ptr_eq(user));
        self.state().forget_user(user);
        user.mark_removed();
        result
    }

    /// Deletes the user on the server (`DELETE /auth/delete` with *that* user's access token,
    /// unlike realm-web, §9.4), then removes it locally.
    pub async fn delete_user(&self, user: &User) -> Result<()> {
        fetcher::fetch(
            &*self.0,
            Call { method: Method::Delete, path: routes::delete_user(), body: None, auth: Auth::Access, user: Some(user) },
        )
        .await?;
        // The server dropped the session with the user; a failing logout changes nothing.
        let _ = self.remove_user(user).await;
        Ok(())
    }

    /// The location URL: `base_url` with `skip_location_request`, else fetched once and cached;
    /// concurrent first calls share one request, a failure is not cached (§1).
    pub async fn location(&self) -> Result<String> {
        self.0.location().await
    }

    /// The login's `options.device` (§2.2).
    pub(crate) fn device(&self) -> Document {
        self.0.device()
    }

    /// The App a user's requests go through.
    pub fn of_user(user: &User) -> Option<App> {
        user.host().as_any().downcast::<AppInner>().ok().map(App)
    }

    /// Logs in (§2): anonymous credentials with `reuse` switch to a known active anonymous user;
    /// otherwise `POST …/login`, then (with `fetch_profile`) the profile is fetched. The user
    /// becomes the current user and is persisted.
    pub async fn log_in(&self, credentials: &Credentials, fetch_profile: bool) -> Result<User> {
        if credentials.provider_type == ANONYMOUS && credentials.reuse {
            let existing = self
                .state()
                .users
                .borrow()
                .iter()
                .find(|u| u.provider_type() == ANONYMOUS && u.state() == UserState::Active)
                .cloned();
            if let Some(user) = existing {
                user.use_app(self.0.clone());
                self.move_to_front(&user)?;
                if fetch_profile {
                    user.refresh_profile().await?;
                }
                self.listeners().emit();
                return Ok(user);
            }
        }
        let body = credentials.login_body(self.device());
        let response = fetcher::fetch(
            &*self.0,
            Call {
                method: Method::Post,
                path: routes::login(self.id(), &credentials.provider_name),
                body: Some(ejson::to_canonical_string(&body)),
                auth: Auth::None,
                user: None,
            },
        )
        .await?;
        let login = LoginResponse::parse(response)?;
        let state = self.state();
        let existing = state.users.borrow().iter().find(|u| u.id() == login.user_id).cloned();
        if login.refresh_token.is_none() && existing.as_ref().and_then(User::refresh_token).is_none() {
            return Err(Error::decode("the login response: no refresh token in response from server"));
        }
        if login.device_id != ZERO_DEVICE_ID {
            state.storage.set(&state.keys.device_id(), &login.device_id);
            *state.device_id.borrow_mut() = Some(login.device_id);
        }
        let user = match existing {
            Some(user) => {
                user.set_tokens(self.0.clone(), login.access_token, login.refresh_token);
                self.move_to_front(&user)?;
                user
            }
            None => {
                let user = User::new(
                    self.0.clone(),
                    login.user_id,
                    credentials.provider_type.clone(),
                    Some(login.access_token),
                    login.refresh_token,
                );
                state.users.borrow_mut().insert(0, user.clone());
                user
            }
        };
        state.persist_user(&user);
        state.persist_user_ids();
        if fetch_profile {
            user.refresh_profile().await?;
        }
        self.listeners().emit();
        Ok(user)
    }

    /// An email/password provider call (§8.1) to `route` (the wasm layer calls it directly, with the
    /// routes of the methods below); sends the current user's access token, if any.
    pub(crate) async fn email_password_call(&self, route: &str, body: Document) -> Result<()> {
        let current = self.current_user();
        fetcher::fetch(
            &*self.0,
            Call {
                method: Method::Post,
                path: routes::email_password(self.id(), route),
                body: Some(ejson::to_canonical_string(&Value::Document(body))),
                auth: Auth::Access,
                user: current.as_ref().map(|u| u as &dyn fetcher::Session),
            },
        )
        .await?;
        Ok(())
    }

    /// Registers an email/password user.
    pub async fn register_user(&self, email: &str, password: &str) -> Result<()> {
        self.email_password_call("register", strings(&[("email", email), ("password", password)])).await
    }

    /// Confirms a user with the token and token id of the confirmation email.
    pub async fn confirm_user(&self, token: &str, token_id: &str) -> Result<()> {
        self.email_password_call("confirm", strings(&[("token", token), ("tokenId", token_id)])).await
    }

    /// Sends the confirmation email again.
    pub async fn resend_confirmation_email(&self, email: &str) -> Result<()> {
        self.email_password_call("confirm/send", strings(&[("email", email)])).await
    }

    /// Runs the custom confirmation function again.
    pub async fn retry_custom_confirmation(&self, email: &str) -> Result<()> {
        self.email_password_call("confirm/call", strings(&[("email", email)])).await
    }

    /// Sets a new password with the token and token id of the reset email.
    pub async fn reset_password(&self, token: &str, token_id: &str, password: &str) -> Result<()> {
        self.email_password_call("reset", strings(&[("token", token), ("tokenId", token_id), ("password", password)]))
            .await
    }

    /// Sends a password reset email.
    pub async fn send_reset_password_email(&self, email: &str) -> Result<()> {
        self.email_password_call("reset/send", strings(&[("email", email)])).await
    }

    /// Runs the custom password reset function with extra arguments.
    pub async fn call_reset_password_function(&self, email: &str, password: &str, arguments: Vec<Value>) -> Result<()> {
        let body = strings(&[("email", email), ("password", password)]).with("arguments", Value::Array(arguments));
        self.email_password_call("reset/call", body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{block_on, fake_app};

    #[test]
    fn missing_id_is_rejected() {
        let (app, _) = fake_app(false);
        let err = App::new(AppConfig::new(""), app.transport()).unwrap_err();
        assert!(err.to_string().contains("Missing an Atlas App Services app-id"));
    }

    #[test]
    fn login_body_and_user_state() {
        let (app, state) = fake_app(false);
        assert!(app.current_user().is_none());
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), true)).unwrap();
        assert_eq!(user.id(), "u1");
        assert_eq!(user.state(), UserState::Active);
        assert_eq!(user.refresh_token().as_deref(), Some("rt1"));
        assert_eq!(user.provider_type(), "local-userpass");
        assert_eq!(user.profile().unwrap().data.get("email"), Some(&Value::from("a@b.c")));
        assert!(app.current_user().unwrap().ptr_eq(&user));
        let body = state.requests.borrow()[1].body.clone().unwrap();
        assert!(
            body.starts_with(r#"{"username":"a@b.c","password":"pw","options":{"device":{"sdkVersion":""#),
            "{body}"
        );
        assert!(body.contains(r#""platform":"wasm","platformVersion":"0.0.0"}}}"#), "{body}");

        // Second login sends the device id and updates the same user.
        let again = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), true)).unwrap();
        assert!(again.ptr_eq(&user));
        assert_eq!(app.all_users().len(), 1);
        let body = state.requests.borrow().iter().rev().find(|r| r.url.ends_with("/login")).unwrap().body.clone().unwrap();
        assert!(body.contains(r#""deviceId":{"$oid":"65aaaaaaaaaaaaaaaaaaaaaa"}"#), "{body}");

        block_on(user.log_out()).unwrap();
        assert_eq!(user.state(), UserState::LoggedOut);
        assert!(!user.is_logged_in());
        assert!(app.current_user().is_none());
        assert_eq!(app.all_users().len(), 1);
        assert_eq!(user.custom_data().unwrap_err(), Error::NotLoggedIn);
        let coll = user.mongo_client("mongodb-atlas").db("app").collection("users");
        assert_eq!(block_on(coll.count(None, Default::default())).unwrap_err(), Error::NotLoggedIn);
        // Logging out twice is fine and sends nothing.
        let before = state.requests.borrow().len();
        block_on(user.log_out()).unwrap();
        assert_eq!(state.requests.borrow().len(), before);

        block_on(app.remove_user(&user)).unwrap();
        assert_eq!(user.state(), UserState::Removed);
        assert!(app.all_users().is_empty());
        assert_eq!(block_on(coll.count(None, Default::default())).unwrap_err(), Error::UserRemoved);
    }

    #[test]
    fn logout_ignores_unknown_refresh_token() {
        let (app, state) = fake_app(false);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), true)).unwrap();
        state.valid_refresh.borrow_mut().clear();
        // The fake answers 401 InvalidSession: the user is logged out and the error reported.
        assert!(block_on(user.log_out()).unwrap_err().is_invalid_session());
        assert_eq!(user.state(), UserState::LoggedOut);
    }

    #[test]
    fn wrong_password_is_a_service_error() {
        let (app, state) = fake_app(false);
        let err = block_on(app.log_in(&Credentials::email_password("a@b.c", "wrong"), true)).unwrap_err();
        match err {
            Error::Service { status: 401, error_code: Some(code), method, .. } => {
                assert_eq!(code, "InvalidPassword");
                assert_eq!(method, "POST");
            }
            other => panic!("{other:?}"),
        }
        // No refresh attempt for token-less calls.
        assert_eq!(state.count(Method::Post, "/auth/session"), 0);
        assert!(app.current_user().is_none());
    }

    #[test]
    fn register_sends_current_users_token() {
        let (app, state) = fake_app(false);
        block_on(app.register_user("a@b.c", "pw")).unwrap();
        let first = state.requests.borrow().last().cloned().unwrap();
        assert_eq!(first.body.as_deref(), Some(r#"{"email":"a@b.c","password":"pw"}"#));
        assert_eq!(first.header("Authorization"), None);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), true)).unwrap();
        block_on(app.register_user("b@b.c", "pw")).unwrap();
        let second = state.requests.borrow().last().cloned().unwrap();
        assert_eq!(second.header("Authorization"), Some(format!("Bearer {}", user.access_token().unwrap()).as_str()));
    }

    #[test]
    fn refresh_custom_data_reads_the_new_token() {
        let (app, state) = fake_app(false);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), true)).unwrap();
        assert_eq!(user.custom_data().unwrap(), Value::Document(Document::new()));
        *state.custom_data.borrow_mut() = r#"{"favoriteColor":"pink","n":{"$numberLong":"5"}}"#.into();
        // Stale until refreshed.
        assert_eq!(user.custom_data().unwrap(), Value::Document(Document::new()));
        let data = block_on(user.refresh_custom_data()).unwrap();
        let expected = Document::new().with("favoriteColor", "pink").with("n", Value::Int64(5));
        assert_eq!(data, Value::Document(expected.clone()));
        assert_eq!(user.custom_data().unwrap(), Value::Document(expected));
    }

    #[test]
    fn skip_location_request_uses_base_url() {
        let (app, state) = fake_app(false);
        let mut config = app.config().clone();
        config.skip_location_request = true;
        let app2 = App::new(config, app.transport()).unwrap();
        assert_eq!(block_on(app2.location()).unwrap(), "http://base.test");
        assert_eq!(state.requests.borrow().len(), 0);
    }

    fn shared_app(storage: &Rc<MemoryStorage>, state: &Rc<crate::testing::FakeState>) -> App {
        let mut config = AppConfig::new("my-app");
        config.base_url = "http://base.test".into();
        config.storage_root = "realm-web:".into();
        let transport = Rc::new(crate::testing::FakeTransport { state: state.clone(), yield_first: false });
        App::with_storage(config, transport, storage.clone()).unwrap()
    }

    #[test]
    fn sessions_persist_with_realm_web_keys_and_apps_share_state() {
        let storage = Rc::new(MemoryStorage::default());
        let state = Rc::new(crate::testing::FakeState::default());
        let a = shared_app(&storage, &state);
        let user = block_on(a.log_in(&Credentials::email_password("a@b.c", "pw"), true)).unwrap();
        assert_eq!(storage.get("realm-web:app(my-app):userIds").as_deref(), Some(r#"["u1"]"#));
        assert_eq!(storage.get("realm-web:app(my-app):deviceId").as_deref(), Some("65aaaaaaaaaaaaaaaaaaaaaa"));
        assert_eq!(storage.get("realm-web:app(my-app):user(u1):refreshToken").as_deref(), Some("rt1"));
        assert_eq!(storage.get("realm-web:app(my-app):user(u1):accessToken"), user.access_token());
        assert_eq!(storage.get("realm-web:app(my-app):user(u1):providerType").as_deref(), Some("local-userpass"));
        assert!(storage.get("realm-web:app(my-app):user(u1):profile").unwrap().contains(r#""providerType":"local-userpass""#));

        // A second App object with the same id and storage sees the same user object at once.
        let b = shared_app(&storage, &state);
        assert!(b.current_user().unwrap().ptr_eq(&user));

        // A refresh is persisted too.
        block_on(user.refresh_access_token()).unwrap();
        assert_eq!(storage.get("realm-web:app(my-app):user(u1):accessToken"), user.access_token());

        // A fresh process (another storage registry entry) rebuilds the user from storage alone.
        let copy = Rc::new(MemoryStorage::default());
        for key in ["userIds", "deviceId", "user(u1):accessToken", "user(u1):refreshToken", "user(u1):providerType", "user(u1):profile"] {
            let key = format!("realm-web:app(my-app):{key}");
            copy.set(&key, &storage.get(&key).unwrap());
        }
        let before = state.requests.borrow().len();
        let c = shared_app(&copy, &state);
        let loaded = c.current_user().unwrap();
        assert_eq!(state.requests.borrow().len(), before, "hydration sends nothing");
        assert_eq!((loaded.id(), loaded.refresh_token().as_deref()), ("u1", Some("rt1")));
        assert_eq!(loaded.profile().unwrap().identities[0].provider_type, "local-userpass");
        block_on(loaded.call_function("f", vec![], None)).unwrap();
        // The stored device id is sent on the next login.
        block_on(c.log_in(&Credentials::anonymous(true), false)).unwrap();
        let login = state.requests.borrow().last().cloned().unwrap();
        assert!(login.body.unwrap().contains(r#""deviceId":{"$oid":"65aaaaaaaaaaaaaaaaaaaaaa"}"#));

        // Logging out removes the tokens; removing removes the user.
        block_on(loaded.log_out()).unwrap();
        assert_eq!(copy.get("realm-web:app(my-app):user(u1):refreshToken"), None);
        assert_eq!(copy.get("realm-web:app(my-app):user(u1):providerType").as_deref(), Some("local-userpass"));
        block_on(c.remove_user(&loaded)).unwrap();
        assert_eq!(copy.get("realm-web:app(my-app):userIds").as_deref(), Some(r#"["u2"]"#));
        assert_eq!(copy.get("realm-web:app(my-app):user(u1):profile"), None);
    }

    #[test]
    fn an_app_made_after_the_storage_was_cleared_starts_afresh() {
        let storage = Rc::new(MemoryStorage::default());
        let state = Rc::new(crate::testing::FakeState::default());
        let a = shared_app(&storage, &state);
        let user = block_on(a.log_in(&Credentials::email_password("a@b.c", "pw"), true)).unwrap();
        assert!(shared_app(&storage, &state).current_user().unwrap().ptr_eq(&user), "shared while storage agrees");
        // What a test's `getEnvironment().defaultStorage.clear()` does between cases.
        for key in ["userIds", "deviceId", "user(u1):accessToken", "user(u1):refreshToken", "user(u1):providerType", "user(u1):profile"] {
            storage.remove(&format!("realm-web:app(my-app):{key}"));
        }
        let fresh = shared_app(&storage, &state);
        assert!(fresh.current_user().is_none(), "a new App sees the cleared storage");
        assert!(a.current_user().unwrap().ptr_eq(&user), "the old App keeps its users, as realm-web's does");
        let again = block_on(fresh.log_in(&Credentials::anonymous(false), false)).unwrap();
        assert!(shared_app(&storage, &state).current_user().unwrap().ptr_eq(&again), "later Apps share the new state");
    }

    #[test]
    fn push_registration_routes() {
        let (app, state) = fake_app(false);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), false)).unwrap();
        block_on(user.push_registration("gcm", Some("device-token"))).unwrap();
        block_on(user.push_registration("gcm", None)).unwrap();
        let sent: Vec<(Method, String, Option<String>, Option<String>)> = state
            .requests
            .borrow()
            .iter()
            .filter(|r| r.url.contains("/push/"))
            .map(|r| (r.method, r.url.rsplit("v2.0").next().unwrap().to_owned(), r.body.clone(), r.header("Authorization").map(str::to_owned)))
            .collect();
        let path = "/app/my-app/push/providers/gcm/registration".to_owned();
        let auth = Some(format!("Bearer {}", user.access_token().unwrap()));
        assert_eq!(
            sent,
            vec![
                (Method::Put, path.clone(), Some(r#"{"registrationToken":"device-token"}"#.to_owned()), auth.clone()),
                (Method::Delete, path, None, auth),
            ]
        );
    }

    #[test]
    fn a_stored_user_without_provider_type_is_skipped() {
        let storage = Rc::new(MemoryStorage::default());
        storage.set("realm-web:app(my-app):userIds", r#"["x","y"]"#);
        storage.set("realm-web:app(my-app):user(y):providerType", "anon-user");
        storage.set("realm-web:app(my-app):user(y):profile", "not json");
        let app = shared_app(&storage, &Rc::new(crate::testing::FakeState::default()));
        let users = app.all_users();
        assert_eq!(users.len(), 1);
        assert_eq!((users[0].id(), users[0].state()), ("y", UserState::LoggedOut));
        assert_eq!(users[0].profile(), None);
    }

    #[test]
    fn listeners_fire_on_login_refresh_switch_and_logout() {
        let (app, state) = fake_app(false);
        let app_hits = Rc::new(std::cell::Cell::new(0));
        let h = app_hits.clone();
        app.listeners().add(Rc::new(()), Rc::new(move || h.set(h.get() + 1)));
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), false)).unwrap();
        assert_eq!(app_hits.get(), 1);
        let user_hits = Rc::new(std::cell::Cell::new(0));
        let h = user_hits.clone();
        user.listeners().add(Rc::new(()), Rc::new(move || h.set(h.get() + 1)));
        block_on(user.refresh_access_token()).unwrap();
        assert_eq!((app_hits.get(), user_hits.get()), (2, 1));
        app.switch_user(&user).unwrap();
        assert_eq!(app_hits.get(), 3);
        // A dead refresh token logs the user out and tells the listeners.
        state.valid_refresh.borrow_mut().clear();
        assert!(block_on(user.refresh_access_token()).unwrap_err().is_invalid_session());
        assert_eq!(user.state(), UserState::LoggedOut);
        assert_eq!((app_hits.get(), user_hits.get()), (4, 2));
        app.listeners().clear();
        block_on(user.log_out()).unwrap();
        assert_eq!(app_hits.get(), 4);
    }

    #[test]
    fn log_in_without_profile_and_anonymous_reuse() {
        let (app, state) = fake_app(false);
        let anon = block_on(app.log_in(&Credentials::anonymous(true), false)).unwrap();
        assert_eq!(state.count(Method::Get, "/auth/profile"), 0);
        assert_eq!(anon.profile(), None);
        let login_body = state.requests.borrow()[1].body.clone().unwrap();
        assert!(!login_body.contains("deviceId"), "all-zero device ids are not kept: {login_body}");
        let again = block_on(app.log_in(&Credentials::anonymous(true), true)).unwrap();
        assert!(again.ptr_eq(&anon));
        assert_eq!(state.count(Method::Post, "/anon-user/login"), 1);
        assert_eq!(state.count(Method::Get, "/auth/profile"), 1);
        block_on(app.log_in(&Credentials::anonymous(false), false)).unwrap();
        assert_eq!(state.count(Method::Post, "/anon-user/login"), 2);
    }

    #[test]
    fn local_app_name_and_version_go_into_the_device() {
        let (app, state) = fake_app(false);
        let mut config = app.config().clone();
        config.local_app = Some((Some("myapp".into()), Some("1.2.3".into())));
        let app = App::new(config, app.transport()).unwrap();
        block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), false)).unwrap();
        let body = state.requests.borrow().last().cloned().unwrap().body.unwrap();
        assert!(body.ends_with(r#""platform":"wasm","platformVersion":"0.0.0","appId":"myapp","appVersion":"1.2.3"}}}"#), "{body}");
    }

    #[test]
    fn delete_user_uses_the_deleted_users_token() {
        let (app, state) = fake_app(false);
        let a = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), false)).unwrap();
        let b = block_on(app.log_in(&Credentials::anonymous(true), false)).unwrap();
        assert!(app.current_user().unwrap().ptr_eq(&b));
        let a_token = a.access_token().unwrap();
        block_on(app.delete_user(&a)).unwrap();
        let delete = state.requests.borrow().iter().find(|r| r.url.ends_with("/auth/delete")).cloned().unwrap();
        assert_eq!(delete.header("Authorization"), Some(format!("Bearer {a_token}").as_str()));
        assert_eq!(a.state(), UserState::Removed);
        assert_eq!(app.all_users().len(), 1);
    }

    #[test]
    fn email_password_routes() {
        let (app, state) = fake_app(false);
        block_on(app.confirm_user("t", "ti")).unwrap();
        block_on(app.resend_confirmation_email("a@b.c")).unwrap();
        block_on(app.retry_custom_confirmation("a@b.c")).unwrap();
        block_on(app.reset_password("t", "ti", "pw2")).unwrap();
        block_on(app.send_reset_password_email("a@b.c")).unwrap();
        block_on(app.call_reset_password_function("a@b.c", "pw2", vec![Value::Int32(1), Value::from("x")])).unwrap();
        let sent: Vec<(String, String)> = state
            .requests
            .borrow()
            .iter()
            .skip(1)
            .map(|r| (r.url.rsplit("local-userpass/").next().unwrap().to_owned(), r.body.clone().unwrap()))
            .collect();
        let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            sent,
            vec![
                s("confirm", r#"{"token":"t","tokenId":"ti"}"#),
                s("confirm/send", r#"{"email":"a@b.c"}"#),
                s("confirm/call", r#"{"email":"a@b.c"}"#),
                s("reset", r#"{"token":"t","tokenId":"ti","password":"pw2"}"#),
                s("reset/send", r#"{"email":"a@b.c"}"#),
                s("reset/call", r#"{"email":"a@b.c","password":"pw2","arguments":[{"$numberInt":"1"},"x"]}"#),
            ]
        );
    }

    #[test]
    fn link_credentials_and_api_keys() {
        let (app, state) = fake_app(false);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), false)).unwrap();
        let old = user.access_token();
        block_on(user.link_credentials(&Credentials::api_key("k"))).unwrap();
        assert_ne!(user.access_token(), old);
        assert_eq!(user.refresh_token().as_deref(), Some("rt1"));
        let link = state.requests.borrow().iter().find(|r| r.url.ends_with("?link=true")).cloned().unwrap();
        assert_eq!(link.header("Authorization"), Some(format!("Bearer {}", old.unwrap()).as_str()));
        assert!(link.body.unwrap().starts_with(r#"{"key":"k","options":{"device":"#));
        // A link answer for someone else is refused.
        let err = block_on(user.link_credentials(&Credentials::email_password("other", "y"))).unwrap_err();
        assert!(err.to_string().contains("got user id u9 expected u1"), "{err}");

        let created = block_on(user.create_api_key("n")).unwrap();
        assert_eq!(created.as_document().unwrap().get("key"), Some(&Value::from("secret")));
        block_on(user.fetch_api_key("k1")).unwrap();
        assert!(matches!(block_on(user.fetch_api_keys()).unwrap(), Value::Array(a) if a.len() == 1));
        block_on(user.set_api_key_enabled("k1", false)).unwrap();
        block_on(user.set_api_key_enabled("k1", true)).unwrap();
        block_on(user.delete_api_key("k1")).unwrap();
        let key_calls: Vec<(Method, String, Option<String>)> = state
            .requests
            .borrow()
            .iter()
            .filter(|r| r.url.contains("/api_keys"))
            .map(|r| (r.method, r.url.rsplit("v2.0").next().unwrap().to_owned(), r.header("Authorization").map(str::to_owned)))
            .collect();
        let rt = Some("Bearer rt1".to_owned());
        assert_eq!(
            key_calls,
            vec![
                (Method::Post, "/auth/api_keys".into(), rt.clone()),
                (Method::Get, "/auth/api_keys/k1".into(), rt.clone()),
                (Method::Get, "/auth/api_keys".into(), rt.clone()),
                (Method::Put, "/auth/api_keys/k1/disable".into(), rt.clone()),
                (Method::Put, "/auth/api_keys/k1/enable".into(), rt.clone()),
                (Method::Delete, "/auth/api_keys/k1".into(), rt),
            ]
        );
        // A rejected refresh token on an API-key route logs the user out.
        state.valid_refresh.borrow_mut().clear();
        assert!(block_on(user.fetch_api_keys()).unwrap_err().is_invalid_session());
        assert_eq!(user.state(), UserState::LoggedOut);
    }

    #[test]
    fn proactive_refresh_before_exp() {
        let (app, state) = fake_app(false);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), false)).unwrap();
        // The fake's tokens expire at 1000 + n seconds; far from it nothing happens.
        state.now_ms.set(Some(0.0));
        block_on(user.call_function("f", vec![], None)).unwrap();
        assert_eq!(state.count(Method::Post, "/auth/session"), 0);
        state.now_ms.set(Some(1_000_000.0));
        block_on(user.call_function("f", vec![], None)).unwrap();
        assert_eq!(state.count(Method::Post, "/auth/session"), 1);
        // The call went out with the new token, without a 401 round trip.
        assert_eq!(state.count(Method::Post, "/functions/call"), 2);
    }
}
