//! The exported `User` and `ApiKeyAuth` classes, and `user.functions` (a Proxy:
//! `user.functions.sum(1, 2)`).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Proxy, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::classes::{
    add_js_listener, get, promise, promise_void, rejected, remove_js_listener, rest_args, string_arg, Credentials, JsApp,
};
use super::convert::to_js;
use super::errors::to_js_error;
use super::mongo::MongoDB;
use crate::ejson::Value;
use crate::error::Error;
use crate::user::{self, ApiKeyCall};

thread_local! {
    /// One JS `User` object per core user, so `app.currentUser === user` (a handful per page: a
    /// list, as hashing costs ~5 KB of wasm). Removed users leave it (see `user_to_js`).
    static USERS: RefCell<Vec<(user::User, JsValue)>> = const { RefCell::new(Vec::new()) };
    /// The `get` trap shared by every `user.functions` Proxy.
    static FUNCTIONS_HANDLER: Object = functions_handler();
}

/// The JS object of a core user (created once per user).
pub(crate) fn user_to_js(user: &user::User) -> JsValue {
    USERS.with(|users| {
        let mut users = users.borrow_mut();
        if let Some((_, js)) = users.iter().find(|(known, _)| Rc::ptr_eq(&known.0, &user.0)) {
            return js.clone();
        }
        // A removed user is never handed out again: dropping its entry lets the garbage collector
        // take both objects once the app's code lets go (a Node process logging in and removing
        // many users would otherwise keep every one of them).
        users.retain(|(known, _)| known.state() != user::UserState::Removed);
        let js = JsValue::from(User { inner: user.clone(), functions: RefCell::new(None), app: RefCell::new(None) });
        users.push((user.clone(), js.clone()));
        js
    })
}

/// `functions.<name>` is `user.callFunction` bound to the user and the name (`callFunction` and
/// `callFunctionStreaming` are the methods of that name, as in realm-web); `then` and symbols are
/// absent, so a Proxy is never mistaken for a promise.
fn functions_handler() -> Object {
    let trap = Closure::<dyn Fn(JsValue, JsValue) -> JsValue>::new(|target: JsValue, key: JsValue| {
        let Some(name) = key.as_string().filter(|k| k != "then") else {
            return JsValue::UNDEFINED;
        };
        let user = get(&target, "user");
        if name == "callFunctionStreaming" {
            return get(&user, "__callFunctionStreamingRest").dyn_into::<Function>().map_or(JsValue::UNDEFINED, |f| f.bind0(&user).into());
        }
        let Ok(call) = get(&user, "callFunction").dyn_into::<Function>() else {
            return JsValue::UNDEFINED;
        };
        if name == "callFunction" {
            call.bind0(&user).into()
        } else {
            call.bind1(&user, &JsValue::from_str(&name)).into()
        }
    });
    let handler = Object::new();
    let _ = Reflect::set(&handler, &"get".into(), &trap.into_js_value());
    handler
}

/// A user of an app.
#[wasm_bindgen]
pub struct User {
    inner: user::User,
    functions: RefCell<Option<JsValue>>,
    app: RefCell<Option<JsValue>>,
}

fn nullable(s: Option<String>) -> JsValue {
    s.map(|s| JsValue::from_str(&s)).unwrap_or(JsValue::NULL)
}

fn no_profile() -> JsValue {
    js_sys::Error::new("A profile was never fetched for this user").into()
}

impl User {
    pub(crate) fn core(&self) -> &user::User {
        &self.inner
    }
}

