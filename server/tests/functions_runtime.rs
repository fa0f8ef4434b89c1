//! The Functions runtime called directly (no HTTP yet): export loading in both layouts, BSON
//! types across the boundary, the `context` object and globals, rules for run-as-user versus
//! system over a real store and real rule sets, and hostile functions next to good ones.

use bson::{doc, oid::ObjectId, spec::BinarySubtype, Binary, Bson, DateTime, Decimal128, JavaScriptCodeWithScope, Regex, Timestamp};
use realm_wasm_server::{load_functions, load_values, AppInfo, CallEnv, FunctionDef, FunctionError, FunctionLimits as Limits, Functions, RequestInfo, RuleSet, UserInfo, Values};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

mod functions_host;
use functions_host::Host;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn app_info() -> AppInfo {
    AppInfo {
        id: "functions-app-abcde".into(),
        client_app_id: "functions-app-abcde".into(),
        name: "functions-app".into(),
        deployment_model: "LOCAL".into(),
        provider_region: "US-VA".into(),
        mongo_services: vec!["mongodb-atlas".into()],
        ..AppInfo::default()
    }
}

fn limits() -> Limits {
    Limits { timeout: Duration::from_secs(30), pool_size: 4, ..Limits::default() }
}

/// The fixture export's functions plus `extra`, over a fresh store.
fn runtime_with(extra: &[(&str, &str)], limits: Limits) -> (Functions, Arc<Host>) {
    let dir = fixture("functions-app");
    let mut defs = load_functions(&dir).expect("functions");
    defs.extend(extra.iter().map(|(name, source)| FunctionDef::new(name, source)));
    let values = load_values(&dir).expect("values");
    let sources = realm_wasm_server::load_data_sources(&dir).expect("data sources");
    let host = Arc::new(Host::new(RuleSet::from_data_source(&sources[0]).expect("rules")));
    let functions = Functions::new(defs, values, app_info(), host.clone(), limits).expect("compile");
    (functions, host)
}

fn user(id: &str) -> CallEnv {
    CallEnv::client(UserInfo::with_id(id), None)
}

fn system() -> CallEnv {
    CallEnv::system()
}

#[tokio::test(flavor = "multi_thread")]
async fn both_export_layouts_load_and_run() {
    let (f, _) = runtime_with(&[], limits());
    assert_eq!(f.call("sum", vec![Bson::Int32(2), Bson::Int32(3)], user("u1")).await, Ok(Bson::Int32(5)));
    assert_eq!(f.call("noConfig", vec![], user("u1")).await, Ok(Bson::String("defaults".into())));
    assert_eq!(f.call("nope", vec![], user("u1")).await, Err(FunctionError::NotFound("nope".into())));

    let legacy = fixture("functions-legacy");
    let defs = load_functions(&legacy).expect("legacy layout");
    assert_eq!(defs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["hello", "math/add"]);
    let host = Arc::new(Host::new(RuleSet::default()));
    let f = Functions::new(defs, Values::default(), app_info(), host, limits()).expect("compile");
    assert_eq!(f.call("hello", vec![Bson::String("you".into())], user("u1")).await, Ok(Bson::String("hello you".into())));
    assert_eq!(f.call("math/add", vec![Bson::Int32(1), Bson::Double(0.5)], user("u1")).await, Ok(Bson::Double(1.5)));
}

