//! argon2id hashing behind a gate: at most `max` hashes run at once (each takes ~19 MiB and tens of
//! milliseconds of one core), so a flood of logins, registrations or resets queues instead of taking
//! the server's memory. A request that waits longer than `QUEUE_WAIT` is refused as busy.

use super::AuthError;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Longest wait for a hashing slot.
const QUEUE_WAIT: Duration = Duration::from_secs(30);

/// The default bound: one hash per core (hashing is CPU-bound, more at once only costs memory).
pub fn default_max_concurrent_hashes() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

pub(super) struct HashGate {
    max: usize,
    running: Mutex<usize>,
    freed: Condvar,
    /// Hashes computed so far (hash or verify).
    computed: AtomicU64,
    /// Most hashes seen running at once.
    peak: AtomicUsize,
}

/// Counters of the gate (tests and operators).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashStats {
    /// Hashes computed (hashing a new secret or checking one).
    pub computed: u64,
    /// Most hashes that ran at once.
    pub peak_concurrency: usize,
}

impl HashGate {
    pub(super) fn new(max: usize) -> HashGate {
        HashGate { max: max.max(1), running: Mutex::new(0), freed: Condvar::new(), computed: AtomicU64::new(0), peak: AtomicUsize::new(0) }
    }

    pub(super) fn stats(&self) -> HashStats {
        HashStats { computed: self.computed.load(Ordering::Relaxed), peak_concurrency: self.peak.load(Ordering::Relaxed) }
    }

    /// Runs `f` in a slot, waiting for one if all are taken.
    fn run<T>(&self, f: impl FnOnce() -> T) -> Result<T, AuthError> {
        let poisoned = || AuthError::Internal("hash gate poisoned".into());
        let deadline = Instant::now() + QUEUE_WAIT;
        {
            let mut running = self.running.lock().map_err(|_| poisoned())?;
            while *running >= self.max {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(AuthError::Busy("too many password checks in progress, try again shortly".into()));
                }
                running = self.freed.wait_timeout(running, left).map_err(|_| poisoned())?.0;
            }
            *running += 1;
            self.peak.fetch_max(*running, Ordering::Relaxed);
        }
        // Frees the slot however `f` ends.
        struct Slot<'a>(&'a HashGate);
        impl Drop for Slot<'_> {
            fn drop(&mut self) {
                if let Ok(mut running) = self.0.running.lock() {
                    *running -= 1;
                }
                self.0.freed.notify_one();
            }
        }
        let _slot = Slot(self);
        self.computed.fetch_add(1, Ordering::Relaxed);
        Ok(f())
    }

    /// A new argon2id hash of `secret`.
    pub(super) fn hash(&self, secret: &str) -> Result<String, AuthError> {
        self.run(|| hash_now(secret))?
    }

    /// Whether `secret` matches a stored argon2id hash (the comparison inside argon2 is constant-time).
    pub(super) fn verify(&self, secret: &str, stored: &str) -> Result<bool, AuthError> {
        self.run(|| verify_now(secret, stored))
    }
}

fn hash_now(secret: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default().hash_password(secret.as_bytes(), &salt).map_err(|e| AuthError::Internal(e.to_string()))?.to_string())
}

fn verify_now(secret: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok())
}

/// A fixed hash checked when an account does not exist, so timing does not reveal which emails exist.
pub(super) fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_now("not-a-real-password").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn hashes_verify_and_never_run_more_than_the_bound() {
        let gate = Arc::new(HashGate::new(2));
        let hash = gate.hash("secret-1").expect("hash");
        assert!(gate.verify("secret-1", &hash).expect("verify"));
        assert!(!gate.verify("secret-2", &hash).expect("verify"));
        assert!(!gate.verify("secret-1", "not a hash").expect("verify"));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let gate = gate.clone();
                std::thread::spawn(move || gate.hash(&format!("pw-{i}")).is_ok())
            })
            .collect();
        assert!(threads.into_iter().all(|t| matches!(t.join(), Ok(true))));
        let stats = gate.stats();
        assert_eq!(stats.computed, 12);
        assert!(stats.peak_concurrency <= 2, "{stats:?}");
    }
}
