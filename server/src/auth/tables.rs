//! The auth tables in redb and the BSON encoding of their records.
//!
//! `users`: user id → {_id, type, created, last_active, disabled, identities[], data}
//! `identities`: "<provider type>/<external id>" → user id (who owns an email, a JWT subject)
//! `userpass`: email as registered → {identity_id, password_hash, confirmed, created}
//! `userpass_folded`: lower-cased email → the `userpass` key it belongs to (emails match without case)
//! `email_tokens`: tokenId → {kind, email, token_hash, expires} (confirmation and reset links)
//! `sessions`: SHA-256 of a refresh token → {session_id, app_id, user_id, device_id, created,
//!   expires, api_key_id?}
//! `session_ids`: session id (carried by access tokens) → its `sessions` key
//! `api_keys`: key id → {user_id, name, key_hash, disabled, created}
//! `meta`: the generated signing key
//!
//! Records written by older versions lack the newer fields and tables; `Auth::open` adds them.

use super::AuthError;
use bson::Document;
use redb::TableDefinition;
use sha2::{Digest, Sha256};

pub(super) const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
pub(super) const IDENTITIES: TableDefinition<&str, &str> = TableDefinition::new("identities");
pub(super) const USERPASS: TableDefinition<&str, &[u8]> = TableDefinition::new("userpass");
pub(super) const EMAIL_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("email_tokens");
pub(super) const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
pub(super) const SESSION_IDS: TableDefinition<&str, &str> = TableDefinition::new("session_ids");
pub(super) const USERPASS_FOLDED: TableDefinition<&str, &str> = TableDefinition::new("userpass_folded");
pub(super) const API_KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_keys");
pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

pub(super) fn to_bytes(d: &Document) -> Result<Vec<u8>, AuthError> {
    bson::to_vec(d).map_err(|e| AuthError::Internal(e.to_string()))
}

pub(super) fn from_bytes(b: &[u8]) -> Result<Document, AuthError> {
    Document::from_reader(b).map_err(|e| AuthError::Internal(e.to_string()))
}

/// SHA-256 hex of a secret token (refresh tokens and email tokens are stored only in this form).
pub(super) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Key of the `identities` table.
pub(super) fn identity_key(provider_type: &str, external_id: &str) -> String {
    format!("{provider_type}/{external_id}")
}

/// A string field of a stored record (a missing one means the record is corrupt).
pub(super) fn field(d: &Document, key: &str) -> Result<String, AuthError> {
    d.get_str(key).map(str::to_string).map_err(|e| AuthError::Internal(format!("stored record: {e}")))
}

/// An integer field of a stored record (0 when absent).
pub(super) fn int_field(d: &Document, key: &str) -> u64 {
    d.get_i64(key).map(|v| v.max(0) as u64).unwrap_or(0)
}
