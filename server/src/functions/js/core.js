// The globals of an App Services function, evaluated (as precompiled bytecode) once per context.
// A context serves many calls one after the other: `lockdown.js` freezes everything the calls
// share, `begin` and `end` reset what is per call (`context`, timers, pending host calls, globals a
// call created). `native(op, ...args)` is the Rust side of the current call (natives.rs).

const native = globalThis.__native;
delete globalThis.__native;

const lazy = (name, make) => {
  const define = (value) => Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(globalThis, name, {
    configurable: true,
    enumerable: false,
    get() { const value = make(); define(value); return value; },
    set: define,
  });
};

const isBytes = (v) => v instanceof Uint8Array;
const bytesOf = (v, what) => {
  if (typeof v === "string") return native("utf8Encode", v);
  if (isBytes(v)) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (v && isBytes(v.buffer) && typeof v.sub_type === "number") return v.buffer;
  throw new TypeError(`${what}: expected a string, a BSON.Binary or bytes`);
};

// ---- host calls -------------------------------------------------------------------------------
const pending = new Map();
const hostCall = (op, ...args) => new Promise((resolve, reject) => {
  const id = native(op, ...args);
  pending.set(id, { resolve, reject });
});
const settle = (id, ok, value) => {
  const p = pending.get(id);
  if (!p) return;
  pending.delete(id);
  if (ok) { p.resolve(value); return; }
  const e = new Error(value.message);
  if (value.code) { e.code = value.code; e.errorCode = value.code; }
  p.reject(e);
};

// ---- EJSON ------------------------------------------------------------------------------------
const relaxedOf = (options) => !(options && options.relaxed === false);
const EJSON = {
  stringify(value, replacer, space, options) {
    if (space !== null && typeof space === "object" && options === undefined) { options = space; space = undefined; }
    if (replacer !== null && typeof replacer === "object" && !Array.isArray(replacer) && options === undefined) {
      options = replacer; replacer = undefined;
    }
    const text = native("ejsonStringify", value, relaxedOf(options));
    if (text === undefined || (replacer === undefined && space === undefined)) return text;
    return JSON.stringify(JSON.parse(text), replacer, space);
  },
  parse(text, options) { return native("ejsonParse", String(text), relaxedOf(options)); },
  serialize(value, options) { return JSON.parse(EJSON.stringify(value, options)); },
  deserialize(value, options) { return EJSON.parse(JSON.stringify(value), options); },
};

// ---- the lazy parts ---------------------------------------------------------------------------
const parts = {};
const rt = { native, isBytes, bytesOf, hostCall, EJSON, bson: () => part("bson") };
const part = (name) => parts[name] || (parts[name] = native("module", name)(rt));
const bson = rt.bson;

// ---- base64 -----------------------------------------------------------------------------------
function btoa(s) {
  s = String(s);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new RangeError("btoa: the string contains characters outside Latin-1");
    bytes[i] = c;
  }
  return native("b64Encode", bytes);
}
function atob(s) {
  const bytes = native("b64Decode", String(s).replace(/[\t\n\f\r ]/g, ""));
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return out;
}

// ---- console ----------------------------------------------------------------------------------
const show = (v) => {
  if (typeof v === "string") return v;
  if (v instanceof Error) return v.stack ? `${v.name}: ${v.message}\n${v.stack}` : `${v.name}: ${v.message}`;
  if (v === undefined || typeof v === "function" || typeof v === "symbol" || typeof v === "bigint") return String(v);
  try { const t = native("ejsonStringify", v, true); return t === undefined ? String(v) : t; } catch (e) { return String(v); }
};
const log = (level) => (...args) => native("log", level, args.map(show).join(" "));
const console = {
  log: log("info"), info: log("info"), debug: log("debug"), trace: log("debug"), warn: log("warn"), error: log("error"),
};

// ---- timers -----------------------------------------------------------------------------------
const timers = new Map();
function setTimeout(fn, ms = 0, ...args) {
  if (typeof fn !== "function") throw new TypeError("setTimeout: the callback must be a function");
  const id = native("timer", Number(ms) || 0);
  timers.set(id, { fn, args });
  return id;
}
function setInterval(fn, ms = 0, ...args) {
  if (typeof fn !== "function") throw new TypeError("setInterval: the callback must be a function");
  const every = Math.max(1, Number(ms) || 0);
  const id = native("timer", every);
  timers.set(id, { fn, args, every });
  return id;
}
function clearTimeout(id) {
  if (timers.delete(id)) native("clearTimer", id);
}
const fire = (id) => {
  const t = timers.get(id);
  if (!t) return;
  if (t.every) native("rearm", id, t.every); else timers.delete(id);
  t.fn(...t.args);
};

