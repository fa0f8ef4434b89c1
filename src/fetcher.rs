//! The only HTTP path of the SDK: builds the URL from the cached location, picks the token
//! (protocol §4.3), sets the headers (§0.2), decodes the answer (§0.4), turns error answers into
//! [`Error::Service`] (§10), refreshes shortly before the access token expires and
//! refreshes-and-retries once on 401 `InvalidSession` (§4.4).
//!
//! Like realm-web's `Fetcher`, it sees an app and a user only through two narrow contexts,
//! [`Location`] (where requests go) and [`Session`] (whose tokens they carry), so that it depends
//! on neither `app` nor `user`, which both call it.

use std::rc::Rc;

use crate::ejson::{self, Value};
use crate::error::{Error, Result};
use crate::flight::SingleFlight;
use crate::routes;
use crate::transport::{ByteStream, LocalBoxFuture, Method, Request, Response, Streamed, Transport};

/// Where an app's requests go: what the fetcher needs of an app.
pub(crate) trait Location {
    /// How requests are sent.
    fn transport(&self) -> Rc<dyn Transport>;
    /// The app's per-request timeout.
    fn timeout_ms(&self) -> Option<u32>;
    /// The location URL requests are prefixed with (fetched once, §1).
    fn location(&self) -> LocalBoxFuture<'_, Result<String>>;
    /// The location URL if it is known without a request (for the wasm fast path).
    fn cached_location(&self) -> Option<String>;
}

/// Whose tokens a request carries: what the fetcher needs of a user.
pub(crate) trait Session {
    /// Logged in (has a refresh token and is in its app's list).
    fn is_active(&self) -> bool;
    /// Taken out of its app: no request may go out for it.
    fn is_removed(&self) -> bool;
    fn access_token(&self) -> Option<String>;
    /// `exp` of the access token (seconds since the epoch), if it is a JWT.
    fn access_token_exp(&self) -> Option<f64>;
    fn refresh_token(&self) -> Option<String>;
    /// Stores a refreshed access token (and persists it).
    fn set_access_token(&self, token: String);
    /// Drops the tokens after the server refused the refresh token.
    fn mark_logged_out(&self);
    /// Shares one refresh among concurrent calls.
    fn refresh_flight(&self) -> &SingleFlight<Result<()>>;
    /// The app this user's requests (its refreshes included) go through.
    fn location_context(&self) -> Rc<dyn Location>;
}

/// Which token goes into `Authorization` (§4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// No `Authorization` header.
    None,
    /// The user's access token (no header when there is no user, for app-level calls).
    Access,
    /// The user's refresh token.
    Refresh,
}

/// One API call.
pub(crate) struct Call<'a> {
    pub method: Method,
    /// Path after the location URL (see [`routes`]).
    pub path: String,
    /// Canonical EJSON body.
    pub body: Option<String>,
    pub auth: Auth,
    /// The user in context (the call's user, or the app's current user for app-level calls).
    pub user: Option<&'a dyn Session>,
}

/// Refresh this long before the access token's `exp`, so a call never goes out with a token
/// that expires in flight.
const REFRESH_MARGIN_MS: f64 = 10_000.0;

/// Sends a call; `Ok(None)` means a 2xx answer without JSON content.
pub(crate) async fn fetch(app: &dyn Location, call: Call<'_>) -> Result<Option<Value>> {
    parse_json(fetch_text(app, call).await?)
}

/// Like [`fetch`], but hands back the JSON text undecoded (the wasm layer decodes large
/// answers in the JS engine).
pub(crate) async fn fetch_text(app: &dyn Location, call: Call<'_>) -> Result<Option<String>> {
    let location = app.location().await?;
    let url = &format!("{location}{}", call.path);
    with_auth(app, call.auth, call.user, None, Attempt::Text(call.method, url, &call.body)).await?.text()
}

fn parse_json(text: Option<String>) -> Result<Option<Value>> {
    text.map(|t| ejson::parse(&t)).transpose()
}

