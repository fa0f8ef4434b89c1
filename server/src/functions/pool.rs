//! The runtimes: `size` engines, each lent to one call at a time, at most `max_queue` calls
//! waiting for one.
//!
//! A call runs in place, on the tokio worker whose task made it, so a trivial call crosses no
//! thread. (Runtime threads fed by a queue cost two wake-ups per call, there and back: on this
//! 2-core VM that was a quarter of a trivial call's server CPU and most of the latency a function
//! adds to a `findOne`; bench/functions-http.mjs.) A call that runs longer than a moment, waits,
//! or builds a runtime first hands the worker's other tasks to another thread (tokio's
//! `block_in_place`, through [`blocking`] and [`hand_off`]), so a slow function stalls nothing.
//!
//! JavaScript reaches the interrupt handler (and so [`hand_off`]) only between operations: one
//! long native operation (the default sort of a million-element array: 1.7 s) holds its worker
//! throughout. So a function whose call held its worker for [`SLOW_IN_PLACE`] is marked, and its
//! later calls hand the worker's tasks away before they start: such a stall happens at most once
//! per function.
//!
//! Running in place needs a thread with a stack for QuickJS: the server's tokio threads get one
//! ([`runtime_builder`]). Anywhere else (a test's runtime, a current-thread runtime) a call gets a
//! thread of its own for its duration. An engine that faulted (or panicked) is replaced.

use super::engine::{Engine, Job, JobEnv, Shared, Target};
use super::FunctionError;
use bson::Bson;
use std::cell::Cell;
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Native stack of the server's threads: QuickJS's own limit (`Limits::stack_bytes`, 1 MB) is
/// checked against it, with room for the Rust conversions around it.
const THREAD_STACK: usize = 16 * 1024 * 1024;

thread_local! {
    /// Set on the threads of [`runtime_builder`]'s runtimes: their stack is [`THREAD_STACK`].
    static ROOMY_STACK: Cell<bool> = const { Cell::new(false) };
}

/// A multi-thread tokio runtime whose threads run functions in place (the server's).
pub fn runtime_builder() -> tokio::runtime::Builder {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_stack_size(THREAD_STACK).on_thread_start(|| ROOMY_STACK.with(|s| s.set(true)));
    builder
}

