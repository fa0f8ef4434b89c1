//! Authentication triggers: `auth` reports each login, new user and deleted user through its hook
//! (`Sink`); the events wait in a bounded in-memory queue, and each enabled trigger whose
//! `operation_type` and `providers` match runs its function with `{operationType, providers,
//! user, time}`, after the request that caused it was answered (as in App Services, where
//! authentication triggers ran asynchronously). Events still queued at a crash are lost.

use super::{Shared, TriggerKind};
use crate::auth::{AuthEvent, AuthEvents};
use bson::{doc, Bson};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Semaphore};

/// Events waiting for their functions; more are dropped (and logged).
const QUEUE: usize = 10_000;
/// Authentication trigger functions running at once.
const CONCURRENCY: usize = 16;

/// The queue between the hook and the worker.
pub(super) struct Queue {
    tx: mpsc::Sender<AuthEvent>,
    rx: Mutex<Option<mpsc::Receiver<AuthEvent>>>,
}

impl Default for Queue {
    fn default() -> Queue {
        let (tx, rx) = mpsc::channel(QUEUE);
        Queue { tx, rx: Mutex::new(Some(rx)) }
    }
}

/// What `auth` calls.
pub(super) struct Sink(pub Arc<Shared>);

impl AuthEvents for Sink {
    fn event(&self, event: AuthEvent) {
        if let Err(e) = self.0.auth.tx.try_send(event) {
            tracing::warn!("authentication trigger event dropped ({} already waiting): {}", QUEUE, e);
        }
    }
}

/// The function argument of an event.
fn event_document(e: &AuthEvent) -> bson::Document {
    let user = crate::host::user_info(&e.profile, e.custom_data.as_ref());
    doc! {
        "operationType": e.operation.name(),
        "providers": e.providers.clone(),
        "user": user.to_document(),
        "time": bson::DateTime::from_millis(i64::try_from(e.time).unwrap_or(i64::MAX / 1000).saturating_mul(1000)),
    }
}

/// Runs the matching triggers' functions for each event until shutdown.
pub(super) async fn run(shared: Arc<Shared>) {
    let Some(mut rx) = shared.auth.rx.lock().ok().and_then(|mut r| r.take()) else { return };
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        if *shutdown.borrow_and_update() {
            break;
        }
        let event = tokio::select! {
            e = rx.recv() => match e { Some(e) => e, None => break },
            _ = shutdown.changed() => continue,
        };
        let arg = Bson::Document(event_document(&event));
        for t in &shared.triggers {
            let TriggerKind::Authentication(cfg) = &t.def.kind else { continue };
            let fires = t.lock().enabled
                && cfg.operation_types.contains(&event.operation)
                && cfg.providers.iter().any(|p| event.providers.contains(p));
            if !fires {
                continue;
            }
            let Ok(permit) = permits.clone().acquire_owned().await else { break };
            let (shared, t, arg) = (shared.clone(), t.clone(), arg.clone());
            tokio::spawn(async move {
                shared.run_function(&t, vec![arg], None).await;
                drop(permit);
            });
        }
    }
    // Let the functions already running finish (`Triggers::stop` bounds the wait).
    let _ = permits.acquire_many(CONCURRENCY as u32).await;
}
