//! One QuickJS runtime, and one call on it: the function, then an event loop that
//! runs promise jobs, host completions and timers until the function's result settles, its time runs
//! out, or nothing is left that could settle it.
//!
//! Creating a context costs far more than a trivial call, so a context serves many calls, one after
//! another, without letting one call see or change anything of another: `js/lockdown.js` freezes
//! every shared object (the intrinsics, the globals, the BSON classes, the compiled functions), each
//! call gets its own `context`, timers and host calls, the globals a call creates are removed after
//! it, and a context that a call left dirty (queued promise jobs, a global that cannot be removed,
//! a fault) is dropped, not reused. WeakRef and FinalizationRegistry are left out: their callbacks
//! could run during a later call.

use super::convert::{Budget, ConvError, Converter};
use super::http::HttpClients;
use super::natives::{self, Slot};
use super::pool;
use super::{AppInfo, FunctionDef, FunctionError, FunctionHost, HostError, Limits, RequestInfo, RunAs, RunAsScript, UserInfo, Values};
use bson::Bson;
use rquickjs::context::EvalOptions;
use rquickjs::function::Rest;
use rquickjs::promise::PromiseState;
use rquickjs::{Context, Ctx, Function, Module, Object, Runtime, Value};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// The JS globals: `core.js` runs once in every context and loads the others.
const MODULES: [(&str, &str); 6] = [
    ("core", include_str!("js/core.js")),
    ("lockdown", include_str!("js/lockdown.js")),
    ("bson", include_str!("js/bson.js")),
    ("buffer", include_str!("js/buffer.js")),
    ("context", include_str!("js/context.js")),
    ("utils", include_str!("js/utils.js")),
];

/// The JS modules compiled to bytecode (QuickJS reads it in place: it must outlive every runtime).
pub struct Bytecode(Vec<(&'static str, Vec<u8>)>);

impl Bytecode {
    /// The bytecode of module `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, b)| b.as_slice())
    }
}

/// Loads and runs module `name` in `ctx`; returns its default export.
pub fn load_module<'js>(ctx: &Ctx<'js>, code: &Bytecode, name: &str) -> rquickjs::Result<Value<'js>> {
    let bytes = code.get(name).ok_or_else(|| rquickjs::Exception::throw_reference(ctx, &format!("no module {name}")))?;
    // SAFETY: the bytes were written by `Module::write` of this same engine build at start-up
    // (`compile`), and they live in `Shared`, which outlives every runtime.
    let module = unsafe { Module::load(ctx.clone(), bytes) }?;
    let (module, promise) = module.eval()?;
    if promise.state() == PromiseState::Rejected {
        // Re-throw the module's own error.
        return Err(promise.result::<Value>().and_then(Result::err).unwrap_or(rquickjs::Error::Unknown));
    }
    module.namespace()?.get("default")
}

/// A function source wrapped so that evaluating it yields a factory: called with
/// `(exports, module, require)` it runs the source once and returns what the source exported.
/// The source starts on the wrapper's first line, so error line numbers match the file.
pub fn wrap(source: &str) -> String {
    format!("(function (exports, module, require) {{{source}\n;return typeof exports === 'function' ? exports : module.exports;\n}})")
}

fn sloppy() -> EvalOptions {
    let mut o = EvalOptions::default();
    o.strict = false;
    o
}

/// What every worker shares: the functions, values, app, host and limits.
pub struct Shared {
    /// Function name → wrapped source.
    pub sources: HashMap<String, String>,
    /// Function name → wrapped `run_as_user_id_script_source`.
    pub run_as_scripts: HashMap<String, String>,
    /// The definitions (settings).
    pub defs: HashMap<String, FunctionDef>,
    /// `context.values` / `context.environment`.
    pub values: Values,
    /// `context.app`.
    pub app: AppInfo,
    /// MongoDB (and user look-ups) for the functions.
    pub host: Arc<dyn FunctionHost>,
    /// Limits.
    pub limits: Limits,
    /// `context.http`'s clients.
    pub http: HttpClients,
    /// The JS globals' modules.
    pub code: Bytecode,
}

