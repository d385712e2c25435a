//! A prepared script call and the one place that talks to Redis for it.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::{Cmd, Value};

use crate::decode::{Decoded, Fail};
use crate::error::classify::{self, Retry};
use crate::error::Error;
#[cfg(feature = "aio")]
use crate::reload::Miss;
use crate::trace;
use crate::Script;

/// A script call with its arguments encoded, ready to run.
///
/// Made by the function `#[redis_script]` generates; run it with
/// [`Call::invoke`] (sync) or [`Call::invoke_async`]. A call can be run
/// more than once.
///
/// ```
/// use redlua::redis_script;
///
/// /// Multiplies the number stored at `key`.
/// #[redis_script("multiply.lua")]
/// fn multiply(key: &str, multiplier: i64) -> i64;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # #[cfg(feature = "testing")] {
/// # let server = redlua::testing::RedisServer::start()?;
/// # let mut con = server.connection();
/// # redis::cmd("SET").arg("foo").arg(3).exec(&mut con)?;
/// let call = multiply("foo", 5);
/// println!("running {} ({})", call.script().name(), call.script().sha1());
/// assert_eq!(call.invoke(&mut con)?, 15);
/// assert_eq!(call.invoke(&mut con)?, 15); // a call can run again
/// # }
/// # Ok(()) }
/// ```
pub struct Call<T> {
    pub(crate) script: &'static Script,
    /// `EVALSHA[_RO] sha numkeys keys... args...`, built once.
    pub(crate) cmd: Cmd,
    pub(crate) decode: fn(Value) -> Decoded<T>,
    /// An argument that could not be encoded (e.g. JSON of a map with
    /// non-string keys); reported when the call is run, nothing is sent.
    pub(crate) error: Option<Box<(&'static str, String)>>,
}

// Not derived: that would ask `T: Clone`, and the decoder is a plain `fn`.
impl<T> Clone for Call<T> {
    fn clone(&self) -> Self {
        Call {
            script: self.script,
            cmd: self.cmd.clone(),
            decode: self.decode,
            error: self.error.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Call<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("script", &self.script.name())
            .field("sha1", &self.script.sha1())
            .field("args", &self.cmd.args_iter().skip(3).count())
            .finish()
    }
}

thread_local! {
    // One reusable buffer per thread for packing sync commands: the hot
    // path then allocates nothing to send.
    static PACKED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Buffers that grew past this are dropped after use instead of kept.
const KEEP_BUFFER: usize = 64 * 1024;

impl<T> Call<T> {
    /// The script this call runs.
    pub fn script(&self) -> &'static Script {
        self.script
    }

    /// The call's `EVALSHA` (or `EVALSHA_RO`; `FCALL`/`FCALL_RO` for a
    /// `#[redis_function]`) command, to add to a plain
    /// `redis::Pipeline` next to other commands; [`Call::decode`] reads its
    /// reply by the script's `%return`.
    ///
    /// A plain pipeline does not load scripts: after a flush or restart
    /// the entry's reply is a `NOSCRIPT` error (nothing ran; redis-rs fails
    /// the whole pipeline on it unless the pipeline `ignore_errors()`), so
    /// load the scripts first ([`load`](crate::load)) or use
    /// [`pipe`](crate::pipe), which loads inside the batch. An argument that failed to encode is
    /// reported by [`Call::decode`], not here.
    ///
    /// ```
    /// use redlua::redis_script;
    ///
    /// #[redis_script("multiply.lua")]
    /// fn multiply(key: &str, multiplier: i64) -> i64;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # #[cfg(feature = "testing")] {
    /// # let server = redlua::testing::RedisServer::start()?;
    /// # let mut con = server.connection();
    /// redlua::load(&mut con, &[MULTIPLY])?;
    /// let call = multiply("n", 3);
    /// let (_, reply): ((), redis::Value) = redis::pipe()
    ///     .cmd("SET").arg("n").arg(7)
    ///     .add_command(call.cmd().clone())
    ///     .query(&mut con)?;
    /// assert_eq!(call.decode(reply)?, 21);
    /// # }
    /// # Ok(()) }
    /// ```
    pub fn cmd(&self) -> &Cmd {
        &self.cmd
    }

    /// Decodes a reply to this call's command (see [`Call::cmd`]) as
    /// [`Call::invoke`] would: by the script's `%return`, an error reply
    /// mapped to the script's `file:line`.
    pub fn decode(&self, reply: Value) -> Result<T, Error> {
        self.check_encoded()?;
        self.finish(Ok(reply))
    }

    /// Runs the script on a sync connection: one `EVALSHA`; if the server
    /// does not know the script, `SCRIPT LOAD` and `EVALSHA` are sent
    /// together (one extra round trip) and the script stays resident.
    ///
    /// A server that answers `LOADING` (still loading its dataset; nothing
    /// ran) is asked again with a bounded backoff, for up to
    /// [`loading_timeout`] in all (5 s unless [`set_loading_timeout`] says
    /// otherwise). [`Error::outcome`] tells whether a failed call ran.
    ///
    /// Unlike [`Call::invoke_async`], a miss here is not shared with other
    /// callers: a sync connection serves one caller at a time, so each
    /// connection's first call after a miss loads the script.
    pub fn invoke<C>(&self, con: &mut C) -> Result<T, Error>
    where
        C: redis::ConnectionLike + ?Sized,
    {
        trace::sync(|| trace::call(self.script), || self.run(con))
    }

    /// [`Call::invoke`] without its span.
    fn run<C>(&self, con: &mut C) -> Result<T, Error>
    where
        C: redis::ConnectionLike + ?Sized,
    {
        self.check_encoded()?;
        crate::cluster::check_call::<C>(self.script, &self.cmd)?;
        let mut wait = LoadingWait::new();
        loop {
            let reply = self.send(con);
            match classify::retry(self.script, &reply) {
                Some(Retry::NoScript) => return self.load_and_retry(con),
                Some(Retry::Loading) => {
                    if let Some(pause) = wait.next_pause() {
                        std::thread::sleep(pause);
                        continue;
                    }
                }
                None => {}
            }
            return self.finish(reply);
        }
    }

    fn send<C>(&self, con: &mut C) -> redis::RedisResult<Value>
    where
        C: redis::ConnectionLike + ?Sized,
    {
        PACKED.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                buf.clear();
                self.cmd.write_packed_command(&mut buf);
                let reply = con.req_packed_command(&buf);
                if buf.capacity() > KEEP_BUFFER {
                    *buf = Vec::new();
                }
                reply
            }
            Err(_) => con.req_packed_command(&self.cmd.get_packed_command()),
        })
    }

    #[cfg(feature = "aio")]
    /// Runs the script on an async connection (`MultiplexedConnection`,
    /// `ConnectionManager`, ...), with the same NOSCRIPT and `LOADING`
    /// handling as [`Call::invoke`].
    ///
    /// After a cache miss the reload is shared: of many concurrent callers
    /// of one script that get `NOSCRIPT`, the first sends `SCRIPT LOAD` and
    /// its call together, the others wait for that load's reply and then
    /// send their call alone, so a connection sends about one `SCRIPT LOAD`
    /// per script and miss, not one per caller. If that load fails (refused,
    /// connection dropped or timed out, the caller's future dropped), or a
    /// waiter's call still finds no script (its connection goes to another
    /// server), the waiter loads for itself; no caller waits twice, and
    /// every caller's script runs once. (The sync [`Call::invoke`] needs no
    /// such sharing: a sync connection serves one caller at a time.)
    pub async fn invoke_async<C>(&self, con: &mut C) -> Result<T, Error>
    where
        C: redis::aio::ConnectionLike + ?Sized,
    {
        #[cfg(feature = "tracing")]
        return trace::future(|| trace::call(self.script), self.run_async(con)).await;
        #[cfg(not(feature = "tracing"))]
        self.run_async(con).await
    }

    /// [`Call::invoke_async`] without its span.
    #[cfg(feature = "aio")]
    async fn run_async<C>(&self, con: &mut C) -> Result<T, Error>
    where
        C: redis::aio::ConnectionLike + ?Sized,
    {
        self.check_encoded()?;
        crate::cluster::check_call::<C>(self.script, &self.cmd)?;
        let mut wait = LoadingWait::new();
        let generation = loop {
            let generation = self.script.reload().generation();
            let reply = con.req_packed_command(&self.cmd).await;
            // Free elsewhere: `is_cluster` is a constant per connection type.
            let reply = if crate::cluster::is_cluster::<C>() {
                crate::cluster::follow_redirect(con, &self.cmd, reply).await
            } else {
                reply
            };
            match classify::retry(self.script, &reply) {
                Some(Retry::NoScript) => break generation,
                Some(Retry::Loading) if wait.next_pause_async().await => continue,
                _ => return self.finish(reply),
            }
        };
        self.reload_async(con, generation).await
    }

    #[cfg(feature = "aio")]
    /// The miss path of [`Call::invoke_async`]; see [`crate::reload`].
    async fn reload_async<C>(&self, con: &mut C, generation: u64) -> Result<T, Error>
    where
        C: redis::aio::ConnectionLike + ?Sized,
    {
        trace::reload(self.script);
        let again = match self.script.reload().miss(generation) {
            Miss::Lead(leader) if self.heals_on_primaries::<C>() => {
                self.load_everywhere_async(con).await?;
                leader.loaded();
                return self.call_on_primary_async(con).await;
            }
            Miss::Lead(leader) => {
                let replies = con
                    .req_packed_commands(&self.load_and_call_pipe(), 0, 2)
                    .await;
                // The SCRIPT LOAD's own reply decides, not the call's: a
                // script that ran and failed is still loaded.
                let load = replies.as_ref().ok().and_then(|r| r.first());
                if load.is_some_and(|v| !self.load_failed(v)) {
                    leader.loaded();
                }
                if crate::cluster::is_cluster::<C>() && crate::cluster::load_elsewhere(&replies) {
                    return self.load_everywhere_and_call_async(con).await;
                }
                return self.finish_loaded(replies);
            }
            Miss::Wait(waiter) => waiter.loaded().await,
            Miss::Retry => true,
        };
        if again {
            let reply = con.req_packed_command(&self.cmd).await;
            if !matches!(classify::retry(self.script, &reply), Some(Retry::NoScript)) {
                return self.finish(reply);
            }
        }
        if self.heals_on_primaries::<C>() {
            return self.load_everywhere_and_call_async(con).await;
        }
        let pipe = self.load_and_call_pipe();
        let replies = con.req_packed_commands(&pipe, 0, 2).await;
        if crate::cluster::is_cluster::<C>() && crate::cluster::load_elsewhere(&replies) {
            return self.load_everywhere_and_call_async(con).await;
        }
        self.finish_loaded(replies)
    }

    #[inline]
    pub(crate) fn check_encoded(&self) -> Result<(), Error> {
        match &self.error {
            None => Ok(()),
            Some(e) => Err(classify::encode(self.script, e.0, e.1.clone())),
        }
    }

    fn load_and_retry<C>(&self, con: &mut C) -> Result<T, Error>
    where
        C: redis::ConnectionLike + ?Sized,
    {
        trace::reload(self.script);
        if self.heals_on_primaries::<C>() {
            return self.load_everywhere_and_call(con);
        }
        let packed = self.load_and_call_pipe().get_packed_pipeline();
        let replies = con.req_packed_commands(&packed, 0, 2);
        if crate::cluster::is_cluster::<C>() && crate::cluster::load_elsewhere(&replies) {
            return self.load_everywhere_and_call(con);
        }
        self.finish_loaded(replies)
    }

    /// `SCRIPT LOAD` then the call, in one round trip. SCRIPT LOAD (not EVAL)
    /// because since Redis 7.4 scripts that came in by EVAL can be evicted.
    fn load_and_call_pipe(&self) -> redis::Pipeline {
        let mut pipe = redis::pipe();
        pipe.add_command(load_cmd(self.script));
        pipe.add_command(self.cmd.clone());
        pipe
    }

    fn finish_loaded(&self, replies: redis::RedisResult<Vec<Value>>) -> Result<T, Error> {
        let mut replies = replies
            .map_err(|e| classify::from_redis(self.script, e))?
            .into_iter();
        match (replies.next(), replies.next()) {
            // The load failed (e.g. NOPERM on SCRIPT LOAD, or the script does
            // not compile): that error says more than the call's NOSCRIPT.
            (Some(Value::ServerError(e)), _) if !crate::load::already_loaded(self.script, &e) => {
                Err(classify::from_server_error(self.script, &e))
            }
            (Some(_), Some(reply)) => self.finish(Ok(reply)),
            _ => Err(classify::from_redis(
                self.script,
                redis::RedisError::from((
                    redis::ErrorKind::Client,
                    "load + call pipeline returned fewer than two replies",
                )),
            )),
        }
    }

    /// True when the reply to the load sent with a call is a refusal; a
    /// function's library that another caller loaded first is no failure.
    #[cfg(feature = "aio")]
    fn load_failed(&self, reply: &Value) -> bool {
        matches!(reply, Value::ServerError(e) if !crate::load::already_loaded(self.script, e))
    }

    #[inline]
    pub(crate) fn finish(&self, reply: redis::RedisResult<Value>) -> Result<T, Error> {
        match reply {
            Ok(v) => (self.decode)(v).map_err(|fail| fail_to_error(self.script, fail)),
            Err(e) => Err(classify::from_redis(self.script, e)),
        }
    }
}

