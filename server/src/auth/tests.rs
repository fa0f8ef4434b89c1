//! Auth service tests on a real redb file with an injected clock (expiry without waiting) and an
//! in-process outbox (confirmation and reset links).

use super::outbox::Message;
use super::purge::Purged;
use super::*;
use crate::config::{CustomTokenConfig, JwtAlgorithm, MetadataField, UserpassConfig};
use crate::store::{open_database, RedbStore};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;

struct ManualClock(AtomicU64);

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl ManualClock {
    fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

const JWT_SECRET: &str = "custom-token-secret-custom-token-secret";

fn app() -> AppConfig {
    let mut app = AppConfig::default_app();
    app.userpass = Some(UserpassConfig {
        auto_confirm: false,
        email_confirmation_url: Some("http://app.example/confirm".into()),
        reset_password_url: Some("http://app.example/reset".into()),
        ..UserpassConfig::default()
    });
    app.custom_token = Some(CustomTokenConfig {
        algorithm: JwtAlgorithm::Hs256,
        keys: vec![JWT_SECRET.into()],
        audience: vec![],
        metadata_fields: vec![MetadataField { name: "name".into(), field_name: "name".into(), required: false }],
    });
    app.access_token_ttl_secs = 60;
    app.refresh_token_ttl_secs = 120;
    app
}

struct Env {
    auth: Arc<Auth>,
    clock: Arc<ManualClock>,
    mail: Receiver<Message>,
}

fn open(dir: &std::path::Path, app: AppConfig, limit: u32) -> Env {
    open_with(dir, app, AuthOptions { login_limit_per_account: limit, login_limit_per_address: 1000, ..AuthOptions::default() })
}

/// `open` with the given limits (its clock and outbox replace the options').
fn open_with(dir: &std::path::Path, app: AppConfig, options: AuthOptions) -> Env {
    let clock = Arc::new(ManualClock(AtomicU64::new(1_700_000_000)));
    let db = open_database(dir).expect("db");
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(db.clone()).expect("store"));
    let (outbox, mail) = Outbox::channel();
    let options = AuthOptions { outbox, clock: clock.clone(), ..options };
    Env { auth: Arc::new(Auth::open(db, Arc::new(app), store, options).expect("auth")), clock, mail }
}

fn userpass(email: &str, password: &str) -> Document {
    doc! {"username": email, "password": password}
}

/// Registers and confirms `email` with the link from the outbox.
fn registered(env: &Env, email: &str) {
    env.auth.register(email, "password1", None).expect("register");
    let m = env.mail.try_recv().expect("confirmation mail");
    assert_eq!(m.kind, "confirmation");
    env.auth.confirm(&m.token, &m.token_id).expect("confirm");
}

#[test]
fn tokens_expire_with_the_clock() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = open(dir.path(), app(), 10);
    let r = env.auth.login("anon-user", &doc! {}, None).expect("login");
    let rt = r.refresh_token.expect("rt");
    env.auth.verify_access_token(&r.access_token).expect("fresh AT");
    env.clock.advance(60);
    assert!(matches!(env.auth.verify_access_token(&r.access_token), Err(AuthError::InvalidSession(_))));
    let at = env.auth.refresh(&rt).expect("refresh");
    env.auth.verify_access_token(&at).expect("refreshed AT");
    env.auth.refresh(&rt).expect("refresh tokens are reusable");
    env.clock.advance(60);
    assert!(matches!(env.auth.refresh(&rt), Err(AuthError::InvalidSession(m)) if m.contains("expired")));
}

#[test]
fn confirmation_is_single_use_and_expires() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = open(dir.path(), app(), 10);
    env.auth.register("a@example.com", "password1", None).expect("register");
    let m = env.mail.try_recv().expect("mail");
    assert_eq!(m.url.as_deref(), Some(format!("http://app.example/confirm?token={}&tokenId={}", m.token, m.token_id).as_str()));
    assert_eq!(env.auth.pending_confirmations().expect("pending").len(), 1);
    assert!(matches!(env.auth.login("local-userpass", &userpass("a@example.com", "password1"), None), Err(AuthError::ConfirmationRequired)));
    assert!(matches!(env.auth.confirm("wrong", &m.token_id), Err(AuthError::BadRequest(_))));
    env.auth.confirm(&m.token, &m.token_id).expect("confirm (a wrong guess does not burn the token)");
    assert!(matches!(env.auth.confirm(&m.token, &m.token_id), Err(AuthError::BadRequest(_))), "single use");
    assert!(matches!(env.auth.resend_confirmation("a@example.com", None), Err(AuthError::UserAlreadyConfirmed)));
    env.auth.resend_confirmation("nobody@example.com", None).expect("an unknown address answers as a pending one");
    assert!(env.auth.pending_confirmations().expect("pending").is_empty());
    env.auth.login("local-userpass", &userpass("a@example.com", "password1"), None).expect("login");

    env.auth.register("b@example.com", "password1", None).expect("register");
    let old = env.mail.try_recv().expect("mail");
    env.clock.advance(userpass::CONFIRMATION_TTL_SECS);
    assert!(matches!(env.auth.confirm(&old.token, &old.token_id), Err(AuthError::BadRequest(m)) if m == "token expired"));
    env.auth.resend_confirmation("b@example.com", None).expect("resend");
    let new = env.mail.try_recv().expect("mail");
    env.auth.confirm(&new.token, &new.token_id).expect("fresh link works");
}

