//! `collection.watch()`: a change stream over the streaming function call (protocol §6.3, §11)
//! that, unlike realm-web, resumes after a dropped connection or a stream the server ended for its
//! session: it reconnects with `resumeAfter` = the `_id` of the last event it delivered, so nothing
//! is lost or repeated.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use super::sse::{self, SseParser};
use crate::ejson::{self, Document, Value};
use crate::error::{Error, Result};
use crate::fetcher;
use crate::routes;
use crate::transport::ByteStream;
use crate::user::User;

/// Reconnect attempts in a row without an event in between before the stream gives up.
const MAX_RECONNECTS: u32 = 3;
/// `error_code` of the error event that ends a stream whose access token expired or whose session ended.
const SESSION_ENDED: &str = "InvalidSession";

struct Inner {
    user: User,
    service: String,
    /// `{database, collection, ids?, filter?}`.
    args: Document,
    resume: bool,
    body: RefCell<Option<Rc<dyn ByteStream>>>,
    parser: RefCell<SseParser>,
    pending: RefCell<VecDeque<Result<Value>>>,
    resume_token: RefCell<Option<Value>>,
    closed: Cell<bool>,
    busy: Cell<bool>,
}

/// An open change stream; `next()` yields change events until `close()`.
#[derive(Clone)]
pub struct ChangeStream(Rc<Inner>);

