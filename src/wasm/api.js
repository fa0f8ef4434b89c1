// The parts of the package's API that are plain JS values in realm-web 2.x as well: the error
// classes, the `UserState`/`UserType` enums, the runtime environment (`getEnvironment`,
// `setEnvironment`, the default session storage) and `handleAuthRedirect`; plus `publicApi`, which
// completes the wasm-bindgen classes (rest-parameter methods on their prototypes) and gathers the
// package's exports. Typings: `TS_JS_API` in src/wasm/types.rs.

/** The state of a user (realm-web's string enum). */
export const UserState = { Active: "active", LoggedOut: "logged-out", Removed: "removed" };
/** Who created a user (realm-web's string enum). */
export const UserType = { Normal: "normal", Server: "server" };

/** An HTTP request failed; its message reads as realm-web's. */
export class MongoDBRealmError extends Error {
  /** The error for a non-2xx `response` to `request` (its `error`, `error_code` and `link` if JSON). */
  static async fromRequestAndResponse(url, request, response) {
    const method = request?.method ?? "unknown";
    const { status, statusText } = response;
    const type = response.headers?.get?.("content-type");
    if (typeof type === "string" && type.startsWith("application/json")) {
      const body = await response.json();
      if (body !== null && typeof body === "object") {
        const text = (value) => (typeof value === "string" ? value : undefined);
        return new MongoDBRealmError(method, url, status, statusText, text(body.error), text(body.error_code), text(body.link));
      }
    }
    return new MongoDBRealmError(method, url, status, statusText);
  }

  constructor(method, url, statusCode, statusText, error, errorCode, link) {
    const summary = statusText ? `status ${statusCode} ${statusText}` : `status ${statusCode}`;
    super(typeof error === "string" ? `Request failed (${method} ${url}): ${error} (${summary})` : `Request failed (${method} ${url}): (${summary})`);
    this.method = method;
    this.url = url;
    this.statusText = statusText;
    this.statusCode = statusCode;
    this.error = error;
    this.errorCode = errorCode;
    this.link = link;
  }
}

/** A change stream failed: `code` is the server's `error_code` or what the client saw. */
export class WatchError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "WatchError";
    this.code = code;
  }
}

/** Prefixes every key with `<keyPart>:` on the way to another store. */
class PrefixedStorage {
  constructor(storage, keyPart) {
    this.storage = storage;
    this.keyPart = keyPart;
  }
  key(key) {
    return `${this.keyPart}:${key}`;
  }
  get(key) {
    return this.storage.get(this.key(key));
  }
  set(key, value) {
    return this.storage.set(this.key(key), value);
  }
  remove(key) {
    return this.storage.remove(this.key(key));
  }
  prefix(keyPart) {
    return new PrefixedStorage(this, keyPart);
  }
  clear(prefix = "") {
    return this.storage.clear(this.key(prefix));
  }
  addListener(listener) {
    return this.storage.addListener(listener);
  }
  removeListener(listener) {
    return this.storage.removeListener(listener);
  }
}

/** Process memory: Node's default session store (as realm-web's). */
class MemoryStorage {
  constructor() {
    this.entries = new Map();
    this.listeners = new Set();
  }
  get(key) {
    return this.entries.get(key) ?? null;
  }
  set(key, value) {
    this.entries.set(key, value);
    this.changed();
  }
  remove(key) {
    this.entries.delete(key);
    this.changed();
  }
  prefix(keyPart) {
    return new PrefixedStorage(this, keyPart);
  }
  /** Removes every entry whose key starts with `prefix` (all of them without one). */
  clear(prefix) {
    for (const key of [...this.entries.keys()]) {
      if (!prefix || key.startsWith(prefix)) this.entries.delete(key);
    }
    this.changed();
  }
  addListener(listener) {
    this.listeners.add(listener);
  }
  removeListener(listener) {
    this.listeners.delete(listener);
  }
  changed() {
    for (const listener of this.listeners) listener();
  }
}

/** The browser's `localStorage` (realm-web's `LocalStorage`). */
export class LocalStorage {
  constructor() {
    if (typeof globalThis.localStorage !== "object" || globalThis.localStorage === null) {
      throw new Error("Cannot use LocalStorage without a global localStorage object");
    }
    this.global = globalThis;
  }
  get(key) {
    return this.global.localStorage.getItem(key);
  }
  set(key, value) {
    return this.global.localStorage.setItem(key, value);
  }
  remove(key) {
    return this.global.localStorage.removeItem(key);
  }
  prefix(keyPart) {
    return new PrefixedStorage(this, keyPart);
  }
  clear(prefix) {
    const store = this.global.localStorage;
    const doomed = [];
    for (let i = 0; i < store.length; i++) {
      const key = store.key(i);
      if (key !== null && (!prefix || key.startsWith(prefix))) doomed.push(key);
    }
    for (const key of doomed) store.removeItem(key);
  }
  addListener(listener) {
    return this.global.addEventListener("storage", listener);
  }
  removeListener(listener) {
    return this.global.removeEventListener("storage", listener);
  }
}

function isNode() {
  return typeof globalThis.process?.versions?.node === "string";
}