#[test]
fn a_bad_source_stops_start_up_naming_its_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let write = |rel: &str, text: &str| {
        let p = tmp.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write("functions/config.json", r#"[{"name": "ok"}, {"name": "broken"}]"#);
    write("functions/ok.js", "exports = () => 1;");
    write("functions/broken.js", "exports = function (a {\n  return a;\n};");
    let defs = load_functions(tmp.path()).expect("configs are fine");
    let host = Arc::new(Host::new(RuleSet::default()));
    let e = Functions::new(defs, Values::default(), app_info(), host.clone(), limits()).err().expect("syntax error");
    assert!(e.file.ends_with("functions/broken.js"), "{e}");
    assert!(e.reason.contains("SyntaxError"), "{e}");

    write("functions/broken.js", "exports = () => 2;");
    write("functions/config.json", r#"[{"name": "ok", "run_as_user_id_script_source": "exports = function ( {"}]"#);
    let defs = load_functions(tmp.path()).expect("configs are fine");
    let e = Functions::new(defs, Values::default(), app_info(), host, limits()).err().expect("script syntax error");
    assert!(e.file.ends_with("functions/ok.js") && e.key == "run_as_user_id_script_source", "{e}");
}

fn every_type() -> Vec<Bson> {
    vec![
        Bson::Double(1.5),
        Bson::Double(-0.25e300),
        Bson::Int32(-7),
        Bson::Int64(9_007_199_254_740_993),
        Bson::Int64(-5),
        Bson::String("héllo ✓".into()),
        Bson::Boolean(true),
        Bson::Null,
        Bson::Array(vec![Bson::Int32(1), Bson::String("two".into()), Bson::Document(doc! {"three": 3})]),
        Bson::Document(doc! {"a": {"b": [1, {"c": null}]}, "__proto__": "data, not a prototype", "1": "numeric key"}),
        Bson::ObjectId(ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").expect("oid")),
        Bson::DateTime(DateTime::from_millis(1_700_000_000_123)),
        Bson::DateTime(DateTime::from_millis(-86_400_000)),
        Bson::RegularExpression(Regex { pattern: "^a.c$".into(), options: "imx".into() }),
        Bson::Timestamp(Timestamp { time: 1_700_000_000, increment: 7 }),
        Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: vec![0, 1, 2, 255] }),
        Bson::Binary(Binary { subtype: BinarySubtype::UserDefined(0x80), bytes: vec![9] }),
        Bson::Binary(Binary { subtype: BinarySubtype::Uuid, bytes: (1..=16).collect() }),
        Bson::Decimal128(Decimal128::from_str("-12345.6789E-10").expect("decimal")),
        Bson::MinKey,
        Bson::MaxKey,
        Bson::JavaScriptCode("function () { return 1; }".into()),
        Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope { code: "x + 1".into(), scope: doc! {"x": 1} }),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bson_type_round_trips() {
    let (f, _) = runtime_with(&[], limits());
    let args = every_type();
    let out = f.call("echo", args.clone(), user("u1")).await.expect("echo");
    let out = out.as_document().expect("document");
    assert_eq!(out.get_array("args").expect("args"), &args);
    let kinds: Vec<&str> = out.get_array("kinds").expect("kinds").iter().filter_map(Bson::as_str).collect();
    assert_eq!(
        kinds,
        [
            "number", "number", "number", "Long", "Long", "string", "boolean", "null", "array", "object", "ObjectId", "Date", "Date", "BSONRegExp",
            "Timestamp", "Binary", "Binary", "UUID", "Decimal128", "MinKey", "MaxKey", "Code", "Code"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn values_made_in_js_keep_their_bson_types() {
    let source = r#"exports = function () {
        const arr = [1, undefined, () => 1];
        return {
            oid: new BSON.ObjectId("65a1b2c3d4e5f60718293a4b"),
            long: BSON.Long.fromString("9007199254740993"),
            longBits: new BSON.Long(1, 2),
            int32: new BSON.Int32(5),
            double: new BSON.Double(2),
            decimal: BSON.Decimal128.fromString("1.50"),
            bin: BSON.Binary.fromHex("0102ff", 5),
            b64: BSON.Binary.fromBase64("aGk="),
            uuid: new BSON.UUID("01020304-0506-0708-090a-0b0c0d0e0f10"),
            ts: new BSON.Timestamp({ t: 10, i: 3 }),
            re: new BSON.BSONRegExp("x+", "si"),
            jsRe: /ab/gi,
            date: new Date(86400000),
            min: new BSON.MinKey(), max: new BSON.MaxKey(),
            buf: Buffer.from("hi"),
            u8: new Uint8Array([7, 8]),
            int: 2, float: 1.25, big: 2 ** 40, neg0: -0, bigint: 12n,
            arr, skipped: undefined, fn: () => 1,
            ejson: EJSON.parse('{"n": {"$numberLong": "5"}, "o": {"$oid": "65a1b2c3d4e5f60718293a4b"}}', { relaxed: false }),
            text: EJSON.stringify({ d: new Date(0), l: BSON.Long.fromNumber(3) }, { relaxed: false }),
        };
    };"#;
    let (f, _) = runtime_with(&[("types", source)], limits());
    let out = f.call("types", vec![], system()).await.expect("types");
    let expected = doc! {
        "oid": ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").expect("oid"),
        "long": Bson::Int64(9_007_199_254_740_993),
        "longBits": Bson::Int64((2i64 << 32) | 1),
        "int32": Bson::Int32(5),
        "double": Bson::Double(2.0),
        "decimal": Bson::Decimal128(Decimal128::from_str("1.50").expect("dec")),
        "bin": Binary { subtype: BinarySubtype::Md5, bytes: vec![1, 2, 255] },
        "b64": Binary { subtype: BinarySubtype::Generic, bytes: b"hi".to_vec() },
        "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: (1..=16).collect() },
        "ts": Timestamp { time: 10, increment: 3 },
        "re": Regex { pattern: "x+".into(), options: "is".into() },
        "jsRe": Regex { pattern: "ab".into(), options: "i".into() },
        "date": DateTime::from_millis(86_400_000),
        "min": Bson::MinKey, "max": Bson::MaxKey,
        "buf": Binary { subtype: BinarySubtype::Generic, bytes: b"hi".to_vec() },
        "u8": Binary { subtype: BinarySubtype::Generic, bytes: vec![7, 8] },
        "int": 2, "float": 1.25, "big": 1_099_511_627_776.0f64, "neg0": Bson::Double(-0.0), "bigint": Bson::Int64(12),
        "arr": [1, Bson::Null, Bson::Null],
        "ejson": {"n": Bson::Int64(5), "o": ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").expect("oid")},
        "text": r#"{"d":{"$date":{"$numberLong":"0"}},"l":{"$numberLong":"3"}}"#,
    };
    assert_eq!(out, Bson::Document(expected));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_context_object_and_globals() {
    let source = r#"exports = async function (x) {
        const out = {};
        out.app = context.app;
        out.env = context.environment;
        out.greeting = context.values.get("greeting");
        out.apiKey = context.values.get("apiKey");
        out.missing = context.values.get("nope") === undefined;
        out.user = context.user;
        out.request = context.request;
        out.system = context.runningAsSystem();
        out.sum = await context.functions.execute("sum", x, 1);
        out.private = await context.functions.execute("util/secret");
        try { context.functions.execute("nope"); } catch (e) { out.notFound = e.message; }
        try { require("lodash"); } catch (e) { out.require = e.message; }
        out.buffer = require("buffer").Buffer.from("hi").toString("base64");
        out.unknownService = context.services.get("other") === undefined;
        console.log("a log line", { n: 1 });
        out.timer = await new Promise((resolve) => setTimeout(() => resolve("fired"), 5));
        let cleared = "not fired";
        const t = setTimeout(() => { cleared = "fired"; }, 1);
        clearTimeout(t);
        await new Promise((resolve) => setTimeout(resolve, 10));
        out.cleared = cleared;
        out.b64 = btoa("hello");
        out.unb64 = atob("aGVsbG8=");
        out.text = new TextDecoder().decode(new TextEncoder().encode("✓ ok"));
        out.sha256 = utils.crypto.hash("sha256", "abc").toHex();
        out.md5 = utils.crypto.hash("md5", "").toHex();
        out.hmac = utils.crypto.hmac("what do ya want for nothing?", "Jefe", "sha256", "hex");
        const key = "0123456789abcdef0123456789abcdef";
        out.aes = utils.crypto.decrypt("aes", utils.crypto.encrypt("aes", "secret text", key), key).text();
        const token = utils.jwt.encode("HS256", { sub: "u1", n: 1 }, "shh", { kid: "k" });
        out.jwt = utils.jwt.decode(token, "shh", true, ["HS256"]);
        out.leak = (globalThis.leaked = (globalThis.leaked || 0) + 1);
        return out;
    };"#;
    let (f, _) = runtime_with(&[("ctx", source)], limits());
    let request = RequestInfo {
        remote_ip_address: "127.0.0.1".into(),
        request_headers: vec![("X-Test".into(), vec!["1".into()])],
        http_method: "POST".into(),
        raw_query_string: "a=1".into(),
        action: Some("ctx".into()),
        ..RequestInfo::default()
    };
    let mut env = CallEnv::client(UserInfo { data: doc! {"email": "a@b.c"}, ..UserInfo::with_id("u1") }, Some(request));
    env.request_id = Some("req-1".into());
    let out = f.call("ctx", vec![Bson::Int32(41)], env.clone()).await.expect("ctx");
    let out = out.as_document().expect("doc");
    let app = out.get_document("app").expect("app");
    assert_eq!((app.get_str("id"), app.get_str("name")), (Ok("functions-app-abcde"), Ok("functions-app")));
    assert_eq!(app.get_document("deployment").expect("deployment"), &doc! {"model": "LOCAL", "providerRegion": "US-VA"});
    assert_eq!(out.get_document("env").expect("env"), &doc! {"tag": "development", "values": {"baseUrl": "http://dev.example"}});
    assert_eq!(out.get_document("greeting").expect("value"), &doc! {"text": "hello", "n": 3});
    assert_eq!(out.get_str("apiKey"), Ok("fixture-only-not-a-real-secret"));
    assert_eq!(out.get_bool("missing"), Ok(true));
    assert_eq!(out.get_document("user").expect("user"), &doc! {"id": "u1", "type": "normal", "data": {"email": "a@b.c"}, "custom_data": {}, "identities": []});
    let req = out.get_document("request").expect("request");
    assert_eq!((req.get_str("remoteIPAddress"), req.get_str("httpMethod"), req.get_str("rawQueryString")), (Ok("127.0.0.1"), Ok("POST"), Ok("a=1")));
    assert_eq!(req.get_document("requestHeaders").expect("headers"), &doc! {"X-Test": ["1"]});
    assert_eq!(out.get_bool("system"), Ok(false));
    assert_eq!(out.get_i32("sum"), Ok(42));
    assert_eq!(out.get_str("private"), Ok("from a private function"));
    assert_eq!(out.get_str("notFound"), Ok("function not found: 'nope'"));
    assert!(out.get_str("require").expect("require").contains("require('lodash')"));
    assert_eq!(out.get_str("buffer"), Ok("aGk="));
    assert_eq!(out.get_bool("unknownService"), Ok(true));
    assert_eq!((out.get_str("timer"), out.get_str("cleared")), (Ok("fired"), Ok("not fired")));
    assert_eq!((out.get_str("b64"), out.get_str("unb64"), out.get_str("text")), (Ok("aGVsbG8="), Ok("hello"), Ok("✓ ok")));
    assert_eq!(out.get_str("sha256"), Ok("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    assert_eq!(out.get_str("md5"), Ok("d41d8cd98f00b204e9800998ecf8427e"));
    assert_eq!(out.get_str("hmac"), Ok("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
    assert_eq!(out.get_str("aes"), Ok("secret text"));
    let jwt = out.get_document("jwt").expect("jwt");
    assert_eq!(jwt.get_document("payload").expect("payload"), &doc! {"sub": "u1", "n": 1});
    assert_eq!(jwt.get_document("header").expect("header").get_str("kid"), Ok("k"));
    assert_eq!(out.get_i32("leak"), Ok(1));
    // A second call starts from clean globals: nothing the first one set is left.
    let again = f.call("ctx", vec![Bson::Int32(1)], env).await.expect("again");
    assert_eq!(again.as_document().and_then(|d| d.get_i32("leak").ok()), Some(1));
    // As system: no caller, so context.user is the system user.
    let sys = f.call("ctx", vec![Bson::Int32(1)], system()).await.expect("system");
    let sys = sys.as_document().expect("doc");
    assert_eq!(sys.get_bool("system"), Ok(true));
    assert_eq!(sys.get_document("user").expect("user").get_str("type"), Ok("system"));
    assert!(!sys.contains_key("request"));
}

#[tokio::test(flavor = "multi_thread")]
async fn collection_methods_as_system() {
    let source = r#"exports = async function () {
        const c = context.services.get("mongodb-atlas").db("shop").collection("items");
        const r = {};
        r.insertOne = await c.insertOne({ _id: 1, name: "a", tags: ["x", "y"], qty: 5 });
        r.insertMany = await c.insertMany([{ _id: 2, name: "b", tags: ["y"], qty: 1 }, { _id: 3, name: "c", tags: [], qty: 9 }, { _id: 4, name: "d", qty: 3 }]);
        r.find = await c.find({ qty: { $gte: 3 } }, { name: 1 }).sort({ qty: -1 }).limit(2).toArray();
        r.skip = await c.find({}).sort({ _id: 1 }).skip(1).limit(2).toArray();
        const cursor = c.find({}, { _id: 1 }).sort({ _id: -1 });
        r.next = [await cursor.next(), await cursor.next()];
        r.findOne = await c.findOne({ name: "b" }, { _id: 0, name: 1 });
        r.count = await c.count({ qty: { $gt: 2 } });
        r.countDocuments = await c.countDocuments({}, { skip: 1 });
        r.distinct = await c.distinct("tags");
        r.aggregate = await c.aggregate([{ $group: { _id: null, total: { $sum: "$qty" } } }]).toArray();
        r.updateOne = await c.updateOne({ _id: 1 }, { $inc: { qty: 1 } });
        r.upsert = await c.updateOne({ _id: 5 }, { $set: { name: "e" } }, { upsert: true });
        r.updateMany = await c.updateMany({ qty: { $lt: 4 } }, { $set: { low: true } });
        r.replaceOne = await c.replaceOne({ _id: 4 }, { name: "d2" });
        r.after = await c.findOne({ _id: 4 });
        r.foau = await c.findOneAndUpdate({ _id: 2 }, { $set: { qty: 0 } }, { returnNewDocument: true, projection: { qty: 1 } });
        r.foar = await c.findOneAndReplace({ _id: 3 }, { name: "c2" });
        r.foad = await c.findOneAndDelete({ _id: 5 });
        r.bulk = await c.bulkWrite([{ insertOne: { document: { _id: 6 } } }, { deleteOne: { filter: { _id: 6 } } }, { updateOne: { filter: { _id: 1 }, update: { $set: { bulk: 1 } } } }]);
        r.deleteOne = await c.deleteOne({ _id: 1 });
        r.deleteMany = await c.deleteMany({});
        try { await c.insertOne({ _id: 2 }); await c.insertOne({ _id: 2 }); } catch (e) { r.duplicate = e.code; }
        return r;
    };"#;
    let (f, _) = runtime_with(&[("crud", source)], limits());
    let r = f.call("crud", vec![], system()).await.expect("crud");
    let r = r.as_document().expect("doc");
    assert_eq!(r.get_document("insertOne").expect("insertOne"), &doc! {"insertedId": 1});
    assert_eq!(r.get_document("insertMany").expect("insertMany"), &doc! {"insertedIds": [2, 3, 4]});
    assert_eq!(r.get_array("find").expect("find"), &vec![Bson::Document(doc! {"_id": 3, "name": "c"}), Bson::Document(doc! {"_id": 1, "name": "a"})]);
    let ids = |key: &str| -> Vec<Bson> { r.get_array(key).expect(key).iter().map(|d| d.as_document().and_then(|d| d.get("_id")).cloned().unwrap_or(Bson::Null)).collect() };
    assert_eq!(ids("skip"), [Bson::Int32(2), Bson::Int32(3)]);
    assert_eq!(ids("next"), [Bson::Int32(4), Bson::Int32(3)]);
    assert_eq!(r.get_document("findOne").expect("findOne"), &doc! {"name": "b"});
    assert_eq!(r.get("count"), Some(&Bson::Int32(3)), "count is a JS number");
    assert_eq!(r.get("countDocuments"), Some(&Bson::Int32(3)));
    assert_eq!(r.get_array("distinct").expect("distinct"), &vec![Bson::String("x".into()), Bson::String("y".into())]);
    assert_eq!(r.get_array("aggregate").expect("aggregate"), &vec![Bson::Document(doc! {"_id": null, "total": 18})]);
    assert_eq!(r.get_document("updateOne").expect("updateOne"), &doc! {"matchedCount": 1, "modifiedCount": 1});
    assert_eq!(r.get_document("upsert").expect("upsert"), &doc! {"matchedCount": 0, "modifiedCount": 0, "upsertedId": 5});
    assert_eq!(r.get_document("updateMany").expect("updateMany").get_i32("matchedCount"), Ok(2));
    assert_eq!(r.get_document("after").expect("after"), &doc! {"_id": 4, "name": "d2"});
    assert_eq!(r.get_document("foau").expect("foau"), &doc! {"_id": 2, "qty": 0});
    assert_eq!(r.get_document("foar").expect("foar").get_str("name"), Ok("c"), "the document before, by default");
    assert_eq!(r.get_document("foad").expect("foad"), &doc! {"_id": 5, "name": "e"});
    assert_eq!(r.get("bulk"), Some(&Bson::Null));
    assert_eq!(r.get_document("deleteOne").expect("deleteOne"), &doc! {"deletedCount": 1});
    assert_eq!(r.get_document("deleteMany").expect("deleteMany"), &doc! {"deletedCount": 3});
    assert_eq!(r.get_str("duplicate"), Ok("MongoDBError"));
}

fn ids(v: &Bson) -> Vec<String> {
    v.as_array().expect("array").iter().filter_map(|d| d.as_document()?.get_str("owner_id").ok().map(str::to_string)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_apply_to_the_run_as_user_and_not_to_system() {
    let (f, _) = runtime_with(&[], limits());
    let s = |v: &str| Bson::String(v.into());
    // Each user may insert only their own note.
    assert!(f.call("notes", vec![s("insert"), Bson::Document(doc! {"owner_id": "u1", "t": 1})], user("u1")).await.is_ok());
    assert!(f.call("notes", vec![s("insert"), Bson::Document(doc! {"owner_id": "u2", "t": 2})], user("u2")).await.is_ok());
    let denied = f.call("notes", vec![s("insert"), Bson::Document(doc! {"owner_id": "u2"})], user("u1")).await;
    assert!(matches!(&denied, Err(FunctionError::Execution { message, .. }) if message.contains("insert not permitted")), "{denied:?}");
    // Reads, updates and deletes see only the caller's documents…
    assert_eq!(ids(&f.call("notes", vec![s("find")], user("u1")).await.expect("find")), ["u1"]);
    assert_eq!(ids(&f.call("notes", vec![s("find")], user("u2")).await.expect("find")), ["u2"]);
    let upd = f.call("notes", vec![s("update"), Bson::Document(doc! {"seen": true})], user("u1")).await.expect("update");
    assert_eq!(upd.as_document().and_then(|d| d.get_i32("matchedCount").ok()), Some(1));
    // …but a system function sees and changes everything.
    assert_eq!(ids(&f.call("notesAsSystem", vec![s("find")], user("u1")).await.expect("system find")), ["u1", "u2"]);
    assert_eq!(ids(&f.call("notes", vec![s("find")], system()).await.expect("called as system")), ["u1", "u2"]);
    assert!(f.call("notesAsSystem", vec![s("insert"), Bson::Document(doc! {"owner_id": "u3"})], user("u1")).await.is_ok());
    // run_as_user_id: always as u2, whoever calls.
    assert_eq!(ids(&f.call("notesAsU2", vec![s("find")], user("u1")).await.expect("as u2")), ["u2"]);
    // The run-as script picks system or a user id.
    assert_eq!(ids(&f.call("notesByScript", vec![s("find"), Bson::Null, s("system")], user("u1")).await.expect("script system")), ["u1", "u2", "u3"]);
    assert_eq!(ids(&f.call("notesByScript", vec![s("find"), Bson::Null, s("u2")], user("u1")).await.expect("script user")), ["u2"]);
    let missing = f.call("notesByScript", vec![s("find"), Bson::Null, s("ghost")], user("u1")).await;
    assert!(matches!(missing, Err(FunctionError::RunAs { .. })), "{missing:?}");
    let del = f.call("notes", vec![s("delete")], user("u2")).await.expect("delete");
    assert_eq!(del, Bson::Document(doc! {"deletedCount": 1}));
    assert_eq!(f.call("notesAsSystem", vec![s("count")], user("u2")).await, Ok(Bson::Int32(2)));

    // Private functions: not from a client, but from another function and from the server.
    assert_eq!(f.call("util/secret", vec![], user("u1")).await, Err(FunctionError::Private("util/secret".into())));
    assert_eq!(f.call("callsSecret", vec![], user("u1")).await, Ok(Bson::String("from a private function".into())));
    assert_eq!(f.call("util/secret", vec![], system()).await, Ok(Bson::String("from a private function".into())));
    // can_evaluate.
    assert_eq!(f.call("guarded", vec![], user("u1")).await, Ok(Bson::String("allowed".into())));
    assert_eq!(f.call("guarded", vec![], user("u2")).await, Err(FunctionError::NotPermitted("guarded".into())));
    assert_eq!(f.call("closed", vec![], user("u1")).await, Err(FunctionError::NotPermitted("closed".into())));
}

#[tokio::test(flavor = "multi_thread")]
async fn thrown_values_become_clear_errors() {
    let (f, _) = runtime_with(
        &[
            ("throwsError", "exports = () => { throw new TypeError('bad input'); };"),
            ("rejects", "exports = async () => { await null; throw new Error('later'); };"),
            ("throwsString", "exports = () => { throw 'plain string'; };"),
            ("throwsObject", "exports = () => { throw { code: 42 }; };"),
            ("exportsNothing", "const x = 1;"),
            ("uncaughtInTimer", "exports = () => new Promise(() => setTimeout(() => { throw new Error('in a timer'); }, 1));"),
        ],
        limits(),
    );
    let e = f.call("throwsError", vec![], system()).await.expect_err("throw");
    assert_eq!(e, FunctionError::Execution { name: "TypeError".into(), message: "bad input".into() });
    assert_eq!(e.wire_message(), r#"{"message":"bad input","name":"TypeError"}"#);
    assert_eq!(e.error_code(), "FunctionExecutionError");
    assert_eq!(f.call("rejects", vec![], system()).await, Err(FunctionError::Execution { name: "Error".into(), message: "later".into() }));
    let e = f.call("throwsString", vec![], system()).await.expect_err("string");
    assert_eq!((e.to_string(), e.wire_message()), ("plain string".to_string(), "plain string".to_string()));
    assert_eq!(f.call("throwsObject", vec![], system()).await, Err(FunctionError::Execution { name: String::new(), message: r#"{"code":42}"#.into() }));
    assert!(matches!(f.call("exportsNothing", vec![], system()).await, Err(FunctionError::Execution { message, .. }) if message.contains("exports no function")));
    assert!(matches!(f.call("uncaughtInTimer", vec![], system()).await, Err(FunctionError::Execution { message, .. }) if message == "in a timer"));
}

/// On the server's own runtime (two workers, as on a 2-core machine), where calls run in place on
/// its worker threads.
#[test]
fn hostile_functions_fail_within_their_limits_while_others_are_served_in_place() {
    realm_wasm_server::runtime_builder().worker_threads(2).build().expect("runtime").block_on(hostile_functions_fail_within_their_limits_while_others_are_served());
}

/// On any other runtime, where each call gets a thread of its own.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_functions_fail_within_their_limits_while_others_are_served_on_threads_of_their_own() {
    hostile_functions_fail_within_their_limits_while_others_are_served().await;
}

async fn hostile_functions_fail_within_their_limits_while_others_are_served() {
    let hostile = [
        ("endless", "exports = () => { while (true) {} };"),
        ("endlessCatching", "exports = () => { for (;;) { try { while (true) {} } catch (e) {} } };"),
        ("memoryBomb", "exports = () => { const a = []; for (;;) a.push(new Array(100000).fill(1)); };"),
        ("deepRecursion", "exports = () => { const f = (n) => f(n + 1) + 1; return f(0); };"),
        ("neverSettles", "exports = () => new Promise(() => {});"),
        ("bigResult", "exports = () => 'x'.repeat(50 * 1024 * 1024);"),
        ("bigArray", "exports = () => new Array(3000000).fill(7);"),
        ("cyclic", "exports = () => { const a = {}; a.self = a; return a; };"),
    ];
    let limits = Limits { timeout: Duration::from_secs(2), memory_bytes: 96 * 1024 * 1024, pool_size: 4, ..Limits::default() };
    let (f, _) = runtime_with(&hostile, limits);
    let f = Arc::new(f);
    let mut bad = Vec::new();
    for (name, _) in hostile {
        let f = f.clone();
        bad.push(tokio::spawn(async move { (name, f.call(name, vec![], system()).await) }));
    }
    // Good calls keep being answered while the hostile ones run.
    let mut good = Vec::new();
    for i in 0..200 {
        let f = f.clone();
        good.push(tokio::spawn(async move { f.call("sum", vec![Bson::Int32(i), Bson::Int32(1)], user("u1")).await }));
    }
    for (i, g) in good.into_iter().enumerate() {
        assert_eq!(g.await.expect("join"), Ok(Bson::Int32(i as i32 + 1)));
    }
    for b in bad {
        let (name, outcome) = b.await.expect("join");
        let ok = match (name, &outcome) {
            ("endless" | "endlessCatching", Err(FunctionError::Timeout { secs, .. })) => *secs == 2.0,
            ("memoryBomb", Err(FunctionError::OutOfMemory { limit_mb, .. })) => *limit_mb == 96,
            ("deepRecursion", Err(FunctionError::StackOverflow { .. })) => true,
            ("neverSettles", Err(FunctionError::NeverSettled { .. })) => true,
            ("bigResult" | "bigArray", Err(FunctionError::ResultTooLarge { limit, .. })) => *limit == 16 * 1024 * 1024,
            ("cyclic", Err(FunctionError::Execution { message, .. })) => message.contains("refers to itself"),
            _ => false,
        };
        assert!(ok, "{name}: {outcome:?}");
        if let Err(e) = &outcome {
            assert!(e.to_string().contains(name) || name == "cyclic", "the message names the function: {e}");
        }
    }
    // Every runtime that faulted was replaced: the pool still serves all its workers' worth.
    let mut again = Vec::new();
    for i in 0..8 {
        let f = f.clone();
        again.push(tokio::spawn(async move { f.call("sum", vec![Bson::Int32(i), Bson::Int32(i)], user("u2")).await }));
    }
    for (i, a) in again.into_iter().enumerate() {
        assert_eq!(a.await.expect("join"), Ok(Bson::Int32(2 * i as i32)));
    }
}

/// A JavaScript stack larger than the server's threads can hold: the call gets a thread of its own
/// (in place, the deep recursion would overflow the worker's native stack and kill the process).
#[test]
fn a_stack_limit_beyond_the_server_threads_runs_on_a_thread_of_its_own() {
    let limits = Limits { stack_bytes: 32 * 1024 * 1024, ..limits() };
    let deep = "exports = () => { const f = (n) => f(n + 1) + 1; return f(0); };";
    realm_wasm_server::runtime_builder().worker_threads(2).build().expect("runtime").block_on(async {
        let (f, _) = runtime_with(&[("deep", deep)], limits);
        let f = Arc::new(f);
        let outcome = tokio::spawn(async move { f.call("deep", vec![], system()).await }).await.expect("join");
        assert!(matches!(outcome, Err(FunctionError::StackOverflow { .. })), "{outcome:?}");
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_answers_busy() {
    let limits = Limits { timeout: Duration::from_secs(2), pool_size: 1, max_queue: 1, ..Limits::default() };
    let (f, _) = runtime_with(&[("slow", "exports = () => new Promise((r) => setTimeout(r, 300));")], limits);
    let f = Arc::new(f);
    let calls: Vec<_> = (0..4).map(|_| { let f = f.clone(); tokio::spawn(async move { f.call("slow", vec![], system()).await }) }).collect();
    let mut busy = 0;
    for c in calls {
        match c.await.expect("join") {
            Err(FunctionError::Busy) => busy += 1,
            other => assert_eq!(other, Ok(Bson::Null)),
        }
    }
    assert!(busy >= 1, "one runs, one waits, the rest are refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn context_http_talks_to_a_local_server() {
    use axum::routing::any;
    let app = axum::Router::new().route(
        "/echo",
        any(|method: axum::http::Method, headers: axum::http::HeaderMap, body: String| async move {
            let header = headers.get("x-test").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            ([("x-reply", "yes")], format!("{method} {header} {body}"))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let source = r#"exports = async function (url) {
        const post = await context.http.post({ url, headers: { "X-Test": ["1"] }, body: { a: 1 }, encodeBodyAsJSON: true });
        const get = await context.http.get({ scheme: "http", host: url.split("/")[2], path: "/echo", query: { q: ["x"] } });
        let refused;
        try { await context.http.get({ url: "https://example.invalid/" }); } catch (e) { refused = e.message; }
        return { status: post.statusCode, text: post.body.text(), reply: post.headers["X-Reply"], get: get.body.text(), refused };
    };"#;
    let (f, _) = runtime_with(&[("http", source)], limits());
    let out = f.call("http", vec![Bson::String(format!("http://{addr}/echo"))], system()).await.expect("http");
    let out = out.as_document().expect("doc");
    assert_eq!(out.get_i32("status"), Ok(200));
    assert_eq!(out.get_str("text"), Ok(r#"POST 1 {"a":1}"#));
    assert_eq!(out.get_array("reply").expect("header"), &vec![Bson::String("yes".into())]);
    assert_eq!(out.get_str("get"), Ok("GET  "));
    assert!(out.get_str("refused").expect("refused").contains("https:// URLs are not supported"));
}

#[tokio::test(flavor = "multi_thread")]
async fn one_call_cannot_change_what_the_next_one_sees() {
    // Strict, so that a refused change throws instead of failing silently.
    let tamper = r#""use strict";
        exports = function () {
            const out = {};
            const attempt = (label, change) => { try { change(); out[label] = "changed"; } catch (e) { out[label] = e.name; } };
            attempt("arrayProto", () => { Array.prototype.leak = "x"; });
            attempt("mapOverride", () => { Array.prototype.map = function () { return "evil"; }; });
            attempt("objectProto", () => { Object.prototype.polluted = true; });
            attempt("toString", () => { Object.prototype.toString = () => "evil"; });
            attempt("bson", () => { BSON.ObjectId.prototype.toHexString = () => "0"; });
            attempt("jsonParse", () => { JSON.parse = () => "evil"; });
            attempt("globalBinding", () => { globalThis.Array = null; });
            attempt("console", () => { console.log = () => {}; });
            attempt("context", () => { context.values.get = () => "evil"; });
            attempt("stackHook", () => { Error.prepareStackTrace = () => "evil"; });
            globalThis.explicitGlobal = "mine";
            out.explicit = explicitGlobal;
            // Ordinary code that overrides inherited methods still works.
            class ValidationError extends Error { constructor(m) { super(m); this.name = "ValidationError"; } }
            out.customError = String(new ValidationError("bad"));
            function Legacy() {}
            Legacy.prototype.toString = function () { return "legacy"; };
            const own = {};
            own.toString = () => "own";
            out.overrides = String(new Legacy()) + " " + String(own);
            return out;
        };"#;
    let sloppy = "exports = function () { implicitGlobal = 42; return implicitGlobal; };";
    let queued = "exports = function () { Promise.resolve().then(function again() { globalThis.fromJob = 1; return Promise.resolve().then(again); }); return 'left work queued'; };";
    let probe = r#"exports = function () {
        return {
            leak: [].leak === undefined,
            map: [1].map((x) => x + 1)[0],
            polluted: ({}).polluted === undefined,
            toString: Object.prototype.toString.call([]),
            oid: new BSON.ObjectId("65a1b2c3d4e5f60718293a4b").toHexString(),
            json: JSON.parse("1"),
            array: typeof Array,
            globals: [typeof explicitGlobal, typeof implicitGlobal, typeof fromJob, typeof __realm, typeof __native],
            value: context.values.get("greeting").text,
            user: context.user.id,
        };
    };"#;
    // One runtime: every call runs in the same context unless it was left dirty.
    let one = Limits { pool_size: 1, ..limits() };
    let (f, _) = runtime_with(&[("tamper", tamper), ("sloppy", sloppy), ("queued", queued), ("probe", probe)], one);
    let clean = doc! {
        "leak": true, "map": 2, "polluted": true, "toString": "[object Array]", "oid": "65a1b2c3d4e5f60718293a4b",
        "json": 1, "array": "function", "globals": ["undefined", "undefined", "undefined", "undefined", "undefined"], "value": "hello",
    };
    let probe_as = |who: &str| {
        let mut d = clean.clone();
        d.insert("user", who);
        Bson::Document(d)
    };
    assert_eq!(f.call("probe", vec![], user("u1")).await, Ok(probe_as("u1")));
    let out = f.call("tamper", vec![], user("u1")).await.expect("tamper");
    let out = out.as_document().expect("doc");
    for key in ["arrayProto", "mapOverride", "objectProto", "toString", "bson", "jsonParse", "globalBinding", "console", "context", "stackHook"] {
        assert_eq!(out.get_str(key), Ok("TypeError"), "{key}: {out}");
    }
    assert_eq!(out.get_str("explicit"), Ok("mine"));
    assert_eq!(out.get_str("customError"), Ok("ValidationError: bad"));
    assert_eq!(out.get_str("overrides"), Ok("legacy own"));
    assert_eq!(f.call("probe", vec![], user("u2")).await, Ok(probe_as("u2")));
    assert_eq!(f.call("sloppy", vec![], user("u1")).await, Ok(Bson::Int32(42)));
    assert_eq!(f.call("probe", vec![], user("u2")).await, Ok(probe_as("u2")));
    assert_eq!(f.call("queued", vec![], user("u1")).await, Ok(Bson::String("left work queued".into())));
    assert_eq!(f.call("probe", vec![], user("u2")).await, Ok(probe_as("u2")));
    // A function's module state is its own per call, too.
    let counter = "let n = 0; exports = () => ++n;";
    let (f, _) = runtime_with(&[("counter", counter)], Limits { pool_size: 1, ..limits() });
    for _ in 0..3 {
        assert_eq!(f.call("counter", vec![], user("u1")).await, Ok(Bson::Int32(1)));
    }
}

#[test]
fn limits_come_from_the_settings() {
    use clap::Parser;
    use realm_wasm_server::Flags;
    use realm_wasm_server::ServerSettings;
    let parse = |args: &[&str]| ServerSettings::resolve(Flags::try_parse_from(args).expect("flags"));
    let s = parse(&["x", "--function-timeout", "5", "--function-memory-mb", "64", "--function-pool", "3", "--max-body-bytes", "2048"]).expect("settings");
    let l = Limits::from_settings(&s);
    assert_eq!((l.timeout, l.memory_bytes, l.pool_size, l.max_result_bytes), (Duration::from_secs(5), 64 << 20, 3, 2048));
    let d = Limits::from_settings(&parse(&["x"]).expect("defaults"));
    assert_eq!((d.timeout, d.memory_bytes), (Duration::from_secs(120), 128 << 20));
    assert!(d.pool_size >= 4);
    for bad in [["x", "--function-timeout", "0"], ["x", "--function-memory-mb", "1"], ["x", "--function-pool", "0"]] {
        assert!(parse(&bad).expect_err("refused").key.contains("function"), "{bad:?}");
    }
}
