//! The `local-userpass` provider: registration, confirmation and password reset by emailed
//! (logged / webhooked) links, password checks.
//!
//! A registered address is an account in `userpass`; it becomes a user at its first login.
//! Confirmation and reset tokens are random, stored hashed under their `tokenId`, expire and
//! are removed when used.

use super::outbox::{link, Message};
use super::store::*;
use super::{Auth, AuthError, Identity};
use crate::config::UserpassConfig;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use bson::{doc, oid::ObjectId, Document};
use redb::{ReadableDatabase, ReadableTable};
use subtle::ConstantTimeEq;

/// Confirmation tokens live this long.
pub const CONFIRMATION_TTL_SECS: u64 = 30 * 60;
/// Password-reset tokens live this long (App Services: 30 minutes).
pub const RESET_TTL_SECS: u64 = 30 * 60;

const CONFIRM: &str = "confirmation";
const RESET: &str = "reset";

/// An account waiting for confirmation (admin API).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PendingConfirmation {
    /// The address.
    pub email: String,
    /// When it registered (seconds since the epoch).
    pub created: u64,
    /// When its newest confirmation link expires (0: no live link).
    pub link_expires: u64,
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

fn check_password_rules(password: &str) -> Result<(), AuthError> {
    let len = password.chars().count();
    if !(6..=128).contains(&len) {
        return Err(AuthError::BadRequest("password must be between 6 and 128 characters".into()));
    }
    Ok(())
}

fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AuthError::Internal(e.to_string()))?
        .to_string())
}

/// Verifies against a stored argon2id hash (the comparison inside argon2 is constant-time).
pub(super) fn verify_hash(secret: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok())
}

/// A fixed hash checked when the account does not exist, so timing does not reveal which emails exist.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default())
}

impl Auth {
    fn userpass(&self) -> Result<&UserpassConfig, AuthError> {
        self.app.userpass.as_ref().ok_or_else(|| AuthError::ProviderNotFound("local-userpass".into()))
    }