impl Shared {
    /// Evaluates function `name` in `ctx` and returns what it exports (`context.functions.execute`).
    pub fn load<'js>(&self, ctx: &Ctx<'js>, call: &Call, name: &str) -> Result<Function<'js>, ScriptFailure> {
        let source = self.sources.get(name).ok_or_else(|| ScriptFailure::NotFound(name.to_string()))?;
        let realm = call.internals.clone().restore(ctx)?;
        export_of(ctx, &realm, name, name, source)
    }
}

/// Why loading a function failed inside a call.
#[derive(Debug)]
pub enum ScriptFailure {
    /// No such function.
    NotFound(String),
    /// The engine threw (pending exception).
    Js(rquickjs::Error),
    /// The source exports no function.
    NoExport(String),
}

impl From<rquickjs::Error> for ScriptFailure {
    fn from(e: rquickjs::Error) -> ScriptFailure {
        ScriptFailure::Js(e)
    }
}

/// Runs a wrapped source (compiled once per context, under `key`) and returns its exported function.
fn export_of<'js>(ctx: &Ctx<'js>, realm: &Object<'js>, key: &str, name: &str, wrapped: &str) -> Result<Function<'js>, ScriptFailure> {
    let cached: Value = realm.get::<_, Function>("factory")?.call((key,))?;
    let factory = match cached.into_function() {
        Some(f) => f,
        None => {
            let f: Function = ctx.eval_with_options(wrapped, sloppy())?;
            realm.get::<_, Function>("remember")?.call::<_, ()>((key, f.clone()))?;
            f
        }
    };
    let module = Object::new(ctx.clone())?;
    let exports = Object::new(ctx.clone())?;
    module.set("exports", exports.clone())?;
    let require: Value = ctx.globals().get("require")?;
    let exported: Value = factory.call((exports, module, require))?;
    exported.into_function().ok_or_else(|| ScriptFailure::NoExport(name.to_string()))
}

/// Compiles the JS globals to bytecode and checks every source compiles (start-up).
pub fn compile(defs: &[FunctionDef], scripts: &[RunAsScript]) -> Result<Bytecode, crate::config::ConfigError> {
    let internal = |reason: String| crate::config::ConfigError { file: "functions".into(), key: "-".into(), reason };
    let rt = Runtime::new().map_err(|e| internal(format!("cannot start the JavaScript engine: {e}")))?;
    let ctx = Context::full(&rt).map_err(|e| internal(format!("cannot start the JavaScript engine: {e}")))?;
    ctx.with(|ctx| {
        let mut code = Vec::new();
        for (name, source) in MODULES {
            let options = rquickjs::WriteOptions { strip_source: true, ..Default::default() };
            let bytes = Module::declare(ctx.clone(), format!("{name}.js"), source)
                .and_then(|m| m.write(options))
                .map_err(|e| internal(format!("the functions module {name}.js does not compile: {}", caught(&ctx, e))))?;
            code.push((name, bytes));
        }
        let check = |file: &std::path::Path, key: &str, source: &str| -> Result<(), crate::config::ConfigError> {
            match ctx.eval_with_options::<Value, _>(wrap(source), sloppy()) {
                Ok(_) => Ok(()),
                Err(e) => Err(crate::config::ConfigError { file: file.to_path_buf(), key: key.into(), reason: caught(&ctx, e) }),
            }
        };
        for def in defs {
            check(&def.file, "-", &def.source)?;
            if let crate::config::RunAsSetting::Script(source) = &def.run_as {
                check(&def.file, "run_as_user_id_script_source", source)?;
            }
        }
        for script in scripts {
            check(&script.file, &script.key, &script.source)?;
        }
        Ok(Bytecode(code))
    })
}

/// The message of a pending exception (`SyntaxError: … at line N`).
fn caught(ctx: &Ctx<'_>, e: rquickjs::Error) -> String {
    if !e.is_exception() {
        return e.to_string();
    }
    let v = ctx.catch();
    match v.as_exception() {
        Some(ex) => {
            let name: String = ex.get("name").unwrap_or_else(|_| "Error".into());
            let line: Option<i32> = ex.get("lineNumber").ok();
            let message = ex.message().unwrap_or_default();
            match line {
                Some(l) => format!("{name}: {message} (line {l})"),
                None => format!("{name}: {message}"),
            }
        }
        None => format!("{v:?}"),
    }
}