#[test]
fn password_reset_by_link() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = open(dir.path(), app(), 10);
    registered(&env, "r@example.com");
    env.auth.send_reset("nobody@example.com", None).expect("an unknown address answers as a known one");
    env.auth.send_reset("r@example.com", None).expect("send");
    let m = env.mail.try_recv().expect("reset mail");
    assert_eq!(m.kind, "reset");
    assert!(matches!(env.auth.reset_password(&m.token, &m.token_id, "short", None), Err(AuthError::BadRequest(_))));
    env.auth.reset_password(&m.token, &m.token_id, "new-password", None).expect("reset");
    assert!(env.auth.reset_password(&m.token, &m.token_id, "newer-password", None).is_err(), "single use");
    assert!(matches!(env.auth.login("local-userpass", &userpass("r@example.com", "password1"), None), Err(AuthError::InvalidPassword)));
    env.auth.login("local-userpass", &userpass("r@example.com", "new-password"), None).expect("new password");

    env.auth.send_reset("r@example.com", None).expect("send");
    let m = env.mail.try_recv().expect("reset mail");
    env.clock.advance(userpass::RESET_TTL_SECS);
    assert!(env.auth.reset_password(&m.token, &m.token_id, "third-password", None).is_err(), "expired after 30 min");
    assert!(matches!(env.auth.call_reset_function("r@example.com", "password2", Vec::new(), None), Err(AuthError::BadRequest(_))));
}

/// A stand-in for the function runtime (the real one is tested over HTTP in
/// tests/functions_auth.rs): answers by the address in the first argument, records every call.
struct FakeFunctions(std::sync::Mutex<Vec<(String, Vec<Bson>)>>);

impl AuthFunctions for FakeFunctions {
    fn run(&self, name: &str, args: Vec<Bson>) -> Result<Bson, String> {
        self.0.lock().expect("calls").push((name.to_string(), args.clone()));
        let first = args.first().and_then(Bson::as_document).cloned().unwrap_or_default();
        let who = first.get_str("username").unwrap_or_default();
        let status = if who.starts_with("ok") { "success" } else if who.starts_with("wait") { "pending" } else if who.starts_with("throw") { return Err("boom".into()) } else { "fail" };
        Ok(Bson::Document(doc! {"status": status}))
    }
}

