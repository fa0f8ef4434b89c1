//! Login rate limiting in fixed one-minute windows: failed logins count against the account
//! (email, API key id) and against the client address; once either is over its limit, further
//! attempts — even correct ones — get `TooManyRequests` until the window ends. Successful logins
//! cost nothing, so test suites and busy clients with valid credentials are never slowed down.
//! Kept in memory: a restart forgets the counters, which only ever errs towards allowing logins.

use super::AuthError;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

const WINDOW_SECS: u64 = 60;
/// Above this many tracked keys, windows that have ended are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// What is being counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Subject {
    /// An account of a provider (`local-userpass/<email>`, `api-key/<key id>`).
    Account(String),
    /// A client address.
    Address(IpAddr),
}

pub(super) struct RateLimiter {
    per_account: u32,
    per_address: u32,
    failures: Mutex<HashMap<Subject, (u64, u32)>>,
}

impl RateLimiter {
    pub(super) fn new(per_account: u32, per_address: u32) -> RateLimiter {
        RateLimiter { per_account, per_address, failures: Mutex::default() }
    }

    fn limit(&self, s: &Subject) -> u32 {
        match s {
            Subject::Account(_) => self.per_account,
            Subject::Address(_) => self.per_address,
        }
    }

    /// Refuses when any subject failed too often in the current window.
    pub(super) fn check(&self, subjects: &[Subject], now: u64) -> Result<(), AuthError> {
        let map = self.failures.lock().map_err(|_| AuthError::Internal("rate limiter poisoned".into()))?;
        let window = now / WINDOW_SECS;
        for s in subjects {
            if matches!(map.get(s), Some((w, n)) if *w == window && *n >= self.limit(s)) {
                let what = match s {
                    Subject::Account(_) => "this account",
                    Subject::Address(_) => "this address",
                };
                return Err(AuthError::TooManyRequests(format!("too many failed logins for {what}, try again in a minute")));
            }
        }
        Ok(())
    }

    /// Records a failed login for every subject.
    pub(super) fn fail(&self, subjects: &[Subject], now: u64) {
        let Ok(mut map) = self.failures.lock() else { return };
        let window = now / WINDOW_SECS;
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, (w, _)| *w == window);
        }
        for s in subjects {
            let entry = map.entry(s.clone()).or_insert((window, 0));
            if entry.0 != window {
                *entry = (window, 0);
            }
            entry.1 = entry.1.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_account_and_address_reset_each_window() {
        let l = RateLimiter::new(2, 3);
        let ip = Subject::Address([127, 0, 0, 1].into());
        let a = Subject::Account("a".into());
        let b = Subject::Account("b".into());
        l.fail(&[ip.clone(), a.clone()], 60);
        l.check(&[ip.clone(), a.clone()], 60).expect("one failure");
        l.fail(&[ip.clone(), a.clone()], 60);
        assert!(matches!(l.check(std::slice::from_ref(&a), 60), Err(AuthError::TooManyRequests(_))), "account limit");
        l.check(&[ip.clone(), b.clone()], 60).expect("address still under its limit");
        l.fail(&[ip.clone(), b.clone()], 61);
        assert!(matches!(l.check(std::slice::from_ref(&ip), 61), Err(AuthError::TooManyRequests(_))), "address limit");
        l.check(&[Subject::Address([10, 0, 0, 1].into()), b.clone()], 61).expect("other address");
        l.check(&[ip, a], 120).expect("next window");
    }
}
