//! Throwaway `redis-server` processes for tests (feature `testing`).
//!
//! [`RedisServer::start`] runs a fresh `redis-server` on a free loopback
//! port, with no persistence and its own temporary directory, and waits
//! until it answers `PING`. Dropping the [`RedisServer`] kills the process
//! and removes the directory, also when the test panics.
//! [`RedisCluster::start`] does the same for a small Redis Cluster.
//!
//! The binary is `$REDIS_SERVER` when that variable is set, else
//! `redis-server` from `PATH`. When neither exists, starting fails with an
//! error that says how to install it: tests that need a server fail loudly
//! rather than being skipped.
//!
//! ```
//! use redlua::testing::RedisServer;
//!
//! let server = RedisServer::start().expect("start redis-server");
//! let mut con = server.connection();
//! let pong: String = redis::cmd("PING").query(&mut con).unwrap();
//! assert_eq!(pong, "PONG");
//! assert_eq!(server.url(), format!("redis://127.0.0.1:{}/", server.port()));
//! // `server` is dropped here: the process is killed and its directory removed.
//! ```

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Display text of the error returned when no `redis-server` binary exists.
const NOT_FOUND: &str = "redis-server was not found on PATH; install it \
(Debian/Ubuntu: `apt-get install redis-server`, macOS: `brew install redis`) \
or set REDIS_SERVER to its path";

/// How long a server may take to answer `PING` after it was spawned.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a cluster may take to reach `cluster_state:ok`.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(20);
/// How many free ports to try when the chosen one was taken meanwhile.
const PORT_ATTEMPTS: usize = 10;
/// Timeout of each probe (connect, read, write) while waiting for a server.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Lines of the server's output quoted in startup errors.
const LOG_TAIL_LINES: usize = 20;
/// Number of hash slots in Redis Cluster.
const CLUSTER_SLOTS: usize = 16384;

// ---------------------------------------------------------------------------
// Errors

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    /// No `redis-server` binary at the configured path.
    NotFound,
    /// The port was taken by another process; another port may work.
    PortInUse,
    Other,
}

/// Why a test server could not be started, restarted or formed into a
/// cluster.
///
/// Its `Debug` output is the same readable message as `Display` (plus the
/// underlying cause, if any), so `.expect(..)` in a test prints it as is.
pub struct TestingError {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl TestingError {
    fn new(message: impl Into<String>) -> TestingError {
        TestingError {
            kind: ErrorKind::Other,
            message: message.into(),
            source: None,
        }
    }

    fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> TestingError {
        TestingError {
            kind: ErrorKind::Other,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    fn not_found() -> TestingError {
        TestingError {
            kind: ErrorKind::NotFound,
            message: NOT_FOUND.to_owned(),
            source: None,
        }
    }

    fn port_in_use(message: impl Into<String>) -> TestingError {
        TestingError {
            kind: ErrorKind::PortInUse,
            message: message.into(),
            source: None,
        }
    }

    /// True when the error is that no `redis-server` binary was found (the
    /// error whose message says how to install it).
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }
}

impl fmt::Display for TestingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for TestingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, "\n\nCaused by:\n    {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TestingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

// ---------------------------------------------------------------------------
// Process and directory guards

/// A spawned server; dropping it kills the process and reaps it.
#[derive(Debug)]
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        // Fails only when the process has already exited; `wait` reaps it
        // either way so no zombie is left behind.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, TestingError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut last = None;
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!(
                "redlua-redis-{}-{}-{:08x}",
                std::process::id(),
                n,
                nanos
            ));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir(path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => {
                    return Err(TestingError::with_source(
                        format!(
                            "could not create a temporary directory in {}",
                            base.display()
                        ),
                        e,
                    ))
                }
            }
        }
        Err(TestingError::with_source(
            format!(
                "could not create a temporary directory in {}",
                base.display()
            ),
            last.unwrap_or_else(|| io::Error::other("no free name")),
        ))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------
// Helpers

/// The binary to run given the value of `REDIS_SERVER`: that path when set
/// and non-empty, else `redis-server` (looked up on `PATH` when spawned).
fn binary_from_env(var: Option<OsString>) -> PathBuf {
    match var {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from("redis-server"),
    }
}

fn spawn_error(binary: &Path, e: io::Error) -> TestingError {
    if e.kind() == io::ErrorKind::NotFound {
        TestingError::not_found()
    } else {
        TestingError::with_source(format!("could not run {}", binary.display()), e)
    }
}

/// Parses `v=X.Y.Z` out of `redis-server --version` output
/// (`Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 ...`).
fn parse_version_output(output: &str) -> Option<(u32, u32, u32)> {
    let start = output.find("v=")? + 2;
    let word = output[start..].split_whitespace().next()?;
    parse_version(word)
}

