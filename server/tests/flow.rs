//! The custom-user-data flow and the app.users ownership rule, over real HTTP.

mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn custom_user_data_flow() {
    let s = Server::start();
    let c = client();

    let (st, loc) = decode(c.get(s.app_url("/location")).send().await.expect("location")).await;
    assert_eq!(st, 200);
    assert_eq!(loc["hostname"], json!(s.base));
    assert!(loc["ws_hostname"].is_string() && loc["deployment_model"].is_string() && loc["location"].is_string());

    let me = register_and_login(&s, &c, "pink@example.com").await;
    assert_eq!(me.device_id.len(), 24);
    let claims = jwt_payload(&me.access_token);
    assert_eq!(claims["sub"], json!(me.user_id));
    assert!(claims["exp"].is_number() && claims["iat"].is_number());
    assert!(claims.get("user_data").is_none(), "no custom data yet: {claims}");

    let (st, profile) = decode(c.get(s.url("/auth/profile")).bearer_auth(&me.access_token).send().await.expect("profile")).await;
    assert_eq!(st, 200, "{profile}");
    assert_eq!(profile["type"], "normal");
    assert_eq!(profile["data"]["email"], "pink@example.com");
    let identity = &profile["identities"][0];
    assert_eq!(identity["provider_type"], "local-userpass");
    assert!(identity["id"].is_string() && identity["provider_id"].is_string() && identity["provider_data"].is_object());

    let users = json!({"database": "app", "collection": "users"});
    let mut insert = users.clone();
    insert["document"] = json!({"userID": me.user_id, "description": "likes colours", "n": {"$numberInt": "5"}});
    let (st, r) = mongo(&s, &c, &me.access_token, "insertOne", insert).await;
    assert_eq!(st, 200, "{r}");
    assert!(r["insertedId"]["$oid"].is_string(), "{r}");

    let mut update = users.clone();
    update["query"] = json!({"userID": me.user_id});
    update["update"] = json!({"$set": {"favoriteColor": "pink"}});
    let (st, r) = mongo(&s, &c, &me.access_token, "updateOne", update).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!((int(&r["matchedCount"]), int(&r["modifiedCount"])), (1, 1));
    assert!(r.get("upsertedId").is_none());

    // The old access token is stale; a refresh carries the current custom data.
    let (st, r) = decode(c.post(s.url("/auth/session")).bearer_auth(&me.refresh_token).send().await.expect("refresh")).await;
    assert!((200..300).contains(&st), "{r}");
    assert!(r.get("refresh_token").is_none(), "refresh tokens are not rotated");
    let data = &jwt_payload(r["access_token"].as_str().expect("access_token"))["user_data"];
    assert_eq!(data["favoriteColor"], "pink", "{data}");
    assert_eq!(data["description"], "likes colours");
    assert_eq!(data["userID"], json!(me.user_id));
    assert_eq!(data["n"], 5, "relaxed EJSON in user_data");
    assert!(data["_id"]["$oid"].is_string(), "{data}");

    // The same refresh token works again; count answers like Atlas.
    let (st, _) = decode(c.post(s.url("/auth/session")).bearer_auth(&me.refresh_token).send().await.expect("refresh")).await;
    assert!((200..300).contains(&st));
    let (st, r) = mongo(&s, &c, &me.access_token, "count", users.clone()).await;
    assert_eq!((st, r), (200, json!({"$numberLong": "1"})));

    // Logout revokes the refresh token.
    let resp = c.delete(s.url("/auth/session")).bearer_auth(&me.refresh_token).send().await.expect("logout");
    assert!(resp.status().is_success());
    let (st, r) = decode(c.post(s.url("/auth/session")).bearer_auth(&me.refresh_token).send().await.expect("refresh")).await;
    assert_eq!((st, r["error_code"].clone()), (401, json!("InvalidSession")));
    // Logging out again with the revoked token is still fine for realm-web.
    let (st, r) = decode(c.delete(s.url("/auth/session")).bearer_auth(&me.refresh_token).send().await.expect("logout")).await;
    assert!((200..300).contains(&st) || r["error"].as_str().is_some_and(|e| e.contains("failed to find refresh token")), "{st} {r}");
}