pub(crate) fn fail_to_error(script: &'static Script, fail: Fail) -> Error {
    let (index, fail) = match fail {
        Fail::Element { index, fail } => (Some(index), *fail),
        fail => (None, fail),
    };
    let value = |expected, got: &Value, hint| {
        let null = matches!(got, Value::Nil);
        classify::decode_detail(script, expected, classify::describe(got), null, index, hint)
    };
    match fail {
        Fail::Mismatch { expected, got } => value(expected, &got, None),
        Fail::NotJson { expected, got } => value(
            expected,
            &got,
            Some(
                "`list`, `dict` and `json` replies are JSON text: `return cjson.encode(t)` \
                 (a Lua table returned as it is arrives as an array, without its string keys)",
            ),
        ),
        Fail::Parse { expected, message } => {
            classify::decode_detail(script, expected, message, false, index, None)
        }
        // Arrays do not nest: `TYPE[]` is the only array layer.
        Fail::Element { fail, .. } => fail_to_error(script, *fail),
        Fail::Server(e) => classify::from_server_error(script, &e),
    }
}

/// `SCRIPT LOAD <source>`, or `FUNCTION LOAD REPLACE <library>` for a
/// function.
///
/// `REPLACE` because the name is a hash of the text: a library of that name
/// is this text, so replacing it changes nothing, and the load never fails
/// on a library another caller loaded first (a sync cluster client resends
/// a load + call pipeline after a `MOVED`, to a node that may have it, and
/// fails the whole pipeline on one error reply).
pub(crate) fn load_cmd(script: &Script) -> Cmd {
    let mut cmd = redis::cmd(if script.is_function() {
        "FUNCTION"
    } else {
        "SCRIPT"
    });
    cmd.arg("LOAD");
    if script.is_function() {
        cmd.arg("REPLACE");
    }
    cmd.arg(script.load_text());
    cmd
}