/// Parses `X.Y.Z` (extra components or a suffix after Z are ignored).
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().split('.');
    let mut next = || -> Option<u32> {
        let part = parts.next()?;
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    Some((next()?, next()?, next().unwrap_or(0)))
}

/// Runs `binary --version`; `Ok(None)` when its output has no version.
fn binary_version(binary: &Path) -> Result<Option<(u32, u32, u32)>, TestingError> {
    let output = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(binary, e))?;
    Ok(parse_version_output(&String::from_utf8_lossy(
        &output.stdout,
    )))
}

/// A port that was free on 127.0.0.1 a moment ago.
fn free_port() -> Result<u16, TestingError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| TestingError::with_source("could not find a free port on 127.0.0.1", e))
}

fn url_for(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/")
}

/// The value of `field` in `INFO`-style `field:value` lines.
fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        line.strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(str::trim)
    })
}

/// The last lines of the server's output, for error messages.
fn log_tail(path: &Path) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                return "    (no output)".to_owned();
            }
            let from = lines.len().saturating_sub(LOG_TAIL_LINES);
            lines[from..]
                .iter()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
        Err(e) => format!("    (could not read {}: {e})", path.display()),
    }
}

/// A short-lived connection with timeouts, for probes and admin commands.
fn admin_connection(port: u16) -> redis::RedisResult<redis::Connection> {
    let client = redis::Client::open(url_for(port))?;
    let con = client.get_connection_with_timeout(PROBE_TIMEOUT)?;
    con.set_read_timeout(Some(PROBE_TIMEOUT))?;
    con.set_write_timeout(Some(PROBE_TIMEOUT))?;
    Ok(con)
}

/// `PING`s the server on `port`; returns the text of `INFO server`.
fn probe(port: u16) -> redis::RedisResult<String> {
    let mut con = admin_connection(port)?;
    let _: String = redis::cmd("PING").query(&mut con)?;
    redis::cmd("INFO").arg("server").query(&mut con)
}

// ---------------------------------------------------------------------------
// RedisServer

/// Options for [`RedisServer`]; made by [`RedisServer::builder`].
///
/// ```no_run
/// use redlua::testing::RedisServer;
///
/// let server = RedisServer::builder()
///     .arg("--maxmemory")
///     .arg("10mb")
///     .start()
///     .expect("start redis-server");
/// # drop(server);
/// ```
#[derive(Debug, Clone, Default)]
pub struct RedisServerBuilder {
    binary: Option<PathBuf>,
    port: Option<u16>,
    args: Vec<OsString>,
    cluster: bool,
}

impl RedisServerBuilder {
    /// Runs this binary instead of `$REDIS_SERVER` / `redis-server` from
    /// `PATH`. When it does not exist, [`start`](Self::start) fails with the
    /// same install-help error as when `redis-server` is missing.
    #[must_use]
    pub fn binary(mut self, path: impl Into<PathBuf>) -> RedisServerBuilder {
        self.binary = Some(path.into());
        self
    }

    /// Listens on this port instead of a free one. Starting fails if the
    /// port is taken (no retry on another port).
    #[must_use]
    pub fn port(mut self, port: u16) -> RedisServerBuilder {
        self.port = Some(port);
        self
    }

    /// Appends one command-line argument, after the defaults (so it can
    /// override them), e.g. `.arg("--maxmemory").arg("10mb")`.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> RedisServerBuilder {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends several command-line arguments, like [`arg`](Self::arg).
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> RedisServerBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Starts the server and waits (up to about 5 seconds) until it answers
    /// `PING`. See [`RedisServer::start`].
    ///
    /// # Errors
    ///
    /// As [`RedisServer::start`]; with a fixed [`port`](Self::port) that is
    /// taken, an error naming the port.
    pub fn start(self) -> Result<RedisServer, TestingError> {
        let binary = self
            .binary
            .unwrap_or_else(|| binary_from_env(std::env::var_os("REDIS_SERVER")));
        let declared_version = binary_version(&binary)?;
        let dir = TempDir::new()?;
        let mut server = RedisServer {
            process: None,
            port: 0,
            bus_port: None,
            version: declared_version.unwrap_or((0, 0, 0)),
            declared_version,
            binary,
            args: self.args,
            cluster: self.cluster,
            dir,
        };
        if let Some(port) = self.port {
            server.port = port;
            server.bus_port = server.pick_bus_port(port)?;
            server.launch()?;
            return Ok(server);
        }
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            let Some((port, bus_port)) = server.pick_ports()? else {
                continue;
            };
            server.port = port;
            server.bus_port = bus_port;
            match server.launch() {
                Ok(()) => return Ok(server),
                Err(e) if e.kind == ErrorKind::PortInUse => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            TestingError::new(format!(
                "could not find free ports for redis-server in {PORT_ATTEMPTS} attempts"
            ))
        }))
    }
}