#[tokio::test]
async fn second_user_cannot_touch_first_users_document() {
    let s = Server::start();
    let c = client();
    let a = register_and_login(&s, &c, "a@example.com").await;
    let b = register_and_login(&s, &c, "b@example.com").await;
    let users = |extra: serde_json::Value| {
        let mut v = json!({"database": "app", "collection": "users"});
        for (k, x) in extra.as_object().expect("object") {
            v[k] = x.clone();
        }
        v
    };
    let (st, _) = mongo(&s, &c, &a.access_token, "insertOne", users(json!({"document": {"userID": a.user_id, "secret": "a's"}}))).await;
    assert_eq!(st, 200);

    let (st, r) = mongo(&s, &c, &b.access_token, "find", users(json!({"query": {}}))).await;
    assert_eq!((st, r), (200, json!([])));
    let (st, r) = mongo(&s, &c, &b.access_token, "findOne", users(json!({"query": {"userID": a.user_id}}))).await;
    assert_eq!((st, r), (200, json!(null)));
    let (st, r) = mongo(&s, &c, &b.access_token, "count", users(json!({"query": {}}))).await;
    assert_eq!((st, r), (200, json!({"$numberLong": "0"})));
    let (st, r) = mongo(&s, &c, &b.access_token, "updateOne", users(json!({"query": {"userID": a.user_id}, "update": {"$set": {"secret": "b's"}}}))).await;
    assert_eq!(st, 200);
    assert_eq!((int(&r["matchedCount"]), int(&r["modifiedCount"])), (0, 0));
    let (st, r) = mongo(&s, &c, &b.access_token, "deleteMany", users(json!({"query": {}}))).await;
    assert_eq!(st, 200);
    assert_eq!(int(&r["deletedCount"]), 0);
    let (st, r) = mongo(&s, &c, &b.access_token, "insertOne", users(json!({"document": {"userID": a.user_id}}))).await;
    assert_eq!(st, 403, "{r}");
    assert!(r["error"].is_string() && r["error_code"].is_string());

    // A's document is untouched; other collections are shared.
    let (_, r) = mongo(&s, &c, &a.access_token, "findOne", users(json!({"query": {}}))).await;
    assert_eq!(r["secret"], "a's");
    let shared = json!({"database": "app", "collection": "notes", "document": {"by": "b"}});
    assert_eq!(mongo(&s, &c, &b.access_token, "insertOne", shared).await.0, 200);
    let (_, r) = mongo(&s, &c, &a.access_token, "find", json!({"database": "app", "collection": "notes"})).await;
    assert_eq!(r.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn anonymous_login_and_mongo_operations() {
    let s = Server::start();
    let c = client();
    let body = json!({"options": {"device": {"sdkVersion": "2.0.1", "deviceId": {"$oid": "65aaaaaaaaaaaaaaaaaaaaaa"}}}});
    let (st, r) = post(&c, &s.app_url("/auth/providers/anon-user/login"), None, &body).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["device_id"], "65aaaaaaaaaaaaaaaaaaaaaa");
    let at = r["access_token"].as_str().expect("at").to_string();
    let (_, p) = decode(c.get(s.url("/auth/profile")).bearer_auth(&at).send().await.expect("profile")).await;
    assert_eq!(p["identities"][0]["provider_type"], "anon-user");

    let ns = |extra: serde_json::Value| {
        let mut v = json!({"database": "db", "collection": "things"});
        for (k, x) in extra.as_object().expect("object") {
            v[k] = x.clone();
        }
        v
    };
    let docs = json!([{"_id": {"$numberInt": "1"}, "n": {"$numberInt": "1"}, "tags": ["a"]},
                      {"_id": {"$numberInt": "2"}, "n": {"$numberDouble": "2.5"}},
                      {"_id": {"$numberInt": "3"}, "n": {"$numberLong": "3"}, "sub": {"x": null}}]);
    let (st, r) = mongo(&s, &c, &at, "insertMany", ns(json!({"documents": docs}))).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["insertedIds"].as_array().map(Vec::len), Some(3));
    let (st, r) = mongo(&s, &c, &at, "find", ns(json!({"query": {"n": {"$gte": {"$numberInt": "2"}}}, "sort": {"n": {"$numberInt": "-1"}}, "project": {"n": {"$numberInt": "1"}, "_id": {"$numberInt": "0"}}, "limit": {"$numberInt": "5"}}))).await;
    assert_eq!(st, 200);
    assert_eq!(r, json!([{"n": {"$numberLong": "3"}}, {"n": {"$numberDouble": "2.5"}}]));
    let (_, r) = mongo(&s, &c, &at, "find", ns(json!({"query": {"$or": [{"tags": "a"}, {"sub.x": {"$exists": true}}]}, "project": {"_id": 1}}))).await;
    assert_eq!(r, json!([{"_id": {"$numberInt": "1"}}, {"_id": {"$numberInt": "3"}}]));
    let (_, r) = mongo(&s, &c, &at, "updateMany", ns(json!({"query": {"n": {"$lt": {"$numberInt": "3"}}}, "update": {"$inc": {"n": {"$numberInt": "1"}}, "$unset": {"tags": ""}}}))).await;
    assert_eq!((int(&r["matchedCount"]), int(&r["modifiedCount"])), (2, 2));
    let (_, r) = mongo(&s, &c, &at, "updateOne", ns(json!({"query": {"name": "new"}, "update": {"$set": {"v": true}}, "upsert": true}))).await;
    assert_eq!((int(&r["matchedCount"]), int(&r["modifiedCount"])), (0, 0));
    assert!(r["upsertedId"]["$oid"].is_string(), "{r}");
    let (_, r) = mongo(&s, &c, &at, "findOne", ns(json!({"query": {"name": "new"}}))).await;
    assert_eq!((r["name"].clone(), r["v"].clone()), (json!("new"), json!(true)));
    let (_, r) = mongo(&s, &c, &at, "updateOne", ns(json!({"query": {"name": "new"}, "update": {"name": "replaced"}}))).await;
    assert_eq!(int(&r["modifiedCount"]), 1);
    let (_, r) = mongo(&s, &c, &at, "deleteOne", ns(json!({"query": {"name": "replaced"}}))).await;
    assert_eq!(int(&r["deletedCount"]), 1);
    let (_, r) = mongo(&s, &c, &at, "deleteMany", ns(json!({}))).await;
    assert_eq!(int(&r["deletedCount"]), 3);
}
