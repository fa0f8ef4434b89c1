//! A user of an app: tokens, profile and the active / logged-out / removed state machine
//! (protocol §3, §4, §5, §9.2).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::credentials::Credentials;
use crate::ejson::{self, Document, Value};
use crate::error::{Error, Result};
use crate::fetcher::{self, Auth, Call, Location, Session};
use crate::flight::SingleFlight;
use crate::jwt;
use crate::listeners::Listeners;
use crate::routes;
use crate::transport::{ByteStream, Method};

/// What a user needs of its app — where its requests go, and where it is persisted and announced
/// — so that `user` does not depend on `app` (which makes users).
pub(crate) trait UserApp: Location {
    /// The app id.
    fn app_id(&self) -> &str;
    /// The login's `options.device` (for linking).
    fn device(&self) -> Document;
    /// Writes the user's tokens and profile to the app's storage.
    fn persist(&self, user: &User);
    /// Tells the app's listeners that something changed.
    fn changed(&self);
    /// The app itself, for callers that know its type (`App::of_user`).
    fn as_any(self: Rc<Self>) -> Rc<dyn std::any::Any>;
}

/// Where a user is in its life cycle (§9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserState {
    /// In the app's list, with a refresh token.
    Active,
    /// In the app's list, without tokens.
    LoggedOut,
    /// No longer in the app's list.
    Removed,
}

impl UserState {
    /// The JS name: `"active"`, `"logged-out"` or `"removed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            UserState::Active => "active",
            UserState::LoggedOut => "logged-out",
            UserState::Removed => "removed",
        }
    }
}

/// One identity of a user's profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// Identity id.
    pub id: String,
    /// Provider type, e.g. `local-userpass`.
    pub provider_type: String,
}

/// A user's profile as fetched from `/auth/profile`.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// `normal` or `server`.
    pub kind: String,
    /// Linked identities.
    pub identities: Vec<Identity>,
    /// Profile data with realm-web's key renames (`first_name` → `firstName` …).
    pub data: Document,
}

impl Profile {
    /// Parses and validates a profile response (§3).
    pub fn from_response(body: Option<Value>) -> Result<Profile> {
        let Some(Value::Document(doc)) = body else {
            return Err(Error::decode("the profile: expected a JSON object"));
        };
        let kind = doc
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::decode("the profile: expected 'type' in the response body"))?
            .to_owned();
        let Some(Value::Array(raw_identities)) = doc.get("identities") else {
            return Err(Error::decode("the profile: expected 'identities' in the response body"));
        };
        let identities = raw_identities
            .iter()
            .filter_map(Value::as_document)
            .map(|i| Identity {
                id: i.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
                // `providerType` in realm-web's stored form (§9.1).
                provider_type: i
                    .get("provider_type")
                    .or_else(|| i.get("providerType"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            })
            .collect();
        let Some(Value::Document(raw_data)) = doc.get("data") else {
            return Err(Error::decode("the profile: expected 'data' in the response body"));
        };
        let data = Document(
            raw_data
                .iter()
                .map(|(k, v)| {
                    let key = match k.as_str() {
                        "picture" => "pictureUrl",
                        "first_name" => "firstName",
                        "last_name" => "lastName",
                        "min_age" => "minAge",
                        "max_age" => "maxAge",
                        other => other,
                    };
                    (key.to_owned(), v.clone())
                })
                .collect(),
        );
        Ok(Profile {
            kind,
            identities,
            data,
        })
    }

    /// realm-web's stored form: `{"type","identities":[{"id","providerType"}],"data"}` (§9.1).
    pub(crate) fn to_stored_string(&self) -> String {
        let identities = self
            .identities
            .iter()
            .map(|i| Value::Document(Document::new().with("id", i.id.as_str()).with("providerType", i.provider_type.as_str())))
            .collect::<Vec<_>>();
        let doc = Document::new()
            .with("type", self.kind.as_str())
            .with("identities", identities)
            .with("data", self.data.clone());
        crate::ejson::to_canonical_string(&Value::Document(doc))
    }
}

pub(crate) struct UserInner {
    /// The app whose transport this user's calls use (the one that logged it in or loaded it).
    app: RefCell<Rc<dyn UserApp>>,
    id: String,
    provider_type: String,
    access_token: RefCell<Option<String>>,
    /// `exp` of the access token in seconds, cached for the proactive refresh.
    access_exp: Cell<Option<f64>>,
    refresh_token: RefCell<Option<String>>,
    state: Cell<UserState>,
    profile: RefCell<Option<Profile>>,
    refresh: SingleFlight<Result<()>>,
    listeners: Listeners,
}

impl UserInner {
    pub(crate) fn profile_cell(&self) -> &RefCell<Option<Profile>> {
        &self.profile
    }
}

/// A user of an [`App`]; cheap to clone (shared state).
#[derive(Clone)]
pub struct User(pub(crate) Rc<UserInner>);

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.0.id)
            .field("state", &self.0.state.get())
            .finish()
    }
}

