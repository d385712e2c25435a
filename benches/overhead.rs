//! Client-side overhead of redlua against raw redis-rs.
//!
//! `cargo bench --bench overhead` starts its own `redis-server` (through
//! `redlua::testing::RedisServer`), pins it to one CPU and this benchmark's
//! thread to another (with `taskset`, when there are two CPUs), runs every
//! variant for `BENCH_SECS` seconds `BENCH_REPS` times (each measurement cut
//! into `BENCH_SLICES` slices interleaved with the other variants'), and
//! prints the median throughput and its ratio to raw redis-rs measured in
//! the same run, as Markdown tables:
//!
//! 1. hot sequential call on one sync connection: redlua `invoke` against
//!    `redis::cmd("EVALSHA")` with the SHA at hand and `redis::Script`;
//! 2. the same through `invoke_async`, `BENCH_TASKS` concurrent tasks on one
//!    `MultiplexedConnection` (Tokio current-thread runtime);
//! 3. pipelines of 16 script calls against a raw 16-`EVALSHA` `redis::Pipeline`;
//! 4. the NOSCRIPT path: throughput with a `SCRIPT FLUSH` every 100 calls,
//!    and what a miss costs (client round trips, `INFO commandstats`);
//! 5. allocations per call (a counting global allocator) and client CPU per
//!    call (`getrusage(RUSAGE_THREAD)`, user + sys), plus the client-only
//!    cost: CPU ns per call against an in-memory connection, no I/O;
//! 6. the reload storm: after a `SCRIPT FLUSH`, `BENCH_STORM` concurrent
//!    `invoke_async` callers on one `MultiplexedConnection`: the time until
//!    all have answered, and the `SCRIPT LOAD`s they sent, for redlua and
//!    `redis::Script::invoke_async`, `BENCH_STORM_WAVES` flushes each;
//! 7. Redis Functions: a hot `#[redis_function]` call (`FCALL`) against the
//!    same script's hot `EVALSHA` and a raw `redis::cmd("FCALL")` (Redis
//!    7.0+ and Valkey; skipped, saying so, on older servers);
//! 8. Redis Cluster (three primaries of their own, unpinned): a batch of
//!    `BENCH_PIPE` script calls whose keys span every node (split by slot,
//!    sent concurrently) against the same calls one by one and all at once,
//!    through redlua and raw redis-rs (which has no cross-node script
//!    batch: its async cluster pipeline refuses keys of several slots); and
//!    a one-slot batch against raw redis-rs's one-slot pipeline.
//!
//! Ratios are paired: each repetition's slices of the compared variants ran
//! interleaved, so their rates are divided repetition by repetition and the
//! median (and range) of those ratios is printed.
//!
//! Pinning: the defaults put the server on CPU 1 and the client on CPU 0.
//! On a small VM a cross-CPU wake-up can cost far more than the work (a
//! 2-vCPU Firecracker VM did ~13k sync calls/s that way and ~60k/s with
//! `BENCH_SERVER_CPU=0`, both on CPU 0), which hides client-side costs;
//! try both there.
//!
//! Environment (all optional):
//!
//! | variable            | default | meaning                                             |
//! |---------------------|---------|-----------------------------------------------------|
//! | `BENCH_SECS`        | 2       | seconds per measurement                             |
//! | `BENCH_REPS`        | 5       | measurements per variant (the median is reported)   |
//! | `BENCH_SLICES`      | 20      | slices per measurement, interleaved across variants |
//! | `BENCH_WARMUP_SECS` | 0.2     | unmeasured warm-up of each variant before its table |
//! | `BENCH_TASKS`       | 64      | concurrent tasks in case 2                          |
//! | `BENCH_PIPE`        | 16      | calls per pipeline in case 3                        |
//! | `BENCH_FLUSH_EVERY` | 100     | calls between `SCRIPT FLUSH`es in case 4            |
//! | `BENCH_MISSES`      | 200     | misses counted for the round-trip table of case 4   |
//! | `BENCH_ALLOC_CALLS` | 10000   | calls counted for allocations per call in case 5    |
//! | `BENCH_STORM`       | 1000    | concurrent callers per wave in case 6               |
//! | `BENCH_STORM_WAVES` | 5       | `SCRIPT FLUSH` waves per client in case 6           |
//! | `BENCH_CASES`       | 1,2,3,4,5,6,7,8 | which cases to run                          |
//! | `BENCH_PIN`         | 1       | 0: do not pin                                       |
//! | `BENCH_CLIENT_CPU`  | 0       | CPU for this benchmark's thread                     |
//! | `BENCH_SERVER_CPU`  | 1       | CPU for redis-server                                |
//!
//! This is a benchmark, not a test: it fails only when a call fails; the
//! targets at the end of its output are reported, not enforced.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Value};
use redlua::testing::{RedisServer, RoundTrips};
use redlua::{redis_function, redis_script};

// ---------------------------------------------------------------------------
// The scripts

#[redis_script("bench/incr.lua")]
fn incr(key: &str) -> i64;

/// Case 7: the script of `incr` as a Redis Function.
#[redis_function("bench/incr.lua")]
fn incr_function(key: &str) -> i64;

#[redis_script("bench/four.lua")]
fn four(user: &str, ids: &str, status: &str, message: &str) -> i64;

const K_INCR: &str = "bench:counter";
const K_USER: &str = "bench:user:1";
const K_IDS: &str = "bench:status:id";
const K_STATUS: &str = "bench:status:last";
const MESSAGE: &str = "hello from the overhead benchmark";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lua {
    Incr,
    Four,
}

impl Lua {
    const ALL: [Lua; 2] = [Lua::Incr, Lua::Four];

    fn name(self) -> &'static str {
        match self {
            Lua::Incr => "incr (1 cmd)",
            Lua::Four => "four (4 cmds)",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Lua::Incr => "incr",
            Lua::Four => "four",
        }
    }
}

/// What raw redis-rs needs: the SHAs and `redis::Script`s of the same
/// assembled sources redlua sends (so all clients share one cached script).
struct Raw {
    incr_sha: &'static str,
    four_sha: &'static str,
    incr: redis::Script,
    four: redis::Script,
}

static RAW: OnceLock<Raw> = OnceLock::new();

fn raw() -> &'static Raw {
    RAW.get_or_init(|| {
        let i = incr("").script();
        let f = four("", "", "", "").script();
        let raw = Raw {
            incr_sha: i.sha1(),
            four_sha: f.sha1(),
            incr: redis::Script::new(i.source()),
            four: redis::Script::new(f.source()),
        };
        assert_eq!(raw.incr.get_hash(), raw.incr_sha, "incr: SHA differs");
        assert_eq!(raw.four.get_hash(), raw.four_sha, "four: SHA differs");
        raw
    })
}

impl Lua {
    fn sha(self) -> &'static str {
        match self {
            Lua::Incr => raw().incr_sha,
            Lua::Four => raw().four_sha,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Client {
    /// redlua `invoke` / `invoke_async`.
    Redlua,
    /// `redis::cmd("EVALSHA")` with the SHA at hand; no NOSCRIPT handling.
    RawEvalsha,
    /// `redis::Script` (`key(..).arg(..).invoke(..)`).
    RedisScript,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Redlua => "redlua `invoke`",
            Client::RawEvalsha => "raw `cmd(\"EVALSHA\")`",
            Client::RedisScript => "`redis::Script::invoke`",
        }
    }

