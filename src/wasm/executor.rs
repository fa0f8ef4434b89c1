//! Runs the SDK's futures as JS promises, woken by promise jobs.
//!
//! wasm-bindgen-futures' executor schedules its wake-ups with the global `queueMicrotask`, looked
//! up at every call; test tools that fake timers (Jest's `useFakeTimers()`, `@sinonjs/fake-timers`
//! with `queueMicrotask` in `toFake`) replace that global and keep the callbacks until the test
//! advances the fake clock, so every SDK call hung under them. Here a wake-up is a `then` on an
//! already resolved native promise: a promise job, which no timer fake can intercept, running in
//! the same microtask queue as before. `JsFuture` is executor-agnostic (it wakes the `Waker` it was
//! polled with), so it keeps working on top of this.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, RawWaker, RawWakerVTable, Waker};

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use crate::transport::LocalBoxFuture;

struct Task {
    /// `None` once the future has completed.
    future: RefCell<Option<LocalBoxFuture<'static, ()>>>,
    /// In the run queue already (a second wake before the run adds nothing).
    queued: Cell<bool>,
}

thread_local! {
    static QUEUE: RefCell<VecDeque<Rc<Task>>> = const { RefCell::new(VecDeque::new()) };
    /// A promise job that runs the queue is pending.
    static SCHEDULED: Cell<bool> = const { Cell::new(false) };
    static RESOLVED: Promise = Promise::resolve(&JsValue::UNDEFINED);
    static RUN: Closure<dyn FnMut(JsValue)> = Closure::new(|_: JsValue| run_queue());
}

/// Resolves or rejects the returned promise with the future's outcome. The future is first polled
/// in a promise job, not during this call (as with `wasm_bindgen_futures::future_to_promise`).
pub(crate) fn future_to_promise(future: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    let mut settle = None;
    let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    if let Some((resolve, reject)) = settle {
        spawn(Box::pin(async move {
            let _ = match future.await {
                Ok(value) => resolve.call1(&JsValue::UNDEFINED, &value),
                Err(error) => reject.call1(&JsValue::UNDEFINED, &error),
            };
        }));
    }
    promise
}

fn spawn(future: LocalBoxFuture<'static, ()>) {
    schedule(Rc::new(Task { future: RefCell::new(Some(future)), queued: Cell::new(false) }));
}

fn schedule(task: Rc<Task>) {
    if task.queued.replace(true) {
        return;
    }
    QUEUE.with(|q| q.borrow_mut().push_back(task));
    if !SCHEDULED.with(|s| s.replace(true)) {
        RESOLVED.with(|resolved| RUN.with(|run| drop(resolved.then(run))));
    }
}

/// Polls the tasks queued before this job; tasks woken meanwhile run in the next one, so a task
/// that wakes itself cannot starve the event loop.
fn run_queue() {
    SCHEDULED.with(|s| s.set(false));
    let pending = QUEUE.with(|q| q.borrow().len());
    for _ in 0..pending {
        let Some(task) = QUEUE.with(|q| q.borrow_mut().pop_front()) else { break };
        task.queued.set(false);
        let waker = waker(&task);
        let mut slot = task.future.borrow_mut();
        if let Some(future) = slot.as_mut() {
            if future.as_mut().poll(&mut Context::from_waker(&waker)).is_ready() {
                *slot = None;
            }
        }
    }
}

// A `Waker` is an `Rc<Task>` behind a raw pointer: the module is single-threaded (no `atomics`
// target feature), so no waker ever crosses a thread.
const VTABLE: RawWakerVTable = RawWakerVTable::new(clone_raw, wake_raw, wake_by_ref_raw, drop_raw);

fn waker(task: &Rc<Task>) -> Waker {
    let raw = RawWaker::new(Rc::into_raw(task.clone()).cast(), &VTABLE);
    // SAFETY: the vtable functions below treat the pointer as the `Rc<Task>` it was made from.
    unsafe { Waker::from_raw(raw) }
}

unsafe fn clone_raw(ptr: *const ()) -> RawWaker {
    // SAFETY: `ptr` came from `Rc::into_raw` and the waker being cloned still owns its count.
    unsafe { Rc::increment_strong_count(ptr.cast::<Task>()) };
    RawWaker::new(ptr, &VTABLE)
}

unsafe fn wake_raw(ptr: *const ()) {
    // SAFETY: consumes the waker's own count.
    schedule(unsafe { Rc::from_raw(ptr.cast::<Task>()) });
}

unsafe fn wake_by_ref_raw(ptr: *const ()) {
    // SAFETY: the count stays with the waker; the task gets its own.
    unsafe { Rc::increment_strong_count(ptr.cast::<Task>()) };
    schedule(unsafe { Rc::from_raw(ptr.cast::<Task>()) });
}

unsafe fn drop_raw(ptr: *const ()) {
    // SAFETY: releases the waker's own count.
    drop(unsafe { Rc::from_raw(ptr.cast::<Task>()) });
}
