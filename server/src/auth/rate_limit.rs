//! Rate limits in sliding windows, per subject (an account, an email address, a client address):
//! at most `limit` attempts in any `window_secs` (a fixed window lets twice the limit through across
//! its edge, and forgets a burst that straddles it).
//!
//! An attempt is *reserved* before the work it stands for (a password hash, an email) starts, so
//! parallel requests cannot all pass the check before any of them is counted. Logins give the
//! reservation back when they succeed (successful logins cost nothing, so busy clients with valid
//! credentials are never slowed down); other uses keep it. Once a subject is at its limit, further
//! attempts — even correct ones — get `TooManyRequests` until the oldest counted one is a window old. Kept in memory: a
//! restart forgets the counters, which only ever errs towards allowing requests.

use super::AuthError;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

/// Above this many tracked keys, windows that have ended are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// What is being counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Subject {
    /// An account of a provider (`local-userpass/<folded email>`, `api-key/<key id>`) or an email address.
    Account(String),
    /// A client address.
    Address(IpAddr),
}

pub(super) struct RateLimiter {
    /// What is counted, for the error message ("failed logins").
    what: &'static str,
    window_secs: u64,
    per_account: u32,
    per_address: u32,
    /// Each subject's counted attempts (seconds since the epoch), oldest first; never more than its limit.
    counts: Mutex<HashMap<Subject, VecDeque<u64>>>,
}

/// Attempts counted by `reserve`, to give back with `release`.
pub(super) struct Reservation {
    subjects: Vec<Subject>,
    at: u64,
}

impl RateLimiter {
    pub(super) fn new(what: &'static str, window_secs: u64, per_account: u32, per_address: u32) -> RateLimiter {
        RateLimiter { what, window_secs: window_secs.max(1), per_account, per_address, counts: Mutex::default() }
    }

    fn limit(&self, s: &Subject) -> u32 {
        match s {
            Subject::Account(_) => self.per_account,
            Subject::Address(_) => self.per_address,
        }
    }

    fn refused(&self, s: &Subject) -> AuthError {
        let whom = match s {
            Subject::Account(_) => "this account",
            Subject::Address(_) => "this address",
        };
        let wait = match self.window_secs {
            60 => "a minute".to_string(),
            3600 => "an hour".to_string(),
            n => format!("{n} seconds"),
        };
        AuthError::TooManyRequests(format!("too many {} for {whom}, try again in {wait}", self.what))
    }

    /// Counts one attempt against every subject, or refuses (counting nothing) when any of them is
    /// at its limit in the current window. Check and count are one step under the lock.
    pub(super) fn reserve(&self, subjects: Vec<Subject>, now: u64) -> Result<Reservation, AuthError> {
        let mut map = self.counts.lock().map_err(|_| AuthError::Internal("rate limiter poisoned".into()))?;
        let live = |t: &u64| t.saturating_add(self.window_secs) > now;
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, times| times.back().is_some_and(live));
        }
        for s in &subjects {
            if let Some(times) = map.get_mut(s) {
                while times.front().is_some_and(|t| !live(t)) {
                    times.pop_front();
                }
            }
        }
        let used = |s: &Subject| map.get(s).map_or(0, VecDeque::len);
        if let Some(full) = subjects.iter().find(|s| used(s) >= self.limit(s) as usize) {
            return Err(self.refused(full));
        }
        for s in &subjects {
            map.entry(s.clone()).or_default().push_back(now);
        }
        Ok(Reservation { subjects, at: now })
    }

    /// Gives back a reservation's attempts (a successful login).
    pub(super) fn release(&self, reservation: Reservation) {
        let Ok(mut map) = self.counts.lock() else { return };
        for s in &reservation.subjects {
            if let Some(times) = map.get_mut(s) {
                if let Some(i) = times.iter().rposition(|t| *t == reservation.at) {
                    times.remove(i);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(r: Result<Reservation, AuthError>) -> bool {
        matches!(r, Err(AuthError::TooManyRequests(_)))
    }

    #[test]
    fn a_burst_across_a_minute_boundary_is_still_one_window() {
        let l = RateLimiter::new("failed logins", 60, 3, 100);
        let a = Subject::Account("a".into());
        for t in [58, 59, 60] {
            l.reserve(vec![a.clone()], t).expect("within the limit");
        }
        assert!(refused(l.reserve(vec![a.clone()], 61)), "a fixed window would have started afresh at 60");
        l.reserve(vec![a], 118).expect("the first attempt is a minute old");
    }

    #[test]
    fn limits_per_account_and_address_reset_each_window() {
        let l = RateLimiter::new("failed logins", 60, 2, 3);
        let ip = Subject::Address([127, 0, 0, 1].into());
        let a = Subject::Account("a".into());
        let b = Subject::Account("b".into());
        l.reserve(vec![ip.clone(), a.clone()], 60).expect("first");
        l.reserve(vec![ip.clone(), a.clone()], 60).expect("second");
        assert!(refused(l.reserve(vec![a.clone()], 60)), "account limit");
        l.reserve(vec![ip.clone(), b.clone()], 61).expect("address still under its limit");
        assert!(refused(l.reserve(vec![ip.clone()], 61)), "address limit");
        l.reserve(vec![Subject::Address([10, 0, 0, 1].into()), b.clone()], 61).expect("other address");
        l.reserve(vec![ip, a], 120).expect("next window");
    }

    #[test]
    fn a_refused_attempt_counts_nothing_and_released_ones_are_given_back() {
        let l = RateLimiter::new("emails", 3600, 1, 2);
        let ip = Subject::Address([127, 0, 0, 1].into());
        let a = Subject::Account("a".into());
        let first = l.reserve(vec![ip.clone(), a.clone()], 0).expect("first");
        assert!(refused(l.reserve(vec![ip.clone(), a.clone()], 0)), "account full");
        l.reserve(vec![ip.clone()], 0).expect("the refused attempt did not use the address's budget");
        assert!(refused(l.reserve(vec![ip.clone()], 0)));
        l.release(first);
        l.reserve(vec![ip, a], 0).expect("given back");
    }

    #[test]
    fn parallel_reservations_never_exceed_the_limit() {
        let l = std::sync::Arc::new(RateLimiter::new("failed logins", 60, 10, 1000));
        let threads: Vec<_> = (0..64)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || l.reserve(vec![Subject::Account("x".into())], 0).is_ok())
            })
            .collect();
        let granted = threads.into_iter().map(|t| t.join()).filter(|r| matches!(r, Ok(true))).count();
        assert_eq!(granted, 10);
    }
}
