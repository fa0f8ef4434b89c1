//! Test support (native unit tests only): a scripted in-memory fake of the App Services HTTP
//! API behind the [`Transport`] trait, and a tiny executor.

use std::cell::{Cell, RefCell};
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use base64::Engine as _;

use crate::app::{App, AppConfig};
use crate::error::Result;
use crate::transport::{ByteStream, LocalBoxFuture, Method, Request, Response, Streamed, Transport};

fn noop_waker() -> Waker {
    const VTABLE: RawWakerVTable = RawWakerVTable::new(|p| RawWaker::new(p, &VTABLE), |_| {}, |_| {}, |_| {});
    // SAFETY: the vtable functions do nothing and never dereference the data pointer.
    unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
}

/// Polls futures to completion (the fake transport never really waits).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    for _ in 0..1_000_000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("future did not complete");
}

/// Runs two futures concurrently.
pub fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    block_on(async {
        let mut a = Box::pin(a);
        let mut b = Box::pin(b);
        let (mut ra, mut rb) = (None, None);
        std::future::poll_fn(|cx| {
            if ra.is_none() {
                if let Poll::Ready(v) = a.as_mut().poll(cx) {
                    ra = Some(v);
                }
            }
            if rb.is_none() {
                if let Poll::Ready(v) = b.as_mut().poll(cx) {
                    rb = Some(v);
                }
            }
            if ra.is_some() && rb.is_some() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        (ra.expect("a"), rb.expect("b"))
    })
}

/// Pending once, then ready: lets concurrent calls interleave.
struct YieldOnce(bool);
impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

/// Builds a JWT-shaped token.
pub fn jwt(payload: &str) -> String {
    format!(
        "eyJhbGciOiJIUzI1NiJ9.{}.c2ln",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload)
    )
}

/// The chunks of one streaming body; `Err` = the connection is lost there.
pub type StreamScript = Vec<std::result::Result<Vec<u8>, ()>>;

/// The fake server's state.
#[derive(Default)]
pub struct FakeState {
    pub requests: RefCell<Vec<Request>>,
    pub valid_access: RefCell<HashSet<String>>,
    pub valid_refresh: RefCell<HashSet<String>>,
    pub issued: Cell<u32>,
    pub custom_data: RefCell<String>,
    /// Answer every access-token call with 401 InvalidSession, even fresh tokens.
    pub always_401: Cell<bool>,
    /// Make the location request fail with 500 this many times.
    pub location_failures: Cell<u32>,
    /// Answer the function call with this (status, body) instead.
    pub function_answer: RefCell<Option<(u16, String)>>,
    /// One script per streaming request.
    pub streams: RefCell<VecDeque<StreamScript>>,
    /// The transport's clock (`None`: no clock).
    pub now_ms: Cell<Option<f64>>,
}

impl FakeState {
    fn issue_access(&self) -> String {
        let n = self.issued.get() + 1;
        self.issued.set(n);
        let data = self.custom_data.borrow().clone();
        let data = if data.is_empty() { String::new() } else { format!(",\"user_data\":{data}") };
        let t = jwt(&format!("{{\"exp\":{},\"iat\":1,\"sub\":\"u1\"{data}}}", 1000 + n));
        self.valid_access.borrow_mut().insert(t.clone());
        t
    }

    /// Makes every issued access token invalid (as if expired).
    pub fn expire_access_tokens(&self) {
        self.valid_access.borrow_mut().clear();
    }

    /// Requests sent to `path_suffix`.
    pub fn count(&self, method: Method, path_suffix: &str) -> usize {
        self.requests
            .borrow()
            .iter()
            .filter(|r| r.method == method && r.url.ends_with(path_suffix))
            .count()
    }

    fn bearer(req: &Request) -> String {
        req.header("Authorization").and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("").to_owned()
    }

