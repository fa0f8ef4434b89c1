//! Triggers: the export's database, scheduled and authentication triggers run its functions (as
//! system) when their events happen.
//!
//! - Database triggers read the store's change journal (`store::ChangeJournal`), which records
//!   every change to a watched namespace in the same commit as the change itself. Each trigger
//!   keeps its position there as a journal cursor, saved durably before the next event is taken
//!   (ordered) or before its slot is given back (unordered), so a restart neither skips nor
//!   repeats a handled event; an event whose function was running at the crash runs again.
//! - Scheduled triggers keep the time of their last run the same way and catch up (or skip) the
//!   runs missed while the server was down.
//! - Authentication triggers get events from `auth` through a hook (`AuthEvents`), in memory.
//!
//! A failing function is logged with the trigger and event id and counted; the trigger goes on
//! with the next event (App Services neither retried nor suspended on a function error).
//! The admin API lists triggers with their state and enables/disables them (persisted).

mod auth_events;
mod clock;
mod database;
mod scheduled;

pub use clock::TestClock;

use crate::auth::Clock;
use crate::config::{TriggerDef, TriggerKind};
use crate::functions::{CallEnv, FunctionError, Functions};
use crate::store::{ChangeJournal, JournalScope, Store, StoreError};
use bson::{doc, Bson, Document};
use database::Progress;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// Journal entries a database trigger may lag behind by default before the oldest are dropped
/// (it then resumes after the gap or is suspended, as App Services did when the oplog rolled over).
pub const DEFAULT_JOURNAL_EVENTS: u64 = 1_000_000;

/// The journal cursor holding a trigger's persisted state.
fn cursor_name(trigger: &str) -> String {
    format!("trigger/{trigger}")
}

/// The last failure of a trigger's function.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LastError {
    /// What went wrong.
    pub message: String,
    /// The event's id (database triggers: its resume token's `_data`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// When (ISO 8601).
    pub at: String,
}

/// A trigger as the admin API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TriggerView {
    /// Name.
    pub name: String,
    /// `DATABASE`, `SCHEDULED` or `AUTHENTICATION`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The function it runs.
    pub function_name: String,
    /// Whether it fires.
    pub enabled: bool,
    /// `enabled`, `disabled` or `suspended`.
    pub state: &'static str,
    /// Why it is suspended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended_reason: Option<String>,
    /// Database triggers: the journal position every event up to which is handled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// Database triggers: events in the journal it has not reached yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_events: Option<u64>,
    /// Scheduled triggers: the scheduled time of the last run (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run: Option<String>,
    /// Scheduled triggers: the next scheduled time (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run: Option<String>,
    /// Function runs that finished since the server started.
    pub handled: u64,
    /// Of those, the ones that failed.
    pub failed: u64,
    /// The last failure since the server started.
    pub last_error: Option<LastError>,
}

/// Why an admin request about a trigger failed.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// No trigger of this name.
    #[error("trigger not found: '{0}'")]
    NotFound(String),
    /// The state could not be saved.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server was not started with `--test-clock`.
    #[error("the server's clock cannot be set: start it with --test-clock")]
    NoTestClock,
    /// A scheduled trigger did not finish its due runs in time.
    #[error("scheduled triggers did not finish their due runs within {0} s")]
    Timeout(u64),
}

/// A trigger's mutable state (persisted as its journal cursor, except the counters).
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Fires.
    enabled: bool,
    /// `disabled` in the export when `enabled` was last set (an export change overrides the admin's choice).
    file_disabled: bool,
    /// Database triggers stopped by lost history.
    suspended: Option<String>,
    /// Database triggers: journal progress.
    progress: Option<Progress>,
    /// Scheduled triggers: scheduled time of the last run (s).
    last_run: Option<i64>,
    handled: u64,
    failed: u64,
    last_error: Option<LastError>,
}

impl State {
    fn to_document(&self) -> Document {
        let mut d = doc! {"enabled": self.enabled, "file_disabled": self.file_disabled};
        if let Some(reason) = &self.suspended {
            d.insert("suspended", reason.clone());
        }
        if let Some(p) = &self.progress {
            d.insert("position", p.position as i64);
            d.insert("done", p.done.iter().map(|s| Bson::Int64(*s as i64)).collect::<Vec<_>>());
        }
        if let Some(t) = self.last_run {
            d.insert("last_run", t);
        }
        d
    }

