//! Test bodies shared by the Node (`tests/node.rs`) and browser (`tests/web.rs`) suites. They
//! drive the exported JS classes through their JS surface (method names as JS sees them) against
//! a real realm-wasm-server whose URL is baked in at compile time from `REALM_BASE_URL`.

/// Declares every shared test body below as a `#[wasm_bindgen_test]` of the including suite.
macro_rules! shared_suite {
    () => {
        shared_suite!(
            custom_user_data_flow,
            wrong_password_rejects_with_realm_error,
            fetch_override_and_timeout,
            values_round_trip,
            watch_over_streaming_fetch,
            watch_against_server,
        );
    };
    ($($name:ident),+ $(,)?) => {
        $(
            #[wasm_bindgen_test::wasm_bindgen_test]
            async fn $name() {
                common::$name().await;
            }
        )+
    };
}

use js_sys::{Function, Object, Promise, Reflect};
use realm_wasm::wasm::{Credentials, JsApp};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The server under test; the suites must fail (not skip) without it.
pub fn base_url() -> &'static str {
    match option_env!("REALM_BASE_URL") {
        Some(url) if !url.is_empty() => url,
        _ => panic!(
            "REALM_BASE_URL was not set when the wasm tests were compiled: start a server and export it, e.g. \
             `node scripts/server.mjs -- wasm-pack test --mode no-install --node`"
        ),
    }
}

pub fn app_id() -> &'static str {
    option_env!("REALM_APP_ID").unwrap_or("realm-wasm-demo")
}

pub fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or_else(|_| panic!("get {key}"))
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    Reflect::set(target, &JsValue::from_str(key), value).unwrap();
}

/// Calls `target[name](...args)`.
pub fn call(target: &JsValue, name: &str, args: &[JsValue]) -> JsValue {
    let f: Function = get(target, name).dyn_into().unwrap_or_else(|_| panic!("{name} is not a function"));
    let array = js_sys::Array::new();
    for a in args {
        array.push(a);
    }
    f.apply(target, &array).unwrap_or_else(|e| panic!("{name} threw {e:?}"))
}

/// Calls a method returning a promise and awaits it.
pub async fn call_async(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let p: Promise = call(target, name, args).dyn_into().unwrap_or_else(|_| panic!("{name} did not return a Promise"));
    JsFuture::from(p).await
}

pub fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o: JsValue = Object::new().into();
    for (k, v) in pairs {
        set(&o, k, v);
    }
    o
}

pub fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

/// A fresh `{get, set, remove}` store, so an App shares no users with other tests.
pub fn memory_storage() -> JsValue {
    Function::new_no_args("const m = new Map(); return { get: (k) => m.get(k), set: (k, v) => { m.set(k, v); }, remove: (k) => { m.delete(k); } };")
        .call0(&JsValue::UNDEFINED)
        .expect("memory storage")
}

pub fn new_app(extra: &[(&str, JsValue)]) -> JsValue {
    let mut pairs = vec![
        ("id", s(app_id())),
        ("baseUrl", s(base_url())),
        ("timeout", JsValue::from(10_000)),
        ("storage", memory_storage()),
    ];
    pairs.extend(extra.iter().cloned());
    JsValue::from(JsApp::new(obj(&pairs)).unwrap_or_else(|e| panic!("new App: {e:?}")))
}

pub fn unique_email() -> String {
    format!("wbt-{}@example.com", (js_sys::Math::random() * 1e16) as u64)
}

fn message(err: &JsValue) -> String {
    get(err, "message").as_string().unwrap_or_default()
}