#[test]
fn confirmation_and_reset_functions_decide() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut a = app();
    a.userpass = Some(UserpassConfig {
        run_confirmation_function: true,
        confirmation_function_name: Some("confirmUser".into()),
        run_reset_function: true,
        reset_function_name: Some("resetFunc".into()),
        ..UserpassConfig::default()
    });
    let env = open(dir.path(), a, 10);
    let fake = Arc::new(FakeFunctions(std::sync::Mutex::new(Vec::new())));
    env.auth.set_functions(fake.clone());
    env.auth.register("ok@example.com", "password1", None).expect("success confirms");
    env.auth.login("local-userpass", &userpass("ok@example.com", "password1"), None).expect("confirmed at once");
    let (name, args) = fake.0.lock().expect("calls")[0].clone();
    let arg = args[0].as_document().expect("argument");
    assert_eq!((name.as_str(), arg.get_str("username"), args.len()), ("confirmUser", Ok("ok@example.com"), 1));
    assert!(arg.get_str("token").is_ok() && arg.get_str("tokenId").is_ok(), "{arg}");
    assert!(env.mail.try_recv().is_err(), "no mail: the function got the token");

    for bad in ["no@example.com", "throw@example.com"] {
        let e = env.auth.register(bad, "password1", None).expect_err("fail");
        assert!(matches!(&e, AuthError::FunctionFailed(m) if *m == format!("failed to confirm user \"{bad}\"")), "{e}");
    }
    assert!(env.auth.pending_confirmations().expect("pending").is_empty(), "a failed confirmation leaves no account");
    assert!(matches!(env.auth.register("no@example.com", "password1", None), Err(AuthError::FunctionFailed(_))), "the address can register again (and the function runs again)");

    env.auth.register("wait@example.com", "password1", None).expect("pending");
    assert!(matches!(env.auth.login("local-userpass", &userpass("wait@example.com", "password1"), None), Err(AuthError::ConfirmationRequired)));
    let token = fake.0.lock().expect("calls").last().and_then(|(_, a)| a[0].as_document().cloned()).expect("call");
    env.auth.confirm(token.get_str("token").expect("token"), token.get_str("tokenId").expect("id")).expect("confirm with the function's token");
    env.auth.login("local-userpass", &userpass("wait@example.com", "password1"), None).expect("confirmed");
    assert!(matches!(env.auth.retry_confirmation_function("wait@example.com", None), Err(AuthError::UserAlreadyConfirmed)));

    // Reset: success changes the password, with the documented first argument and the extra ones.
    let extra = vec![Bson::String("x".into()), Bson::Int32(7)];
    env.auth.call_reset_function("ok@example.com", "password2", extra.clone(), None).expect("success");
    let (name, args) = fake.0.lock().expect("calls").last().cloned().expect("call");
    let arg = args[0].as_document().expect("argument");
    assert_eq!((name.as_str(), arg.get_str("password"), arg.get_bool("currentPasswordValid"), &args[1..]), ("resetFunc", Ok("password2"), Ok(false), &extra[..]));
    env.auth.login("local-userpass", &userpass("ok@example.com", "password2"), None).expect("new password");
    env.auth.call_reset_function("ok@example.com", "password2", Vec::new(), None).expect("same password");
    let (_, args) = fake.0.lock().expect("calls").last().cloned().expect("call");
    assert_eq!(args[0].as_document().and_then(|d| d.get_bool("currentPasswordValid").ok()), Some(true));
    // pending: the token works with `reset`.
    env.auth.call_reset_function("wait@example.com", "password3", Vec::new(), None).expect("pending");
    env.auth.login("local-userpass", &userpass("wait@example.com", "password1"), None).expect("unchanged while pending");
    let (_, args) = fake.0.lock().expect("calls").last().cloned().expect("call");
    let t = args[0].as_document().cloned().expect("argument");
    env.auth.reset_password(t.get_str("token").expect("t"), t.get_str("tokenId").expect("id"), "password3", None).expect("reset with the token");
    env.auth.login("local-userpass", &userpass("wait@example.com", "password3"), None).expect("new password");
    let calls = fake.0.lock().expect("calls").len();
    let e = env.auth.call_reset_function("nobody@example.com", "password3", Vec::new(), None).expect_err("unknown");
    assert!(matches!(&e, AuthError::FunctionFailed(m) if m == "failed to reset password for user \"nobody@example.com\""), "{e}");
    assert_eq!(fake.0.lock().expect("calls").len(), calls, "the function never sees unknown addresses");
}

#[test]
fn the_user_creation_function_runs_once_before_the_user_exists() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut a = app();
    if let Some(c) = a.custom_user_data.as_mut() {
        c.on_user_creation_function = Some("onCreate".into());
    }
    a.custom_function = Some("login".into());
    let env = open(dir.path(), a, 10);
    struct Creation(std::sync::Mutex<Vec<Bson>>);
    impl AuthFunctions for Creation {
        fn run(&self, name: &str, args: Vec<Bson>) -> Result<Bson, String> {
            if name == "login" {
                let payload = args[0].as_document().cloned().unwrap_or_default();
                return match payload.get_str("who") {
                    Ok("refused") => Err("not you".into()),
                    Ok(who) => Ok(Bson::Document(doc! {"id": who, "name": "Who"})),
                    Err(_) => Ok(Bson::Int32(1)),
                };
            }
            self.0.lock().expect("calls").push(args[0].clone());
            match args[0].as_document().and_then(|u| u.get_array("identities").ok()).and_then(|i| i.first()).and_then(Bson::as_document).and_then(|i| i.get_str("id").ok()) {
                Some("bad") => Err("no".into()),
                _ => Ok(Bson::Null),
            }
        }
    }
    let fake = Arc::new(Creation(std::sync::Mutex::new(Vec::new())));
    env.auth.set_functions(fake.clone());
    let body = |who: &str| doc! {"who": who, "options": {"device": {"sdkVersion": "x"}}};
    let first = env.auth.login("custom-function", &body("ext-1"), None).expect("login");
    let again = env.auth.login("custom-function", &body("ext-1"), None).expect("login again");
    assert_eq!(first.user_id, again.user_id, "the same external id is the same user");
    let created = fake.0.lock().expect("calls").clone();
    assert_eq!(created.len(), 1, "once, for the new user only");
    let user = created[0].as_document().expect("user");
    assert_eq!(user.get_str("id"), Ok(first.user_id.as_str()));
    assert_eq!(user.get_array("identities").ok().map(|i| i.len()), Some(1));
    let profile = env.auth.profile(&first.user_id).expect("profile");
    assert_eq!(profile["identities"][0]["provider_type"], "custom-function");
    assert_eq!(profile["identities"][0]["id"], "ext-1");
    assert_eq!(profile["data"]["name"], "Who");
    assert!(matches!(env.auth.login("custom-function", &body("refused"), None), Err(AuthError::AuthFailed(m)) if m == "not you"));
    assert!(matches!(env.auth.login("custom-function", &doc! {}, None), Err(AuthError::AuthFailed(_))), "no id returned");
    assert!(matches!(env.auth.login("custom-function", &body("bad"), None), Err(AuthError::FunctionFailed(_))), "the creation function threw");
    assert_eq!(env.auth.list_users().expect("users").len(), 1, "no user was created for the refused ones");
    env.auth.login("anon-user", &doc! {}, None).expect("anonymous users are created through it too");
    assert_eq!(fake.0.lock().expect("calls").len(), 3);
}

