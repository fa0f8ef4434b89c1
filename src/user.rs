//! A user of an app: tokens, profile and the active / logged-out / removed state machine
//! (protocol §3, §4, §5, §9.2).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::app::App;
use crate::ejson::{Document, Value};
use crate::error::{Error, Result};
use crate::fetcher::{self, Auth, Call};
use crate::flight::SingleFlight;
use crate::jwt;
use crate::mongo::MongoDBService;
use crate::routes;
use crate::transport::Method;

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
                provider_type: i
                    .get("provider_type")
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
}

pub(crate) struct UserInner {
    app: App,
    id: String,
    provider_type: String,
    access_token: RefCell<Option<String>>,
    refresh_token: RefCell<Option<String>>,
    state: Cell<UserState>,
    profile: RefCell<Option<Profile>>,
    refresh: SingleFlight<Result<()>>,
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

impl User {
    pub(crate) fn new(
        app: App,
        id: String,
        provider_type: String,
        access_token: String,
        refresh_token: String,
    ) -> User {
        User(Rc::new(UserInner {
            app,
            id,
            provider_type,
            access_token: RefCell::new(Some(access_token)),
            refresh_token: RefCell::new(Some(refresh_token)),
            state: Cell::new(UserState::Active),
            profile: RefCell::new(None),
            refresh: SingleFlight::default(),
        }))
    }

    /// True when both handles refer to the same user object.
    pub fn ptr_eq(&self, other: &User) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    /// The app this user belongs to.
    pub fn app(&self) -> App {
        self.0.app.clone()
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

    /// EJSON-decoded `user_data` of the current access token, `{}` when absent (§5).
    pub fn custom_data(&self) -> Result<Value> {
        let token = self.access_token().ok_or(Error::NotLoggedIn)?;
        jwt::decode_claims(&token)?.custom_data()
    }

    pub(crate) fn refresh_flight(&self) -> &SingleFlight<Result<()>> {
        &self.0.refresh
    }

    pub(crate) fn set_access_token(&self, token: String) {
        *self.0.access_token.borrow_mut() = Some(token);
    }

    pub(crate) fn set_tokens(&self, access_token: String, refresh_token: Option<String>) {
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
    }

    /// Drops both tokens; the user stays in the app's list (§4.2).
    pub(crate) fn mark_logged_out(&self) {
        *self.0.access_token.borrow_mut() = None;
        *self.0.refresh_token.borrow_mut() = None;
        if self.state() == UserState::Active {
            self.0.state.set(UserState::LoggedOut);
        }
    }

    pub(crate) fn mark_removed(&self) {
        self.mark_logged_out();
        self.0.state.set(UserState::Removed);
    }

    /// Fetches the profile (`GET /auth/profile`) and stores it.
    pub async fn refresh_profile(&self) -> Result<Profile> {
        let app = self.app();
        let body = fetcher::fetch(
            &app,
            Call {
                method: Method::Get,
                path: routes::profile(),
                body: None,
                auth: Auth::Access,
                user: Some(self),
            },
        )
        .await?;
        let profile = Profile::from_response(body)?;
        self.set_profile(profile.clone());
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
        if self.refresh_token().is_none() {
            self.mark_logged_out();
            return Ok(());
        }
        let app = self.app();
        let result = fetcher::fetch(
            &app,
            Call {
                method: Method::Delete,
                path: routes::session(),
                body: None,
                auth: Auth::Refresh,
                user: Some(self),
            },
        )
        .await;
        self.mark_logged_out();
        match result {
            Ok(_) => Ok(()),
            Err(Error::Service { error: Some(e), .. }) if e.contains("failed to find refresh token") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Calls a function (`POST …/functions/call`), optionally of a service (§6).
    pub async fn call_function(&self, name: &str, arguments: Vec<Value>, service: Option<&str>) -> Result<Value> {
        let mut body = Document::new()
            .with("name", Value::from(name))
            .with("arguments", Value::Array(arguments));
        if let Some(service) = service {
            body.insert("service", Value::from(service));
        }
        let app = self.app();
        let result = fetcher::fetch(
            &app,
            Call {
                method: Method::Post,
                path: routes::functions_call(app.id()),
                body: Some(crate::ejson::to_canonical_string(&Value::Document(body))),
                auth: Auth::Access,
                user: Some(self),
            },
        )
        .await?;
        Ok(result.unwrap_or(Value::Null))
    }

    /// A MongoDB service client, e.g. `mongo_client("mongodb-atlas")`.
    pub fn mongo_client(&self, service_name: &str) -> MongoDBService {
        MongoDBService::new(self.clone(), service_name)
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
