//! What can go wrong when a script runs, in terms of the `.lua` files.
//!
//! The error types live here, at the bottom of the crate: everything that
//! sends commands returns them, and they import nothing that does.
//!
//! - [`classify`]: from what went wrong (an error reply, a client error, a
//!   reply that does not decode, an argument that does not encode) to an
//!   [`Error`]; the one place that recognises `NOSCRIPT`.
//! - `parse`: the text of a Redis script error (`user_script:<N>`) into
//!   code, message and line.
//! - `render`: `Display` and `Debug`, the text people read.
//!
//! [`BatchError`] is the report of a batch; it is defined with the batch
//! (`crate::batch::report`), which keeps it free of the code that sends.

use redis::RedisError;

use crate::batch::report::BatchError;
use crate::script::Script;
pub use cluster::{ClusterError, ClusterRefusal};

pub(crate) mod classify;
pub(crate) mod cluster;
mod parse;
mod render;

/// Entry points for the fuzz targets in `fuzz/` (re-exported as
/// `redlua::__private::fuzz`), which exist for fuzzing only: the error
/// classification and the reply description are crate-private, and reaching
/// them through a server round trip per input would be too slow to fuzz.
#[doc(hidden)]
pub mod fuzz {
    use crate::script::Script;

    /// What a call of `script` answered by the error reply `err` returns.
    pub fn classify_server_error(
        script: &'static Script,
        err: &redis::ServerError,
    ) -> super::Error {
        super::classify::from_server_error(script, err)
    }

    /// The description of `v` a `DecodeError` carries.
    pub fn describe(v: &redis::Value) -> String {
        super::classify::describe(v)
    }
}