    fn from_document(d: &Document) -> State {
        let int = |k: &str| d.get_i64(k).ok();
        State {
            enabled: d.get_bool("enabled").unwrap_or(true),
            file_disabled: d.get_bool("file_disabled").unwrap_or(false),
            suspended: d.get_str("suspended").ok().map(str::to_string),
            progress: int("position").map(|p| {
                let done = d.get_array("done").map(|a| a.iter().filter_map(Bson::as_i64).map(|s| s as u64).collect()).unwrap_or_default();
                Progress::resume(p as u64, done)
            }),
            last_run: int("last_run"),
            ..State::default()
        }
    }
}

/// One trigger and its running state.
pub(crate) struct Trigger {
    def: TriggerDef,
    state: Mutex<State>,
    /// Bumped when the trigger is enabled, disabled or resumed: its worker looks again.
    control: watch::Sender<u64>,
    /// Scheduled triggers: the clock time up to which every due run is done.
    settled: watch::Sender<i64>,
}

impl Trigger {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A worker never panics while holding it; if one did, its state is still the best we know.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn kind_name(&self) -> &'static str {
        match self.def.kind {
            TriggerKind::Database(_) => "DATABASE",
            TriggerKind::Scheduled(_) => "SCHEDULED",
            TriggerKind::Authentication(_) => "AUTHENTICATION",
        }
    }
}

/// What the workers share.
pub(crate) struct Shared {
    triggers: Vec<Arc<Trigger>>,
    journal: Arc<dyn ChangeJournal>,
    store: Arc<dyn Store>,
    functions: Arc<Functions>,
    clock: Arc<dyn Clock>,
    test_clock: Option<Arc<TestClock>>,
    shutdown: watch::Sender<bool>,
    journal_max_events: u64,
    auth: auth_events::Queue,
}

/// The app's triggers.
pub struct Triggers {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Where the journal was trimmed to at start.
    trimmed: u64,
}

/// The journal scope the database triggers among `defs` need (every one of them, enabled or not,
/// so one enabled later finds the events since it was disabled).
pub fn journal_scope(defs: &[TriggerDef]) -> JournalScope {
    let mut scope = JournalScope::default();
    for def in defs {
        if let TriggerKind::Database(d) = &def.kind {
            scope.add(d.database.as_deref(), d.collection.as_deref());
        }
    }
    scope
}

/// How a `Triggers` is built.
pub struct TriggerOptions {
    /// Time for schedules and authentication events.
    pub clock: Arc<dyn Clock>,
    /// The same clock when it is a test clock (`--test-clock`).
    pub test_clock: Option<Arc<TestClock>>,
    /// Most journal entries kept for lagging triggers.
    pub journal_max_events: u64,
}

impl Triggers {
    /// Loads every trigger's persisted state (a new one starts at the journal's head / now).
    pub fn new(
        defs: Vec<TriggerDef>,
        journal: Arc<dyn ChangeJournal>,
        store: Arc<dyn Store>,
        functions: Arc<Functions>,
        options: TriggerOptions,
    ) -> Result<Triggers, StoreError> {
        let head = *journal.durable_head().borrow();
        let mut triggers = Vec::with_capacity(defs.len());
        for def in defs {
            let saved = journal.cursor(&cursor_name(&def.name))?.and_then(|b| Document::from_reader(b.as_slice()).ok());
            let mut state = saved.as_ref().map(State::from_document).unwrap_or_default();
            // The admin's choice lasts until the export's `disabled` changes.
            if saved.is_none() || state.file_disabled != def.disabled {
                state.enabled = !def.disabled;
                state.file_disabled = def.disabled;
            }
            if matches!(def.kind, TriggerKind::Database(_)) && state.progress.is_none() && state.enabled {
                state.progress = Some(Progress::resume(head, Default::default()));
            }
            triggers.push(Arc::new(Trigger { def, state: Mutex::new(state), control: watch::Sender::new(0), settled: watch::Sender::new(i64::MIN) }));
        }
        let shared = Arc::new(Shared {
            triggers,
            journal,
            store,
            functions,
            clock: options.clock,
            test_clock: options.test_clock,
            shutdown: watch::Sender::new(false),
            journal_max_events: options.journal_max_events,
            auth: auth_events::Queue::default(),
        });
        for t in &shared.triggers {
            let st = t.lock();
            shared.save(t, &st)?;
        }
        // What no trigger needs goes at once (a restart after a long backlog, a lowered bound),
        // before any trigger reads.
        let trimmed = database::trim_point(&shared);
        if trimmed > 0 {
            shared.journal.trim(trimmed)?;
        }
        Ok(Triggers { shared, tasks: Mutex::new(Vec::new()), trimmed })
    }

