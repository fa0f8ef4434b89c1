//! The test clock (`--test-clock`): a clock that moves only when told to (`PUT /test/clock` on the
//! admin API), so a test sees a one-minute schedule fire without waiting a minute. It drives auth
//! (token lifetimes) and scheduled triggers alike.

use crate::auth::Clock;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;

/// A clock set by hand.
pub struct TestClock {
    now: AtomicU64,
    changed: watch::Sender<u64>,
}

impl TestClock {
    /// A clock reading `now` (seconds since the epoch).
    pub fn new(now: u64) -> TestClock {
        TestClock { now: AtomicU64::new(now), changed: watch::Sender::new(now) }
    }

    /// Sets the time (it may go backwards; schedules only ever look forward from their last run).
    pub fn set(&self, now: u64) {
        self.now.store(now, Ordering::SeqCst);
        self.changed.send_replace(now);
    }

}

impl Clock for TestClock {
    fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    /// Resolves when the clock is set to `at` or later.
    fn sleep_until(&self, at: u64) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let mut changed = self.changed.subscribe();
        Box::pin(async move {
            let _ = changed.wait_for(|now| *now >= at).await;
        })
    }
}
