//! Hostile input over loopback: a table of malformed requests plus seeded random mutations of valid
//! ones. Every answer must be a 4xx `{error, error_code}` JSON body (or a 2xx where the input is in fact
//! valid), never a 500, a dropped connection or a hang, and the server must still answer afterwards.

mod common;
mod engine_common;

use base64::Engine;
use common::*;
use engine_common::anonymous;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::time::Duration;

/// What an answer may be.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    /// A 4xx with an error body.
    Client,
    /// A 2xx, or a 4xx with an error body.
    Any,
}

struct Fuzz {
    c: reqwest::Client,
    /// An unauthenticated URL that answers 200 while the server is up.
    alive: String,
    failures: Vec<String>,
    sent: usize,
}

impl Fuzz {
    async fn assert_alive(&self, after: &str) {
        let up = self.c.get(&self.alive).timeout(Duration::from_secs(20)).send().await;
        assert!(up.is_ok_and(|r| r.status().is_success()), "the server is down after: {after}");
    }

    async fn check(&mut self, label: &str, want: Want, req: reqwest::RequestBuilder) {
        self.sent += 1;
        let resp = match req.timeout(Duration::from_secs(20)).send().await {
            Ok(r) => r,
            Err(e) => {
                self.assert_alive(label).await;
                self.failures.push(format!("{label}: no answer: {e}"));
                return;
            }
        };
        let status = resp.status().as_u16();
        let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => {
                self.failures.push(format!("{label}: {status} body cut: {e}"));
                return;
            }
        };
        let ok_2xx = (200..300).contains(&status) && want == Want::Any;
        self.assert_alive(label).await;
        if ok_2xx {
            return;
        }
        if !(400..500).contains(&status) {
            self.failures.push(format!("{label}: status {status} (want {want:?}): {}", clip(&text)));
            return;
        }
        let body: Option<Value> = ct
            .filter(|c| c.starts_with("application/json"))
            .and_then(|_| serde_json::from_str(&text).ok());
        let well_formed = body.as_ref().is_some_and(|b| {
            b["error"].as_str().is_some_and(|e| !e.is_empty()) && b["error_code"].as_str().is_some_and(|e| !e.is_empty())
        });
        if !well_formed {
            self.failures.push(format!("{label}: {status} without an error body: {}", clip(&text)));
        }
    }
}

fn clip(s: &str) -> String {
    s.chars().take(300).collect()
}

fn call_body(name: &str, arg: Value) -> Value {
    json!({"name": name, "arguments": [arg], "service": "mongodb-atlas"})
}

fn coll(extra: Value) -> Value {
    let mut v = json!({"database": "fuzz", "collection": "c"});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    v
}

/// Values of wrong types, extreme numbers and malformed extended JSON.
fn hostile_values() -> Vec<Value> {
    let mut deep = json!(1);
    for _ in 0..100 {
        deep = json!([deep]);
    }
    vec![
        json!(null),
        json!(true),
        json!("str"),
        json!(""),
        json!(5),
        json!(-1),
        json!(0),
        json!(1.5),
        json!(-0.5),
        json!(1e308),
        json!(i64::MIN),
        json!(i64::MAX),
        json!(u64::MAX),
        json!([]),
        json!([1, "a", null]),
        json!({}),
        json!({"a": 1, "b": 0}),
        json!({"$oid": 5}),
        json!({"$oid": "zz"}),
        json!({"$date": "x"}),
        json!({"$date": {"$numberLong": "99999999999999999999"}}),
        json!({"$numberLong": "1e999"}),
        json!({"$numberLong": "-9223372036854775808"}),
        json!({"$numberInt": "99999999999"}),
        json!({"$numberDouble": "abc"}),
        json!({"$numberDouble": "-Infinity"}),
        json!({"$numberDouble": "NaN"}),
        json!({"$numberDecimal": "x"}),
        json!({"$binary": {"base64": "!!!", "subType": "00"}}),
        json!({"$timestamp": {"t": -1, "i": "x"}}),
        json!({"$regex": "(a+)+$"}),
        json!({"$where": "sleep(1000)"}),
        json!({"$function": {"body": "function(){}", "args": [], "lang": "js"}}),
        json!({"$frobnicate": 1}),
        json!({"": 1}),
        json!({"a.b": 1}),
        json!({"$": 1}),
        deep,
    ]
}

