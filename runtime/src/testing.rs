//! Throwaway `redis-server` processes for tests (feature `testing`).
//!
//! [`RedisServer::start`] runs a fresh `redis-server` on a free loopback
//! port, with no persistence and its own temporary directory, and waits
//! until it answers `PING`. Dropping the [`RedisServer`] kills the process
//! and removes the directory, also when the test panics.
//! [`RedisCluster::start`] does the same for a small Redis Cluster.
//!
//! The binary is the one given to [`RedisServerBuilder::binary`], else
//! `$REDLUA_TEST_SERVER` (a path, e.g. a Valkey `valkey-server`; the older
//! `$REDIS_SERVER` is read when it is unset), else `redis-server` from
//! `PATH`. When the binary does not exist, starting fails with an error that
//! says how to get it (`tools/servers.sh` fetches every server of the test
//! matrix): tests that need a server fail loudly rather than being skipped.
//!
//! [`RedisServer::server_version`] says which server (Redis or Valkey) and
//! version runs, with capability checks; a test that a server cannot run
//! skips itself with [`RedisServer::skip_unless`], which prints why.
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
use std::io::{self, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Display text of the error returned when no `redis-server` is on `PATH`
/// (and no binary was configured).
const NOT_FOUND: &str = "redis-server was not found on PATH; install it \
(Debian/Ubuntu: `apt-get install redis-server`, macOS: `brew install redis`) \
or set REDLUA_TEST_SERVER to the path of a redis-server or valkey-server";

/// How to get the servers of the test matrix, for errors about a configured
/// binary that does not exist.
const HOW_TO_FETCH: &str = "`tools/servers.sh` (in the redlua repository) fetches \
the servers of the test matrix into target/servers/ and prints their paths \
(`tools/servers.sh path valkey-9.1` prints one); Redis 7.0 is Debian's \
`apt-get install redis-server`";

/// Environment variable naming the server binary the tests run.
pub const SERVER_ENV: &str = "REDLUA_TEST_SERVER";
/// Older name of [`SERVER_ENV`], read when that is unset.
const LEGACY_SERVER_ENV: &str = "REDIS_SERVER";

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

    fn not_found(binary: &Binary) -> TestingError {
        let message = match binary.origin {
            Origin::Default => NOT_FOUND.to_owned(),
            Origin::Env(var) => format!(
                "{var}={} does not exist; {HOW_TO_FETCH}",
                binary.path.display()
            ),
            Origin::Builder => format!(
                "the test server binary {} (given to RedisServerBuilder::binary) \
                 does not exist; {HOW_TO_FETCH}",
                binary.path.display()
            ),
        };
        TestingError {
            kind: ErrorKind::NotFound,
            message,
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

/// Where the path of the server binary came from (for the error when it
/// does not exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// `redis-server`, looked up on `PATH`.
    Default,
    /// The environment variable of that name.
    Env(&'static str),
    /// [`RedisServerBuilder::binary`].
    Builder,
}

/// The server binary to run.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Binary {
    path: PathBuf,
    origin: Origin,
}

/// The binary to run given the values of `REDLUA_TEST_SERVER` and
/// `REDIS_SERVER`: the first that is set and non-empty, else `redis-server`
/// (looked up on `PATH` when spawned).
fn binary_from_env(test_server: Option<OsString>, legacy: Option<OsString>) -> Binary {
    for (var, value) in [(SERVER_ENV, test_server), (LEGACY_SERVER_ENV, legacy)] {
        if let Some(path) = value.filter(|p| !p.is_empty()) {
            return Binary {
                path: PathBuf::from(path),
                origin: Origin::Env(var),
            };
        }
    }
    Binary {
        path: PathBuf::from("redis-server"),
        origin: Origin::Default,
    }
}

fn spawn_error(binary: &Binary, e: io::Error) -> TestingError {
    if e.kind() == io::ErrorKind::NotFound {
        TestingError::not_found(binary)
    } else {
        TestingError::with_source(format!("could not run {}", binary.path.display()), e)
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
fn binary_version(binary: &Binary) -> Result<Option<(u32, u32, u32)>, TestingError> {
    let output = Command::new(&binary.path)
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
// ServerVersion

/// Which server software a test server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerName {
    /// Redis (`redis_version` in `INFO server`).
    Redis,
    /// Valkey (`server_name:valkey` and `valkey_version` in `INFO server`).
    Valkey,
}

impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerName::Redis => "Redis",
            ServerName::Valkey => "Valkey",
        })
    }
}

