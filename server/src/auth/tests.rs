//! Auth service tests on a real redb file with an injected clock (expiry without waiting) and an
//! in-process outbox (confirmation and reset links).

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
    auth: Auth,
    clock: Arc<ManualClock>,
    mail: Receiver<Message>,
}

fn open(dir: &std::path::Path, app: AppConfig, limit: u32) -> Env {
    let clock = Arc::new(ManualClock(AtomicU64::new(1_700_000_000)));
    let db = open_database(dir).expect("db");
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(db.clone()).expect("store"));
    let (outbox, mail) = Outbox::channel();
    let options = AuthOptions {
        outbox,
        clock: clock.clone(),
        login_limit_per_account: limit,
        login_limit_per_address: 1000,
        ..AuthOptions::default()
    };
    Env { auth: Auth::open(db, Arc::new(app), store, options).expect("auth"), clock, mail }
}

fn userpass(email: &str, password: &str) -> Document {
    doc! {"username": email, "password": password}
}

/// Registers and confirms `email` with the link from the outbox.
fn registered(env: &Env, email: &str) {
    env.auth.register(email, "password1").expect("register");
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
    env.auth.register("a@example.com", "password1").expect("register");
    let m = env.mail.try_recv().expect("mail");
    assert_eq!(m.url.as_deref(), Some(format!("http://app.example/confirm?token={}&tokenId={}", m.token, m.token_id).as_str()));
    assert_eq!(env.auth.pending_confirmations().expect("pending").len(), 1);
    assert!(matches!(env.auth.login("local-userpass", &userpass("a@example.com", "password1"), None), Err(AuthError::ConfirmationRequired)));
    assert!(matches!(env.auth.confirm("wrong", &m.token_id), Err(AuthError::BadRequest(_))));
    env.auth.confirm(&m.token, &m.token_id).expect("confirm (a wrong guess does not burn the token)");
    assert!(matches!(env.auth.confirm(&m.token, &m.token_id), Err(AuthError::BadRequest(_))), "single use");
    assert!(matches!(env.auth.resend_confirmation("a@example.com"), Err(AuthError::UserAlreadyConfirmed)));
    assert!(matches!(env.auth.resend_confirmation("nobody@example.com"), Err(AuthError::UserNotFound)));
    assert!(env.auth.pending_confirmations().expect("pending").is_empty());
    env.auth.login("local-userpass", &userpass("a@example.com", "password1"), None).expect("login");

    env.auth.register("b@example.com", "password1").expect("register");
    let old = env.mail.try_recv().expect("mail");
    env.clock.advance(userpass::CONFIRMATION_TTL_SECS);
    assert!(matches!(env.auth.confirm(&old.token, &old.token_id), Err(AuthError::BadRequest(m)) if m == "token expired"));
    env.auth.resend_confirmation("b@example.com").expect("resend");
    let new = env.mail.try_recv().expect("mail");
    env.auth.confirm(&new.token, &new.token_id).expect("fresh link works");
}

#[test]
fn password_reset_by_link() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = open(dir.path(), app(), 10);
    registered(&env, "r@example.com");
    assert!(matches!(env.auth.send_reset("nobody@example.com"), Err(AuthError::UserNotFound)));
    env.auth.send_reset("r@example.com").expect("send");
    let m = env.mail.try_recv().expect("reset mail");
    assert_eq!(m.kind, "reset");
    assert!(matches!(env.auth.reset_password(&m.token, &m.token_id, "short"), Err(AuthError::BadRequest(_))));
    env.auth.reset_password(&m.token, &m.token_id, "new-password").expect("reset");
    assert!(env.auth.reset_password(&m.token, &m.token_id, "newer-password").is_err(), "single use");
    assert!(matches!(env.auth.login("local-userpass", &userpass("r@example.com", "password1"), None), Err(AuthError::InvalidPassword)));
    env.auth.login("local-userpass", &userpass("r@example.com", "new-password"), None).expect("new password");

    env.auth.send_reset("r@example.com").expect("send");
    let m = env.mail.try_recv().expect("reset mail");
    env.clock.advance(userpass::RESET_TTL_SECS);
    assert!(env.auth.reset_password(&m.token, &m.token_id, "third-password").is_err(), "expired after 30 min");
    assert!(matches!(env.auth.call_reset_function("r@example.com", "password2"), Err(AuthError::BadRequest(_))));
}

#[test]
fn function_flows_answer_not_supported() {
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
    let e = env.auth.register("f@example.com", "password1").expect_err("function confirmation");
    assert!(matches!(&e, AuthError::NotSupported(m) if m.contains("confirmUser")), "{e}");
    assert!(env.auth.pending_confirmations().expect("pending").is_empty(), "no partial account");
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
    assert!(matches!(env.auth.api_key("someone-else", &key.id), Err(AuthError::ApiKeyNotFound)));
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
    assert!(matches!(env.auth.login("local-userpass", &userpass("l@example.com", "password1"), None), Err(AuthError::InvalidPassword)));
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
        env.auth.register("q@example.com", "password1").expect("register");
        (me, key.key.expect("secret"), env.mail.try_recv().expect("mail"))
    };
    let env = open(dir.path(), app(), 10);
    let at = env.auth.refresh(session.refresh_token.as_deref().expect("rt")).expect("session survived");
    assert_eq!(env.auth.verify_access_token(&at).expect("at").sub, session.user_id);
    assert_eq!(env.auth.login("api-key", &doc! {"key": secret}, None).expect("key survived").user_id, session.user_id);
    assert_eq!(env.auth.pending_confirmations().expect("pending")[0].email, "q@example.com");
    env.auth.confirm(&pending.token, &pending.token_id).expect("confirmation survived");
}