/// The issue's main flow: register → logIn → insertOne → updateOne → refreshCustomData → logOut.
pub async fn custom_user_data_flow() {
    let app = new_app(&[]);
    let (email, password) = (unique_email(), "secret123");
    let auth = get(&app, "emailPasswordAuth");
    let registered = call_async(&auth, "registerUser", &[obj(&[("email", s(&email)), ("password", s(password))])])
        .await
        .expect("registerUser");
    assert!(registered.is_undefined());

    let credentials = JsValue::from(Credentials::email_password(s(&email), s(password)).unwrap());
    let user = call_async(&app, "logIn", &[credentials]).await.expect("logIn");
    let user_id = get(&user, "id").as_string().expect("user.id");
    assert!(!user_id.is_empty());
    assert_eq!(get(&user, "state").as_string().as_deref(), Some("active"));
    assert_eq!(get(&user, "isLoggedIn").as_bool(), Some(true));
    assert!(get(&user, "accessToken").as_string().is_some_and(|t| t.split('.').count() == 3));
    assert!(get(&app, "currentUser") == user, "app.currentUser is the same User object");
    assert_eq!(get(&get(&user, "profile"), "email").as_string(), Some(email.clone()));

    let service = call(&user, "mongoClient", &[s("mongodb-atlas")]);
    let db = call(&service, "db", &[s("app")]);
    let coll = call(&db, "collection", &[s("users")]);
    let inserted = call_async(&coll, "insertOne", &[obj(&[("userID", s(&user_id)), ("description", s("wasm-bindgen-test"))])])
        .await
        .expect("insertOne");
    // Without __setBson the ObjectId comes back EJSON-shaped.
    let inserted_id = get(&get(&inserted, "insertedId"), "$oid").as_string().expect("insertedId.$oid");
    assert_eq!(inserted_id.len(), 24);

    let filter = obj(&[("userID", s(&user_id))]);
    let update = obj(&[("$set", obj(&[("favoriteColor", s("pink"))]))]);
    let updated = call_async(&coll, "updateOne", &[filter.clone(), update]).await.expect("updateOne");
    assert_eq!(get(&updated, "matchedCount").as_f64(), Some(1.0));
    assert_eq!(get(&updated, "modifiedCount").as_f64(), Some(1.0));

    // customData is stale until refreshed.
    assert!(get(&get(&user, "customData"), "favoriteColor").is_undefined());
    let data = call_async(&user, "refreshCustomData", &[]).await.expect("refreshCustomData");
    assert_eq!(get(&data, "favoriteColor").as_string().as_deref(), Some("pink"));
    assert_eq!(get(&data, "userID").as_string(), Some(user_id.clone()));
    assert_eq!(get(&data, "description").as_string().as_deref(), Some("wasm-bindgen-test"));
    assert_eq!(get(&get(&data, "_id"), "$oid").as_string(), Some(inserted_id));
    let custom = get(&user, "customData");
    assert_eq!(get(&custom, "favoriteColor").as_string().as_deref(), Some("pink"));
    // customData is read-only.
    let _ = Reflect::set(&user, &s("customData"), &obj(&[]));
    assert_eq!(get(&get(&user, "customData"), "favoriteColor").as_string().as_deref(), Some("pink"));

    let found = call_async(&coll, "find", std::slice::from_ref(&filter)).await.expect("find");
    assert_eq!(js_sys::Array::from(&found).length(), 1);
    let count = call_async(&coll, "count", &[filter]).await.expect("count");
    assert_eq!(count.as_f64(), Some(1.0));

    call_async(&user, "logOut", &[]).await.expect("logOut");
    assert_eq!(get(&user, "isLoggedIn").as_bool(), Some(false));
    assert_eq!(get(&user, "state").as_string().as_deref(), Some("logged-out"));
    assert!(get(&app, "currentUser").is_null());
    let err = call_async(&coll, "count", &[]).await.expect_err("collection call after logOut must reject");
    assert!(err.is_instance_of::<js_sys::Error>());
    assert!(message(&err).contains("User is not logged in"), "{}", message(&err));
}

