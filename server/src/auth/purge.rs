//! Removal of what nobody can use any more: expired sessions and email links, and anonymous users
//! that are gone for good. App Services deletes anonymous users inactive for 90 days (and one at its
//! logout); here an anonymous user goes once it is 90 days inactive, or once it has no session
//! and no API key left (nothing can log in as it again) and has been idle for an hour. Runs hourly in
//! the background (`spawn_purger`) and on demand (`purge`).

use super::tables::*;
use super::{delete_user_in, sessions, Auth, AuthError};
use bson::{Bson, Document};
use redb::{ReadableTable, WriteTransaction};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// App Services: anonymous users inactive this long are deleted.
pub const ANONYMOUS_USER_TTL_SECS: u64 = 90 * 24 * 60 * 60;
/// An anonymous user no credential can reach is kept this long after its last activity (so a
/// login that has created it but not yet its session is never cut short).
const UNREACHABLE_GRACE_SECS: u64 = 60 * 60;
/// How often the background purge runs.
const PURGE_EVERY: Duration = Duration::from_secs(60 * 60);

/// What one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    /// Anonymous users deleted.
    pub anonymous_users: usize,
    /// Expired sessions removed.
    pub sessions: usize,
    /// Expired confirmation / reset links removed.
    pub email_tokens: usize,
}

/// Whether every identity of a user is anonymous.
fn anonymous(user: &Document) -> bool {
    let identities = user.get_array("identities").map(Vec::as_slice).unwrap_or_default();
    !identities.is_empty()
        && identities.iter().all(|i| matches!(i, Bson::Document(d) if d.get_str("provider_type") == Ok("anon-user")))
}

/// The user ids named by the records of `def`.
fn owners(txn: &WriteTransaction, def: redb::TableDefinition<&str, &[u8]>) -> Result<HashSet<String>, AuthError> {
    let mut out = HashSet::new();
    for entry in txn.open_table(def)?.iter()? {
        let (_, v) = entry?;
        if let Ok(user_id) = from_bytes(v.value()).and_then(|d| field(&d, "user_id")) {
            out.insert(user_id);
        }
    }
    Ok(out)
}

impl Auth {
    /// Removes expired sessions and links and the anonymous users described above, in one transaction.
    pub fn purge(&self) -> Result<Purged, AuthError> {
        let now = self.now();
        let txn = self.db.begin_write()?;
        let expired_sessions = sessions::remove_where(&txn, |s| int_field(s, "expires") <= now)?;
        let email_tokens = super::remove_where(&txn, EMAIL_TOKENS, |t| int_field(t, "expires") <= now)?;
        let (with_session, with_key) = (owners(&txn, SESSIONS)?, owners(&txn, API_KEYS)?);
        let mut doomed = Vec::new();
        for entry in txn.open_table(USERS)?.iter()? {
            let (k, v) = entry?;
            let Ok(user) = from_bytes(v.value()) else { continue };
            if !anonymous(&user) {
                continue;
            }
            let idle = now.saturating_sub(sessions::last_active(&user));
            let id = k.value();
            let unreachable = !with_session.contains(id) && !with_key.contains(id);
            if idle >= ANONYMOUS_USER_TTL_SECS || (unreachable && idle >= UNREACHABLE_GRACE_SECS) {
                doomed.push(id.to_string());
            }
        }
        for user_id in &doomed {
            delete_user_in(&txn, user_id)?;
        }
        txn.commit()?;
        if !doomed.is_empty() || expired_sessions > 0 {
            self.revoked();
        }
        let purged = Purged { anonymous_users: doomed.len(), sessions: expired_sessions, email_tokens };
        if purged != Purged::default() {
            tracing::info!(?purged, "purged expired auth records");
        }
        Ok(purged)
    }

    /// Purges now and then every hour, in the background, for as long as the service lives.
    pub fn spawn_purger(self: &Arc<Self>) {
        let auth = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PURGE_EVERY);
            loop {
                every.tick().await;
                let Some(auth) = auth.upgrade() else { return };
                match tokio::task::spawn_blocking(move || auth.purge()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!("auth purge failed: {e}"),
                    Err(e) => tracing::warn!("auth purge task failed: {e}"),
                }
            }
        });
    }
}
