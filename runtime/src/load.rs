//! Making scripts resident ahead of time, and the registry of every script
//! compiled into the program.
//!
//! Each `#[redis_script]` function registers its [`Script`] in a
//! distributed slice ([`linkme`]): the linker gathers them into one static
//! array, so [`scripts`] lists every script of the final binary, from every
//! crate, with no code run before `main` and no list kept by hand.

use std::fmt;

use redis::{ErrorKind, RedisError, ServerError, Value};

use crate::error::classify;
use crate::error::Error;
use crate::Script;

/// Every script compiled into the program, filled by the linker.
#[linkme::distributed_slice]
pub static SCRIPTS: [&'static Script];

/// Used by generated code. Not public API.
#[doc(hidden)]
pub mod private {
    pub use super::SCRIPTS;
    pub use crate::__redlua_register as register;
    pub use linkme;
}

/// Registers a script static in [`SCRIPTS`]; generated code calls it as
/// `::redlua::__private::register!(STATIC)`. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __redlua_register {
    ($script:ident) => {
        #[$crate::__private::linkme::distributed_slice($crate::__private::SCRIPTS)]
        #[linkme(crate = $crate::__private::linkme)]
        static __REDLUA_REGISTERED: &'static $crate::__private::Script = &$script;
    };
}

/// Every script compiled into the program: one per `#[redis_script]`
/// function of every crate linked into the binary, in no particular order.
///
/// Two functions declared on the same `.lua` file are two entries with the
/// same [`Script::sha1`].
///
/// ```no_run
/// println!("{} scripts", redlua::scripts().len());
/// for script in redlua::scripts() {
///     println!("{} ({}) {}", script.name(), script.path(), script.sha1());
/// }
/// ```
pub fn scripts() -> impl ExactSizeIterator<Item = &'static Script> + Clone {
    SCRIPTS.iter().copied()
}