#[wasm_bindgen]
impl User {
    /// The user id.
    #[wasm_bindgen(getter, unchecked_return_type = "string")]
    pub fn id(&self) -> JsValue {
        JsValue::from_str(self.inner.id())
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
    #[wasm_bindgen(getter = providerType, unchecked_return_type = "string")]
    pub fn provider_type(&self) -> JsValue {
        JsValue::from_str(self.inner.provider_type())
    }

    /// The device id from the access token, or null.
    #[wasm_bindgen(getter = deviceId, unchecked_return_type = "string | null")]
    pub fn device_id(&self) -> JsValue {
        nullable(self.inner.device_id())
    }

    /// Profile data (email, name, …) as last fetched.
    #[wasm_bindgen(getter, unchecked_return_type = "UserProfile")]
    pub fn profile(&self) -> std::result::Result<JsValue, JsValue> {
        match self.inner.profile() {
            Some(p) => Ok(to_js(&Value::Document(p.data))),
            None => Err(no_profile()),
        }
    }

    /// The identities linked to this user.
    #[wasm_bindgen(getter, unchecked_return_type = "UserIdentity[]")]
    pub fn identities(&self) -> std::result::Result<JsValue, JsValue> {
        let profile = self.inner.profile().ok_or_else(no_profile)?;
        let list = Array::new();
        for i in profile.identities {
            let o = Object::new();
            let _ = Reflect::set(&o, &"id".into(), &JsValue::from_str(&i.id));
            let _ = Reflect::set(&o, &"providerType".into(), &JsValue::from_str(&i.provider_type));
            list.push(&o);
        }
        Ok(list.into())
    }

    /// True while the user is logged in.
    #[wasm_bindgen(getter = isLoggedIn)]
    pub fn is_logged_in(&self) -> bool {
        self.inner.is_logged_in()
    }

    /// "active", "logged-out" or "removed".
    #[wasm_bindgen(getter, unchecked_return_type = "UserState")]
    pub fn state(&self) -> JsValue {
        JsValue::from_str(self.inner.state().as_str())
    }

    /// Custom user data from the current access token, EJSON-decoded (ObjectId, Date, Long and
    /// Decimal128 come back typed; `{}` if none). Stale until `refreshCustomData()`.
    #[wasm_bindgen(getter = customData, unchecked_return_type = "Record<string, any>")]
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
    #[wasm_bindgen(js_name = refreshCustomData, unchecked_return_type = "Promise<Record<string, any>>")]
    pub fn refresh_custom_data(&self) -> Promise {
        let user = self.inner.clone();
        promise(async move { Ok(to_js(&user.refresh_custom_data().await?)) })
    }

    /// Fetches the profile again.
    #[wasm_bindgen(js_name = refreshProfile, unchecked_return_type = "Promise<void>")]
    pub fn refresh_profile(&self) -> Promise {
        let user = self.inner.clone();
        promise_void(async move { user.refresh_profile().await.map(|_| ()) })
    }

    /// Gets a fresh access token.
    #[wasm_bindgen(js_name = refreshAccessToken, unchecked_return_type = "Promise<void>")]
    pub fn refresh_access_token(&self) -> Promise {
        let user = self.inner.clone();
        promise_void(async move { user.refresh_access_token().await })
    }

    /// Logs out (revokes the refresh token); the user stays in `app.allUsers`.
    #[wasm_bindgen(js_name = logOut, unchecked_return_type = "Promise<void>")]
    pub fn log_out(&self) -> Promise {
        let user = self.inner.clone();
        promise_void(async move { user.log_out().await })
    }

    /// Links another identity (credentials) to this user.
    #[wasm_bindgen(js_name = linkCredentials, unchecked_return_type = "Promise<void>")]
    pub fn link_credentials(&self, credentials: &Credentials) -> Promise {
        let user = self.inner.clone();
        let credentials = credentials.inner.clone();
        promise_void(async move { user.link_credentials(&credentials).await })
    }

    /// `callFunction(name, ...args)` collects its rest arguments here.
    #[wasm_bindgen(js_name = "__callFunction", skip_typescript)]
    pub fn call_function_with(&self, name: JsValue, args: Array) -> Promise {
        let prepared = string_arg(&name, "callFunction(name, ...args): name")
            .and_then(|name| Ok((name, rest_args(&args)?)));
        let (name, args) = match prepared {
            Ok(p) => p,
            Err(e) => return rejected(e),
        };
        let user = self.inner.clone();
        promise(async move { Ok(to_js(&user.call_function(&name, args, None).await?)) })
    }

    /// `functions.callFunctionStreaming(name, ...args)` collects its rest arguments here: resolves to
    /// an async iterable of the response body's chunks (`Uint8Array`s).
    #[wasm_bindgen(js_name = "__callFunctionStreaming", skip_typescript)]
    pub fn call_function_streaming_with(&self, name: JsValue, args: Array) -> Promise {
        let prepared = string_arg(&name, "callFunctionStreaming(name, ...args): name")
            .and_then(|name| Ok((name, rest_args(&args)?)));
        let (name, args) = match prepared {
            Ok(p) => p,
            Err(e) => return rejected(e),
        };
        let user = self.inner.clone();
        promise(async move {
            let body = user.call_function_streaming(&name, args, None).await?;
            let chunks = JsValue::from(ByteChunks { body });
            super::mongo::install_async_iterator(&chunks);
            Ok(chunks)
        })
    }

    /// Functions by name: `user.functions.sum(1, 2)` calls the function "sum".
    #[wasm_bindgen(getter, unchecked_return_type = "UserFunctions")]
    pub fn functions(&self) -> JsValue {
        if let Some(f) = self.functions.borrow().as_ref() {
            return f.clone();
        }
        let target = Object::new();
        let _ = Reflect::set(&target, &"user".into(), &user_to_js(&self.inner));
        let proxy: JsValue = FUNCTIONS_HANDLER.with(|h| Proxy::new(&target, h)).into();
        *self.functions.borrow_mut() = Some(proxy.clone());
        proxy
    }

    /// The app of the user: an `App` object sharing the state (users, listeners) of the one the user
    /// logged in with (the same object each time for a user, not necessarily that one).
    #[wasm_bindgen(getter, unchecked_return_type = "App")]
    pub fn app(&self) -> JsValue {
        let mut slot = self.app.borrow_mut();
        if slot.is_none() {
            *slot = crate::App::of_user(&self.inner).map(|app| JsApp::of(app).into());
        }
        slot.clone().unwrap_or(JsValue::NULL)
    }

    /// The push client of the push service `serviceName`: `register(token)` / `deregister()`.
    pub fn push(
        &self,
        #[wasm_bindgen(js_name = "serviceName", unchecked_param_type = "string")] service_name: JsValue,
    ) -> std::result::Result<PushClient, JsValue> {
        let service = string_arg(&service_name, "push(serviceName): serviceName").map_err(to_js_error)?;
        Ok(PushClient { user: self.inner.clone(), service })
    }

    /// The user's API keys.
    #[wasm_bindgen(getter = apiKeys)]
    pub fn api_keys(&self) -> ApiKeyAuth {
        ApiKeyAuth { user: self.inner.clone() }
    }

    /// A MongoDB service client, e.g. `user.mongoClient("mongodb-atlas")`.
    #[wasm_bindgen(js_name = mongoClient)]
    pub fn mongo_client(
        &self,
        #[wasm_bindgen(js_name = "serviceName", unchecked_param_type = "string")] service_name: JsValue,
    ) -> std::result::Result<MongoDB, JsValue> {
        let name = string_arg(&service_name, "mongoClient(serviceName): serviceName").map_err(to_js_error)?;
        Ok(MongoDB::new(self.inner.mongo_client(&name)))
    }

    /// Calls `callback` when this user's tokens, profile or state change.
    #[wasm_bindgen(js_name = addListener)]
    pub fn add_listener(
        &self,
        #[wasm_bindgen(unchecked_param_type = "() => void")] callback: JsValue,
    ) -> std::result::Result<(), JsValue> {
        add_js_listener(self.inner.listeners(), callback, "user.addListener(callback)")
    }

    /// Removes a listener added with `addListener`.
    #[wasm_bindgen(js_name = removeListener)]
    pub fn remove_listener(&self, #[wasm_bindgen(unchecked_param_type = "() => void")] callback: JsValue) {
        remove_js_listener(self.inner.listeners(), &callback);
    }

    /// Removes every listener of the user.
    #[wasm_bindgen(js_name = removeAllListeners)]
    pub fn remove_all_listeners(&self) {
        self.inner.listeners().clear();
    }

    /// A plain snapshot: `{ id, accessToken, refreshToken, profile, identities, state, customData, providerType, deviceId }`.
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
        set("identities", self.identities().unwrap_or(JsValue::UNDEFINED));
        set("state", JsValue::from_str(self.inner.state().as_str()));
        set("customData", self.custom_data().unwrap_or_else(|_| Object::new().into()));
        set("providerType", JsValue::from_str(self.inner.provider_type()));
        set("deviceId", self.device_id());
        o.into()
    }
}

