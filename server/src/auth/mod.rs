//! Users, identities, providers (anon-user, local-userpass), password hashing, tokens, sessions.
//!
//! Everything lives in redb (tables `users`, `userpass`, `sessions`, `meta`), so a restart keeps
//! users and sessions. Refresh tokens are random and stored only as SHA-256 hashes; access
//! tokens are HS256 JWTs signed with a key generated once and kept in the `meta` table.

mod tokens;

pub use tokens::AccessClaims;

use crate::config::AppConfig;
use crate::query::Filter;
use crate::store::{Namespace, Store, StoreError};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use bson::{doc, oid::ObjectId, Bson, Document};
use rand::RngCore;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use sha2::{Digest, Sha256};
use std::sync::Arc;

const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
const USERPASS: TableDefinition<&str, &[u8]> = TableDefinition::new("userpass");
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// Authentication failures (mapped to HTTP statuses in `http`).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Missing, malformed, expired or revoked token.
    #[error("invalid session: {0}")]
    InvalidSession(String),
    /// Wrong email or password.
    #[error("invalid username/password")]
    InvalidPassword,
    /// Registration of an existing email.
    #[error("name already in use")]
    AccountNameInUse,
    /// Invalid registration input.
    #[error("{0}")]
    BadRequest(String),
    /// Provider not enabled / unknown.
    #[error("authentication via '{0}' is unsupported")]
    ProviderNotFound(String),
    /// The user behind a valid token no longer exists.
    #[error("user not found")]
    UserNotFound,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing or signing failed.
    #[error("internal auth error: {0}")]
    Internal(String),
}

impl From<redb::Error> for AuthError {
    fn from(e: redb::Error) -> Self {
        AuthError::Store(StoreError::Backend(e))
    }
}

macro_rules! redb_from {
    ($($t:ty),*) => {$(
        impl From<$t> for AuthError {
            fn from(e: $t) -> Self { AuthError::from(redb::Error::from(e)) }
        }
    )*};
}
redb_from!(redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

/// What a successful login returns on the wire.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoginResponse {
    /// User id (24 hex).
    pub user_id: String,
    /// Access token (JWT).
    pub access_token: String,
    /// Refresh token.
    pub refresh_token: String,
    /// Device id (24 hex).
    pub device_id: String,
}

/// The authentication service of one app.
pub struct Auth {
    db: Arc<Database>,
    app: Arc<AppConfig>,
    store: Arc<dyn Store>,
    keys: tokens::Keys,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn to_bytes(d: &Document) -> Result<Vec<u8>, AuthError> {
    bson::to_vec(d).map_err(|e| AuthError::Internal(e.to_string()))
}

fn from_bytes(b: &[u8]) -> Result<Document, AuthError> {
    Document::from_reader(b).map_err(|e| AuthError::Internal(e.to_string()))
}

/// SHA-256 hex of a refresh token (the only form stored).
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Basic email shape check: one `@`, non-empty local part and a dotless-or-dotted domain, no spaces.
fn valid_email(email: &str) -> bool {
    let mut parts = email.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
                && email.len() <= 254
        }
        _ => false,
    }
}

/// Picks the device id: the client's `options.device.deviceId` if it is a real ObjectId, else a new one.
pub fn device_id_from(body: &Document) -> String {
    let given = body
        .get_document("options")
        .ok()
        .and_then(|o| o.get_document("device").ok())
        .and_then(|d| d.get("deviceId"));
    match given {
        Some(Bson::ObjectId(oid)) if oid.bytes() != [0u8; 12] => oid.to_hex(),
        Some(Bson::String(s)) if s.len() == 24 && s != "000000000000000000000000" && ObjectId::parse_str(s).is_ok() => {
            s.clone()
        }
        _ => ObjectId::new().to_hex(),
    }
}

impl Auth {
    /// Opens the auth tables (creating them and the signing key on first use).
    pub fn open(db: Arc<Database>, app: Arc<AppConfig>, store: Arc<dyn Store>) -> Result<Auth, AuthError> {
        let txn = db.begin_write()?;
        let secret = {
            txn.open_table(USERS)?;
            txn.open_table(USERPASS)?;
            txn.open_table(SESSIONS)?;
            let mut meta = txn.open_table(META)?;
            let existing = meta.get("jwt_secret")?.map(|v| v.value().to_vec());
            match existing {
                Some(s) => s,
                None => {
                    let mut s = vec![0u8; 64];
                    OsRng.fill_bytes(&mut s);
                    meta.insert("jwt_secret", s.as_slice())?;
                    s
                }
            }
        };
        txn.commit()?;
        let keys = tokens::Keys::new(&secret, &app.app_id);
        Ok(Auth { db, app, store, keys })
    }