/// Makes `scripts` resident on the server in one round trip (one pipelined
/// `SCRIPT LOAD` per distinct script) and checks that the server computed
/// the expected SHA1 for each. Returns how many distinct scripts were
/// loaded.
///
/// Call it after connecting and after a failover or restart (a promoted
/// replica has not seen the scripts loaded on its old primary, and a
/// restart empties the cache), typically with [`load_all`]. Calls and
/// pipelines do not need it to be correct (they load on `NOSCRIPT`, or
/// in-batch), but with it, a first call is one round trip and
/// [`Pipeline::assume_loaded`](crate::Pipeline::assume_loaded) batches
/// find their scripts.
///
/// On failure the error is the first failing script's: a compile error
/// ([`Error::Script`], with its `.lua` line), a refusal such as `NOPERM`
/// ([`Error::Redis`]), or a connection error. The other scripts of the
/// list are loaded even when one fails.
///
/// On Redis Cluster every node, replicas included, has its own cache. On a
/// sync `redis::cluster::ClusterConnection` this function is
/// [`load_cluster`](crate::load_cluster) with the default bound per node
/// ([`DEFAULT_NODE_TIMEOUT`](crate::DEFAULT_NODE_TIMEOUT)): every node that
/// answers is loaded, and `Ok` means every primary was; a replica that did
/// not answer is not an error (calls routed there load on `NOSCRIPT`).
/// `Err` names the primaries left out. Call `load_cluster` (or
/// [`load_cluster_async`](crate::load_cluster_async)) for the per-node
/// report.
///
/// ```no_run
/// use redlua::redis_script;
///
/// #[redis_script("multiply.lua")]
/// fn multiply(key: &str, multiplier: i64) -> i64;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
/// // `#[redis_script]` emits the script as a static named after the function.
/// assert_eq!(redlua::load(&mut con, &[MULTIPLY])?, 1);
/// # Ok(()) }
/// ```
pub fn load<C>(con: &mut C, scripts: &[&'static Script]) -> Result<usize, Error>
where
    C: redis::ConnectionLike + ?Sized,
{
    let distinct = distinct(scripts.iter().copied());
    if distinct.is_empty() {
        return Ok(0);
    }
    if let Some(cluster) = crate::cluster::as_sync_cluster(con) {
        return load_every_primary(cluster, &distinct);
    }
    if !con.supports_pipelining() {
        return load_one_by_one(con, &distinct);
    }
    let mut packed = Vec::with_capacity(distinct.iter().map(|s| s.load_text().len() + 48).sum());
    for script in &distinct {
        write_load(&mut packed, script);
    }
    let replies = con.req_packed_commands(&packed, 0, distinct.len());
    check_loads(&distinct, replies)
}

/// [`load`] on a sync cluster connection: every node, bounded per node;
/// `Ok` once every primary has the scripts.
fn load_every_primary(
    con: &mut redis::cluster::ClusterConnection,
    scripts: &[&'static Script],
) -> Result<usize, Error> {
    let report = crate::load_cluster(con, scripts, None)?;
    let missing: Vec<&crate::NodeLoad> = report.failed().filter(|n| n.is_primary()).collect();
    let Some(first) = missing.first() else {
        return Ok(report.scripts());
    };
    let source = first.error().and_then(Error::redis_error);
    let kind = source.map_or(redis::ErrorKind::Io, |e| e.kind());
    let detail = format!(
        "{} of the cluster's primaries did not get the scripts ({}); \
         redlua::load_cluster reports each node",
        missing.len(),
        missing
            .iter()
            .map(|n| match n.error() {
                Some(e) => format!("{}: {e}", n.address()),
                None => n.address().to_owned(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    );
    Err(Error::Redis {
        script: scripts[0].name(),
        source: redis::RedisError::from((kind, "SCRIPT LOAD did not reach every primary", detail)),
    })
}

/// A connection that takes no batches (a wrapped sync cluster connection,
/// which routes each `SCRIPT LOAD` to every node it knows): one at a time.
fn load_one_by_one<C>(con: &mut C, scripts: &[&'static Script]) -> Result<usize, Error>
where
    C: redis::ConnectionLike + ?Sized,
{
    let mut replies = Vec::with_capacity(scripts.len());
    for script in scripts {
        let mut packed = Vec::with_capacity(script.load_text().len() + 48);
        write_load(&mut packed, script);
        replies.push(load_reply(script, con.req_packed_command(&packed))?);
    }
    check_loads(scripts, Ok(replies))
}

/// The reply of one `SCRIPT LOAD` sent alone. A refusal (on some primary)
/// becomes a value, so the other scripts still load and [`check_loads`]
/// reports the first failure; a connection error ends the loading.
pub(crate) fn load_reply(
    script: &'static Script,
    reply: redis::RedisResult<Value>,
) -> Result<Value, Error> {
    match reply.map_err(ServerError::try_from) {
        Ok(reply) => Ok(reply),
        Err(Ok(refused)) => Ok(Value::ServerError(refused)),
        Err(Err(e)) => Err(classify::from_redis(script, e)),
    }
}

#[cfg(feature = "aio")]
/// [`load`] on an async connection (`MultiplexedConnection`,
/// `ConnectionManager`, ...).
///
/// A `ConnectionManager` reconnects by itself, possibly to a new primary:
/// load again in its reconnect path, or rely on the in-batch loads of
/// [`Pipeline`](crate::Pipeline) (the default).
///
/// ```no_run
/// use redlua::redis_script;
///
/// #[redis_script("multiply.lua")]
/// fn multiply(key: &str, multiplier: i64) -> i64;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = redis::Client::open("redis://127.0.0.1/")?;
/// let mut con = client.get_multiplexed_async_connection().await?;
/// redlua::load_async(&mut con, &[MULTIPLY]).await?;
/// # Ok(()) }
/// ```
pub async fn load_async<C>(con: &mut C, scripts: &[&'static Script]) -> Result<usize, Error>
where
    C: redis::aio::ConnectionLike + ?Sized,
{
    let distinct = distinct(scripts.iter().copied());
    if distinct.is_empty() {
        return Ok(0);
    }
    let mut pipe = redis::Pipeline::with_capacity(distinct.len());
    for script in &distinct {
        pipe.add_command(crate::call::load_cmd(script));
    }
    let replies = con.req_packed_commands(&pipe, 0, distinct.len()).await;
    check_loads(&distinct, replies)
}

/// [`load`]s every script compiled into the program ([`scripts`]), in one
/// round trip. Use after connecting and after a failover.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = redis::Client::open("redis://127.0.0.1/")?;
/// let mut con = client.get_connection()?;
/// let n = redlua::load_all(&mut con)?;
/// println!("{n} scripts resident");
/// # Ok(()) }
/// ```
pub fn load_all<C>(con: &mut C) -> Result<usize, Error>
where
    C: redis::ConnectionLike + ?Sized,
{
    let all: Vec<&'static Script> = scripts().collect();
    load(con, &all)
}

#[cfg(feature = "aio")]
/// [`load_all`] on an async connection.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = redis::Client::open("redis://127.0.0.1/")?;
/// let mut con = client.get_multiplexed_async_connection().await?;
/// redlua::load_all_async(&mut con).await?;
/// # Ok(()) }
/// ```
pub async fn load_all_async<C>(con: &mut C) -> Result<usize, Error>
where
    C: redis::aio::ConnectionLike + ?Sized,
{
    let all: Vec<&'static Script> = scripts().collect();
    load_async(con, &all).await
}

/// The scripts without repeats (by SHA1), in order of first appearance.
pub(crate) fn distinct(scripts: impl Iterator<Item = &'static Script>) -> Vec<&'static Script> {
    let mut out: Vec<&'static Script> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for script in scripts {
        if seen.insert(script.load_key()) {
            out.push(script);
        }
    }
    out
}

pub(crate) fn check_loads(
    scripts: &[&'static Script],
    replies: redis::RedisResult<Vec<Value>>,
) -> Result<usize, Error> {
    let replies = replies.map_err(|e| classify::from_redis(scripts[0], e))?;
    if replies.len() != scripts.len() {
        return Err(Error::Redis {
            script: scripts[0].name(),
            source: RedisError::from((
                ErrorKind::UnexpectedReturnType,
                "SCRIPT LOAD pipeline",
                format!(
                    "{} replies to {} SCRIPT LOADs",
                    replies.len(),
                    scripts.len()
                ),
            )),
        });
    }
    for (script, reply) in scripts.iter().zip(&replies) {
        match load_failure(script, reply) {
            None => {}
            Some(LoadFailure::Error(e)) => return Err(classify::from_server_error(script, &e)),
            Some(failure) => {
                return Err(Error::Redis {
                    script: script.name(),
                    source: RedisError::from((
                        ErrorKind::UnexpectedReturnType,
                        "SCRIPT LOAD",
                        failure.to_string(),
                    )),
                })
            }
        }
    }
    Ok(scripts.len())
}

/// Why a `SCRIPT LOAD` did not make its script resident.
#[derive(Debug, Clone)]
pub(crate) enum LoadFailure {
    /// The server refused or could not compile it.
    Error(ServerError),
    /// The server answered another SHA1 (or something that is not one).
    Mismatch { expected: &'static str, got: String },
}

impl fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadFailure::Error(e) => match e.details() {
                Some(d) => write!(f, "{} {d}", e.code()),
                None => f.write_str(e.code()),
            },
            LoadFailure::Mismatch { expected, got } => {
                if !expected.contains('_') {
                    write!(f, "the server answered {got}, expected SHA1 {expected}")
                } else {
                    write!(f, "the server answered {got}, expected library {expected}")
                }
            }
        }
    }
}

/// `None` when `reply` is the script's SHA1, or for a function its
/// library's name (or the server's "already exists" for that name: the
/// name is a hash of the text, so the loaded library is this one).
pub(crate) fn load_failure(script: &'static Script, reply: &Value) -> Option<LoadFailure> {
    let expected = script.function_name().unwrap_or(script.sha1());
    let got: &[u8] = match reply {
        Value::ServerError(e) if already_loaded(script, e) => return None,
        Value::ServerError(e) => return Some(LoadFailure::Error(e.clone())),
        Value::BulkString(b) => b,
        Value::SimpleString(s) => s.as_bytes(),
        Value::VerbatimString { text, .. } => text.as_bytes(),
        other => {
            return Some(LoadFailure::Mismatch {
                expected,
                got: format!("{other:?}").chars().take(80).collect(),
            })
        }
    };
    if got.eq_ignore_ascii_case(expected.as_bytes()) {
        None
    } else {
        Some(LoadFailure::Mismatch {
            expected,
            got: String::from_utf8_lossy(got).chars().take(80).collect(),
        })
    }
}

/// True when `e`, the reply to a function's `FUNCTION LOAD`, says its
/// library is loaded already: `ERR Library '<name>' already exists`, the
/// same text on Redis 7.0-8.2 and Valkey 8-9. The name is a hash of the
/// text, so that library is this one: the load succeeded. (redlua sends
/// `REPLACE`, which never answers this; a load without it, from a tool or
/// a plain pipeline, may.)
pub(crate) fn already_loaded(script: &Script, e: &ServerError) -> bool {
    let Some(name) = script.function_name() else {
        return false;
    };
    e.code() == "ERR"
        && e.details().is_some_and(|d| {
            d.strip_prefix("Library '")
                .and_then(|d| d.strip_suffix("' already exists"))
                == Some(name)
        })
}

/// Appends `SCRIPT LOAD <source>` (`FUNCTION LOAD <library>` for a
/// function) in RESP, without building a `Cmd` (no copy of the source).
pub(crate) fn write_load(buf: &mut Vec<u8>, script: &Script) {
    let source = script.load_text().as_bytes();
    buf.extend_from_slice(if script.is_function() {
        // REPLACE: see `load_cmd`.
        b"*4\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$7\r\nREPLACE\r\n$"
    } else {
        b"*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n$"
    });
    buf.extend_from_slice(source.len().to_string().as_bytes());
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(source);
    buf.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `return 1` as lua/one.lua, declared by the function `name`.
    const fn one(name: &'static str) -> Script {
        Script::__new(
            name,
            "lua/one.lua",
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
            "return 1",
            false,
            &["lua/one.lua"],
            &[],
            &[],
        )
    }

    static ONE: Script = one("one");
    crate::__redlua_register!(ONE);

    static ONE_AGAIN: Script = one("one_again");

    static ONE_FUNCTION: Script = one("one")
    .__function(
        "one_0123456789abcdef",
        "#!lua name=one_0123456789abcdef\nredis.register_function{function_name='one_0123456789abcdef', callback=function(KEYS, ARGV) return 1\nend}\n",
        1,
    );

    #[test]
    fn write_load_is_the_packed_script_load_command() {
        for script in [&ONE, &ONE_FUNCTION] {
            let mut buf = Vec::new();
            write_load(&mut buf, script);
            assert_eq!(buf, crate::call::load_cmd(script).get_packed_command());
        }
        let packed =
            String::from_utf8(crate::call::load_cmd(&ONE_FUNCTION).get_packed_command()).unwrap();
        assert!(packed.starts_with("*4\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$7\r\nREPLACE\r\n"));
    }

    #[test]
    fn a_function_is_loaded_when_the_server_names_its_library() {
        let err = |text: &str| {
            Value::ServerError(match redis::parse_redis_value(text.as_bytes()).unwrap() {
                Value::ServerError(e) => e,
                other => panic!("{other:?}"),
            })
        };
        let name = Value::BulkString(b"one_0123456789abcdef".to_vec());
        assert!(load_failure(&ONE_FUNCTION, &name).is_none());
        let exists = err("-ERR Library 'one_0123456789abcdef' already exists\r\n");
        assert!(load_failure(&ONE_FUNCTION, &exists).is_none());
        // Another library's name, or a script: a failure.
        let other = err("-ERR Library 'one_ffffffffffffffff' already exists\r\n");
        assert!(load_failure(&ONE_FUNCTION, &other).is_some());
        assert!(load_failure(&ONE, &exists).is_some());
        let f = load_failure(&ONE_FUNCTION, &Value::BulkString(b"x".to_vec())).unwrap();
        assert_eq!(
            f.to_string(),
            "the server answered x, expected library one_0123456789abcdef"
        );
        // A function and a script of one text are two loads.
        assert_eq!(distinct([&ONE, &ONE_FUNCTION, &ONE].into_iter()).len(), 2);
    }

    #[test]
    fn the_registry_holds_scripts_registered_in_this_crate() {
        assert!(scripts().any(|s| std::ptr::eq(s, &ONE)));
        assert!(!scripts().any(|s| std::ptr::eq(s, &ONE_AGAIN)));
    }

    #[test]
    fn distinct_goes_by_sha() {
        let d = distinct([&ONE, &ONE_AGAIN, &ONE].into_iter());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].name(), "one");
    }

    #[test]
    fn load_failures() {
        let sha = Value::BulkString(ONE.sha1().as_bytes().to_vec());
        assert!(load_failure(&ONE, &sha).is_none());
        let other = Value::BulkString(b"ffff".to_vec());
        let f = load_failure(&ONE, &other).unwrap();
        assert_eq!(
            f.to_string(),
            "the server answered ffff, expected SHA1 e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
        let f = load_failure(&ONE, &Value::Nil).unwrap();
        assert!(f.to_string().contains("nil"), "{f}");
    }

    #[test]
    fn loading_nothing_sends_nothing() {
        assert_eq!(
            load(&mut crate::call::tests_support::Unreachable, &[]).unwrap(),
            0
        );
    }
}
