//! The exported `App`, `Credentials` and `EmailPasswordAuth` classes (realm-web 2.x names and
//! shapes) and the helpers the other class modules share. Async methods take `&self`, clone
//! what they need and return a `Promise`; no `RefCell` borrow is held across an `.await`.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::convert::{to_document, to_js, to_value};
use super::errors::{install_panic_hook, to_js_error};
use super::executor::future_to_promise;
use super::fetch::FetchTransport;
use super::storage;
use super::user::{user_to_js, User};
use crate::ejson::Value;
use crate::error::{Error, Result};
use crate::{app, credentials};

thread_local! {
    /// `App.getApp(id)` instances (a list: a hash map costs ~5 KB of wasm).
    static APPS: RefCell<Vec<(String, JsValue)>> = const { RefCell::new(Vec::new()) };
    /// The `Credentials` class, for `App.Credentials`.
    static CREDENTIALS_CLASS: JsValue = {
        let instance = JsValue::from(Credentials { inner: credentials::Credentials::anonymous(true) });
        get(&Object::get_prototype_of(&instance).into(), "constructor")
    };
}

/// Runs a core future as a JS promise; errors become JS errors (see `errors`).
pub(crate) fn promise<F>(future: F) -> Promise
where
    F: Future<Output = Result<JsValue>> + 'static,
{
    boxed_promise(Box::pin(future))
}

/// One non-generic `future_to_promise` for every call: instantiating it per call site would
/// copy the whole request path into each (most of the module's size).
#[inline(never)]
fn boxed_promise(future: crate::LocalBoxFuture<'static, Result<JsValue>>) -> Promise {
    future_to_promise(async move { future.await.map_err(to_js_error) })
}

/// Runs a core future that resolves to nothing.
pub(crate) fn promise_void<F>(future: F) -> Promise
where
    F: Future<Output = Result<()>> + 'static,
{
    boxed_promise_void(Box::pin(future))
}

/// One wrapper for every [`promise_void`] future (a wrapper per call site cost ~250 B each).
#[inline(never)]
fn boxed_promise_void(future: crate::LocalBoxFuture<'static, Result<()>>) -> Promise {
    promise(async move { future.await.map(|()| JsValue::UNDEFINED) })
}

pub(crate) fn rejected(err: Error) -> Promise {
    Promise::reject(&to_js_error(err))
}

