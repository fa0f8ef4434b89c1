//! Recently verified access tokens, so a request with a token seen before skips the signature check,
//! the claims decoding and the user-record read.
//!
//! Keyed by the token's SHA-256. An entry is trusted only while the token is unexpired and no user
//! has been disabled or deleted since it was verified: those events bump a generation counter, and
//! an entry from an older generation is a miss (so such a user is rejected at their next request).

use super::tokens::AccessClaims;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How many tokens are remembered (least recently/frequently used ones are evicted).
const CAPACITY: usize = 10_000;

pub(super) struct VerifiedTokens {
    cache: quick_cache::sync::Cache<[u8; 32], Arc<(u64, AccessClaims)>>,
    generation: AtomicU64,
}

/// A token's cache key, and the generation current before its user was checked.
pub(super) struct Pending {
    key: [u8; 32],
    generation: u64,
}

impl VerifiedTokens {
    pub(super) fn new() -> VerifiedTokens {
        VerifiedTokens { cache: quick_cache::sync::Cache::new(CAPACITY), generation: AtomicU64::new(0) }
    }

    /// The claims of `token` if it was verified in the current generation and is unexpired at `now`;
    /// otherwise what `remember` needs after a full verification.
    pub(super) fn lookup(&self, token: &str, now: u64) -> Result<AccessClaims, Pending> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Read before the caller reads the user record, so a concurrent disable invalidates the entry.
        let generation = self.generation.load(Ordering::Acquire);
        match self.cache.get(&key) {
            Some(entry) if entry.0 == generation && entry.1.exp > now => Ok(entry.1.clone()),
            _ => Err(Pending { key, generation }),
        }
    }

    /// Remembers claims that passed full verification.
    pub(super) fn remember(&self, pending: Pending, claims: &AccessClaims) {
        self.cache.insert(pending.key, Arc::new((pending.generation, claims.clone())));
    }

    /// A user was disabled or deleted: forget every verification made so far.
    pub(super) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::super::tokens::test_claims as claims;
    use super::*;

    #[test]
    fn hits_until_expiry_or_invalidation() {
        let v = VerifiedTokens::new();
        let pending = v.lookup("t", 10).expect_err("empty cache");
        v.remember(pending, &claims(100));
        assert_eq!(v.lookup("t", 10).ok(), Some(claims(100)));
        assert!(v.lookup("other", 10).is_err());
        assert!(v.lookup("t", 100).is_err(), "expired at exp");

        // A verification that started before an invalidation is not trusted afterwards.
        let stale = v.lookup("s", 10).expect_err("miss");
        v.invalidate();
        assert!(v.lookup("t", 10).is_err(), "cleared");
        v.remember(stale, &claims(100));
        assert!(v.lookup("s", 10).is_err(), "older generation");
    }
}