    fn account(&self, email: &str) -> Result<Option<Document>, AuthError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(USERPASS)?;
        let account = table.get(email)?.map(|v| from_bytes(v.value())).transpose()?;
        Ok(account)
    }

    /// Registers an email/password account (confirmed at once with `autoConfirm`).
    pub fn register(&self, email: &str, password: &str) -> Result<(), AuthError> {
        let cfg = self.userpass()?.clone();
        if !valid_email(email) {
            return Err(AuthError::BadRequest(format!("email invalid: {email:?} is not a valid email address")));
        }
        check_password_rules(password)?;
        if !cfg.auto_confirm && cfg.run_confirmation_function {
            return Err(not_supported("confirmationFunctionName", cfg.confirmation_function_name.as_deref()));
        }
        let hash = hash_password(password)?;
        let account = doc! {
            "identity_id": ObjectId::new().to_hex(), "password_hash": hash,
            "confirmed": cfg.auto_confirm, "created": self.now() as i64,
        };
        let txn = self.db.begin_write()?;
        {
            let mut up = txn.open_table(USERPASS)?;
            if up.get(email)?.is_some() {
                return Err(AuthError::AccountNameInUse);
            }
            up.insert(email, to_bytes(&account)?.as_slice())?;
        }
        let message = if cfg.auto_confirm { None } else { Some(self.new_email_token(&txn, CONFIRM, email)?) };
        txn.commit()?;
        if let Some(m) = message {
            self.outbox.send(m);
        }
        Ok(())
    }

    /// Stores a fresh token of `kind` for `email` in `txn` and returns the message carrying it.
    fn new_email_token(&self, txn: &redb::WriteTransaction, kind: &'static str, email: &str) -> Result<Message, AuthError> {
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let token = hex::encode(raw);
        let token_id = ObjectId::new().to_hex();
        let ttl = if kind == RESET { RESET_TTL_SECS } else { CONFIRMATION_TTL_SECS };
        let expires = self.now() + ttl;
        let record = doc! {"kind": kind, "email": email, "token_hash": token_hash(&token), "expires": expires as i64};
        txn.open_table(EMAIL_TOKENS)?.insert(token_id.as_str(), to_bytes(&record)?.as_slice())?;
        let cfg = self.userpass()?;
        let base = if kind == RESET { &cfg.reset_password_url } else { &cfg.email_confirmation_url };
        let url = base.as_deref().map(|b| link(b, &token, &token_id));
        Ok(Message { kind, email: email.to_string(), token, token_id, url, expires })
    }

    /// Takes (validates and deletes) a token of `kind`; returns its email. Expired tokens are
    /// deleted too; any failure is the same `invalid token data` answer.
    fn take_email_token(&self, txn: &redb::WriteTransaction, kind: &str, token: &str, token_id: &str) -> Result<String, AuthError> {
        let invalid = || AuthError::BadRequest("invalid token data".into());
        let mut table = txn.open_table(EMAIL_TOKENS)?;
        let record = match table.get(token_id)? {
            Some(v) => from_bytes(v.value())?,
            None => return Err(invalid()),
        };
        let stored = field(&record, "token_hash")?;
        let matches: bool = stored.as_bytes().ct_eq(token_hash(token).as_bytes()).into();
        if !matches || record.get_str("kind") != Ok(kind) {
            return Err(invalid());
        }
        table.remove(token_id)?;
        if int_field(&record, "expires") <= self.now() {
            return Err(AuthError::BadRequest("token expired".into()));
        }
        field(&record, "email")
    }

    /// Redeems an email token of `kind` and applies `change` to its account, in one transaction.
    fn redeem_email_token(
        &self,
        kind: &str,
        token: &str,
        token_id: &str,
        change: impl FnOnce(&mut Document) -> Result<(), AuthError>,
    ) -> Result<(), AuthError> {
        let txn = self.db.begin_write()?;
        let result = self.take_email_token(&txn, kind, token, token_id).and_then(|email| {
            let mut up = txn.open_table(USERPASS)?;
            let mut account: Document = match up.get(email.as_str())? {
                Some(v) => from_bytes(v.value())?,
                None => return Err(AuthError::UserNotFound),
            };
            change(&mut account)?;
            up.insert(email.as_str(), to_bytes(&account)?.as_slice())?;
            Ok(())
        });
        match result {
            // An expired or mismatched token is still consumed (single use, no retry on it).
            Ok(()) | Err(AuthError::BadRequest(_)) => txn.commit()?,
            Err(_) => txn.abort()?,
        }
        result
    }

    /// `confirm`: marks the account confirmed.
    pub fn confirm(&self, token: &str, token_id: &str) -> Result<(), AuthError> {
        self.userpass()?;
        self.redeem_email_token(CONFIRM, token, token_id, |account| {
            if account.get_bool("confirmed").unwrap_or(false) {
                return Err(AuthError::UserAlreadyConfirmed);
            }
            account.insert("confirmed", true);
            Ok(())
        })
    }

    /// `confirm/send`: a new confirmation link for a pending account.
    pub fn resend_confirmation(&self, email: &str) -> Result<(), AuthError> {
        let cfg = self.userpass()?.clone();
        let account = self.account(email)?.ok_or(AuthError::UserNotFound)?;
        if account.get_bool("confirmed").unwrap_or(false) {
            return Err(AuthError::UserAlreadyConfirmed);
        }
        if cfg.run_confirmation_function {
            return Err(not_supported("confirmationFunctionName", cfg.confirmation_function_name.as_deref()));
        }
        self.send_email_token(CONFIRM, email)
    }

    /// `confirm/call`: re-runs the confirmation function.
    pub fn retry_confirmation_function(&self, email: &str) -> Result<(), AuthError> {
        let cfg = self.userpass()?.clone();
        let account = self.account(email)?.ok_or(AuthError::UserNotFound)?;
        if account.get_bool("confirmed").unwrap_or(false) {
            return Err(AuthError::UserAlreadyConfirmed);
        }
        if !cfg.run_confirmation_function {
            return Err(AuthError::BadRequest("this app confirms users by email link, not by a confirmation function".into()));
        }
        Err(not_supported("confirmationFunctionName", cfg.confirmation_function_name.as_deref()))
    }

    /// `reset/send`: a password-reset link for an existing account.
    pub fn send_reset(&self, email: &str) -> Result<(), AuthError> {
        let cfg = self.userpass()?.clone();
        self.account(email)?.ok_or(AuthError::UserNotFound)?;
        if cfg.run_reset_function {
            return Err(AuthError::BadRequest("this app resets passwords through its reset function (reset/call)".into()));
        }
        self.send_email_token(RESET, email)
    }

    /// Stores a new email token of `kind` for `email` and sends its link.
    fn send_email_token(&self, kind: &'static str, email: &str) -> Result<(), AuthError> {
        let txn = self.db.begin_write()?;
        let message = self.new_email_token(&txn, kind, email)?;
        txn.commit()?;
        self.outbox.send(message);
        Ok(())
    }

    /// `reset`: sets a new password with a reset token.
    pub fn reset_password(&self, token: &str, token_id: &str, password: &str) -> Result<(), AuthError> {
        self.userpass()?;
        check_password_rules(password)?;
        let hash = hash_password(password)?;
        self.redeem_email_token(RESET, token, token_id, |account| {
            account.insert("password_hash", hash);
            Ok(())
        })
    }

    /// `reset/call`: runs the reset function.
    pub fn call_reset_function(&self, email: &str, password: &str) -> Result<(), AuthError> {
        let cfg = self.userpass()?.clone();
        check_password_rules(password)?;
        self.account(email)?.ok_or(AuthError::UserNotFound)?;
        if !cfg.run_reset_function {
            return Err(AuthError::BadRequest("this app resets passwords by email link (reset/send), not by a reset function".into()));
        }
        Err(not_supported("resetFunctionName", cfg.reset_function_name.as_deref()))
    }

    /// Checks an email/password pair; returns the account's identity.
    pub(super) fn check_password(&self, email: &str, password: &str) -> Result<Identity, AuthError> {
        let Some(account) = self.account(email)? else {
            verify_hash(password, dummy_hash());
            return Err(AuthError::InvalidPassword);
        };
        if !verify_hash(password, &field(&account, "password_hash")?) {
            return Err(AuthError::InvalidPassword);
        }
        if !account.get_bool("confirmed").unwrap_or(false) {
            return Err(AuthError::ConfirmationRequired);
        }
        Ok(Identity {
            provider_type: "local-userpass",
            external_id: email.to_string(),
            id: field(&account, "identity_id")?,
            provider_data: doc! {"email": email},
            data: doc! {"email": email},
        })
    }

    /// Accounts not yet confirmed, oldest first.
    pub fn pending_confirmations(&self) -> Result<Vec<PendingConfirmation>, AuthError> {
        let read = self.db.begin_read()?;
        let tokens = read.open_table(EMAIL_TOKENS)?;
        let mut expiry = std::collections::HashMap::<String, u64>::new();
        for entry in tokens.iter()? {
            let (_, v) = entry?;
            let t = from_bytes(v.value())?;
            if t.get_str("kind") == Ok(CONFIRM) {
                let e = expiry.entry(field(&t, "email")?).or_default();
                *e = (*e).max(int_field(&t, "expires"));
            }
        }
        let now = self.now();
        let mut out = Vec::new();
        for entry in read.open_table(USERPASS)?.iter()? {
            let (k, v) = entry?;
            let account = from_bytes(v.value())?;
            if !account.get_bool("confirmed").unwrap_or(false) {
                let email = k.value().to_string();
                let link_expires = expiry.get(&email).copied().filter(|e| *e > now).unwrap_or(0);
                out.push(PendingConfirmation { email, created: int_field(&account, "created"), link_expires });
            }
        }
        out.sort_by_key(|p| p.created);
        Ok(out)
    }
}

fn not_supported(key: &str, name: Option<&str>) -> AuthError {
    AuthError::NotSupported(format!(
        "{key} '{}' is configured, but realm-wasm-server cannot run server functions yet",
        name.unwrap_or_default()
    ))
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
    fn password_lengths() {
        assert!(check_password_rules("12345").is_err());
        assert!(check_password_rules("123456").is_ok());
        assert!(check_password_rules(&"x".repeat(128)).is_ok());
        assert!(check_password_rules(&"x".repeat(129)).is_err());
        assert!(check_password_rules("ééééé").is_err(), "characters, not bytes");
    }
}