/// Why running a script failed.
///
/// `Display` is written for people (script, `.lua` location, the failing
/// line); match on the variants (or use [`Error::code`]) in code.
///
/// # How a reply error is classified
///
/// Redis answers a failed `EVALSHA` with one error reply, `<CODE> <text>`.
/// [`Error`] sorts it by what the text carries, in this order:
///
/// 1. **The script failed while running or compiling** → [`Error::Script`].
///    Recognised by a location marker:
///    - Redis 7+ / Valkey: the suffix `script: <sha>, on @user_script:<N>.`
///      (`error()`, `error({err=...})`, a failing `redis.call`, a Lua runtime
///      error, `SCRIPT KILL`). A failing `redis.call` keeps the code of the
///      inner error (`WRONGTYPE`, `OOM`, ...); a Lua error has code `ERR` and
///      its own `user_script:<N>:` prefix, which is removed from the message.
///    - Redis 6 and older: the wrapper
///      `ERR Error running script (call to f_<sha>): @user_script:<N>: ...`;
///      the code of a failing `redis.call` is taken from the wrapped text.
///    - Any version: `ERR Error compiling script (new function): user_script:<N>: ...`
///      ([`ScriptError::is_compile_error`]).
///    - A Redis Function (`#[redis_function]`): `script: <function>, on
///      @user_function:<N>.` (Valkey 9.1: `script: on @user_function:<N>.`),
///      `user_function:<N>:` and `ERR Error compiling function:
///      user_function:<N>: ...`; `<N>` counts lines of the library, which
///      is mapped back to the script's line.
///
///    When Lua names a line in the message itself (`user_script:<N>:`, which
///    honours `error(msg, 2)`), that line wins over the one in the marker.
/// 2. **Redis refused to run the script** → [`Error::Redis`]: no marker, and
///    either one of the server's own refusals, recognised by its code *and*
///    the server's wording for it, or `ERR` with the text of one of the
///    server's own refusals of `EVALSHA`/`SCRIPT LOAD` (wrong `numkeys`, a
///    bad shebang, a write script sent with `EVALSHA_RO`, an unknown command
///    on an old server, ...). The codes and the texts the server sends
///    (Redis 6.2-8.2, Valkey 8-9; "Redis" reads "Valkey" on Valkey):
///
///    | code | the server's text starts with |
///    |---|---|
///    | `NOSCRIPT` | exactly `No matching script. Please use EVAL.` (Redis) or `No matching script.` (Valkey) |
///    | `LOADING` | `Redis is loading the dataset in memory` |
///    | `BUSY` | `Redis is busy running ` (a script, a function, a module command) |
///    | `MASTERDOWN` | `Link with MASTER is down and ` (also `PRIMARY`) |
///    | `READONLY` | `You can't write against a read only replica.` |
///    | `OOM` | `command not allowed when used memory > 'maxmemory'` |
///    | `TRYAGAIN` | `Multiple keys request during rehashing of slot` |
///    | `CLUSTERDOWN` | `The cluster is down`, `Hash slot not served` |
///    | `MOVED`, `ASK` | the whole text is `<slot> <host>:<port>` |
///    | `CROSSSLOT` | `Keys in request don't hash to the same slot` |
///    | `NOPERM` | `this user has no permissions to`, `No permissions to access` |
///    | `NOAUTH` / `WRONGPASS` | `Authentication required.` / `invalid username-password pair or user is disabled.` |
///    | `MISCONF` | `Redis is configured to save RDB snapshots`, `Errors writing to the AOF file` |
///    | `NOREPLICAS`, `EXECABORT`, `NOTBUSY`, `UNKILLABLE` | `Not enough good replicas to write.`, `Transaction discarded because of`, `No scripts in execution right now.`, `Sorry the script already executed write commands against the dataset.` |
///
///    Connection and protocol failures are `Error::Redis` as well.
/// 3. **Anything else without a marker** → [`Error::Reply`]: the script
///    *returned* an error reply on purpose (`return redis.error_reply("CODE
///    msg")`, `return {err = "CODE msg"}`, or a `redis.pcall` error it passed
///    on). Such replies carry no line, since Redis adds none.
///
/// So a script that returns a server condition's code with its own text
/// (`redis.error_reply("TRYAGAIN later")`, `{err = "NOSCRIPT gone"}`) is
/// [`Error::Reply`]: it ran, and it is never taken for a cache miss or
/// reloaded and run again. A script that raises one (`error({err =
/// "LOADING x"})`) carries the marker and is [`Error::Script`]. Only a
/// script that returns a server's exact wording (for example the result of
/// a `redis.pcall` that hit `OOM`, passed on as it is) is reported as
/// [`Error::Redis`]: the reply then carries nothing that tells the two apart
/// (its [`Error::outcome`] says [`Outcome::Refused`] although it ran).
///
/// The code of a [`ScriptError`] or [`ReplyError`] is the first word of the
/// error when that word looks like a code (ASCII capitals, digits, `_`, `-`,
/// starting with a capital: `ERR`, `WRONGTYPE`, `NOT_FOUND`). Otherwise
/// (`{err = "not found"}`) the code is empty and the whole text is the
/// message.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The connection failed, or Redis refused to run the script (`NOSCRIPT`
    /// after a reload, `NOPERM`, `BUSY`, `READONLY`, `OOM`, cluster
    /// redirections, ...). Not raised by the script itself.
    Redis {
        /// The script's name ([`Script::name`]).
        script: &'static str,
        /// The error as the Redis client reported it.
        source: RedisError,
    },
    /// The script raised an error while running (`error()`, a failing
    /// `redis.call`, a Lua runtime error) or did not compile. Writes made
    /// before the error are not rolled back.
    Script(Box<ScriptError>),
    /// The script returned an error reply on purpose
    /// (`redis.error_reply(...)`, `{err = ...}`).
    Reply(Box<ReplyError>),
    /// The reply does not decode into the type the script declares.
    Decode(Box<DecodeError>),
    /// An argument could not be encoded; nothing was sent to Redis.
    Encode(Box<EncodeError>),
    /// A pipeline or transaction did not run as a whole: some entries were
    /// answered `NOSCRIPT` (and did not run while the others did), the
    /// transaction was discarded or aborted, or the connection failed. The
    /// [`BatchError`] says, entry by entry, which ran. Never retried.
    Batch(Box<BatchError>),
    /// On a Redis Cluster connection, the call could not run as written
    /// (its keys hash to several slots, or it writes without a `%key`);
    /// nothing was sent.
    Cluster(Box<ClusterError>),
}

/// Whether a failed call ran on the server ([`Error::outcome`]): what a
/// caller needs to know before sending it again.
///
/// ```no_run
/// # use redlua::{Error, Outcome};
/// fn may_resend(e: &Error) -> bool {
///     matches!(e.outcome(), Outcome::NotSent | Outcome::Refused)
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// Nothing reached the server (the connection was refused, an argument
    /// did not encode, the batch was refused before sending): the script
    /// did not run; safe to send again.
    NotSent,
    /// The server answered that it did not run the command (`NOSCRIPT`
    /// after a reload, `NOPERM`, `BUSY`, `READONLY`, `OOM`, a compile
    /// error, a discarded transaction, ...): the script did not run.
    Refused,
    /// The command was written but no reply came (a response or read
    /// timeout, the connection dropped, a reply that made no sense): the
    /// script may have run, possibly to the end. Sending it again may run
    /// it twice.
    MayHaveRun,
    /// The script ran: it raised or returned an error, or its reply did not
    /// decode. Its writes (up to the error) are kept.
    Ran,
}