/// Opens a server-sent-events stream (§6.3) with the user's access token.
pub(crate) async fn stream(app: &dyn Location, path: &str, user: &dyn Session) -> Result<Rc<dyn ByteStream>> {
    let location = app.location().await?;
    let url = &format!("{location}{path}");
    match with_auth(app, Auth::Access, Some(user), None, Attempt::Stream(url)).await? {
        Answer::Stream(body) => Ok(body),
        Answer::Text(_) => Err(Error::decode("a streaming response without a body")),
    }
}

/// What one attempt of a call sends (the part [`with_auth`] repeats).
#[derive(Clone, Copy)]
enum Attempt<'a> {
    /// A request whose 2xx answer is read as JSON text.
    Text(Method, &'a str, &'a Option<String>),
    /// A `GET` of a server-sent-events stream.
    Stream(&'a str),
}

/// What an [`Attempt`] gave.
enum Answer {
    Text(Option<String>),
    Stream(Rc<dyn ByteStream>),
}

impl Answer {
    fn text(self) -> Result<Option<String>> {
        match self {
            Answer::Text(text) => Ok(text),
            Answer::Stream(_) => Err(Error::decode("a stream where a JSON answer was expected")),
        }
    }
}

impl Attempt<'_> {
    async fn run(self, app: &dyn Location, token: Option<String>) -> Result<Answer> {
        let url = match self {
            Attempt::Text(method, url, body) => {
                return Ok(Answer::Text(send_text(app, method, url, body.clone(), token.as_deref()).await?))
            }
            Attempt::Stream(url) => url,
        };
        let mut headers = vec![("Accept", "text/event-stream".to_owned())];
        if let Some(token) = token {
            headers.push(("Authorization", format!("Bearer {token}")));
        }
        let request = Request { method: Method::Get, url: url.to_owned(), headers, body: None, timeout_ms: app.timeout_ms() };
        match app.transport().stream(request).await? {
            Streamed::Body(body) => Ok(Answer::Stream(body)),
            Streamed::Failed(response) => match decode_response(Method::Get, url, response) {
                Err(e) => Err(e),
                Ok(_) => Err(Error::decode("a streaming response without a body")),
            },
        }
    }
}

/// The access token a `functions/call` of `user` can go out with, with nothing to await first,
/// and until when (ms since the epoch, on the transport's clock, which the caller reads): from
/// then on a refresh is due first. The wasm layer then sends the call itself (arming the app's
/// timeout as the transport does) and hands anything but a plain 2xx JSON answer to
/// [`resume_text`]. `None`: take the usual path.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn ready_token(user: &dyn Session) -> Option<(String, f64)> {
    if !user.is_active() {
        return None;
    }
    let token = user.access_token()?;
    let until = user.access_token_exp().map_or(f64::INFINITY, |exp| exp * 1000.0 - REFRESH_MARGIN_MS);
    Some((token, until))
}

/// Finishes a `POST url` with `body` whose first attempt (with the access `token` of
/// [`ready_token`]) was sent by the caller and gave `first`: exactly what [`fetch_text`] does
/// after its first attempt (error answers, one refresh-and-retry on 401 `InvalidSession`).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) async fn resume_text(
    app: &dyn Location,
    user: &dyn Session,
    url: &str,
    body: String,
    token: String,
    first: Result<Response>,
) -> Result<Option<String>> {
    let first = first.and_then(|response| check_response(Method::Post, url, response)).map(Answer::Text);
    let body = Some(body);
    with_auth(app, Auth::Access, Some(user), Some((Some(token), first)), Attempt::Text(Method::Post, url, &body)).await?.text()
}

/// Runs `attempt` with the token the call needs (§4.3): refreshes ahead of `exp`, and once
/// after a 401 `InvalidSession` (bounded, unlike realm-web); a rejected refresh token logs out.
/// `first`: the token and outcome of a first attempt already made (after the checks before it),
/// so only what follows it is left to do. Not generic and boxed: one copy for every kind of call.
fn with_auth<'a>(
    app: &'a dyn Location,
    auth: Auth,
    user: Option<&'a dyn Session>,
    first: Option<(Option<String>, Result<Answer>)>,
    attempt: Attempt<'a>,
) -> LocalBoxFuture<'a, Result<Answer>> {
    Box::pin(with_auth_inner(app, auth, user, first, attempt))
}