/// A `redis-server` process that lives as long as this value.
///
/// It listens on 127.0.0.1 only, keeps no data on disk (`--save ""
/// --appendonly no`), works in its own temporary directory and, on Redis
/// 7.0 and later, allows the `DEBUG` command. Dropping it kills the process,
/// waits for it to exit and removes the directory; this also happens while a
/// panicking test unwinds. (A test process killed by a signal cannot clean
/// up: its servers then outlive it.)
#[derive(Debug)]
pub struct RedisServer {
    // Dropped first: the process must be gone before its directory is removed.
    process: Option<Process>,
    port: u16,
    /// Cluster bus port passed with `--cluster-port` (cluster nodes on 7.0+).
    bus_port: Option<u16>,
    version: (u32, u32, u32),
    declared_version: Option<(u32, u32, u32)>,
    binary: PathBuf,
    args: Vec<OsString>,
    cluster: bool,
    dir: TempDir,
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port and waits (up to about
    /// 5 seconds) until it answers `PING`.
    ///
    /// The binary is `$REDIS_SERVER` if set, else `redis-server` on `PATH`;
    /// if it does not exist the error says how to install it. If the server
    /// does not come up, the error quotes the end of its output.
    ///
    /// # Errors
    ///
    /// When the binary does not exist ([`TestingError::is_not_found`]), when
    /// the server exits during startup or does not answer `PING` in time
    /// (the error quotes the end of its output), or when no free port or
    /// temporary directory can be had.
    pub fn start() -> Result<RedisServer, TestingError> {
        RedisServer::builder().start()
    }

    /// A builder, for extra command-line arguments or a fixed port.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        url_for(self.port)
    }

    /// The port the server listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id of the running server (it changes on
    /// [`restart`](Self::restart)); `None` after a failed restart.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.0.id())
    }

    /// The server's temporary working directory (`--dir`).
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    /// A client for [`url`](Self::url). Connections made from it after a
    /// [`restart`](Self::restart) reach the new process.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("a redis://127.0.0.1:PORT/ URL is valid")
    }

    /// A new synchronous connection.
    ///
    /// # Panics
    ///
    /// If the server cannot be reached (a test helper: the panic message
    /// says why).
    pub fn connection(&self) -> redis::Connection {
        self.client().get_connection().unwrap_or_else(|e| {
            panic!(
                "could not connect to the test redis-server on port {}: {e}",
                self.port
            )
        })
    }

    /// A new multiplexed async connection (needs a Tokio runtime).
    ///
    /// # Panics
    ///
    /// If the server cannot be reached.
    pub async fn multiplexed(&self) -> redis::aio::MultiplexedConnection {
        match self.client().get_multiplexed_async_connection().await {
            Ok(con) => con,
            Err(e) => panic!(
                "could not connect to the test redis-server on port {}: {e}",
                self.port
            ),
        }
    }

    /// Kills the server and starts it again on the same port, in the same
    /// directory, with the same arguments; waits until it answers `PING`.
    ///
    /// All data is lost and the script cache is empty. Existing connections
    /// are broken; clients that reconnect (or new connections from
    /// [`client`](Self::client)) reach the new process.
    ///
    /// # Errors
    ///
    /// When the new process does not come up (e.g. another process took the
    /// port meanwhile); [`pid`](Self::pid) is then `None`.
    pub fn restart(&mut self) -> Result<(), TestingError> {
        // Dropping the guard kills the process and waits for it.
        self.process = None;
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            match self.launch() {
                Ok(()) => return Ok(()),
                Err(e) if e.kind == ErrorKind::PortInUse && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The server's version, as reported by `INFO server`
    /// (`redis_version`), e.g. `(7, 0, 15)`.
    pub fn version(&self) -> (u32, u32, u32) {
        self.version
    }

    /// `>= 7.0` according to `redis-server --version` (decides which
    /// arguments the server accepts before it runs).
    fn is_7(&self) -> bool {
        self.declared_version.is_some_and(|v| v >= (7, 0, 0))
    }

    /// A port for the server and, for cluster nodes, its bus port; `None`
    /// when the port picked is unusable (try again).
    fn pick_ports(&self) -> Result<Option<(u16, Option<u16>)>, TestingError> {
        let port = free_port()?;
        if !self.cluster || self.is_7() {
            return Ok(Some((port, self.pick_bus_port(port)?)));
        }
        // Before 7.0 the bus port is always port + 10000: it must exist and be free.
        let bus_free = port
            .checked_add(10000)
            .is_some_and(|bus| TcpListener::bind((Ipv4Addr::LOCALHOST, bus)).is_ok());
        Ok(bus_free.then_some((port, None)))
    }

    /// The `--cluster-port` of a cluster node on 7.0+ (a free port other
    /// than `port`), else `None`.
    fn pick_bus_port(&self, port: u16) -> Result<Option<u16>, TestingError> {
        if !self.cluster || !self.is_7() {
            return Ok(None);
        }
        loop {
            let bus = free_port()?;
            if bus != port {
                return Ok(Some(bus));
            }
        }
    }

    /// Spawns the server on `self.port` and waits until it answers `PING`.
    fn launch(&mut self) -> Result<(), TestingError> {
        let dir = self.dir.0.clone();
        let log_path = dir.join("redis.log");
        let log = File::create(&log_path).map_err(|e| {
            TestingError::with_source(format!("could not create {}", log_path.display()), e)
        })?;
        let log2 = log.try_clone().map_err(|e| {
            TestingError::with_source(format!("could not open {}", log_path.display()), e)
        })?;

        let mut cmd = Command::new(&self.binary);
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(&dir);
        if self.is_7() {
            cmd.args(["--enable-debug-command", "yes"]);
        }
        if self.cluster {
            cmd.args(["--cluster-enabled", "yes"])
                .arg("--cluster-config-file")
                .arg(dir.join("nodes.conf"))
                .args(["--cluster-node-timeout", "2000"]);
            if let Some(bus) = self.bus_port {
                cmd.arg("--cluster-port").arg(bus.to_string());
            }
        }
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2));
        let child = cmd.spawn().map_err(|e| spawn_error(&self.binary, e))?;
        // From here on, any early return kills the process.
        let mut process = Process(child);
        self.version = wait_ready(&mut process, self.port, &log_path)?;
        self.process = Some(process);
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // Kill and reap the process first; then the fields drop, which
        // removes the directory.
        self.process = None;
    }
}