// ---- require ----------------------------------------------------------------------------------
function require(name) {
  switch (String(name)) {
    case "buffer": case "node:buffer": return { Buffer: part("buffer").Buffer };
    case "bson": return bson();
    default:
      throw new Error(`require('${name}'): this module is not available to functions on realm-wasm-server ` +
        "(npm dependencies and Node built-ins are not supported; 'buffer' and 'bson' are)");
  }
}

// ---- HTTPS endpoints --------------------------------------------------------------------------
// An endpoint's function is called with `(request, response)`. What it sets on `response` comes
// back to Rust with its return value: `{status, headers: [[name, value], …], body, result}`.
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const endpoint = (f, request) => {
  const reply = { headers: [] };
  const name = (op, n) => {
    n = String(n);
    if (!headerName.test(n)) throw new TypeError(`response.${op}: ${JSON.stringify(n)} is not a valid header name`);
    return n;
  };
  const value = (op, v) => {
    v = String(v);
    if (/[\0\r\n]/.test(v)) throw new TypeError(`response.${op}: a header value cannot hold line breaks or NUL characters`);
    return v;
  };
  const response = Object.freeze({
    setStatusCode(code) {
      const n = Number(code);
      if (!Number.isInteger(n) || n < 200 || n > 599) throw new TypeError(`response.setStatusCode: ${String(code)} is not a final HTTP status code (200-599)`);
      reply.status = n;
    },
    setBody(body) { reply.body = bytesOf(body, "response.setBody"); },
    setHeader(n, v) {
      n = name("setHeader", n);
      const lower = n.toLowerCase();
      reply.headers = reply.headers.filter(([k]) => k.toLowerCase() !== lower);
      reply.headers.push([n, value("setHeader", v)]);
    },
    addHeader(n, v) { reply.headers.push([name("addHeader", n), value("addHeader", v)]); },
  });
  const done = (result) => {
    if (result !== undefined) reply.result = result;
    return reply;
  };
  const returned = f(request, response);
  const thenable = returned !== null && (typeof returned === "object" || typeof returned === "function") && typeof returned.then === "function";
  return thenable ? Promise.resolve(returned).then(done) : done(returned);
};

// ---- the globals ------------------------------------------------------------------------------
const { Buffer, TextEncoder, TextDecoder } = part("buffer");
const makeContext = part("context");
Object.assign(globalThis, {
  BSON: bson(), EJSON, Buffer, TextEncoder, TextDecoder, utils: part("utils"),
  atob, btoa, console, setTimeout, setInterval, clearTimeout, clearInterval: clearTimeout,
  setImmediate: (fn, ...a) => setTimeout(fn, 0, ...a), require,
});
lazy("context", () => makeContext());

// Compiled functions of this context: the factory a source's wrapper evaluates to (frozen, so a
// call cannot leave anything on it).
const factories = new Map();
const factory = (name) => factories.get(name);
const remember = (name, f) => {
  if (f.prototype) Object.freeze(f.prototype);
  factories.set(name, Object.freeze(f));
};

// What the Rust side needs (it holds this object; no call can reach it): settling host calls,
// firing timers, the compiled functions, the start and end of each call, and endpoint calls.
const globalProto = Object.getPrototypeOf(globalThis);
const begin = () => {
  pending.clear();
  timers.clear();
  lazy("context", () => makeContext());
};
/** Removes the globals the call created; false when the global object cannot be restored. */
const end = () => {
  Reflect.deleteProperty(globalThis, "context");
  const keys = Reflect.ownKeys(globalThis);
  let clean = Object.isExtensible(globalThis) && Object.getPrototypeOf(globalThis) === globalProto;
  if (keys.length !== known.size) {
    for (const k of keys) if (!known.has(k) && !Reflect.deleteProperty(globalThis, k)) clean = false;
    if (Reflect.ownKeys(globalThis).length !== known.size) clean = false;
  }
  return clean;
};
if (!native("module", "lockdown")()) throw new Error("lockdown failed");
Reflect.deleteProperty(globalThis, "context");
const known = new Set(Reflect.ownKeys(globalThis));

export default Object.freeze({ settle, fire, factory, remember, begin, end, endpoint });
