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

/// An in-memory store (the Node default, like realm-web's). A handful of keys per user: a list
/// (a hash map costs ~5 KB of wasm).
#[derive(Debug, Default)]
pub struct MemoryStorage(RefCell<Vec<(String, String)>>);

impl Storage for MemoryStorage {
    fn get(&self, key: &str) -> Option<String> {
        self.0.borrow().iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
    fn set(&self, key: &str, value: &str) {
        let mut entries = self.0.borrow_mut();
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => value.clone_into(&mut slot.1),
            None => entries.push((key.to_owned(), value.to_owned())),
        }
    }
    fn remove(&self, key: &str) {
        self.0.borrow_mut().retain(|(k, _)| k != key);
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
}