    /// Whether there are authentication triggers (auth reports its events only then).
    pub fn has_auth_triggers(&self) -> bool {
        self.shared.triggers.iter().any(|t| matches!(t.def.kind, TriggerKind::Authentication(_)))
    }

    /// Starts one worker per trigger (call from within the tokio runtime).
    pub fn start(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        if !tasks.is_empty() {
            return;
        }
        for t in &self.shared.triggers {
            let (shared, t) = (self.shared.clone(), t.clone());
            tasks.push(match t.def.kind {
                TriggerKind::Database(_) => tokio::spawn(database::run(shared, t)),
                TriggerKind::Scheduled(_) => tokio::spawn(scheduled::run(shared, t)),
                TriggerKind::Authentication(_) => continue,
            });
        }
        if self.has_auth_triggers() {
            tasks.push(tokio::spawn(auth_events::run(self.shared.clone())));
        }
        if self.shared.triggers.iter().any(|t| matches!(t.def.kind, TriggerKind::Database(_))) {
            tasks.push(tokio::spawn(database::trim(self.shared.clone(), self.trimmed)));
        }
    }

    /// Stops the workers: no new event is taken; functions already running get up to `grace` to
    /// finish (one still running after that runs again at the next start).
    pub async fn stop(&self, grace: Duration) {
        self.shared.shutdown.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        let all = futures_util::future::join_all(tasks);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("trigger functions still running after {} s at shutdown: their events run again at the next start", grace.as_secs());
        }
    }

    /// Every trigger with its state.
    pub fn list(&self) -> Vec<TriggerView> {
        let head = *self.shared.journal.durable_head().borrow();
        self.shared.triggers.iter().map(|t| self.shared.view(t, head)).collect()
    }

    /// Enables or disables a trigger (persisted). Enabling a suspended database trigger resumes
    /// it at the journal's head; `skip_catchup_events` makes enabling skip what happened while
    /// it was disabled.
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<TriggerView, TriggerError> {
        let shared = &self.shared;
        let t = shared.triggers.iter().find(|t| t.def.name == name).ok_or_else(|| TriggerError::NotFound(name.to_string()))?;
        let head = *shared.journal.durable_head().borrow();
        let ticket = {
            let mut st = t.lock();
            let was = st.enabled && st.suspended.is_none();
            st.enabled = enabled;
            st.file_disabled = t.def.disabled;
            if enabled && !was {
                match &t.def.kind {
                    TriggerKind::Database(d) => {
                        if d.skip_catchup_events || st.suspended.is_some() || st.progress.is_none() {
                            st.progress = Some(Progress::resume(head, Default::default()));
                        }
                        st.suspended = None;
                    }
                    TriggerKind::Scheduled(s) if s.skip_catchup_events => st.last_run = Some(shared.clock.now() as i64),
                    _ => {}
                }
            }
            shared.save(t, &st)?
        };
        crate::store::wait_durable(shared.store.as_ref(), ticket).await?;
        t.control.send_modify(|g| *g += 1);
        Ok(shared.view(t, head))
    }

    /// `--test-clock`: sets the clock and returns once every enabled scheduled trigger has done
    /// the runs due by then.
    pub async fn set_test_clock(&self, now: u64) -> Result<(), TriggerError> {
        let clock = self.shared.test_clock.as_ref().ok_or(TriggerError::NoTestClock)?;
        clock.set(now);
        const WAIT_SECS: u64 = 60;
        for t in self.shared.triggers.iter().filter(|t| matches!(t.def.kind, TriggerKind::Scheduled(_))) {
            if !t.lock().enabled {
                continue;
            }
            let mut settled = t.settled.subscribe();
            let reached = tokio::time::timeout(Duration::from_secs(WAIT_SECS), settled.wait_for(|s| *s >= now as i64)).await;
            if !matches!(reached, Ok(Ok(_))) {
                return Err(TriggerError::Timeout(WAIT_SECS));
            }
        }
        Ok(())
    }

    /// The hook `auth` reports its events to.
    pub fn auth_events(&self) -> Arc<dyn crate::auth::AuthEvents> {
        Arc::new(auth_events::Sink(self.shared.clone()))
    }
}