/// `user.apiKeys`: the user's API keys (all calls use the refresh token).
#[wasm_bindgen]
pub struct ApiKeyAuth {
    user: user::User,
}

fn key_id(id: &JsValue, method: &str) -> std::result::Result<String, Promise> {
    string_arg(id, &format!("apiKeys.{method}(keyId): keyId")).map_err(rejected)
}

#[wasm_bindgen]
impl ApiKeyAuth {
    /// Creates a key: `{ _id, key, name, disabled }` (the secret `key` is only returned here).
    #[wasm_bindgen(unchecked_return_type = "Promise<ApiKey>")]
    pub fn create(&self, #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue) -> Promise {
        match string_arg(&name, "apiKeys.create(name): name") {
            Ok(name) => self.run(ApiKeyCall::Create(name), true),
            Err(e) => rejected(e),
        }
    }

    /// One key: `{ _id, name, disabled }`.
    #[wasm_bindgen(unchecked_return_type = "Promise<ApiKey>")]
    pub fn fetch(&self, #[wasm_bindgen(js_name = "keyId", unchecked_param_type = "string")] id: JsValue) -> Promise {
        key_id(&id, "fetch").map_or_else(|p| p, |id| self.run(ApiKeyCall::Fetch(id), true))
    }

    /// Every key of the user.
    #[wasm_bindgen(js_name = fetchAll, unchecked_return_type = "Promise<ApiKey[]>")]
    pub fn fetch_all(&self) -> Promise {
        self.run(ApiKeyCall::FetchAll, true)
    }