/// Waits until the server in `process` answers `PING` on `port`; returns
/// its version.
fn wait_ready(
    process: &mut Process,
    port: u16,
    log_path: &Path,
) -> Result<(u32, u32, u32), TestingError> {
    let started = Instant::now();
    loop {
        match process.0.try_wait() {
            Ok(Some(status)) => {
                let tail = log_tail(log_path);
                let message = format!(
                    "redis-server exited during startup ({status}) on port {port}; \
                     last lines of its output:\n{tail}"
                );
                return Err(if tail.contains("Address already in use") {
                    TestingError::port_in_use(message)
                } else {
                    TestingError::new(message)
                });
            }
            Ok(None) => {}
            Err(e) => {
                return Err(TestingError::with_source(
                    "could not check on the redis-server process",
                    e,
                ))
            }
        }
        let last_error = match probe(port) {
            Ok(info) => {
                // Make sure it is our server that answered, not another
                // one that holds the port (ours would then fail to bind).
                let pid = info_field(&info, "process_id").and_then(|p| p.parse::<u32>().ok());
                if pid.is_some_and(|pid| pid != process.0.id()) {
                    return Err(TestingError::port_in_use(format!(
                        "port {port} is already used by another redis-server (pid {})",
                        pid.unwrap_or(0)
                    )));
                }
                let version = info_field(&info, "redis_version")
                    .and_then(parse_version)
                    .unwrap_or((0, 0, 0));
                return Ok(version);
            }
            Err(e) => e,
        };
        if started.elapsed() >= STARTUP_TIMEOUT {
            return Err(TestingError::new(format!(
                "redis-server on port {port} did not answer PING within {}s \
                 (last error: {last_error}); last lines of its output:\n{}",
                STARTUP_TIMEOUT.as_secs(),
                log_tail(log_path)
            )));
        }
        thread::sleep(Duration::from_millis(25));
    }
}

// ---------------------------------------------------------------------------
// RedisCluster