/// A wrong password rejects with a MongoDBRealmError (a real Error) carrying the HTTP details.
pub async fn wrong_password_rejects_with_realm_error() {
    let app = new_app(&[]);
    let (email, password) = (unique_email(), "secret123");
    let auth = get(&app, "emailPasswordAuth");
    call_async(&auth, "registerUser", &[obj(&[("email", s(&email)), ("password", s(password))])])
        .await
        .expect("registerUser");
    let credentials = JsValue::from(Credentials::email_password(s(&email), s("not-the-password")).unwrap());
    let err = call_async(&app, "logIn", &[credentials]).await.expect_err("wrong password must reject");
    assert!(err.is_instance_of::<js_sys::Error>(), "a real Error");
    let proto = Object::get_prototype_of(&err);
    assert_eq!(get(&get(&proto, "constructor"), "name").as_string().as_deref(), Some("MongoDBRealmError"));
    let status = get(&err, "statusCode").as_f64().expect("statusCode");
    assert!((400.0..500.0).contains(&status), "status {status}");
    assert_eq!(get(&err, "method").as_string().as_deref(), Some("POST"));
    let url = get(&err, "url").as_string().expect("url");
    assert!(url.ends_with("/auth/providers/local-userpass/login"), "{url}");
    let msg = message(&err);
    assert!(msg.starts_with(&format!("Request failed (POST {url}): ")), "{msg}");
    assert!(msg.contains(&format!("(status {}", status as u16)), "{msg}");
    assert!(get(&app, "currentUser").is_null());
}

/// The `fetch` override receives every request as `(url, init)` like realm-web's; a fetch that
/// never answers hits the timeout, whether or not it listens to the abort signal.
pub async fn fetch_override_and_timeout() {
    let counter = obj(&[("n", JsValue::from(0))]);
    let make = Function::new_with_args("c", "return (url, init) => { c.n += 1; return globalThis.fetch(url, init); };");
    let fetch = make.call1(&JsValue::UNDEFINED, &counter).expect("make fetch");
    let app = new_app(&[("fetch", fetch)]);
    let auth = get(&app, "emailPasswordAuth");
    call_async(&auth, "registerUser", &[obj(&[("email", s(&unique_email())), ("password", s("secret123"))])])
        .await
        .expect("registerUser through the fetch override");
    assert_eq!(get(&counter, "n").as_f64(), Some(2.0), "location + register went through the override");

    let hanging = Function::new_with_args(
        "url, init",
        "return new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));",
    );
    let slow = new_app(&[("fetch", hanging.into()), ("timeout", JsValue::from(50))]);
    let err = call_async(&slow, "logIn", &[JsValue::from(Credentials::anonymous(JsValue::UNDEFINED).unwrap())]).await.expect_err("timeout");
    assert!(message(&err).contains("timed out after 50 ms"), "{}", message(&err));

    let deaf = Function::new_with_args("url, init", "return new Promise(() => {});");
    let deaf = new_app(&[("fetch", deaf.into()), ("timeout", JsValue::from(50))]);
    let err = call_async(&deaf, "logIn", &[JsValue::from(Credentials::anonymous(JsValue::UNDEFINED).unwrap())]).await.expect_err("timeout");
    assert!(message(&err).contains("timed out after 50 ms"), "{}", message(&err));
}

