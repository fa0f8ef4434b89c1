//! Change listeners of apps and users (`addListener` / `removeListener`): callbacks run after
//! a login, logout, switch, removal or token refresh.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

/// A listener callback; the tag lets the JS layer find it again by function identity.
struct Entry {
    tag: Rc<dyn Any>,
    callback: Rc<dyn Fn()>,
}

/// A list of listeners.
#[derive(Default)]
pub struct Listeners(RefCell<Vec<Entry>>);

impl Listeners {
    /// Adds a listener identified by `tag`.
    pub fn add(&self, tag: Rc<dyn Any>, callback: Rc<dyn Fn()>) {
        self.0.borrow_mut().push(Entry { tag, callback });
    }

    /// Removes the listeners whose tag matches.
    pub fn remove_where(&self, matches: impl Fn(&dyn Any) -> bool) {
        self.0.borrow_mut().retain(|e| !matches(e.tag.as_ref()));
    }

    /// Removes every listener.
    pub fn clear(&self) {
        self.0.borrow_mut().clear();
    }

    /// Calls every listener; a listener may add or remove listeners while this runs.
    pub(crate) fn emit(&self) {
        let callbacks: Vec<Rc<dyn Fn()>> = self.0.borrow().iter().map(|e| e.callback.clone()).collect();
        for callback in callbacks {
            callback();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn add_emit_remove() {
        let l = Rc::new(Listeners::default());
        let hits = Rc::new(Cell::new(0));
        let h = hits.clone();
        l.add(Rc::new(1u32), Rc::new(move || h.set(h.get() + 1)));
        let l2 = l.clone();
        // A listener that removes itself while being called.
        l.add(Rc::new(2u32), Rc::new(move || l2.remove_where(|t| t.downcast_ref::<u32>() == Some(&2))));
        l.emit();
        l.emit();
        assert_eq!(hits.get(), 2);
        l.remove_where(|t| t.downcast_ref::<u32>() == Some(&1));
        l.emit();
        assert_eq!(hits.get(), 2);
    }
}