// Made on first use, so importing the package touches neither `window` nor `localStorage`.
function defaultEnvironment() {
  if (isNode()) {
    const { process } = globalThis;
    return {
      defaultStorage: new MemoryStorage(),
      openWindow(url) {
        console.log(`Please open this URL: ${url}`);
        return null;
      },
      platform: process.release?.name || "node",
      platformVersion: process.versions.node,
      TextDecoder: globalThis.TextDecoder,
    };
  }
  let storage;
  try {
    // Reading `localStorage` throws in sandboxed frames: sessions then stay in memory.
    storage = new LocalStorage();
  } catch {
    storage = new MemoryStorage();
  }
  return {
    defaultStorage: storage.prefix("realm-web"),
    openWindow: (url) => globalThis.open?.(url) ?? null,
    platform: "web",
    platformVersion: "0.0.0",
    TextDecoder: globalThis.TextDecoder,
  };
}

let environment = null;

/** The environment: `defaultStorage` (where Apps without a `storage` option keep sessions), `platform`, … */
export function getEnvironment() {
  environment ??= defaultEnvironment();
  return environment;
}

/** Replaces the environment; Apps created afterwards use its `defaultStorage` and platform. */
export function setEnvironment(e) {
  if (e === null || typeof e !== "object") throw new TypeError("setEnvironment(environment): environment must be an object");
  environment = e;
}

const REDIRECT_FIELDS = { _baas_client_app_id: "appId", _baas_ua: "userAuth", _baas_link: "link", _baas_error: "error", _baas_state: "state" };

/**
 * The redirect page of an OAuth 2.0 login: stores the result from `location.hash` where the opener
 * looks for it (realm-web's storage keys). Outside a browser it throws, as realm-web's does.
 */
export function handleAuthRedirect(location = globalThis.location, storage) {
  if (isNode()) throw new Error("Handling OAuth 2.0 redirects is not supported outside a browser");
  try {
    const result = {};
    for (const pair of String(location.hash).replace(/^#/, "").split("&")) {
      const at = pair.indexOf("=");
      const name = REDIRECT_FIELDS[at < 0 ? pair : pair.slice(0, at)];
      const value = at < 0 ? "" : decodeURIComponent(pair.slice(at + 1));
      if (name && value) result[name] = value;
    }
    if (typeof result.state !== "string") {
      throw new Error(result.error ? `Failed to handle OAuth 2.0 redirect: ${result.error}` : "Failed to handle OAuth 2.0 redirect.");
    }
    const store = storage ?? getEnvironment().defaultStorage;
    store.prefix("oauth2").prefix(`state(${result.state})`).set("result", JSON.stringify(result));
  } catch (err) {
    // As realm-web: never interrupt the page's own flow.
    console.warn(err);
  }
}

/** The default store of Apps created without a `storage` option (called on every `new App`). */
export function defaultStorage() {
  return getEnvironment().defaultStorage;
}

/** The platform and its version for the login's device description. */
export function platform() {
  const { platform, platformVersion } = getEnvironment();
  return [String(platform), String(platformVersion)];
}

/**
 * Completes the wasm-bindgen module `glue` and returns the package's public exports (every
 * non-`__` export of the module plus the values above). wasm-bindgen exports fixed arities only,
 * so the rest-parameter methods are defined here, on the prototypes, as realm-web has them.
 */
export function publicApi(glue, defaultBaseUrl) {
  const { User, EmailPasswordAuth, App } = glue;
  Object.defineProperty(User.prototype, "callFunction", {
    configurable: true,
    writable: true,
    value: function callFunction(name, ...args) {
      return this.__callFunction(name, args);
    },
  });
  // `user.functions.callFunctionStreaming(name, ...args)` (the Proxy binds this to the user).
  Object.defineProperty(User.prototype, "__callFunctionStreamingRest", {
    configurable: true,
    writable: true,
    value: function callFunctionStreaming(name, ...args) {
      return this.__callFunctionStreaming(name, args);
    },
  });
  Object.defineProperty(EmailPasswordAuth.prototype, "callResetPasswordFunction", {
    configurable: true,
    writable: true,
    value: function callResetPasswordFunction(details, ...args) {
      return this.__callResetPasswordFunction(details, args);
    },
  });
  const api = {};
  for (const name of Object.keys(glue)) {
    if (!name.startsWith("__")) api[name] = glue[name];
  }
  return Object.assign(api, {
    DEFAULT_BASE_URL: defaultBaseUrl,
    LocalStorage,
    MongoDBRealmError,
    UserState,
    UserType,
    WatchError,
    getApp: function getApp(id) {
      return App.getApp(id);
    },
    getEnvironment,
    handleAuthRedirect,
    setEnvironment,
  });
}

/** What `app.deviceInformation` describes (realm-web's `DeviceInformation`). */
class DeviceInformation {
  constructor({ sdkVersion, platform, platformVersion, appId, appVersion, deviceId }) {
    Object.assign(this, { sdkVersion, platform, platformVersion, appId, appVersion, deviceId });
  }
  /** The fields with a value, as sent on login. */
  toJSON() {
    return Object.fromEntries(Object.entries(this).filter(([, value]) => value !== undefined));
  }
  /** Base64 of the JSON text (UTF-8). */
  encode() {
    let binary = "";
    for (const byte of new TextEncoder().encode(JSON.stringify(this.toJSON()))) binary += String.fromCharCode(byte);
    return btoa(binary);
  }
}

/** `String(value)` for error messages; never throws (a Symbol or an object whose toString throws). */
export function stringOf(value) {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** `app.deviceInformation` from the login's device document. */
export function deviceInformation(fields) {
  return new DeviceInformation(fields);
}