/// The software and version of a running test server, read from its
/// `INFO server`, with the capability checks tests skip on.
///
/// Valkey also reports `redis_version:7.2.4` (the Redis version it forked
/// from) for old clients; this holds Valkey's own `valkey_version`.
///
/// Displays as `Redis 7.0.15` / `Valkey 9.1.2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServerVersion {
    /// Redis or Valkey.
    pub name: ServerName,
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
}

impl ServerVersion {
    /// Reads the software and version from the text of `INFO server`;
    /// `None` when it has no version field.
    pub fn from_info(info: &str) -> Option<ServerVersion> {
        let valkey = info_field(info, "valkey_version");
        let (name, text) = match valkey {
            Some(v) => (ServerName::Valkey, v),
            None => {
                let v = info_field(info, "redis_version")?;
                // A Valkey too old to report valkey_version still says so
                // in server_name.
                let name = if info_field(info, "server_name") == Some("valkey") {
                    ServerName::Valkey
                } else {
                    ServerName::Redis
                };
                (name, v)
            }
        };
        let (major, minor, patch) = parse_version(text)?;
        Some(ServerVersion {
            name,
            major,
            minor,
            patch,
        })
    }

    /// `(major, minor, patch)`.
    pub fn numbers(&self) -> (u32, u32, u32) {
        (self.major, self.minor, self.patch)
    }

    /// True on Redis.
    pub fn is_redis(&self) -> bool {
        self.name == ServerName::Redis
    }

    /// True on Valkey.
    pub fn is_valkey(&self) -> bool {
        self.name == ServerName::Valkey
    }

    /// True when this is `name` at `version` or later.
    pub fn is_at_least(&self, name: ServerName, version: (u32, u32, u32)) -> bool {
        self.name == name && self.numbers() >= version
    }

    /// The Redis version whose scripting this server offers: Redis's own,
    /// or 7.2 for every Valkey (forked from Redis 7.2.4, which it reports as
    /// `redis_version`).
    fn redis_level(&self) -> (u32, u32, u32) {
        match self.name {
            ServerName::Redis => self.numbers(),
            ServerName::Valkey => (7, 2, 4),
        }
    }

    /// `#!lua flags=...` first lines (Redis 7.0+, every Valkey). Older
    /// servers cannot compile such a script.
    pub fn has_script_flags(&self) -> bool {
        self.redis_level() >= (7, 0, 0)
    }

    /// `EVAL_RO` / `EVALSHA_RO` (Redis 7.0+, every Valkey).
    pub fn has_evalsha_ro(&self) -> bool {
        self.redis_level() >= (7, 0, 0)
    }

    /// `FUNCTION` / `FCALL` (Redis 7.0+, every Valkey).
    pub fn has_functions(&self) -> bool {
        self.redis_level() >= (7, 0, 0)
    }

    /// `CLUSTER ADDSLOTSRANGE` and `--cluster-port` (Redis 7.0+, every
    /// Valkey).
    pub fn has_cluster_port(&self) -> bool {
        self.redis_level() >= (7, 0, 0)
    }

    /// `INFO commandstats` counts subcommands apart (`cmdstat_script|load`)
    /// and ACL rules name them (`-script|load`): Redis 7.0+, every Valkey.
    /// Redis 6.2 counts and controls only whole commands.
    pub fn has_subcommand_stats(&self) -> bool {
        self.redis_level() >= (7, 0, 0)
    }

    /// The `server` global, an alias of `redis` in scripts (Valkey only).
    pub fn has_server_global(&self) -> bool {
        self.is_valkey()
    }

