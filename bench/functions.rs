//! The Functions runtime alone (no HTTP): calls/s and p99 latency of a trivial function with 16
//! concurrent callers, the first call of a 10 KB function after start-up, a `findOne` through
//! `context.services` against the same `findOne` sent to the host directly, and the process's
//! RSS over 1,000 calls in a row.
//!
//! `cargo run --release -p realm-wasm-server --example functions_bench` (numbers go to BENCHMARKS.md).

#[path = "../server/tests/functions_host/mod.rs"]
mod functions_host;

use bson::{doc, Bson};
use functions_host::Host;
use realm_wasm_server::{AppInfo, CallEnv, FunctionDef, FunctionHost, FunctionLimits as Limits, Functions, RuleSet, RunAs, UserInfo, Values};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CALLERS: usize = 16;
const CALLS: usize = 40_000;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// CPU time this process has used (user + system), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0) + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A 10 KB function: a real-looking body of helpers, one of which is used.
fn ten_kb_source() -> String {
    let mut s = String::from("exports = function (a, b) { return helper0(a) + b; };\n");
    let mut i = 0;
    while s.len() < 10 * 1024 {
        s.push_str(&format!(
            "function helper{i}(x) {{ const y = x * {i}; if (y > 10) {{ return y - 1; }} return [y, 'text {i}', {{ k: y }}].length + x; }}\n"
        ));
        i += 1;
    }
    s
}

fn main() {
    // The server's runtime, and on one of its workers: calls run in place, as in the server.
    let rt = realm_wasm_server::runtime_builder().build().expect("tokio");
    rt.block_on(async { tokio::spawn(run()).await.expect("bench") });
}

async fn run() {
    let defs = vec![
        FunctionDef::new("sum", "exports = function (a, b) { return a + b; };"),
        FunctionDef::new("big", &ten_kb_source()),
        FunctionDef::new("findOne", "exports = (id) => context.services.get('mongodb-atlas').db('bench').collection('docs').findOne({ _id: id });"),
    ];
    let host = Arc::new(Host::new(RuleSet::default_app()));
    let app = AppInfo { id: "bench".into(), name: "bench".into(), mongo_services: vec!["mongodb-atlas".into()], ..AppInfo::default() };
    let limits = Limits::default();
    let pool = limits.pool_size;
    let started = Instant::now();
    let functions = Arc::new(Functions::new(defs, Values::default(), app, host.clone(), limits).expect("functions"));
    let startup = started.elapsed();
    let user = CallEnv::client(UserInfo::with_id("bench-user"), None);

    // First call of a 10 KB function right after start-up.
    let t = Instant::now();
    let r = functions.call("big", vec![Bson::Int32(1), Bson::Int32(2)], user.clone()).await;
    let first_big = t.elapsed();
    assert!(r.is_ok(), "{r:?}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t = Instant::now();
    functions.call("big", vec![Bson::Int32(1), Bson::Int32(2)], user.clone()).await.expect("big");
    let second_big = t.elapsed();

    // Trivial calls, 16 callers.
    for i in 0..2000 {
        functions.call("sum", vec![Bson::Int32(i), Bson::Int32(1)], user.clone()).await.expect("warm-up");
    }
    let t = Instant::now();
    let cpu_before = cpu_time();
    let mut tasks = Vec::new();
    for c in 0..CALLERS {
        let (f, env) = (functions.clone(), user.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(CALLS / CALLERS);
            for i in 0..CALLS / CALLERS {
                let s = Instant::now();
                let r = f.call("sum", vec![Bson::Int32(i as i32), Bson::Int32(c as i32)], env.clone()).await;
                lat.push(s.elapsed());
                assert_eq!(r, Ok(Bson::Int32((i + c) as i32)));
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for task in tasks {
        lat.extend(task.await.expect("caller"));
    }
    let wall = t.elapsed();
    let cpu_per_call = (cpu_time() - cpu_before) / CALLS as u32;
    lat.sort();

    // findOne: through a function vs the host directly (one caller, so latency is latency).
    host.mongo(&RunAs::System, "mongodb-atlas", "insertMany", doc! {"database": "bench", "collection": "docs", "documents": (0..1000).map(|i| Bson::Document(doc! {"_id": i, "n": i, "s": "some text"})).collect::<Vec<_>>()})
        .await
        .expect("seed");
    let run_as = RunAs::User(UserInfo::with_id("bench-user"));
    let n = 3000;
    let mut direct = Vec::with_capacity(n);
    let mut via_fn = Vec::with_capacity(n);
    for i in 0..n {
        let id = (i % 1000) as i32;
        let s = Instant::now();
        host.mongo(&run_as, "mongodb-atlas", "findOne", doc! {"database": "bench", "collection": "docs", "query": {"_id": id}}).await.expect("direct");
        direct.push(s.elapsed());
        let s = Instant::now();
        let r = functions.call("findOne", vec![Bson::Int32(id)], user.clone()).await.expect("via function");
        via_fn.push(s.elapsed());
        assert!(r.as_document().is_some());
    }
    direct.sort();
    via_fn.sort();
    // A trivial call with one caller: the fixed cost of a call (queue, worker, answer).
    let mut single = Vec::with_capacity(n);
    for i in 0..n {
        let s = Instant::now();
        functions.call("sum", vec![Bson::Int32(i as i32), Bson::Int32(1)], user.clone()).await.expect("sum");
        single.push(s.elapsed());
    }
    single.sort();

    // RSS over 1,000 calls in a row (after the runs above warmed every runtime).
    let before = rss_kb();
    for i in 0..1000 {
        functions.call("findOne", vec![Bson::Int32(i % 1000)], user.clone()).await.expect("findOne");
        functions.call("sum", vec![Bson::Int32(i), Bson::Int32(i)], user.clone()).await.expect("sum");
    }
    let after = rss_kb();

    println!("functions runtime bench ({} cores, pool of {pool} runtimes)", std::thread::available_parallelism().map_or(0, |n| n.get()));
    println!("  start-up (compile + start the pool):        {:.2} ms", startup.as_secs_f64() * 1e3);
    println!("  first call of a 10 KB function:              {:.2} ms (second call {:.2} ms)", first_big.as_secs_f64() * 1e3, second_big.as_secs_f64() * 1e3);
    println!(
        "  trivial function, {CALLERS} callers:              {:.0} calls/s; p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({CALLS} calls)",
        CALLS as f64 / wall.as_secs_f64(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
    println!(
        "  CPU per trivial call (all threads):         {:.1} µs, i.e. at most {:.0} calls/s on 2 idle cores",
        cpu_per_call.as_secs_f64() * 1e6,
        2.0 / cpu_per_call.as_secs_f64()
    );
    println!(
        "  findOne direct / via function (p50):        {:.3} ms / {:.3} ms ({:.2}x); p99 {:.3} / {:.3} ms",
        percentile(&direct, 0.5).as_secs_f64() * 1e3,
        percentile(&via_fn, 0.5).as_secs_f64() * 1e3,
        percentile(&via_fn, 0.5).as_secs_f64() / percentile(&direct, 0.5).as_secs_f64(),
        percentile(&direct, 0.99).as_secs_f64() * 1e3,
        percentile(&via_fn, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "  trivial call, one caller (p50 / p99):        {:.3} / {:.3} ms",
        percentile(&single, 0.5).as_secs_f64() * 1e3,
        percentile(&single, 0.99).as_secs_f64() * 1e3
    );
    println!("  RSS over 2x1,000 calls:                      {before} kB -> {after} kB ({:+} kB)", after as i64 - before as i64);
}
