//! Memory budgets: how much one request may build (documents it returns, rewrites or produces in
//! a pipeline stage), and the process-wide pool every request draws from. Sizes are counted as
//! MongoDB counts them (BSON bytes, `size::doc_bytes`) except where the in-memory form is far
//! larger than its BSON (array padding), which is counted at its in-memory cost.
//!
//! MongoDB's limits are the guide: 100 MB per blocking stage without `allowDiskUse`, 16 MB per
//! document. A request over its limit gets a clear error; a request that would take the pool
//! past its limit is told the server is busy. What a request charged goes back to the pool when
//! its budget is dropped.

use super::QueryError;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Default per-stage (and per-result, per-write) limit: MongoDB's 100 MB stage limit.
pub const DEFAULT_STAGE_BYTES: usize = 100 * 1024 * 1024;
/// Default size of the process-wide pool.
pub const DEFAULT_POOL_BYTES: usize = 1024 * 1024 * 1024;

/// The memory all requests together may hold for documents they build.
#[derive(Debug)]
pub struct MemoryPool {
    limit: usize,
    used: AtomicUsize,
}

impl MemoryPool {
    /// A pool of `limit` bytes.
    pub fn new(limit: usize) -> MemoryPool {
        MemoryPool { limit, used: AtomicUsize::new(0) }
    }

    /// Bytes charged by live budgets.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// One request's allowance.
#[derive(Debug)]
pub struct Budget<'p> {
    pool: &'p MemoryPool,
    stage_limit: usize,
    held: Cell<usize>,
    deadline: Option<Instant>,
}

impl<'p> Budget<'p> {
    /// A budget drawing on `pool`, with `stage_limit` bytes for any one stage, result or write.
    pub fn new(pool: &'p MemoryPool, stage_limit: usize) -> Budget<'p> {
        Budget { pool, stage_limit, held: Cell::new(0), deadline: None }
    }

    /// The same budget, also refusing to go on after `limit` from now.
    pub fn with_time_limit(mut self, limit: Duration) -> Budget<'p> {
        self.deadline = Instant::now().checked_add(limit);
        self
    }

    /// Fails once the time limit has passed (long loops call it as they go).
    pub fn check_time(&self) -> Result<(), QueryError> {
        match self.deadline {
            Some(d) if Instant::now() >= d => Err(QueryError::TimeLimit(
                "operation exceeded time limit (--query-timeout); narrow the query with a filter or a limit".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Takes `bytes` from the pool.
    fn charge(&self, bytes: usize) -> Result<(), QueryError> {
        let before = self.pool.used.fetch_add(bytes, Ordering::AcqRel);
        if before.saturating_add(bytes) > self.pool.limit {
            self.pool.used.fetch_sub(bytes, Ordering::AcqRel);
            return Err(QueryError::ServerBusy(format!(
                "the server's query memory ({} bytes, --query-memory-mb) is in use by other requests; retry shortly",
                self.pool.limit
            )));
        }
        self.held.set(self.held.get() + bytes);
        Ok(())
    }

    /// Gives `bytes` back (what an earlier stage produced, once consumed).
    pub fn release(&self, bytes: usize) {
        let bytes = bytes.min(self.held.get());
        self.held.set(self.held.get() - bytes);
        self.pool.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// A meter for what `what` (a stage name, "find", "update") produces.
    pub fn meter(&self, what: &'static str) -> Meter<'_, 'p> {
        Meter { budget: self, what, bytes: Cell::new(0) }
    }
}

impl Drop for Budget<'_> {
    fn drop(&mut self) {
        self.pool.used.fetch_sub(self.held.get(), Ordering::AcqRel);
    }
}

/// Counts what one stage (or result, or write) produces against the stage limit.
#[derive(Debug)]
pub struct Meter<'b, 'p> {
    budget: &'b Budget<'p>,
    what: &'static str,
    bytes: Cell<usize>,
}

impl Meter<'_, '_> {
    /// Adds `bytes` produced; fails past the stage limit or the pool.
    pub fn add(&self, bytes: usize) -> Result<(), QueryError> {
        self.budget.check_time()?;
        let total = self.bytes.get().saturating_add(bytes);
        if total > self.budget.stage_limit {
            return Err(QueryError::MemoryLimit(format!(
                "{} exceeded the memory limit of {} bytes (--max-stage-mb); narrow the query with a filter, a projection or a limit",
                self.what, self.budget.stage_limit
            )));
        }
        self.budget.charge(bytes)?;
        self.bytes.set(total);
        Ok(())
    }

    /// Bytes produced so far.
    pub fn total(&self) -> usize {
        self.bytes.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_limits_pool_limits_and_release() {
        let pool = MemoryPool::new(1_000);
        let a = Budget::new(&pool, 600);
        let m = a.meter("$lookup");
        m.add(500).expect("within the stage limit");
        assert!(matches!(m.add(200), Err(QueryError::MemoryLimit(e)) if e.contains("$lookup")));
        let b = Budget::new(&pool, 600);
        assert!(matches!(b.meter("find").add(600), Err(QueryError::ServerBusy(_))), "the pool holds only 500 more");
        b.meter("find").add(400).expect("fits");
        assert_eq!(pool.used(), 900);
        a.release(500);
        assert_eq!(pool.used(), 400);
        drop(b);
        drop(a);
        assert_eq!(pool.used(), 0);
        let late = Budget::new(&pool, 600).with_time_limit(Duration::ZERO);
        assert!(matches!(late.meter("find").add(1), Err(QueryError::TimeLimit(_))));
    }
}