    fn invalid_session() -> Response {
        Response::json(401, r#"{"error":"invalid session: token expired","error_code":"InvalidSession","link":"http://logs"}"#)
    }

    fn handle(&self, req: &Request) -> Response {
        let path = req.url.split_once("://").map(|(_, rest)| rest).unwrap_or(&req.url);
        let path = &path[path.find('/').unwrap_or(path.len())..];
        let access_ok = |req: &Request| !self.always_401.get() && self.valid_access.borrow().contains(&Self::bearer(req));
        match (req.method, path) {
            (Method::Get, "/api/client/v2.0/app/my-app/location") => {
                if self.location_failures.get() > 0 {
                    self.location_failures.set(self.location_failures.get() - 1);
                    return Response::json(500, r#"{"error":"down"}"#);
                }
                Response::json(200, r#"{"hostname":"http://loc.test","ws_hostname":"ws://loc.test","deployment_model":"GLOBAL","location":"US-VA"}"#)
            }
            (Method::Post, "/api/client/v2.0/app/my-app/auth/providers/local-userpass/login?link=true")
            | (Method::Post, "/api/client/v2.0/app/my-app/auth/providers/api-key/login?link=true") => {
                if !access_ok(req) {
                    return Self::invalid_session();
                }
                let at = self.issue_access();
                let id = if req.body.as_deref().is_some_and(|b| b.contains("\"other\"")) { "u9" } else { "u1" };
                Response::json(200, format!(r#"{{"user_id":"{id}","access_token":"{at}","device_id":"65aaaaaaaaaaaaaaaaaaaaaa"}}"#))
            }
            (Method::Post, "/api/client/v2.0/app/my-app/auth/providers/local-userpass/login") => {
                if req.body.as_deref().is_some_and(|b| b.contains("\"wrong\"")) {
                    return Response::json(401, r#"{"error":"invalid username/password","error_code":"InvalidPassword","link":"http://logs"}"#);
                }
                self.valid_refresh.borrow_mut().insert("rt1".into());
                let at = self.issue_access();
                Response::json(200, format!(r#"{{"user_id":"u1","access_token":"{at}","refresh_token":"rt1","device_id":"65aaaaaaaaaaaaaaaaaaaaaa"}}"#))
            }
            (Method::Post, "/api/client/v2.0/app/my-app/auth/providers/anon-user/login") => {
                self.valid_refresh.borrow_mut().insert("rt2".into());
                let at = self.issue_access();
                Response::json(200, format!(r#"{{"user_id":"u2","access_token":"{at}","refresh_token":"rt2","device_id":"000000000000000000000000"}}"#))
            }
            (Method::Post, p) if p.starts_with("/api/client/v2.0/app/my-app/auth/providers/local-userpass/") => {
                Response::json(200, "{}")
            }
            (Method::Delete, "/api/client/v2.0/auth/delete") => {
                if !access_ok(req) {
                    return Self::invalid_session();
                }
                self.valid_refresh.borrow_mut().clear();
                Response { status: 204, ..Response::default() }
            }
            (_, p) if p.starts_with("/api/client/v2.0/auth/api_keys") => {
                if !self.valid_refresh.borrow().contains(&Self::bearer(req)) {
                    return Self::invalid_session();
                }
                match req.method {
                    Method::Post => Response::json(201, r#"{"_id":"k1","key":"secret","name":"n","disabled":false}"#),
                    Method::Get if p.ends_with("api_keys") => Response::json(200, r#"[{"_id":"k1","name":"n","disabled":false}]"#),
                    Method::Get => Response::json(200, r#"{"_id":"k1","name":"n","disabled":false}"#),
                    _ => Response { status: 204, ..Response::default() },
                }
            }
            (Method::Post, "/api/client/v2.0/app/my-app/auth/providers/local-userpass/register") => Response {
                status: 201,
                ..Response::default()
            },
            (Method::Get, "/api/client/v2.0/auth/profile") => {
                if !access_ok(req) {
                    return Self::invalid_session();
                }
                Response::json(200, r#"{"user_id":"u1","type":"normal","identities":[{"id":"i1","provider_type":"local-userpass"}],"data":{"email":"a@b.c"}}"#)
            }
            (Method::Post, "/api/client/v2.0/auth/session") => {
                if !self.valid_refresh.borrow().contains(&Self::bearer(req)) {
                    return Self::invalid_session();
                }
                let at = self.issue_access();
                Response::json(201, format!(r#"{{"access_token":"{at}"}}"#))
            }
            (Method::Delete, "/api/client/v2.0/auth/session") => {
                if !self.valid_refresh.borrow_mut().remove(&Self::bearer(req)) {
                    return Self::invalid_session();
                }
                Response { status: 204, ..Response::default() }
            }
            (Method::Post, "/api/client/v2.0/app/my-app/functions/call") => {
                if !access_ok(req) {
                    return Self::invalid_session();
                }
                match self.function_answer.borrow().clone() {
                    Some((status, body)) => Response::json(status, body),
                    None => Response::json(200, r#"{"matchedCount":{"$numberInt":"1"},"modifiedCount":{"$numberInt":"1"}}"#),
                }
            }
            (Method::Put | Method::Delete, "/api/client/v2.0/app/my-app/push/providers/gcm/registration") => {
                if !access_ok(req) {
                    return Self::invalid_session();
                }
                Response::json(200, "{}")
            }
            _ => Response::json(404, r#"{"error":"no route","error_code":"NotFound"}"#),
        }
    }
}

/// A scripted streaming body.
struct FakeBody(RefCell<VecDeque<std::result::Result<Vec<u8>, ()>>>);

impl ByteStream for FakeBody {
    fn read(&self) -> LocalBoxFuture<'static, Result<Option<Vec<u8>>>> {
        let next = self.0.borrow_mut().pop_front();
        Box::pin(async move {
            match next {
                None => Ok(None),
                Some(Ok(chunk)) => Ok(Some(chunk)),
                Some(Err(())) => Err(crate::Error::Network { method: "GET".into(), url: "u".into(), message: "reset".into() }),
            }
        })
    }
    fn cancel(&self) {
        self.0.borrow_mut().clear();
    }
}

/// A [`Transport`] answering from a [`FakeState`].
pub struct FakeTransport {
    pub state: Rc<FakeState>,
    /// Yield once before answering, so concurrent calls interleave.
    pub yield_first: bool,
}

impl Transport for FakeTransport {
    fn send(&self, request: Request) -> LocalBoxFuture<'static, Result<Response>> {
        let state = self.state.clone();
        let yield_first = self.yield_first;
        Box::pin(async move {
            if yield_first {
                YieldOnce(false).await;
            }
            state.requests.borrow_mut().push(request.clone());
            Ok(state.handle(&request))
        })
    }

    fn stream(&self, request: Request) -> LocalBoxFuture<'static, Result<Streamed>> {
        let state = self.state.clone();
        Box::pin(async move {
            state.requests.borrow_mut().push(request.clone());
            if !state.valid_access.borrow().contains(&FakeState::bearer(&request)) {
                return Ok(Streamed::Failed(FakeState::invalid_session()));
            }
            let script = state.streams.borrow_mut().pop_front().unwrap_or_default();
            Ok(Streamed::Body(Rc::new(FakeBody(RefCell::new(script.into())))))
        })
    }

    fn now_ms(&self) -> Option<f64> {
        self.state.now_ms.get()
    }
}

/// An app `my-app` at `http://base.test` talking to a fresh fake server.
pub fn fake_app(yield_first: bool) -> (App, Rc<FakeState>) {
    let state = Rc::new(FakeState::default());
    let mut config = AppConfig::new("my-app");
    config.base_url = "http://base.test".into();
    config.timeout_ms = Some(5000);
    let app = App::new(config, Rc::new(FakeTransport { state: state.clone(), yield_first })).expect("app");
    (app, state)
}