fn token_exp(token: &str) -> Option<f64> {
    jwt::decode_claims(token).ok().map(|c| c.exp)
}

impl User {
    pub(crate) fn new(
        app: Rc<dyn UserApp>,
        id: String,
        provider_type: String,
        access_token: Option<String>,
        refresh_token: Option<String>,
    ) -> User {
        let state = if refresh_token.is_some() { UserState::Active } else { UserState::LoggedOut };
        User(Rc::new(UserInner {
            app: RefCell::new(app),
            id,
            provider_type,
            access_exp: Cell::new(access_token.as_deref().and_then(token_exp)),
            access_token: RefCell::new(access_token),
            refresh_token: RefCell::new(refresh_token),
            state: Cell::new(state),
            profile: RefCell::new(None),
            refresh: SingleFlight::default(),
            listeners: Listeners::default(),
        }))
    }

    /// True when both handles refer to the same user object.
    pub fn ptr_eq(&self, other: &User) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    /// The app this user's requests go through.
    pub(crate) fn host(&self) -> Rc<dyn UserApp> {
        self.0.app.borrow().clone()
    }

    /// The user id.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// The provider type the user logged in with.
    pub fn provider_type(&self) -> &str {
        &self.0.provider_type
    }

    /// The current access token.
    pub fn access_token(&self) -> Option<String> {
        self.0.access_token.borrow().clone()
    }

    /// `exp` of the current access token (seconds since the epoch), if it is a JWT.
    pub(crate) fn access_token_exp(&self) -> Option<f64> {
        self.0.access_exp.get()
    }

    /// The refresh token.
    pub fn refresh_token(&self) -> Option<String> {
        self.0.refresh_token.borrow().clone()
    }

    /// The life-cycle state.
    pub fn state(&self) -> UserState {
        self.0.state.get()
    }

    /// True while the user is active.
    pub fn is_logged_in(&self) -> bool {
        self.state() == UserState::Active
    }

    /// The profile, once fetched.
    pub fn profile(&self) -> Option<Profile> {
        self.0.profile.borrow().clone()
    }

    /// The device id from the access token (`baas_device_id`), if any.
    pub fn device_id(&self) -> Option<String> {
        self.access_token().and_then(|t| jwt::decode_claims(&t).ok()).and_then(|c| c.device_id)
    }

    /// EJSON-decoded `user_data` of the current access token, `{}` when absent (§5).
    pub fn custom_data(&self) -> Result<Value> {
        let token = self.access_token().ok_or(Error::NotLoggedIn)?;
        jwt::decode_claims(&token)?.custom_data()
    }

    /// This user's change listeners (token refresh, logout, profile, removal).
    pub fn listeners(&self) -> &Listeners {
        &self.0.listeners
    }

    pub(crate) fn refresh_flight(&self) -> &SingleFlight<Result<()>> {
        &self.0.refresh
    }

    /// Tells the listeners of the user and of its app that something changed.
    fn changed(&self) {
        self.0.listeners.emit();
        self.host().changed();
    }

    pub(crate) fn set_access_token(&self, token: String) {
        self.0.access_exp.set(token_exp(&token));
        *self.0.access_token.borrow_mut() = Some(token);
        self.host().persist(self);
        self.changed();
    }

    /// Sends this user's later requests through `app` (the App object it was last logged in with).
    pub(crate) fn use_app(&self, app: Rc<dyn UserApp>) {
        *self.0.app.borrow_mut() = app;
    }