/// The default of [`set_loading_timeout`]: 5 seconds.
pub const DEFAULT_LOADING_TIMEOUT: Duration = Duration::from_secs(5);

static LOADING_TIMEOUT_MS: AtomicU64 = AtomicU64::new(DEFAULT_LOADING_TIMEOUT.as_millis() as u64);

/// Sets how long a call or batch waits, in all, for a server that answers
/// `LOADING` (it is loading its dataset after a restart or a full sync)
/// before the `LOADING` error is returned; for the whole process.
///
/// A `LOADING` reply means the server ran nothing, so redlua waits (10 ms,
/// doubling up to 200 ms between attempts) and sends the same call or batch
/// again, until it is answered or this much time has passed since the
/// first `LOADING`. The default is [`DEFAULT_LOADING_TIMEOUT`] (5 s);
/// `Duration::ZERO` turns the wait off. Async calls wait only inside a
/// Tokio runtime (the one redis-rs's async connections run on).
///
/// ```
/// redlua::set_loading_timeout(std::time::Duration::from_secs(30));
/// assert_eq!(redlua::loading_timeout(), std::time::Duration::from_secs(30));
/// # redlua::set_loading_timeout(redlua::DEFAULT_LOADING_TIMEOUT);
/// ```
pub fn set_loading_timeout(timeout: Duration) {
    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    LOADING_TIMEOUT_MS.store(ms, Ordering::Relaxed);
}

