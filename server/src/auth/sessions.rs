//! Sessions: one per login, named by a refresh token (stored hashed) and by a session id that every
//! access token of the session carries. A session belongs to one app and one user, and remembers the
//! API key it was opened with; ending it (logout, revoke, disable, delete, password reset, key
//! removal, expiry) ends its access tokens at their next use.

use super::tables::*;
use super::{session_error, Auth, AuthError};
use super::tokens::AccessClaims;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use bson::{doc, oid::ObjectId, Document};
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

/// Users' `last_active` is rewritten at most this often (it only serves the anonymous-user purge).
const ACTIVITY_RESOLUTION_SECS: u64 = 24 * 60 * 60;

/// A live session.
pub(super) struct Session {
    pub(super) user_id: String,
    pub(super) device_id: String,
    pub(super) session_id: String,
}

impl Auth {
    /// Opens a session for `user_id` (through API key `key_id` when given); returns its refresh
    /// token and id. The user's `last_active` is set in the same transaction.
    pub(super) fn create_session(&self, user_id: &str, device_id: &str, key_id: Option<&str>) -> Result<(String, String), AuthError> {
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let token = hex::encode(raw);
        let session_id = ObjectId::new().to_hex();
        let now = self.now();
        let expires = now.saturating_add(self.app.refresh_token_ttl_secs);
        let mut record = doc! {
            "session_id": &session_id, "app_id": &self.app.app_id, "user_id": user_id, "device_id": device_id,
            "created": now as i64, "expires": expires as i64,
        };
        if let Some(key_id) = key_id {
            record.insert("api_key_id", key_id);
        }
        let hash = token_hash(&token);
        let txn = self.db.begin_write()?;
        txn.open_table(SESSIONS)?.insert(hash.as_str(), to_bytes(&record)?.as_slice())?;
        txn.open_table(SESSION_IDS)?.insert(session_id.as_str(), hash.as_str())?;
        mark_active(&txn, user_id, now)?;
        txn.commit()?;
        Ok((token, session_id))
    }

    /// The live session of a refresh token (of this app, unexpired).
    fn session(&self, refresh_token: &str) -> Result<Session, AuthError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(SESSIONS)?;
        let record = match table.get(token_hash(refresh_token).as_str())? {
            Some(v) => from_bytes(v.value())?,
            None => return Err(AuthError::InvalidSession("failed to find refresh token".into())),
        };
        self.live(&record)?;
        Ok(Session { user_id: field(&record, "user_id")?, device_id: field(&record, "device_id")?, session_id: field(&record, "session_id")? })
    }

    /// Refuses a session record of another app or past its expiry.
    fn live(&self, record: &Document) -> Result<(), AuthError> {
        if record.get_str("app_id") != Ok(self.app.app_id.as_str()) {
            // A data directory reused with another app: its sessions are not this app's.
            return Err(AuthError::InvalidSession("failed to find refresh token".into()));
        }
        if int_field(record, "expires") <= self.now() {
            return Err(AuthError::InvalidSession("refresh token expired".into()));
        }
        Ok(())
    }

    /// Checks that the session an access token names is still live and is its user's.
    pub(super) fn check_session(&self, claims: &AccessClaims) -> Result<(), AuthError> {
        let ended = || AuthError::InvalidSession("the session of this access token has ended".into());
        if claims.baas_session_id.is_empty() {
            return Err(ended());
        }
        let read = self.db.begin_read()?;
        let Some(key) = read.open_table(SESSION_IDS)?.get(claims.baas_session_id.as_str())?.map(|v| v.value().to_string()) else {
            return Err(ended());
        };
        let Some(record) = read.open_table(SESSIONS)?.get(key.as_str())?.map(|v| from_bytes(v.value())).transpose()? else {
            return Err(ended());
        };
        if record.get_str("user_id") != Ok(claims.sub.as_str()) {
            return Err(ended());
        }
        self.live(&record).map_err(|_| ended())
    }

    /// `POST /auth/session`: a new access token for a refresh token (which is not rotated).
    pub fn refresh(&self, refresh_token: &str) -> Result<String, AuthError> {
        let session = self.session(refresh_token)?;
        self.check_enabled(&session.user_id).map_err(session_error)?;
        self.touch(&session.user_id)?;
        self.issue_access_token(&session.user_id, &session.device_id, &session.session_id)
    }

    /// The user id behind a live, enabled session (API-key routes authenticate this way).
    pub fn session_user(&self, refresh_token: &str) -> Result<String, AuthError> {
        let session = self.session(refresh_token)?;
        match self.check_enabled(&session.user_id) {
            Ok(()) => Ok(session.user_id),
            Err(AuthError::UserDisabled | AuthError::UserNotFound) => {
                Err(AuthError::InvalidSession("user no longer exists or is disabled".into()))
            }
            Err(e) => Err(e),
        }
    }

    /// `DELETE /auth/session`: ends the session of the refresh token; unknown tokens are ignored.
    pub fn logout(&self, refresh_token: &str) -> Result<(), AuthError> {
        let hash = token_hash(refresh_token);
        let txn = self.db.begin_write()?;
        let n = remove(&txn, |_| true, Some(hash.as_str()))?;
        txn.commit()?;
        if n > 0 {
            self.revoked();
        }
        Ok(())
    }

    /// Ends every session of a user; returns how many there were.
    pub fn revoke_sessions(&self, user_id: &str) -> Result<usize, AuthError> {
        let txn = self.db.begin_write()?;
        if txn.open_table(USERS)?.get(user_id)?.is_none() {
            return Err(AuthError::UserNotFound);
        }
        let n = remove_where(&txn, |d| d.get_str("user_id") == Ok(user_id))?;
        txn.commit()?;
        self.revoked();
        Ok(n)
    }

    /// Records activity of a user whose `last_active` is older than a day.
    fn touch(&self, user_id: &str) -> Result<(), AuthError> {
        let now = self.now();
        let stale = self.user(user_id)?.is_some_and(|u| last_active(&u).saturating_add(ACTIVITY_RESOLUTION_SECS) <= now);
        if stale {
            let txn = self.db.begin_write()?;
            mark_active(&txn, user_id, now)?;
            txn.commit()?;
        }
        Ok(())
    }
}