/// Runs `f`, which blocks or computes for long: on a worker of [`runtime_builder`]'s runtime, the
/// worker's other tasks go to another thread first.
pub(super) fn blocking<R>(f: impl FnOnce() -> R) -> R {
    if ROOMY_STACK.with(Cell::get) {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// How long [`hand_off`] leaves the worker's tasks for another thread to take up.
const HAND_OFF_PAUSE: std::time::Duration = std::time::Duration::from_micros(100);

/// Called while a function computes on a worker: hands the worker's other tasks to another
/// thread. tokio takes them back if no thread took them up during the pause (its pool was slow
/// to wake one), so the engine calls this again every few milliseconds; once taken up, this
/// costs only the pause.
pub(super) fn hand_off() {
    // A panic must not unwind into QuickJS's interrupt callback.
    let _ = catch_unwind(|| blocking(|| std::thread::sleep(HAND_OFF_PAUSE)));
}

/// An engine between calls. A QuickJS runtime has no thread affinity (the engine measures its
/// stack limit from the running thread at every call); what keeps `Engine` from being `Send` is
/// its `Rc`s, which all point inside the engine and move with it.
struct Idle(Engine);

// SAFETY: an `Idle` engine is not running: no reference into it exists outside it (host futures
// are `Send + 'static` and hold none), so moving it whole to another thread, through the pool's
// mutex or a thread spawn, cannot race on its non-atomic reference counts.
unsafe impl Send for Idle {}

/// A call that held its worker this long marks its function as slow (see the module comment).
/// Counted in the thread's CPU time: a trivial call the system paused is not slow, and the time a
/// call waits it does not hold the worker (it handed it off first).
const SLOW_IN_PLACE: std::time::Duration = std::time::Duration::from_millis(10);

/// CPU time of the running thread.
#[cfg(unix)]
fn thread_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec, ours; this clock exists on every unix we build for.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::new(u64::try_from(ts.tv_sec).unwrap_or(0), u32::try_from(ts.tv_nsec).unwrap_or(0))
}

/// Elsewhere, the wall clock since the first call (a paused call may then count as slow).
#[cfg(not(unix))]
fn thread_cpu_time() -> std::time::Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// The engines and the admission bound.
pub struct Pool {
    shared: Arc<Shared>,
    idle: Mutex<Vec<Idle>>,
    /// Functions (and run-as scripts) whose calls no longer start in place.
    slow: Mutex<HashSet<String>>,
    /// One permit per engine.
    permits: tokio::sync::Semaphore,
    /// Calls waiting for a permit, and how many may.
    waiting: AtomicUsize,
    capacity: usize,
}

/// Counts a waiting call for as long as it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Pool {
    /// Makes `size` engines with their contexts ready (so the first calls do not pay for them),
    /// admitting at most `queue` calls to wait when all are busy.
    pub fn start(shared: Arc<Shared>, size: usize, queue: usize) -> Pool {
        let size = size.max(1);
        let mut idle = Vec::with_capacity(size);
        for _ in 0..size {
            match Engine::new(shared.clone()) {
                Ok(mut e) => {
                    e.prepare();
                    idle.push(Idle(e));
                }
                Err(e) => tracing::error!("functions: {e}"),
            }
        }
        Pool { shared, idle: Mutex::new(idle), slow: Mutex::new(HashSet::new()), permits: tokio::sync::Semaphore::new(size), waiting: AtomicUsize::new(0), capacity: queue }
    }

    /// Runs one call once an engine is free.
    pub async fn run(&self, target: Target, args: Vec<Bson>, env: JobEnv) -> Result<Bson, FunctionError> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| FunctionError::Internal("functions must be called from a tokio runtime".into()))?;
        let _permit = match self.permits.try_acquire() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::Relaxed) >= self.capacity {
                    self.waiting.fetch_sub(1, Ordering::Relaxed);
                    return Err(FunctionError::Busy);
                }
                let _waiting = Waiting(&self.waiting);
                self.permits.acquire().await.map_err(|_| FunctionError::Internal("the function runtime has stopped".into()))?
            }
        };
        let engine = lock(&self.idle).pop();
        let in_place = ROOMY_STACK.with(Cell::get)
            && handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
            && thread_stack(&self.shared) <= THREAD_STACK;
        let key = match &target {
            Target::Function(name) | Target::Endpoint(name) => name.clone(),
            Target::RunAsScript(owner) => format!("{owner} (run-as script)"),
        };
        let job = Job { target, args, env, handle };
        let (engine, outcome) = if in_place && !lock(&self.slow).contains(&key) {
            let started = thread_cpu_time();
            let ran = run_job(&self.shared, engine, &job);
            if thread_cpu_time().saturating_sub(started) >= SLOW_IN_PLACE {
                lock(&self.slow).insert(key);
            }
            ran
        } else if in_place {
            blocking(|| run_job(&self.shared, engine, &job))
        } else {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let shared = self.shared.clone();
            std::thread::Builder::new()
                .name("realm-function".into())
                .stack_size(thread_stack(&shared))
                .spawn(move || {
                    let _ = reply.send(run_job(&shared, engine, &job));
                })
                .map_err(|e| FunctionError::Internal(format!("cannot start a function thread: {e}")))?;
            answer.await.map_err(|_| FunctionError::Internal("the function thread stopped during the call".into()))?
        };
        if let Some(e) = engine {
            lock(&self.idle).push(e);
        }
        outcome
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The native stack a call needs: QuickJS's stack limit, with room for the Rust around it.
fn thread_stack(shared: &Shared) -> usize {
    THREAD_STACK.max(shared.limits.stack_bytes.saturating_mul(4))
}

/// Runs `job` on `engine` (a new one if there is none), and gives the engine back unless it
/// faulted.
fn run_job(shared: &Arc<Shared>, engine: Option<Idle>, job: &Job) -> (Option<Idle>, Result<Bson, FunctionError>) {
    let mut engine = match engine {
        Some(Idle(e)) => e,
        None => match blocking(|| Engine::new(shared.clone())) {
            Ok(e) => e,
            Err(e) => return (None, Err(e)),
        },
    };
    match catch_unwind(AssertUnwindSafe(|| engine.run(job))) {
        Ok(outcome) if engine.faulted => (None, outcome),
        Ok(outcome) => (Some(Idle(engine)), outcome),
        Err(_) => {
            // A bug: leave the runtime as it is (freeing it could abort) and start over.
            std::mem::forget(engine);
            (None, Err(FunctionError::Internal("the function runtime failed; it was restarted".into())))
        }
    }
}