/// Makes QuickJS's stack limit count from this thread's current stack pointer. An engine runs on
/// whichever thread takes it from the pool, and rquickjs (without its `parallel` feature) leaves
/// the limit where the runtime was created: on another thread, every call would overflow at once
/// or never.
fn measure_stack_from_here(ctx: &Ctx<'_>) {
    // SAFETY: this live context's runtime, locked by the `with` we are in.
    unsafe { rquickjs::qjs::JS_UpdateStackTop(rquickjs::qjs::JS_GetRuntime(ctx.as_raw().as_ptr())) }
}

/// Whether an exception is pending in `ctx` (one a job or conversion left behind).
fn has_exception(ctx: &Ctx<'_>) -> bool {
    // SAFETY: only reads the pending-exception slot of this live context's runtime.
    unsafe { rquickjs::qjs::JS_HasException(ctx.as_raw().as_ptr()) }
}

/// What runs: a function, or a function's `run_as_user_id_script_source`.
#[derive(Debug, Clone)]
pub enum Target {
    /// `functions/<name>.js`.
    Function(String),
    /// `functions/<name>.js` answering an HTTPS endpoint: called with `(request, response)` (the
    /// one argument is the request), it gives `{status, headers, body, result}`.
    Endpoint(String),
    /// The run-as script of `<name>`.
    RunAsScript(String),
}

/// Who and what a call is for.
#[derive(Debug, Clone)]
pub struct JobEnv {
    /// `context.user` (None: the system user).
    pub caller: Option<UserInfo>,
    /// Rules apply as this user, or not at all.
    pub run_as: RunAs,
    /// `context.request`.
    pub request: Option<RequestInfo>,
    /// Request id for the log.
    pub request_id: Option<String>,
}

/// One call.
pub struct Job {
    /// What to run.
    pub target: Target,
    /// Its arguments.
    pub args: Vec<Bson>,
    /// Who for.
    pub env: JobEnv,
    /// Where host futures run.
    pub handle: tokio::runtime::Handle,
}

/// State of the call in progress, seen by the natives.
pub struct Call {
    /// The function (for logs and errors).
    pub function: String,
    /// `core.js`'s default export (settle, fire, factory, remember, begin, end): held here, out of
    /// reach of JS, so no call can replace a compiled function or settle another call's work.
    pub internals: rquickjs::Persistent<Object<'static>>,
    /// Who for.
    pub env: JobEnv,
    /// When its time is up.
    pub deadline: Instant,
    /// Where host futures run.
    pub handle: tokio::runtime::Handle,
    /// Completions of host calls.
    pub tx: mpsc::Sender<(u64, Result<Bson, HostError>)>,
    rx: mpsc::Receiver<(u64, Result<Bson, HostError>)>,
    next: Cell<u64>,
    /// Host calls started and not yet settled.
    pub in_flight: Cell<usize>,
    /// Timers by due time.
    pub timers: RefCell<BTreeSet<(Instant, u64)>>,
    /// Timer id → due time.
    pub timer_due: RefCell<HashMap<u64, Instant>>,
    /// Bytes logged so far.
    pub logged: Cell<usize>,
}

impl Call {
    /// A fresh id for a host call or timer.
    pub fn next_id(&self) -> u64 {
        let id = self.next.get() + 1;
        self.next.set(id);
        id
    }
}

/// Tells the interrupt handler when the running call's time is up, and when it has run long
/// enough in place to hand its thread's other tasks away (see `pool`).
struct Clock {
    base: Instant,
    /// Deadline in ns since `base`; 0 when no call runs.
    deadline: AtomicU64,
    /// Next hand-off in ns since `base`; 0 when no call runs.
    hand_off_at: AtomicU64,
    fired: AtomicBool,
}

/// A call runs this long in place before its thread's other tasks go elsewhere, and hands them
/// away again this often while it runs (a hand-off may not take: see `pool::hand_off`).
const IN_PLACE_BUDGET: Duration = Duration::from_millis(1);
const HAND_OFF_EVERY: Duration = Duration::from_millis(2);

