//! Session persistence (protocol §9.1): a flat string map behind the [`Storage`] trait, with
//! realm-web's key names so sessions saved by realm-web (browser `localStorage`) are picked up.

use std::cell::RefCell;

/// A synchronous string → string store (`localStorage`, memory, a file, a JS object).
pub trait Storage {
    /// The value stored under `key`.
    fn get(&self, key: &str) -> Option<String>;
    /// Stores `value` under `key` (best effort: a full store keeps the session in memory only).
    fn set(&self, key: &str, value: &str);
    /// Removes `key`.
    fn remove(&self, key: &str);
}

/// An in-memory store (the Node default, like realm-web's): a handful of keys per user, one
/// store for every App of the process.
#[derive(Debug, Default)]
pub struct MemoryStorage(RefCell<Vec<(String, String)>>);

// Kept sorted by key and searched by halves: many Apps or users in one process put thousands of
// keys here, and a linear search made every login cost O(keys) (3,000 Apps: 475 µs per login
// instead of 156); a hash or B-tree map would cost ~5-10 KB of wasm for the same.
impl MemoryStorage {
    fn find(entries: &[(String, String)], key: &str) -> Result<usize, usize> {
        entries.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }
}

impl Storage for MemoryStorage {
    fn get(&self, key: &str) -> Option<String> {
        let entries = self.0.borrow();
        Self::find(&entries, key).ok().map(|at| entries[at].1.clone())
    }
    fn set(&self, key: &str, value: &str) {
        let mut entries = self.0.borrow_mut();
        match Self::find(&entries, key) {
            Ok(at) => value.clone_into(&mut entries[at].1),
            Err(at) => entries.insert(at, (key.to_owned(), value.to_owned())),
        }
    }
    fn remove(&self, key: &str) {
        let mut entries = self.0.borrow_mut();
        if let Ok(at) = Self::find(&entries, key) {
            entries.remove(at);
        }
    }
}

/// Key names of one app: `<root>app(<id>):…` with root `realm-web:` in browsers and empty in Node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Keys {
    app: String,
}

impl Keys {
    pub(crate) fn new(root: &str, app_id: &str) -> Keys {
        Keys { app: format!("{root}app({app_id}):") }
    }

    /// The JSON array of user ids, most recent first.
    pub(crate) fn user_ids(&self) -> String {
        format!("{}userIds", self.app)
    }

    /// The device id of the last login.
    pub(crate) fn device_id(&self) -> String {
        format!("{}deviceId", self.app)
    }

    /// One field (`accessToken`, `refreshToken`, `providerType`, `profile`) of a user.
    pub(crate) fn user(&self, user_id: &str, field: &str) -> String {
        format!("{}user({user_id}):{field}", self.app)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_web_key_names() {
        let k = Keys::new("realm-web:", "my-app");
        assert_eq!(k.user_ids(), "realm-web:app(my-app):userIds");
        assert_eq!(k.device_id(), "realm-web:app(my-app):deviceId");
        assert_eq!(k.user("u1", "refreshToken"), "realm-web:app(my-app):user(u1):refreshToken");
        assert_eq!(Keys::new("", "a").user("u", "profile"), "app(a):user(u):profile");
    }

    #[test]
    fn memory_storage() {
        let s = MemoryStorage::default();
        assert_eq!(s.get("k"), None);
        s.set("k", "v");
        assert_eq!(s.get("k").as_deref(), Some("v"));
        s.remove("k");
        assert_eq!(s.get("k"), None);
    }

    #[test]
    fn memory_storage_with_many_keys_in_any_order() {
        let s = MemoryStorage::default();
        // 1,000 keys in a scrambled order (7 is coprime with 1,000), then every one overwritten.
        let key = |i: usize| format!("app(a{}):user(u):accessToken", i * 7 % 1000);
        for i in 0..1000 {
            s.set(&key(i), "first");
        }
        for i in 0..1000 {
            s.set(&key(i), &i.to_string());
        }
        for i in (0..1000).step_by(2) {
            s.remove(&key(i));
        }
        for i in 0..1000 {
            let expected = (i % 2 == 1).then(|| i.to_string());
            assert_eq!(s.get(&key(i)), expected, "key {}", key(i));
        }
        assert_eq!(s.0.borrow().len(), 500);
    }
}