#[test]
fn api_keys_log_in_as_their_owner_until_disabled() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = open(dir.path(), app(), 10);
    registered(&env, "k@example.com");
    let me = env.auth.login("local-userpass", &userpass("k@example.com", "password1"), None).expect("login");
    let key = env.auth.create_api_key(&me.user_id, "server").expect("create");
    let secret = key.key.clone().expect("secret once");
    assert!(matches!(env.auth.create_api_key(&me.user_id, "server"), Err(AuthError::ApiKeyExists(_))));
    assert_eq!(env.auth.api_key(&me.user_id, &key.id).expect("fetch").key, None, "secret never shown again");
    assert!(matches!(env.auth.api_key("someone-else", &key.id), Err(AuthError::ApiKeyNotFound(_))));
    let r = env.auth.login("api-key", &doc! {"key": &secret}, None).expect("api-key login");
    assert_eq!(r.user_id, me.user_id);
    env.auth.set_api_key_disabled(&me.user_id, &key.id, true).expect("disable");
    assert!(matches!(env.auth.login("api-key", &doc! {"key": &secret}, None), Err(AuthError::AuthFailed(_))));
    env.auth.set_api_key_disabled(&me.user_id, &key.id, false).expect("enable");
    env.auth.login("api-key", &doc! {"key": &secret}, None).expect("enabled again");
    let wrong = format!("{}{}", &secret[..24], "0".repeat(40));
    assert!(env.auth.login("api-key", &doc! {"key": wrong}, None).is_err());
    env.auth.delete_api_key(&me.user_id, &key.id).expect("delete");
    assert!(env.auth.api_keys(&me.user_id).expect("list").is_empty());
    assert!(env.auth.login("api-key", &doc! {"key": &secret}, None).is_err());
}

fn custom_jwt(sub: &str, name: &str, exp: u64) -> String {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let claims = serde_json::json!({"sub": sub, "exp": exp, "name": name});
    encode(&Header::default(), &claims, &EncodingKey::from_secret(JWT_SECRET.as_bytes())).expect("sign")
}