/// JS values survive a trip through the server: numbers, Dates, nested arrays, EJSON-shaped
/// objects (the fallback without a `bson` module), query options.
pub async fn values_round_trip() {
    let app = new_app(&[]);
    let user = call_async(&app, "logIn", &[JsValue::from(Credentials::anonymous(JsValue::UNDEFINED).unwrap())]).await.expect("anonymous logIn");
    let again = call_async(&app, "logIn", &[JsValue::from(Credentials::anonymous(JsValue::UNDEFINED).unwrap())]).await.expect("anonymous reuse");
    assert!(again == user, "an active anonymous user is reused");
    let coll = call(&call(&call(&user, "mongoClient", &[s("mongodb-atlas")]), "db", &[s("test")]), "collection", &[s(&unique_email())]);
    let date = js_sys::Date::new(&JsValue::from(1_700_000_000_123.0));
    let doc = obj(&[
        ("int", JsValue::from(7)),
        ("long", JsValue::from(2f64.powi(40))),
        ("double", JsValue::from(1.5)),
        ("date", date.into()),
        ("dec", obj(&[("$numberDecimal", s("12.50"))])),
        ("nested", js_sys::Array::of3(&JsValue::from(1), &s("two"), &obj(&[("three", JsValue::TRUE)])).into()),
        ("nothing", JsValue::NULL),
    ]);
    call_async(&coll, "insertMany", &[js_sys::Array::of2(&doc, &obj(&[("int", JsValue::from(8))])).into()]).await.expect("insertMany");
    let found = call_async(&coll, "findOne", &[obj(&[("int", JsValue::from(7))])]).await.expect("findOne");
    assert_eq!(get(&found, "int").as_f64(), Some(7.0));
    assert_eq!(get(&found, "long").as_f64(), Some(2f64.powi(40)));
    assert_eq!(get(&found, "double").as_f64(), Some(1.5));
    let date = get(&found, "date");
    assert!(date.is_instance_of::<js_sys::Date>(), "a Date comes back as a Date");
    assert_eq!(date.unchecked_ref::<js_sys::Date>().get_time(), 1_700_000_000_123.0);
    assert_eq!(get(&get(&found, "dec"), "$numberDecimal").as_string().as_deref(), Some("12.50"));
    let nested = js_sys::Array::from(&get(&found, "nested"));
    assert_eq!(nested.get(1).as_string().as_deref(), Some("two"));
    assert_eq!(get(&nested.get(2), "three").as_bool(), Some(true));
    assert!(get(&found, "nothing").is_null());
    let sorted = call_async(&coll, "find", &[obj(&[]), obj(&[("sort", obj(&[("int", JsValue::from(-1))])), ("limit", JsValue::from(1))])])
        .await
        .expect("find with options");
    let sorted = js_sys::Array::from(&sorted);
    assert_eq!(sorted.length(), 1);
    assert_eq!(get(&sorted.get(0), "int").as_f64(), Some(8.0));
    let deleted = call_async(&coll, "deleteMany", &[]).await.expect("deleteMany");
    assert_eq!(get(&deleted, "deletedCount").as_f64(), Some(2.0));
    let err = call_async(&coll, "insertOne", &[s("not a document")]).await.expect_err("bad argument rejects");
    assert!(message(&err).contains("insertOne(document): document must be an object"), "{}", message(&err));
    // Every method's arguments are checked in parameter order, each error naming its parameter.
    let doc = obj(&[]);
    for (method, args, expected) in [
        ("updateOne", vec![doc.clone(), doc.clone(), s("x")], "updateOne(filter, update, options): options must be an object, got string"),
        ("findOneAndReplace", vec![doc.clone(), s("x")], "findOneAndReplace(filter, replacement, options): replacement must be an object"),
        ("find", vec![s("x"), s("y")], "find(filter, options): filter must be an object"),
        ("count", vec![doc.clone(), js_sys::Array::new().into()], "count(filter, options): options must be an object, got object"),
        ("aggregate", vec![s("x")], "aggregate(pipeline): pipeline must be an array of documents"),
        ("deleteOne", vec![JsValue::from(1)], "deleteOne(filter): filter must be an object"),
    ] {
        let err = call_async(&coll, method, &args).await.expect_err(method);
        assert!(message(&err).contains(expected), "{method}: {}", message(&err));
    }
}