impl Outcome {
    /// What became of a command that failed with this client error: the
    /// client's own classification (a refused connection, a timeout, a
    /// dropped connection, a server error), never its text.
    pub(crate) fn of_redis_error(e: &RedisError) -> Outcome {
        use redis::ErrorKind as K;
        if e.is_connection_refusal() {
            return Outcome::NotSent;
        }
        if e.is_timeout() || e.is_connection_dropped() || e.is_io_error() {
            return Outcome::MayHaveRun;
        }
        match e.kind() {
            // Only the server's own refusals stay `Error::Redis` (see
            // `classify`); the rest of the server errors are the script's.
            K::Server(_) | K::Extension => Outcome::Refused,
            // Raised while connecting or routing, before anything is written.
            K::InvalidClientConfig
            | K::AuthenticationFailed
            | K::ClusterConnectionNotFound
            | K::MasterNameNotFoundBySentinel
            | K::NoValidReplicasFoundBySentinel
            | K::EmptySentinelList
            | K::RESP3NotSupported => Outcome::NotSent,
            // A parse error, an odd reply, a client-side failure mid-way:
            // the command may have been written.
            _ => Outcome::MayHaveRun,
        }
    }
}

impl Error {
    /// Whether the script ran, for a single call and a batch alike:
    ///
    /// - for [`Error::Redis`]: [`Outcome::Refused`] for a server refusal,
    ///   [`Outcome::NotSent`] when the connection was refused (or could not
    ///   be set up), [`Outcome::MayHaveRun`] for a response timeout or a
    ///   connection dropped after the command was written;
    /// - for [`Error::Script`], [`Error::Reply`], [`Error::Decode`]:
    ///   [`Outcome::Ran`] (a compile error: [`Outcome::Refused`]);
    /// - for [`Error::Encode`]: [`Outcome::NotSent`];
    /// - for [`Error::Batch`]: [`BatchError::outcome`], the batch as a whole
    ///   ([`MayHaveRun`](Outcome::MayHaveRun) if any entry may have run,
    ///   else [`Ran`](Outcome::Ran) if any ran); each entry has its own
    ///   ([`EntryReport::outcome`](crate::EntryReport::outcome)).
    ///
    /// ```no_run
    /// # use redlua::{redis_script, Outcome};
    /// # #[redis_script("multiply.lua")]
    /// # fn multiply(key: &str, multiplier: i64) -> i64;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// match multiply("a", 2).invoke(&mut con) {
    ///     Ok(n) => println!("{n}"),
    ///     Err(e) if e.outcome() == Outcome::MayHaveRun => {
    ///         eprintln!("{e}; check before sending again");
    ///     }
    ///     Err(e) => return Err(e.into()),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn outcome(&self) -> Outcome {
        match self {
            Error::Redis { source, .. } => Outcome::of_redis_error(source),
            Error::Script(e) if e.is_compile_error() => Outcome::Refused,
            Error::Script(_) | Error::Reply(_) | Error::Decode(_) => Outcome::Ran,
            Error::Encode(_) | Error::Cluster(_) => Outcome::NotSent,
            Error::Batch(e) => e.outcome(),
        }
    }

    /// Name of the script that failed ([`Script::name`]).
    pub fn script_name(&self) -> &str {
        match self {
            Error::Redis { script, .. } => script,
            Error::Script(e) => e.script_name(),
            Error::Reply(e) => e.script_name(),
            Error::Decode(e) => e.script_name(),
            Error::Encode(e) => e.script_name(),
            Error::Batch(e) => e.script_name(),
            Error::Cluster(e) => e.script_name(),
        }
    }

    /// The error code sent by Redis (`ERR`, `WRONGTYPE`, `NOSCRIPT`, a
    /// script's own code), when there is one.
    pub fn code(&self) -> Option<&str> {
        let code = match self {
            Error::Redis { source, .. } => source.code(),
            Error::Script(e) => Some(e.code()),
            Error::Reply(e) => Some(e.code()),
            Error::Decode(_) | Error::Encode(_) => None,
            Error::Cluster(e) => Some(match e.kind() {
                ClusterRefusal::CrossSlot => "CROSSSLOT",
                ClusterRefusal::KeylessWrite => "",
            }),
            Error::Batch(e) => e.code(),
        };
        code.filter(|c| !c.is_empty())
    }

    /// True for [`Error::Script`]: the script raised an error or did not compile.
    pub fn is_script_error(&self) -> bool {
        matches!(self, Error::Script(_))
    }

    /// True for [`Error::Reply`]: the script returned an error reply.
    pub fn is_reply_error(&self) -> bool {
        matches!(self, Error::Reply(_))
    }

    /// True for [`Error::Decode`]: the reply does not fit the declared type.
    pub fn is_decode_error(&self) -> bool {
        matches!(self, Error::Decode(_))
    }

    /// True for [`Error::Redis`]: connection failure or server refusal.
    pub fn is_redis_error(&self) -> bool {
        matches!(self, Error::Redis { .. })
    }

    /// The [`ScriptError`], for [`Error::Script`].
    pub fn as_script_error(&self) -> Option<&ScriptError> {
        match self {
            Error::Script(e) => Some(e),
            _ => None,
        }
    }

    /// The [`ReplyError`], for [`Error::Reply`].
    pub fn as_reply_error(&self) -> Option<&ReplyError> {
        match self {
            Error::Reply(e) => Some(e),
            _ => None,
        }
    }

    /// The [`DecodeError`], for [`Error::Decode`].
    pub fn as_decode_error(&self) -> Option<&DecodeError> {
        match self {
            Error::Decode(e) => Some(e),
            _ => None,
        }
    }

    /// The client's error, for [`Error::Redis`].
    pub fn redis_error(&self) -> Option<&RedisError> {
        match self {
            Error::Redis { source, .. } => Some(source),
            _ => None,
        }
    }

    /// True for [`Error::Batch`]: a pipeline or transaction did not run as
    /// a whole.
    pub fn is_batch_error(&self) -> bool {
        matches!(self, Error::Batch(_))
    }

    /// The [`BatchError`], for [`Error::Batch`]: which entries ran.
    pub fn as_batch_error(&self) -> Option<&BatchError> {
        match self {
            Error::Batch(e) => Some(e),
            _ => None,
        }
    }

    /// The [`ClusterError`], for [`Error::Cluster`]: why a cluster refused
    /// the call before sending, with each key's slot.
    pub fn as_cluster_error(&self) -> Option<&ClusterError> {
        match self {
            Error::Cluster(e) => Some(e),
            _ => None,
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Redis { source, .. } => Some(source),
            Error::Batch(e) => std::error::Error::source(&**e),
            _ => None,
        }
    }
}