#[test]
fn linking_deleting_and_disabling() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = open(dir.path(), app(), 10);
    let anon = env.auth.login("anon-user", &doc! {}, None).expect("anon");
    let claims = env.auth.verify_access_token(&anon.access_token).expect("claims");
    registered(&env, "l@example.com");
    let linked = env.auth.link(&claims, "local-userpass", &userpass("l@example.com", "password1"), None).expect("link");
    assert_eq!(linked.user_id, anon.user_id);
    assert!(linked.refresh_token.is_none());
    let profile = env.auth.profile(&anon.user_id).expect("profile");
    assert_eq!(profile["identities"].as_array().map(Vec::len), Some(2));
    assert_eq!(profile["data"]["email"], "l@example.com");
    // The email now logs in as the linked user.
    let again = env.auth.login("local-userpass", &userpass("l@example.com", "password1"), None).expect("login");
    assert_eq!(again.user_id, anon.user_id);

    // custom-token: a new user per subject, metadata refreshed at each login; linking someone else's identity fails.
    let exp = env.clock.now() + 60;
    let c1 = env.auth.login("custom-token", &doc! {"token": custom_jwt("sub-1", "Ann", exp)}, None).expect("jwt");
    let c2 = env.auth.login("custom-token", &doc! {"token": custom_jwt("sub-1", "Anna", exp)}, None).expect("jwt");
    assert_eq!(c1.user_id, c2.user_id);
    assert_eq!(env.auth.profile(&c1.user_id).expect("profile")["data"]["name"], "Anna");
    let e = env.auth.link(&claims, "custom-token", &doc! {"token": custom_jwt("sub-1", "x", exp)}, None);
    assert!(matches!(e, Err(AuthError::IdentityInUse)));
    assert!(matches!(env.auth.link(&claims, "anon-user", &doc! {}, None), Err(AuthError::BadRequest(_))));

    // Disabling: tokens stop working at once (even one verified, and so cached, just before), login is
    // refused; enabling lets the user log in again.
    env.auth.verify_access_token(&c2.access_token).expect("verified and remembered");
    env.auth.verify_access_token(&c2.access_token).expect("from the cache");
    env.auth.set_user_disabled(&c1.user_id, true).expect("disable");
    assert!(env.auth.verify_access_token(&c2.access_token).is_err());
    assert!(env.auth.refresh(c2.refresh_token.as_deref().expect("rt")).is_err());
    let e = env.auth.login("custom-token", &doc! {"token": custom_jwt("sub-1", "x", exp)}, None);
    assert!(matches!(e, Err(AuthError::UserDisabled)));
    env.auth.set_user_disabled(&c1.user_id, false).expect("enable");
    env.auth.login("custom-token", &doc! {"token": custom_jwt("sub-1", "x", exp)}, None).expect("enabled");

    // Deleting: tokens die, the email is free again, the identity is gone.
    env.auth.verify_access_token(&again.access_token).expect("verified and remembered");
    env.auth.delete_user(&anon.user_id).expect("delete");
    assert!(env.auth.verify_access_token(&again.access_token).is_err());
    assert!(env.auth.refresh(again.refresh_token.as_deref().expect("rt")).is_err());
    assert!(matches!(env.auth.delete_user(&anon.user_id), Err(AuthError::UserNotFound)));
    // As App Services answered after deleteUser: the right password gets `unauthorized`, a wrong one the usual answer.
    assert!(matches!(env.auth.login("local-userpass", &userpass("l@example.com", "password1"), None), Err(AuthError::Unauthorized)));
    assert!(matches!(env.auth.login("local-userpass", &userpass("l@example.com", "password2"), None), Err(AuthError::InvalidPassword)));
    registered(&env, "l@example.com");
    let fresh = env.auth.login("local-userpass", &userpass("l@example.com", "password1"), None).expect("login");
    assert_ne!(fresh.user_id, anon.user_id);
}

#[test]
fn failed_logins_are_rate_limited_per_account() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = open(dir.path(), app(), 3);
    registered(&env, "rl@example.com");
    for _ in 0..3 {
        assert!(matches!(env.auth.login("local-userpass", &userpass("rl@example.com", "wrong-pw"), None), Err(AuthError::InvalidPassword)));
    }
    let e = env.auth.login("local-userpass", &userpass("rl@example.com", "password1"), None);
    assert!(matches!(e, Err(AuthError::TooManyRequests(_))), "even the right password waits");
    env.clock.advance(60);
    env.auth.login("local-userpass", &userpass("rl@example.com", "password1"), None).expect("next minute");
}

#[test]
fn reopening_keeps_users_sessions_keys_and_pending_confirmations() {
    let dir = tempfile::tempdir().expect("tmp");
    let (session, secret, pending) = {
        let env = open(dir.path(), app(), 10);
        registered(&env, "p@example.com");
        let me = env.auth.login("local-userpass", &userpass("p@example.com", "password1"), None).expect("login");
        let key = env.auth.create_api_key(&me.user_id, "k").expect("key");
        env.auth.register("q@example.com", "password1", None).expect("register");
        (me, key.key.expect("secret"), env.mail.try_recv().expect("mail"))
    };
    let env = open(dir.path(), app(), 10);
    let at = env.auth.refresh(session.refresh_token.as_deref().expect("rt")).expect("session survived");
    assert_eq!(env.auth.verify_access_token(&at).expect("at").sub, session.user_id);
    assert_eq!(env.auth.login("api-key", &doc! {"key": secret}, None).expect("key survived").user_id, session.user_id);
    assert_eq!(env.auth.pending_confirmations().expect("pending")[0].email, "q@example.com");
    env.auth.confirm(&pending.token, &pending.token_id).expect("confirmation survived");
}

/// Runs `f` on `n` threads at once; returns their results.
fn parallel<T: Send + 'static>(n: usize, f: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let f = Arc::new(f);
    let start = Arc::new(std::sync::Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (f, start) = (f.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                f(i)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().expect("thread")).collect()
}

// Issue 10 item 4: parallel wrong passwords cannot all pass the check before one is counted.
#[test]
fn parallel_failed_logins_check_at_most_the_limit() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut a = app();
    a.userpass = Some(UserpassConfig { auto_confirm: true, ..UserpassConfig::default() });
    let env = open(dir.path(), a, 3);
    env.auth.register("race@example.com", "password1", None).expect("register");
    let before = env.auth.hash_stats().computed;
    let auth = env.auth.clone();
    let results = parallel(24, move |i| auth.login("local-userpass", &userpass("race@example.com", &format!("wrong-{i}")), None));
    let checked = results.iter().filter(|r| matches!(r, Err(AuthError::InvalidPassword))).count();
    assert!(checked <= 3, "{checked} passwords checked");
    assert!(results.iter().all(|r| matches!(r, Err(AuthError::InvalidPassword | AuthError::TooManyRequests(_)))));
    assert_eq!(env.auth.hash_stats().computed - before, checked as u64, "refused attempts hash nothing");
}

