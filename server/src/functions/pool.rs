//! The worker threads: each owns one runtime (an `Engine`) and takes jobs from one bounded
//! queue, so at most `pool_size` functions run at once and at most `max_queue` wait. A worker
//! whose engine faulted (or panicked) replaces it before the next job.

use super::engine::{Engine, Job, JobEnv, Shared, Target};
use super::FunctionError;
use bson::Bson;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

/// Native stack of a worker thread: QuickJS's own limit (`Limits::stack_bytes`) is checked
/// against it, with room for the Rust conversions around it.
const THREAD_STACK: usize = 16 * 1024 * 1024;

/// The queue and its workers (they stop when the pool is dropped).
pub struct Pool {
    tx: SyncSender<Job>,
}

impl Pool {
    /// Starts `size` workers behind a queue of `queue` waiting jobs, and returns once each has its
    /// context ready (so the first calls do not pay for making them).
    pub fn start(shared: Arc<Shared>, size: usize, queue: usize) -> std::io::Result<Pool> {
        let (tx, rx) = sync_channel(queue);
        let rx = Arc::new(Mutex::new(rx));
        let (ready_tx, ready) = std::sync::mpsc::channel();
        for i in 0..size.max(1) {
            let (shared, rx, ready_tx) = (shared.clone(), rx.clone(), ready_tx.clone());
            std::thread::Builder::new()
                .name(format!("realm-function-{i}"))
                .stack_size(THREAD_STACK.max(shared.limits.stack_bytes * 4))
                .spawn(move || work(&shared, &rx, Some(ready_tx)))?;
        }
        drop(ready_tx);
        // Each worker says once when it is ready (or gone); none of them can block this for long.
        for _ in 0..size.max(1) {
            if ready.recv_timeout(std::time::Duration::from_secs(10)).is_err() {
                break;
            }
        }
        Ok(Pool { tx })
    }

    /// Queues one call and waits for its answer.
    pub async fn run(&self, target: Target, args: Vec<Bson>, env: JobEnv) -> Result<Bson, FunctionError> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| FunctionError::Internal("functions must be called from a tokio runtime".into()))?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.tx.try_send(Job { target, args, env, handle, reply }).map_err(|e| match e {
            TrySendError::Full(_) => FunctionError::Busy,
            TrySendError::Disconnected(_) => FunctionError::Internal("the function runtime has stopped".into()),
        })?;
        answer.await.map_err(|_| FunctionError::Internal("the function runtime stopped during the call".into()))?
    }
}

fn work(shared: &Arc<Shared>, rx: &Mutex<Receiver<Job>>, mut ready: Option<std::sync::mpsc::Sender<()>>) {
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
        let job = {
            let queue = rx.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return, // the pool is gone
            }
        };
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
