//! The hook authentication triggers hang on: `Auth` reports logins, new users and deleted users
//! to an observer set at start-up (`Auth::set_events`), without knowing who listens.

use crate::config::AuthOperation;

/// One authentication event.
#[derive(Debug, Clone)]
pub struct AuthEvent {
    /// LOGIN, CREATE or DELETE.
    pub operation: AuthOperation,
    /// The providers involved: the one used (LOGIN, CREATE), every one of the user's (DELETE).
    pub providers: Vec<String>,
    /// The user's profile as `GET /auth/profile` answers it (taken before a deletion).
    pub profile: serde_json::Value,
    /// The user's custom data, if any.
    pub custom_data: Option<serde_json::Value>,
    /// When, in seconds since the epoch (the auth clock).
    pub time: u64,
}

/// Receives authentication events; must return quickly (it runs on the request's path).
pub trait AuthEvents: Send + Sync {
    /// Called after the login, creation or deletion succeeded.
    fn event(&self, event: AuthEvent);
}

/// A user's profile and custom data, as an event carries them.
pub(super) type UserSnapshot = (serde_json::Value, Option<serde_json::Value>);

impl super::Auth {
    /// Reports authentication events to `events` from now on (set once, at start-up).
    pub fn set_events(&self, events: std::sync::Arc<dyn AuthEvents>) {
        if self.events.set(events).is_err() {
            tracing::warn!("authentication events already have an observer");
        }
    }

    /// The user's profile and custom data as an event carries them (only with an observer).
    pub(super) fn event_snapshot(&self, user_id: &str) -> Option<UserSnapshot> {
        self.events.get()?;
        match self.profile(user_id) {
            Ok(profile) => Some((profile, self.custom_data(user_id).ok().flatten())),
            Err(super::AuthError::UserNotFound) => None,
            Err(e) => {
                tracing::warn!("authentication event for user {user_id} not reported: {e}");
                None
            }
        }
    }

    /// Reports an event about `user_id` (now, or with a snapshot taken before a deletion).
    pub(super) fn emit(&self, operation: AuthOperation, providers: Vec<String>, user_id: &str, snapshot: Option<UserSnapshot>) {
        let Some(events) = self.events.get() else { return };
        let Some((profile, custom_data)) = snapshot.or_else(|| self.event_snapshot(user_id)) else { return };
        events.event(AuthEvent { operation, providers, profile, custom_data, time: self.now() });
    }

    /// Reports the deletion of `user_id`, with every provider of the identities it had.
    pub(super) fn emit_deleted(&self, user_id: &str, snapshot: UserSnapshot) {
        let mut providers: Vec<String> = Vec::new();
        for p in snapshot.0["identities"].as_array().into_iter().flatten().filter_map(|i| i["provider_type"].as_str()) {
            if !providers.iter().any(|x| x == p) {
                providers.push(p.to_string());
            }
        }
        self.emit(AuthOperation::Delete, providers, user_id, Some(snapshot));
    }
}