// Issue 10 item 6: a reset checks its token before hashing; hashing never runs wider than the bound.
#[test]
fn bogus_resets_hash_nothing_and_hashing_is_bounded() {
    let dir = tempfile::tempdir().expect("tmp");
    let options = AuthOptions { max_concurrent_hashes: 2, ..AuthOptions::default() };
    let env = open_with(dir.path(), app(), options);
    let auth = env.auth.clone();
    let results = parallel(32, move |i| auth.reset_password("bogus", &format!("{i:024x}"), "new-password", None));
    assert!(results.iter().all(|r| matches!(r, Err(AuthError::BadRequest(m)) if m == "invalid token data")));
    assert_eq!(env.auth.hash_stats().computed, 0, "no bogus reset hashed its password");

    let auth = env.auth.clone();
    let results = parallel(8, move |i| auth.register(&format!("u{i}@example.com"), "password1", None));
    assert!(results.iter().all(Result::is_ok));
    let stats = env.auth.hash_stats();
    assert_eq!(stats.computed, 8);
    assert!(stats.peak_concurrency <= 2, "{stats:?}");
}

// Issue 10 item 6: the unauthenticated email/password routes share a budget per client address.
#[test]
fn account_routes_are_limited_per_address() {
    let dir = tempfile::tempdir().expect("tmp");
    let options = AuthOptions { account_limit_per_address: 2, ..AuthOptions::default() };
    let env = open_with(dir.path(), app(), options);
    let ip: Option<IpAddr> = Some([192, 0, 2, 1].into());
    env.auth.send_reset("a@example.com", ip).expect("first");
    assert!(matches!(env.auth.reset_password("t", "0", "password1", ip), Err(AuthError::BadRequest(_))));
    assert!(matches!(env.auth.register("b@example.com", "password1", ip), Err(AuthError::TooManyRequests(_))));
    env.auth.register("b@example.com", "password1", Some([192, 0, 2, 2].into())).expect("another address");
    env.clock.advance(60);
    env.auth.resend_confirmation("b@example.com", ip).expect("next minute");
}

// Issue 10 item 9: ending a session ends its access tokens; nothing brings them back.
#[test]
fn access_tokens_die_with_their_session() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = open(dir.path(), app(), 10);
    registered(&env, "s@example.com");
    let login = || env.auth.login("local-userpass", &userpass("s@example.com", "password1"), None).expect("login");
    let dead = |r: &LoginResponse| matches!(env.auth.verify_access_token(&r.access_token), Err(AuthError::InvalidSession(_)));

    let a = login();
    let b = login();
    env.auth.verify_access_token(&a.access_token).expect("live (and now cached)");
    env.auth.logout(a.refresh_token.as_deref().expect("rt")).expect("logout");
    assert!(dead(&a), "logout");
    assert!(!dead(&b), "another session lives on");

    assert_eq!(env.auth.revoke_sessions(&b.user_id).expect("revoke"), 1);
    assert!(dead(&b), "revoke");

    let c = login();
    env.auth.set_user_disabled(&c.user_id, true).expect("disable");
    env.auth.set_user_disabled(&c.user_id, false).expect("enable");
    assert!(dead(&c), "disabled then enabled");

    let d = login();
    let key = env.auth.create_api_key(&d.user_id, "k").expect("key");
    let by_key = env.auth.login("api-key", &doc! {"key": key.key.as_deref().expect("secret")}, None).expect("key login");
    env.auth.delete_api_key(&d.user_id, &key.id).expect("delete key");
    assert!(dead(&by_key), "API key deleted");
    assert!(!dead(&d), "the owner's session lives on");

    env.auth.send_reset("s@example.com", None).expect("send");
    let m = env.mail.try_recv().expect("reset mail");
    env.auth.reset_password(&m.token, &m.token_id, "new-password", None).expect("reset");
    assert!(dead(&d), "password reset");

    // A token of an older version names no session: it is refused (the client refreshes).
    let e = env.auth.login("anon-user", &doc! {}, None).expect("anon");
    let mut claims = env.auth.verify_access_token(&e.access_token).expect("live");
    claims.baas_session_id = String::new();
    let legacy = env.auth.keys.sign(&claims).expect("sign");
    assert!(matches!(env.auth.verify_access_token(&legacy), Err(AuthError::InvalidSession(_))));
}

