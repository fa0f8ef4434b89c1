//! The app: configuration, the list of users, the lazily fetched location (protocol §1),
//! logging in (§2) and email/password registration (§8.1).

use std::cell::RefCell;
use std::rc::Rc;

use crate::credentials::{Credentials, ANONYMOUS};
use crate::ejson::{self, Document, ObjectId, Value};
use crate::error::{Error, Result};
use crate::fetcher::{self, Auth, Call};
use crate::flight::SingleFlight;
use crate::routes;
use crate::transport::{Method, Transport};
use crate::user::{User, UserState};

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

/// App configuration (`new App({ id, baseUrl, timeout, skipLocationRequest })`).
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
        }
    }
}

pub(crate) struct AppInner {
    config: AppConfig,
    transport: Rc<dyn Transport>,
    location: RefCell<Option<String>>,
    location_flight: SingleFlight<Result<String>>,
    users: RefCell<Vec<User>>,
    device_id: RefCell<Option<String>>,
}

/// An App Services app; cheap to clone (shared state).
#[derive(Clone)]
pub struct App(pub(crate) Rc<AppInner>);

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("id", &self.0.config.id).finish()
    }
}

impl App {
    /// Creates an app that sends its requests through `transport`.
    pub fn new(config: AppConfig, transport: Rc<dyn Transport>) -> Result<App> {
        if config.id.is_empty() {
            return Err(Error::InvalidArgument(
                "Missing an Atlas App Services app-id: pass new App(\"<app id>\") or new App({ id })".to_owned(),
            ));
        }
        Ok(App(Rc::new(AppInner {
            config,
            transport,
            location: RefCell::new(None),
            location_flight: SingleFlight::default(),
            users: RefCell::new(Vec::new()),
            device_id: RefCell::new(None),
        })))
    }

    /// The app id.
    pub fn id(&self) -> &str {
        &self.0.config.id
    }

    /// The configuration.
    pub fn config(&self) -> &AppConfig {
        &self.0.config
    }

    pub(crate) fn transport(&self) -> Rc<dyn Transport> {
        self.0.transport.clone()
    }

    /// The first active user of the list, if any (§9.2).
    pub fn current_user(&self) -> Option<User> {
        self.0.users.borrow().iter().find(|u| u.is_logged_in()).cloned()
    }

    /// Every user in the list (active and logged out), most recent first.
    pub fn all_users(&self) -> Vec<User> {
        self.0.users.borrow().clone()
    }

    /// Moves `user` to the front of the list.
    pub fn switch_user(&self, user: &User) -> Result<()> {
        let mut users = self.0.users.borrow_mut();
        let idx = users
            .iter()
            .position(|u| u.ptr_eq(user))
            .ok_or_else(|| Error::InvalidArgument("The user was never logged into this app".to_owned()))?;
        let u = users.remove(idx);
        users.insert(0, u);
        Ok(())
    }

    /// Logs the user out and takes it out of the list (state `removed`).
    pub async fn remove_user(&self, user: &User) -> Result<()> {
        let result = user.log_out().await;
        self.0.users.borrow_mut().retain(|u| !u.ptr_eq(user));
        user.mark_removed();
        result
    }

