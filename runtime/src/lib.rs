//! # redlua: typed Redis Lua scripts, checked at compile time
//!
//! A Redis Lua script is a `.lua` file in your crate's `lua/` folder with a
//! directive header; the Rust function that calls it is generated and
//! checked against that header when your crate compiles:
//!
//! ```text
//! -- lua/multiply.lua
//! %key key
//! %arg multiplier int
//! %return int
//! local value = redis.call('GET', key)
//! return value * multiplier
//! ```
//!
//! ```
//! use redlua::redis_script;
//!
//! /// Multiplies the number stored at `key`.
//! #[redis_script("multiply.lua")]
//! pub fn multiply(key: &str, multiplier: i64) -> i64;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(feature = "testing")] {
//! # let server = redlua::testing::RedisServer::start()?;
//! # let mut con = server.connection();
//! redis::cmd("SET").arg("foo").arg(2).exec(&mut con)?;
//! let product: i64 = multiply("foo", 5).invoke(&mut con)?;
//! assert_eq!(product, 10);
//! # }
//! # Ok(()) }
//! ```
//!
//! A wrong parameter name, order or type, a malformed directive or a
//! missing include is a compile error that points at the `.lua` line. At
//! run time a call is one `EVALSHA` of a SHA1 computed at compile time; on
//! `NOSCRIPT` the script is loaded and the call retried in one extra round
//! trip.
//!
//! The guide, chapter by chapter (the same text as the README):
//! [the header language and its types](#the-header-language) (below),
//! [compile-time checks](guide::checks),
//! [errors at run time](guide::errors),
//! [pipelines and preloading](guide::batches),
//! [Redis Cluster](guide::cluster),
//! [Redis Functions](guide::functions),
//! [testing your scripts](guide::testing),
//! [tracing](guide::tracing).
//!
#![doc = include_str!("../docs/header.md")]

// How the modules import each other (always downwards, never in a circle):
// a plain `//` comment because the crate docs above are for users.
//
//   batch/cluster                           a batch split by slot on Redis
//                                           Cluster (uses send, settle)
//   batch/{send, settle, pipeline, handle}  build, send and read a batch
//   cluster_load                            SCRIPT LOAD on every cluster node
//   command_keys                            where a plain command's keys are
//   load                                    SCRIPT LOAD ahead of time
//   call, cluster, encode                   one script call (cluster: its
//                                           slot check and ASK heal, kept
//                                           apart from call.rs), arguments
//   error/{classify, render}                what went wrong -> Error, its text
//   error (types), batch/report             the errors, the batch's report
//   script, decode, batch/results,          data and pure functions: no
//   error/parse                             imports from the crate
//
// Errors and data sit below everything that returns them; `batch/report`
// and `batch/results` import no code that sends, which is what lets
// `Error::Batch` hold a `BatchError` with its `Results`.

mod batch;
mod call;
mod cluster;
mod cluster_load;
#[cfg(feature = "aio")]
mod command_keys;
mod decode;
mod encode;
mod error;
mod functions;
mod load;
// Only the async path shares reloads (a sync connection serves one caller).
#[cfg_attr(not(feature = "aio"), allow(dead_code))]
mod reload;
mod script;
#[cfg(feature = "testing")]
pub mod testing;
mod trace;

pub use batch::{
    pipe, BatchError, BatchFailure, CmdHandle, Entry, EntryReport, EntryStatus, Handle, Pipeline,
    Results,
};
pub use call::{loading_timeout, set_loading_timeout, Call, DEFAULT_LOADING_TIMEOUT};
#[cfg(feature = "cluster-async")]
pub use cluster_load::load_cluster_async;
pub use cluster_load::{load_cluster, ClusterLoad, NodeLoad, DEFAULT_NODE_TIMEOUT};
pub use error::EncodeError;
pub use error::{
    ClusterError, ClusterRefusal, DecodeError, Error, Outcome, ReplyError, ScriptError,
};
pub use functions::prune_functions;
#[cfg(feature = "aio")]
pub use functions::prune_functions_async;
pub use load::{load, load_all, scripts};
#[cfg(feature = "aio")]
pub use load::{load_all_async, load_async};
pub use script::Script;

/// The traits a parameter's Rust type must implement, one per header type.
///
/// Generated functions call them with each parameter, so a type that does
/// not fit its directive fails to compile at the parameter with a note
/// saying what fits. Bound a generic parameter with one of them to keep it
/// generic:
///
/// ```
/// use redlua::redis_script;
///
/// // lua/multiply.lua: %key key / %arg multiplier int / %return int
/// #[redis_script("multiply.lua")]
/// fn multiply<K: redlua::arg::Key>(key: K, multiplier: i64) -> i64;
///
/// let _by_name = multiply("counter", 2);
/// let _by_bytes = multiply(&b"counter"[..], 2);
/// ```
///
/// [`Key`](arg::Key), [`Str`](arg::Str) and [`Bytes`](arg::Bytes) may be
/// implemented for your own types; [`Int`](arg::Int),
/// [`Float`](arg::Float) and [`Bool`](arg::Bool) cover every Rust number
/// and `bool` type already.
pub mod arg {
    pub use crate::encode::{Bool, Bytes, Float, Int, Key, Str};
}