    /// The app this service authenticates for.
    pub fn app(&self) -> &AppConfig {
        &self.app
    }

    /// Registers an email/password user (auto-confirmed).
    pub fn register(&self, email: &str, password: &str) -> Result<(), AuthError> {
        if !self.app.userpass_enabled {
            return Err(AuthError::ProviderNotFound("local-userpass".into()));
        }
        if !valid_email(email) {
            return Err(AuthError::BadRequest(format!("email invalid: {email:?} is not a valid email address")));
        }
        let len = password.chars().count();
        if !(6..=128).contains(&len) {
            return Err(AuthError::BadRequest("password must be between 6 and 128 characters".into()));
        }
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| AuthError::Internal(e.to_string()))?
            .to_string();
        let user_id = ObjectId::new().to_hex();
        let identity_id = ObjectId::new().to_hex();
        let txn = self.db.begin_write()?;
        {
            let mut up = txn.open_table(USERPASS)?;
            if up.get(email)?.is_some() {
                return Err(AuthError::AccountNameInUse);
            }
            up.insert(
                email,
                to_bytes(&doc! {"user_id": &user_id, "identity_id": &identity_id, "password_hash": hash})?.as_slice(),
            )?;
            let user = doc! {
                "_id": &user_id,
                "type": "normal",
                "created": now_secs() as i64,
                "identities": [{
                    "id": &identity_id,
                    "provider_type": "local-userpass",
                    "provider_id": "local-userpass",
                    "provider_data": {"email": email},
                }],
                "data": {"email": email},
            };
            txn.open_table(USERS)?.insert(user_id.as_str(), to_bytes(&user)?.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Logs in with a provider; `body` is the decoded login request (credentials + options).
    pub fn login(&self, provider: &str, body: &Document) -> Result<LoginResponse, AuthError> {
        let device_id = device_id_from(body);
        let user_id = match provider {
            "anon-user" if self.app.anon_enabled => self.create_anon_user()?,
            "local-userpass" if self.app.userpass_enabled => {
                let username = match body.get("username").or_else(|| body.get("email")) {
                    Some(Bson::String(s)) => s.clone(),
                    _ => return Err(AuthError::BadRequest("expected a string 'username'".into())),
                };
                let password = match body.get("password") {
                    Some(Bson::String(s)) => s.clone(),
                    _ => return Err(AuthError::BadRequest("expected a string 'password'".into())),
                };
                self.check_password(&username, &password)?
            }
            other => return Err(AuthError::ProviderNotFound(other.to_string())),
        };
        let refresh_token = self.create_session(&user_id, &device_id)?;
        let access_token = self.issue_access_token(&user_id, &device_id)?;
        Ok(LoginResponse { user_id, access_token, refresh_token, device_id })
    }

    fn create_anon_user(&self) -> Result<String, AuthError> {
        let user_id = ObjectId::new().to_hex();
        let user = doc! {
            "_id": &user_id,
            "type": "normal",
            "created": now_secs() as i64,
            "identities": [{
                "id": ObjectId::new().to_hex(),
                "provider_type": "anon-user",
                "provider_id": "anon-user",
                "provider_data": {},
            }],
            "data": {},
        };
        let txn = self.db.begin_write()?;
        txn.open_table(USERS)?.insert(user_id.as_str(), to_bytes(&user)?.as_slice())?;
        txn.commit()?;
        Ok(user_id)
    }

    fn check_password(&self, email: &str, password: &str) -> Result<String, AuthError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(USERPASS)?;
        let record = match table.get(email)? {
            Some(v) => from_bytes(v.value())?,
            None => return Err(AuthError::InvalidPassword),
        };
        let stored = record.get_str("password_hash").map_err(|e| AuthError::Internal(e.to_string()))?;
        let parsed = PasswordHash::new(stored).map_err(|e| AuthError::Internal(e.to_string()))?;
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .map_err(|_| AuthError::InvalidPassword)?;
        record
            .get_str("user_id")
            .map(str::to_string)
            .map_err(|e| AuthError::Internal(e.to_string()))
    }

    fn create_session(&self, user_id: &str, device_id: &str) -> Result<String, AuthError> {
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let token = hex::encode(raw);
        let record = doc! {"user_id": user_id, "device_id": device_id, "created": now_secs() as i64};
        let txn = self.db.begin_write()?;
        txn.open_table(SESSIONS)?.insert(token_hash(&token).as_str(), to_bytes(&record)?.as_slice())?;
        txn.commit()?;
        Ok(token)
    }

    /// Issues a fresh access token carrying the user's current custom data.
    pub fn issue_access_token(&self, user_id: &str, device_id: &str) -> Result<String, AuthError> {
        let user_data = self.custom_data(user_id)?;
        let iat = now_secs();
        self.keys.sign(&AccessClaims {
            exp: iat + self.app.access_token_ttl_secs,
            iat,
            sub: user_id.to_string(),
            user_data,
            baas_device_id: device_id.to_string(),
            baas_app_id: self.app.app_id.clone(),
            typ: "access".into(),
        })
    }

    /// The user's custom data document as relaxed extended JSON, if there is one.
    pub fn custom_data(&self, user_id: &str) -> Result<Option<serde_json::Value>, AuthError> {
        let Some(cud) = &self.app.custom_user_data else { return Ok(None) };
        let ns = Namespace::new(&cud.database, &cud.collection)?;
        let filter = Filter::parse(&doc! { cud.user_id_field.as_str(): user_id })
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let mut found = None;
        self.store.read(&ns, &mut |c| found = c.docs().find(|d| filter.matches(d)).cloned())?;
        Ok(found.map(|d| Bson::Document(d).into_relaxed_extjson()))
    }

    /// Validates an access token and returns its claims (the user must still exist).
    pub fn verify_access_token(&self, token: &str) -> Result<AccessClaims, AuthError> {
        let claims = self.keys.verify(token)?;
        if !self.user_exists(&claims.sub)? {
            return Err(AuthError::InvalidSession("user no longer exists".into()));
        }
        Ok(claims)
    }

    fn user_exists(&self, user_id: &str) -> Result<bool, AuthError> {
        let read = self.db.begin_read()?;
        Ok(read.open_table(USERS)?.get(user_id)?.is_some())
    }

    /// `POST /auth/session`: a new access token for a refresh token (which is not rotated).
    pub fn refresh(&self, refresh_token: &str) -> Result<String, AuthError> {
        let (user_id, device_id) = self.session(refresh_token)?;
        if !self.user_exists(&user_id)? {
            return Err(AuthError::InvalidSession("user no longer exists".into()));
        }
        self.issue_access_token(&user_id, &device_id)
    }

    fn session(&self, refresh_token: &str) -> Result<(String, String), AuthError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(SESSIONS)?;
        let record = match table.get(token_hash(refresh_token).as_str())? {
            Some(v) => from_bytes(v.value())?,
            None => return Err(AuthError::InvalidSession("failed to find refresh token".into())),
        };
        let get = |k: &str| record.get_str(k).map(str::to_string).map_err(|e| AuthError::Internal(e.to_string()));
        Ok((get("user_id")?, get("device_id")?))
    }