impl Clock {
    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn arm(&self, deadline: Instant) {
        self.fired.store(false, Ordering::Relaxed);
        let ns = deadline.saturating_duration_since(self.base).as_nanos().max(1);
        self.deadline.store(u64::try_from(ns).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.hand_off_at.store(self.now().saturating_add(IN_PLACE_BUDGET.as_nanos() as u64), Ordering::Relaxed);
    }

    fn disarm(&self) {
        self.deadline.store(0, Ordering::Relaxed);
        self.hand_off_at.store(0, Ordering::Relaxed);
    }

    /// The interrupt handler: whether to stop the call.
    fn tick(&self) -> bool {
        let d = self.deadline.load(Ordering::Relaxed);
        if d == 0 {
            return false;
        }
        let now = self.now();
        if now >= d {
            self.fired.store(true, Ordering::Relaxed);
            return true;
        }
        if now >= self.hand_off_at.load(Ordering::Relaxed) {
            self.hand_off_at.store(now.saturating_add(HAND_OFF_EVERY.as_nanos() as u64), Ordering::Relaxed);
            pool::hand_off();
        }
        false
    }
}

/// A context with `core.js` loaded and locked down, serving calls one after the other.
struct Realm {
    ctx: Context,
    slot: Slot,
    internals: rquickjs::Persistent<Object<'static>>,
    uses: u32,
}

/// Calls one context serves before it is replaced (bounds anything that slowly accumulates).
const MAX_USES: u32 = 10_000;

/// One runtime and its context.
pub struct Engine {
    // Field order is drop order: contexts before their runtime.
    realm: Option<Realm>,
    rt: Runtime,
    clock: Arc<Clock>,
    shared: Arc<Shared>,
    /// Set after a fault (timeout, memory, stack, engine error): the worker makes a new engine.
    pub faulted: bool,
    calls: u64,
}

/// Heap growth between two garbage collections (at most; an eighth of the memory limit).
const GC_THRESHOLD: usize = 16 * 1024 * 1024;

/// Runtime memory between calls above which the runtime is collected (and replaced if that does
/// not help); an idle runtime with its spare context uses well under 1 MB.
const LEAK_MARGIN: i64 = 8 * 1024 * 1024;

impl Engine {
    /// A new runtime with the limits applied.
    pub fn new(shared: Arc<Shared>) -> Result<Engine, FunctionError> {
        let rt = Runtime::new_with_alloc(rquickjs::allocator::RustAllocator).map_err(|e| FunctionError::Internal(format!("cannot start the JavaScript engine: {e}")))?;
        rt.set_memory_limit(shared.limits.memory_bytes);
        rt.set_max_stack_size(shared.limits.stack_bytes);
        // Every finished call leaves its context as cyclic garbage: collect it in batches.
        rt.set_gc_threshold((shared.limits.memory_bytes / 8).clamp(1 << 20, GC_THRESHOLD));
        let clock = Arc::new(Clock { base: Instant::now(), deadline: AtomicU64::new(0), hand_off_at: AtomicU64::new(0), fired: AtomicBool::new(false) });
        let handler_clock = clock.clone();
        rt.set_interrupt_handler(Some(Box::new(move || handler_clock.tick())));
        Ok(Engine { realm: None, rt, clock, shared, faulted: false, calls: 0 })
    }

    /// Makes the context now (between calls), so the next call does not wait for it.
    pub fn prepare(&mut self) {
        if self.realm.is_none() && !self.faulted {
            match self.make_realm() {
                Ok(r) => self.realm = Some(r),
                Err(e) => {
                    tracing::error!("functions: cannot prepare a context: {e}");
                    self.faulted = true;
                }
            }
        }
    }

