//! The `local-userpass` provider: registration, confirmation and password reset by emailed
//! (logged / webhooked) links, password checks.
//!
//! A registered address is an account in `userpass`; it becomes a user at its first login.
//! Addresses match without regard to case (`userpass_folded`), while the account keeps the address
//! as registered. Confirmation and reset tokens are random, stored hashed under their `tokenId`,
//! expire and are removed when used. The routes that work without a session count against the
//! client address, links against the email address, and answer an unknown address as they answer
//! a known one, so they neither spam nor reveal who has an account.

use super::hashing::dummy_hash;
use super::outbox::{link, Message};
use super::rate_limit::Subject;
use super::tables::*;
use super::{sessions, Auth, AuthError, Identity};
use crate::config::UserpassConfig;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use bson::{doc, oid::ObjectId, Bson, Document};
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use std::net::IpAddr;
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

/// The form of an address accounts are matched by.
pub(super) fn fold(email: &str) -> String {
    email.to_lowercase()
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

impl Auth {
    fn userpass(&self) -> Result<&UserpassConfig, AuthError> {
        self.app.userpass.as_ref().ok_or_else(|| AuthError::ProviderNotFound("local-userpass".into()))
    }

    /// The live account `email` names (see `find_record`).
    fn find_account(&self, email: &str) -> Result<Option<(String, Document)>, AuthError> {
        Ok(self.find_record(email)?.filter(|(_, a)| !buried(a)))
    }

    /// The account record `email` names, matched exactly or else without case, tombstones of
    /// deleted users included: its key and record.
    fn find_record(&self, email: &str) -> Result<Option<(String, Document)>, AuthError> {
        let read = self.db.begin_read()?;
        let accounts = read.open_table(USERPASS)?;
        let key = match accounts.get(email)? {
            Some(_) => email.to_string(),
            None => match read.open_table(USERPASS_FOLDED)?.get(fold(email).as_str())? {
                Some(k) => k.value().to_string(),
                None => return Ok(None),
            },
        };
        let account = accounts.get(key.as_str())?.map(|v| from_bytes(v.value())).transpose()?;
        Ok(account.map(|a| (key, a)))
    }

    /// Counts a link to `email` against its hourly budget, whether or not it has an account.
    fn limit_email(&self, email: &str) -> Result<(), AuthError> {
        self.email_limiter.reserve(vec![Subject::Account(fold(email))], self.now()).map(|_| ())
    }

    /// Registers an email/password account (confirmed at once with `autoConfirm`).
    pub fn register(&self, email: &str, password: &str, client: Option<IpAddr>) -> Result<(), AuthError> {
        self.limit_account_route(client)?;
        let cfg = self.userpass()?.clone();
        if !valid_email(email) {
            return Err(AuthError::BadRequest(format!("email invalid: {email:?} is not a valid email address")));
        }
        check_password_rules(password)?;
        // Registration says whether an address is taken (as App Services does); it need not hash to say so.
        if self.find_account(email)?.is_some() {
            return Err(AuthError::AccountNameInUse);
        }
        let hash = self.hashes.hash(password)?;
        let account = doc! {
            "identity_id": ObjectId::new().to_hex(), "password_hash": hash,
            "confirmed": cfg.auto_confirm, "created": self.now() as i64,
        };
        let folded = fold(email);
        let txn = self.db.begin_write()?;
        {
            let mut up = txn.open_table(USERPASS)?;
            let mut by_fold = txn.open_table(USERPASS_FOLDED)?;
            let indexed = by_fold.get(folded.as_str())?.map(|v| v.value().to_string());
            for key in [Some(email.to_string()), indexed].into_iter().flatten() {
                let existing = up.get(key.as_str())?.map(|v| from_bytes(v.value())).transpose()?;
                match existing {
                    // A deleted user's tombstone gives way to the new account.
                    Some(a) if buried(&a) => {
                        up.remove(key.as_str())?;
                    }
                    Some(_) => return Err(AuthError::AccountNameInUse),
                    None => {}
                }
            }
            up.insert(email, to_bytes(&account)?.as_slice())?;
            by_fold.insert(folded.as_str(), email)?;
        }
        let message = if cfg.auto_confirm { None } else { Some(self.new_email_token(&txn, CONFIRM, email)?) };
        txn.commit()?;
        match message {
            // The confirmation function gets the token instead of a mail.
            Some(m) if cfg.run_confirmation_function => self.run_confirmation_function(&cfg, &m),
            Some(m) => {
                self.outbox.send(m);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Runs the confirmation function for the pending account of `token`'s message and applies its
    /// answer: `success` confirms the account, `pending` leaves it waiting for `confirm` with the
    /// token, and `fail` (or a throw, or any other answer) removes it, so the address can register
    /// again. The function runs with no transaction open.
    fn run_confirmation_function(&self, cfg: &UserpassConfig, token: &Message) -> Result<(), AuthError> {
        let email = token.email.as_str();
        let name = cfg.confirmation_function_name.as_deref().unwrap_or_default();
        let arg = doc! {"username": email, "token": &token.token, "tokenId": &token.token_id};
        match self.function_status(name, vec![Bson::Document(arg)]) {
            Status::Success => self.confirm(&token.token, &token.token_id),
            Status::Pending => Ok(()),
            Status::Fail => {
                self.remove_pending_account(email)?;
                Err(AuthError::FunctionFailed(format!("failed to confirm user {email:?}")))
            }
        }
    }

    /// What a confirmation or reset function answered (`{status: "success" | "pending" | "fail"}`);
    /// a throw, or any other answer, is a failure (logged with its reason).
    fn function_status(&self, name: &str, args: Vec<Bson>) -> Status {
        let status = match self.run_function(name, args) {
            Ok(Bson::Document(d)) => match d.get_str("status") {
                Ok("success") => return Status::Success,
                Ok("pending") => return Status::Pending,
                Ok("fail") => return Status::Fail,
                _ => format!("it returned {d}, not {{status: \"success\" | \"pending\" | \"fail\"}}"),
            },
            Ok(other) => format!("it returned {other}, not {{status: \"success\" | \"pending\" | \"fail\"}}"),
            Err(e) => format!("it failed: {e}"),
        };
        tracing::warn!(function = name, "the function counts as answering fail: {status}");
        Status::Fail
    }

    /// Removes a still unconfirmed account with its tokens (its confirmation function failed).
    fn remove_pending_account(&self, email: &str) -> Result<(), AuthError> {
        let txn = self.db.begin_write()?;
        let pending = match txn.open_table(USERPASS)?.get(email)? {
            Some(v) => {
                let a = from_bytes(v.value())?;
                !a.get_bool("confirmed").unwrap_or(false) && !buried(&a)
            }
            None => false,
        };
        if pending {
            txn.open_table(USERPASS)?.remove(email)?;
            let mut by_fold = txn.open_table(USERPASS_FOLDED)?;
            let folded = fold(email);
            let indexed = by_fold.get(folded.as_str())?.is_some_and(|v| v.value() == email);
            if indexed {
                by_fold.remove(folded.as_str())?;
            }
            drop(by_fold);
            super::remove_where(&txn, EMAIL_TOKENS, |d| d.get_str("email") == Ok(email))?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Stores a fresh token of `kind` for `email` in `txn` and returns the message carrying it.
    fn new_email_token(&self, txn: &WriteTransaction, kind: &'static str, email: &str) -> Result<Message, AuthError> {
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

    /// Checks a token of `kind` without using it; returns its record.
    fn check_email_token(record: Option<Document>, kind: &str, token: &str) -> Result<Document, AuthError> {
        let invalid = || AuthError::BadRequest("invalid token data".into());
        let record = record.ok_or_else(invalid)?;
        let stored = field(&record, "token_hash")?;
        let matches: bool = stored.as_bytes().ct_eq(token_hash(token).as_bytes()).into();
        if !matches || record.get_str("kind") != Ok(kind) {
            return Err(invalid());
        }
        Ok(record)
    }

    /// Takes (validates and deletes) a token of `kind`; returns its email. Expired tokens are
    /// deleted too; any failure is the same `invalid token data` answer.
    fn take_email_token(&self, txn: &WriteTransaction, kind: &str, token: &str, token_id: &str) -> Result<String, AuthError> {
        let mut table = txn.open_table(EMAIL_TOKENS)?;
        let record = table.get(token_id)?.map(|v| from_bytes(v.value())).transpose()?;
        let record = Self::check_email_token(record, kind, token)?;
        table.remove(token_id)?;
        if int_field(&record, "expires") <= self.now() {
            return Err(AuthError::BadRequest("token expired".into()));
        }
        field(&record, "email")
    }

    /// Whether a token of `kind` would be accepted now (read-only: a reset checks its token
    /// before hashing the new password).
    fn peek_email_token(&self, kind: &str, token: &str, token_id: &str) -> Result<(), AuthError> {
        let read = self.db.begin_read()?;
        let record = read.open_table(EMAIL_TOKENS)?.get(token_id)?.map(|v| from_bytes(v.value())).transpose()?;
        let record = Self::check_email_token(record, kind, token)?;
        if int_field(&record, "expires") <= self.now() {
            return Err(AuthError::BadRequest("token expired".into()));
        }
        Ok(())
    }

    /// Redeems an email token of `kind` and applies `change` to its account, in one transaction.
    fn redeem_email_token(
        &self,
        kind: &str,
        token: &str,
        token_id: &str,
        change: impl FnOnce(&WriteTransaction, &str, &mut Document) -> Result<(), AuthError>,
    ) -> Result<(), AuthError> {
        let txn = self.db.begin_write()?;
        let result = self.take_email_token(&txn, kind, token, token_id).and_then(|email| {
            let mut account: Document = match txn.open_table(USERPASS)?.get(email.as_str())? {
                Some(v) => from_bytes(v.value())?,
                None => return Err(AuthError::UserNotFound),
            };
            change(&txn, &email, &mut account)?;
            txn.open_table(USERPASS)?.insert(email.as_str(), to_bytes(&account)?.as_slice())?;
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
        self.redeem_email_token(CONFIRM, token, token_id, |_, _, account| {
            if account.get_bool("confirmed").unwrap_or(false) {
                return Err(AuthError::UserAlreadyConfirmed);
            }
            account.insert("confirmed", true);
            Ok(())
        })
    }

    /// Whether `email` counts as confirmed: an unknown address answers as a pending account would,
    /// or — where every account is confirmed at registration — as a confirmed one.
    fn confirmed(&self, cfg: &UserpassConfig, account: Option<&(String, Document)>) -> bool {
        match account {
            Some((_, a)) => a.get_bool("confirmed").unwrap_or(false),
            None => cfg.auto_confirm,
        }
    }

    /// `confirm/send`: a new confirmation link for a pending account.
    pub fn resend_confirmation(&self, email: &str, client: Option<IpAddr>) -> Result<(), AuthError> {
        self.limit_account_route(client)?;
        let cfg = self.userpass()?.clone();
        let account = self.find_account(email)?;
        if self.confirmed(&cfg, account.as_ref()) {
            return Err(AuthError::UserAlreadyConfirmed);
        }
        if cfg.run_confirmation_function {
            return Err(AuthError::BadRequest(format!(
                "cannot send a confirmation email to {email}: this app confirms users through its confirmation function (confirm/call)"
            )));
        }
        self.limit_email(email)?;
        match account {
            Some((key, _)) => self.send_email_token(CONFIRM, &key),
            None => Ok(()),
        }
    }

    /// `confirm/call`: re-runs the confirmation function.
    pub fn retry_confirmation_function(&self, email: &str, client: Option<IpAddr>) -> Result<(), AuthError> {
        self.limit_account_route(client)?;
        let cfg = self.userpass()?.clone();
        if cfg.auto_confirm {
            return Err(AuthError::BadRequest(format!("cannot run confirmation for {email}: automatic confirmation is enabled")));
        }
        let account = self.find_account(email)?;
        if self.confirmed(&cfg, account.as_ref()) {
            return Err(AuthError::UserAlreadyConfirmed);
        }
        if !cfg.run_confirmation_function {
            return Err(AuthError::BadRequest(format!(
                "cannot run confirmation for {email}: this app confirms users by email link (confirm/send), not by a confirmation function"
            )));
        }
        // An unknown address is answered as a pending one whose function said `pending`.
        let Some((key, _)) = account else { return Ok(()) };
        let txn = self.db.begin_write()?;
        let message = self.new_email_token(&txn, CONFIRM, &key)?;
        txn.commit()?;
        self.run_confirmation_function(&cfg, &message)
    }

    /// `reset/send`: a password-reset link for an existing account (an unknown address gets the
    /// same answer, and no mail).
    pub fn send_reset(&self, email: &str, client: Option<IpAddr>) -> Result<(), AuthError> {
        self.limit_account_route(client)?;
        let cfg = self.userpass()?.clone();
        if cfg.run_reset_function {
            return Err(AuthError::BadRequest("please use reset password via function".into()));
        }
        self.limit_email(email)?;
        match self.find_account(email)? {
            Some((key, _)) => self.send_email_token(RESET, &key),
            None => Ok(()),
        }
    }

    /// Stores a new email token of `kind` for `email` and sends its link.
    fn send_email_token(&self, kind: &'static str, email: &str) -> Result<(), AuthError> {
        let txn = self.db.begin_write()?;
        let message = self.new_email_token(&txn, kind, email)?;
        txn.commit()?;
        self.outbox.send(message);
        Ok(())
    }

    /// `reset`: sets a new password with a reset token and ends the user's sessions. The token is
    /// checked before the password is hashed.
    pub fn reset_password(&self, token: &str, token_id: &str, password: &str, client: Option<IpAddr>) -> Result<(), AuthError> {
        self.limit_account_route(client)?;
        self.userpass()?;
        check_password_rules(password)?;
        self.apply_reset(token, token_id, password)
    }

    /// Sets the password of the account a reset token belongs to (checking the token before
    /// hashing) and ends the user's sessions.
    fn apply_reset(&self, token: &str, token_id: &str, password: &str) -> Result<(), AuthError> {
        self.peek_email_token(RESET, token, token_id)?;
        let hash = self.hashes.hash(password)?;
        let mut ended = 0;
        self.redeem_email_token(RESET, token, token_id, |txn, email, account| {
            account.insert("password_hash", hash);
            let owner = txn.open_table(IDENTITIES)?.get(identity_key("local-userpass", email).as_str())?.map(|v| v.value().to_string());
            if let Some(user_id) = owner {
                ended = sessions::remove_where(txn, |s| s.get_str("user_id") == Ok(user_id.as_str()))?;
            }
            Ok(())
        })?;
        if ended > 0 {
            self.revoked();
        }
        Ok(())
    }

    /// `reset/call`: runs the reset function with `{username, password, token, tokenId,
    /// currentPasswordValid}` and the client's `args`; `success` sets the password now, `pending`
    /// leaves it to `reset` with the token, `fail` (or a throw) refuses. An unknown address is
    /// answered as a refusal, without running the function.
    pub fn call_reset_function(&self, email: &str, password: &str, args: Vec<Bson>, client: Option<IpAddr>) -> Result<(), AuthError> {
        self.limit_account_route(client)?;
        let cfg = self.userpass()?.clone();
        check_password_rules(password)?;
        if !cfg.run_reset_function {
            return Err(AuthError::BadRequest("this app resets passwords by email link (reset/send), not by a reset function".into()));
        }
        let failed = || AuthError::FunctionFailed(format!("failed to reset password for user {email:?}"));
        let Some((key, account)) = self.find_account(email)? else {
            self.hashes.verify(password, dummy_hash())?;
            return Err(failed());
        };
        let current_valid = self.hashes.verify(password, &field(&account, "password_hash")?)?;
        let txn = self.db.begin_write()?;
        let token = self.new_email_token(&txn, RESET, &key)?;
        txn.commit()?;
        let first = doc! {
            "username": key.as_str(), "password": password, "token": &token.token, "tokenId": &token.token_id,
            "currentPasswordValid": current_valid,
        };
        let name = cfg.reset_function_name.as_deref().unwrap_or_default();
        let mut all = vec![Bson::Document(first)];
        all.extend(args);
        match self.function_status(name, all) {
            Status::Success => self.apply_reset(&token.token, &token.token_id, password),
            Status::Pending => Ok(()),
            Status::Fail => {
                let txn = self.db.begin_write()?;
                txn.open_table(EMAIL_TOKENS)?.remove(token.token_id.as_str())?;
                txn.commit()?;
                Err(failed())
            }
        }
    }

    /// Checks an email/password pair; returns the account's identity.
    pub(super) fn check_password(&self, email: &str, password: &str) -> Result<Identity, AuthError> {
        let Some((key, account)) = self.find_record(email)? else {
            self.hashes.verify(password, dummy_hash())?;
            return Err(AuthError::InvalidPassword);
        };
        if !self.hashes.verify(password, &field(&account, "password_hash")?)? {
            return Err(AuthError::InvalidPassword);
        }
        if buried(&account) {
            return Err(AuthError::Unauthorized);
        }
        if !account.get_bool("confirmed").unwrap_or(false) {
            return Err(AuthError::ConfirmationRequired);
        }
        Ok(Identity {
            provider_type: "local-userpass",
            id: field(&account, "identity_id")?,
            provider_data: doc! {"email": key.as_str()},
            data: doc! {"email": key.as_str()},
            external_id: key,
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
            if !account.get_bool("confirmed").unwrap_or(false) && !buried(&account) {
                let email = k.value().to_string();
                let link_expires = expiry.get(&email).copied().filter(|e| *e > now).unwrap_or(0);
                out.push(PendingConfirmation { email, created: int_field(&account, "created"), link_expires });
            }
        }
        out.sort_by_key(|p| p.created);
        Ok(out)
    }
}

/// Indexes accounts stored by older versions by their folded address (the first one wins when two
/// differ only in case; the other stays reachable by its exact address).
pub(super) fn migrate(txn: &WriteTransaction) -> Result<(), AuthError> {
    let keys: Vec<String> = {
        let up = txn.open_table(USERPASS)?;
        let mut keys = Vec::new();
        for entry in up.iter()? {
            keys.push(entry?.0.value().to_string());
        }
        keys
    };
    let mut by_fold = txn.open_table(USERPASS_FOLDED)?;
    for key in keys {
        let folded = fold(&key);
        if by_fold.get(folded.as_str())?.is_none() {
            by_fold.insert(folded.as_str(), key.as_str())?;
        }
    }
    Ok(())
}

/// Whether an account record is the tombstone of a deleted user.
fn buried(account: &Document) -> bool {
    account.get_bool("deleted").unwrap_or(false)
}

/// Turns the accounts of a deleted user into tombstones: only the password hash is kept, so that
/// its right password answers `unauthorized` (App Services' answer after `deleteUser`) rather than
/// logging in; registering the address again replaces the tombstone.
pub(super) fn bury(txn: &WriteTransaction, emails: &[String]) -> Result<(), AuthError> {
    let mut up = txn.open_table(USERPASS)?;
    for email in emails {
        let account = up.get(email.as_str())?.map(|v| from_bytes(v.value())).transpose()?;
        if let Some(account) = account {
            let tombstone = doc! {"deleted": true, "password_hash": field(&account, "password_hash")?, "created": int_field(&account, "created") as i64};
            up.insert(email.as_str(), to_bytes(&tombstone)?.as_slice())?;
        }
    }
    Ok(())
}

/// What a confirmation or reset function decided.
enum Status {
    Success,
    Pending,
    Fail,
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