    /// Stores new tokens after a login (the refresh token is kept when none is given).
    pub(crate) fn set_tokens(&self, app: Rc<dyn UserApp>, access_token: String, refresh_token: Option<String>) {
        self.use_app(app);
        self.0.access_exp.set(token_exp(&access_token));
        *self.0.access_token.borrow_mut() = Some(access_token);
        if let Some(rt) = refresh_token {
            *self.0.refresh_token.borrow_mut() = Some(rt);
        }
        if self.0.refresh_token.borrow().is_some() {
            self.0.state.set(UserState::Active);
        }
    }

    pub(crate) fn set_profile(&self, profile: Profile) {
        *self.0.profile.borrow_mut() = Some(profile);
        self.host().persist(self);
    }

    /// Drops both tokens; the user stays in the app's list (§4.2).
    pub(crate) fn mark_logged_out(&self) {
        *self.0.access_token.borrow_mut() = None;
        self.0.access_exp.set(None);
        *self.0.refresh_token.borrow_mut() = None;
        if self.state() == UserState::Active {
            self.0.state.set(UserState::LoggedOut);
        }
        self.host().persist(self);
        self.changed();
    }

    pub(crate) fn mark_removed(&self) {
        *self.0.access_token.borrow_mut() = None;
        self.0.access_exp.set(None);
        *self.0.refresh_token.borrow_mut() = None;
        self.0.state.set(UserState::Removed);
        self.changed();
    }

    async fn call(&self, method: Method, path: String, body: Option<String>, auth: Auth) -> Result<Option<Value>> {
        let app = self.host();
        fetcher::fetch(&*app, Call { method, path, body, auth, user: Some(self) }).await
    }

    /// Fetches the profile (`GET /auth/profile`) and stores it.
    pub async fn refresh_profile(&self) -> Result<Profile> {
        let body = self.call(Method::Get, routes::profile(), None, Auth::Access).await?;
        let profile = Profile::from_response(body)?;
        self.set_profile(profile.clone());
        self.0.listeners.emit();
        Ok(profile)
    }

    /// Gets a new access token with the refresh token.
    pub async fn refresh_access_token(&self) -> Result<()> {
        fetcher::refresh_access_token(self).await
    }

    /// Refreshes the access token and returns its (fresh) custom data (§5).
    pub async fn refresh_custom_data(&self) -> Result<Value> {
        self.refresh_access_token().await?;
        self.custom_data()
    }

