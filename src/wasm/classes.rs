//! The exported JS classes (realm-web 2.x names and shapes): thin wrappers around the core
//! types. Async methods take `&self`, clone what they need and return a `Promise`; no `RefCell`
//! borrow is held across an `.await`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

use super::convert::{to_document, to_js, to_optional_document, to_value};
use super::errors::to_js_error;
use super::fetch::FetchTransport;
use crate::ejson::Value;
use crate::error::{Error, Result};
use crate::mongo::{CountOptions, FindOneOptions, FindOptions, UpdateOptions};
use crate::{app, credentials, mongo, user};

thread_local! {
    /// `App.getApp(id)` instances.
    static APPS: RefCell<HashMap<String, JsValue>> = RefCell::new(HashMap::new());
    /// One JS `User` object per core user, so `app.currentUser === user`.
    static USERS: RefCell<HashMap<usize, JsValue>> = RefCell::new(HashMap::new());
}

/// Runs a core future as a JS promise; errors become JS errors (see `errors`).
fn promise<F>(future: F) -> Promise
where
    F: Future<Output = Result<JsValue>> + 'static,
{
    future_to_promise(async move { future.await.map_err(to_js_error) })
}

fn rejected(err: Error) -> Promise {
    Promise::reject(&to_js_error(err))
}