/// The current [`set_loading_timeout`] setting.
pub fn loading_timeout() -> Duration {
    Duration::from_millis(LOADING_TIMEOUT_MS.load(Ordering::Relaxed))
}

const FIRST_PAUSE: Duration = Duration::from_millis(10);
const MAX_PAUSE: Duration = Duration::from_millis(200);

/// The bounded backoff of one call or batch against a `LOADING` server.
pub(crate) struct LoadingWait {
    started: Option<Instant>,
    next: Duration,
}

impl LoadingWait {
    pub(crate) fn new() -> LoadingWait {
        LoadingWait {
            started: None,
            next: FIRST_PAUSE,
        }
    }

    /// The pause before the next attempt, or `None` when the time given by
    /// [`loading_timeout`] is spent.
    pub(crate) fn next_pause(&mut self) -> Option<Duration> {
        let limit = loading_timeout();
        let spent = self.started.get_or_insert_with(Instant::now).elapsed();
        if spent >= limit {
            return None;
        }
        let pause = self.next.min(limit - spent);
        self.next = (self.next * 2).min(MAX_PAUSE);
        Some(pause)
    }

    /// Sleeps for [`LoadingWait::next_pause`] on the Tokio timer; false
    /// when the time is spent or there is no Tokio runtime to sleep on.
    #[cfg(feature = "tokio")]
    pub(crate) async fn next_pause_async(&mut self) -> bool {
        if tokio::runtime::Handle::try_current().is_err() {
            return false;
        }
        match self.next_pause() {
            Some(pause) => {
                tokio::time::sleep(pause).await;
                true
            }
            None => false,
        }
    }

