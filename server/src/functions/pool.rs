//! The worker threads: each owns one runtime (an `Engine`) and takes jobs from one bounded
//! queue, so at most `pool_size` functions run at once and at most `max_queue` wait. A worker
//! whose engine faulted (or panicked) replaces it before the next job.
//!
//! The queue is a deque under a mutex with a condition variable: a job wakes exactly one idle
//! worker. (An `mpsc` receiver shared behind a mutex woke two per job: the receiving worker, and
//! the next one taking the mutex to wait in `recv`; thread wake-ups were the largest cost of a
//! trivial call over HTTP.)

use super::engine::{Engine, Job, JobEnv, Shared, Target};
use super::FunctionError;
use bson::Bson;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Native stack of a worker thread: QuickJS's own limit (`Limits::stack_bytes`) is checked
/// against it, with room for the Rust conversions around it.
const THREAD_STACK: usize = 16 * 1024 * 1024;

/// Jobs waiting for a worker.
struct Queue {
    state: Mutex<QueueState>,
    /// Signalled once per queued job (and on close).
    ready: Condvar,
    capacity: usize,
}

struct QueueState {
    jobs: VecDeque<Job>,
    closed: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `job`, or refuses it when the queue is full or closed.
    fn push(&self, job: Job) -> Result<(), FunctionError> {
        let mut state = self.lock();
        if state.closed {
            return Err(FunctionError::Internal("the function runtime has stopped".into()));
        }
        if state.jobs.len() >= self.capacity {
            return Err(FunctionError::Busy);
        }
        state.jobs.push_back(job);
        drop(state);
        self.ready.notify_one();
        Ok(())
    }

    /// The next job; `None` once the pool is gone.
    fn pop(&self) -> Option<Job> {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state = self.ready.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

/// The queue and its workers (they stop when the pool is dropped).
pub struct Pool {
    queue: Arc<Queue>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.queue.close();
    }
}

impl Pool {
    /// Starts `size` workers behind a queue of `queue` waiting jobs, and returns once each has its
    /// context ready (so the first calls do not pay for making them).
    pub fn start(shared: Arc<Shared>, size: usize, queue: usize) -> std::io::Result<Pool> {
        let jobs = Arc::new(Queue { state: Mutex::new(QueueState { jobs: VecDeque::new(), closed: false }), ready: Condvar::new(), capacity: queue });
        let (ready_tx, ready) = std::sync::mpsc::channel();
        for i in 0..size.max(1) {
            let (shared, jobs, ready_tx) = (shared.clone(), jobs.clone(), ready_tx.clone());
            std::thread::Builder::new()
                .name(format!("realm-function-{i}"))
                .stack_size(THREAD_STACK.max(shared.limits.stack_bytes * 4))
                .spawn(move || work(&shared, &jobs, Some(ready_tx)))?;
        }
        drop(ready_tx);
        // Each worker says once when it is ready (or gone); none of them can block this for long.
        for _ in 0..size.max(1) {
            if ready.recv_timeout(std::time::Duration::from_secs(10)).is_err() {
                break;
            }
        }
        Ok(Pool { queue: jobs })
    }

    /// Queues one call and waits for its answer.
    pub async fn run(&self, target: Target, args: Vec<Bson>, env: JobEnv) -> Result<Bson, FunctionError> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| FunctionError::Internal("functions must be called from a tokio runtime".into()))?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.queue.push(Job { target, args, env, handle, reply })?;
        answer.await.map_err(|_| FunctionError::Internal("the function runtime stopped during the call".into()))?
    }
}

fn work(shared: &Arc<Shared>, jobs: &Queue, mut ready: Option<std::sync::mpsc::Sender<()>>) {
    let mut engine: Option<Engine> = None;
    loop {
        if engine.is_none() {
            match Engine::new(shared.clone()) {
                Ok(e) => engine = Some(e),
                Err(e) => tracing::error!("functions: {e}"),
            }
        }
        if let Some(e) = engine.as_mut() {
            e.prepare();
        }
        if let Some(r) = ready.take() {
            let _ = r.send(());
        }
        let Some(job) = jobs.pop() else { return }; // the pool is gone
        let outcome = match engine.as_mut() {
            None => Err(FunctionError::Internal("the JavaScript engine could not start".into())),
            Some(e) => match catch_unwind(AssertUnwindSafe(|| e.run(&job))) {
                Ok(outcome) => outcome,
                Err(_) => {
                    // A bug: leave the runtime as it is (freeing it could abort) and start over.
                    std::mem::forget(engine.take());
                    Err(FunctionError::Internal("the function runtime failed; it was restarted".into()))
                }
            },
        };
        let _ = job.reply.send(outcome);
        if engine.as_ref().is_some_and(|e| e.faulted) {
            engine = None;
        }
    }
}