    /// The location URL: `base_url` with `skip_location_request`, else fetched once and cached;
    /// concurrent first calls share one request, a failure is not cached (§1).
    pub async fn location(&self) -> Result<String> {
        if self.0.config.skip_location_request {
            return Ok(self.0.config.base_url.clone());
        }
        if let Some(location) = self.0.location.borrow().clone() {
            return Ok(location);
        }
        self.0
            .location_flight
            .run(|| async {
                let url = format!("{}{}", self.0.config.base_url, routes::location(self.id()));
                let body = fetcher::send(self, Method::Get, &url, None, None).await?;
                let hostname = body
                    .as_ref()
                    .and_then(Value::as_document)
                    .and_then(|d| d.get("hostname"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| Error::decode("the location response: expected a 'hostname' string"))?
                    .to_owned();
                *self.0.location.borrow_mut() = Some(hostname.clone());
                Ok(hostname)
            })
            .await
    }

    fn device(&self) -> Document {
        let d = &self.0.config.device;
        let mut device = Document::new()
            .with("sdkVersion", Value::from(env!("CARGO_PKG_VERSION")))
            .with("platform", Value::from(d.platform.as_str()))
            .with("platformVersion", Value::from(d.platform_version.as_str()));
        if let Some(id) = self.0.device_id.borrow().as_deref() {
            if let Ok(oid) = ObjectId::parse_hex(id) {
                device.insert("deviceId", Value::ObjectId(oid));
            }
        }
        device
    }

    /// Logs in (§2): anonymous credentials reuse an active anonymous user; otherwise
    /// `POST …/login`, then the profile is fetched. The user becomes the current user.
    pub async fn log_in(&self, credentials: &Credentials) -> Result<User> {
        if credentials.provider_type == ANONYMOUS {
            let existing = self
                .0
                .users
                .borrow()
                .iter()
                .find(|u| u.provider_type() == ANONYMOUS && u.state() == UserState::Active)
                .cloned();
            if let Some(user) = existing {
                self.switch_user(&user)?;
                user.refresh_profile().await?;
                return Ok(user);
            }
        }
        let mut body = credentials.payload.clone();
        body.insert("options", Document::new().with("device", self.device()));
        let response = fetcher::fetch(
            self,
            Call {
                method: Method::Post,
                path: routes::login(self.id(), &credentials.provider_name),
                body: Some(ejson::to_canonical_string(&Value::Document(body))),
                auth: Auth::None,
                user: None,
            },
        )
        .await?;
        let Some(Value::Document(doc)) = response else {
            return Err(Error::decode("the login response: expected a JSON object"));
        };
        let field = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
        let user_id = field("user_id").ok_or_else(|| Error::decode("the login response: expected a 'user_id' string"))?;
        let access_token =
            field("access_token").ok_or_else(|| Error::decode("the login response: expected an 'access_token' string"))?;
        let refresh_token = field("refresh_token").filter(|t| !t.is_empty());
        let device_id = field("device_id").ok_or_else(|| Error::decode("the login response: expected a 'device_id' string"))?;
        if device_id != ZERO_DEVICE_ID {
            *self.0.device_id.borrow_mut() = Some(device_id);
        }

        let existing = self.0.users.borrow().iter().find(|u| u.id() == user_id).cloned();
        let user = match existing {
            Some(user) => {
                if refresh_token.is_none() && user.refresh_token().is_none() {
                    return Err(Error::decode("the login response: no refresh token in response from server"));
                }
                user.set_tokens(access_token, refresh_token);
                self.switch_user(&user)?;
                user
            }
            None => {
                let refresh_token = refresh_token
                    .ok_or_else(|| Error::decode("the login response: no refresh token in response from server"))?;
                let user = User::new(self.clone(), user_id, credentials.provider_type.clone(), access_token, refresh_token);
                self.0.users.borrow_mut().insert(0, user.clone());
                user
            }
        };
        user.refresh_profile().await?;
        Ok(user)
    }

    /// Registers an email/password user (§8.1). Sends the current user's access token, if any.
    pub async fn register_user(&self, email: &str, password: &str) -> Result<()> {
        let body = Document::new()
            .with("email", Value::from(email))
            .with("password", Value::from(password));
        let current = self.current_user();
        fetcher::fetch(
            self,
            Call {
                method: Method::Post,
                path: routes::register(self.id()),
                body: Some(ejson::to_canonical_string(&Value::Document(body))),
                auth: Auth::Access,
                user: current.as_ref(),
            },
        )
        .await?;
        Ok(())
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
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"))).unwrap();
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
        let again = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"))).unwrap();
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
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"))).unwrap();
        state.valid_refresh.borrow_mut().clear();
        // The fake answers 401 InvalidSession: the user is logged out and the error reported.
        assert!(block_on(user.log_out()).unwrap_err().is_invalid_session());
        assert_eq!(user.state(), UserState::LoggedOut);
    }

    #[test]
    fn wrong_password_is_a_service_error() {
        let (app, state) = fake_app(false);
        let err = block_on(app.log_in(&Credentials::email_password("a@b.c", "wrong"))).unwrap_err();
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
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"))).unwrap();
        block_on(app.register_user("b@b.c", "pw")).unwrap();
        let second = state.requests.borrow().last().cloned().unwrap();
        assert_eq!(second.header("Authorization"), Some(format!("Bearer {}", user.access_token().unwrap()).as_str()));
    }

    #[test]
    fn refresh_custom_data_reads_the_new_token() {
        let (app, state) = fake_app(false);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"))).unwrap();
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
}