    /// Logs out: `DELETE /auth/session` with the refresh token, then drops the tokens whatever
    /// the answer. A "failed to find refresh token" answer is not an error (§4.2).
    pub async fn log_out(&self) -> Result<()> {
        if self.state() == UserState::Removed {
            return Ok(());
        }
        if self.refresh_token().is_none() {
            self.mark_logged_out();
            return Ok(());
        }
        let result = self.call(Method::Delete, routes::session(), None, Auth::Refresh).await;
        if self.refresh_token().is_some() {
            self.mark_logged_out();
        }
        match result {
            Ok(_) => Ok(()),
            Err(Error::Service { error: Some(e), .. }) if e.contains("failed to find refresh token") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Links another identity (§2.4): `POST …/login?link=true` with this user's access token;
    /// the answer must be for this user. Only the access token is replaced; the profile is re-fetched.
    pub async fn link_credentials(&self, credentials: &Credentials) -> Result<()> {
        let app = self.host();
        let body = credentials.login_body(app.device());
        let path = routes::link(app.app_id(), &credentials.provider_name);
        let response = self
            .call(Method::Post, path, Some(ejson::to_canonical_string(&body)), Auth::Access)
            .await?;
        let tokens = LoginResponse::parse(response)?;
        if tokens.user_id != self.id() {
            return Err(Error::decode(format!(
                "the link response: it is meant for another user (got user id {} expected {})",
                tokens.user_id,
                self.id()
            )));
        }
        self.set_access_token(tokens.access_token);
        self.refresh_profile().await?;
        Ok(())
    }

    /// Calls a function (`POST …/functions/call`), optionally of a service (§6).
    pub async fn call_function(&self, name: &str, arguments: Vec<Value>, service: Option<&str>) -> Result<Value> {
        let text = self.call_function_text(name, arguments, service).await?;
        Ok(text.map(|t| ejson::parse(&t)).transpose()?.unwrap_or(Value::Null))
    }

    /// [`User::call_function`] that returns the answer's EJSON text undecoded (`None`: no content).
    pub async fn call_function_text(&self, name: &str, arguments: Vec<Value>, service: Option<&str>) -> Result<Option<String>> {
        let mut body = Document::new().with("name", name).with("arguments", Value::Array(arguments));
        if let Some(service) = service {
            body.insert("service", service);
        }
        let app = self.host();
        let path = routes::functions_call(app.app_id());
        let body = Some(ejson::to_canonical_string(&Value::Document(body)));
        fetcher::fetch_text(&*app, Call { method: Method::Post, path, body, auth: Auth::Access, user: Some(self) }).await
    }

    /// Calls a function in streaming mode (`GET …/functions/call?baas_request=…`, §6.3): the
    /// response body, chunk by chunk. An error answer (App Services streams only service functions
    /// such as `watch`) is the call's error.
    pub async fn call_function_streaming(&self, name: &str, arguments: Vec<Value>, service: Option<&str>) -> Result<Rc<dyn ByteStream>> {
        let mut request = Document::new().with("name", name).with("arguments", Value::Array(arguments));
        if let Some(service) = service {
            request.insert("service", service);
        }
        let app = self.host();
        let path = routes::functions_call_streaming(app.app_id(), &ejson::to_canonical_string(&Value::Document(request)));
        fetcher::stream(&*app, &path, self).await
    }

    /// Registers `token` with the push service `service_name` (`Some`), or removes this device's
    /// registration (`None`); realm-js's push client routes, with the access token.
    pub async fn push_registration(&self, service_name: &str, token: Option<&str>) -> Result<()> {
        let path = routes::push_registration(self.host().app_id(), service_name);
        let (method, body) = match token {
            Some(token) => {
                let body = Value::Document(Document::new().with("registrationToken", token));
                (Method::Put, Some(ejson::to_canonical_string(&body)))
            }
            None => (Method::Delete, None),
        };
        self.call(method, path, body, Auth::Access).await.map(|_| ())
    }

    /// Creates an API key (§8.2): `{_id, key, name, disabled}`; the secret `key` is only returned here.
    pub async fn create_api_key(&self, name: &str) -> Result<Value> {
        self.api_key_call(ApiKeyCall::Create(name.to_owned())).await
    }

    /// One API key: `{_id, name, disabled}`.
    pub async fn fetch_api_key(&self, key_id: &str) -> Result<Value> {
        self.api_key_call(ApiKeyCall::Fetch(key_id.to_owned())).await
    }

    /// Every API key of the user.
    pub async fn fetch_api_keys(&self) -> Result<Value> {
        self.api_key_call(ApiKeyCall::FetchAll).await
    }

    /// Deletes an API key.
    pub async fn delete_api_key(&self, key_id: &str) -> Result<()> {
        self.api_key_call(ApiKeyCall::Delete(key_id.to_owned())).await.map(drop)
    }

    /// Enables (`true`) or disables an API key.
    pub async fn set_api_key_enabled(&self, key_id: &str, enabled: bool) -> Result<()> {
        self.api_key_call(ApiKeyCall::Enable(key_id.to_owned(), enabled)).await.map(drop)
    }

    /// Any API key request; the methods above and the wasm layer share it (one future for all).
    pub(crate) async fn api_key_call(&self, call: ApiKeyCall) -> Result<Value> {
        let (method, path, body, empty) = match call {
            ApiKeyCall::Create(name) => {
                let body = ejson::to_canonical_string(&Value::Document(Document::new().with("name", name)));
                (Method::Post, routes::api_keys(), Some(body), Value::Null)
            }
            ApiKeyCall::Fetch(id) => (Method::Get, routes::api_key(&id), None, Value::Null),
            ApiKeyCall::FetchAll => (Method::Get, routes::api_keys(), None, Value::Array(Vec::new())),
            ApiKeyCall::Delete(id) => (Method::Delete, routes::api_key(&id), None, Value::Null),
            ApiKeyCall::Enable(id, enabled) => (Method::Put, routes::api_key_toggle(&id, enabled), None, Value::Null),
        };
        Ok(self.call(method, path, body, Auth::Refresh).await?.unwrap_or(empty))
    }
}

// The fetcher's view of a user (inherent methods of the same names win inside, so these forward).
impl Session for User {
    fn is_active(&self) -> bool {
        self.state() == UserState::Active
    }
    fn is_removed(&self) -> bool {
        self.state() == UserState::Removed
    }
    fn access_token(&self) -> Option<String> {
        User::access_token(self)
    }
    fn access_token_exp(&self) -> Option<f64> {
        User::access_token_exp(self)
    }
    fn refresh_token(&self) -> Option<String> {
        User::refresh_token(self)
    }
    fn set_access_token(&self, token: String) {
        User::set_access_token(self, token);
    }
    fn mark_logged_out(&self) {
        User::mark_logged_out(self);
    }
    fn refresh_flight(&self) -> &SingleFlight<Result<()>> {
        User::refresh_flight(self)
    }
    fn location_context(&self) -> Rc<dyn Location> {
        self.host()
    }
}

/// An API key request (§8.2), with the key id where it has one.
pub(crate) enum ApiKeyCall {
    Create(String),
    Fetch(String),
    FetchAll,
    Delete(String),
    /// `true`: enable, `false`: disable.
    Enable(String, bool),
}

/// The fields of a login (or link) answer (§2.3).
pub(crate) struct LoginResponse {
    pub user_id: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub device_id: String,
}

impl LoginResponse {
    pub(crate) fn parse(body: Option<Value>) -> Result<LoginResponse> {
        let Some(Value::Document(doc)) = body else {
            return Err(Error::decode("the login response: expected a JSON object"));
        };
        let field = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
        let required = |name: &str, what: &str| {
            field(name).ok_or_else(|| Error::decode(format!("the login response: expected {what} '{name}' string")))
        };
        Ok(LoginResponse {
            user_id: required("user_id", "a")?,
            access_token: required("access_token", "an")?,
            refresh_token: field("refresh_token").filter(|t| !t.is_empty()),
            device_id: required("device_id", "a")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_parsing_and_renames() {
        let body = crate::ejson::parse(
            r#"{"user_id":"u","type":"normal","identities":[{"id":"i1","provider_type":"local-userpass","provider_id":"x"}],
                "data":{"email":"a@b.c","first_name":"A","picture":"p","n":{"$numberInt":"3"}}}"#,
        )
        .unwrap();
        let p = Profile::from_response(Some(body)).unwrap();
        assert_eq!(p.kind, "normal");
        assert_eq!(p.identities, vec![Identity { id: "i1".into(), provider_type: "local-userpass".into() }]);
        let keys: Vec<&str> = p.data.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["email", "firstName", "pictureUrl", "n"]);
        assert_eq!(p.data.get("n"), Some(&Value::Int32(3)));
    }

    #[test]
    fn stored_profile_round_trip() {
        let p = Profile {
            kind: "normal".into(),
            identities: vec![Identity { id: "i1".into(), provider_type: "anon-user".into() }],
            data: Document::new().with("email", "a@b.c"),
        };
        let stored = p.to_stored_string();
        assert_eq!(stored, r#"{"type":"normal","identities":[{"id":"i1","providerType":"anon-user"}],"data":{"email":"a@b.c"}}"#);
        assert_eq!(Profile::from_response(Some(crate::ejson::parse(&stored).unwrap())).unwrap(), p);
    }

    #[test]
    fn profile_validation() {
        for bad in [r#"{"identities":[],"data":{}}"#, r#"{"type":"normal","data":{}}"#, r#"{"type":"normal","identities":[]}"#, "[]"] {
            assert!(Profile::from_response(Some(crate::ejson::parse(bad).unwrap())).is_err(), "{bad}");
        }
        assert!(Profile::from_response(None).is_err());
    }

    #[test]
    fn state_names() {
        assert_eq!(UserState::Active.as_str(), "active");
        assert_eq!(UserState::LoggedOut.as_str(), "logged-out");
        assert_eq!(UserState::Removed.as_str(), "removed");
    }
}
