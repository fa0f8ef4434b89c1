//! The package's JS-level parts (`api.js`): error classes, enums, the environment and its default
//! session storage, and the export list the package entries hand out (`__publicApi`).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/wasm/api.js")]
extern "C" {
    #[wasm_bindgen(js_name = publicApi)]
    fn public_api(glue: &JsValue, default_base_url: &str) -> JsValue;

    // These two read an environment the user may have set (`setEnvironment`): they can throw.
    // (Being `catch`, they also go through the glue rather than being imported from the snippet
    // directly: wasm-bindgen lists a snippet once per direct import in the web glue's imports
    // object, and bundlers warn about the repeated key.)

    /// `getEnvironment().defaultStorage`.
    #[wasm_bindgen(js_name = defaultStorage, catch)]
    pub(crate) fn default_storage() -> Result<JsValue, JsValue>;

    /// `[platform, platformVersion]` of the environment.
    #[wasm_bindgen(js_name = platform, catch)]
    pub(crate) fn platform() -> Result<js_sys::Array, JsValue>;

    /// `String(value)` (or its `Object.prototype.toString` when that throws).
    #[wasm_bindgen(js_name = stringOf)]
    pub(crate) fn string_of(value: &JsValue) -> String;

    #[wasm_bindgen(js_name = deviceInformation)]
    pub(crate) fn device_information(fields: &JsValue) -> JsValue;

    /// realm-web's `MongoDBRealmError` class.
    pub(crate) type MongoDBRealmError;
    #[wasm_bindgen(constructor)]
    pub(crate) fn new(
        method: &str,
        url: &str,
        status_code: u16,
        status_text: &str,
        error: Option<&str>,
        error_code: Option<&str>,
        link: Option<&str>,
    ) -> MongoDBRealmError;

    /// The error a change stream fails with.
    pub(crate) type WatchError;
    #[wasm_bindgen(constructor)]
    pub(crate) fn new(code: &str, message: &str) -> WatchError;
}

/// The package's exports: the module `glue` (wasm-bindgen's, whose classes it completes) plus
/// `api.js`'s values. Called once by each package entry.
#[wasm_bindgen(js_name = "__publicApi", skip_typescript)]
pub fn public_api_of(glue: JsValue) -> JsValue {
    public_api(&glue, crate::DEFAULT_BASE_URL)
}