impl Shared {
    /// Queues the persisted part of `st` for the next commit; returns the ticket.
    fn save(&self, t: &Trigger, st: &State) -> Result<u64, StoreError> {
        let mut bytes = Vec::new();
        st.to_document().to_writer(&mut bytes).map_err(|e| StoreError::Encoding(e.to_string()))?;
        self.journal.save_cursor(&cursor_name(&t.def.name), Some(bytes))
    }

    /// Runs `t`'s function with `args` as system. Returns `false` only when the server is
    /// stopping before the function could start (the event then stays unhandled). A failure is
    /// logged with the event id and counted: the trigger goes on.
    async fn run_function(&self, t: &Trigger, args: Vec<Bson>, event_id: Option<&str>) -> bool {
        let name = &t.def.name;
        let env = CallEnv { request_id: Some(format!("trigger {name}{}", event_id.map(|e| format!(" event {e}")).unwrap_or_default())), ..CallEnv::system() };
        let mut backoff = Duration::from_millis(5);
        let outcome = loop {
            match self.functions.call(&t.def.function, args.clone(), env.clone()).await {
                Err(FunctionError::Busy) => {
                    // Every runtime is taken: not the function's fault, so wait and try again.
                    let mut shutdown = self.shutdown.subscribe();
                    if *shutdown.borrow_and_update() {
                        return false;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => return false,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                other => break other,
            }
        };
        let mut st = t.lock();
        st.handled += 1;
        if let Err(e) = outcome {
            st.failed += 1;
            tracing::error!(trigger = %name, function = %t.def.function, event = event_id.unwrap_or("-"), "trigger function failed: {e}");
            st.last_error = Some(LastError { message: e.to_string(), event_id: event_id.map(str::to_string), at: iso(self.clock.now() as i64) });
        }
        true
    }

    fn view(&self, t: &Trigger, head: u64) -> TriggerView {
        let st = t.lock();
        let (position, pending_events) = match (&t.def.kind, &st.progress) {
            (TriggerKind::Database(_), Some(p)) => (Some(p.position), Some(head.saturating_sub(p.position))),
            _ => (None, None),
        };
        let (last_run, next_run) = match &t.def.kind {
            TriggerKind::Scheduled(s) => {
                let from = st.last_run.unwrap_or(self.clock.now() as i64);
                (st.last_run.map(iso), st.enabled.then(|| s.schedule.next_after(from)).flatten().map(iso))
            }
            _ => (None, None),
        };
        let state = match (st.enabled, &st.suspended) {
            (_, Some(_)) => "suspended",
            (true, None) => "enabled",
            (false, None) => "disabled",
        };
        TriggerView {
            name: t.def.name.clone(),
            kind: t.kind_name(),
            function_name: t.def.function.clone(),
            enabled: st.enabled && st.suspended.is_none(),
            state,
            suspended_reason: st.suspended.clone(),
            position,
            pending_events,
            last_run,
            next_run,
            handled: st.handled,
            failed: st.failed,
            last_error: st.last_error.clone(),
        }
    }
}

/// Seconds since the epoch as ISO 8601.
fn iso(secs: i64) -> String {
    bson::DateTime::from_millis(secs.saturating_mul(1000)).try_to_rfc3339_string().unwrap_or_default()
}