    fn make_realm(&self) -> Result<Realm, FunctionError> {
        use rquickjs::context::intrinsic::{BigInt, Date, Eval, Json, MapSet, Performance, Promise, Proxy, RegExp, RegExpCompiler, TypedArrays};
        // Every standard intrinsic but WeakRef/FinalizationRegistry (see the module comment).
        let ctx = Context::custom::<(Date, Eval, RegExpCompiler, RegExp, Json, Proxy, MapSet, TypedArrays, Promise, BigInt, Performance)>(&self.rt)
            .map_err(|e| FunctionError::Internal(format!("cannot create a context: {e}")))?;
        let slot: Slot = Rc::new(RefCell::new(None));
        let shared = self.shared.clone();
        let internals = ctx.with(|c| -> Result<_, FunctionError> {
            measure_stack_from_here(&c);
            let fail = |e: rquickjs::Error| FunctionError::Internal(format!("cannot load the JS globals: {}", caught(&c, e)));
            natives::install(&c, slot.clone(), shared.clone()).map_err(fail)?;
            let internals = load_module(&c, &shared.code, "core").map_err(fail)?;
            let internals = internals.into_object().ok_or_else(|| FunctionError::Internal("core.js exports no object".into()))?;
            Ok(rquickjs::Persistent::save(&c, internals))
        })?;
        Ok(Realm { ctx, slot, internals, uses: 0 })
    }

    /// Runs one call.
    pub fn run(&mut self, job: &Job) -> Result<Bson, FunctionError> {
        let mut realm = match self.realm.take() {
            Some(r) => r,
            None => pool::blocking(|| self.make_realm())?,
        };
        let (key, name, source) = match &job.target {
            Target::Function(n) | Target::Endpoint(n) => (n.clone(), n.clone(), self.shared.sources.get(n)),
            Target::RunAsScript(n) => (format!("\u{0}run-as {n}"), format!("{n} (run_as_user_id_script_source)"), self.shared.run_as_scripts.get(n)),
        };
        let Some(source) = source.cloned() else { return Err(FunctionError::NotFound(name)) };
        let deadline = Instant::now() + self.shared.limits.timeout;
        let (tx, rx) = mpsc::channel();
        let call = Rc::new(Call {
            function: name.clone(),
            internals: realm.internals.clone(),
            env: job.env.clone(),
            deadline,
            handle: job.handle.clone(),
            tx,
            rx,
            next: Cell::new(0),
            in_flight: Cell::new(0),
            timers: RefCell::new(BTreeSet::new()),
            timer_due: RefCell::new(HashMap::new()),
            logged: Cell::new(0),
        });
        *realm.slot.borrow_mut() = Some(call.clone());
        self.clock.arm(deadline);
        let endpoint = matches!(job.target, Target::Endpoint(_));
        let (outcome, reusable) = realm.ctx.with(|ctx| {
            measure_stack_from_here(&ctx);
            let outcome = self.call_in(&ctx, &call, (&key, &name, &source, endpoint), &job.args);
            (outcome, self.finish(&ctx, &call))
        });
        self.clock.disarm();
        *realm.slot.borrow_mut() = None;
        realm.uses += 1;
        let faulted = matches!(outcome, Err(FunctionError::Timeout { .. } | FunctionError::OutOfMemory { .. } | FunctionError::StackOverflow { .. } | FunctionError::Internal(_)));
        if faulted {
            self.faulted = true;
        } else if reusable && realm.uses < MAX_USES {
            self.realm = Some(realm);
        }
        // Now and then, check the runtime does not keep growing (measuring walks the whole heap).
        self.calls += 1;
        if self.calls.is_multiple_of(256) && self.rt.memory_usage().malloc_size > LEAK_MARGIN {
            self.rt.run_gc();
            if self.rt.memory_usage().malloc_size > LEAK_MARGIN {
                self.faulted = true;
            }
        }
        outcome
    }

    /// Starts the call in the context's JS state, runs it. `what` is the cache key, name, source,
    /// and whether the function answers an endpoint.
    fn call_in<'js>(&self, ctx: &Ctx<'js>, call: &Call, what: (&str, &str, &str, bool), args: &[Bson]) -> Result<Bson, FunctionError> {
        let (key, name, source, endpoint) = what;
        let realm = call.internals.clone().restore(ctx).map_err(|e| self.failure(ctx, name, e))?;
        let begin = realm.get::<_, Function>("begin").and_then(|f| f.call::<_, ()>(()));
        begin.map_err(|e| self.failure(ctx, name, e))?;
        self.execute(ctx, &realm, call, key, name, source, args, endpoint)
    }