// Issue 10 item 7: watchers hear of every revocation.
#[test]
fn revocations_are_signalled() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = open(dir.path(), app(), 10);
    let mut signal = env.auth.revocations();
    let r = env.auth.login("anon-user", &doc! {}, None).expect("anon");
    assert!(!signal.has_changed().expect("open"), "a login revokes nothing");
    env.auth.logout(r.refresh_token.as_deref().expect("rt")).expect("logout");
    assert!(signal.has_changed().expect("open"), "logout");
    signal.borrow_and_update();
    env.auth.logout("unknown").expect("unknown token");
    assert!(!signal.has_changed().expect("open"), "nothing ended");
}

// Issue 10 item 14: tokens are unique even within a second; sessions belong to their app.
#[test]
fn tokens_are_unique_and_sessions_belong_to_their_app() {
    let dir = tempfile::tempdir().expect("tmp");
    let rt = {
        let env = open(dir.path(), app(), 10);
        let r = env.auth.login("anon-user", &doc! {}, None).expect("anon");
        let rt = r.refresh_token.expect("rt");
        let (a, b) = (env.auth.refresh(&rt).expect("refresh"), env.auth.refresh(&rt).expect("refresh"));
        assert_ne!(a, b, "same second, same session");
        assert_ne!(a, r.access_token);
        rt
    };
    let mut other = app();
    other.app_id = "another-app-abcde".into();
    let env = open(dir.path(), other, 10);
    assert!(matches!(env.auth.refresh(&rt), Err(AuthError::InvalidSession(_))), "another app");
    assert!(matches!(env.auth.session_user(&rt), Err(AuthError::InvalidSession(_))), "another app");
    drop(env);
    let env = open(dir.path(), app(), 10);
    env.auth.refresh(&rt).expect("its own app");
}

// Issue 10 item 14 (upgrade): sessions written by an older version keep working with their app.
#[test]
fn sessions_of_older_versions_are_adopted() {
    let dir = tempfile::tempdir().expect("tmp");
    let rt = "legacy-refresh-token";
    {
        let env = open(dir.path(), app(), 10);
        let r = env.auth.login("anon-user", &doc! {}, None).expect("anon");
        let txn = env.auth.db.begin_write().expect("txn");
        {
            let mut sessions = txn.open_table(SESSIONS).expect("sessions");
            let record = doc! {"user_id": &r.user_id, "device_id": &r.device_id, "created": 1_i64, "expires": 4_000_000_000_i64};
            sessions.insert(token_hash(rt).as_str(), to_bytes(&record).expect("bytes").as_slice()).expect("insert");
        }
        txn.commit().expect("commit");
    }
    let env = open(dir.path(), app(), 10);
    let at = env.auth.refresh(rt).expect("adopted");
    env.auth.verify_access_token(&at).expect("its access token names the session");
    env.auth.logout(rt).expect("logout");
    assert!(env.auth.verify_access_token(&at).is_err());
}

// Issue 10 item 11: one account per address whatever its case, and older data stays reachable.
#[test]
fn emails_match_without_case() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let env = open(dir.path(), app(), 10);
        registered(&env, "Victim@Ex.com");
        assert!(matches!(env.auth.register("victim@ex.com", "password2", None), Err(AuthError::AccountNameInUse)));
        let r = env.auth.login("local-userpass", &userpass("VICTIM@EX.COM", "password1"), None).expect("any case logs in");
        assert_eq!(env.auth.profile(&r.user_id).expect("profile")["data"]["email"], "Victim@Ex.com", "the address as registered");
        // An account stored by an older version, without its folded entry.
        let txn = env.auth.db.begin_write().expect("txn");
        let account = doc! {"identity_id": ObjectId::new().to_hex(), "password_hash": "x", "confirmed": true, "created": 1_i64};
        txn.open_table(USERPASS).expect("up").insert("Old@Ex.com", to_bytes(&account).expect("bytes").as_slice()).expect("insert");
        txn.commit().expect("commit");
    }
    let env = open(dir.path(), app(), 10);
    assert!(matches!(env.auth.register("old@ex.com", "password2", None), Err(AuthError::AccountNameInUse)), "indexed at open");
    env.auth.send_reset("OLD@EX.COM", None).expect("reset");
    assert_eq!(env.mail.try_recv().expect("mail").email, "Old@Ex.com", "links go to the address as registered");
}

// Issue 10 item 11: links per address per hour, counted for unknown addresses too.
#[test]
fn email_links_are_limited_per_address() {
    let dir = tempfile::tempdir().expect("tmp");
    let options = AuthOptions { email_limit_per_account: 2, ..AuthOptions::default() };
    let env = open_with(dir.path(), app(), options);
    registered(&env, "v@example.com");
    for email in ["v@example.com", "V@example.com", "nobody@example.com", "nobody@example.com"] {
        env.auth.send_reset(email, None).expect(email);
    }
    assert!(matches!(env.auth.send_reset("v@example.com", None), Err(AuthError::TooManyRequests(_))));
    assert!(matches!(env.auth.send_reset("nobody@example.com", None), Err(AuthError::TooManyRequests(_))));
    assert_eq!(env.mail.try_iter().count(), 2);
    env.clock.advance(3600);
    env.auth.send_reset("v@example.com", None).expect("next hour");
}