    /// `DELETE /auth/session`: revokes the refresh token; unknown tokens are ignored.
    pub fn logout(&self, refresh_token: &str) -> Result<(), AuthError> {
        let txn = self.db.begin_write()?;
        txn.open_table(SESSIONS)?.remove(token_hash(refresh_token).as_str())?;
        txn.commit()?;
        Ok(())
    }

    /// `GET /auth/profile` body for a user.
    pub fn profile(&self, user_id: &str) -> Result<serde_json::Value, AuthError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(USERS)?;
        let user = match table.get(user_id)? {
            Some(v) => from_bytes(v.value())?,
            None => return Err(AuthError::UserNotFound),
        };
        let identities = user.get_array("identities").cloned().unwrap_or_default();
        let data = user.get_document("data").cloned().unwrap_or_default();
        Ok(serde_json::json!({
            "user_id": user_id,
            "domain_id": &self.app.app_id,
            "type": user.get_str("type").unwrap_or("normal"),
            "identities": Bson::Array(identities).into_relaxed_extjson(),
            "data": Bson::Document(data).into_relaxed_extjson(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_shapes() {
        for ok in ["a@b.c", "x.y+z@example.org", "u@localhost"] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in ["", "abc", "a@", "@b", "a@b@c", "a b@c.d", "a@.c", "a@c."] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn device_ids() {
        let oid = ObjectId::new();
        assert_eq!(device_id_from(&doc! {"options": {"device": {"deviceId": oid}}}), oid.to_hex());
        let zeros = ObjectId::from_bytes([0; 12]);
        assert_ne!(device_id_from(&doc! {"options": {"device": {"deviceId": zeros}}}), zeros.to_hex());
        assert_eq!(device_id_from(&doc! {}).len(), 24);
    }

    #[test]
    fn refresh_token_hash_is_stable_and_not_the_token() {
        assert_eq!(token_hash("abc"), token_hash("abc"));
        assert_ne!(token_hash("abc"), "abc");
        assert_eq!(token_hash("abc").len(), 64);
    }
}