/// Arguments for expression operators: overflows, out-of-range indexes, wrong types.
fn expr_args() -> Vec<Value> {
    vec![
        json!([i64::MIN, -1]),
        json!([i64::MAX, 1]),
        json!([i64::MIN, 1]),
        json!([i64::MIN]),
        json!(i64::MIN),
        json!([i64::MAX, i64::MAX]),
        json!([]),
        json!(5),
        json!("x"),
        json!(null),
        json!([[1, 2], i64::MIN]),
        json!([[1, 2], i64::MIN, i64::MAX]),
        json!([[1, 2], i64::MAX, i64::MIN]),
        json!([[1, 2], -1, 0]),
        json!(["é", 0, 1]),
        json!(["héllo", i64::MAX, i64::MAX]),
        json!(["héllo", i64::MIN, i64::MIN]),
        json!([1, 0]),
        json!([0, 0]),
        json!([1e308, 1e308]),
        json!([2, i64::MAX]),
        json!([-2, i64::MIN]),
        json!([1.5, i64::MIN]),
        json!([1.5, 1000]),
        json!(["$missing", "$n"]),
        json!(["$s", "$s"]),
        json!({"input": 5}),
        json!({"input": "$arr", "as": "x", "in": "$$x", "cond": "$$x"}),
        json!({"input": "$arr", "as": "$x", "in": "$$nope"}),
        json!({"date": "x", "format": "%"}),
        json!({"date": "$dt", "format": "%Y%"}),
        json!({"branches": 5}),
        json!({"branches": [{"case": true}]}),
        json!({"$numberLong": "1e999"}),
        json!({"$oid": 5}),
    ]
}

const EXPR_OPS: &[&str] = &[
    "$abs", "$add", "$and", "$arrayElemAt", "$avg", "$ceil", "$cmp", "$concat", "$concatArrays", "$cond",
    "$dateToString", "$dayOfMonth", "$divide", "$eq", "$filter", "$first", "$floor", "$gt", "$gte", "$hour",
    "$ifNull", "$in", "$isArray", "$last", "$literal", "$lt", "$lte", "$map", "$max", "$min", "$minute", "$mod",
    "$month", "$multiply", "$ne", "$not", "$or", "$pow", "$round", "$second", "$size", "$slice", "$split",
    "$sqrt", "$strLenCP", "$substrCP", "$subtract", "$sum", "$switch", "$toBool", "$toDouble", "$toInt",
    "$toLong", "$toLower", "$toObjectId", "$toString", "$toUpper", "$trunc", "$type", "$year",
    "$function", "$where", "$accumulator", "$range", "$reduce",
];

const UPDATE_OPS: &[&str] = &[
    "$set", "$unset", "$inc", "$mul", "$min", "$max", "$rename", "$currentDate", "$setOnInsert", "$push",
    "$addToSet", "$pull", "$pullAll", "$pop", "$bit", "$frobnicate",
];

const STAGES: &[&str] = &[
    "$match", "$project", "$addFields", "$set", "$unset", "$group", "$sort", "$limit", "$skip", "$count",
    "$unwind", "$lookup", "$replaceRoot", "$replaceWith", "$sortByCount", "$facet", "$sample", "$out", "$merge",
    "$unionWith", "$graphLookup", "$function", "$where",
];

const OPS: &[&str] = &[
    "find", "findOne", "count", "aggregate", "insertOne", "insertMany", "updateOne", "updateMany", "deleteOne",
    "deleteMany", "findOneAndUpdate", "findOneAndReplace", "findOneAndDelete",
];

