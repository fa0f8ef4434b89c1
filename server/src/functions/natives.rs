//! The Rust side of the JS globals (`js/*.js`): one native function, `__native(op, ...args)`, through which the
//! JS globals reach this call's state (host calls, timers, logs, values, the caller) and the
//! Rust implementations of EJSON, BSON helpers, crypto and text codecs.

use super::convert::{Budget, ConvError, Converter};
use super::engine::{Call, ScriptFailure, Shared};
use super::{crypto, http, HostError, RunAs, ScriptError, UserInfo};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use bson::{doc, Bson, Document};
use rquickjs::function::Rest;
use rquickjs::{Array, Ctx, Exception, Function, TypedArray, Value};
use std::cell::RefCell;
use std::rc::Rc;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Host calls one function may have in flight at once (App Services allows 1000 async operations).
const MAX_IN_FLIGHT: usize = 1000;
/// Longest logged line, and most log text one call may write.
const MAX_LOG_LINE: usize = 16 * 1024;
const MAX_LOG_TOTAL: usize = 1024 * 1024;

/// The call a context currently serves (empty while it waits as a spare).
pub type Slot = Rc<RefCell<Option<Rc<Call>>>>;

/// Defines `globalThis.__native` for a context (`core.js` takes it out of the globals).
pub fn install<'js>(ctx: &Ctx<'js>, slot: Slot, shared: Arc<Shared>) -> rquickjs::Result<()> {
    let f = Function::new(ctx.clone(), move |ctx: Ctx<'js>, op: String, args: Rest<Value<'js>>| -> rquickjs::Result<Value<'js>> {
        if op == "module" {
            // Loading the globals happens before any call.
            let name = string(&args.0, 0, "module").map_err(|_| Exception::throw_type(&ctx, "module: a name is required"))?;
            return super::engine::load_module(&ctx, &shared.code, &name);
        }
        let call = slot.borrow().clone().ok_or_else(|| Exception::throw_internal(&ctx, "no call in progress"))?;
        match dispatch(&ctx, &call, &shared, &op, &args.0) {
            Ok(v) => Ok(v),
            Err(Failure::Js(e)) => Err(e),
            Err(Failure::Script(ScriptError(message))) => Err(Exception::throw_message(&ctx, &message)),
            Err(Failure::Type(message)) => Err(Exception::throw_type(&ctx, &message)),
        }
    })?;
    ctx.globals().set("__native", f)
}

enum Failure {
    /// An exception is already pending.
    Js(rquickjs::Error),
    /// Throw an `Error` with this message.
    Script(ScriptError),
    /// Throw a `TypeError` with this message.
    Type(String),
}

impl From<rquickjs::Error> for Failure {
    fn from(e: rquickjs::Error) -> Failure {
        Failure::Js(e)
    }
}

impl From<ScriptError> for Failure {
    fn from(e: ScriptError) -> Failure {
        Failure::Script(e)
    }
}

impl From<ConvError> for Failure {
    fn from(e: ConvError) -> Failure {
        match e {
            ConvError::Js(e) => Failure::Js(e),
            ConvError::TooLarge(limit) => Failure::Script(ScriptError(format!("the value is larger than {limit} bytes"))),
            ConvError::TooDeep => Failure::Script(ScriptError(format!("the value nests deeper than {} levels (or refers to itself)", super::convert::MAX_DEPTH))),
            ConvError::Invalid(what) => Failure::Type(format!("cannot convert {what} to BSON")),
        }
    }
}

impl From<ScriptFailure> for Failure {
    fn from(e: ScriptFailure) -> Failure {
        match e {
            ScriptFailure::Js(e) => Failure::Js(e),
            ScriptFailure::NotFound(name) => Failure::Script(ScriptError(format!("function not found: '{name}'"))),
            ScriptFailure::NoExport(name) => Failure::Type(format!("function '{name}' exports no function")),
        }
    }
}

type Out<'js> = Result<Value<'js>, Failure>;

fn arg<'a, 'js>(args: &'a [Value<'js>], i: usize) -> Option<&'a Value<'js>> {
    args.get(i).filter(|v| !v.is_undefined())
}