/// Lets `?` turn an [`Error`] into a [`redis::RedisError`].
///
/// - [`Error::Redis`] gives back the client's error unchanged, so its kind
///   (`NOSCRIPT`, `MOVED`, I/O, ...) and retry behaviour are kept.
/// - [`Error::Script`] and [`Error::Reply`] become a server error with the
///   same code (`ERR` when the script gave none) and this error's full
///   `Display` text as the detail.
/// - [`Error::Decode`] becomes [`redis::ErrorKind::UnexpectedReturnType`],
///   [`Error::Encode`] [`redis::ErrorKind::Client`], both with the
///   `Display` text as the detail.
/// - [`Error::Batch`] keeps a connection failure's own error; otherwise it
///   becomes an error no client retries the whole batch on: code
///   `NOSCRIPT` / `EXECABORT` of kind [`redis::ErrorKind::Extension`] (not
///   `ErrorKind::Server(NoScript)`), or [`redis::ErrorKind::Client`] for a
///   transaction aborted by `WATCH`, with the `Display` text as the detail.
impl From<Error> for RedisError {
    fn from(err: Error) -> RedisError {
        let text = err.to_string();
        match err {
            Error::Redis { source, .. } => source,
            Error::Script(e) => redis::make_extension_error(code_or_err(&e.code), Some(text)),
            Error::Reply(e) => redis::make_extension_error(code_or_err(&e.code), Some(text)),
            Error::Decode(_) => RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "script reply does not decode",
                text,
            )),
            Error::Encode(_) => RedisError::from((
                redis::ErrorKind::Client,
                "script argument cannot be encoded",
                text,
            )),
            Error::Batch(e) => e.into_redis_error(text),
            Error::Cluster(_) => RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "refused on a cluster before sending",
                text,
            )),
        }
    }
}

fn code_or_err(code: &str) -> String {
    if code.is_empty() { "ERR" } else { code }.to_owned()
}