/// A valid argument document for `op` (random mutations start from it).
fn valid_arg(op: &str) -> Value {
    match op {
        "find" | "findOne" => coll(json!({"query": {"n": 1}, "project": {"n": 1}, "sort": {"n": 1}, "limit": 5})),
        "count" => coll(json!({"query": {}, "limit": 5})),
        "aggregate" => coll(json!({"pipeline": [{"$match": {}}, {"$limit": 3}]})),
        "insertOne" => coll(json!({"document": {"n": 1}})),
        "insertMany" => coll(json!({"documents": [{"n": 1}, {"n": 2}]})),
        "updateOne" | "updateMany" => {
            coll(json!({"query": {"n": 1}, "update": {"$set": {"arr.$[e]": 1}}, "upsert": false, "arrayFilters": [{"e": 1}]}))
        }
        "deleteOne" | "deleteMany" => coll(json!({"query": {"n": -999}})),
        "findOneAndUpdate" => coll(json!({"filter": {"n": 1}, "update": {"$inc": {"n": 0}}, "sort": {"n": 1}, "projection": {"n": 1}, "upsert": false, "returnNewDocument": true})),
        "findOneAndReplace" => coll(json!({"filter": {"n": -998}, "update": {"n": -998}, "upsert": false})),
        _ => coll(json!({"filter": {"n": -997}})),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_answer_4xx_and_the_server_stays_up() {
    let s = Server::start();
    let c = client();
    let me = register_and_login(&s, &c, "fuzz@example.com").await;
    let at = me.access_token.clone();
    let call = s.app_url("/functions/call");
    let mut f = Fuzz { c: c.clone(), alive: s.app_url("/location"), failures: Vec::new(), sent: 0 };

    // Seed data the expressions and updates run against.
    let seed = coll(json!({"documents": [
        {"n": 1, "big": i64::MAX, "small": i64::MIN, "i32": i32::MIN, "s": "héllo", "arr": [1, 2, 3],
         "dt": {"$date": {"$numberLong": "0"}}, "d": {"x": 1}},
        {"n": 2, "arr": [], "s": "", "big": 1.5e308},
        {"n": 3}
    ]}));
    let (st, r) = post(&c, &call, Some(&at), &call_body("insertMany", seed)).await;
    assert_eq!(st, 200, "{r}");

    let kept = json!({"database": "fuzz", "collection": "kept", "document": {"marker": "before"}});
    let (st, r) = post(&c, &call, Some(&at), &call_body("insertOne", kept)).await;
    assert_eq!(st, 200, "{r}");

    // 1. Raw bodies to the JSON routes.
    let deep_open = "[".repeat(100_000);
    let deep_obj = "{\"a\":".repeat(100_000);
    let raw: Vec<Vec<u8>> = vec![
        b"\xff\xfe\xfd".to_vec(),
        b"{\"name\": \"find\xff\", \"arguments\": []}".to_vec(),
        b"{\"name\": \"find\", \"argum".to_vec(),
        b"{".to_vec(),
        b"".to_vec(),
        b"   ".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"x\"".to_vec(),
        b"5".to_vec(),
        b"1e999".to_vec(),
        b"{\"name\": 123456789012345678901234567890}".to_vec(),
        b"{\"name\": \"find\", \"arguments\": [{\"database\": \"fuzz\", \"collection\": \"c\", \"limit\": 1e999}], \"service\": \"mongodb-atlas\"}".to_vec(),
        b"{\"name\": \"find\", \"arguments\": [{\"database\": \"fuzz\", \"collection\": \"c\", \"limit\": 123456789012345678901234567890}], \"service\": \"mongodb-atlas\"}".to_vec(),
        b"{\"a\": 1, \"a\": 2}".to_vec(),
        b"{\"name\": \"\\ud800\"}".to_vec(),
        deep_open.clone().into_bytes(),
        deep_obj.clone().into_bytes(),
        format!("{{\"name\":\"find\",\"arguments\":{deep_open}").into_bytes(),
    ];
    let json_routes = [
        s.app_url("/functions/call"),
        s.app_url("/auth/providers/local-userpass/login"),
        s.app_url("/auth/providers/anon-user/login"),
        s.app_url("/auth/providers/api-key/login"),
        s.app_url("/auth/providers/local-userpass/register"),
        s.app_url("/auth/providers/local-userpass/confirm"),
        s.app_url("/auth/providers/local-userpass/reset"),
        s.app_url("/auth/providers/local-userpass/reset/send"),
        s.url("/auth/api_keys"),
    ];
    for route in &json_routes {
        for (i, body) in raw.iter().enumerate() {
            let token = if route.ends_with("api_keys") { &me.refresh_token } else { &at };
            let req = c.post(route).header("content-type", "application/json").bearer_auth(token).body(body.clone());
            // A JSON object is a valid body for the routes that need nothing more (anonymous login,
            // an API key named by the object's `name`).
            let is_object = serde_json::from_slice::<Value>(body).is_ok_and(|v| v.is_object());
            let want = if is_object { Want::Any } else { Want::Client };
            f.check(&format!("raw #{i} to {route}"), want, req).await;
        }
    }

    // 2. functions/call envelopes.
    let envelopes = [
        json!({}),
        json!({"arguments": []}),
        json!({"name": 5, "arguments": []}),
        json!({"name": "find"}),
        json!({"name": "find", "arguments": "x", "service": "mongodb-atlas"}),
        json!({"name": "find", "arguments": {}, "service": "mongodb-atlas"}),
        json!({"name": "find", "arguments": [], "service": "mongodb-atlas"}),
        json!({"name": "find", "arguments": [5], "service": "mongodb-atlas"}),
        json!({"name": "find", "arguments": [null], "service": "mongodb-atlas"}),
        json!({"name": "find", "arguments": [{}], "service": "mongodb-atlas"}),
        json!({"name": "find", "arguments": [{"database": 5, "collection": "c"}], "service": "mongodb-atlas"}),
        json!({"name": "find", "arguments": [{"database": "", "collection": ""}], "service": "mongodb-atlas"}),
        json!({"name": "find", "arguments": [{"database": "a\u{0}b", "collection": "c"}], "service": "mongodb-atlas"}),
        json!({"name": "find", "arguments": [{"database": "fuzz", "collection": "c"}], "service": 5}),
        json!({"name": "find", "arguments": [{"database": "fuzz", "collection": "c"}], "service": "nope"}),
        json!({"name": "frobnicate", "arguments": [{"database": "fuzz", "collection": "c"}], "service": "mongodb-atlas"}),
        json!({"name": "nope", "arguments": []}),
        json!({"name": "", "arguments": []}),
    ];
    for (i, body) in envelopes.iter().enumerate() {
        let req = c.post(&call).header("content-type", "application/json").bearer_auth(&at).body(body.to_string());
        f.check(&format!("envelope #{i}"), Want::Client, req).await;
    }

    // 3. Wrong argument types for every operation and key.
    let keys = ["query", "filter", "update", "document", "documents", "pipeline", "project", "projection", "sort", "limit", "upsert", "arrayFilters", "returnNewDocument"];
    for op in OPS {
        for key in keys {
            for v in [json!([1]), json!("x"), json!({"$oid": 5}), json!(-1), json!(1.5), json!(i64::MIN), json!({"$numberLong": "1e999"})] {
                let mut arg = valid_arg(op);
                arg[key] = v.clone();
                let req = c.post(&call).bearer_auth(&at).header("content-type", "application/json").body(call_body(op, arg).to_string());
                f.check(&format!("{op} {key}={v}"), Want::Any, req).await;
            }
        }
    }

    // 4. A table of specific hostile calls that must be refused.
    let refused: Vec<(&str, Value)> = vec![
        ("find", coll(json!({"query": []}))),
        ("find", coll(json!({"query": "x"}))),
        ("find", coll(json!({"project": {"a": 1, "b": 0}}))),
        ("find", coll(json!({"sort": {"n": "weird"}}))),
        ("find", coll(json!({"sort": {"n": 0}}))),
        ("find", coll(json!({"sort": []}))),
        ("find", coll(json!({"limit": "x"}))),
        ("find", coll(json!({"query": {"$where": "true"}}))),
        ("find", coll(json!({"query": {"$function": {"body": "x"}}}))),
        ("find", coll(json!({"query": {"s": {"$regex": "("}}}))),
        ("find", coll(json!({"query": {"s": {"$regex": "a{1000}{1000}{1000}"}}}))),
        ("find", coll(json!({"query": {"s": {"$regex": "a", "$options": "zq"}}}))),
        ("find", coll(json!({"query": {"n": {"$mod": [0, 0]}}}))),
        ("find", coll(json!({"query": {"n": {"$mod": [1]}}}))),
        ("find", coll(json!({"query": {"arr": {"$size": -1}}}))),
        ("find", coll(json!({"query": {"n": {"$type": "nope"}}}))),
        ("find", coll(json!({"query": {"n": {"$in": 5}}}))),
        ("find", coll(json!({"query": {"$or": {}}}))),
        ("find", coll(json!({"query": {"$and": []}}))),
        ("find", coll(json!({"query": {"$nor": "x"}}))),
        ("find", coll(json!({"query": {"n": {"$frobnicate": 1}}}))),
        ("find", coll(json!({"query": {"$text": {"$search": "x"}}}))),
        ("find", coll(json!({"query": {"$expr": {"$frobnicate": 1}}}))),
        ("aggregate", coll(json!({"pipeline": {"$match": {}}}))),
        ("aggregate", coll(json!({"pipeline": [5]}))),
        ("aggregate", coll(json!({"pipeline": [{"$match": {}, "$limit": 1}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$limit": -1}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$out": "x"}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$merge": {"into": "x"}}]}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": "x"}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$set": {"arr.$[id]": 1}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$set": {"arr.$[id]": 1}}, "arrayFilters": 5}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$set": {"arr.$[id]": 1}}, "arrayFilters": [5]}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$set": {"arr.$[id]": 1}}, "arrayFilters": [{}]}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$set": {"arr.$[id]": 1}}, "arrayFilters": [{"id": 1}, {"id": 2}]}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$inc": {"big": 1}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$inc": {"small": -1}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$mul": {"big": 2}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$inc": {"s": 1}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$rename": {"n": "n.x"}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$set": {"": 1}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$set": {"a..b": 1}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$set": {"arr.1000000000000": 1}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$set": {"arr.99999999999999999999999": 1}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$set": {"n": 1}, "$inc": {"n": 1}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$set": {"_id": 5}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"n": 1, "$set": {"x": 1}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$push": {"arr": {"$each": 5}}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$push": {"arr": {"$each": [1], "$position": 1.5}}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$push": {"arr": {"$each": [1], "$sort": "x"}}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$pop": {"arr": 5}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$currentDate": {"dt": {"$type": "x"}}}}))),
        ("updateOne", coll(json!({"query": {"n": 1}, "update": {"$set": {"arr.$": 1}}}))),
        ("insertOne", coll(json!({"document": 5}))),
        ("insertMany", coll(json!({"documents": {}}))),
        ("insertMany", coll(json!({"documents": [{"n": 1}, 5]}))),
        ("findOneAndReplace", coll(json!({"filter": {"n": 1}, "update": {"$set": {"a": 1}}}))),
        ("findOneAndUpdate", coll(json!({"filter": {"n": 1}, "update": {"n": 1, "$set": {"x": 1}}}))),
    ];
    for (i, (op, arg)) in refused.iter().enumerate() {
        let req = c.post(&call).bearer_auth(&at).header("content-type", "application/json").body(call_body(op, arg.clone()).to_string());
        f.check(&format!("refused #{i} {op} {arg}"), Want::Client, req).await;
    }

    // 5. Calls that are odd but valid (2xx allowed), or refused cleanly.
    let odd: Vec<(&str, Value)> = vec![
        ("find", coll(json!({"limit": -5}))),
        ("find", coll(json!({"limit": 1e20}))),
        ("find", coll(json!({"limit": i64::MAX}))),
        ("find", coll(json!({"limit": i64::MIN}))),
        ("find", coll(json!({"limit": 1.5}))),
        ("count", coll(json!({"limit": i64::MIN}))),
        ("count", coll(json!({"limit": -1}))),
        ("find", coll(json!({"query": {"s": {"$regex": "^(a+)+$"}}}))),
        ("find", coll(json!({"query": {"s": {"$regex": "(a|aa)*c"}}}))),
        ("find", coll(json!({"query": {"n": {"$mod": [i64::MIN, -1]}}}))),
        ("find", coll(json!({"query": {"n": {"$mod": [-1, i64::MIN]}}}))),
        ("find", coll(json!({"query": {"big": {"$mod": [1e300, 1]}}}))),
        ("find", coll(json!({"query": {"arr": {"$size": 1e300}}}))),
        ("find", coll(json!({"project": {"arr": {"$slice": i64::MIN}}}))),
        ("find", coll(json!({"project": {"arr": {"$slice": i64::MAX}}}))),
        ("find", coll(json!({"project": {"arr": {"$slice": [i64::MIN, i64::MIN]}}}))),
        ("find", coll(json!({"project": {"arr": {"$slice": [i64::MAX, i64::MAX]}}}))),
        ("find", coll(json!({"project": {"arr": {"$slice": [i64::MIN, i64::MAX]}}}))),
        ("find", coll(json!({"project": {"arr": {"$slice": [0, -1]}}}))),
        ("find", coll(json!({"project": {"arr": {"$slice": "x"}}}))),
        ("find", coll(json!({"project": {"arr": {"$elemMatch": 5}}}))),
        ("find", coll(json!({"project": {"arr.$": 1}}))),
        ("find", coll(json!({"project": {"n": {"$meta": "textScore"}}}))),
        ("find", coll(json!({"sort": {"n": {"$meta": "textScore"}}}))),
        ("find", coll(json!({"sort": {"n": 1.5}}))),
        ("find", coll(json!({"sort": {"n": i64::MIN}}))),
        ("updateMany", coll(json!({"query": {"n": 1}, "update": {"$push": {"arr": {"$each": [9], "$position": i64::MAX}}}}))),
        ("updateMany", coll(json!({"query": {"n": 1}, "update": {"$push": {"arr": {"$each": [9], "$position": i64::MIN}}}}))),
        ("updateMany", coll(json!({"query": {"n": 1}, "update": {"$push": {"arr": {"$each": [9], "$slice": i64::MIN}}}}))),
        ("updateMany", coll(json!({"query": {"n": 1}, "update": {"$push": {"arr": {"$each": [9], "$slice": i64::MAX}}}}))),
        ("updateMany", coll(json!({"query": {"n": 1}, "update": {"$inc": {"i32": -1}}}))),
        ("updateMany", coll(json!({"query": {"n": 1}, "update": {"$mul": {"i32": -1}}}))),
        ("updateMany", coll(json!({"query": {"n": 1}, "update": {"$mul": {"big": 1e308}}}))),
        ("updateMany", coll(json!({"query": {"n": 1}, "update": {"$set": {"arr.5": 1}}}))),
        ("updateMany", coll(json!({"query": {"n": 1}, "update": {"$set": {"arr.$[]": 1}}}))),
        ("updateMany", coll(json!({"query": {"n": 3}, "update": {"$set": {"arr.$[]": 1}}}))),
        ("updateMany", coll(json!({"query": {"n": 1}, "update": {"$set": {"arr.$[e]": 1}}, "arrayFilters": [{"e": {"$gt": i64::MIN}}]}))),
        ("updateMany", coll(json!({"query": {"n": 1}, "update": {"$set": {"d.x.y.z": 1}}}))),
        ("updateMany", coll(json!({"query": {"n": 1}, "update": {"$pull": {"arr": {"$regex": "("}}}}))),
        ("updateMany", coll(json!({"query": {"n": 9}, "update": {"$set": {"n": 9}}, "upsert": true}))),
        ("updateMany", coll(json!({"query": {"$or": [{"n": 10}, {"n": 11}]}, "update": {"$set": {"m": 1}}, "upsert": true}))),
        ("aggregate", coll(json!({"pipeline": [{"$sample": {"size": i64::MAX}}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$sample": {"size": -1}}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$limit": i64::MAX}, {"$skip": i64::MAX}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$unwind": {"path": "$arr", "includeArrayIndex": "$x"}}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$group": {"_id": null, "s": {"$sum": "$big"}, "t": {"$sum": "$small"}}}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$group": {"_id": null, "s": {"$avg": "$big"}}}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$group": {"_id": null, "s": {"$stdDevPop": "$big"}}}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$facet": {"a": [{"$facet": {"b": []}}]}}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$lookup": {"from": "c", "localField": "n", "foreignField": "n", "as": ""}}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$lookup": {"from": 5, "localField": "n", "foreignField": "n", "as": "j"}}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$lookup": {"from": "c", "pipeline": [{"$lookup": {"from": "c", "pipeline": [], "as": "k"}}], "as": "j"}}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$project": {"a": 1, "b": 0}}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$project": {}}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$replaceRoot": {"newRoot": 5}}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$sortByCount": 5}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$count": ""}]}))),
        ("aggregate", coll(json!({"pipeline": [{"$count": "$x"}]}))),
    ];
    for (i, (op, arg)) in odd.iter().enumerate() {
        let req = c.post(&call).bearer_auth(&at).header("content-type", "application/json").body(call_body(op, arg.clone()).to_string());
        f.check(&format!("odd #{i} {op} {arg}"), Want::Any, req).await;
    }

    // 6. Every expression operator with every hostile argument, in $expr and in $project.
    for op in EXPR_OPS {
        for a in expr_args() {
            let e = json!({ *op: a });
            let arg = coll(json!({"pipeline": [{"$project": {"v": e.clone()}}]}));
            let req = c.post(&call).bearer_auth(&at).header("content-type", "application/json").body(call_body("aggregate", arg).to_string());
            f.check(&format!("expr {e}"), Want::Any, req).await;
        }
    }
    let mut deep = json!("$n");
    for _ in 0..60 {
        deep = json!({"$add": [deep, 1]});
    }
    let arg = coll(json!({"query": {"$expr": {"$gt": [deep, 0]}}}));
    let req = c.post(&call).bearer_auth(&at).header("content-type", "application/json").body(call_body("find", arg).to_string());
    f.check("deep $expr", Want::Any, req).await;

    // 7. Every update operator and every stage with every hostile value.
    for (op, v) in UPDATE_OPS.iter().flat_map(|o| hostile_values().into_iter().map(move |v| (*o, v))) {
        for target in ["arr", "n", "big", "s", "d.x", "arr.$[]", "arr.$[e]", "arr.$"] {
            let mut update = serde_json::Map::new();
            update.insert(op.to_string(), json!({ target: v.clone() }));
            let arg = coll(json!({"query": {"n": 1}, "update": update, "arrayFilters": [{"e": 2}]}));
            let req = c.post(&call).bearer_auth(&at).header("content-type", "application/json").body(call_body("updateOne", arg).to_string());
            f.check(&format!("update {op} {target} {v}"), Want::Any, req).await;
        }
    }
    for (stage, v) in STAGES.iter().flat_map(|s| hostile_values().into_iter().map(move |v| (*s, v))) {
        let arg = coll(json!({"pipeline": [{ stage: v.clone() }]}));
        let req = c.post(&call).bearer_auth(&at).header("content-type", "application/json").body(call_body("aggregate", arg).to_string());
        f.check(&format!("stage {stage} {v}"), Want::Any, req).await;
    }

    // 8. Seeded random mutations: a valid call with one value (possibly nested) replaced.
    let mut rng = StdRng::seed_from_u64(0x5eed_f022);
    let pool = hostile_values();
    for i in 0..400 {
        let op = OPS[rng.gen_range(0..OPS.len())];
        let mut arg = valid_arg(op);
        for _ in 0..rng.gen_range(1..=3) {
            mutate(&mut arg, &pool, &mut rng);
        }
        let req = c.post(&call).bearer_auth(&at).header("content-type", "application/json").body(call_body(op, arg.clone()).to_string());
        f.check(&format!("random #{i} {op} {arg}"), Want::Any, req).await;
    }

    // 9. The streaming route: baas_request that is not base64, not JSON, not an object.
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let stream = s.app_url("/functions/call");
    let requests = [
        "%%%".to_string(),
        "not-base64!!".to_string(),
        b64("{\"name\":"),
        b64("[]"),
        b64("5"),
        b64("{}"),
        b64("{\"name\":\"watch\"}"),
        b64("{\"name\":\"watch\",\"arguments\":5,\"service\":\"mongodb-atlas\"}"),
        b64("{\"name\":\"watch\",\"arguments\":[5],\"service\":\"mongodb-atlas\"}"),
        b64("{\"name\":\"watch\",\"arguments\":[{\"database\":\"fuzz\",\"collection\":\"c\",\"filter\":5}],\"service\":\"mongodb-atlas\"}"),
        b64("{\"name\":\"watch\",\"arguments\":[{\"database\":\"fuzz\",\"collection\":\"c\",\"filter\":{\"$where\":\"1\"}}],\"service\":\"mongodb-atlas\"}"),
        b64("{\"name\":\"watch\",\"arguments\":[{\"database\":\"fuzz\",\"collection\":\"c\",\"ids\":5}],\"service\":\"mongodb-atlas\"}"),
        b64("{\"name\":\"watch\",\"arguments\":[{\"database\":\"fuzz\",\"collection\":\"c\",\"resumeAfter\":5}],\"service\":\"mongodb-atlas\"}"),
        b64("{\"name\":\"find\",\"arguments\":[{\"database\":\"fuzz\",\"collection\":\"c\"}],\"service\":\"mongodb-atlas\"}"),
        b64("{\"name\":\"watch\",\"arguments\":[{\"database\":\"fuzz\",\"collection\":\"c\"}],\"service\":\"nope\"}"),
        base64::engine::general_purpose::STANDARD.encode(b"\xff\xfe"),
        b64(&"[".repeat(10_000)),
    ];
    for (i, r) in requests.iter().enumerate() {
        let req = c.get(&stream).query(&[("baas_request", r)]).bearer_auth(&at).header("accept", "text/event-stream");
        f.check(&format!("baas_request #{i}"), Want::Client, req).await;
    }
    for q in ["baas_request=", "baas_request", "baas_request=a&baas_request=b", "baas_at=x"] {
        let req = c.get(format!("{stream}?{q}")).bearer_auth(&at);
        f.check(&format!("baas query {q}"), Want::Client, req).await;
    }

    // 10. Auth routes with wrong field types.
    let auth_cases: Vec<(String, Value)> = vec![
        (s.app_url("/auth/providers/local-userpass/login"), json!({"username": 5, "password": "password1"})),
        (s.app_url("/auth/providers/local-userpass/login"), json!({"username": "fuzz@example.com", "password": {"$oid": 5}})),
        (s.app_url("/auth/providers/local-userpass/login"), json!({"username": "fuzz@example.com"})),
        (s.app_url("/auth/providers/local-userpass/register"), json!({"email": {}, "password": "password1"})),
        (s.app_url("/auth/providers/local-userpass/register"), json!({"email": "e@example.com", "password": 12345678})),
        (s.app_url("/auth/providers/local-userpass/confirm"), json!({"token": 5, "tokenId": []})),
        (s.app_url("/auth/providers/local-userpass/confirm"), json!({"token": "x", "tokenId": "y"})),
        (s.app_url("/auth/providers/local-userpass/confirm/send"), json!({"email": null})),
        (s.app_url("/auth/providers/local-userpass/confirm/call"), json!({"email": 5})),
        (s.app_url("/auth/providers/local-userpass/reset"), json!({"token": "x", "tokenId": "y", "password": 5})),
        (s.app_url("/auth/providers/local-userpass/reset/send"), json!({"email": ["x"]})),
        (s.app_url("/auth/providers/local-userpass/reset/call"), json!({"email": "x", "password": "p", "arguments": 5})),
        (s.app_url("/auth/providers/api-key/login"), json!({"key": 5})),
        (s.app_url("/auth/providers/api-key/login"), json!({"key": "x".repeat(10_000)})),
        (s.app_url("/auth/providers/custom-token/login"), json!({"token": 5})),
        (s.app_url("/auth/providers/custom-function/login"), json!({})),
        (s.app_url("/auth/providers/local-userpass/login?link=true"), json!({"username": "fuzz@example.com", "password": "password1", "options": 5})),
        (s.url("/app/other-app/auth/providers/anon-user/login"), json!({})),
        (s.url("/app/../auth/providers/anon-user/login"), json!({})),
    ];
    for (url, body) in &auth_cases {
        let req = c.post(url).header("content-type", "application/json").body(body.to_string());
        f.check(&format!("auth {url} {body}"), Want::Client, req).await;
    }
    let (st, r) = post(&c, &s.app_url("/auth/providers/anon-user/login"), None, &json!({"options": {"device": {"deviceId": 5, "x": [1]}}})).await;
    assert!(st == 200 || (400..500).contains(&st), "anon with odd device: {st} {r}");
    for body in [json!({"name": 5}), json!({}), json!({"name": ""}), json!({"name": "x".repeat(10_000)})] {
        let req = c.post(s.url("/auth/api_keys")).bearer_auth(&me.refresh_token).header("content-type", "application/json").body(body.to_string());
        f.check(&format!("api key create {body}"), Want::Any, req).await;
    }
    for id in ["nope", "000000000000000000000000", "%00", "..", &"a".repeat(5000)] {
        for (m, suffix) in [("GET", ""), ("DELETE", ""), ("PUT", "/enable"), ("PUT", "/disable")] {
            let url = format!("{}/{id}{suffix}", s.url("/auth/api_keys"));
            let req = c.request(m.parse().expect("method"), &url).bearer_auth(&me.refresh_token);
            // Deleting a key the caller does not have succeeds and does nothing, as on Atlas.
            let want = if m == "DELETE" { Want::Any } else { Want::Client };
            f.check(&format!("api key {m} {url}"), want, req).await;
        }
    }

    // 11. Weird Authorization headers on every authenticated route.
    let long = "a".repeat(10 * 1024);
    let dotted = format!("{long}.{long}.{long}");
    let headers: Vec<Vec<u8>> = vec![
        b"Bearer".to_vec(),
        b"Bearer ".to_vec(),
        b"Bearer a.b".to_vec(),
        b"Bearer a.b.c".to_vec(),
        b"Bearer ...".to_vec(),
        b"Bearer null".to_vec(),
        b"bearer undefined".to_vec(),
        b"Basic dXNlcjpwYXNz".to_vec(),
        b"Bearer \xff\xfe".to_vec(),
        b"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".to_vec(),
        b"Bearer eyJhbGciOiJIUzI1NiJ9.e30.e30".to_vec(),
        format!("Bearer {long}").into_bytes(),
        format!("Bearer {dotted}").into_bytes(),
        format!("Bearer {}", me.access_token.replace('.', "..")).into_bytes(),
    ];
    for h in &headers {
        let hv = reqwest::header::HeaderValue::from_bytes(h).expect("header value");
        let label = clip(&String::from_utf8_lossy(h));
        let reqs = [
            c.get(s.url("/auth/profile")),
            c.post(s.url("/auth/session")),
            c.delete(s.url("/auth/session")),
            c.delete(s.url("/auth/delete")),
            c.get(s.url("/auth/api_keys")),
            c.post(&call).header("content-type", "application/json").body(call_body("find", coll(json!({}))).to_string()),
            c.get(&stream).query(&[("baas_request", b64("{\"name\":\"watch\",\"arguments\":[{\"database\":\"fuzz\",\"collection\":\"c\"}],\"service\":\"mongodb-atlas\"}"))]),
        ];
        for (i, req) in reqs.into_iter().enumerate() {
            // Logging out an unknown session is an idempotent 204 (protocol §4.2).
            let want = if i == 2 { Want::Any } else { Want::Client };
            f.check(&format!("authorization {label:?} route #{i}"), want, req.header("authorization", hv.clone())).await;
        }
    }

    for failure in &f.failures {
        eprintln!("FAIL {failure}");
    }
    // The server is still up and still answers correctly for an ordinary user.
    let anon = anonymous(&s, &c).await;
    let (st, r) = post(&c, &call, Some(&anon.access_token), &call_body("count", coll(json!({"query": {}})))).await;
    assert_eq!(st, 200, "{r}");
    // The acknowledged write from before the storm is still there (the fuzzed calls only touch fuzz.c).
    let (st, r) = post(&c, &call, Some(&at), &call_body("findOne", json!({"database": "fuzz", "collection": "kept", "query": {}}))).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["marker"], "before", "{r}");
    assert!(f.sent > 1000, "sent only {}", f.sent);
    assert!(f.failures.is_empty(), "{} of {} hostile requests misbehaved:\n{}", f.failures.len(), f.sent, f.failures.join("\n"));
    drop(f.c);
}

/// Replaces one random value inside `v` (an object/array member at any depth) by a pool value.
fn mutate(v: &mut Value, pool: &[Value], rng: &mut StdRng) {
    let pick = pool[rng.gen_range(0..pool.len())].clone();
    match v {
        Value::Object(o) if !o.is_empty() => {
            let keys: Vec<String> = o.keys().cloned().collect();
            let k = &keys[rng.gen_range(0..keys.len())];
            // Never break the namespace: other mutations are the point.
            if k == "database" || k == "collection" {
                return;
            }
            let child = o.get_mut(k).expect("key");
            if rng.gen_bool(0.5) && matches!(child, Value::Object(_) | Value::Array(_)) {
                mutate(child, pool, rng);
            } else {
                *child = pick;
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let i = rng.gen_range(0..a.len());
            if rng.gen_bool(0.5) && matches!(a[i], Value::Object(_) | Value::Array(_)) {
                mutate(&mut a[i], pool, rng);
            } else {
                a[i] = pick;
            }
        }
        _ => *v = pick,
    }
}