fn string(args: &[Value<'_>], i: usize, op: &str) -> Result<String, Failure> {
    match arg(args, i).and_then(|v| v.as_string()) {
        Some(s) => Ok(s.to_string()?),
        None => Err(Failure::Type(format!("{op}: argument {} must be a string", i + 1))),
    }
}

fn bytes(args: &[Value<'_>], i: usize, op: &str) -> Result<Vec<u8>, Failure> {
    let bad = || Failure::Type(format!("{op}: argument {} must be bytes", i + 1));
    let v = arg(args, i).ok_or_else(bad)?;
    let arr = TypedArray::<u8>::from_value(v.clone()).map_err(|_| bad())?;
    Ok(arr.as_bytes().ok_or_else(bad)?.to_vec())
}

fn number(args: &[Value<'_>], i: usize) -> f64 {
    arg(args, i).and_then(Value::as_number).unwrap_or(0.0)
}

fn new_bytes<'js>(ctx: &Ctx<'js>, data: &[u8]) -> Out<'js> {
    Ok(TypedArray::<u8>::new_copy(ctx.clone(), data)?.into_value())
}

fn new_string<'js>(ctx: &Ctx<'js>, s: &str) -> Out<'js> {
    Ok(rquickjs::String::from_str(ctx.clone(), s)?.into_value())
}