    fn name_async(self) -> &'static str {
        match self {
            Client::Redlua => "redlua `invoke_async`",
            Client::RawEvalsha => "raw `cmd(\"EVALSHA\").query_async`",
            Client::RedisScript => "`redis::Script::invoke_async`",
        }
    }
}

// ---------------------------------------------------------------------------
// One call of each kind. Everything a caller builds per call is built here
// per call, for every client alike.

#[inline(never)]
fn call_sync<C: redis::ConnectionLike>(con: &mut C, lua: Lua, client: Client) -> i64 {
    match (lua, client) {
        (Lua::Incr, Client::Redlua) => incr(K_INCR).invoke(con).expect("incr"),
        (Lua::Incr, Client::RawEvalsha) => redis::cmd("EVALSHA")
            .arg(raw().incr_sha)
            .arg(1)
            .arg(K_INCR)
            .query(con)
            .expect("EVALSHA incr"),
        (Lua::Incr, Client::RedisScript) => {
            raw().incr.key(K_INCR).invoke(con).expect("Script incr")
        }
        (Lua::Four, Client::Redlua) => four(K_USER, K_IDS, K_STATUS, MESSAGE)
            .invoke(con)
            .expect("four"),
        (Lua::Four, Client::RawEvalsha) => redis::cmd("EVALSHA")
            .arg(raw().four_sha)
            .arg(3)
            .arg(K_USER)
            .arg(K_IDS)
            .arg(K_STATUS)
            .arg(MESSAGE)
            .query(con)
            .expect("EVALSHA four"),
        (Lua::Four, Client::RedisScript) => raw()
            .four
            .key(K_USER)
            .key(K_IDS)
            .key(K_STATUS)
            .arg(MESSAGE)
            .invoke(con)
            .expect("Script four"),
    }
}

async fn call_async<C: redis::aio::ConnectionLike + Send>(
    con: &mut C,
    lua: Lua,
    client: Client,
) -> i64 {
    match (lua, client) {
        (Lua::Incr, Client::Redlua) => incr(K_INCR).invoke_async(con).await.expect("incr"),
        (Lua::Incr, Client::RawEvalsha) => redis::cmd("EVALSHA")
            .arg(raw().incr_sha)
            .arg(1)
            .arg(K_INCR)
            .query_async(con)
            .await
            .expect("EVALSHA incr"),
        (Lua::Incr, Client::RedisScript) => raw()
            .incr
            .key(K_INCR)
            .invoke_async(con)
            .await
            .expect("Script incr"),
        (Lua::Four, Client::Redlua) => four(K_USER, K_IDS, K_STATUS, MESSAGE)
            .invoke_async(con)
            .await
            .expect("four"),
        (Lua::Four, Client::RawEvalsha) => redis::cmd("EVALSHA")
            .arg(raw().four_sha)
            .arg(3)
            .arg(K_USER)
            .arg(K_IDS)
            .arg(K_STATUS)
            .arg(MESSAGE)
            .query_async(con)
            .await
            .expect("EVALSHA four"),
        (Lua::Four, Client::RedisScript) => raw()
            .four
            .key(K_USER)
            .key(K_IDS)
            .key(K_STATUS)
            .arg(MESSAGE)
            .invoke_async(con)
            .await
            .expect("Script four"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PipeClient {
    /// `redlua::pipe()` as is: one `SCRIPT LOAD` per distinct script ahead.
    Redlua,
    /// `redlua::pipe()` with `assume_loaded()`: the calls only.
    RedluaAssumeLoaded,
    Raw,
}

impl PipeClient {
    fn name(self) -> &'static str {
        match self {
            PipeClient::Redlua => "redlua `pipe()` (+1 SCRIPT LOAD)",
            PipeClient::RedluaAssumeLoaded => "redlua `pipe().assume_loaded()`",
            PipeClient::Raw => "raw `redis::Pipeline` of EVALSHA",
        }
    }
}

/// One pipeline of `n` calls; returns the last reply.
#[inline(never)]
fn call_pipe<C: redis::ConnectionLike>(con: &mut C, lua: Lua, client: PipeClient, n: usize) -> i64 {
    match client {
        PipeClient::Raw => {
            let mut p = redis::pipe();
            for _ in 0..n {
                match lua {
                    Lua::Incr => p.cmd("EVALSHA").arg(raw().incr_sha).arg(1).arg(K_INCR),
                    Lua::Four => p
                        .cmd("EVALSHA")
                        .arg(raw().four_sha)
                        .arg(3)
                        .arg(K_USER)
                        .arg(K_IDS)
                        .arg(K_STATUS)
                        .arg(MESSAGE),
                };
            }
            let replies: Vec<i64> = p.query(con).expect("raw pipeline");
            assert_eq!(replies.len(), n);
            replies[n - 1]
        }
        PipeClient::Redlua => redlua_pipe(con, lua, n, false),
        PipeClient::RedluaAssumeLoaded => redlua_pipe(con, lua, n, true),
    }
}

/// A redlua pipeline of `n` calls, every reply decoded; `assume_loaded`
/// drops the `SCRIPT LOAD` a `redlua::pipe()` batch sends by default.
fn redlua_pipe<C: redis::ConnectionLike>(
    con: &mut C,
    lua: Lua,
    n: usize,
    assume_loaded: bool,
) -> i64 {
    let mut p = redlua::Pipeline::with_capacity(n);
    if assume_loaded {
        p.assume_loaded();
    }
    let mut handles = Vec::with_capacity(n);
    for _ in 0..n {
        handles.push(match lua {
            Lua::Incr => p.add(incr(K_INCR)),
            Lua::Four => p.add(four(K_USER, K_IDS, K_STATUS, MESSAGE)),
        });
    }
    let results = p.query(con).expect("redlua pipeline");
    let mut last = 0;
    for h in handles {
        last = results.get(h).expect("redlua pipeline entry");
    }
    last
}

// ---------------------------------------------------------------------------
// Counting allocator: a per-thread count of allocator calls that hand out
// memory (alloc, alloc_zeroed, realloc), and of the bytes requested.

struct CountingAlloc;

thread_local! {
    // `const` with no destructor: accessing these never allocates.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static ALLOC_BYTES: Cell<u64> = const { Cell::new(0) };
}

#[inline]
fn note_alloc(size: usize) {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    let _ = ALLOC_BYTES.try_with(|c| c.set(c.get() + size as u64));
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn alloc_counts() -> (u64, u64) {
    (ALLOCS.with(Cell::get), ALLOC_BYTES.with(Cell::get))
}

// ---------------------------------------------------------------------------
// Client CPU time of the calling thread (user + sys).

fn thread_cpu() -> Duration {
    #[cfg(target_os = "linux")]
    const WHO: libc::c_int = libc::RUSAGE_THREAD;
    #[cfg(not(target_os = "linux"))]
    const WHO: libc::c_int = libc::RUSAGE_SELF;
    // SAFETY: getrusage writes a `rusage` into the zeroed struct we own.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(WHO, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

// ---------------------------------------------------------------------------
// Configuration

struct Config {
    secs: Duration,
    reps: usize,
    slices: usize,
    warmup: Duration,
    tasks: usize,
    pipe: usize,
    flush_every: u64,
    misses: u64,
    alloc_calls: u64,
    storm: usize,
    storm_waves: usize,
    cases: Vec<u32>,
    pin: bool,
    client_cpu: usize,
    server_cpu: usize,
}

fn env_f64(name: &str, default: f64) -> f64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    env_f64(name, default as f64) as usize
}

impl Config {
    fn from_env() -> Config {
        let cases = std::env::var("BENCH_CASES")
            .unwrap_or_else(|_| "1,2,3,4,5,6,7,8".to_owned())
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.trim()
                    .parse()
                    .expect("BENCH_CASES: comma-separated numbers 1-7")
            })
            .collect();
        Config {
            secs: Duration::from_secs_f64(env_f64("BENCH_SECS", 2.0)),
            reps: env_usize("BENCH_REPS", 5).max(1),
            slices: env_usize("BENCH_SLICES", 20).max(1),
            warmup: Duration::from_secs_f64(env_f64("BENCH_WARMUP_SECS", 0.2)),
            tasks: env_usize("BENCH_TASKS", 64).max(1),
            pipe: env_usize("BENCH_PIPE", 16).max(1),
            flush_every: env_usize("BENCH_FLUSH_EVERY", 100).max(1) as u64,
            misses: env_usize("BENCH_MISSES", 200).max(1) as u64,
            alloc_calls: env_usize("BENCH_ALLOC_CALLS", 10_000).max(1) as u64,
            storm: env_usize("BENCH_STORM", 1000).max(1),
            storm_waves: env_usize("BENCH_STORM_WAVES", 5).max(1),
            cases,
            pin: env_usize("BENCH_PIN", 1) != 0,
            client_cpu: env_usize("BENCH_CLIENT_CPU", 0),
            server_cpu: env_usize("BENCH_SERVER_CPU", 1),
        }
    }

    fn runs(&self, case: u32) -> bool {
        self.cases.contains(&case)
    }
}

// ---------------------------------------------------------------------------
// Measurement

#[derive(Clone, Copy, Debug)]
struct Run {
    ops: u64,
    wall: Duration,
    cpu: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.wall.as_secs_f64()
    }

    fn cpu_us_per_op(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.ops as f64
    }
}