    /// Ends the call: removes the globals it created. Whether the context can serve another call:
    /// not when the call left work queued (its promise jobs would run in the next call) or a
    /// global that cannot be removed.
    fn finish(&self, ctx: &Ctx<'_>, call: &Call) -> bool {
        // SAFETY: reads the job queue of this live context's runtime.
        let jobs = unsafe { rquickjs::qjs::JS_IsJobPending(rquickjs::qjs::JS_GetRuntime(ctx.as_raw().as_ptr())) };
        if jobs || has_exception(ctx) || self.clock.fired.load(Ordering::Relaxed) {
            return false;
        }
        let end = call.internals.clone().restore(ctx).and_then(|r| r.get::<_, Function>("end")).and_then(|f| f.call::<_, bool>(()));
        matches!(end, Ok(true)) && !has_exception(ctx)
    }

    #[allow(clippy::too_many_arguments)]
    fn execute<'js>(&self, ctx: &Ctx<'js>, realm: &Object<'js>, call: &Call, key: &str, name: &str, source: &str, args: &[Bson], endpoint: bool) -> Result<Bson, FunctionError> {
        let limits = &self.shared.limits;
        let fail = |e: rquickjs::Error| self.failure(ctx, name, e);
        let f = export_of(ctx, realm, key, name, source).map_err(|e| match e {
            ScriptFailure::Js(e) => fail(e),
            ScriptFailure::NotFound(n) => FunctionError::NotFound(n),
            ScriptFailure::NoExport(n) => FunctionError::Execution {
                name: "TypeError".into(),
                message: format!("function '{n}' exports no function: its source must set `exports = function (...) {{...}}`"),
            },
        })?;
        let mut conv = Converter::new(ctx);
        let js_args: Vec<Value> = args.iter().map(|a| conv.js(a)).collect::<rquickjs::Result<_>>().map_err(fail)?;
        let returned: Value = if endpoint {
            // core.js's `endpoint` gives the function `(request, response)` and collects the answer.
            let request = js_args.into_iter().next().unwrap_or_else(|| Value::new_undefined(ctx.clone()));
            realm.get::<_, Function>("endpoint").and_then(|e| e.call((f, request))).map_err(fail)?
        } else {
            f.call((Rest(js_args),)).map_err(fail)?
        };
        let result = match returned.as_promise() {
            None => returned.clone(),
            Some(promise) => loop {
                while ctx.execute_pending_job() {}
                if has_exception(ctx) {
                    return Err(fail(rquickjs::Error::Exception));
                }
                if self.clock.fired.load(Ordering::Relaxed) {
                    return Err(self.timeout(name));
                }
                match promise.state() {
                    PromiseState::Resolved => break promise.result::<Value>().unwrap_or_else(|| Ok(Value::new_undefined(ctx.clone()))).map_err(fail)?,
                    PromiseState::Rejected => {
                        let reason = promise.result::<Value>().map(|r| r.err()).unwrap_or(None);
                        return Err(reason.map_or_else(|| FunctionError::Internal("rejected without a reason".into()), fail));
                    }
                    PromiseState::Pending => self.wait(ctx, realm, call, name)?,
                }
            },
        };
        let mut budget = Budget::new(limits.max_result_bytes);
        let value = conv.bson(&result, &mut budget).map_err(|e| match e {
            ConvError::TooLarge(limit) => FunctionError::ResultTooLarge { function: name.to_string(), limit },
            ConvError::TooDeep => FunctionError::Execution {
                name: "TypeError".into(),
                message: format!("the result nests deeper than {} levels (or refers to itself)", super::convert::MAX_DEPTH),
            },
            ConvError::Invalid(what) => FunctionError::Execution { name: "TypeError".into(), message: format!("cannot return {what}") },
            ConvError::Js(e) => fail(e),
        })?;
        // A getter or proxy trap may have thrown during the conversion.
        if has_exception(ctx) {
            return Err(fail(rquickjs::Error::Exception));
        }
        Ok(value)
    }

    /// Waits for the next host completion or timer and hands it to JS.
    fn wait<'js>(&self, ctx: &Ctx<'js>, realm: &Object<'js>, call: &Call, name: &str) -> Result<(), FunctionError> {
        let now = Instant::now();
        if now >= call.deadline {
            return Err(self.timeout(name));
        }
        let next_timer = call.timers.borrow().first().copied();
        if call.in_flight.get() == 0 && next_timer.is_none() {
            return Err(FunctionError::NeverSettled { function: name.to_string() });
        }
        let until = next_timer.map_or(call.deadline, |(due, _)| due.min(call.deadline));
        // A completion already there (a host call that answered at once) needs no hand-off.
        let next = match call.rx.try_recv() {
            Ok(done) => Ok(done),
            Err(mpsc::TryRecvError::Empty) => pool::blocking(|| call.rx.recv_timeout(until.saturating_duration_since(now))),
            Err(mpsc::TryRecvError::Disconnected) => Err(mpsc::RecvTimeoutError::Disconnected),
        };
        match next {
            Ok((id, result)) => {
                call.in_flight.set(call.in_flight.get().saturating_sub(1));
                let settle: Function = realm.get("settle").map_err(|e| self.failure(ctx, name, e))?;
                let mut conv = Converter::new(ctx);
                let (ok, value) = match result {
                    Ok(v) => (true, conv.js(&v)),
                    Err(e) => (false, conv.js(&Bson::Document(natives::host_error_doc(&e)))),
                };
                let value = value.map_err(|e| self.failure(ctx, name, e))?;
                settle.call::<_, ()>((id as f64, ok, value)).map_err(|e| self.failure(ctx, name, e))?;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(FunctionError::Internal("host completion channel closed".into())),
        }
        // Timers that are due run even while completions keep arriving.
        let now = Instant::now();
        if now >= call.deadline {
            return Err(self.timeout(name));
        }
        let fire: Function = realm.get("fire").map_err(|e| self.failure(ctx, name, e))?;
        loop {
            let due = call.timers.borrow().first().copied();
            let Some((at, id)) = due.filter(|(at, _)| *at <= now) else { break };
            call.timers.borrow_mut().remove(&(at, id));
            call.timer_due.borrow_mut().remove(&id);
            fire.call::<_, ()>((id as f64,)).map_err(|e| self.failure(ctx, name, e))?;
        }
        Ok(())
    }

    fn timeout(&self, name: &str) -> FunctionError {
        FunctionError::Timeout { function: name.to_string(), secs: self.shared.limits.timeout.as_secs_f64() }
    }

    /// What a thrown exception (or engine error) means for the caller.
    fn failure(&self, ctx: &Ctx<'_>, name: &str, e: rquickjs::Error) -> FunctionError {
        if self.clock.fired.load(Ordering::Relaxed) {
            let _ = ctx.catch();
            return self.timeout(name);
        }
        let memory = || FunctionError::OutOfMemory { function: name.to_string(), limit_mb: self.shared.limits.memory_bytes / (1024 * 1024) };
        if matches!(e, rquickjs::Error::Allocation) {
            return memory();
        }
        if !e.is_exception() {
            return FunctionError::Internal(e.to_string());
        }
        let thrown = ctx.catch();
        if let Some(err) = thrown.as_exception() {
            let kind: String = err.get("name").unwrap_or_else(|_| "Error".into());
            let message = err.message().unwrap_or_default();
            if kind == "InternalError" && message == "out of memory" {
                return memory();
            }
            if kind == "RangeError" && message == "Maximum call stack size exceeded" {
                return FunctionError::StackOverflow { function: name.to_string() };
            }
            return FunctionError::Execution { name: kind, message };
        }
        if thrown.is_null() && self.rt.memory_usage().malloc_size as usize + 1024 * 1024 >= self.shared.limits.memory_bytes {
            return memory();
        }
        // A thrown non-Error value: its text (a string as is, anything else as EJSON).
        let message = match thrown.as_string() {
            Some(s) => s.to_string().unwrap_or_default(),
            None => Converter::new(ctx)
                .bson(&thrown, &mut Budget::new(64 * 1024))
                .map(|b| b.into_relaxed_extjson().to_string())
                .unwrap_or_else(|_| "a value that cannot be shown".into()),
        };
        FunctionError::Execution { name: String::new(), message }
    }
}
