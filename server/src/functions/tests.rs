//! The runtime's HTTPS-endpoint calls and run-as resolution, over a host with no database (the
//! MongoDB side is covered by tests/functions_runtime.rs and the endpoint tests over HTTP).

use super::*;
use bson::{spec::BinarySubtype, Binary};

/// Users `u1` and `u2` exist; MongoDB calls fail.
struct NoDatabase;

impl FunctionHost for NoDatabase {
    fn mongo(&self, _: &RunAs, _: &str, _: &str, _: Document) -> HostFuture<Bson> {
        Box::pin(async { Err(HostError { code: "MongoDBError".into(), message: "no database in this test".into() }) })
    }

    fn user(&self, id: &str) -> HostFuture<Option<UserInfo>> {
        let found = ["u1", "u2"].contains(&id).then(|| UserInfo::with_id(id));
        Box::pin(async move { Ok(found) })
    }
}

fn functions(defs: &[(&str, &str)], scripts: Vec<RunAsScript>) -> Result<Functions, crate::config::ConfigError> {
    let defs = defs.iter().map(|(n, s)| FunctionDef::new(n, s)).collect();
    let limits = Limits { timeout: Duration::from_secs(10), pool_size: 2, ..Limits::default() };
    Functions::with_run_as_scripts(defs, scripts, Values::default(), AppInfo::default(), Arc::new(NoDatabase), limits)
}

fn request(body: Option<&str>) -> Document {
    let mut r = doc! {"query": {"name": "Ada"}, "headers": {"X-Tag": ["a", "b"]}};
    if let Some(b) = body {
        r.insert("body", Binary { subtype: BinarySubtype::Generic, bytes: b.as_bytes().to_vec() });
    }
    r
}