/// Calls `f` (which does `ops_per_call` operations) until `secs` passed.
fn run_sync(secs: Duration, ops_per_call: u64, mut f: impl FnMut()) -> Run {
    const BATCH: u64 = 8;
    let cpu0 = thread_cpu();
    let t0 = Instant::now();
    let deadline = t0 + secs;
    let mut ops = 0;
    loop {
        for _ in 0..BATCH {
            f();
        }
        ops += BATCH * ops_per_call;
        if Instant::now() >= deadline {
            break;
        }
    }
    let wall = t0.elapsed();
    Run {
        ops,
        wall,
        cpu: thread_cpu() - cpu0,
    }
}

/// `tasks` tasks, each calling in a loop on a clone of `con`, for `secs`.
fn run_async(
    rt: &tokio::runtime::Runtime,
    con: &MultiplexedConnection,
    tasks: usize,
    secs: Duration,
    lua: Lua,
    client: Client,
) -> Run {
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let cpu0 = thread_cpu();
        let t0 = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let mut con = con.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::black_box(call_async(&mut con, lua, client).await);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        tokio::time::sleep(secs).await;
        stop.store(true, Ordering::Relaxed);
        let mut ops = 0;
        for h in handles {
            ops += h.await.expect("benchmark task panicked");
        }
        let wall = t0.elapsed();
        Run {
            ops,
            wall,
            cpu: thread_cpu() - cpu0,
        }
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("NaN in measurements"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// All runs of one variant.
#[derive(Default, Clone)]
struct Series(Vec<Run>);

impl Series {
    fn rate(&self) -> f64 {
        median(self.0.iter().map(Run::rate).collect())
    }

    /// Half the min-max range, relative to the median, in percent.
    fn spread(&self) -> f64 {
        let rates: Vec<f64> = self.0.iter().map(Run::rate).collect();
        let lo = rates.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = rates.iter().cloned().fold(0.0, f64::max);
        (hi - lo) / 2.0 / self.rate() * 100.0
    }

    fn cpu_us(&self) -> f64 {
        median(self.0.iter().map(Run::cpu_us_per_op).collect())
    }
}

/// Runs every variant `reps` times. Each repetition gives every variant
/// `secs` in total, cut into `slices` short slices taken round-robin (with a
/// rotating start), so bursts of other load on the machine hit all variants
/// alike instead of spoiling one variant's whole measurement.
fn interleaved(
    cfg: &Config,
    label: &str,
    n: usize,
    mut measure: impl FnMut(usize, Duration) -> Run,
) -> Vec<Series> {
    let mut out = vec![Series::default(); n];
    let slices = cfg.slices.max(1);
    let slice = cfg.secs / slices as u32;
    for rep in 0..cfg.reps {
        eprint!("  {label}: repetition {}/{}   \r", rep + 1, cfg.reps);
        if rep == 0 && !cfg.warmup.is_zero() {
            for i in 0..n {
                measure(i, cfg.warmup);
            }
        }
        let mut total = vec![
            Run {
                ops: 0,
                wall: Duration::ZERO,
                cpu: Duration::ZERO,
            };
            n
        ];
        for k in 0..slices {
            for j in 0..n {
                let i = (rep + k + j) % n;
                let r = measure(i, slice);
                total[i].ops += r.ops;
                total[i].wall += r.wall;
                total[i].cpu += r.cpu;
            }
        }
        for (series, run) in out.iter_mut().zip(total) {
            series.0.push(run);
        }
    }
    eprintln!("  {label}: done{:20}", "");
    out
}

/// The ratio of `a`'s rate to `b`'s, repetition by repetition (the slices
/// of one repetition ran interleaved, under the same conditions): median,
/// min, max.
fn paired(a: &Series, b: &Series) -> (f64, f64, f64) {
    let r: Vec<f64> =
        a.0.iter()
            .zip(&b.0)
            .map(|(x, y)| x.rate() / y.rate())
            .collect();
    let lo = r.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = r.iter().cloned().fold(0.0, f64::max);
    (median(r), lo, hi)
}

/// `1.011x (0.982-1.040)`: the paired ratio and its range.
fn pr(a: &Series, b: &Series) -> String {
    let (m, lo, hi) = paired(a, b);
    format!("{m:.3}x ({lo:.2}-{hi:.2})")
}

fn ratio(a: f64, b: f64) -> String {
    format!("{:.3}x", a / b)
}

/// Client-only cost: the best (lowest) CPU ns per operation of `n`
/// variants run against the in-memory [`Canned`] connection, over many
/// 10 ms slices taken round-robin. CPU-bound work on a shared machine is
/// only ever slowed down by other load, so the minimum is the estimate
/// least disturbed by it.
fn client_only(
    cfg: &Config,
    label: &str,
    n: usize,
    ops_per_call: u64,
    mut f: impl FnMut(&mut Canned, usize),
) -> Vec<f64> {
    let slice = Duration::from_millis(10);
    let budget = cfg.secs.as_secs_f64() / 8.0 * cfg.reps as f64;
    let rounds = ((budget / slice.as_secs_f64()).ceil() as usize).max(1);
    let mut canned = Canned { seen: 0 };
    eprint!("  {label}   \r");
    for i in 0..n {
        run_sync(
            cfg.warmup.min(Duration::from_millis(100)),
            ops_per_call,
            || f(&mut canned, i),
        );
    }
    let mut best = vec![f64::INFINITY; n];
    for r in 0..rounds {
        for j in 0..n {
            let i = (r + j) % n;
            let run = run_sync(slice, ops_per_call, || f(&mut canned, i));
            best[i] = best[i].min(run.cpu_us_per_op() * 1000.0);
        }
    }
    std::hint::black_box(canned.seen);
    eprintln!("  {label}: done{:20}", "");
    best
}

// ---------------------------------------------------------------------------
// Machine, server and pinning

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn cpu_model() -> String {
    read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|r| r.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn nproc() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn own_tid() -> Option<u32> {
    // "/proc/thread-self" -> "PID/task/TID"
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

fn allowed_cpus(task: &str) -> String {
    read(&format!("/proc/{task}/status"))
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "?".to_owned())
}

fn taskset(args: &[String]) -> Result<(), String> {
    match Command::new("taskset").args(args).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "taskset {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("taskset not runnable ({e}); install util-linux")),
    }
}

/// Pins every thread of the server to one CPU and this thread (and so the
/// threads it starts later, and the Tokio runtime) to another.
fn pin(cfg: &Config, server: &RedisServer, cpus: usize) -> String {
    if !cfg.pin {
        return "not pinned (BENCH_PIN=0)".to_owned();
    }
    if cpus < 2 {
        return format!("not pinned (only {cpus} CPU)");
    }
    let (Some(pid), Some(tid)) = (server.pid(), own_tid()) else {
        return "not pinned (no server pid or own thread id)".to_owned();
    };
    let server_pin = taskset(&[
        "-a".into(),
        "-p".into(),
        "-c".into(),
        cfg.server_cpu.to_string(),
        pid.to_string(),
    ]);
    let client_pin = taskset(&[
        "-p".into(),
        "-c".into(),
        cfg.client_cpu.to_string(),
        tid.to_string(),
    ]);
    if let Err(e) = server_pin.and(client_pin) {
        return format!("not pinned: {e}");
    }
    format!(
        "redis-server (pid {pid}) on CPU {}, client thread (tid {tid}) on CPU {}",
        allowed_cpus(&pid.to_string()),
        allowed_cpus("thread-self"),
    )
}

fn redis_rs_version() -> String {
    // The lock file of this workspace says which redis-rs is linked.
    let lock = include_str!("../Cargo.lock");
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l == "name = \"redis\"" {
            if let Some(v) = lines.next().and_then(|v| v.strip_prefix("version = ")) {
                return v.trim_matches('"').to_owned();
            }
        }
    }
    "?".to_owned()
}

fn rustc_version() -> String {
    Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()))
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".to_owned())
}