/// When a user was last seen logging in or refreshing (their creation for older records).
pub(super) fn last_active(user: &Document) -> u64 {
    int_field(user, "last_active").max(int_field(user, "created"))
}

fn mark_active(txn: &WriteTransaction, user_id: &str, now: u64) -> Result<(), AuthError> {
    let mut users = txn.open_table(USERS)?;
    let user = users.get(user_id)?.map(|v| from_bytes(v.value())).transpose()?;
    if let Some(mut user) = user {
        user.insert("last_active", now as i64);
        users.insert(user_id, to_bytes(&user)?.as_slice())?;
    }
    Ok(())
}

/// Ends the sessions whose record matches `pred`; returns how many.
pub(super) fn remove_where(txn: &WriteTransaction, pred: impl Fn(&Document) -> bool) -> Result<usize, AuthError> {
    remove(txn, pred, None)
}

/// Ends the sessions matching `pred` (only the one stored under `key` when given).
fn remove(txn: &WriteTransaction, pred: impl Fn(&Document) -> bool, key: Option<&str>) -> Result<usize, AuthError> {
    let mut sessions = txn.open_table(SESSIONS)?;
    let mut doomed = Vec::new();
    match key {
        Some(key) => {
            if let Some(d) = sessions.get(key)?.map(|v| from_bytes(v.value())).transpose()? {
                if pred(&d) {
                    doomed.push((key.to_string(), d));
                }
            }
        }
        None => {
            for entry in sessions.iter()? {
                let (k, v) = entry?;
                if let Ok(d) = from_bytes(v.value()) {
                    if pred(&d) {
                        doomed.push((k.value().to_string(), d));
                    }
                }
            }
        }
    }
    let mut ids = txn.open_table(SESSION_IDS)?;
    for (k, d) in &doomed {
        sessions.remove(k.as_str())?;
        if let Ok(id) = d.get_str("session_id") {
            ids.remove(id)?;
        }
    }
    Ok(doomed.len())
}

/// Gives sessions stored by older versions an id (so their access tokens can name them) and the
/// app that opened the data directory now: the one they were made for unless the directory
/// changed apps in the same upgrade.
pub(super) fn migrate(txn: &WriteTransaction, app_id: &str) -> Result<(), AuthError> {
    let mut sessions = txn.open_table(SESSIONS)?;
    let mut updated = Vec::new();
    for entry in sessions.iter()? {
        let (k, v) = entry?;
        let Ok(mut d) = from_bytes(v.value()) else { continue };
        if d.get_str("session_id").is_ok() && d.get_str("app_id").is_ok() {
            continue;
        }
        if d.get_str("session_id").is_err() {
            d.insert("session_id", ObjectId::new().to_hex());
        }
        if d.get_str("app_id").is_err() {
            d.insert("app_id", app_id);
        }
        updated.push((k.value().to_string(), d));
    }
    let mut ids = txn.open_table(SESSION_IDS)?;
    for (k, d) in updated {
        sessions.insert(k.as_str(), to_bytes(&d)?.as_slice())?;
        ids.insert(field(&d, "session_id")?.as_str(), k.as_str())?;
    }
    Ok(())
}