    /// Whether a script's runtime error names the script's SHA1 after
    /// `script:` (`... script: <sha>, on @user_script:N.`): Redis 7.0+ and
    /// Valkey before 9.1. Valkey 9.1 writes `script: on @user_script:N.`;
    /// Redis 6.2 wraps errors as `Error running script (call to f_<sha>)`.
    pub fn runtime_error_names_sha(&self) -> bool {
        match self.name {
            ServerName::Redis => self.numbers() >= (7, 0, 0),
            ServerName::Valkey => self.numbers() < (9, 1, 0),
        }
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}.{}.{}",
            self.name, self.major, self.minor, self.patch
        )
    }
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
    /// Runs this binary (a `redis-server` or `valkey-server`) instead of
    /// `$REDLUA_TEST_SERVER` / `redis-server` from `PATH`. When it does not
    /// exist, [`start`](Self::start) fails with an error that says how to
    /// get it ([`TestingError::is_not_found`]).
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
        let binary = match self.binary {
            Some(path) => Binary {
                path,
                origin: Origin::Builder,
            },
            None => binary_from_env(
                std::env::var_os(SERVER_ENV),
                std::env::var_os(LEGACY_SERVER_ENV),
            ),
        };
        let declared_version = binary_version(&binary)?;
        let dir = TempDir::new()?;
        let mut server = RedisServer {
            process: None,
            port: 0,
            bus_port: None,
            version: ServerVersion {
                name: ServerName::Redis,
                major: 0,
                minor: 0,
                patch: 0,
            },
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

    /// Starts a cluster of `primaries` nodes made with these options (e.g.
    /// another [`binary`](Self::binary)); see [`RedisCluster::start`].
    ///
    /// # Errors
    ///
    /// As [`RedisCluster::start`].
    pub fn start_cluster(self, primaries: usize) -> Result<RedisCluster, TestingError> {
        RedisCluster::start_with(self, primaries, 0)
    }
}