// ---------------------------------------------------------------------------
// INFO commandstats and a connection that counts round trips

fn info_commandstats(con: &mut redis::Connection) -> String {
    redis::cmd("INFO")
        .arg("commandstats")
        .query(con)
        .expect("INFO commandstats")
}

/// `(calls, failed_calls)` of `name` (e.g. `evalsha`, `script|load`).
fn cmdstat(stats: &str, name: &str) -> (u64, u64) {
    let prefix = format!("cmdstat_{name}:");
    let Some(line) = stats.lines().find_map(|l| l.strip_prefix(&prefix)) else {
        return (0, 0);
    };
    let field = |f: &str| {
        line.split(',')
            .find_map(|kv| kv.strip_prefix(f)?.strip_prefix('='))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    (field("calls"), field("failed_calls"))
}

fn script_exists(con: &mut redis::Connection, sha: &str) -> bool {
    let v: Vec<bool> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(sha)
        .query(con)
        .expect("SCRIPT EXISTS");
    v == [true]
}

fn script_flush(con: &mut redis::Connection) {
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .exec(con)
        .expect("SCRIPT FLUSH");
}

/// An in-memory connection: takes the packed request and answers `:1`
/// without any I/O, so a run measures only what the client library does
/// per call (build, pack, decode). Not a server: replies are canned.
struct Canned {
    seen: usize,
}

impl redis::ConnectionLike for Canned {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        self.seen = self.seen.wrapping_add(std::hint::black_box(cmd).len());
        Ok(Value::Int(1))
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        _offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        self.seen = self.seen.wrapping_add(std::hint::black_box(cmd).len());
        Ok(vec![Value::Int(1); count])
    }

    fn get_db(&self) -> i64 {
        0
    }

    fn check_connection(&mut self) -> bool {
        true
    }

    fn is_open(&self) -> bool {
        true
    }
}

struct MissCost {
    label: String,
    trips_per_hit: f64,
    trips_per_miss: f64,
    evalsha_per_miss: f64,
    evalsha_failed_per_miss: f64,
    load_per_miss: f64,
    resident: bool,
    trips_after_miss: u64,
}

/// Counts what `misses` cold calls cost: a `SCRIPT FLUSH` (not counted)
/// before each, then one call through a counting connection.
fn miss_cost_sync(con: &mut redis::Connection, misses: u64, lua: Lua, client: Client) -> MissCost {
    // Hits first, for the baseline.
    let mut counted = RoundTrips::new(con);
    call_sync(&mut counted, lua, client);
    counted.reset();
    for _ in 0..misses {
        call_sync(&mut counted, lua, client);
    }
    let trips_per_hit = counted.count() as f64 / misses as f64;

    let before = info_commandstats(con);
    let mut trips = 0;
    for _ in 0..misses {
        script_flush(con);
        let mut counted = RoundTrips::new(con);
        call_sync(&mut counted, lua, client);
        trips += counted.count();
    }
    let after = info_commandstats(con);
    let resident = script_exists(con, lua.sha());
    let mut counted = RoundTrips::new(con);
    call_sync(&mut counted, lua, client);
    miss_cost(
        format!("{} — {}", lua.short(), client.name()),
        misses,
        trips_per_hit,
        trips,
        &before,
        &after,
        resident,
        counted.count(),
    )
}

#[allow(clippy::too_many_arguments)]
fn miss_cost(
    label: String,
    misses: u64,
    trips_per_hit: f64,
    trips: u64,
    before: &str,
    after: &str,
    resident: bool,
    trips_after_miss: u64,
) -> MissCost {
    let delta = |name: &str| {
        let (c0, f0) = cmdstat(before, name);
        let (c1, f1) = cmdstat(after, name);
        (
            (c1 - c0) as f64 / misses as f64,
            (f1 - f0) as f64 / misses as f64,
        )
    };
    let (evalsha, evalsha_failed) = delta("evalsha");
    let (load, _) = delta("script|load");
    MissCost {
        label,
        trips_per_hit,
        trips_per_miss: trips as f64 / misses as f64,
        evalsha_per_miss: evalsha,
        evalsha_failed_per_miss: evalsha_failed,
        load_per_miss: load,
        resident,
        trips_after_miss,
    }
}

