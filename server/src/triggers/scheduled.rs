//! Scheduled triggers: run the function (no arguments) at each time the CRON schedule matches, in
//! UTC, by the server's clock (the test clock under `--test-clock`).
//!
//! The scheduled time of the last run is saved durably after each run. Runs that fell due while
//! the server was down (or the trigger disabled) are caught up in order at the next start, the
//! most recent `MAX_CATCHUP` of them; with `skip_catchup_events` they are skipped. A run in
//! progress at a crash runs again (it is not recorded yet).

use super::{Shared, Trigger};
use crate::config::{ScheduledTrigger, TriggerKind};
use std::sync::Arc;

/// Most missed runs caught up at once (the older ones are skipped, with a warning).
pub const MAX_CATCHUP: usize = 1000;

/// Occurrences of `cfg`'s schedule after `last` and at or before `now`, oldest first, at most
/// `MAX_CATCHUP` (the newest ones), and how many older ones were left out.
fn due(cfg: &ScheduledTrigger, last: i64, now: i64) -> (Vec<i64>, usize) {
    let mut times = Vec::new();
    let mut left_out = 0;
    let mut t = last;
    while let Some(next) = cfg.schedule.next_after(t).filter(|n| *n <= now) {
        times.push(next);
        if times.len() > 2 * MAX_CATCHUP {
            left_out += times.len() - MAX_CATCHUP;
            times.drain(..times.len() - MAX_CATCHUP);
        }
        t = next;
    }
    if times.len() > MAX_CATCHUP {
        left_out += times.len() - MAX_CATCHUP;
        times.drain(..times.len() - MAX_CATCHUP);
    }
    (times, left_out)
}

/// The worker of one scheduled trigger.
pub(super) async fn run(shared: Arc<Shared>, t: Arc<Trigger>) {
    let TriggerKind::Scheduled(cfg) = &t.def.kind else { return };
    let mut control = t.control.subscribe();
    let mut shutdown = shared.shutdown.subscribe();
    // At start and when enabled again: runs missed meanwhile are caught up or skipped.
    let mut fresh = true;
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        control.borrow_and_update();
        let now = shared.clock.now() as i64;
        let (enabled, last) = {
            let st = t.lock();
            (st.enabled, st.last_run)
        };
        if !enabled {
            fresh = true;
            wait(&shared, &mut control, &mut shutdown, None).await;
            continue;
        }
        let last = match last {
            Some(last) if !(fresh && cfg.skip_catchup_events) => last,
            _ => {
                // First start (nothing is owed), or missed runs are to be skipped.
                if let Err(e) = record(&shared, &t, now).await {
                    tracing::error!(trigger = %t.def.name, "cannot record the trigger's last run: {e}");
                }
                now
            }
        };
        fresh = false;
        let (mut times, left_out) = due(cfg, last, now);
        if left_out > 0 {
            tracing::warn!(trigger = %t.def.name, "{left_out} missed runs skipped: only the latest {MAX_CATCHUP} are caught up");
        }
        if times.len() > 1 && cfg.skip_catchup_events {
            // A late wake-up (the test clock jumped, the machine slept): only the latest run.
            times.drain(..times.len() - 1);
        }
        for at in times {
            if *shutdown.borrow() || control.has_changed().unwrap_or(true) {
                break;
            }
            if !shared.run_function(&t, Vec::new(), None).await {
                return;
            }
            if let Err(e) = record(&shared, &t, at).await {
                tracing::error!(trigger = %t.def.name, "cannot record the trigger's last run: {e}");
            }
        }
        if control.has_changed().unwrap_or(true) {
            continue;
        }
        let last = t.lock().last_run.unwrap_or(now);
        let next = cfg.schedule.next_after(last);
        if next.is_some_and(|n| n <= shared.clock.now() as i64) {
            continue;
        }
        // Every run due before the next one is done.
        t.settled.send_replace(next.map_or(i64::MAX, |n| n - 1));
        wait(&shared, &mut control, &mut shutdown, next).await;
    }
}

/// Saves `at` as the last run, durably.
async fn record(shared: &Shared, t: &Trigger, at: i64) -> Result<(), crate::store::StoreError> {
    let ticket = {
        let mut st = t.lock();
        st.last_run = Some(st.last_run.map_or(at, |l| l.max(at)));
        shared.save(t, &st)?
    };
    crate::store::wait_durable(shared.store.as_ref(), ticket).await
}

/// Waits until the clock reaches `until` (reading it again at least once a minute, in case the
/// system clock was changed), the trigger is enabled or disabled, or the server stops.
async fn wait(shared: &Shared, control: &mut tokio::sync::watch::Receiver<u64>, shutdown: &mut tokio::sync::watch::Receiver<bool>, until: Option<i64>) {
    let sleep = async {
        match until {
            Some(at) => {
                let at = u64::try_from(at).unwrap_or(0).min(shared.clock.now().saturating_add(60));
                shared.clock.sleep_until(at).await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = sleep => {}
        _ = control.changed() => {}
        _ = shutdown.changed() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Schedule;

    #[test]
    fn due_runs_are_the_matches_since_the_last_run_capped() {
        let cfg = ScheduledTrigger { schedule: Schedule::parse("* * * * *").expect("cron"), skip_catchup_events: false };
        let t0 = 1_704_067_200; // a whole minute
        assert_eq!(due(&cfg, t0, t0 + 59), (vec![], 0));
        assert_eq!(due(&cfg, t0, t0 + 60), (vec![t0 + 60], 0));
        assert_eq!(due(&cfg, t0 + 30, t0 + 185), (vec![t0 + 60, t0 + 120, t0 + 180], 0));
        let (times, left_out) = due(&cfg, t0, t0 + 60 * 5000);
        assert_eq!((times.len(), left_out), (MAX_CATCHUP, 4000));
        assert_eq!(times.last(), Some(&(t0 + 60 * 5000)));
    }
}