    /// Deletes a key.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn delete(&self, #[wasm_bindgen(js_name = "keyId", unchecked_param_type = "string")] id: JsValue) -> Promise {
        key_id(&id, "delete").map_or_else(|p| p, |id| self.run(ApiKeyCall::Delete(id), false))
    }

    /// Enables a key.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn enable(&self, #[wasm_bindgen(js_name = "keyId", unchecked_param_type = "string")] id: JsValue) -> Promise {
        key_id(&id, "enable").map_or_else(|p| p, |id| self.run(ApiKeyCall::Enable(id, true), false))
    }

    /// Disables a key.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn disable(&self, #[wasm_bindgen(js_name = "keyId", unchecked_param_type = "string")] id: JsValue) -> Promise {
        key_id(&id, "disable").map_or_else(|p| p, |id| self.run(ApiKeyCall::Enable(id, false), false))
    }
}

impl ApiKeyAuth {
    /// One future for every key method; `answer`: resolve to the answer (else to undefined).
    #[inline(never)]
    fn run(&self, call: ApiKeyCall, answer: bool) -> Promise {
        let user = self.user.clone();
        promise(async move {
            let value = user.api_key_call(call).await?;
            Ok(if answer { to_js(&value) } else { JsValue::UNDEFINED })
        })
    }
}

/// `user.push(serviceName)`: registers this device's token with a push service.
#[wasm_bindgen]
pub struct PushClient {
    user: user::User,
    service: String,
}

#[wasm_bindgen]
impl PushClient {
    /// Registers the device's push `token` (`PUT …/push/providers/<service>/registration`).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn register(&self, #[wasm_bindgen(unchecked_param_type = "string")] token: JsValue) -> Promise {
        match string_arg(&token, "push(serviceName).register(token): token") {
            Ok(token) => self.run(Some(token)),
            Err(e) => rejected(e),
        }
    }

    /// Removes the device's registration.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn deregister(&self) -> Promise {
        self.run(None)
    }
}

impl PushClient {
    fn run(&self, token: Option<String>) -> Promise {
        let (user, service) = (self.user.clone(), self.service.clone());
        promise_void(async move { user.push_registration(&service, token.as_deref()).await })
    }
}

/// What `functions.callFunctionStreaming` resolves to: an async iterator over the response body's
/// chunks; `return()` (leaving a `for await` loop) closes the connection. Not exported by name.
#[wasm_bindgen(js_name = "__ByteChunks", skip_typescript)]
pub struct ByteChunks {
    body: Rc<dyn crate::transport::ByteStream>,
}

#[wasm_bindgen(js_class = "__ByteChunks")]
impl ByteChunks {
    /// The next chunk.
    #[wasm_bindgen(skip_typescript)]
    pub fn next(&self) -> Promise {
        let read = self.body.read();
        promise(async move {
            Ok(match read.await? {
                Some(bytes) => super::mongo::iterator_result(js_sys::Uint8Array::from(bytes.as_slice()).into(), false),
                None => super::mongo::iterator_result(JsValue::UNDEFINED, true),
            })
        })
    }

    /// Stops reading and closes the connection.
    #[wasm_bindgen(js_name = "return", skip_typescript)]
    pub fn return_(&self, value: JsValue) -> Promise {
        self.body.cancel();
        Promise::resolve(&super::mongo::iterator_result(value, true))
    }
}