fn get(target: &JsValue, key: &str) -> JsValue {
    if target.is_object() {
        Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

fn optional(target: &JsValue, key: &str) -> Result<Option<Value>> {
    let v = get(target, key);
    if v.is_undefined() {
        Ok(None)
    } else {
        to_value(&v).map(Some)
    }
}

fn user_to_js(user: &user::User) -> JsValue {
    let key = Rc::as_ptr(&user.0) as usize;
    USERS.with(|users| {
        users
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| JsValue::from(User { inner: user.clone() }))
            .clone()
    })
}

fn device_info() -> app::DeviceInfo {
    let global = js_sys::global();
    let process = get(&global, "process");
    let release_name = get(&get(&process, "release"), "name").as_string();
    let node_version = get(&get(&process, "versions"), "node").as_string();
    match (release_name, node_version) {
        (Some(name), Some(version)) => app::DeviceInfo { platform: name, platform_version: version },
        _ => app::DeviceInfo { platform: "web".to_owned(), platform_version: "0.0.0".to_owned() },
    }
}

fn parse_config(id_or_config: &JsValue) -> Result<(app::AppConfig, Option<Function>)> {
    if let Some(id) = id_or_config.as_string() {
        let mut config = app::AppConfig::new(id);
        config.device = device_info();
        return Ok((config, None));
    }
    if !id_or_config.is_object() {
        return Err(Error::InvalidArgument(
            "Missing an Atlas App Services app-id: pass new App(\"<app id>\") or new App({ id, baseUrl })".to_owned(),
        ));
    }
    let id = get(id_or_config, "id").as_string().unwrap_or_default();
    let mut config = app::AppConfig::new(id);
    config.device = device_info();
    let base_url = get(id_or_config, "baseUrl");
    if let Some(url) = base_url.as_string() {
        config.base_url = url;
    } else if !base_url.is_undefined() {
        return Err(Error::InvalidArgument("App config `baseUrl` must be a string URL".to_owned()));
    }
    let timeout = get(id_or_config, "timeout");
    if let Some(ms) = timeout.as_f64() {
        if !(ms.is_finite() && ms >= 0.0) {
            return Err(Error::InvalidArgument("App config `timeout` must be a number of milliseconds".to_owned()));
        }
        config.timeout_ms = Some(ms.min(f64::from(u32::MAX)) as u32);
    } else if !timeout.is_undefined() {
        return Err(Error::InvalidArgument("App config `timeout` must be a number of milliseconds".to_owned()));
    }
    config.skip_location_request = get(id_or_config, "skipLocationRequest").as_bool().unwrap_or(false);
    let fetch = get(id_or_config, "fetch");
    let fetch = if fetch.is_undefined() || fetch.is_null() {
        None
    } else {
        Some(fetch.dyn_into::<Function>().map_err(|_| {
            Error::InvalidArgument("App config `fetch` must be a fetch-compatible function".to_owned())
        })?)
    };
    Ok((config, fetch))
}

/// An Atlas App Services app.
#[wasm_bindgen(js_name = App)]
pub struct JsApp {
    inner: app::App,
}

#[wasm_bindgen(js_class = App)]
impl JsApp {
    /// Creates an app from its id or a configuration `{ id, baseUrl?, timeout?, fetch?, skipLocationRequest? }`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = "idOrConfig", unchecked_param_type = "string | AppConfiguration")] id_or_config: JsValue,
    ) -> std::result::Result<JsApp, JsValue> {
        let (config, fetch) = parse_config(&id_or_config).map_err(to_js_error)?;
        let inner = app::App::new(config, Rc::new(FetchTransport { fetch })).map_err(to_js_error)?;
        Ok(JsApp { inner })
    }

    /// The shared app instance for `id` (created on first use).
    #[wasm_bindgen(js_name = getApp, unchecked_return_type = "App")]
    pub fn get_app(id: String) -> std::result::Result<JsValue, JsValue> {
        if let Some(app) = APPS.with(|apps| apps.borrow().get(&id).cloned()) {
            return Ok(app);
        }
        let app = JsValue::from(JsApp::new(JsValue::from_str(&id))?);
        APPS.with(|apps| apps.borrow_mut().insert(id, app.clone()));
        Ok(app)
    }

    /// The app id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_owned()
    }

    /// The most recently logged-in active user, or null.
    #[wasm_bindgen(getter = currentUser, unchecked_return_type = "User | null")]
    pub fn current_user(&self) -> JsValue {
        self.inner.current_user().map(|u| user_to_js(&u)).unwrap_or(JsValue::NULL)
    }

    /// Every user of this app (active or logged out), keyed by user id.
    #[wasm_bindgen(getter = allUsers, unchecked_return_type = "Record<string, User>")]
    pub fn all_users(&self) -> JsValue {
        let object = Object::new();
        for u in self.inner.all_users() {
            let _ = Reflect::set(&object, &JsValue::from_str(u.id()), &user_to_js(&u));
        }
        object.into()
    }

    /// Email/password registration.
    #[wasm_bindgen(getter = emailPasswordAuth)]
    pub fn email_password_auth(&self) -> EmailPasswordAuth {
        EmailPasswordAuth { app: self.inner.clone() }
    }

    /// Logs in and makes the user the current user.
    #[wasm_bindgen(js_name = logIn, unchecked_return_type = "Promise<User>")]
    pub fn log_in(&self, credentials: &Credentials) -> Promise {
        let app = self.inner.clone();
        let credentials = credentials.inner.clone();
        promise(async move {
            let user = app.log_in(&credentials).await?;
            Ok(user_to_js(&user))
        })
    }

    /// Makes `user` the current user.
    #[wasm_bindgen(js_name = switchUser)]
    pub fn switch_user(&self, user: &User) -> std::result::Result<(), JsValue> {
        self.inner.switch_user(&user.inner).map_err(to_js_error)
    }

    /// Logs `user` out and removes it from the app.
    #[wasm_bindgen(js_name = removeUser, unchecked_return_type = "Promise<void>")]
    pub fn remove_user(&self, user: &User) -> Promise {
        let app = self.inner.clone();
        let user = user.inner.clone();
        promise(async move {
            app.remove_user(&user).await?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// What to log in with.
#[wasm_bindgen]
pub struct Credentials {
    inner: credentials::Credentials,
}

#[wasm_bindgen]
impl Credentials {
    /// Anonymous credentials (an active anonymous user of the app is reused).
    pub fn anonymous() -> Credentials {
        Credentials { inner: credentials::Credentials::anonymous() }
    }

    /// Email/password credentials.
    #[wasm_bindgen(js_name = emailPassword)]
    pub fn email_password(email: String, password: String) -> Credentials {
        Credentials { inner: credentials::Credentials::email_password(&email, &password) }
    }

    /// Provider name, e.g. "local-userpass".
    #[wasm_bindgen(getter = providerName)]
    pub fn provider_name(&self) -> String {
        self.inner.provider_name.clone()
    }

    /// Provider type, e.g. "local-userpass".
    #[wasm_bindgen(getter = providerType)]
    pub fn provider_type(&self) -> String {
        self.inner.provider_type.clone()
    }

    /// The fields sent to the provider.
    #[wasm_bindgen(getter, unchecked_return_type = "Record<string, unknown>")]
    pub fn payload(&self) -> JsValue {
        to_js(&Value::Document(self.inner.payload.clone()))
    }
}

/// `app.emailPasswordAuth`.
#[wasm_bindgen]
pub struct EmailPasswordAuth {
    app: app::App,
}

#[wasm_bindgen]
impl EmailPasswordAuth {
    /// Registers a new email/password user (the default server app confirms automatically).
    #[wasm_bindgen(js_name = registerUser, unchecked_return_type = "Promise<void>")]
    pub fn register_user(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RegisterUserDetails")] details: JsValue,
    ) -> Promise {
        let email = get(&details, "email").as_string();
        let password = get(&details, "password").as_string();
        let (Some(email), Some(password)) = (email, password) else {
            return rejected(Error::InvalidArgument(
                "registerUser expects { email, password } with two strings".to_owned(),
            ));
        };
        let app = self.app.clone();
        promise(async move {
            app.register_user(&email, &password).await?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// A user of an app.
#[wasm_bindgen]
pub struct User {
    inner: user::User,
}

fn nullable(s: Option<String>) -> JsValue {
    s.map(|s| JsValue::from_str(&s)).unwrap_or(JsValue::NULL)
}

#[wasm_bindgen]
impl User {
    /// The user id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_owned()
    }

    /// The access token (a JWT), or null when logged out.
    #[wasm_bindgen(getter = accessToken, unchecked_return_type = "string | null")]
    pub fn access_token(&self) -> JsValue {
        nullable(self.inner.access_token())
    }

    /// The refresh token, or null when logged out.
    #[wasm_bindgen(getter = refreshToken, unchecked_return_type = "string | null")]
    pub fn refresh_token(&self) -> JsValue {
        nullable(self.inner.refresh_token())
    }

    /// The provider type the user logged in with, e.g. "local-userpass".
    #[wasm_bindgen(getter = providerType)]
    pub fn provider_type(&self) -> String {
        self.inner.provider_type().to_owned()
    }

    /// Profile data (email, name, …) as fetched at login.
    #[wasm_bindgen(getter, unchecked_return_type = "UserProfile")]
    pub fn profile(&self) -> std::result::Result<JsValue, JsValue> {
        match self.inner.profile() {
            Some(p) => Ok(to_js(&Value::Document(p.data))),
            None => Err(js_sys::Error::new("A profile was never fetched for this user").into()),
        }
    }

    /// True while the user is logged in.
    #[wasm_bindgen(getter = isLoggedIn)]
    pub fn is_logged_in(&self) -> bool {
        self.inner.is_logged_in()
    }

    /// "active", "logged-out" or "removed".
    #[wasm_bindgen(getter, unchecked_return_type = "UserState")]
    pub fn state(&self) -> String {
        self.inner.state().as_str().to_owned()
    }

    /// Custom user data from the current access token (read-only; `{}` if none). Stale until
    /// `refreshCustomData()`.
    #[wasm_bindgen(getter = customData, unchecked_return_type = "Record<string, unknown>")]
    pub fn custom_data(&self) -> std::result::Result<JsValue, JsValue> {
        self.inner.custom_data().map(|v| to_js(&v)).map_err(|e| match e {
            Error::NotLoggedIn => js_sys::Error::new(
                "Cannot read custom data without an access token: the user is logged out; log in again with app.logIn(credentials)",
            )
            .into(),
            other => to_js_error(other),
        })
    }

    /// Gets a fresh access token and returns its custom user data.
    #[wasm_bindgen(js_name = refreshCustomData, unchecked_return_type = "Promise<Record<string, unknown>>")]
    pub fn refresh_custom_data(&self) -> Promise {
        let user = self.inner.clone();
        promise(async move { Ok(to_js(&user.refresh_custom_data().await?)) })
    }

    /// Gets a fresh access token.
    #[wasm_bindgen(js_name = refreshAccessToken, unchecked_return_type = "Promise<void>")]
    pub fn refresh_access_token(&self) -> Promise {
        let user = self.inner.clone();
        promise(async move {
            user.refresh_access_token().await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Logs out (revokes the refresh token); the user stays in `app.allUsers`.
    #[wasm_bindgen(js_name = logOut, unchecked_return_type = "Promise<void>")]
    pub fn log_out(&self) -> Promise {
        let user = self.inner.clone();
        promise(async move {
            user.log_out().await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// A MongoDB service client, e.g. `user.mongoClient("mongodb-atlas")`.
    #[wasm_bindgen(js_name = mongoClient)]
    pub fn mongo_client(&self, #[wasm_bindgen(js_name = "serviceName")] service_name: String) -> MongoDBService {
        MongoDBService { inner: self.inner.mongo_client(&service_name) }
    }

    /// A plain snapshot: `{ id, accessToken, refreshToken, profile, state, customData, providerType }`.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "Record<string, unknown>")]
    pub fn to_json(&self) -> JsValue {
        let o = Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
        };
        set("id", JsValue::from_str(self.inner.id()));
        set("accessToken", self.access_token());
        set("refreshToken", self.refresh_token());
        set("profile", self.profile().unwrap_or(JsValue::UNDEFINED));
        set("state", JsValue::from_str(self.inner.state().as_str()));
        set("customData", self.custom_data().unwrap_or_else(|_| Object::new().into()));
        set("providerType", JsValue::from_str(self.inner.provider_type()));
        o.into()
    }
}

/// `user.mongoClient(serviceName)`.
#[wasm_bindgen]
pub struct MongoDBService {
    inner: mongo::MongoDBService,
}

#[wasm_bindgen]
impl MongoDBService {
    /// A database of this service.
    pub fn db(&self, #[wasm_bindgen(js_name = "databaseName")] name: String) -> MongoDBDatabase {
        MongoDBDatabase { inner: self.inner.db(&name) }
    }

    /// The service name.
    #[wasm_bindgen(getter = serviceName)]
    pub fn service_name(&self) -> String {
        self.inner.service_name().to_owned()
    }
}

/// `service.db(name)`.
#[wasm_bindgen]
pub struct MongoDBDatabase {
    inner: mongo::MongoDBDatabase,
}

#[wasm_bindgen]
impl MongoDBDatabase {
    /// A collection of this database.
    pub fn collection(&self, #[wasm_bindgen(js_name = "collectionName")] name: String) -> MongoDBCollection {
        MongoDBCollection { inner: self.inner.collection(&name) }
    }

    /// The database name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }
}

/// `db.collection(name)`: MongoDB operations through the App Services function API.
#[wasm_bindgen]
pub struct MongoDBCollection {
    inner: mongo::MongoDBCollection,
}

/// Converts the arguments synchronously, then runs the call; a conversion error rejects.
fn collection_call<F, Fut>(collection: &mongo::MongoDBCollection, prepare: F) -> Promise
where
    F: FnOnce(mongo::MongoDBCollection) -> Result<Fut>,
    Fut: Future<Output = Result<Value>> + 'static,
{
    match prepare(collection.clone()) {
        Ok(fut) => promise(async move { Ok(to_js(&fut.await?)) }),
        Err(e) => rejected(e),
    }
}

fn update_options(options: &JsValue) -> Result<UpdateOptions> {
    let upsert = get(options, "upsert");
    Ok(UpdateOptions {
        upsert: if upsert.is_undefined() { None } else { Some(upsert.is_truthy()) },
        array_filters: optional(options, "arrayFilters")?,
    })
}

#[wasm_bindgen]
impl MongoDBCollection {
    /// The collection name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }

    /// The database name.
    #[wasm_bindgen(getter = databaseName)]
    pub fn database_name(&self) -> String {
        self.inner.database_name().to_owned()
    }

    /// Documents matching `filter`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Document[]>")]
    pub fn find(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "Filter")] filter: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "FindOptions")] options: JsValue,
    ) -> Promise {
        collection_call(&self.inner, |c| {
            let filter = to_optional_document(&filter, "find() filter")?;
            let options = FindOptions {
                projection: optional(&options, "projection")?,
                sort: optional(&options, "sort")?,
                limit: optional(&options, "limit")?,
            };
            Ok(async move { c.find(filter, options).await })
        })
    }

    /// The first document matching `filter`, or null.
    #[wasm_bindgen(js_name = findOne, unchecked_return_type = "Promise<Document | null>")]
    pub fn find_one(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "Filter")] filter: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "FindOneOptions")] options: JsValue,
    ) -> Promise {
        collection_call(&self.inner, |c| {
            let filter = to_optional_document(&filter, "findOne() filter")?;
            let options = FindOneOptions { projection: optional(&options, "projection")?, sort: optional(&options, "sort")? };
            Ok(async move { c.find_one(filter, options).await })
        })
    }

    /// The number of documents matching `filter`.
    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn count(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "Filter")] filter: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CountOptions")] options: JsValue,
    ) -> Promise {
        collection_call(&self.inner, |c| {
            let filter = to_optional_document(&filter, "count() filter")?;
            let options = CountOptions { limit: optional(&options, "limit")? };
            Ok(async move { c.count(filter, options).await })
        })
    }

    /// Inserts one document; resolves to `{ insertedId }`.
    #[wasm_bindgen(js_name = insertOne, unchecked_return_type = "Promise<InsertOneResult>")]
    pub fn insert_one(&self, #[wasm_bindgen(unchecked_param_type = "Document")] document: JsValue) -> Promise {
        collection_call(&self.inner, |c| {
            let document = to_document(&document, "insertOne() document")?;
            Ok(async move { c.insert_one(document).await })
        })
    }

    /// Inserts documents; resolves to `{ insertedIds }`.
    #[wasm_bindgen(js_name = insertMany, unchecked_return_type = "Promise<InsertManyResult>")]
    pub fn insert_many(&self, #[wasm_bindgen(unchecked_param_type = "Document[]")] documents: JsValue) -> Promise {
        collection_call(&self.inner, |c| {
            let documents = match to_value(&documents)? {
                Value::Array(items) if items.iter().all(|d| matches!(d, Value::Document(_))) => items,
                _ => return Err(Error::InvalidArgument("insertMany() expects an array of documents".to_owned())),
            };
            Ok(async move { c.insert_many(documents).await })
        })
    }

    /// Updates the first match; resolves to `{ matchedCount, modifiedCount, upsertedId? }`.
    #[wasm_bindgen(js_name = updateOne, unchecked_return_type = "Promise<UpdateResult>")]
    pub fn update_one(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Filter")] filter: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Update")] update: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "UpdateOptions")] options: JsValue,
    ) -> Promise {
        collection_call(&self.inner, |c| {
            let filter = to_optional_document(&filter, "updateOne() filter")?.unwrap_or_default();
            let update = to_document(&update, "updateOne() update")?;
            let options = update_options(&options)?;
            Ok(async move { c.update_one(filter, update, options).await })
        })
    }

    /// Updates every match; resolves to `{ matchedCount, modifiedCount, upsertedId? }`.
    #[wasm_bindgen(js_name = updateMany, unchecked_return_type = "Promise<UpdateResult>")]
    pub fn update_many(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Filter")] filter: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Update")] update: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "UpdateOptions")] options: JsValue,
    ) -> Promise {
        collection_call(&self.inner, |c| {
            let filter = to_optional_document(&filter, "updateMany() filter")?.unwrap_or_default();
            let update = to_document(&update, "updateMany() update")?;
            let options = update_options(&options)?;
            Ok(async move { c.update_many(filter, update, options).await })
        })
    }

    /// Deletes the first match; resolves to `{ deletedCount }`.
    #[wasm_bindgen(js_name = deleteOne, unchecked_return_type = "Promise<DeleteResult>")]
    pub fn delete_one(&self, #[wasm_bindgen(unchecked_optional_param_type = "Filter")] filter: JsValue) -> Promise {
        collection_call(&self.inner, |c| {
            let filter = to_optional_document(&filter, "deleteOne() filter")?;
            Ok(async move { c.delete_one(filter).await })
        })
    }

    /// Deletes every match; resolves to `{ deletedCount }`.
    #[wasm_bindgen(js_name = deleteMany, unchecked_return_type = "Promise<DeleteResult>")]
    pub fn delete_many(&self, #[wasm_bindgen(unchecked_optional_param_type = "Filter")] filter: JsValue) -> Promise {
        collection_call(&self.inner, |c| {
            let filter = to_optional_document(&filter, "deleteMany() filter")?;
            Ok(async move { c.delete_many(filter).await })
        })
    }
}