/// The traits a return type must implement for `%return int`, `float`,
/// `str`, `bytes` and `bool` (`list`/`dict`/`json` take any
/// `serde::de::DeserializeOwned`, `redis` any `redis::FromRedisValue`).
pub mod reply {
    pub use crate::decode::{FromBoolReply, FromBytesReply, FromFloat, FromInt, FromStrReply};
}

/// The guide's chapters; the crate page holds the first, the header
/// language. Each is also a section of the README.
pub mod guide {
    #[doc = include_str!("../docs/checks.md")]
    pub mod checks {}
    #[doc = include_str!("../docs/errors.md")]
    pub mod errors {}
    #[doc = include_str!("../docs/batches.md")]
    pub mod batches {}
    #[doc = include_str!("../docs/cluster.md")]
    pub mod cluster {}
    #[doc = include_str!("../docs/functions.md")]
    pub mod functions {}
    #[doc = include_str!("../docs/testing.md")]
    pub mod testing {}
    #[doc = include_str!("../docs/tracing.md")]
    pub mod tracing {}
}

/// The `redis` crate redlua is built on, so a program names one version of
/// it: `use redlua::redis;`.
pub use redis;

/// Generates a typed function that runs a Lua script file.
///
/// `#[redis_script("path.lua")]` goes on a declaration without a body; the
/// path is relative to the crate's `lua/` folder. The parameters must be
/// the script's `%key`s and `%arg`s with the same names, in the same order;
/// the return type is the decoded `%return` type. The function returns a
/// [`Call`]; run it with [`Call::invoke`] or [`Call::invoke_async`].
///
/// Next to the function, with the same visibility, the attribute emits a
/// `const &'static` [`Script`] named after the function in upper case
/// (`multiply` -> `MULTIPLY`): the script's source, SHA1 and line map, for
/// [`load`] (`redlua::load(&mut con, &[MULTIPLY])`) or to print its SHA1.
/// An item of that name already in the module is a compile error at the
/// function's name. Both are also allowed inside an `impl` block, as an
/// associated function (`Queue::push(...)`) and const (`Queue::PUSH`).
///
/// ```
/// use redlua::redis_script;
///
/// // lua/multiply.lua:
/// //   %key key
/// //   %arg multiplier int
/// //   %return int
/// //   local value = redis.call('GET', key)
/// //   return value * multiplier
///
/// /// Multiplies the number stored at `key`.
/// #[redis_script("multiply.lua")]
/// pub fn multiply(key: &str, multiplier: i64) -> i64;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # #[cfg(feature = "testing")] {
/// # let server = redlua::testing::RedisServer::start()?;
/// # let mut con = server.connection();
/// redis::cmd("SET").arg("counter").arg(4).exec(&mut con)?;
/// assert_eq!(multiply("counter", 3).invoke(&mut con)?, 12);
/// assert_eq!(MULTIPLY.name(), "multiply");
/// assert_eq!(redlua::load(&mut con, &[MULTIPLY])?, 1);
/// # }
/// # Ok(()) }
/// ```
pub use redlua_macros::redis_script;

/// Generates a typed function that runs a Lua script file as a Redis
/// Function (`FCALL`), Redis 7.0+ and Valkey.
///
/// The same `.lua` file, header language, checks and signature as
/// [`redis_script`]: switching a script between `EVALSHA` and Functions
/// is changing the attribute. At compile time the assembled script becomes
/// a library with one function (the script is its body, its `#!lua
/// flags=` its flags); both are named after the Rust function and a hash
/// of the library text, `multiply_<16 hex>`
/// ([`Script::function_name`]), so every version of a script has a name
/// of its own and two versions of a program deployed side by side never
/// call each other's code.
///
/// A call is one `FCALL` (`FCALL_RO` for a `no-writes` script); when the
/// server does not have the function (never loaded, `FUNCTION FLUSH`, a
/// restart without persistence, a replica promoted without it) `FUNCTION
/// LOAD` and `FCALL` are sent together, one extra round trip, as for
/// scripts. [`load`] and [`load_all`] load functions too (`FUNCTION LOAD
/// REPLACE`: a library of the same name is the same text), [`pipe`] loads
/// them inside the batch, and [`prune_functions`] deletes the libraries
/// of versions no longer compiled in. Errors name the `.lua` file and line
/// as for scripts.
///
/// ```
/// use redlua::redis_function;
///
/// /// Multiplies the number stored at `key`.
/// #[redis_function("multiply.lua")]
/// pub fn multiply(key: &str, multiplier: i64) -> i64;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # #[cfg(feature = "testing")] {
/// # let server = redlua::testing::RedisServer::start()?;
/// # if server.server_version().has_functions() {
/// # let mut con = server.connection();
/// redis::cmd("SET").arg("counter").arg(4).exec(&mut con)?;
/// assert_eq!(multiply("counter", 3).invoke(&mut con)?, 12);
/// assert!(MULTIPLY.function_name().unwrap().starts_with("multiply_"));
/// # }
/// # }
/// # Ok(()) }
/// ```
pub use redlua_macros::redis_function;

/// Used by generated code. Not public API: anything here may change in any
/// release.
#[doc(hidden)]
pub mod __private {
    pub use crate::call::Builder;
    pub mod decode {
        pub use crate::decode::*;
    }
    pub mod encode {
        pub use crate::encode::*;
    }
    pub use crate::load::private::*;
    pub use crate::script::{LineOrigin, LineRun, Script};
    // For the fuzz targets in fuzz/ only.
    pub use crate::error::fuzz;
}