    /// Without the `tokio` feature there is no timer to wait on: an async
    /// call returns the `LOADING` error at once.
    #[cfg(all(feature = "aio", not(feature = "tokio")))]
    pub(crate) async fn next_pause_async(&mut self) -> bool {
        false
    }
}

/// Encodes a call's arguments; generated code drives it. Not public API.
#[doc(hidden)]
pub struct Builder {
    script: &'static Script,
    cmd: Cmd,
    error: Option<Box<(&'static str, String)>>,
}

impl Builder {
    /// `numkeys` KEYS follow, then ARGV; `argc` is the expected number of
    /// both (exact unless a variadic argument is not `ExactSizeIterator`).
    #[inline]
    pub fn new(script: &'static Script, numkeys: usize, argc: usize) -> Builder {
        // Sized up front so encoding does not reallocate for typical values.
        let mut cmd = Cmd::with_capacity(3 + argc, 64 + 24 * argc);
        cmd.arg(script.call_command())
            .arg(script.call_target())
            .arg(numkeys);
        Builder {
            script,
            cmd,
            error: None,
        }
    }

    #[inline]
    pub fn push(&mut self, arg: &[u8]) {
        self.cmd.arg(arg);
    }

    #[inline]
    pub fn push_int(&mut self, n: i64) {
        self.cmd.arg(n);
    }

    /// Records that parameter `param` could not be encoded; the first such
    /// error is returned when the call runs.
    pub fn fail(&mut self, param: &'static str, message: String) {
        if self.error.is_none() {
            self.error = Some(Box::new((param, message)));
        }
    }

    #[inline]
    pub fn finish<T>(self, decode: fn(Value) -> Decoded<T>) -> Call<T> {
        Call {
            script: self.script,
            cmd: self.cmd,
            decode,
            error: self.error,
        }
    }
}

/// Connections for unit tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use redis::Value;

    /// A connection that must never be used: proves nothing was sent.
    pub(crate) struct Unreachable;

    impl redis::ConnectionLike for Unreachable {
        fn req_packed_command(&mut self, _: &[u8]) -> redis::RedisResult<Value> {
            unreachable!("nothing should have been sent")
        }
        fn req_packed_commands(
            &mut self,
            _: &[u8],
            _: usize,
            _: usize,
        ) -> redis::RedisResult<Vec<Value>> {
            unreachable!("nothing should have been sent")
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
}