/// A `redis-server` process that lives as long as this value.
///
/// It listens on 127.0.0.1 only, keeps no data on disk (`--save ""
/// --appendonly no`), syncs a replica at once (`--repl-diskless-sync-delay
/// 0`), works in its own temporary directory and, on Redis 7.0 and later
/// and Valkey, allows the `DEBUG` command. Dropping it kills the process,
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
    version: ServerVersion,
    declared_version: Option<(u32, u32, u32)>,
    binary: Binary,
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
    #[cfg(feature = "aio")]
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

    /// The server's version, as reported by `INFO server`, e.g.
    /// `(7, 0, 15)`: `redis_version` on Redis, `valkey_version` on Valkey
    /// (see [`server_version`](Self::server_version) for which it is).
    pub fn version(&self) -> (u32, u32, u32) {
        self.version.numbers()
    }

    /// Which server runs (Redis or Valkey), its version and what it can
    /// do, from `INFO server`.
    pub fn server_version(&self) -> &ServerVersion {
        &self.version
    }

    /// The binary this server runs.
    pub fn binary(&self) -> &Path {
        &self.binary.path
    }

    /// Whether scripts on this server see a global called `name` (e.g.
    /// `getfenv`, `os`, `server`), asked by `EVAL`. Builds differ where the
    /// version does not tell: Debian's 7.0.15 (`7.0.15-1~deb12u10`) removes
    /// `getfenv`, `setfenv` and `newproxy` as Redis 8.2.2 does.
    ///
    /// # Panics
    ///
    /// If the server cannot be reached or the `EVAL` fails.
    pub fn has_lua_global(&self, name: &str) -> bool {
        let mut con = self.connection();
        redis::cmd("EVAL")
            .arg("return rawget(_G, ARGV[1]) ~= nil")
            .arg(0)
            .arg(name)
            .query(&mut con)
            .unwrap_or_else(|e| panic!("could not ask {} about global {name}: {e}", self.version))
    }

    /// Returns true, after printing to stderr why, when `supported` is
    /// false: the current test should then return without testing anything.
    /// For tests that this server cannot run, e.g.
    ///
    /// ```no_run
    /// # let server = redlua::testing::RedisServer::start().unwrap();
    /// let v = *server.server_version();
    /// if server.skip_unless(v.has_evalsha_ro(), "needs EVALSHA_RO (Redis 7.0+)") {
    ///     return;
    /// }
    /// ```
    ///
    /// prints `SKIP <test name>: needs EVALSHA_RO (Redis 7.0+) (server Redis
    /// 6.2.5)` on Redis 6.2. Skip only on a capability the server lacks,
    /// never because the server is missing or failing.
    pub fn skip_unless(&self, supported: bool, why: &str) -> bool {
        if !supported {
            // libtest runs each test on a thread named after it.
            let current = thread::current();
            let test = current.name().unwrap_or("test");
            // Written to the stderr handle, not with eprintln!, which libtest
            // captures and shows only for failing tests: a skip must show.
            let _ = writeln!(io::stderr(), "SKIP {test}: {why} (server {})", self.version);
        }
        !supported
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

        let mut cmd = Command::new(&self.binary.path);
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            // A replica's first sync would otherwise wait 5 s for more
            // replicas (Valkey 9.1 and Redis 8 send it diskless after that delay).
            .args(["--repl-diskless-sync-delay", "0"])
            .arg("--dir")
            .arg(&dir);
        if self.is_7() {
            cmd.args(["--enable-debug-command", "yes"]);
        }
        if self.cluster {
            cmd.args(["--cluster-enabled", "yes"])
                .arg("--cluster-config-file")
                .arg(dir.join("nodes.conf"))
                .args(["--cluster-node-timeout", "2000"])
                // A node lists a replica in CLUSTER SLOTS once it has heard a
                // non-zero replication offset from it, which on an idle
                // primary moves only with its replication ping (10 s apart
                // by default).
                .args(["--repl-ping-replica-period", "1"]);
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
        self.version = wait_ready(&mut process, &self.binary.path, self.port, &log_path)?;
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

/// Waits until the server in `process` (running `binary`) answers `PING` on
/// `port`; returns its version.
fn wait_ready(
    process: &mut Process,
    binary: &Path,
    port: u16,
    log_path: &Path,
) -> Result<ServerVersion, TestingError> {
    // Errors name the binary (valkey-server, a path under target/servers/):
    // with a matrix of servers, which one failed matters.
    let name = binary.display();
    let started = Instant::now();
    loop {
        match process.0.try_wait() {
            Ok(Some(status)) => {
                let tail = log_tail(log_path);
                let message = format!(
                    "{name} exited during startup ({status}) on port {port}; \
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
                    format!("could not check on the {name} process"),
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
                        "port {port} is already used by another server (pid {})",
                        pid.unwrap_or(0)
                    )));
                }
                return ServerVersion::from_info(&info).ok_or_else(|| {
                    TestingError::new(format!(
                        "the server on port {port} gave no redis_version or \
                         valkey_version in INFO server:\n{info}"
                    ))
                });
            }
            Err(e) => e,
        };
        if started.elapsed() >= STARTUP_TIMEOUT {
            return Err(TestingError::new(format!(
                "{name} on port {port} did not answer PING within {}s \
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

/// A Redis Cluster of `redis-server` processes, alive as long as this value.
///
/// Each node is a [`RedisServer`] started with `--cluster-enabled yes`, its
/// own `nodes.conf` and `--cluster-node-timeout 2000`; the 16384 hash slots
/// are split evenly between the primaries in order (node 0 has the lowest
/// slots). [`RedisCluster::start_with_replicas`] also gives each primary
/// its replicas (nodes run with `--repl-ping-replica-period 1`, so every
/// node lists them in `CLUSTER SLOTS` within a second or two). Dropping the
/// cluster kills every node.
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
    /// `replicas[i]` replicate `nodes[i / per_primary]`.
    replicas: Vec<RedisServer>,
    per_primary: usize,
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
        RedisCluster::start_with(RedisServer::builder(), primaries, 0)
    }

    /// [`start`](Self::start), and `replicas` replicas for each primary
    /// (`CLUSTER REPLICATE`), waiting until each replica has synced with
    /// its primary.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start); also when a replica does not sync in time.
    pub fn start_with_replicas(
        primaries: usize,
        replicas: usize,
    ) -> Result<RedisCluster, TestingError> {
        RedisCluster::start_with(RedisServer::builder(), primaries, replicas)
    }

    fn start_with(
        builder: RedisServerBuilder,
        primaries: usize,
        per_primary: usize,
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
        let mut replicas = Vec::with_capacity(primaries * per_primary);
        for _ in 0..primaries * per_primary {
            replicas.push(builder.clone().start()?);
        }
        let cluster = RedisCluster {
            nodes,
            replicas,
            per_primary,
        };
        cluster.assign_slots()?;
        cluster.meet()?;
        cluster.wait_ok()?;
        cluster.replicate()?;
        Ok(cluster)
    }

    /// Which server the nodes run, and its version.
    pub fn server_version(&self) -> &ServerVersion {
        self.nodes[0].server_version()
    }

    /// [`RedisServer::skip_unless`] for a cluster test: true, after printing
    /// why, when `supported` is false.
    pub fn skip_unless(&self, supported: bool, why: &str) -> bool {
        self.nodes[0].skip_unless(supported, why)
    }

    /// The nodes, in slot order.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The replicas, [`replicas_per_primary`](Self::replicas_per_primary)
    /// for each primary in the order of [`nodes`](Self::nodes): replica `i`
    /// replicates `nodes()[i / replicas_per_primary()]` (as started; a
    /// failover swaps the roles).
    pub fn replicas(&self) -> &[RedisServer] {
        &self.replicas
    }

    /// How many replicas each primary was given.
    pub fn replicas_per_primary(&self) -> usize {
        self.per_primary
    }

    /// Every node: the primaries, then the replicas.
    pub fn all_nodes(&self) -> impl Iterator<Item = &RedisServer> {
        self.nodes.iter().chain(&self.replicas)
    }

    /// The cluster's node id of `node` (`CLUSTER MYID`).
    ///
    /// # Errors
    ///
    /// When the node cannot be reached or does not answer.
    pub fn node_id(node: &RedisServer) -> Result<String, TestingError> {
        let mut con = Self::admin(node)?;
        // CLUSTER MYID is 7.0+; the `myself` line of CLUSTER NODES is everywhere.
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query(&mut con)
            .map_err(|e| {
                TestingError::with_source(format!("CLUSTER NODES on port {}", node.port), e)
            })?;
        nodes
            .lines()
            .find(|l| l.split(' ').nth(2).is_some_and(|f| f.contains("myself")))
            .and_then(|l| l.split(' ').next())
            .map(str::to_string)
            .ok_or_else(|| {
                TestingError::new(format!(
                    "no `myself` line in CLUSTER NODES on port {}:\n{nodes}",
                    node.port
                ))
            })
    }

    /// `redis://127.0.0.1:PORT/` of every primary, in slot order.
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
            if node.version.has_cluster_port() {
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
        for node in self.all_nodes().skip(1) {
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
                == Some(
                    (self.nodes.len() + self.replicas.len())
                        .to_string()
                        .as_str(),
                );
        if ok {
            Ok(())
        } else {
            Err(info)
        }
    }

    /// Makes each replica replicate its primary and waits until each has
    /// synced (`master_link_status:up`) and every node sees the roles.
    fn replicate(&self) -> Result<(), TestingError> {
        if self.replicas.is_empty() {
            return Ok(());
        }
        for (i, replica) in self.replicas.iter().enumerate() {
            let primary = Self::node_id(&self.nodes[i / self.per_primary])?;
            let mut con = Self::admin(replica)?;
            let () = redis::cmd("CLUSTER")
                .arg("REPLICATE")
                .arg(&primary)
                .query(&mut con)
                .map_err(|e| {
                    TestingError::with_source(
                        format!("CLUSTER REPLICATE {primary} on port {}", replica.port),
                        e,
                    )
                })?;
        }
        let started = Instant::now();
        for replica in &self.replicas {
            loop {
                let info: String = Self::admin(replica)
                    .ok()
                    .and_then(|mut con| redis::cmd("INFO").arg("replication").query(&mut con).ok())
                    .unwrap_or_default();
                if info_field(&info, "master_link_status") == Some("up") {
                    break;
                }
                if started.elapsed() >= CLUSTER_TIMEOUT {
                    return Err(TestingError::new(format!(
                        "the replica on port {} did not sync within {}s; INFO replication:\n{info}",
                        replica.port,
                        CLUSTER_TIMEOUT.as_secs()
                    )));
                }
                thread::sleep(Duration::from_millis(25));
            }
        }
        // Every node must list each replica in CLUSTER SLOTS before a
        // client reads the slot map: a node leaves out a replica until it
        // has heard the replica's replication offset, and a client that
        // reads the map before then never learns of that replica.
        let all = self.nodes.len() + self.replicas.len();
        loop {
            let settled = self.all_nodes().all(|node| {
                let slots: Vec<Vec<redis::Value>> = Self::admin(node)
                    .ok()
                    .and_then(|mut con| redis::cmd("CLUSTER").arg("SLOTS").query(&mut con).ok())
                    .unwrap_or_default();
                let listed: usize = slots.iter().map(|r| r.len().saturating_sub(2)).sum();
                listed == all
            });
            if settled {
                return self.wait_ok();
            }
            if started.elapsed() >= CLUSTER_TIMEOUT {
                return Err(TestingError::new(format!(
                    "not every node listed all {all} nodes in CLUSTER SLOTS within {}s",
                    CLUSTER_TIMEOUT.as_secs()
                )));
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    fn wait_ok(&self) -> Result<(), TestingError> {
        let started = Instant::now();
        loop {
            let mut waiting = None;
            for node in self.all_nodes() {
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
/// Redis 6.2 counts subcommands under their command only (`cmdstat_script`
/// for every `SCRIPT` subcommand), so `"script|load"` is always 0 there: see
/// [`ServerVersion::has_subcommand_stats`].
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
    let calls = |name: &str| {
        let prefix = format!("cmdstat_{name}:calls=");
        stats
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
    };
    calls(command).unwrap_or(0)
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

#[cfg(feature = "aio")]
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
        let expected = "the test server binary /nonexistent/redlua-test/redis-server (given to \
                        RedisServerBuilder::binary) does not exist; `tools/servers.sh` (in the \
                        redlua repository) fetches the servers of the test matrix into \
                        target/servers/ and prints their paths (`tools/servers.sh path \
                        valkey-9.1` prints one); Redis 7.0 is Debian's `apt-get install \
                        redis-server`";
        assert_eq!(err.to_string(), expected);
        // `.expect(..)` prints Debug: the same text.
        assert_eq!(format!("{err:?}"), expected);

        let from_env = binary_from_env(Some("/nonexistent/valkey-server".into()), None);
        let err = spawn_error(&from_env, io::ErrorKind::NotFound.into());
        assert!(err.is_not_found());
        assert!(
            err.to_string().starts_with(
                "REDLUA_TEST_SERVER=/nonexistent/valkey-server does not exist; \
                 `tools/servers.sh`"
            ),
            "{err}"
        );
        let default = binary_from_env(None, None);
        let err = spawn_error(&default, io::ErrorKind::NotFound.into());
        assert_eq!(
            err.to_string(),
            "redis-server was not found on PATH; install it (Debian/Ubuntu: \
             `apt-get install redis-server`, macOS: `brew install redis`) or set \
             REDLUA_TEST_SERVER to the path of a redis-server or valkey-server"
        );

        let err = RedisCluster::start_with(
            RedisServer::builder().binary("/nonexistent/redlua-test/redis-server"),
            3,
            0,
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
    fn binary_comes_from_the_env_vars() {
        let path = |b: Binary| b.path;
        assert_eq!(
            path(binary_from_env(None, None)),
            PathBuf::from("redis-server")
        );
        assert_eq!(binary_from_env(None, None).origin, Origin::Default);
        assert_eq!(
            path(binary_from_env(
                Some(OsString::new()),
                Some(OsString::new())
            )),
            PathBuf::from("redis-server")
        );
        let valkey = binary_from_env(Some("/opt/valkey/bin/valkey-server".into()), None);
        assert_eq!(valkey.path, PathBuf::from("/opt/valkey/bin/valkey-server"));
        assert_eq!(valkey.origin, Origin::Env("REDLUA_TEST_SERVER"));
        // The older REDIS_SERVER still works, and REDLUA_TEST_SERVER wins.
        let legacy = binary_from_env(None, Some("/opt/redis/bin/redis-server".into()));
        assert_eq!(legacy.path, PathBuf::from("/opt/redis/bin/redis-server"));
        assert_eq!(legacy.origin, Origin::Env("REDIS_SERVER"));
        assert_eq!(
            path(binary_from_env(
                Some("/a/valkey-server".into()),
                Some("/b/redis-server".into())
            )),
            PathBuf::from("/a/valkey-server")
        );
    }

    /// `INFO server` lines as the five servers of the matrix print them
    /// (trimmed to the fields that matter).
    const INFO_REDIS_6_2: &str = "# Server\r\nredis_version:6.2.5\r\nredis_git_sha1:00000000\r\n\
                                  redis_mode:standalone\r\n";
    const INFO_REDIS_7_0: &str = "# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n";
    const INFO_REDIS_8_2: &str = "# Server\r\nredis_version:8.2.3\r\nredis_git_sha1:b5d43ceb\r\n";
    const INFO_VALKEY_8_1: &str = "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\n\
                                   valkey_version:8.1.8\r\nvalkey_git_sha1:00000000\r\n";
    const INFO_VALKEY_9_1: &str = "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\n\
                                   valkey_version:9.1.2\r\nvalkey_git_sha1:00000000\r\n";

    fn info_version(info: &str) -> ServerVersion {
        ServerVersion::from_info(info).expect("a version")
    }

    #[test]
    fn server_version_from_info_of_each_server() {
        let v = info_version(INFO_REDIS_6_2);
        assert_eq!(v.to_string(), "Redis 6.2.5");
        assert!(!v.has_script_flags() && !v.has_evalsha_ro() && !v.has_functions());
        assert!(!v.has_cluster_port() && !v.has_server_global() && !v.has_subcommand_stats());
        assert!(!v.runtime_error_names_sha());

        let v = info_version(INFO_REDIS_7_0);
        assert_eq!((v.name, v.numbers()), (ServerName::Redis, (7, 0, 15)));
        assert!(v.has_script_flags() && v.has_evalsha_ro() && v.has_functions());
        assert!(v.runtime_error_names_sha());
        assert!(v.is_redis() && !v.is_valkey() && !v.has_server_global());

        let v = info_version(INFO_REDIS_8_2);
        assert_eq!(v.to_string(), "Redis 8.2.3");
        assert!(v.runtime_error_names_sha());
        assert!(v.is_at_least(ServerName::Redis, (8, 2, 2)));
        assert!(!v.is_at_least(ServerName::Valkey, (8, 0, 0)));

        // Valkey's own version, not the redis_version:7.2.4 it also reports.
        let v = info_version(INFO_VALKEY_8_1);
        assert_eq!(v.to_string(), "Valkey 8.1.8");
        assert!(v.is_valkey() && v.has_server_global() && v.has_evalsha_ro());
        assert!(v.has_script_flags() && v.has_functions() && v.has_cluster_port());
        assert!(v.has_subcommand_stats());
        assert!(v.runtime_error_names_sha());

        let v = info_version(INFO_VALKEY_9_1);
        assert_eq!((v.name, v.numbers()), (ServerName::Valkey, (9, 1, 2)));
        assert!(!v.runtime_error_names_sha());

        // A Valkey without valkey_version is still Valkey.
        let v = info_version("redis_version:7.2.4\r\nserver_name:valkey\r\n");
        assert_eq!(v.to_string(), "Valkey 7.2.4");
        assert_eq!(
            ServerVersion::from_info("# Server\r\nprocess_id:1\r\n"),
            None
        );
    }

    /// The running server reports the same software and version as its
    /// binary's `--version` (`Redis server v=7.0.15 ...` with the Debian
    /// redis-server on PATH; `Valkey server v=9.1.2 ...` under
    /// REDLUA_TEST_SERVER=.../valkey-server).
    #[test]
    fn server_version_matches_the_binary() {
        let server = start();
        let output = Command::new(server.binary())
            .arg("--version")
            .output()
            .expect("run --version");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let v = *server.server_version();
        let name = if text.starts_with("Valkey server") {
            ServerName::Valkey
        } else {
            assert!(text.starts_with("Redis server"), "{text}");
            ServerName::Redis
        };
        assert_eq!(v.name, name, "{text}");
        assert_eq!(Some(v.numbers()), parse_version_output(&text), "{text}");
        assert_eq!(server.version(), v.numbers());
        // The capability checks agree with what the server answers.
        let mut con = server.connection();
        let eval_ro: redis::RedisResult<i64> =
            redis::cmd("EVAL_RO").arg("return 1").arg(0).query(&mut con);
        assert_eq!(eval_ro.is_ok(), v.has_evalsha_ro(), "{v}: {eval_ro:?}");
        let flags: redis::RedisResult<i64> = redis::cmd("EVAL")
            .arg("#!lua flags=no-writes\nreturn 1")
            .arg(0)
            .query(&mut con);
        assert_eq!(flags.is_ok(), v.has_script_flags(), "{v}: {flags:?}");
        let server_global: redis::RedisResult<i64> = redis::cmd("EVAL")
            .arg("return server.call('ECHO', '1')")
            .arg(0)
            .query(&mut con);
        assert_eq!(
            server_global.is_ok(),
            v.has_server_global(),
            "{v}: {server_global:?}"
        );
        assert_eq!(
            server.has_lua_global("server"),
            v.has_server_global(),
            "{v}"
        );
        assert!(server.has_lua_global("redis"));
        assert!(!server.has_lua_global("no_such_global"));
    }

    #[test]
    fn skip_unless_says_whether_to_skip() {
        let server = start();
        assert!(!server.skip_unless(true, "never printed"));
        // Prints `SKIP testing::tests::skip_unless_says_whether_to_skip: ...`.
        assert!(server.skip_unless(false, "printed by the test of skip_unless itself"));
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