pub(crate) fn get(target: &JsValue, key: &str) -> JsValue {
    if target.is_object() {
        Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

pub(crate) fn optional(target: &JsValue, key: &str) -> Result<Option<Value>> {
    let v = get(target, key);
    if v.is_undefined() {
        Ok(None)
    } else {
        to_value(&v).map(Some)
    }
}

/// A required string argument; `what` names it in the `TypeError`.
pub(crate) fn string_arg(value: &JsValue, what: &str) -> Result<String> {
    value
        .as_string()
        .ok_or_else(|| Error::InvalidArgument(format!("{what} must be a string, got {}", type_name(value))))
}

/// A string field of an options object.
pub(crate) fn string_field(target: &JsValue, key: &str, what: &str) -> Result<String> {
    if !target.is_object() {
        return Err(Error::InvalidArgument(format!("{what} must be an object with a string `{key}`")));
    }
    string_arg(&get(target, key), &format!("{what}.{key}"))
}

/// An optional boolean argument.
pub(crate) fn bool_arg(value: &JsValue, default: bool, what: &str) -> Result<bool> {
    if value.is_undefined() {
        Ok(default)
    } else {
        value.as_bool().ok_or_else(|| Error::InvalidArgument(format!("{what} must be a boolean, got {}", type_name(value))))
    }
}

pub(crate) fn type_name(value: &JsValue) -> String {
    value.js_typeof().as_string().map(|t| if value.is_null() { "null".to_owned() } else { t }).unwrap_or_default()
}

/// Converts function arguments (already collected into an array) like realm-web: in a
/// top-level object argument, properties set to `undefined` are left out (§6.1).
pub(crate) fn rest_args(args: &Array) -> Result<Vec<Value>> {
    args.iter()
        .map(|arg| {
            let mut value = to_value(&arg)?;
            if let Value::Document(doc) = &mut value {
                let object: &Object = arg.unchecked_ref();
                for key in Object::keys(object).iter() {
                    if Reflect::get(&arg, &key).is_ok_and(|v| v.is_undefined()) {
                        doc.remove(&key.as_string().unwrap_or_default());
                    }
                }
            }
            Ok(value)
        })
        .collect()
}

/// The environment's platform (`getEnvironment()`, which `setEnvironment` replaces).
fn device_info() -> Result<app::DeviceInfo> {
    let platform = super::api::platform()
        .map_err(|e| Error::InvalidArgument(format!("getEnvironment() failed: {}", super::convert::describe(&e))))?;
    let text = |i| platform.get(i).as_string().unwrap_or_default();
    Ok(app::DeviceInfo { platform: text(0), platform_version: text(1) })
}

fn optional_string(target: &JsValue, key: &str, what: &str) -> Result<Option<String>> {
    let v = get(target, key);
    if v.is_undefined() {
        Ok(None)
    } else {
        string_arg(&v, what).map(Some)
    }
}

struct Parsed {
    config: app::AppConfig,
    fetch: Option<Function>,
    storage: Rc<dyn crate::Storage>,
}

fn parse_config(id_or_config: &JsValue) -> Result<Parsed> {
    let config_object = if id_or_config.is_string() { JsValue::UNDEFINED } else { id_or_config.clone() };
    let id = match id_or_config.as_string() {
        Some(id) => id,
        None if id_or_config.is_object() => get(id_or_config, "id").as_string().unwrap_or_default(),
        None => {
            return Err(Error::InvalidArgument(
                "Missing an Atlas App Services app-id: pass new App(\"<app id>\") or new App({ id, baseUrl })".to_owned(),
            ))
        }
    };
    let c = &config_object;
    let mut config = app::AppConfig::new(id);
    config.device = device_info()?;
    if let Some(url) = optional_string(c, "baseUrl", "App config `baseUrl`")? {
        config.base_url = url;
    }
    let timeout = get(c, "timeout");
    if let Some(ms) = timeout.as_f64() {
        if !(ms.is_finite() && ms >= 0.0) {
            return Err(Error::InvalidArgument("App config `timeout` must be a number of milliseconds".to_owned()));
        }
        config.timeout_ms = Some(ms.min(f64::from(u32::MAX)) as u32);
    } else if !timeout.is_undefined() {
        return Err(Error::InvalidArgument("App config `timeout` must be a number of milliseconds".to_owned()));
    }
    config.skip_location_request = bool_arg(&get(c, "skipLocationRequest"), false, "App config `skipLocationRequest`")?;
    let local_app = get(c, "app");
    if !local_app.is_undefined() {
        config.local_app = Some((
            optional_string(&local_app, "name", "App config `app.name`")?,
            optional_string(&local_app, "version", "App config `app.version`")?,
        ));
    }
    let fetch = get(c, "fetch");
    let fetch = if fetch.is_undefined() || fetch.is_null() {
        None
    } else {
        Some(fetch.dyn_into::<Function>().map_err(|_| {
            Error::InvalidArgument("App config `fetch` must be a fetch-compatible function".to_owned())
        })?)
    };
    let storage = storage::choose(&get(c, "storage"))?;
    Ok(Parsed { config, fetch, storage })
}

/// An Atlas App Services app. App objects with the same id (and storage) share their users.
#[wasm_bindgen(js_name = App)]
pub struct JsApp {
    inner: app::App,
}

impl JsApp {
    /// An App object for a core app (`user.app`).
    pub(crate) fn of(inner: app::App) -> JsApp {
        JsApp { inner }
    }
}

#[wasm_bindgen(js_class = App)]
impl JsApp {
    /// Creates an app from its id or a configuration.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = "idOrConfig", unchecked_param_type = "string | AppConfiguration")] id_or_config: JsValue,
    ) -> std::result::Result<JsApp, JsValue> {
        install_panic_hook();
        let parsed = parse_config(&id_or_config).map_err(to_js_error)?;
        let transport = Rc::new(FetchTransport { fetch: parsed.fetch });
        let inner = app::App::with_storage(parsed.config, transport, parsed.storage).map_err(to_js_error)?;
        Ok(JsApp { inner })
    }

    /// The shared app instance for `id` (created on first use).
    #[wasm_bindgen(js_name = getApp, unchecked_return_type = "App")]
    pub fn get_app(#[wasm_bindgen(unchecked_param_type = "string")] id: JsValue) -> std::result::Result<JsValue, JsValue> {
        let id = string_arg(&id, "App.getApp(id): id").map_err(to_js_error)?;
        if let Some(app) = APPS.with(|apps| apps.borrow().iter().find(|(k, _)| *k == id).map(|(_, app)| app.clone())) {
            return Ok(app);
        }
        let app = JsValue::from(JsApp::new(JsValue::from_str(&id))?);
        APPS.with(|apps| apps.borrow_mut().push((id, app.clone())));
        Ok(app)
    }

    /// The `Credentials` class (as realm-web's `App.Credentials`).
    #[wasm_bindgen(getter = Credentials, unchecked_return_type = "typeof Credentials")]
    pub fn credentials_class() -> JsValue {
        CREDENTIALS_CLASS.with(JsValue::clone)
    }

    /// The app id.
    #[wasm_bindgen(getter, unchecked_return_type = "string")]
    pub fn id(&self) -> JsValue {
        JsValue::from_str(self.inner.id())
    }

    /// The URL requests go to: the server's answer to the location request (made once), or
    /// `baseUrl` with `skipLocationRequest`.
    #[wasm_bindgen(getter = locationUrl, unchecked_return_type = "Promise<string>")]
    pub fn location_url(&self) -> Promise {
        let app = self.inner.clone();
        promise(async move { Ok(JsValue::from_str(&app.location().await?)) })
    }

    /// What the next login sends about this device, SDK and app.
    #[wasm_bindgen(getter = deviceInformation, unchecked_return_type = "DeviceInformation")]
    pub fn device_information(&self) -> JsValue {
        super::api::device_information(&to_js(&Value::Document(self.inner.device())))
    }

    /// The most recently logged-in active user, or null.
    #[wasm_bindgen(getter = currentUser, unchecked_return_type = "User | null")]
    pub fn current_user(&self) -> JsValue {
        self.inner.current_user().map(|u| user_to_js(&u)).unwrap_or(JsValue::NULL)
    }

    /// Every user of this app (active or logged out), keyed by user id, most recent first.
    #[wasm_bindgen(getter = allUsers, unchecked_return_type = "Record<string, User>")]
    pub fn all_users(&self) -> JsValue {
        let object = Object::new();
        for u in self.inner.all_users() {
            let _ = Reflect::set(&object, &JsValue::from_str(u.id()), &user_to_js(&u));
        }
        object.into()
    }

    /// The email/password provider's routes.
    #[wasm_bindgen(getter = emailPasswordAuth, unchecked_return_type = "EmailPasswordAuth")]
    pub fn email_password_auth(&self) -> JsValue {
        EmailPasswordAuth { app: self.inner.clone() }.into_js()
    }

    /// Logs in and makes the user the current user; `fetchProfile` (default true) fetches the profile.
    #[wasm_bindgen(js_name = logIn, unchecked_return_type = "Promise<User>")]
    pub fn log_in(
        &self,
        credentials: &Credentials,
        #[wasm_bindgen(js_name = "fetchProfile", unchecked_optional_param_type = "boolean")] fetch_profile: JsValue,
    ) -> Promise {
        let fetch_profile = match bool_arg(&fetch_profile, true, "logIn(credentials, fetchProfile): fetchProfile") {
            Ok(b) => b,
            Err(e) => return rejected(e),
        };
        let app = self.inner.clone();
        let credentials = credentials.inner.clone();
        promise(async move {
            let user = app.log_in(&credentials, fetch_profile).await?;
            Ok(user_to_js(&user))
        })
    }

    /// Makes `user` the current user.
    #[wasm_bindgen(js_name = switchUser)]
    pub fn switch_user(&self, user: &User) -> std::result::Result<(), JsValue> {
        self.inner.switch_user(user.core()).map_err(to_js_error)
    }

    /// Logs `user` out and removes it from the app and its storage.
    #[wasm_bindgen(js_name = removeUser, unchecked_return_type = "Promise<void>")]
    pub fn remove_user(&self, user: &User) -> Promise {
        let app = self.inner.clone();
        let user = user.core().clone();
        promise_void(async move { app.remove_user(&user).await })
    }

    /// Deletes `user` on the server (with that user's own token) and removes it locally.
    #[wasm_bindgen(js_name = deleteUser, unchecked_return_type = "Promise<void>")]
    pub fn delete_user(&self, user: &User) -> Promise {
        let app = self.inner.clone();
        let user = user.core().clone();
        promise_void(async move { app.delete_user(&user).await })
    }

    /// Calls `callback` after every login, logout, user switch, removal and token refresh.
    #[wasm_bindgen(js_name = addListener)]
    pub fn add_listener(
        &self,
        #[wasm_bindgen(unchecked_param_type = "() => void")] callback: JsValue,
    ) -> std::result::Result<(), JsValue> {
        add_js_listener(self.inner.listeners(), callback, "app.addListener(callback)")
    }

    /// Removes a listener added with `addListener`.
    #[wasm_bindgen(js_name = removeListener)]
    pub fn remove_listener(&self, #[wasm_bindgen(unchecked_param_type = "() => void")] callback: JsValue) {
        remove_js_listener(self.inner.listeners(), &callback);
    }

    /// Removes every listener of the app.
    #[wasm_bindgen(js_name = removeAllListeners)]
    pub fn remove_all_listeners(&self) {
        self.inner.listeners().clear();
    }
}

pub(crate) fn add_js_listener(listeners: &crate::Listeners, callback: JsValue, what: &str) -> std::result::Result<(), JsValue> {
    let f: Function = callback
        .clone()
        .dyn_into()
        .map_err(|_| to_js_error(Error::InvalidArgument(format!("{what}: callback must be a function"))))?;
    // A throwing listener must not break the SDK operation that notified it.
    listeners.add(Rc::new(callback), Rc::new(move || {
        let _ = f.call0(&JsValue::UNDEFINED);
    }));
    Ok(())
}

pub(crate) fn remove_js_listener(listeners: &crate::Listeners, callback: &JsValue) {
    listeners.remove_where(|tag| tag.downcast_ref::<JsValue>().is_some_and(|t| Object::is(t, callback)));
}

/// What to log in with.
#[wasm_bindgen]
pub struct Credentials {
    pub(crate) inner: credentials::Credentials,
}

fn credential(result: Result<credentials::Credentials>) -> std::result::Result<Credentials, JsValue> {
    result.map(|inner| Credentials { inner }).map_err(to_js_error)
}

#[wasm_bindgen]
impl Credentials {
    /// Anonymous credentials; with `reuse` (default true) a known anonymous user is reused.
    pub fn anonymous(
        #[wasm_bindgen(unchecked_optional_param_type = "boolean")] reuse: JsValue,
    ) -> std::result::Result<Credentials, JsValue> {
        credential(bool_arg(&reuse, true, "Credentials.anonymous(reuse): reuse").map(credentials::Credentials::anonymous))
    }

    /// Email/password credentials.
    #[wasm_bindgen(js_name = emailPassword)]
    pub fn email_password(
        #[wasm_bindgen(unchecked_param_type = "string")] email: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] password: JsValue,
    ) -> std::result::Result<Credentials, JsValue> {
        credential((|| {
            let email = string_arg(&email, "Credentials.emailPassword(email, password): email")?;
            let password = string_arg(&password, "Credentials.emailPassword(email, password): password")?;
            Ok(credentials::Credentials::email_password(&email, &password))
        })())
    }

    /// API key credentials.
    #[wasm_bindgen(js_name = apiKey)]
    pub fn api_key(#[wasm_bindgen(unchecked_param_type = "string")] key: JsValue) -> std::result::Result<Credentials, JsValue> {
        credential(string_arg(&key, "Credentials.apiKey(key): key").map(|k| credentials::Credentials::api_key(&k)))
    }

    /// Custom JWT credentials.
    pub fn jwt(#[wasm_bindgen(unchecked_param_type = "string")] token: JsValue) -> std::result::Result<Credentials, JsValue> {
        credential(string_arg(&token, "Credentials.jwt(token): token").map(|t| credentials::Credentials::jwt(&t)))
    }

    /// Custom function credentials: the payload is passed to the authentication function.
    #[wasm_bindgen(js_name = "function")]
    pub fn function(
        #[wasm_bindgen(unchecked_param_type = "Record<string, unknown>")] payload: JsValue,
    ) -> std::result::Result<Credentials, JsValue> {
        credential(to_document(&payload, "Credentials.function(payload): payload").map(credentials::Credentials::function))
    }

    /// Google credentials from `{ authCode }` or `{ idToken }` (no redirect flow).
    pub fn google(
        #[wasm_bindgen(unchecked_param_type = "{ authCode: string } | { idToken: string }")] payload: JsValue,
    ) -> std::result::Result<Credentials, JsValue> {
        credential((|| {
            let what = "Credentials.google(payload)";
            if !payload.is_object() {
                return Err(Error::InvalidArgument(format!("{what}: payload must be {{ authCode }} or {{ idToken }}")));
            }
            let code = optional_string(&payload, "authCode", &format!("{what}: authCode"))?;
            let id_token = optional_string(&payload, "idToken", &format!("{what}: idToken"))?;
            credentials::Credentials::google(code.as_deref(), id_token.as_deref())
        })())
    }

    /// Facebook credentials from an access token.
    pub fn facebook(
        #[wasm_bindgen(js_name = "accessToken", unchecked_param_type = "string")] access_token: JsValue,
    ) -> std::result::Result<Credentials, JsValue> {
        credential(
            string_arg(&access_token, "Credentials.facebook(accessToken): accessToken")
                .map(|t| credentials::Credentials::facebook(&t)),
        )
    }

    /// Apple credentials from an id token.
    pub fn apple(
        #[wasm_bindgen(js_name = "idToken", unchecked_param_type = "string")] id_token: JsValue,
    ) -> std::result::Result<Credentials, JsValue> {
        credential(string_arg(&id_token, "Credentials.apple(idToken): idToken").map(|t| credentials::Credentials::apple(&t)))
    }

    /// Provider name, e.g. "local-userpass".
    #[wasm_bindgen(getter = providerName, unchecked_return_type = "string")]
    pub fn provider_name(&self) -> JsValue {
        JsValue::from_str(&self.inner.provider_name)
    }

    /// For anonymous credentials: log in as a known anonymous user rather than a new one.
    #[wasm_bindgen(getter)]
    pub fn reuse(&self) -> bool {
        self.inner.reuse
    }

    /// Provider type, e.g. "local-userpass".
    #[wasm_bindgen(getter = providerType, unchecked_return_type = "string")]
    pub fn provider_type(&self) -> JsValue {
        JsValue::from_str(&self.inner.provider_type)
    }

    /// The fields sent to the provider.
    #[wasm_bindgen(getter, unchecked_return_type = "Record<string, unknown>")]
    pub fn payload(&self) -> JsValue {
        to_js(&Value::Document(self.inner.payload.clone()))
    }
}

/// `app.emailPasswordAuth`: the email/password provider's routes.
#[wasm_bindgen]
pub struct EmailPasswordAuth {
    app: app::App,
}

/// Reads the string fields `keys` of a details object (errors name `method`), then posts them
/// and any `arguments` to the provider's `route` (the one [`app::App`]'s method of that name
/// uses). One non-generic future for every method: one per method cost ~0.5 KB of wasm each.
#[inline(never)]
fn details_call(app: &app::App, details: &JsValue, method: &str, route: &'static str, keys: &[&str], arguments: Option<Vec<Value>>) -> Promise {
    let mut body = crate::ejson::Document::new();
    for key in keys {
        match string_field(details, key, &format!("{method}: details")) {
            Ok(v) => body.insert(*key, v),
            Err(e) => return rejected(e),
        }
    }
    if let Some(arguments) = arguments {
        body.insert("arguments", Value::Array(arguments));
    }
    let app = app.clone();
    promise_void(async move { app.email_password_call(route, body).await })
}

#[wasm_bindgen]
impl EmailPasswordAuth {
    /// Registers a new email/password user.
    #[wasm_bindgen(js_name = registerUser, unchecked_return_type = "Promise<void>")]
    pub fn register_user(&self, #[wasm_bindgen(unchecked_param_type = "{ email: string; password: string }")] details: JsValue) -> Promise {
        details_call(&self.app, &details, "registerUser", "register", &["email", "password"], None)
    }

    /// Confirms a user with the token and token id from the confirmation email.
    #[wasm_bindgen(js_name = confirmUser, unchecked_return_type = "Promise<void>")]
    pub fn confirm_user(&self, #[wasm_bindgen(unchecked_param_type = "{ token: string; tokenId: string }")] details: JsValue) -> Promise {
        details_call(&self.app, &details, "confirmUser", "confirm", &["token", "tokenId"], None)
    }

    /// Sends the confirmation email again.
    #[wasm_bindgen(js_name = resendConfirmationEmail, unchecked_return_type = "Promise<void>")]
    pub fn resend_confirmation_email(&self, #[wasm_bindgen(unchecked_param_type = "{ email: string }")] details: JsValue) -> Promise {
        details_call(&self.app, &details, "resendConfirmationEmail", "confirm/send", &["email"], None)
    }

    /// Runs the custom confirmation function again.
    #[wasm_bindgen(js_name = retryCustomConfirmation, unchecked_return_type = "Promise<void>")]
    pub fn retry_custom_confirmation(&self, #[wasm_bindgen(unchecked_param_type = "{ email: string }")] details: JsValue) -> Promise {
        details_call(&self.app, &details, "retryCustomConfirmation", "confirm/call", &["email"], None)
    }

    /// Sends a password reset email.
    #[wasm_bindgen(js_name = sendResetPasswordEmail, unchecked_return_type = "Promise<void>")]
    pub fn send_reset_password_email(&self, #[wasm_bindgen(unchecked_param_type = "{ email: string }")] details: JsValue) -> Promise {
        details_call(&self.app, &details, "sendResetPasswordEmail", "reset/send", &["email"], None)
    }

    /// Sets a new password with the token and token id from the reset email.
    #[wasm_bindgen(js_name = resetPassword, unchecked_return_type = "Promise<void>")]
    pub fn reset_password(
        &self,
        #[wasm_bindgen(unchecked_param_type = "{ token: string; tokenId: string; password: string }")] details: JsValue,
    ) -> Promise {
        details_call(&self.app, &details, "resetPassword", "reset", &["token", "tokenId", "password"], None)
    }

    /// `callResetPasswordFunction(details, ...args)` collects its rest arguments here.
    #[wasm_bindgen(js_name = "__callResetPasswordFunction", skip_typescript)]
    pub fn call_reset_password_function_with(&self, details: JsValue, args: Array) -> Promise {
        match rest_args(&args) {
            Ok(args) => details_call(&self.app, &details, "callResetPasswordFunction", "reset/call", &["email", "password"], Some(args)),
            Err(e) => rejected(e),
        }
    }
}

impl EmailPasswordAuth {
    pub(crate) fn into_js(self) -> JsValue {
        JsValue::from(self)
    }
}
