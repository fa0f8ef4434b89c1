//! User API keys: created, listed, enabled, disabled and deleted with the owner's refresh
//! token; used to log in as the owner through the `api-key` provider.
//!
//! The secret is `<key id><40 random hex>`: the id finds the record, the whole secret is checked
//! against its argon2id hash. The secret is returned once, at creation. Disabling or deleting a
//! key ends the sessions opened with it.

use super::tables::*;
use super::{sessions, Auth, AuthError};
use argon2::password_hash::rand_core::{OsRng, RngCore};
use bson::{doc, oid::ObjectId, Document};
use redb::{ReadableDatabase, ReadableTable};

/// Longest accepted key name.
const MAX_NAME_LEN: usize = 256;

/// App Services' rule for key names: ASCII letters, digits, `_` and `-`.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// An API key as the client API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiKey {
    /// Key id (24 hex).
    #[serde(rename = "_id")]
    pub id: String,
    /// The secret: only in the answer to `create`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Name given by the user.
    pub name: String,
    /// Whether logins with it are refused.
    pub disabled: bool,
}

fn to_key(id: &str, d: &Document) -> ApiKey {
    ApiKey {
        id: id.to_string(),
        key: None,
        name: d.get_str("name").unwrap_or_default().to_string(),
        disabled: d.get_bool("disabled").unwrap_or(false),
    }
}

impl Auth {
    fn api_keys_enabled(&self) -> Result<(), AuthError> {
        if self.app.api_key_enabled {
            Ok(())
        } else {
            Err(AuthError::ProviderNotFound("api-key".into()))
        }
    }

    /// Creates a key named `name` for `user_id`.
    pub fn create_api_key(&self, user_id: &str, name: &str) -> Result<ApiKey, AuthError> {
        self.api_keys_enabled()?;
        if !valid_name(name) {
            return Err(AuthError::InvalidParameter(format!(
                "API key name {name:?} is invalid: it can only contain ASCII letters, numbers, underscores, and hyphens (1 to {MAX_NAME_LEN} of them)"
            )));
        }
        let id = ObjectId::new().to_hex();
        let mut raw = [0u8; 20];
        OsRng.fill_bytes(&mut raw);
        let secret = format!("{id}{}", hex::encode(raw));
        let hash = self.hashes.hash(&secret)?;
        let record = doc! {"user_id": user_id, "name": name, "key_hash": hash, "disabled": false, "created": self.now() as i64};
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(API_KEYS)?;
            for entry in table.iter()? {
                let (_, v) = entry?;
                let d = from_bytes(v.value())?;
                if d.get_str("user_id") == Ok(user_id) && d.get_str("name") == Ok(name) {
                    return Err(AuthError::ApiKeyExists(name.to_string()));
                }
            }
            table.insert(id.as_str(), to_bytes(&record)?.as_slice())?;
        }
        txn.commit()?;
        Ok(ApiKey { id, key: Some(secret), name: name.to_string(), disabled: false })
    }

    /// The caller's keys, in creation order.
    pub fn api_keys(&self, user_id: &str) -> Result<Vec<ApiKey>, AuthError> {
        self.api_keys_enabled()?;
        let read = self.db.begin_read()?;
        let table = read.open_table(API_KEYS)?;
        let mut keys = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            let d = from_bytes(v.value())?;
            if d.get_str("user_id") == Ok(user_id) {
                keys.push((int_field(&d, "created"), to_key(k.value(), &d)));
            }
        }
        keys.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
        Ok(keys.into_iter().map(|(_, k)| k).collect())
    }

    /// One of the caller's keys.
    pub fn api_key(&self, user_id: &str, key_id: &str) -> Result<ApiKey, AuthError> {
        self.api_keys_enabled()?;
        let read = self.db.begin_read()?;
        let table = read.open_table(API_KEYS)?;
        match table.get(key_id)? {
            Some(v) => {
                let d = from_bytes(v.value())?;
                if d.get_str("user_id") == Ok(user_id) {
                    Ok(to_key(key_id, &d))
                } else {
                    Err(AuthError::ApiKeyNotFound(key_id.to_string()))
                }
            }
            None => Err(AuthError::ApiKeyNotFound(key_id.to_string())),
        }
    }

    /// Enables or disables one of the caller's keys; disabling ends the sessions opened with it.
    pub fn set_api_key_disabled(&self, user_id: &str, key_id: &str, disabled: bool) -> Result<(), AuthError> {
        self.api_key(user_id, key_id)?;
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(API_KEYS)?;
            let mut d = match table.get(key_id)? {
                Some(v) => from_bytes(v.value())?,
                None => return Err(AuthError::ApiKeyNotFound(key_id.to_string())),
            };
            d.insert("disabled", disabled);
            table.insert(key_id, to_bytes(&d)?.as_slice())?;
        }
        let ended = if disabled { sessions::remove_where(&txn, |s| s.get_str("api_key_id") == Ok(key_id))? } else { 0 };
        txn.commit()?;
        if ended > 0 {
            self.revoked();
        }
        Ok(())
    }

    /// Deletes one of the caller's keys and ends the sessions opened with it. Deleting a key the
    /// caller does not have does nothing and succeeds, as in App Services.
    pub fn delete_api_key(&self, user_id: &str, key_id: &str) -> Result<(), AuthError> {
        match self.api_key(user_id, key_id) {
            Err(AuthError::ApiKeyNotFound(_)) => return Ok(()),
            other => other?,
        };
        let txn = self.db.begin_write()?;
        txn.open_table(API_KEYS)?.remove(key_id)?;
        let ended = sessions::remove_where(&txn, |s| s.get_str("api_key_id") == Ok(key_id))?;
        txn.commit()?;
        if ended > 0 {
            self.revoked();
        }
        Ok(())
    }

    /// Checks a secret presented to the `api-key` provider; returns the owner's user id and the key id.
    pub(super) fn check_api_key(&self, secret: &str) -> Result<(String, String), AuthError> {
        let refused = || AuthError::AuthFailed("invalid API key".into());
        let Some(id) = secret.get(..24) else { return Err(refused()) };
        let read = self.db.begin_read()?;
        let table = read.open_table(API_KEYS)?;
        let Some(d) = table.get(id)?.map(|v| from_bytes(v.value())).transpose()? else { return Err(refused()) };
        drop(table);
        drop(read);
        if !self.hashes.verify(secret, &field(&d, "key_hash")?)? {
            return Err(refused());
        }
        if d.get_bool("disabled").unwrap_or(false) {
            return Err(refused());
        }
        Ok((field(&d, "user_id")?, id.to_string()))
    }
}