fn miss_cost_async(
    rt: &tokio::runtime::Runtime,
    admin: &mut redis::Connection,
    con: &MultiplexedConnection,
    misses: u64,
    lua: Lua,
    client: Client,
) -> MissCost {
    let mut con = con.clone();
    let trips_per_hit = rt.block_on(async {
        let mut counted = RoundTrips::new(&mut con);
        call_async(&mut counted, lua, client).await;
        counted.reset();
        for _ in 0..misses {
            call_async(&mut counted, lua, client).await;
        }
        counted.count() as f64 / misses as f64
    });
    let before = info_commandstats(admin);
    let mut trips = 0;
    for _ in 0..misses {
        script_flush(admin);
        trips += rt.block_on(async {
            let mut counted = RoundTrips::new(&mut con);
            call_async(&mut counted, lua, client).await;
            counted.count()
        });
    }
    let after = info_commandstats(admin);
    let resident = script_exists(admin, lua.sha());
    let trips_after_miss = rt.block_on(async {
        let mut counted = RoundTrips::new(&mut con);
        call_async(&mut counted, lua, client).await;
        counted.count()
    });
    miss_cost(
        format!("{} — {}", lua.short(), client.name_async()),
        misses,
        trips_per_hit,
        trips,
        &before,
        &after,
        resident,
        trips_after_miss,
    )
}

// ---------------------------------------------------------------------------
// The reload storm

/// One wave of case 6: `SCRIPT FLUSH`, then `callers` concurrent calls on
/// clones of `con`. Returns the time from the flush's reply until every
/// caller has answered, and the `SCRIPT LOAD`s the server counted.
fn storm_wave(
    rt: &tokio::runtime::Runtime,
    admin: &mut redis::Connection,
    con: &MultiplexedConnection,
    callers: usize,
    client: Client,
) -> (Duration, u64) {
    let before = cmdstat(&info_commandstats(admin), "script|load").0;
    script_flush(admin);
    let took = rt.block_on(async {
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let mut con = con.clone();
                tokio::spawn(async move { call_async(&mut con, Lua::Incr, client).await })
            })
            .collect();
        for task in tasks {
            std::hint::black_box(task.await.expect("storm caller panicked"));
        }
        t0.elapsed()
    });
    let after = cmdstat(&info_commandstats(admin), "script|load").0;
    (took, after - before)
}

// ---------------------------------------------------------------------------
// Report

/// A target line for the summary: what, the measured value, met or not.
struct Target {
    what: String,
    measured: String,
    met: bool,
}

fn target(out: &mut Vec<Target>, what: impl Into<String>, measured: String, met: bool) {
    out.push(Target {
        what: what.into(),
        measured,
        met,
    });
}

const NOISE: f64 = 0.98;