/// Clears the `busy` flag when `next()` finishes or is dropped.
struct Busy<'a>(&'a Cell<bool>);
impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl ChangeStream {
    pub(crate) fn new(user: User, service: String, args: Document, resume: bool) -> ChangeStream {
        ChangeStream(Rc::new(Inner {
            user,
            service,
            args,
            resume,
            body: RefCell::new(None),
            parser: RefCell::new(SseParser::default()),
            pending: RefCell::new(VecDeque::new()),
            resume_token: RefCell::new(None),
            closed: Cell::new(false),
            busy: Cell::new(false),
        }))
    }

    /// The `_id` (resume token) of the last delivered event.
    pub fn resume_token(&self) -> Option<Value> {
        self.0.resume_token.borrow().clone()
    }

    /// True once closed (by `close()`, an error or the end of a non-resuming stream).
    pub fn is_closed(&self) -> bool {
        self.0.closed.get()
    }

    /// Stops the stream and closes the connection; a pending `next()` resolves to `None`.
    pub fn close(&self) {
        self.0.closed.set(true);
        self.0.pending.borrow_mut().clear();
        let body = self.0.body.borrow_mut().take();
        if let Some(body) = body {
            body.cancel();
        }
    }

    fn fail(&self, err: Error) -> Result<Option<Value>> {
        self.close();
        Err(err)
    }

    async fn open(&self) -> Result<Rc<dyn ByteStream>> {
        let mut args = self.0.args.clone();
        if let Some(token) = self.resume_token() {
            args.insert("resumeAfter", token);
        }
        let request = Document::new()
            .with("name", "watch")
            .with("arguments", vec![Value::Document(args)])
            .with("service", self.0.service.as_str());
        let app = self.0.user.host();
        let path = routes::functions_call_streaming(app.app_id(), &ejson::to_canonical_string(&Value::Document(request)));
        fetcher::stream(&*app, &path, &self.0.user).await
    }

    /// The next change event; `None` once the stream is closed.
    pub async fn next(&self) -> Result<Option<Value>> {
        if self.0.busy.replace(true) {
            return Err(Error::InvalidArgument(
                "watch(): next() was called again before the previous next() settled".to_owned(),
            ));
        }
        let _busy = Busy(&self.0.busy);
        let mut reconnects = 0;
        loop {
            let item = self.0.pending.borrow_mut().pop_front();
            match item {
                Some(Ok(event)) => {
                    if let Some(id) = event.as_document().and_then(|d| d.get("_id")) {
                        *self.0.resume_token.borrow_mut() = Some(id.clone());
                    }
                    return Ok(Some(event));
                }
                Some(Err(err)) => return self.fail(err),
                None => {}
            }
            if self.is_closed() {
                return Ok(None);
            }
            let current = self.0.body.borrow().clone();
            let body = match current {
                Some(body) => body,
                None => match self.open().await {
                    Ok(body) if self.is_closed() => {
                        body.cancel();
                        return Ok(None);
                    }
                    Ok(body) => {
                        *self.0.body.borrow_mut() = Some(body.clone());
                        body
                    }
                    Err(err @ Error::Network { .. }) if reconnects > 0 && reconnects < MAX_RECONNECTS => {
                        let _ = err;
                        reconnects += 1;
                        continue;
                    }
                    Err(err) => return self.fail(err),
                },
            };
            let read = body.read().await;
            if self.is_closed() {
                return Ok(None);
            }
            match read {
                Ok(Some(chunk)) => {
                    let events = self.0.parser.borrow_mut().push(&chunk);
                    let mut pending = self.0.pending.borrow_mut();
                    for event in &events {
                        match sse::decode(event) {
                            Ok(Some(change)) => pending.push_back(Ok(change)),
                            Ok(None) => {}
                            // The server ends a stream whose access token expired or whose session
                            // ended with this error (protocol §11.3): with `resume` that is a dropped
                            // connection, and the reconnect refreshes the token (or fails with the
                            // refresh's error).
                            Err(Error::Watch { code, .. }) if self.0.resume && code == SESSION_ENDED => {
                                body.cancel();
                                break;
                            }
                            Err(err) => pending.push_back(Err(err)),
                        }
                    }
                    if !pending.is_empty() {
                        reconnects = 0;
                    }
                }
                Ok(None) | Err(Error::Network { .. }) => {
                    let truncated = std::mem::take(&mut *self.0.parser.borrow_mut()).is_mid_event();
                    self.0.body.borrow_mut().take();
                    let lost = match &read {
                        Err(e) => e.to_string(),
                        _ if truncated => "the stream ended in the middle of an event".to_owned(),
                        _ => "the server ended the stream".to_owned(),
                    };
                    if !self.0.resume {
                        return match read {
                            Err(err) => self.fail(err),
                            Ok(_) if truncated => self.fail(Error::Watch { code: "stream truncated".to_owned(), message: lost }),
                            Ok(_) => {
                                self.close();
                                Ok(None)
                            }
                        };
                    }
                    reconnects += 1;
                    if reconnects > MAX_RECONNECTS {
                        return self.fail(Error::Watch {
                            code: "connection lost".to_owned(),
                            message: format!("{lost}; {MAX_RECONNECTS} reconnects in a row brought no event"),
                        });
                    }
                }
                Err(err) => return self.fail(err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::credentials::Credentials;
    use crate::ejson::{self, Value};
    use crate::error::Error;
    use crate::mongo::WatchOptions;
    use crate::testing::{block_on, fake_app, FakeState};
    use crate::transport::Method;
    use std::rc::Rc;

    fn setup() -> (Rc<FakeState>, crate::mongo::MongoDBCollection) {
        let (app, state) = fake_app(false);
        let user = block_on(app.log_in(&Credentials::email_password("a@b.c", "pw"), false)).unwrap();
        (state, user.mongo_client("mongodb-atlas").db("db").collection("c"))
    }

    fn event(n: i32) -> Vec<u8> {
        format!("data: {{\"_id\":{{\"_data\":\"t{n}\"}},\"operationType\":\"insert\",\"fullDocument\":{{\"n\":{n}}}}}\n\n").into_bytes()
    }

    fn n_of(v: &Value) -> i32 {
        match v.as_document().and_then(|d| d.get("fullDocument")).and_then(Value::as_document).and_then(|d| d.get("n")) {
            Some(Value::Int32(n)) => *n,
            other => panic!("{other:?}"),
        }
    }

    /// The decoded `baas_request` of every streaming request.
    fn watch_requests(state: &FakeState) -> Vec<String> {
        use base64::Engine as _;
        state
            .requests
            .borrow()
            .iter()
            .filter(|r| r.header("Accept") == Some("text/event-stream"))
            .map(|r| {
                let q = r.url.split("baas_request=").nth(1).unwrap().replace("%2B", "+").replace("%2F", "/").replace("%3D", "=");
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(q).unwrap()).unwrap()
            })
            .collect()
    }

    #[test]
    fn events_then_resume_after_a_dropped_stream() {
        let (state, c) = setup();
        // Stream 1: a keep-alive, two events (the second split across chunks), then the connection drops.
        let e2 = event(2);
        state.streams.borrow_mut().push_back(vec![Ok(b":\n\n".to_vec()), Ok(event(1)), Ok(e2[..10].to_vec()), Ok(e2[10..].to_vec()), Err(())]);
        // Stream 2 (the reconnect): one more event, then an error event.
        state.streams.borrow_mut().push_back(vec![Ok(event(3)), Ok(b"event: error\ndata: {\"error\":\"boom\",\"error_code\":\"MongoDBError\"}\n\n".to_vec())]);
        let filter = ejson::parse(r#"{"operationType":"insert"}"#).unwrap();
        let w = c.watch(WatchOptions { ids: None, filter: Some(filter), resume: true });
        let got: Vec<i32> = (0..3).map(|_| n_of(&block_on(w.next()).unwrap().unwrap())).collect();
        assert_eq!(got, [1, 2, 3], "nothing lost, nothing repeated");
        assert_eq!(block_on(w.next()).unwrap_err(), Error::Watch { code: "MongoDBError".into(), message: "boom".into() });
        assert!(w.is_closed());
        assert_eq!(block_on(w.next()).unwrap(), None);
        let sent = watch_requests(&state);
        assert_eq!(
            sent,
            [
                r#"{"name":"watch","arguments":[{"database":"db","collection":"c","filter":{"operationType":"insert"}}],"service":"mongodb-atlas"}"#,
                r#"{"name":"watch","arguments":[{"database":"db","collection":"c","filter":{"operationType":"insert"},"resumeAfter":{"_data":"t2"}}],"service":"mongodb-atlas"}"#,
            ]
        );
        let req = state.requests.borrow().iter().find(|r| r.url.contains("baas_request")).cloned().unwrap();
        assert_eq!(req.method, Method::Get);
        assert!(req.header("Authorization").unwrap().starts_with("Bearer "));
    }

    #[test]
    fn without_resume_the_end_ends_iteration_and_truncation_is_an_error() {
        let (state, c) = setup();
        let no_resume = || WatchOptions { resume: false, ..Default::default() };
        state.streams.borrow_mut().push_back(vec![Ok(event(1))]);
        let w = c.watch(no_resume());
        assert_eq!(n_of(&block_on(w.next()).unwrap().unwrap()), 1);
        assert_eq!(block_on(w.next()).unwrap(), None);
        state.streams.borrow_mut().push_back(vec![Ok(b"data: {\"a\":".to_vec())]);
        let w = c.watch(no_resume());
        assert!(matches!(block_on(w.next()).unwrap_err(), Error::Watch { code, .. } if code == "stream truncated"));
        assert_eq!(watch_requests(&state).len(), 2, "no reconnects");
    }

    #[test]
    fn reconnects_are_bounded_and_close_stops() {
        let (state, c) = setup();
        let w = c.watch(WatchOptions::default());
        // Every stream ends at once: 1 + 3 reconnects, then an error.
        assert!(matches!(block_on(w.next()).unwrap_err(), Error::Watch { code, .. } if code == "connection lost"));
        assert_eq!(watch_requests(&state).len(), 4);
        state.streams.borrow_mut().push_back(vec![Ok(event(1)), Ok(event(2))]);
        let w = c.watch(WatchOptions::default());
        assert_eq!(n_of(&block_on(w.next()).unwrap().unwrap()), 1);
        w.close();
        assert_eq!(block_on(w.next()).unwrap(), None);
    }

    #[test]
    fn a_stream_ended_for_its_session_reconnects_with_a_fresh_token() {
        let (state, c) = setup();
        let session_over = b"event: error\ndata: {\"error\":\"invalid session: access token expired\",\"error_code\":\"InvalidSession\"}\n\n".to_vec();
        state.streams.borrow_mut().push_back(vec![Ok(event(1)), Ok(session_over.clone())]);
        state.streams.borrow_mut().push_back(vec![Ok(event(2))]);
        let w = c.watch(WatchOptions::default());
        assert_eq!(n_of(&block_on(w.next()).unwrap().unwrap()), 1);
        // The server ended the stream because the token expired: the reconnect refreshes it first.
        state.expire_access_tokens();
        assert_eq!(n_of(&block_on(w.next()).unwrap().unwrap()), 2, "nothing lost after the session error");
        assert_eq!(state.count(Method::Post, "/auth/session"), 1);
        // The first stream, the reconnect refused for its expired token, the same after the refresh.
        let sent = watch_requests(&state);
        assert_eq!(sent.len(), 3);
        assert!(sent[1..].iter().all(|r| r.contains(r#""resumeAfter":{"_data":"t1"}"#)), "{sent:?}");
        // Without resume, the error frame ends the watch as it does for realm-web.
        state.streams.borrow_mut().push_back(vec![Ok(session_over)]);
        let w = c.watch(WatchOptions { resume: false, ..Default::default() });
        assert!(matches!(block_on(w.next()).unwrap_err(), Error::Watch { code, .. } if code == "InvalidSession"));
    }

    #[test]
    fn a_rejected_token_is_refreshed_once() {
        let (state, c) = setup();
        state.expire_access_tokens();
        state.streams.borrow_mut().push_back(vec![Ok(event(7))]);
        let w = c.watch(WatchOptions::default());
        assert_eq!(n_of(&block_on(w.next()).unwrap().unwrap()), 7);
        assert_eq!(state.count(Method::Post, "/auth/session"), 1);
    }
}