// Issue 10 item 11: expired sessions and links, and anonymous users gone for good, are purged.
#[test]
fn purge_removes_what_nobody_can_use() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut a = app();
    a.refresh_token_ttl_secs = 200 * 24 * 3600;
    let env = open(dir.path(), a, 10);
    const DAY: u64 = 24 * 3600;
    let idle = env.auth.login("anon-user", &doc! {}, None).expect("anon");
    let active = env.auth.login("anon-user", &doc! {}, None).expect("anon");
    let gone = env.auth.login("anon-user", &doc! {}, None).expect("anon");
    let linked = env.auth.login("anon-user", &doc! {}, None).expect("anon");
    registered(&env, "linked@example.com");
    let claims = env.auth.verify_access_token(&linked.access_token).expect("claims");
    env.auth.link(&claims, "local-userpass", &userpass("linked@example.com", "password1"), None).expect("link");
    env.auth.register("pending@example.com", "password1", None).expect("register");
    env.auth.logout(gone.refresh_token.as_deref().expect("rt")).expect("logout");

    assert_eq!(env.auth.purge().expect("purge"), Purged::default(), "a user logged out a moment ago is kept for an hour");
    env.clock.advance(3600);
    let purged = env.auth.purge().expect("purge");
    assert_eq!((purged.anonymous_users, purged.email_tokens), (1, 1), "{purged:?}");
    assert!(env.auth.profile(&gone.user_id).is_err(), "no session left: gone");
    assert_eq!(env.auth.pending_confirmations().expect("pending")[0].link_expires, 0, "the expired link is gone");

    env.clock.advance(60 * DAY);
    env.auth.refresh(active.refresh_token.as_deref().expect("rt")).expect("activity");
    env.clock.advance(30 * DAY - 3600);
    assert_eq!(env.auth.purge().expect("purge").anonymous_users, 1, "90 days without activity");
    assert!(env.auth.profile(&idle.user_id).is_err());
    assert!(env.auth.refresh(idle.refresh_token.as_deref().expect("rt")).is_err(), "its sessions went with it");
    env.auth.profile(&active.user_id).expect("active 30 days ago");
    env.auth.profile(&linked.user_id).expect("linked users are not anonymous");

    env.clock.advance(200 * DAY);
    let purged = env.auth.purge().expect("purge");
    assert!(purged.sessions >= 2, "expired sessions: {purged:?}");
    env.auth.profile(&linked.user_id).expect("still not anonymous");
}

#[test]
fn credentials_authenticate_without_a_session() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = open(dir.path(), app(), 10);
    registered(&env, "e@example.com");
    let creds = userpass("e@example.com", "password1");
    // Confirmed but never logged in: no user yet, unless asked to create one.
    assert!(matches!(env.auth.authenticate("local-userpass", &creds, None, false), Err(AuthError::UserNotFound)));
    let id = env.auth.authenticate("local-userpass", &creds, None, true).expect("created");
    assert_eq!(env.auth.authenticate("local-userpass", &creds, None, false).expect("found"), id);
    assert_eq!(env.auth.login("local-userpass", &creds, None).expect("login").user_id, id, "the same user logs in");
    assert_eq!(env.auth.revoke_sessions(&id).expect("revoke"), 1, "only the login made a session");
    assert!(matches!(env.auth.authenticate("local-userpass", &userpass("e@example.com", "wrong1"), None, true), Err(AuthError::InvalidPassword)));
    // API keys and custom JWTs.
    let key = env.auth.create_api_key(&id, "k").expect("key").key.expect("secret");
    assert_eq!(env.auth.authenticate("api-key", &doc! {"key": &key}, None, false).expect("api key"), id);
    let jwt = custom_jwt("sub-9", "Nine", env.clock.now() + 60);
    assert!(matches!(env.auth.authenticate("custom-token", &doc! {"token": &jwt}, None, false), Err(AuthError::UserNotFound)));
    let nine = env.auth.authenticate("custom-token", &doc! {"token": &jwt}, None, true).expect("created");
    assert_eq!(env.auth.revoke_sessions(&nine).expect("revoke"), 0);
    assert!(matches!(env.auth.authenticate("anon-user", &doc! {}, None, true), Err(AuthError::ProviderNotFound(_))), "anonymous is no credential");
    env.auth.set_user_disabled(&id, true).expect("disable");
    assert!(matches!(env.auth.authenticate("api-key", &doc! {"key": &key}, None, false), Err(AuthError::UserDisabled)));
}