fn script(name: &str, source: &str) -> RunAsScript {
    RunAsScript { name: name.into(), source: source.into(), file: "https_endpoints/config.json".into(), key: "[0].run_as_user_id_script_source".into() }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_function_gets_request_and_response() {
    let f = functions(
        &[
            ("echo", r#"exports = async function (request, response) {
                const body = JSON.parse(request.body.text());
                response.setStatusCode(201);
                response.setHeader("Content-Type", "text/plain");
                response.setHeader("content-type", "text/csv");
                response.addHeader("Cache-Control", "max-age=600");
                response.addHeader("Cache-Control", "min-fresh=60");
                response.setBody(`${request.query.name}:${body.n}:${request.headers["X-Tag"].join(",")}:${request.body instanceof BSON.Binary}`);
                return "ignored when a body is set";
            }"#),
            ("plain", "exports = (request, response) => ({ hasBody: request.body !== undefined, when: new Date(0) })"),
            ("binary", "exports = (req, res) => { res.setBody(BSON.Binary.fromHex('00ff')); }"),
        ],
        Vec::new(),
    )
    .expect("compile");
    let reply = f.call_endpoint("echo", request(Some(r#"{"n": 7}"#)), CallEnv::system()).await.expect("echo");
    assert_eq!(reply.status, Some(201));
    assert_eq!(
        reply.headers,
        vec![("content-type".into(), "text/csv".into()), ("Cache-Control".into(), "max-age=600".into()), ("Cache-Control".into(), "min-fresh=60".into())],
        "setHeader replaces whatever the case, addHeader appends"
    );
    assert_eq!(reply.body.as_deref(), Some(&b"Ada:7:a,b:true"[..]));
    assert_eq!(reply.result, Some(Bson::String("ignored when a body is set".into())));

    let reply = f.call_endpoint("plain", request(None), CallEnv::system()).await.expect("plain");
    assert_eq!(reply.result, Some(Bson::Document(doc! {"hasBody": false, "when": bson::DateTime::from_millis(0)})));
    assert_eq!((reply.status, reply.headers.len(), reply.body), (None, 0, None));
    let reply = f.call_endpoint("binary", request(None), CallEnv::system()).await.expect("binary");
    assert_eq!((reply.body, reply.result), (Some(vec![0, 255]), None), "undefined is no result");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_responses_throw_in_the_function() {
    let f = functions(
        &[
            ("badStatus", "exports = (q, r) => r.setStatusCode(101)"),
            ("badName", "exports = (q, r) => r.setHeader('Bad Name', 'x')"),
            ("badValue", "exports = (q, r) => r.addHeader('X-Split', 'a\\r\\nSet-Cookie: evil=1')"),
            ("badBody", "exports = (q, r) => r.setBody({ an: 'object' })"),
            ("frozen", "exports = (q, r) => { r.setStatusCode = () => {}; return 1; }"),
        ],
        Vec::new(),
    )
    .expect("compile");
    for (name, says) in [
        ("badStatus", "not a final HTTP status code"),
        ("badName", "not a valid header name"),
        ("badValue", "line breaks"),
        ("badBody", "response.setBody"),
    ] {
        match f.call_endpoint(name, request(None), CallEnv::system()).await {
            Err(FunctionError::Execution { name: kind, message }) => assert!(kind == "TypeError" && message.contains(says), "{name}: {kind}: {message}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    let reply = f.call_endpoint("frozen", request(None), CallEnv::system()).await.expect("sloppy assignment ignored");
    assert_eq!((reply.status, reply.result), (None, Some(Bson::Int32(1))), "the response object is frozen");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_as_settings_and_scripts_of_endpoints() {
    let scripts = vec![
        script("endpoint GET /a", "exports = (request) => request.query.as"),
        script("data api", "exports = () => ({ runAsSystem: true })"),
    ];
    let f = functions(&[("noop", "exports = () => 1")], scripts).expect("compile");
    let caller = CallEnv::client(UserInfo::with_id("u2"), None);
    let args = [Bson::Document(doc! {"query": {"as": "u1"}})];
    let resolve = |setting: RunAsSetting, owner: &'static str| {
        let (f, caller) = (&f, caller.clone());
        let args = args.clone();
        async move { f.run_as(owner, &setting, &args, &caller).await }
    };
    assert_eq!(resolve(RunAsSetting::Caller, "x").await, Ok(RunAs::User(UserInfo::with_id("u2"))));
    assert_eq!(resolve(RunAsSetting::System, "x").await, Ok(RunAs::System));
    assert_eq!(resolve(RunAsSetting::UserId("u1".into()), "x").await, Ok(RunAs::User(UserInfo::with_id("u1"))));
    assert!(matches!(resolve(RunAsSetting::UserId("nobody".into()), "x").await, Err(FunctionError::RunAs { .. })));
    assert_eq!(resolve(RunAsSetting::Script(String::new()), "endpoint GET /a").await, Ok(RunAs::User(UserInfo::with_id("u1"))));
    assert_eq!(resolve(RunAsSetting::Script(String::new()), "data api").await, Ok(RunAs::System));
    assert!(matches!(resolve(RunAsSetting::Script(String::new()), "unknown").await, Err(FunctionError::NotFound(_))));

    let e = functions(&[], vec![script("endpoint GET /b", "exports = (")]).err().expect("syntax error");
    assert!(e.file.ends_with("https_endpoints/config.json") && e.key == "[0].run_as_user_id_script_source", "{e}");
    let taken = FunctionDef { run_as: RunAsSetting::Script("exports = () => 'u1'".into()), ..FunctionDef::new("data api", "exports = () => 1") };
    let limits = Limits { pool_size: 1, ..Limits::default() };
    let e = Functions::with_run_as_scripts(vec![taken], vec![script("data api", "exports = () => 'u2'")], Values::default(), AppInfo::default(), Arc::new(NoDatabase), limits)
        .err()
        .expect("two scripts of one name");
    assert!(e.reason.contains("already exists"), "{e}");
}