fn main() {
    let started = Instant::now();
    let cfg = Config::from_env();
    let cpus = nproc();

    let server = RedisServer::start().expect("start redis-server");
    let pinning = pin(&cfg, &server, cpus);
    let mut con = server.connection();
    let (major, minor, patch) = server.version();

    // Data the scripts read, and every script loaded once.
    redis::cmd("HSET")
        .arg(K_USER)
        .arg("login")
        .arg("bench")
        .exec(&mut con)
        .expect("HSET");
    for lua in Lua::ALL {
        for client in [Client::Redlua, Client::RawEvalsha, Client::RedisScript] {
            call_sync(&mut con, lua, client);
        }
    }
    // A raw EVALSHA needs the script cached: redlua's first call loaded it.
    assert!(script_exists(&mut con, raw().incr_sha) && script_exists(&mut con, raw().four_sha));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("Tokio runtime");
    let mcon = rt.block_on(server.multiplexed());

    let mut md = String::new();
    let mut targets = Vec::new();
    let secs = cfg.secs.as_secs_f64();
    let _ = writeln!(md, "## redlua overhead benchmark\n");
    let _ = writeln!(md, "- machine: {cpus} CPUs, {}", cpu_model());
    let _ = writeln!(
        md,
        "- redis-server {major}.{minor}.{patch} on 127.0.0.1 (TCP loopback), redis-rs {}, {}",
        redis_rs_version(),
        rustc_version()
    );
    let _ = writeln!(md, "- pinning: {pinning}");
    let _ = writeln!(
        md,
        "- each variant: {} repetitions of {secs}s (after one {}s warm-up), each cut into {} slices \
         interleaved round-robin with the other variants of its table; median reported; \
         spread = half the min-max range of the repetitions; ratios \
         (`vs ...` columns) are the median and range over the repetitions of the ratio of \
         the two variants' rates in that repetition",
        cfg.reps,
        cfg.warmup.as_secs_f64(),
        cfg.slices
    );
    let _ = writeln!(
        md,
        "- load average at start: {}",
        read("/proc/loadavg")
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    // CPU per call of the sync hot path, from case 1's runs, for case 5.
    let mut hot_cpu: Vec<(Lua, Client, f64)> = Vec::new();

    // ---- 1. hot sequential sync call
    if cfg.runs(1) {
        let _ = writeln!(
            md,
            "\n### 1. Hot sequential call, one sync connection\n\n\
             | script | client | calls/s (median) | spread | client CPU µs/call | vs raw EVALSHA | vs redis::Script |\n\
             |---|---|---:|---:|---:|---:|---:|"
        );
        let clients = [Client::Redlua, Client::RawEvalsha, Client::RedisScript];
        for lua in Lua::ALL {
            let series = interleaved(&cfg, &format!("case 1 {}", lua.short()), 3, |i, d| {
                run_sync(d, 1, || {
                    std::hint::black_box(call_sync(&mut con, lua, clients[i]));
                })
            });
            for (client, s) in clients.iter().zip(&series) {
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.0} | ±{:.1}% | {:.2} | {} | {} |",
                    lua.name(),
                    client.name(),
                    s.rate(),
                    s.spread(),
                    s.cpu_us(),
                    pr(s, &series[1]),
                    pr(s, &series[2])
                );
                hot_cpu.push((lua, *client, s.cpu_us()));
            }
            let vs_raw = paired(&series[0], &series[1]).0;
            let vs_script = paired(&series[0], &series[2]).0;
            target(
                &mut targets,
                format!("1. hot call {}: redlua >= 0.98x raw EVALSHA", lua.short()),
                pr(&series[0], &series[1]),
                vs_raw >= NOISE,
            );
            // Both send one EVALSHA on the same connection: the round trip is
            // the whole cost, so end to end the two can only tie; what
            // redlua saves is client work (target 5).
            target(
                &mut targets,
                format!(
                    "1. hot call {}: redlua >= 0.98x redis::Script::invoke end to end",
                    lua.short()
                ),
                pr(&series[0], &series[2]),
                vs_script >= NOISE,
            );
        }
    }

    // ---- 2. async, concurrent tasks on one multiplexed connection
    if cfg.runs(2) {
        let _ = writeln!(
            md,
            "\n### 2. Async: {} concurrent tasks on one `MultiplexedConnection` \
             (Tokio current-thread runtime, on the client CPU)\n\n\
             | script | client | calls/s (median) | spread | client CPU µs/call | vs raw EVALSHA | vs redis::Script |\n\
             |---|---|---:|---:|---:|---:|---:|",
            cfg.tasks
        );
        let clients = [Client::Redlua, Client::RawEvalsha, Client::RedisScript];
        for lua in Lua::ALL {
            let series = interleaved(&cfg, &format!("case 2 {}", lua.short()), 3, |i, d| {
                run_async(&rt, &mcon, cfg.tasks, d, lua, clients[i])
            });
            for (client, s) in clients.iter().zip(&series) {
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.0} | ±{:.1}% | {:.2} | {} | {} |",
                    lua.name(),
                    client.name_async(),
                    s.rate(),
                    s.spread(),
                    s.cpu_us(),
                    pr(s, &series[1]),
                    pr(s, &series[2])
                );
            }
            target(
                &mut targets,
                format!("2. async {}: redlua >= 0.98x raw EVALSHA", lua.short()),
                pr(&series[0], &series[1]),
                paired(&series[0], &series[1]).0 >= NOISE,
            );
        }
    }

    // ---- 3. pipelines
    if cfg.runs(3) {
        let n = cfg.pipe;
        let _ = writeln!(
            md,
            "\n### 3. Pipelines of {n} script calls, one sync connection\n\n\
             | script | client | calls/s (median) | pipelines/s | spread | client CPU µs/call | vs raw pipeline | client-only ns/call (in-memory, best) | client-only vs raw |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|"
        );
        let clients = [
            PipeClient::Redlua,
            PipeClient::RedluaAssumeLoaded,
            PipeClient::Raw,
        ];
        for lua in Lua::ALL {
            let series = interleaved(
                &cfg,
                &format!("case 3 {}", lua.short()),
                clients.len(),
                |i, d| {
                    run_sync(d, n as u64, || {
                        std::hint::black_box(call_pipe(&mut con, lua, clients[i], n));
                    })
                },
            );
            let raw = &series[clients.len() - 1];
            let ns = client_only(
                &cfg,
                &format!("case 3 {} in-memory", lua.short()),
                clients.len(),
                n as u64,
                |c, i| {
                    std::hint::black_box(call_pipe(c, lua, clients[i], n));
                },
            );
            let raw_ns = ns[clients.len() - 1];
            for ((client, s), ns) in clients.iter().zip(&series).zip(&ns) {
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.0} | {:.0} | ±{:.1}% | {:.2} | {} | {:.0} | {} |",
                    lua.name(),
                    client.name(),
                    s.rate(),
                    s.rate() / n as f64,
                    s.spread(),
                    s.cpu_us(),
                    pr(s, raw),
                    ns,
                    ratio(*ns, raw_ns)
                );
            }
            for (k, what) in [(0, "pipe()"), (1, "pipe().assume_loaded()")] {
                target(
                    &mut targets,
                    format!(
                        "3. pipeline of {n} {}: redlua {what} >= 0.98x raw",
                        lua.short()
                    ),
                    pr(&series[k], raw),
                    paired(&series[k], raw).0 >= NOISE,
                );
            }
            // Same batch with and without the in-batch SCRIPT LOAD: what
            // exactly-once under NOSCRIPT costs.
            let (kept, _, _) = paired(&series[0], &series[1]);
            target(
                &mut targets,
                format!(
                    "3. pipeline of {n} {}: in-batch SCRIPT LOAD costs < 10% (pipe() vs assume_loaded())",
                    lua.short()
                ),
                format!(
                    "{:.1}% ({} of the throughput kept)",
                    (1.0 - kept) * 100.0,
                    pr(&series[0], &series[1])
                ),
                kept > 0.90,
            );
        }
    }

    // ---- 4. NOSCRIPT path
    if cfg.runs(4) {
        let every = cfg.flush_every;
        let _ = writeln!(
            md,
            "\n### 4. NOSCRIPT path: a `SCRIPT FLUSH` every {every} calls (flush time included)\n\n\
             | script | client | calls/s (median) | spread | vs redis::Script |\n\
             |---|---|---:|---:|---:|"
        );
        let clients = [Client::Redlua, Client::RedisScript];
        for lua in Lua::ALL {
            let mut i_call = [0u64; 2];
            let series = interleaved(&cfg, &format!("case 4 {}", lua.short()), 2, |i, d| {
                let counter = &mut i_call[i];
                let con = &mut con;
                run_sync(d, 1, || {
                    if *counter % every == 0 {
                        script_flush(con);
                    }
                    *counter += 1;
                    std::hint::black_box(call_sync(con, lua, clients[i]));
                })
            });
            for (client, s) in clients.iter().zip(&series) {
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.0} | ±{:.1}% | {} |",
                    lua.name(),
                    client.name(),
                    s.rate(),
                    s.spread(),
                    pr(s, &series[1])
                );
            }
        }

        eprintln!(
            "  case 4: counting round trips of {} misses per row",
            cfg.misses
        );
        let mut costs = Vec::new();
        for lua in Lua::ALL {
            for client in [Client::Redlua, Client::RedisScript] {
                costs.push((
                    client,
                    false,
                    miss_cost_sync(&mut con, cfg.misses, lua, client),
                ));
            }
            costs.push((
                Client::Redlua,
                true,
                miss_cost_async(&rt, &mut con, &mcon, cfg.misses, lua, Client::Redlua),
            ));
        }
        let _ = writeln!(
            md,
            "\nWhat one miss costs ({} misses per row, each after a `SCRIPT FLUSH`; round trips \
             counted by a wrapping `ConnectionLike`, commands by `INFO commandstats`):\n\n\
             | script — client | round trips per hit | round trips per miss | extra per miss | \
             `evalsha` per miss (failed) | `script\\|load` per miss | resident after miss | round trips of the next call |\n\
             |---|---:|---:|---:|---:|---:|---|---:|",
            cfg.misses
        );
        for (client, is_async, c) in &costs {
            let _ = writeln!(
                md,
                "| {} | {:.2} | {:.2} | {:.2} | {:.2} ({:.2}) | {:.2} | {} | {} |",
                c.label,
                c.trips_per_hit,
                c.trips_per_miss,
                c.trips_per_miss - c.trips_per_hit,
                c.evalsha_per_miss,
                c.evalsha_failed_per_miss,
                c.load_per_miss,
                if c.resident { "yes" } else { "no" },
                c.trips_after_miss
            );
            if *client == Client::Redlua {
                let extra = c.trips_per_miss - c.trips_per_hit;
                target(
                    &mut targets,
                    format!(
                        "4. miss{}: exactly one extra round trip, script resident after",
                        if *is_async { " (async)" } else { "" }
                    ) + &format!(" [{}]", c.label.split(' ').next().unwrap_or("")),
                    format!(
                        "{extra:.2} extra; {:.2} EVALSHA + {:.2} SCRIPT LOAD per miss; resident: {}; next call {} trip",
                        c.evalsha_per_miss,
                        c.load_per_miss,
                        c.resident,
                        c.trips_after_miss
                    ),
                    extra == 1.0 && c.resident && c.trips_after_miss == 1,
                );
            }
        }
    }

    // ---- 5. allocations and CPU per call
    if cfg.runs(5) {
        let n = cfg.alloc_calls;
        let _ = writeln!(
            md,
            "\n### 5. Client allocations and CPU per call\n\n\
             Allocations: allocator calls (alloc + realloc) on the calling thread during {n} \
             calls / {n}; the async rows run one task on the current-thread runtime, so the \
             connection's driver task is counted too. CPU: `getrusage(RUSAGE_THREAD)` user + sys \
             per call, from case 1's runs (the client thread does all the client's work, \
             mostly socket syscalls). Client-only: CPU ns per call against an in-memory \
             connection that answers `:1` without I/O (build + pack + decode only), best of \
             many 10 ms slices.\n\n\
             | script | client | allocs/call | bytes/call | allocs vs raw `cmd` | client CPU µs/call | client-only ns/call (in-memory, best) | client-only vs raw `cmd` |\n\
             |---|---|---:|---:|---:|---:|---:|---:|"
        );
        let clients = [Client::Redlua, Client::RawEvalsha, Client::RedisScript];
        for lua in Lua::ALL {
            let mut sync_rows = Vec::new();
            for client in clients {
                for _ in 0..1000 {
                    call_sync(&mut con, lua, client);
                }
                let (a0, b0) = alloc_counts();
                for _ in 0..n {
                    std::hint::black_box(call_sync(&mut con, lua, client));
                }
                let (a1, b1) = alloc_counts();
                sync_rows.push((
                    client,
                    (a1 - a0) as f64 / n as f64,
                    (b1 - b0) as f64 / n as f64,
                ));
            }
            let raw_allocs = sync_rows[1].1;
            let ns = client_only(
                &cfg,
                &format!("case 5 {} in-memory", lua.short()),
                clients.len(),
                1,
                |c, i| {
                    std::hint::black_box(call_sync(c, lua, clients[i]));
                },
            );
            let raw_ns = ns[1];
            for ((client, allocs, bytes), ns) in sync_rows.iter().zip(&ns) {
                let cpu = hot_cpu
                    .iter()
                    .find(|(l, c, _)| *l == lua && c == client)
                    .map_or("-".to_owned(), |(_, _, us)| format!("{us:.2}"));
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.2} | {:.0} | {} | {} | {:.0} | {} |",
                    lua.name(),
                    client.name(),
                    allocs,
                    bytes,
                    ratio(*allocs, raw_allocs),
                    cpu,
                    ns,
                    ratio(*ns, raw_ns)
                );
            }
            target(
                &mut targets,
                format!("5. allocs/call {}: redlua < raw redis::cmd", lua.short()),
                format!("{:.2} vs {:.2}", sync_rows[0].1, raw_allocs),
                sync_rows[0].1 < raw_allocs,
            );
            target(
                &mut targets,
                format!(
                    "5. client-only CPU/call {}: redlua <= 0.7x redis::Script",
                    lua.short()
                ),
                format!("{:.0} vs {:.0} ns: {}", ns[0], ns[2], ratio(ns[0], ns[2])),
                ns[0] <= 0.7 * ns[2],
            );

            let mut async_rows = Vec::new();
            for client in clients {
                let mut c = mcon.clone();
                let (allocs, bytes) = rt.block_on(async {
                    for _ in 0..1000 {
                        call_async(&mut c, lua, client).await;
                    }
                    let (a0, b0) = alloc_counts();
                    for _ in 0..n {
                        std::hint::black_box(call_async(&mut c, lua, client).await);
                    }
                    let (a1, b1) = alloc_counts();
                    ((a1 - a0) as f64 / n as f64, (b1 - b0) as f64 / n as f64)
                });
                async_rows.push((client, allocs, bytes));
            }
            let raw_allocs = async_rows[1].1;
            for (client, allocs, bytes) in &async_rows {
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.2} | {:.0} | {} | - | - | - |",
                    lua.name(),
                    client.name_async(),
                    allocs,
                    bytes,
                    ratio(*allocs, raw_allocs)
                );
            }
        }
    }

    // ---- 6. reload storm
    if cfg.runs(6) {
        let (n, waves) = (cfg.storm, cfg.storm_waves);
        let _ = writeln!(
            md,
            "\n### 6. Reload storm: `SCRIPT FLUSH`, then {n} concurrent `invoke_async` callers on \
             one `MultiplexedConnection` (incr; {waves} waves per client, interleaved; median)\n\n\
             | client | recovery: all {n} answered (ms) | `script\\|load` per wave | per 1,000 callers | vs redis::Script (time) |\n\
             |---|---:|---:|---:|---:|"
        );
        let clients = [Client::Redlua, Client::RedisScript];
        let mut times = [Vec::new(), Vec::new()];
        let mut loads = [Vec::new(), Vec::new()];
        eprint!("  case 6: {waves} waves of {n} callers per client   \r");
        for wave in 0..waves {
            for j in 0..clients.len() {
                let i = (wave + j) % clients.len();
                let (took, l) = storm_wave(&rt, &mut con, &mcon, n, clients[i]);
                times[i].push(took.as_secs_f64() * 1e3);
                loads[i].push(l as f64);
            }
        }
        eprintln!("  case 6: done{:20}", "");
        let ms: Vec<f64> = times.iter().map(|t| median(t.clone())).collect();
        let per: Vec<f64> = loads.iter().map(|l| median(l.clone())).collect();
        for (i, client) in clients.iter().enumerate() {
            let _ = writeln!(
                md,
                "| {} | {:.1} | {:.0} (all: {}) | {:.1} | {} |",
                client.name_async(),
                ms[i],
                per[i],
                loads[i]
                    .iter()
                    .map(|l| format!("{l:.0}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                per[i] * 1000.0 / n as f64,
                ratio(ms[i], ms[1])
            );
        }
        let worst = loads[0].iter().cloned().fold(0.0, f64::max);
        target(
            &mut targets,
            format!("6. reload storm of {n}: redlua <= 3 SCRIPT LOADs per wave"),
            format!(
                "{worst:.0} at most (median {:.0}) vs {:.0} for redis::Script",
                per[0], per[1]
            ),
            worst <= 3.0,
        );
        target(
            &mut targets,
            format!("6. reload storm of {n}: redlua recovers no slower than redis::Script"),
            format!("{:.1} vs {:.1} ms: {}", ms[0], ms[1], ratio(ms[0], ms[1])),
            ms[0] <= ms[1] / NOISE,
        );
    }

    if cfg.runs(7) {
        functions_case(&cfg, &server, &mut con, &mut md);
    }

    if cfg.runs(8) {
        cluster_case(&cfg, &rt, &mut md, &mut targets);
    }

    let _ = writeln!(
        md,
        "\n### Targets (0.98 = noise floor)\n\n| target | measured | |\n|---|---|---|"
    );
    for t in &targets {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            t.what,
            t.measured,
            if t.met { "met" } else { "**missed**" }
        );
    }
    let _ = writeln!(
        md,
        "\nTotal time {:.0}s. Command: `cargo bench --bench overhead` \
         (BENCH_SECS={secs} BENCH_REPS={} BENCH_TASKS={} BENCH_CASES={}).",
        started.elapsed().as_secs_f64(),
        cfg.reps,
        cfg.tasks,
        cfg.cases
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    println!("{md}");
    drop(mcon);
    drop(rt);
    drop(server);
}

/// Case 8: `n` script calls over keys on every node of a three-primary
/// cluster, as one redlua batch, one by one and all at once, against raw
/// redis-rs doing the same calls (one by one, all at once); then `n` calls
/// in one slot as a redlua batch and a raw pipeline. Calls per second.
fn cluster_case(
    cfg: &Config,
    rt: &tokio::runtime::Runtime,
    md: &mut String,
    targets: &mut Vec<Target>,
) {
    use futures_util::future::join_all;
    let n = cfg.pipe;
    let cluster = redlua::testing::RedisCluster::start(3).expect("start a 3-node cluster");
    let client = redis::cluster::ClusterClient::new(cluster.urls()).expect("cluster client");
    let con = rt
        .block_on(client.get_async_connection())
        .expect("async cluster connection");
    // Keys on every node (16 distinct slots, spread by CRC16), and n keys
    // of one slot.
    let spread: Vec<String> = (0..n).map(|i| format!("bench:spread:{i}")).collect();
    let tagged: Vec<String> = (0..n).map(|i| format!("{{bench}}:{i}")).collect();
    let slots: std::collections::HashSet<u16> = spread
        .iter()
        .map(|k| redis::cluster_routing::Slot::for_key(k.as_bytes()))
        .map(|s| {
            format!("{s:?}")
                .trim_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .unwrap_or(0)
        })
        .collect();
    let sha = raw().incr_sha;
    let evalsha = |key: &str| {
        let mut c = redis::cmd("EVALSHA");
        c.arg(sha).arg(1).arg(key);
        c
    };
    let mut raw_pipe = redis::pipe();
    for key in &tagged {
        raw_pipe.add_command(evalsha(key));
    }
    rt.block_on(async {
        let mut c = con.clone();
        redlua::load_cluster_async(&mut c, &[INCR], None)
            .await
            .expect("load the cluster");
    });
    let labels = [
        "redlua batch across nodes",
        "redlua batch across nodes, `assume_loaded()`",
        "redlua calls all at once (`join_all`)",
        "redlua calls one by one",
        "raw redis-rs EVALSHAs all at once (`join_all`)",
        "raw redis-rs EVALSHAs one by one",
        "redlua batch in one slot",
        "raw redis-rs pipeline in one slot",
    ];
    let series = interleaved(cfg, "case 8", labels.len(), |i, d| {
        rt.block_on(async {
            let mut con = con.clone();
            let cpu0 = thread_cpu();
            let t0 = Instant::now();
            let mut ops = 0u64;
            while t0.elapsed() < d {
                match i {
                    0 | 1 | 6 => {
                        let keys = if i == 6 { &tagged } else { &spread };
                        let mut p = redlua::pipe();
                        if i == 1 {
                            p.assume_loaded();
                        }
                        for key in keys {
                            p.add(incr(key));
                        }
                        std::hint::black_box(p.query_async(&mut con).await.expect("batch"));
                    }
                    2 => {
                        let calls = spread.iter().map(|k| {
                            let mut con = con.clone();
                            async move { incr(k).invoke_async(&mut con).await }
                        });
                        for r in join_all(calls).await {
                            std::hint::black_box(r.expect("call"));
                        }
                    }
                    3 => {
                        for k in &spread {
                            std::hint::black_box(
                                incr(k).invoke_async(&mut con).await.expect("call"),
                            );
                        }
                    }
                    4 => {
                        let calls = spread.iter().map(|k| {
                            let mut con = con.clone();
                            let cmd = evalsha(k);
                            async move { cmd.query_async::<i64>(&mut con).await }
                        });
                        for r in join_all(calls).await {
                            std::hint::black_box(r.expect("raw call"));
                        }
                    }
                    5 => {
                        for k in &spread {
                            let r: i64 = evalsha(k).query_async(&mut con).await.expect("raw call");
                            std::hint::black_box(r);
                        }
                    }
                    _ => {
                        let r: Vec<i64> = raw_pipe.query_async(&mut con).await.expect("raw pipe");
                        std::hint::black_box(r);
                    }
                }
                ops += n as u64;
            }
            Run {
                ops,
                wall: t0.elapsed(),
                cpu: thread_cpu() - cpu0,
            }
        })
    });
    let _ = writeln!(
        md,
        "\n### 8. Redis Cluster: {n} script calls, keys on all 3 primaries ({} slots), one async cluster connection\n\n\
         | client | calls/s (median) | spread | client CPU µs/call | vs raw all at once | vs raw one by one |\n\
         |---|---:|---:|---:|---:|---:|",
        slots.len()
    );
    for (i, label) in labels.iter().enumerate().take(6) {
        let _ = writeln!(
            md,
            "| {label} | {:.0} | ±{:.1}% | {:.2} | {} | {} |",
            series[i].rate(),
            series[i].spread(),
            series[i].cpu_us(),
            pr(&series[i], &series[4]),
            pr(&series[i], &series[5])
        );
    }
    let _ = writeln!(
        md,
        "\n{n} calls in one slot:\n\n| client | calls/s (median) | spread | vs raw pipeline |\n|---|---:|---:|---:|"
    );
    for i in 6..8 {
        let _ = writeln!(
            md,
            "| {} | {:.0} | ±{:.1}% | {} |",
            labels[i],
            series[i].rate(),
            series[i].spread(),
            pr(&series[i], &series[7])
        );
    }
    let (one_by_one, ..) = paired(&series[0], &series[3]);
    target(
        targets,
        format!("8. cluster batch of {n} across nodes: faster than redlua's {n} calls one by one"),
        format!("{one_by_one:.3}x"),
        one_by_one > 1.0,
    );
    let (all_at_once, ..) = paired(&series[0], &series[4]);
    target(
        targets,
        format!(
            "8. cluster batch of {n} across nodes: no slower than raw redis-rs's {n} calls at once"
        ),
        format!("{all_at_once:.3}x"),
        all_at_once >= NOISE,
    );
    drop(con);
    drop(cluster);
}

/// Case 7: a hot `FCALL` through redlua against the same script's hot
/// `EVALSHA` and a raw `redis::cmd("FCALL")` with the name at hand, one
/// sync connection, interleaved as in case 1.
fn functions_case(
    cfg: &Config,
    server: &RedisServer,
    con: &mut redis::Connection,
    md: &mut String,
) {
    if server.skip_unless(
        server.server_version().has_functions(),
        "case 7 needs Redis Functions (Redis 7.0+, Valkey)",
    ) {
        let _ = writeln!(
            md,
            "\n### 7. Redis Functions\n\nskipped: no Functions on this server"
        );
        return;
    }
    // Loaded once, so every variant is hot.
    redlua::load(con, &[INCR_FUNCTION, INCR]).expect("load the function and the script");
    let name = INCR_FUNCTION.function_name().expect("a function");
    let mut raw = redis::cmd("FCALL");
    raw.arg(name).arg(1).arg(K_INCR);
    let _ = writeln!(
        md,
        "\n### 7. Redis Functions: hot call, one sync connection\n\n\
         | client | calls/s (median) | spread | vs redlua EVALSHA | vs raw FCALL |\n\
         |---|---:|---:|---:|---:|"
    );
    let series = interleaved(cfg, "case 7", 3, |i, d| {
        run_sync(d, 1, || {
            let n = match i {
                0 => incr_function(K_INCR).invoke(con).expect("FCALL"),
                1 => incr(K_INCR).invoke(con).expect("EVALSHA"),
                _ => raw.query::<i64>(con).expect("raw FCALL"),
            };
            std::hint::black_box(n);
        })
    });
    for (i, label) in [
        "redlua `#[redis_function]` (FCALL)",
        "redlua `#[redis_script]` (EVALSHA)",
        "raw `redis::cmd(\"FCALL\")`",
    ]
    .iter()
    .enumerate()
    {
        let _ = writeln!(
            md,
            "| {label} | {:.0} | ±{:.1}% | {} | {} |",
            series[i].rate(),
            series[i].spread(),
            pr(&series[i], &series[1]),
            pr(&series[i], &series[2]),
        );
    }
}