async fn with_auth_inner(
    app: &dyn Location,
    auth: Auth,
    user: Option<&dyn Session>,
    mut first: Option<(Option<String>, Result<Answer>)>,
    attempt: Attempt<'_>,
) -> Result<Answer> {
    if first.is_none() {
        if user.is_some_and(|u| u.is_removed()) {
            return Err(Error::UserRemoved);
        }
        if let (Auth::Access, Some(user), Some(now)) = (auth, user, app.transport().now_ms()) {
            let expiring = user.access_token_exp().is_some_and(|exp| exp * 1000.0 - now < REFRESH_MARGIN_MS);
            if expiring && user.refresh_token().is_some() {
                refresh_access_token(user).await?;
            }
        }
    }
    let mut refreshed = false;
    loop {
        let (token, outcome) = match first.take() {
            Some(seeded) => seeded,
            None => {
                let token = match (auth, user) {
                    (Auth::None, _) | (Auth::Access, None) => None,
                    (Auth::Access, Some(user)) => Some(user.access_token().ok_or(Error::NotLoggedIn)?),
                    (Auth::Refresh, Some(user)) => Some(user.refresh_token().ok_or(Error::NotLoggedIn)?),
                    (Auth::Refresh, None) => return Err(Error::NotLoggedIn),
                };
                let outcome = attempt.run(app, token.clone()).await;
                (token, outcome)
            }
        };
        let err = match outcome {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let Some(user) = user else {
            return Err(err);
        };
        if !err.is_invalid_session() {
            return Err(err);
        }
        match auth {
            Auth::Access if !refreshed => {
                refreshed = true;
                // Another call may have refreshed the token while this one was in flight.
                if user.access_token() == token || user.access_token().is_none() {
                    refresh_access_token(user).await?;
                }
            }
            Auth::Refresh => {
                if user.refresh_token() == token {
                    user.mark_logged_out();
                }
                return Err(err);
            }
            _ => return Err(err),
        }
    }
}

/// `POST /auth/session` with the refresh token; concurrent refreshes of one user share one
/// request. A 401 `InvalidSession` logs the user out (§4.4).
pub(crate) async fn refresh_access_token(user: &dyn Session) -> Result<()> {
    let flight = user.refresh_flight();
    flight
        .run(|| async {
            if user.is_removed() {
                return Err(Error::UserRemoved);
            }
            let app = user.location_context();
            let refresh_token = user.refresh_token().ok_or(Error::NotLoggedIn)?;
            let location = app.location().await?;
            let url = format!("{location}{}", routes::session());
            match send(&*app, Method::Post, &url, None, Some(&refresh_token)).await {
                Ok(body) => {
                    let token = body
                        .as_ref()
                        .and_then(Value::as_document)
                        .and_then(|d| d.get("access_token"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            Error::decode("the session response: expected an 'access_token' string")
                        })?;
                    user.set_access_token(token.to_owned());
                    Ok(())
                }
                Err(err) => {
                    if err.is_invalid_session() && user.refresh_token().as_deref() == Some(refresh_token.as_str()) {
                        user.mark_logged_out();
                    }
                    Err(err)
                }
            }
        })
        .await
}

/// Sends one request without any retry logic.
pub(crate) async fn send(
    app: &dyn Location,
    method: Method,
    url: &str,
    body: Option<String>,
    token: Option<&str>,
) -> Result<Option<Value>> {
    parse_json(send_text(app, method, url, body, token).await?)
}

/// [`send`] without decoding the JSON text of a 2xx answer.
async fn send_text(
    app: &dyn Location,
    method: Method,
    url: &str,
    body: Option<String>,
    token: Option<&str>,
) -> Result<Option<String>> {
    let mut headers = Vec::with_capacity(3);
    headers.push(("Accept", "application/json".to_owned()));
    if body.is_some() {
        headers.push(("Content-Type", "application/json".to_owned()));
    }
    if let Some(token) = token {
        headers.push(("Authorization", format!("Bearer {token}")));
    }
    let request = Request {
        method,
        url: url.to_owned(),
        headers,
        body,
        timeout_ms: app.timeout_ms(),
    };
    let response = app.transport().send(request).await?;
    check_response(method, url, response)
}

/// Applies §0.4 and §10 to a response.
pub(crate) fn decode_response(method: Method, url: &str, response: Response) -> Result<Option<Value>> {
    parse_json(check_response(method, url, response)?)
}

/// A failed answer becomes its error; a 2xx JSON answer gives its (non-empty) text.
fn check_response(method: Method, url: &str, response: Response) -> Result<Option<String>> {
    let is_json = response
        .content_type
        .as_deref()
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !response.ok() {
        let body = if is_json {
            crate::json::parse(&response.body).ok()
        } else {
            None
        };
        let field = |name: &str| {
            body.as_ref()
                .and_then(|b| b.get(name))
                .and_then(crate::json::Json::as_str)
                .map(str::to_owned)
        };
        return Err(Error::Service {
            method: method.as_str().to_owned(),
            url: url.to_owned(),
            status: response.status,
            status_text: response.status_text,
            error: field("error"),
            error_code: field("error_code"),
            link: field("link"),
        });
    }
    match response.content_type.as_deref() {
        None => Ok(None),
        Some(_) if is_json => {
            if response.body.trim().is_empty() {
                Ok(None)
            } else {
                Ok(Some(response.body))
            }
        }
        Some(other) => Err(Error::decode(format!(
            "the response of {} {url}: expected JSON, got content type {}",
            method.as_str(),
            ejson::quoted(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_fields_become_service_error() {
        let r = Response {
            status: 404,
            status_text: "Not Found".into(),
            content_type: Some("application/json; charset=utf-8".into()),
            body: r#"{"error":"function not found","error_code":"FunctionNotFound","link":"http://x/logs","extra":1}"#.into(),
        };
        let err = decode_response(Method::Post, "http://h/p", r).unwrap_err();
        assert_eq!(
            err,
            Error::Service {
                method: "POST".into(),
                url: "http://h/p".into(),
                status: 404,
                status_text: "Not Found".into(),
                error: Some("function not found".into()),
                error_code: Some("FunctionNotFound".into()),
                link: Some("http://x/logs".into()),
            }
        );
    }

    #[test]
    fn non_json_or_broken_error_bodies_still_give_service_errors() {
        for (ct, body) in [(Some("text/plain"), "boom"), (Some("application/json"), "{broken"), (None, "")] {
            let r = Response { status: 500, status_text: String::new(), content_type: ct.map(Into::into), body: body.into() };
            match decode_response(Method::Get, "u", r).unwrap_err() {
                Error::Service { status: 500, error: None, error_code: None, link: None, .. } => {}
                other => panic!("{other:?}"),
            }
        }
        let r = Response { status: 400, status_text: String::new(), content_type: Some("application/json".into()), body: r#"{"error":5}"#.into() };
        assert!(matches!(decode_response(Method::Get, "u", r).unwrap_err(), Error::Service { error: None, .. }));
    }

    #[test]
    fn success_bodies() {
        let r = |ct: Option<&str>, body: &str| Response { status: 200, status_text: "OK".into(), content_type: ct.map(Into::into), body: body.into() };
        assert_eq!(decode_response(Method::Get, "u", r(None, "")).unwrap(), None);
        assert_eq!(decode_response(Method::Get, "u", r(Some("application/json"), "")).unwrap(), None);
        assert_eq!(decode_response(Method::Get, "u", r(Some("application/json"), "5")).unwrap(), Some(Value::Int32(5)));
        assert!(matches!(decode_response(Method::Get, "u", r(Some("Application/JSON"), "5")), Err(Error::Decode(_))));
        assert!(matches!(decode_response(Method::Get, "u", r(Some("application/json"), r#"{"$oid":1}"#)), Err(Error::Decode(_))));
    }

    use crate::credentials::Credentials;
    use crate::testing::{block_on, fake_app, join2};
    use crate::user::{User, UserState};
    use crate::App;

    fn logged_in(yield_first: bool) -> (App, std::rc::Rc<crate::testing::FakeState>, User) {
        let (app, state) = fake_app(yield_first);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), true)).unwrap();
        (app, state, user)
    }

    fn call_fn(user: &User) -> Result<Value> {
        block_on(user.call_function("f", vec![], None))
    }

    #[test]
    fn headers_and_tokens_per_route() {
        let (_app, state, user) = logged_in(false);
        call_fn(&user).unwrap();
        let reqs = state.requests.borrow();
        let loc = &reqs[0];
        assert_eq!(loc.url, "http://base.test/api/client/v2.0/app/my-app/location");
        assert_eq!(loc.headers, vec![("Accept", "application/json".to_owned())]);
        assert_eq!(loc.timeout_ms, Some(5000));
        let login = &reqs[1];
        assert_eq!(login.url, "http://loc.test/api/client/v2.0/app/my-app/auth/providers/local-userpass/login");
        assert_eq!(login.header("Content-Type"), Some("application/json"));
        assert_eq!(login.header("Authorization"), None);
        let profile = &reqs[2];
        assert_eq!(profile.url, "http://loc.test/api/client/v2.0/auth/profile");
        assert_eq!(profile.header("Content-Type"), None);
        assert_eq!(profile.header("Authorization"), Some(format!("Bearer {}", user.access_token().unwrap()).as_str()));
        let call = &reqs[3];
        assert_eq!(call.body.as_deref(), Some(r#"{"name":"f","arguments":[]}"#));
        assert_eq!(call.header("Authorization"), profile.header("Authorization"));
    }

    #[test]
    fn refreshes_once_and_retries_on_invalid_session() {
        let (_app, state, user) = logged_in(false);
        let old = user.access_token();
        state.expire_access_tokens();
        let v = call_fn(&user).unwrap();
        assert!(v.as_document().is_some());
        assert_ne!(user.access_token(), old);
        assert_eq!(state.count(Method::Post, "/auth/session"), 1);
        assert_eq!(state.count(Method::Post, "/functions/call"), 2);
        let refresh = state.requests.borrow().iter().find(|r| r.url.ends_with("/auth/session")).cloned().unwrap();
        assert_eq!(refresh.header("Authorization"), Some("Bearer rt1"));
        assert_eq!(refresh.body, None);
        assert_eq!(refresh.header("Content-Type"), None);
    }

    /// The wasm fast path: the body it builds from `call_frame` is the usual one, and a first
    /// attempt answered 401 `InvalidSession` is finished by one refresh and one retry.
    #[test]
    fn fast_path_frame_and_resume() {
        let (_app, state, user) = logged_in(false);
        let c = user.mongo_client("svc").db("d\"b").collection("c");
        let filter = Value::Raw(r#"{"k":{"$numberInt":"1"}}"#.to_owned());
        let update = Value::Raw(r#"{"$set":{"s":"x"}}"#.to_owned());
        *state.function_answer.borrow_mut() = Some((200, r#"{"matchedCount":{"$numberInt":"1"}}"#.into()));
        let reply = block_on(c.update_one(filter, update, Default::default())).unwrap();
        let usual = state.requests.borrow().last().cloned().unwrap();
        let frame = c.call_frame("updateOne").unwrap();
        let (query, update) = (&frame.parts[0].0, &frame.parts[1].0);
        let body = format!(r#"{}{query}{{"k":{{"$numberInt":"1"}}}}{update}{{"$set":{{"s":"x"}}}}{}"#, frame.prefix, frame.suffix);
        assert_eq!(usual.body.as_deref(), Some(body.as_str()));
        // The fast path goes out with the usual URL and token, and arms the app's timeout.
        let ready = c.ready().unwrap();
        assert_eq!((c.call_url(&ready.location), ready.timeout_ms), (usual.url.clone(), Some(5000)));
        let (url, token) = (usual.url.clone(), user.access_token().unwrap());
        assert_eq!(ready.token, token);
        let exp = user.access_token_exp().expect("the fake tokens are JWTs with `exp`");
        assert_eq!(ready.fresh_until_ms, exp * 1000.0 - REFRESH_MARGIN_MS);
        assert_eq!(usual.header("Authorization"), Some(format!("Bearer {token}").as_str()));

        let calls = state.count(Method::Post, "/functions/call");
        let first = Ok(Response {
            status: 401,
            status_text: String::new(),
            content_type: Some("application/json".into()),
            body: r#"{"error":"expired","error_code":"InvalidSession"}"#.into(),
        });
        let resumed = block_on(c.resume(&url, body.clone(), token.clone(), first)).unwrap();
        assert_eq!(resumed, reply);
        assert_eq!(state.count(Method::Post, "/auth/session"), 1);
        assert_eq!(state.count(Method::Post, "/functions/call"), calls + 1);
        assert_ne!(user.access_token(), Some(token.clone()));
        let retry = state.requests.borrow().last().cloned().unwrap();
        assert_eq!(retry.body.as_deref(), Some(body.as_str()));

        // Errors of the first attempt are the usual ones.
        let network = Error::Network { method: "POST".into(), url: url.clone(), message: "boom".into() };
        let err = block_on(c.resume(&url, body, token, Err(network.clone()))).unwrap_err();
        assert_eq!(err, network);
    }

    #[test]
    fn retry_is_limited() {
        let (_app, state, user) = logged_in(false);
        state.always_401.set(true);
        let err = call_fn(&user).unwrap_err();
        assert!(err.is_invalid_session());
        assert_eq!(state.count(Method::Post, "/auth/session"), 1);
        assert_eq!(state.count(Method::Post, "/functions/call"), 2);
        assert_eq!(user.state(), UserState::Active);
    }

    #[test]
    fn refresh_token_rejected_logs_out() {
        let (app, state, user) = logged_in(false);
        state.expire_access_tokens();
        state.valid_refresh.borrow_mut().clear();
        let err = call_fn(&user).unwrap_err();
        match &err {
            Error::Service { url, status: 401, error_code: Some(code), .. } => {
                assert_eq!(url, "http://loc.test/api/client/v2.0/auth/session");
                assert_eq!(code, "InvalidSession");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(user.state(), UserState::LoggedOut);
        assert_eq!(user.access_token(), None);
        assert!(app.current_user().is_none());
        assert_eq!(call_fn(&user).unwrap_err(), Error::NotLoggedIn);
    }

    #[test]
    fn concurrent_failures_share_one_refresh() {
        let (_app, state, user) = logged_in(true);
        state.expire_access_tokens();
        let (a, b) = join2(user.call_function("f", vec![], None), user.call_function("g", vec![], None));
        a.unwrap();
        b.unwrap();
        assert_eq!(state.count(Method::Post, "/auth/session"), 1);
    }

    #[test]
    fn location_is_fetched_once_and_failure_not_cached() {
        let (app, state) = fake_app(true);
        state.location_failures.set(1);
        let err = block_on(app.location()).unwrap_err();
        assert!(matches!(err, Error::Service { status: 500, .. }), "{err:?}");
        let (a, b) = join2(app.location(), app.location());
        assert_eq!(a.unwrap(), "http://loc.test");
        assert_eq!(b.unwrap(), "http://loc.test");
        block_on(app.location()).unwrap();
        assert_eq!(state.count(Method::Get, "/location"), 2);
    }

    #[test]
    fn service_errors_carry_the_body_fields() {
        let (_app, state, user) = logged_in(false);
        *state.function_answer.borrow_mut() =
            Some((404, r#"{"error":"function not found: 'nope'","error_code":"FunctionNotFound","link":"http://l"}"#.into()));
        let err = call_fn(&user).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Request failed (POST http://loc.test/api/client/v2.0/app/my-app/functions/call): function not found: 'nope' (status 404)"
        );
        assert!(matches!(err, Error::Service { error_code: Some(ref c), link: Some(_), .. } if c == "FunctionNotFound"));
    }
}
