//! MongoDB service client: service → database → collection, each collection method being a
//! service function call with exactly realm-web's argument names (protocol §7).

mod collection;
mod layout;
pub mod sse;
mod watch;

pub use collection::{
    CountOptions, FindOneAndModifyOptions, FindOneOptions, FindOptions, MongoDBCollection, Reply, UpdateOptions, WatchOptions,
};
pub use watch::ChangeStream;
#[cfg_attr(not(target_arch = "wasm32"), allow(unused_imports))]
pub(crate) use collection::Frame;
#[cfg_attr(not(target_arch = "wasm32"), allow(unused_imports))]
pub(crate) use layout::{layout, Part};

use crate::user::User;

impl User {
    /// A MongoDB service client, e.g. `mongo_client("mongodb-atlas")` (defined here, so that
    /// `user` does not depend on `mongo`).
    pub fn mongo_client(&self, service_name: &str) -> MongoDBService {
        MongoDBService::new(self.clone(), service_name)
    }
}

/// `user.mongoClient(serviceName)`.
#[derive(Debug, Clone)]
pub struct MongoDBService {
    user: User,
    service: String,
}

impl MongoDBService {
    pub(crate) fn new(user: User, service: &str) -> MongoDBService {
        MongoDBService { user, service: service.to_owned() }
    }

    /// The service name.
    pub fn service_name(&self) -> &str {
        &self.service
    }

    /// A database of this service.
    pub fn db(&self, name: &str) -> MongoDBDatabase {
        MongoDBDatabase { user: self.user.clone(), service: self.service.clone(), name: name.to_owned() }
    }
}

/// `service.db(name)`.
#[derive(Debug, Clone)]
pub struct MongoDBDatabase {
    user: User,
    service: String,
    name: String,
}

impl MongoDBDatabase {
    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A collection of this database.
    pub fn collection(&self, name: &str) -> MongoDBCollection {
        MongoDBCollection::new(self.user.clone(), self.service.clone(), self.name.clone(), name.to_owned())
    }
}