/// A Redis Cluster of `redis-server` processes (primaries only), alive as
/// long as this value.
///
/// Each node is a [`RedisServer`] started with `--cluster-enabled yes`, its
/// own `nodes.conf` and `--cluster-node-timeout 2000`; the 16384 hash slots
/// are split evenly between them in order (node 0 has the lowest slots).
/// Dropping the cluster kills every node.
///
/// No cluster client is made here (that needs the `cluster` feature of the
/// `redis` crate): use [`urls`](Self::urls) with one.
///
/// ```no_run
/// use redlua::testing::RedisCluster;
///
/// let cluster = RedisCluster::start(3).expect("start a cluster");
/// let seeds = cluster.urls(); // e.g. for redis::cluster::ClusterClient::new(seeds)
/// # drop(seeds);
/// ```
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `primaries` nodes, assigns the slots, joins the nodes with
    /// `CLUSTER MEET` and waits (up to about 20 seconds) until every node
    /// reports `cluster_state:ok`.
    ///
    /// # Errors
    ///
    /// As [`RedisServer::start`] for each node; also when `primaries` is 0,
    /// when a `CLUSTER` command fails, or when the cluster is not ok in time
    /// (the error quotes the `CLUSTER INFO` of a node that is not).
    pub fn start(primaries: usize) -> Result<RedisCluster, TestingError> {
        RedisCluster::start_with(RedisServer::builder(), primaries)
    }

    fn start_with(
        builder: RedisServerBuilder,
        primaries: usize,
    ) -> Result<RedisCluster, TestingError> {
        if primaries == 0 || primaries > CLUSTER_SLOTS {
            return Err(TestingError::new(format!(
                "a cluster needs between 1 and {CLUSTER_SLOTS} primaries, not {primaries}"
            )));
        }
        let builder = RedisServerBuilder {
            cluster: true,
            ..builder
        };
        let mut nodes = Vec::with_capacity(primaries);
        for _ in 0..primaries {
            nodes.push(builder.clone().start()?);
        }
        let cluster = RedisCluster { nodes };
        cluster.assign_slots()?;
        cluster.meet()?;
        cluster.wait_ok()?;
        Ok(cluster)
    }

    /// The nodes, in slot order.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// `redis://127.0.0.1:PORT/` of every node, in slot order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The port of every node, in slot order.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(RedisServer::port).collect()
    }

    /// The hash slots `first..=last` given to node `i`.
    fn slot_range(&self, i: usize) -> (usize, usize) {
        let n = self.nodes.len();
        (i * CLUSTER_SLOTS / n, (i + 1) * CLUSTER_SLOTS / n - 1)
    }

    fn admin(node: &RedisServer) -> Result<redis::Connection, TestingError> {
        admin_connection(node.port).map_err(|e| {
            TestingError::with_source(
                format!("could not connect to cluster node on port {}", node.port),
                e,
            )
        })
    }

    fn assign_slots(&self) -> Result<(), TestingError> {
        for (i, node) in self.nodes.iter().enumerate() {
            let (first, last) = self.slot_range(i);
            let mut cmd = redis::cmd("CLUSTER");
            if node.version >= (7, 0, 0) {
                cmd.arg("ADDSLOTSRANGE").arg(first).arg(last);
            } else {
                cmd.arg("ADDSLOTS").arg((first..=last).collect::<Vec<_>>());
            }
            let mut con = Self::admin(node)?;
            let () = cmd.query(&mut con).map_err(|e| {
                TestingError::with_source(
                    format!(
                        "CLUSTER ADDSLOTS {first}..{last} failed on port {}",
                        node.port
                    ),
                    e,
                )
            })?;
        }
        Ok(())
    }

    fn meet(&self) -> Result<(), TestingError> {
        let first = &self.nodes[0];
        let mut con = Self::admin(first)?;
        for node in &self.nodes[1..] {
            let mut cmd = redis::cmd("CLUSTER");
            cmd.arg("MEET").arg("127.0.0.1").arg(node.port);
            if let Some(bus) = node.bus_port {
                cmd.arg(bus);
            }
            let () = cmd.query(&mut con).map_err(|e| {
                TestingError::with_source(
                    format!(
                        "CLUSTER MEET of port {} with {} failed",
                        first.port, node.port
                    ),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// Whether `node` says the cluster is ok, knows every node and has every
    /// slot assigned; `Err` holds its `CLUSTER INFO` (or the error) if not.
    fn node_ok(&self, node: &RedisServer) -> Result<(), String> {
        let mut con = admin_connection(node.port).map_err(|e| e.to_string())?;
        let info: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query(&mut con)
            .map_err(|e| e.to_string())?;
        let ok = info_field(&info, "cluster_state") == Some("ok")
            && info_field(&info, "cluster_slots_assigned") == Some("16384")
            && info_field(&info, "cluster_known_nodes")
                == Some(self.nodes.len().to_string().as_str());
        if ok {
            Ok(())
        } else {
            Err(info)
        }
    }

    fn wait_ok(&self) -> Result<(), TestingError> {
        let started = Instant::now();
        loop {
            let mut waiting = None;
            for node in &self.nodes {
                if let Err(info) = self.node_ok(node) {
                    waiting = Some((node.port, info));
                    break;
                }
            }
            let Some((port, info)) = waiting else {
                return Ok(());
            };
            if started.elapsed() >= CLUSTER_TIMEOUT {
                let info: Vec<String> = info.lines().map(|l| format!("    {l}")).collect();
                return Err(TestingError::new(format!(
                    "the cluster did not reach cluster_state:ok within {}s; \
                     CLUSTER INFO of the node on port {port}:\n{}",
                    CLUSTER_TIMEOUT.as_secs(),
                    info.join("\n")
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

// ---------------------------------------------------------------------------

/// How many times `command` ran on the server, from `INFO commandstats`
/// (`"evalsha"`, `"evalsha_ro"`, `"script|load"`, ...); 0 when it never ran.
/// Tests use it to count round trips a script call cost.
///
/// ```
/// use redlua::testing::{command_calls, RedisServer};
///
/// let server = RedisServer::start().expect("start redis-server");
/// let mut con = server.connection();
/// redis::cmd("ECHO").arg("hi").exec(&mut con).unwrap();
/// assert_eq!(command_calls(&mut con, "echo"), 1);
/// assert_eq!(command_calls(&mut con, "evalsha"), 0);
/// ```
pub fn command_calls(con: &mut dyn redis::ConnectionLike, command: &str) -> u64 {
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(con)
        .unwrap_or_default();
    let prefix = format!("cmdstat_{command}:calls=");
    stats
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A connection that counts its round trips (one per packed request or
/// pipeline sent), sync or async: tests use it to check what a call costs.
///
/// ```
/// use redlua::testing::{RedisServer, RoundTrips};
///
/// let server = RedisServer::start().expect("start redis-server");
/// let mut con = server.connection();
/// let mut counted = RoundTrips::new(&mut con);
/// redis::pipe().cmd("PING").cmd("PING").exec(&mut counted).unwrap();
/// assert_eq!(counted.count(), 1);
/// ```
pub struct RoundTrips<'a, C: ?Sized> {
    inner: &'a mut C,
    count: u64,
}

impl<'a, C: ?Sized> RoundTrips<'a, C> {
    /// Wraps `inner`; the count starts at 0.
    pub fn new(inner: &'a mut C) -> RoundTrips<'a, C> {
        RoundTrips { inner, count: 0 }
    }

    /// Round trips made through this wrapper since it was made or reset.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Starts counting from 0 again.
    pub fn reset(&mut self) {
        self.count = 0;
    }
}

impl<C: redis::ConnectionLike + ?Sized> redis::ConnectionLike for RoundTrips<'_, C> {
    fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<redis::Value> {
        self.count += 1;
        self.inner.req_packed_command(cmd)
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<redis::Value>> {
        self.count += 1;
        self.inner.req_packed_commands(cmd, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }

    fn check_connection(&mut self) -> bool {
        self.inner.check_connection()
    }

    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
}

impl<C: redis::aio::ConnectionLike + ?Sized> redis::aio::ConnectionLike for RoundTrips<'_, C> {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        self.count += 1;
        self.inner.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        self.count += 1;
        self.inner.req_packed_commands(cmd, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    fn start() -> RedisServer {
        RedisServer::start().expect("start redis-server")
    }

    fn ping(con: &mut redis::Connection) -> String {
        redis::cmd("PING").query(con).expect("PING")
    }

    #[test]
    fn starts_and_answers_ping() {
        let server = start();
        assert_eq!(
            server.url(),
            format!("redis://127.0.0.1:{}/", server.port())
        );
        assert!(server.dir().is_dir());
        let mut con = server.connection();
        assert_eq!(ping(&mut con), "PONG");
        assert!(server.version() >= (2, 6, 0), "{:?}", server.version());

        // No persistence, bound to loopback.
        let save: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("save")
            .query(&mut con)
            .unwrap();
        assert_eq!(save, ["save", ""]);
        let aof: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("appendonly")
            .query(&mut con)
            .unwrap();
        assert_eq!(aof, ["appendonly", "no"]);

        if server.version() >= (7, 0, 0) {
            let () = redis::cmd("DEBUG")
                .arg("SLEEP")
                .arg(0)
                .query(&mut con)
                .expect("DEBUG is enabled on 7.0+");
        }
    }

    #[test]
    fn builder_passes_extra_args() {
        let server = RedisServer::builder()
            .arg("--maxmemory")
            .arg("10mb")
            .args(["--maxmemory-policy", "allkeys-lru"])
            .start()
            .expect("start redis-server");
        let mut con = server.connection();
        let got: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory")
            .query(&mut con)
            .unwrap();
        assert_eq!(got, ["maxmemory", "10485760"]);
        let got: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory-policy")
            .query(&mut con)
            .unwrap();
        assert_eq!(got, ["maxmemory-policy", "allkeys-lru"]);
    }

    #[test]
    fn builder_fixed_port() {
        let port = free_port().unwrap();
        let server = RedisServer::builder()
            .port(port)
            .start()
            .expect("start redis-server");
        assert_eq!(server.port(), port);
        assert_eq!(ping(&mut server.connection()), "PONG");

        // The same port again is taken: a clear error, no retry elsewhere.
        let err = RedisServer::builder().port(port).start().unwrap_err();
        assert!(!err.is_not_found());
        assert!(err.to_string().contains(&port.to_string()), "{err}");
    }

    #[test]
    fn restart_keeps_port_and_empties_script_cache() {
        let mut server = start();
        let port = server.port();
        let pid = server.pid().unwrap();
        let client = server.client();
        let mut con = server.connection();
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg("return 1")
            .query(&mut con)
            .unwrap();
        let exists: Vec<bool> = redis::cmd("SCRIPT")
            .arg("EXISTS")
            .arg(&sha)
            .query(&mut con)
            .unwrap();
        assert_eq!(exists, [true]);
        let () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();

        server.restart().expect("restart");
        assert_eq!(server.port(), port);
        assert_ne!(server.pid(), Some(pid));

        // The old connection is broken; the old client reconnects.
        assert!(redis::cmd("PING").query::<String>(&mut con).is_err());
        let mut con = client.get_connection().unwrap();
        let exists: Vec<bool> = redis::cmd("SCRIPT")
            .arg("EXISTS")
            .arg(&sha)
            .query(&mut con)
            .unwrap();
        assert_eq!(exists, [false]);
        let k: Option<String> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
        assert_eq!(k, None);

        // And once more.
        server.restart().expect("second restart");
        assert_eq!(ping(&mut server.connection()), "PONG");
    }

    #[test]
    fn drop_kills_the_process_and_removes_the_dir() {
        let server = start();
        let port = server.port();
        let pid = server.pid().unwrap();
        let dir = server.dir().to_owned();
        drop(server);
        assert!(
            TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
            "port {port} still accepts connections"
        );
        let proc = Path::new("/proc");
        if proc.is_dir() {
            assert!(
                !proc.join(pid.to_string()).exists(),
                "process {pid} still exists"
            );
        }
        assert!(!dir.exists(), "{} still exists", dir.display());
    }

    #[test]
    fn drop_during_panic_kills_the_process() {
        let (tx, rx) = std::sync::mpsc::channel();
        let result = thread::spawn(move || {
            let server = start();
            tx.send(server.port()).unwrap();
            panic!("test failure while the server runs");
        })
        .join();
        assert!(result.is_err());
        let port = rx.recv().unwrap();
        assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
    }

    #[test]
    fn two_servers_at_once_are_separate() {
        let a = start();
        let b = start();
        assert_ne!(a.port(), b.port());
        assert_ne!(a.dir(), b.dir());
        let mut ca = a.connection();
        let mut cb = b.connection();
        let () = redis::cmd("SET").arg("k").arg("a").query(&mut ca).unwrap();
        let got: Option<String> = redis::cmd("GET").arg("k").query(&mut cb).unwrap();
        assert_eq!(got, None);
    }

    #[test]
    fn missing_binary_gives_install_help() {
        let err = RedisServer::builder()
            .binary("/nonexistent/redlua-test/redis-server")
            .start()
            .unwrap_err();
        assert!(err.is_not_found());
        let expected = "redis-server was not found on PATH; install it (Debian/Ubuntu: \
                        `apt-get install redis-server`, macOS: `brew install redis`) or set \
                        REDIS_SERVER to its path";
        assert_eq!(err.to_string(), expected);
        // `.expect(..)` prints Debug: the same text.
        assert_eq!(format!("{err:?}"), expected);

        let err = RedisCluster::start_with(
            RedisServer::builder().binary("/nonexistent/redlua-test/redis-server"),
            3,
        )
        .unwrap_err();
        assert!(err.is_not_found());
    }

    /// Writes an executable fake `redis-server` (a shell script that
    /// answers `--version` and runs `body` otherwise) into `dir`.
    #[cfg(unix)]
    fn fake_server(dir: &Path, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("redis-server");
        let script = format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'Redis server v=7.0.0'; exit 0; fi\n{body}\n"
        );
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        // Another test's fork may briefly hold the file open for writing
        // (ETXTBSY); wait until it runs.
        for _ in 0..100 {
            match Command::new(&path).arg("--version").output() {
                Ok(_) => break,
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
        path
    }

    #[cfg(unix)]
    #[test]
    fn startup_failure_quotes_the_server_output() {
        let dir = TempDir::new().unwrap();
        let fake = fake_server(
            &dir.0,
            "echo 'FATAL CONFIG FILE ERROR: bad option' >&2; exit 1",
        );
        let err = RedisServer::builder().binary(fake).start().unwrap_err();
        let text = err.to_string();
        assert!(!err.is_not_found());
        assert!(text.contains("exited during startup"), "{text}");
        assert!(
            text.contains("FATAL CONFIG FILE ERROR: bad option"),
            "{text}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn startup_timeout_kills_the_process() {
        let dir = TempDir::new().unwrap();
        let pid_file = dir.0.join("pid");
        let fake = fake_server(
            &dir.0,
            &format!(
                "echo $$ > '{}'; echo 'starting slowly'; exec sleep 60",
                pid_file.display()
            ),
        );
        let started = Instant::now();
        let err = RedisServer::builder().binary(fake).start().unwrap_err();
        assert!(started.elapsed() < STARTUP_TIMEOUT * 2);
        let text = err.to_string();
        assert!(text.contains("did not answer PING"), "{text}");
        assert!(text.contains("starting slowly"), "{text}");
        let pid = fs::read_to_string(&pid_file).unwrap();
        let proc = Path::new("/proc");
        if proc.is_dir() {
            assert!(
                !proc.join(pid.trim()).exists(),
                "process {pid} still exists"
            );
        }
    }

    #[test]
    fn binary_comes_from_redis_server_env_var() {
        assert_eq!(binary_from_env(None), PathBuf::from("redis-server"));
        assert_eq!(
            binary_from_env(Some(OsString::new())),
            PathBuf::from("redis-server")
        );
        assert_eq!(
            binary_from_env(Some("/opt/redis/bin/redis-server".into())),
            PathBuf::from("/opt/redis/bin/redis-server")
        );
    }

    #[test]
    fn parses_versions() {
        assert_eq!(
            parse_version_output(
                "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d"
            ),
            Some((7, 0, 15))
        );
        assert_eq!(
            parse_version_output("Valkey server v=8.1.0 sha=00000000:0"),
            Some((8, 1, 0))
        );
        assert_eq!(parse_version_output("no version here"), None);
        assert_eq!(parse_version("6.2.14"), Some((6, 2, 14)));
        assert_eq!(parse_version("7.4"), Some((7, 4, 0)));
        assert_eq!(parse_version("7.2.0-rc1"), Some((7, 2, 0)));
    }

    #[test]
    fn info_fields() {
        let info = "# Server\r\nredis_version:7.0.15\r\nprocess_id:42\r\n";
        assert_eq!(info_field(info, "redis_version"), Some("7.0.15"));
        assert_eq!(info_field(info, "process_id"), Some("42"));
        assert_eq!(info_field(info, "process"), None);
    }

    #[tokio::test]
    async fn multiplexed_connection_works() {
        let server = start();
        let mut con = server.multiplexed().await;
        let () = redis::cmd("SET")
            .arg("k")
            .arg(7)
            .query_async(&mut con)
            .await
            .unwrap();
        let got: i64 = redis::cmd("GET")
            .arg("k")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(got, 7);
    }

    #[test]
    fn cluster_of_three_reaches_ok_and_redirects() {
        let cluster = RedisCluster::start(3).expect("start a cluster");
        assert_eq!(cluster.nodes().len(), 3);
        let ports = cluster.ports();
        assert_eq!(
            cluster.urls()[1],
            format!("redis://127.0.0.1:{}/", ports[1])
        );
        for node in cluster.nodes() {
            let mut con = node.connection();
            let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut con).unwrap();
            assert_eq!(info_field(&info, "cluster_state"), Some("ok"), "{info}");
            assert_eq!(
                info_field(&info, "cluster_known_nodes"),
                Some("3"),
                "{info}"
            );
        }

        // Keys in different slots: node 0 takes its own and redirects the others.
        let mut con = cluster.nodes()[0].connection();
        let mut moved = 0;
        for key in ["foo", "bar", "hello", "{user:1}", "status:id:"] {
            let slot: usize = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(key)
                .query(&mut con)
                .unwrap();
            let owner = (0..3)
                .find(|&i| {
                    let (first, last) = cluster.slot_range(i);
                    (first..=last).contains(&slot)
                })
                .unwrap();
            let result: redis::RedisResult<()> =
                redis::cmd("SET").arg(key).arg("v").query(&mut con);
            if owner == 0 {
                result.unwrap_or_else(|e| panic!("SET {key} (slot {slot}) on its owner: {e}"));
            } else {
                let err = result.expect_err("SET of another node's key must be MOVED");
                assert_eq!(err.code(), Some("MOVED"), "{err}");
                let (addr, moved_slot) = err.redirect_node().expect("redirect target");
                assert_eq!(usize::from(moved_slot), slot);
                assert_eq!(addr, format!("127.0.0.1:{}", ports[owner]));
                moved += 1;
            }
        }
        assert!(moved > 0, "no key was redirected");
    }
}