fn dispatch<'js>(ctx: &Ctx<'js>, call: &Rc<Call>, shared: &Arc<Shared>, op: &str, args: &[Value<'js>]) -> Out<'js> {
    let limit = shared.limits.max_result_bytes;
    match op {
        "log" => {
            let level = string(args, 0, "console")?;
            let message = string(args, 1, "console")?;
            call.log(&level, &message);
            Ok(Value::new_undefined(ctx.clone()))
        }
        "mongo" => {
            let service = string(args, 0, "mongodb")?;
            let operation = string(args, 1, "mongodb")?;
            let arg = arg(args, 2).ok_or_else(|| Failure::Type("mongodb: missing arguments".into()))?;
            let doc = Converter::new(ctx).bson_document(arg, &mut Budget::new(limit))?;
            let future = shared.host.mongo(&call.env.run_as, &service, &operation, doc);
            Ok(Value::new_number(ctx.clone(), call.spawn(future)? as f64))
        }
        "http" => {
            let method = string(args, 0, "context.http")?;
            let spec = match arg(args, 1) {
                Some(v) => Converter::new(ctx).bson_document(v, &mut Budget::new(limit))?,
                None => Document::new(),
            };
            let timeout = call.deadline.saturating_duration_since(Instant::now());
            let future = http::request(&shared.http, &method, &spec, limit, timeout)?;
            Ok(Value::new_number(ctx.clone(), call.spawn(future)? as f64))
        }
        "timer" => Ok(Value::new_number(ctx.clone(), call.add_timer(None, number(args, 0)) as f64)),
        "rearm" => {
            call.add_timer(Some(number(args, 0) as u64), number(args, 1));
            Ok(Value::new_undefined(ctx.clone()))
        }
        "clearTimer" => {
            call.clear_timer(number(args, 0) as u64);
            Ok(Value::new_undefined(ctx.clone()))
        }
        "value" => {
            let name = string(args, 0, "context.values.get")?;
            match shared.values.get(&name) {
                Some(v) => relaxed(ctx, v),
                None => Ok(Value::new_undefined(ctx.clone())),
            }
        }
        "load" => {
            let name = string(args, 0, "context.functions.execute")?;
            Ok(shared.load(ctx, call, &name)?.into_value())
        }
        "env" => env(ctx, call, shared, &string(args, 0, "context")?),
        "ejsonStringify" => {
            let Some(v) = arg(args, 0) else { return Ok(Value::new_undefined(ctx.clone())) };
            if v.is_function() || v.is_symbol() {
                return Ok(Value::new_undefined(ctx.clone()));
            }
            let value = Converter::new(ctx).bson(v, &mut Budget::new(limit))?;
            let relaxed = arg(args, 1).and_then(Value::as_bool).unwrap_or(true);
            let json = if relaxed { value.into_relaxed_extjson() } else { value.into_canonical_extjson() };
            new_string(ctx, &json.to_string())
        }
        "ejsonParse" => {
            let text = string(args, 0, "EJSON.parse")?;
            let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| Failure::Script(ScriptError(format!("EJSON.parse: {e}"))))?;
            let value = Bson::try_from(json).map_err(|e| Failure::Script(ScriptError(format!("EJSON.parse: {e}"))))?;
            let mut conv = Converter::new(ctx);
            conv.relaxed = arg(args, 1).and_then(Value::as_bool).unwrap_or(true);
            Ok(conv.js(&value)?)
        }
        "oid" => new_string(ctx, &bson::oid::ObjectId::new().to_hex()),
        "uuid" => {
            let mut b: [u8; 16] = rand::random();
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            new_bytes(ctx, &b)
        }
        "decimalParse" => {
            let text = string(args, 0, "Decimal128.fromString")?;
            let d = bson::Decimal128::from_str(&text).map_err(|_| Failure::Type(format!("BSON.Decimal128.fromString: {text:?} is not a decimal number")))?;
            new_bytes(ctx, &d.bytes())
        }
        "decimalFormat" => {
            let raw: [u8; 16] = bytes(args, 0, "Decimal128")?.try_into().map_err(|_| Failure::Type("Decimal128: expected 16 bytes".into()))?;
            new_string(ctx, &bson::Decimal128::from_bytes(raw).to_string())
        }
        "hash" => new_bytes(ctx, &crypto::hash(&string(args, 0, "utils.crypto.hash")?, &bytes(args, 1, "utils.crypto.hash")?)?),
        "hmac" => new_bytes(ctx, &crypto::hmac(&string(args, 0, "utils.crypto.hmac")?, &bytes(args, 1, "utils.crypto.hmac")?, &bytes(args, 2, "utils.crypto.hmac")?)?),
        "encrypt" => new_bytes(ctx, &crypto::encrypt(&string(args, 0, "utils.crypto.encrypt")?, &bytes(args, 1, "utils.crypto.encrypt")?, &bytes(args, 2, "utils.crypto.encrypt")?)?),
        "decrypt" => new_bytes(ctx, &crypto::decrypt(&string(args, 0, "utils.crypto.decrypt")?, &bytes(args, 1, "utils.crypto.decrypt")?, &bytes(args, 2, "utils.crypto.decrypt")?)?),
        "sign" => {
            let sig = crypto::sign(&string(args, 0, "utils.crypto.sign")?, &bytes(args, 1, "utils.crypto.sign")?, &string(args, 2, "utils.crypto.sign")?, &string(args, 3, "utils.crypto.sign")?)?;
            new_bytes(ctx, &sig)
        }
        "verify" => {
            let ok = crypto::verify(
                &string(args, 0, "utils.crypto.verify")?,
                &bytes(args, 1, "utils.crypto.verify")?,
                &string(args, 2, "utils.crypto.verify")?,
                &bytes(args, 3, "utils.crypto.verify")?,
                &string(args, 4, "utils.crypto.verify")?,
            )?;
            Ok(Value::new_bool(ctx.clone(), ok))
        }
        "jwtEncode" => {
            let json = |i: usize| -> Result<Option<serde_json::Value>, Failure> {
                match arg(args, i) {
                    None => Ok(None),
                    Some(_) => serde_json::from_str(&string(args, i, "utils.jwt.encode")?).map(Some).map_err(|e| Failure::Type(format!("utils.jwt.encode: {e}"))),
                }
            };
            let payload = json(1)?.unwrap_or(serde_json::Value::Null);
            let token = crypto::jwt_encode(&string(args, 0, "utils.jwt.encode")?, &payload, &string(args, 2, "utils.jwt.encode")?, json(3)?.as_ref())?;
            new_string(ctx, &token)
        }
        "jwtDecode" => {
            let accepted: Vec<String> = match arg(args, 2).and_then(|v| v.as_array()) {
                Some(a) => a.iter::<String>().collect::<rquickjs::Result<_>>()?,
                None => Vec::new(),
            };
            let (header, payload) = crypto::jwt_decode(&string(args, 0, "utils.jwt.decode")?, &string(args, 1, "utils.jwt.decode")?, &accepted)?;
            let out = Array::new(ctx.clone())?;
            out.set(0, header.to_string())?;
            out.set(1, payload.to_string())?;
            Ok(out.into_value())
        }
        "utf8Encode" => {
            let s = string(args, 0, "TextEncoder")?;
            new_bytes(ctx, s.as_bytes())
        }
        "utf8Decode" => {
            let b = bytes(args, 0, "TextDecoder")?;
            let fatal = arg(args, 1).and_then(Value::as_bool).unwrap_or(false);
            match String::from_utf8(b) {
                Ok(s) => new_string(ctx, &s),
                Err(_) if fatal => Err(Failure::Type("TextDecoder: the data is not valid UTF-8".into())),
                Err(e) => new_string(ctx, &String::from_utf8_lossy(e.as_bytes())),
            }
        }
        "b64Encode" => new_string(ctx, &STANDARD.encode(bytes(args, 0, "base64")?)),
        "b64Decode" => {
            let text = string(args, 0, "base64")?;
            let t = text.trim();
            let decoded = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD].iter().find_map(|e| e.decode(t).ok());
            new_bytes(ctx, &decoded.ok_or_else(|| Failure::Script(ScriptError("invalid base64 text".into())))?)
        }
        "hexEncode" => new_string(ctx, &hex::encode(bytes(args, 0, "hex")?)),
        "hexDecode" => {
            let text = string(args, 0, "hex")?;
            new_bytes(ctx, &hex::decode(text.trim()).map_err(|_| Failure::Script(ScriptError("invalid hex text".into())))?)
        }
        other => Err(Failure::Type(format!("unknown native operation {other:?}"))),
    }
}