/// The script raised an error while running, or did not compile.
///
/// Knows where: [`ScriptError::line`] in the assembled script, and
/// [`ScriptError::location`] back through the `%include`s to the `.lua`
/// file that holds it.
#[derive(Clone)]
pub struct ScriptError {
    script: &'static Script,
    code: String,
    message: String,
    line: Option<usize>,
    location: Vec<(&'static str, u32)>,
    compile: bool,
    raw: String,
}

impl ScriptError {
    /// Name of the script ([`Script::name`]).
    pub fn script_name(&self) -> &'static str {
        self.script.name()
    }

    /// The script's top-level `.lua` file ([`Script::path`]).
    pub fn path(&self) -> &'static str {
        self.script.path()
    }

    /// The error code: `ERR` for Lua errors and most failed commands, the
    /// inner code for a failing `redis.call` (`WRONGTYPE`, `OOM`, `NOPERM`,
    /// ...), the script's own for `error({err = "CODE msg"})`. Empty when
    /// the error has no code-like first word.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message, without the code, without Lua's `user_script:<N>:`
    /// prefix and without Redis's `script: <sha>, on @user_script:<N>.`
    /// suffix (or the Redis 6 `Error running script ...` wrapper).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// 1-based line of the assembled script ([`Script::source`]) the error
    /// points at, when Redis said.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// Where [`ScriptError::line`] comes from: `(file, line)` pairs,
    /// outermost `%include` site first, the failing line last (see
    /// [`Script::origin_of`]). Empty when the line is unknown. For a compile
    /// error at the end of the script (Lua reports the line after the last
    /// one) this is the location of the last line.
    pub fn location(&self) -> &[(&'static str, u32)] {
        &self.location
    }

    /// The failing line of the assembled script, when known.
    pub fn source_line(&self) -> Option<&'static str> {
        self.line.and_then(|n| self.script.source_line(n))
    }

    /// True when the script did not compile (nothing ran).
    pub fn is_compile_error(&self) -> bool {
        self.compile
    }

    /// The error exactly as Redis sent it (code and text).
    pub fn raw(&self) -> &str {
        &self.raw
    }
}

impl std::error::Error for ScriptError {}

/// The script returned an error reply on purpose: `return
/// redis.error_reply("CODE message")` or `return {err = "CODE message"}`.
#[derive(Clone)]
pub struct ReplyError {
    script: &'static Script,
    code: String,
    message: String,
}

impl ReplyError {
    /// Name of the script ([`Script::name`]).
    pub fn script_name(&self) -> &'static str {
        self.script.name()
    }

    /// The code the script chose (`ERR` for `redis.error_reply("msg")`
    /// without one); empty when the first word does not look like a code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The rest of the error text.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::error::Error for ReplyError {}

/// The reply does not decode into the type the script declares with `%return`.
#[derive(Clone)]
pub struct DecodeError {
    script: &'static Script,
    expected: &'static str,
    got: String,
    got_null: bool,
    /// For `TYPE[]`: the 0-based element that did not decode.
    index: Option<usize>,
    /// What to change in the script, when the reply's shape tells.
    hint: Option<&'static str>,
}

impl DecodeError {
    /// Name of the script ([`Script::name`]).
    pub fn script_name(&self) -> &'static str {
        self.script.name()
    }

    /// The script's top-level `.lua` file ([`Script::path`]).
    pub fn path(&self) -> &'static str {
        self.script.path()
    }

    /// What the declared type needed (`int`, `str`, ...).
    pub fn expected(&self) -> &str {
        self.expected
    }

    /// A short description of what came instead (`null`, `integer 42`,
    /// `bulk string "abc…"`, `array of 3`).
    pub fn got(&self) -> &str {
        &self.got
    }

    /// For an array reply (`%return TYPE[]`), the 0-based index of the
    /// element that did not decode.
    pub fn index(&self) -> Option<usize> {
        self.index
    }
}

impl std::error::Error for DecodeError {}

/// An argument could not be encoded (e.g. a map with non-string keys for a
/// JSON parameter); the script was not run.
#[derive(Clone)]
pub struct EncodeError {
    script: &'static Script,
    param: &'static str,
    message: String,
}

impl EncodeError {
    /// Name of the script ([`Script::name`]).
    pub fn script_name(&self) -> &'static str {
        self.script.name()
    }

    /// The parameter that could not be encoded.
    pub fn param(&self) -> &str {
        self.param
    }

    /// Why.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::error::Error for EncodeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_sync_static() {
        fn check<T: Send + Sync + 'static + std::error::Error>() {}
        check::<Error>();
    }
}