/// A fetch answering like App Services (protocol.md) for one anonymous user, whose streaming
/// calls return `ReadableStream` bodies: the first drops after two events, the second (the
/// resume) sends one more and stays open. `state` records the watch URLs and cancellations.
fn streaming_fetch(state: &JsValue) -> JsValue {
    let make = Function::new_with_args(
        "state",
        r#"
        const json = (b) => new Response(JSON.stringify(b), { headers: { "content-type": "application/json" } });
        const b64 = (o) => btoa(JSON.stringify(o)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
        const at = `${b64({ alg: "HS256" })}.${b64({ exp: 4000000000, iat: 1, sub: "u1" })}.c2ln`;
        const ev = (n) => `data: {"_id":{"_data":"t${n}"},"operationType":"insert","fullDocument":{"n":${n}}}\n\n`;
        const scripts = [[":\n\n", ev(1), ev(2).slice(0, 9), ev(2).slice(9), null], [ev(3)]];
        return async (url, init) => {
          if (url.endsWith("/location")) return json({ hostname: "http://fake.test" });
          if (url.endsWith("/login")) return json({ user_id: "u1", access_token: at, refresh_token: "rt", device_id: "000000000000000000000000" });
          if (url.includes("baas_request=")) {
            state.urls.push(url);
            const script = scripts.shift() ?? [];
            const enc = new TextEncoder();
            const body = new ReadableStream({
              pull(c) {
                if (script.length === 0) return new Promise(() => {});
                const chunk = script.shift();
                if (chunk === null) c.close(); else c.enqueue(enc.encode(chunk));
              },
              cancel() { state.cancelled += 1; },
            });
            return new Response(body, { headers: { "content-type": "text/event-stream" } });
          }
          return new Response(null, { status: 404 });
        };
        "#,
    );
    make.call1(&JsValue::UNDEFINED, state).expect("streaming fetch")
}

/// `watch()` over a real `fetch` body stream: events in order across a dropped connection (the
/// reconnect carries `resumeAfter`), and `return()` cancels the open body.
pub async fn watch_over_streaming_fetch() {
    let state = obj(&[("urls", js_sys::Array::new().into()), ("cancelled", JsValue::from(0))]);
    let app = JsValue::from(
        JsApp::new(obj(&[("id", s("fake")), ("baseUrl", s("http://base.test")), ("fetch", streaming_fetch(&state)), ("storage", memory_storage())]))
            .expect("app"),
    );
    let user = call_async(&app, "logIn", &[JsValue::from(Credentials::anonymous(JsValue::FALSE).unwrap()), JsValue::FALSE])
        .await
        .expect("logIn");
    let coll = call(&call(&call(&user, "mongoClient", &[s("mongodb-atlas")]), "db", &[s("d")]), "collection", &[s("c")]);
    let stream = call(&coll, "watch", &[]);
    let iterator = call(&stream, "next", &[]);
    assert!(iterator.is_instance_of::<Promise>());
    let mut seen = Vec::new();
    let mut result = JsFuture::from(iterator.unchecked_into::<Promise>()).await.expect("next");
    for _ in 0..3 {
        assert_eq!(get(&result, "done").as_bool(), Some(false));
        seen.push(get(&get(&get(&result, "value"), "fullDocument"), "n").as_f64().expect("n"));
        if seen.len() < 3 {
            result = call_async(&stream, "next", &[]).await.expect("next");
        }
    }
    assert_eq!(seen, [1.0, 2.0, 3.0]);
    let urls = js_sys::Array::from(&get(&state, "urls"));
    assert_eq!(urls.length(), 2, "one reconnect");
    let resumed = urls.get(1).as_string().expect("url");
    let query = resumed.split("baas_request=").nth(1).expect("baas_request");
    let decoded = js_sys::decode_uri_component(query).expect("uri").as_string().expect("b64");
    let text = web_sys_atob(&decoded);
    assert!(text.contains(r#""resumeAfter":{"_data":"t2"}"#), "{text}");
    let done = call_async(&stream, "return", &[]).await.expect("return");
    assert_eq!(get(&done, "done").as_bool(), Some(true));
    assert_eq!(get(&state, "cancelled").as_f64(), Some(1.0), "return() cancelled the body");
    let after = call_async(&stream, "next", &[]).await.expect("next after return");
    assert_eq!(get(&after, "done").as_bool(), Some(true));
}

fn web_sys_atob(b64: &str) -> String {
    Function::new_with_args("s", "return atob(s)").call1(&JsValue::UNDEFINED, &s(b64)).expect("atob").as_string().expect("text")
}

/// `watch()` against the real server (in the browser: SSE over a cross-origin `fetch`, so CORS):
/// insert, update and delete events in order with `fullDocument` and `updateDescription`, `%`
/// intact, then `return()` ends the stream with no reconnect. The fetch override only reports
/// when the watch response arrived — from then on the server delivers every change.
pub async fn watch_against_server() {
    let state = Function::new_no_args(
        r#"
        const s = { watches: 0 };
        let opened;
        s.opened = new Promise((r) => { opened = r; });
        s.fetch = async (url, init) => {
          const response = await globalThis.fetch(url, init);
          if (url.includes("baas_request=")) { s.watches += 1; opened(); }
          return response;
        };
        return s;
        "#,
    )
    .call0(&JsValue::UNDEFINED)
    .expect("watch state");
    let app = new_app(&[("fetch", get(&state, "fetch"))]);
    let user = call_async(&app, "logIn", &[JsValue::from(Credentials::anonymous(JsValue::FALSE).unwrap())]).await.expect("logIn");
    let coll = call(&call(&call(&user, "mongoClient", &[s("mongodb-atlas")]), "db", &[s("test")]), "collection", &[s(&unique_email())]);
    let stream = call(&coll, "watch", &[]);
    let first: Promise = call(&stream, "next", &[]).dyn_into().expect("next() returns a Promise");
    JsFuture::from(get(&state, "opened").unchecked_into::<Promise>()).await.expect("watch opened");
    let id = obj(&[("_id", s("doc-1"))]);
    call_async(&coll, "insertOne", &[obj(&[("_id", s("doc-1")), ("n", JsValue::from(1)), ("s", s("50% off"))])]).await.expect("insertOne");
    call_async(&coll, "updateOne", &[id.clone(), obj(&[("$inc", obj(&[("n", JsValue::from(1))]))])]).await.expect("updateOne");
    call_async(&coll, "deleteOne", &[id]).await.expect("deleteOne");

    let value = |result: &JsValue| {
        assert_eq!(get(result, "done").as_bool(), Some(false), "an event, not the end");
        get(result, "value")
    };
    let insert = value(&JsFuture::from(first).await.expect("first event"));
    assert_eq!(get(&insert, "operationType").as_string().as_deref(), Some("insert"));
    assert_eq!(get(&get(&insert, "fullDocument"), "s").as_string().as_deref(), Some("50% off"));
    assert_eq!(get(&get(&insert, "documentKey"), "_id").as_string().as_deref(), Some("doc-1"));
    let update = value(&call_async(&stream, "next", &[]).await.expect("second event"));
    assert_eq!(get(&update, "operationType").as_string().as_deref(), Some("update"));
    assert_eq!(get(&get(&get(&update, "updateDescription"), "updatedFields"), "n").as_f64(), Some(2.0));
    assert_eq!(get(&get(&update, "fullDocument"), "n").as_f64(), Some(2.0));
    let delete = value(&call_async(&stream, "next", &[]).await.expect("third event"));
    assert_eq!(get(&delete, "operationType").as_string().as_deref(), Some("delete"));
    assert!(get(&delete, "fullDocument").is_undefined());
    assert!(get(&stream, "resumeToken") != JsValue::UNDEFINED, "the last event's _id");

    let done = call_async(&stream, "return", &[]).await.expect("return");
    assert_eq!(get(&done, "done").as_bool(), Some(true));
    call_async(&coll, "insertOne", &[obj(&[("n", JsValue::from(3))])]).await.expect("insert after return");
    let after = call_async(&stream, "next", &[]).await.expect("next after return");
    assert_eq!(get(&after, "done").as_bool(), Some(true), "no event after return()");
    assert_eq!(get(&state, "watches").as_f64(), Some(1.0), "one watch request, no reconnect");
}