/// A value as plain JSON readers expect it (an Int64 as a number when exact).
fn relaxed<'js>(ctx: &Ctx<'js>, v: &Bson) -> Out<'js> {
    let mut conv = Converter::new(ctx);
    conv.relaxed = true;
    Ok(conv.js(v)?)
}

fn user_doc(user: Option<&UserInfo>) -> Document {
    match user {
        Some(u) => u.to_document(),
        // App Services: with no caller, the system user, with no id.
        None => doc! {"type": "system", "data": {}, "custom_data": {}, "identities": []},
    }
}

fn env<'js>(ctx: &Ctx<'js>, call: &Call, shared: &Shared, key: &str) -> Out<'js> {
    let value = match key {
        "app" => Bson::Document(shared.app.to_document()),
        "environment" => Bson::Document(doc! {"tag": &shared.values.environment_tag, "values": shared.values.environment_values.clone()}),
        "user" => Bson::Document(user_doc(call.env.caller.as_ref())),
        "request" => match &call.env.request {
            Some(r) => Bson::Document(r.to_document()),
            None => return Ok(Value::new_undefined(ctx.clone())),
        },
        "system" => Bson::Boolean(matches!(call.env.run_as, RunAs::System)),
        "services" => Bson::Array(shared.app.mongo_services.iter().map(|s| Bson::String(s.clone())).collect()),
        other => return Err(Failure::Type(format!("unknown context key {other:?}"))),
    };
    relaxed(ctx, &value)
}

/// A host error as `core.js` rejects it (`{message, code}`).
pub fn host_error_doc(e: &HostError) -> Document {
    doc! {"message": &e.message, "code": &e.code}
}

impl Call {
    /// Starts `future` on the tokio runtime; its completion comes back through the call's channel.
    fn spawn(&self, future: super::HostFuture<Bson>) -> Result<u64, Failure> {
        if self.in_flight.get() >= MAX_IN_FLIGHT {
            return Err(Failure::Script(ScriptError(format!("more than {MAX_IN_FLIGHT} operations in flight: await some first"))));
        }
        let id = self.next_id();
        self.in_flight.set(self.in_flight.get() + 1);
        // Most reads answer at once: poll here first and spare two thread hand-offs (a findOne
        // through a function: 150 -> 121 µs at the same load). What is not ready goes on to
        // tokio, which polls it again with a real waker.
        let mut future = future;
        let first = {
            let _runtime = self.handle.enter();
            future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
        };
        match first {
            std::task::Poll::Ready(result) => {
                let _ = self.tx.send((id, result));
            }
            std::task::Poll::Pending => {
                let tx = self.tx.clone();
                self.handle.spawn(async move {
                    let result = future.await;
                    // The call may have ended (timeout): nobody listens any more.
                    let _ = tx.send((id, result));
                });
            }
        }
        Ok(id)
    }

    fn add_timer(&self, id: Option<u64>, ms: f64) -> u64 {
        let id = id.unwrap_or_else(|| self.next_id());
        let ms = if ms.is_finite() && ms > 0.0 { ms.min(1e9) } else { 0.0 };
        let due = Instant::now() + Duration::from_micros((ms * 1000.0) as u64);
        self.timers.borrow_mut().insert((due, id));
        self.timer_due.borrow_mut().insert(id, due);
        id
    }

    fn clear_timer(&self, id: u64) {
        if let Some(due) = self.timer_due.borrow_mut().remove(&id) {
            self.timers.borrow_mut().remove(&(due, id));
        }
    }

    fn log(&self, level: &str, message: &str) {
        let total = self.logged.get();
        if total >= MAX_LOG_TOTAL {
            return;
        }
        let mut text: &str = message;
        if text.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text = &text[..cut];
        }
        self.logged.set(total + text.len());
        let (function, request) = (self.function.as_str(), self.env.request_id.as_deref().unwrap_or(""));
        match level {
            "error" => tracing::error!(target: "realm_wasm_server::functions::console", function, request, "{text}"),
            "warn" => tracing::warn!(target: "realm_wasm_server::functions::console", function, request, "{text}"),
            "debug" => tracing::debug!(target: "realm_wasm_server::functions::console", function, request, "{text}"),
            _ => tracing::info!(target: "realm_wasm_server::functions::console", function, request, "{text}"),
        }
        if self.logged.get() >= MAX_LOG_TOTAL {
            tracing::warn!(target: "realm_wasm_server::functions::console", function, request, "log limit of {MAX_LOG_TOTAL} bytes reached: further console output of this call is dropped");
        }
    }
}
