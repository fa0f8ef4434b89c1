//! Single-flight: concurrent callers of the same operation share one run of it (used for the
//! location lookup and for token refreshes).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

struct Slot<T> {
    value: RefCell<Option<T>>,
    finished: Cell<bool>,
    wakers: RefCell<Vec<Waker>>,
}

/// Shares one in-flight run of an async operation between concurrent callers.
pub(crate) struct SingleFlight<T> {
    current: RefCell<Option<Rc<Slot<T>>>>,
}

impl<T> Default for SingleFlight<T> {
    fn default() -> Self {
        SingleFlight {
            current: RefCell::new(None),
        }
    }
}

struct Wait<T>(Rc<Slot<T>>);

impl<T: Clone> Future for Wait<T> {
    type Output = Option<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(v) = self.0.value.borrow().as_ref() {
            return Poll::Ready(Some(v.clone()));
        }
        if self.0.finished.get() {
            return Poll::Ready(None);
        }
        self.0.wakers.borrow_mut().push(cx.waker().clone());
        Poll::Pending
    }
}

/// Clears the flight and wakes the waiters when the leader finishes or is dropped.
struct Finish<'a, T> {
    flight: &'a SingleFlight<T>,
    slot: Rc<Slot<T>>,
}

impl<T> Drop for Finish<'_, T> {
    fn drop(&mut self) {
        self.slot.finished.set(true);
        let mut current = self.flight.current.borrow_mut();
        if current.as_ref().is_some_and(|c| Rc::ptr_eq(c, &self.slot)) {
            *current = None;
        }
        drop(current);
        let wakers = std::mem::take(&mut *self.slot.wakers.borrow_mut());
        for w in wakers {
            w.wake();
        }
    }
}

impl<T: Clone> SingleFlight<T> {
    /// Runs `make()` unless a run is already in flight, in which case its result is shared.
    pub(crate) async fn run<Fut: Future<Output = T>>(&self, make: impl FnOnce() -> Fut) -> T {
        loop {
            let current = self.current.borrow().clone();
            match current {
                Some(slot) => {
                    if let Some(v) = Wait(slot).await {
                        return v;
                    }
                    // The leader was dropped before finishing: try again.
                }
                None => break,
            }
        }
        let slot = Rc::new(Slot {
            value: RefCell::new(None),
            finished: Cell::new(false),
            wakers: RefCell::new(Vec::new()),
        });
        *self.current.borrow_mut() = Some(slot.clone());
        let finish = Finish { flight: self, slot };
        let value = make().await;
        *finish.slot.value.borrow_mut() = Some(value.clone());
        drop(finish);
        value
    }
}
