//! Login rate limiting in fixed one-minute windows: every attempt counts against the client
//! address, failed credential checks count against the account (email, API key id).
//! Kept in memory: a restart forgets the counters, which only ever errs towards allowing logins.

use super::AuthError;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

const WINDOW_SECS: u64 = 60;
/// Above this many tracked keys, windows that have ended are dropped.
const PRUNE_ABOVE: usize = 10_000;

pub(super) struct RateLimiter {
    per_account: u32,
    per_address: u32,
    accounts: Mutex<HashMap<String, (u64, u32)>>,
    addresses: Mutex<HashMap<IpAddr, (u64, u32)>>,
}

/// Current count of `key` in the window containing `now`.
fn count<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, (u64, u32)>, key: &K, now: u64) -> u32 {
    let window = now / WINDOW_SECS;
    match map.get(key) {
        Some((w, n)) if *w == window => *n,
        _ => 0,
    }
}

fn bump<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, (u64, u32)>, key: &K, now: u64) {
    let window = now / WINDOW_SECS;
    if map.len() > PRUNE_ABOVE {
        map.retain(|_, (w, _)| *w == window);
    }
    let n = count(map, key, now);
    map.insert(key.clone(), (window, n.saturating_add(1)));
}

impl RateLimiter {
    pub(super) fn new(per_account: u32, per_address: u32) -> RateLimiter {
        RateLimiter { per_account, per_address, accounts: Mutex::default(), addresses: Mutex::default() }
    }

    /// Counts an attempt from `client`, refusing it once the address is over its limit.
    pub(super) fn attempt_from(&self, client: Option<IpAddr>, now: u64) -> Result<(), AuthError> {
        let Some(ip) = client else { return Ok(()) };
        let mut map = self.addresses.lock().map_err(|_| AuthError::Internal("rate limiter poisoned".into()))?;
        if count(&mut map, &ip, now) >= self.per_address {
            return Err(AuthError::TooManyRequests("too many logins from this address, try again in a minute".into()));
        }
        bump(&mut map, &ip, now);
        Ok(())
    }

    /// Refuses a check of an account that failed too often in this window.
    pub(super) fn check_account(&self, account: &str, now: u64) -> Result<(), AuthError> {
        let mut map = self.accounts.lock().map_err(|_| AuthError::Internal("rate limiter poisoned".into()))?;
        if count(&mut map, &account.to_string(), now) >= self.per_account {
            return Err(AuthError::TooManyRequests("too many failed logins for this account, try again in a minute".into()));
        }
        Ok(())
    }

    /// Records a failed check of an account.
    pub(super) fn fail_account(&self, account: &str, now: u64) {
        if let Ok(mut map) = self.accounts.lock() {
            bump(&mut map, &account.to_string(), now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_account_and_address_reset_each_window() {
        let l = RateLimiter::new(2, 3);
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..3 {
            l.attempt_from(Some(ip), 60).expect("under limit");
        }
        assert!(matches!(l.attempt_from(Some(ip), 61), Err(AuthError::TooManyRequests(_))));
        assert!(l.attempt_from(Some([10, 0, 0, 1].into()), 61).is_ok(), "other address");
        assert!(l.attempt_from(Some(ip), 120).is_ok(), "next window");
        assert!(l.attempt_from(None, 61).is_ok(), "unknown address is not limited");

        l.fail_account("a", 60);
        l.check_account("a", 60).expect("one failure");
        l.fail_account("a", 60);
        assert!(matches!(l.check_account("a", 60), Err(AuthError::TooManyRequests(_))));
        assert!(l.check_account("b", 60).is_ok());
        assert!(l.check_account("a", 120).is_ok());
    }
}
