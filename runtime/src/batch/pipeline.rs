//! Pipelines and `MULTI`/`EXEC` transactions of script calls and plain
//! commands that stay correct when the server has lost its script cache.
//! The user-facing explanation is on [`Pipeline`].

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use redis::{Cmd, ErrorKind, FromRedisValue, RedisError, ServerError, ServerErrorKind, Value};

use crate::call::{fail_to_error, Call};
use crate::decode::Decoded;
use crate::error::classify;
use crate::error::Error;
use crate::load::{load_failure, write_load, LoadFailure};
use crate::Script;

/// Every pipeline gets its own id, so a handle can only read the results of
/// the pipeline that made it.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

const MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";
const EXEC: &[u8] = b"*1\r\n$4\r\nEXEC\r\n";

/// How many entries a [`BatchError`] lists one by one in its `Display`.
const LISTED: usize = 10;

/// Starts an empty [`Pipeline`], like `redis::pipe()`.
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
/// let mut p = redlua::pipe();
/// p.cmd(redis::cmd("SET").arg("foo").arg(2));
/// let product = p.add(multiply("foo", 5));
/// let results = p.query(&mut con)?;
/// assert_eq!(results.get(product)?, 10);
/// # }
/// # Ok(()) }
/// ```
pub fn pipe() -> Pipeline {
    Pipeline::new()
}

enum Item {
    Script {
        script: &'static Script,
        cmd: Cmd,
        error: Option<Box<(&'static str, String)>>,
    },
    Cmd(Cmd),
}

impl Item {
    fn cmd(&self) -> &Cmd {
        match self {
            Item::Script { cmd, .. } | Item::Cmd(cmd) => cmd,
        }
    }

    fn script(&self) -> Option<&'static Script> {
        match self {
            Item::Script { script, .. } => Some(script),
            Item::Cmd(_) => None,
        }
    }
}

/// A batch of script calls and plain commands sent in one round trip,
/// optionally as a `MULTI`/`EXEC` transaction ([`Pipeline::atomic`]).
///
/// Each queued entry gives a typed handle: [`Pipeline::add`] a script
/// [`Call<T>`] and get a [`Handle<T>`], which reads back a `T` decoded by
/// that script's own `%return` rules (JSON, `bool`, `T?` ...); queue a
/// plain [`redis::Cmd`] with [`Pipeline::cmd`] or [`Pipeline::add_cmd`] and
/// get a [`CmdHandle`], which reads back a [`redis::Value`] or, after
/// [`CmdHandle::returning`], any [`FromRedisValue`] type. Every entry has
/// its own result: a script error in one entry does not hide the others.
///
/// A pipeline can be queried any number of times; its handles read the
/// results of every query.
///
/// # How a batch is sent
///
/// In one round trip. Ahead of the queued entries the pipeline puts one
/// `SCRIPT LOAD` per distinct script the batch uses (inside the `MULTI` of
/// an [atomic](Pipeline::atomic) batch), so every `EVALSHA` finds its
/// script even when the server was restarted, failed over or had its cache
/// flushed just before:
///
/// ```text
/// plain:   SCRIPT LOAD a, SCRIPT LOAD b, EVALSHA a .., SET .., EVALSHA b .., EVALSHA a ..
/// atomic:  MULTI, SCRIPT LOAD a, SCRIPT LOAD b, EVALSHA a .., SET .., ..., EXEC
/// ```
///
/// A batch is never sent twice: every queued entry runs at most once, in
/// order. `SCRIPT LOAD` of a resident script only hashes the text and finds
/// it in the cache (about 1 µs of server time); the real cost is the
/// scripts' text on the wire, once per distinct script and batch. Programs
/// that preload ([`crate::load_all`]) can drop the loads with
/// [`Pipeline::assume_loaded`].
///
/// # When NOSCRIPT still happens
///
/// If an entry is still answered `NOSCRIPT` (an operator flushed the cache
/// between the batch's `SCRIPT LOAD` and the call, or the batch was built
/// with [`Pipeline::assume_loaded`] and the script was not there), nothing
/// is retried: the query fails with [`Error::Batch`], whose [`BatchError`]
/// lists entry by entry which ran and which did not, and still holds the
/// [`Results`] of the entries that ran.
///
/// # Redis Cluster
///
/// Send a pipeline on a connection to one node (all its keys in that
/// node's slots): the loads make the scripts resident on that node.
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
/// let mut p = redlua::pipe();
/// p.cmd(redis::cmd("SET").arg("foo").arg(2));
/// let product = p.add(multiply("foo", 5));
/// let hits = p.cmd(redis::cmd("INCR").arg("hits")).returning::<i64>();
/// let raw = p.cmd(redis::cmd("GET").arg("foo"));
/// let tripled = p.add(multiply("hits", 3));
/// p.cmd(redis::cmd("HSET").arg("h").arg("f").arg("v"));
/// let wrongtype = p.add(multiply("h", 3)); // GET of a hash fails inside the script
///
/// let results = p.query(&mut con)?;
/// let product: i64 = results.get(product)?;
/// let hits: i64 = results.get(hits)?;
/// assert_eq!((product, hits), (10, 1));
/// assert_eq!(results.get(raw)?, redis::Value::BulkString(b"2".to_vec()));
/// assert_eq!(results.get(tripled)?, 3);
/// // One entry's error does not hide the others; it names its script and line.
/// let err = results.get(wrongtype).unwrap_err();
/// assert_eq!(err.script_name(), "multiply");
/// assert_eq!(err.code(), Some("WRONGTYPE"));
/// assert_eq!(results.errors(), vec![wrongtype.index()]);
/// # }
/// # Ok(()) }
/// ```
pub struct Pipeline {
    id: u64,
    items: Vec<Item>,
    /// The distinct scripts of `items`, in order of first use.
    scripts: Vec<&'static Script>,
    atomic: bool,
    assume_loaded: bool,
}

impl Default for Pipeline {
    fn default() -> Pipeline {
        Pipeline::new()
    }
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("entries", &self.items.len())
            .field(
                "scripts",
                &self.scripts.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .field("atomic", &self.atomic)
            .field("assume_loaded", &self.assume_loaded)
            .finish()
    }
}

impl Pipeline {
    /// An empty pipeline; same as [`pipe`].
    ///
    /// ```
    /// let p = redlua::Pipeline::new();
    /// assert!(p.is_empty());
    /// ```
    pub fn new() -> Pipeline {
        Pipeline::with_capacity(0)
    }

    /// An empty pipeline with room for `n` entries.
    ///
    /// ```
    /// let p = redlua::Pipeline::with_capacity(16);
    /// assert_eq!(p.len(), 0);
    /// ```
    pub fn with_capacity(n: usize) -> Pipeline {
        Pipeline {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            items: Vec::with_capacity(n),
            scripts: Vec::new(),
            atomic: false,
            assume_loaded: false,
        }
    }

    /// Sends the batch as one `MULTI`/`EXEC` transaction: no other client's
    /// command runs between its entries. The scripts' `SCRIPT LOAD`s go
    /// inside the transaction, so it is still one round trip.
    ///
    /// As always in Redis, a transaction is not rolled back: an entry that
    /// fails while running does not undo the others. If Redis refuses an
    /// entry when it is queued (wrong arity, unknown command, an ACL
    /// denial), the whole transaction is discarded and
    /// [`BatchError::kind`] is [`BatchFailure::Discarded`].
    ///
    /// ```no_run
    /// use redlua::redis_script;
    ///
    /// #[redis_script("multiply.lua")]
    /// fn multiply(key: &str, multiplier: i64) -> i64;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// let mut p = redlua::pipe();
    /// p.atomic();
    /// p.cmd(redis::cmd("SET").arg("foo").arg(3));
    /// let product = p.add(multiply("foo", 2));
    /// assert_eq!(p.query(&mut con)?.get(product)?, 6);
    /// # Ok(()) }
    /// ```
    pub fn atomic(&mut self) -> &mut Pipeline {
        self.atomic = true;
        self
    }

    /// Does not send `SCRIPT LOAD`s: for programs that make their scripts
    /// resident themselves with [`crate::load`] / [`crate::load_all`]
    /// (after connecting and after every failover) and want the smallest
    /// batch. Also needed when the Redis user may run `EVALSHA` but not
    /// `SCRIPT LOAD`: that refusal would discard an atomic batch.
    ///
    /// If a script turns out not to be resident, its entries are answered
    /// `NOSCRIPT` and do not run, the others do; the query fails with
    /// [`Error::Batch`] saying which entries ran. Nothing is retried.
    ///
    /// ```no_run
    /// use redlua::redis_script;
    ///
    /// #[redis_script("multiply.lua")]
    /// fn multiply(key: &str, multiplier: i64) -> i64;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// redlua::load_all(&mut con)?; // after connecting and after a failover
    /// let mut p = redlua::pipe();
    /// p.assume_loaded();
    /// let product = p.add(multiply("foo", 2));
    /// let product = p.query(&mut con)?.get(product)?;
    /// # Ok(()) }
    /// ```
    pub fn assume_loaded(&mut self) -> &mut Pipeline {
        self.assume_loaded = true;
        self
    }

    /// True when the batch is sent as `MULTI`/`EXEC` ([`Pipeline::atomic`]).
    ///
    /// ```
    /// let mut p = redlua::pipe();
    /// assert!(!p.is_atomic());
    /// assert!(p.atomic().is_atomic());
    /// ```
    pub fn is_atomic(&self) -> bool {
        self.atomic
    }

    /// True when the batch sends no `SCRIPT LOAD`s ([`Pipeline::assume_loaded`]).
    ///
    /// ```
    /// let mut p = redlua::pipe();
    /// assert!(!p.assumes_loaded());
    /// assert!(p.assume_loaded().assumes_loaded());
    /// ```
    pub fn assumes_loaded(&self) -> bool {
        self.assume_loaded
    }

    /// Queues a script call; the handle reads back its decoded result.
    ///
    /// An argument that could not be encoded (see [`Error::Encode`]) makes
    /// [`Pipeline::query`] fail before anything is sent.
    ///
    /// ```no_run
    /// use redlua::redis_script;
    ///
    /// #[redis_script("multiply.lua")]
    /// fn multiply(key: &str, multiplier: i64) -> i64;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// let mut p = redlua::pipe();
    /// let a: redlua::Handle<i64> = p.add(multiply("a", 2));
    /// let b = p.add(multiply("b", 3));
    /// let results = p.query(&mut con)?;
    /// let (a, b) = (results.get(a)?, results.get(b)?);
    /// # Ok(()) }
    /// ```
    pub fn add<T>(&mut self, call: Call<T>) -> Handle<T> {
        let Call {
            script,
            cmd,
            decode,
            error,
        } = call;
        if !self.scripts.iter().any(|s| same_script(s, script)) {
            self.scripts.push(script);
        }
        let index = self.items.len();
        self.items.push(Item::Script { script, cmd, error });
        Handle {
            pipe: self.id,
            index,
            script,
            decode,
        }
    }

    /// Queues a copy of a plain command. Takes `&Cmd`, so a command built
    /// in place (`redis::cmd("SET").arg(..)`) can be passed directly.
    ///
    /// Do not queue `MULTI`, `EXEC`, `DISCARD` or `WATCH` here: use
    /// [`Pipeline::atomic`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// let mut p = redlua::pipe();
    /// p.cmd(redis::cmd("SET").arg("k").arg("v"));
    /// let v = p.cmd(redis::cmd("GET").arg("k")).returning::<String>();
    /// assert_eq!(p.query(&mut con)?.get(v)?, "v");
    /// # Ok(()) }
    /// ```
    pub fn cmd(&mut self, cmd: &Cmd) -> CmdHandle {
        self.add_cmd(cmd.clone())
    }

    /// Queues a plain command, taking it by value.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// let mut incr = redis::cmd("INCR");
    /// incr.arg("hits");
    /// let mut p = redlua::pipe();
    /// let hits = p.add_cmd(incr);
    /// let hits: redis::Value = p.query(&mut con)?.get(hits)?;
    /// # Ok(()) }
    /// ```
    pub fn add_cmd(&mut self, cmd: Cmd) -> CmdHandle {
        let index = self.items.len();
        self.items.push(Item::Cmd(cmd));
        CmdHandle {
            pipe: self.id,
            index,
            _t: PhantomData,
        }
    }

    /// Number of queued entries (the `SCRIPT LOAD`s, `MULTI` and `EXEC`
    /// the pipeline adds are not counted).
    ///
    /// ```
    /// let mut p = redlua::pipe();
    /// p.cmd(&redis::cmd("PING"));
    /// assert_eq!(p.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing is queued. Querying an empty pipeline sends nothing.
    ///
    /// ```
    /// assert!(redlua::pipe().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The distinct scripts the queued calls use, in order of first use:
    /// the ones the batch loads ahead of its calls.
    ///
    /// ```no_run
    /// use redlua::redis_script;
    ///
    /// #[redis_script("multiply.lua")]
    /// fn multiply(key: &str, multiplier: i64) -> i64;
    ///
    /// let mut p = redlua::pipe();
    /// p.add(multiply("a", 2));
    /// p.add(multiply("b", 3));
    /// assert_eq!(p.scripts().len(), 1);
    /// assert_eq!(p.scripts()[0].name(), "multiply");
    /// ```
    pub fn scripts(&self) -> &[&'static Script] {
        &self.scripts
    }

    /// Runs the batch on a sync connection, in one round trip.
    ///
    /// `Ok` means every entry was executed by the server; each entry's own
    /// result (which may be an error the entry raised) is read with
    /// [`Results::get`]. `Err` is:
    ///
    /// - [`Error::Encode`] when an argument could not be encoded; nothing
    ///   was sent;
    /// - [`Error::Batch`] when the batch did not run as a whole: some
    ///   entries were answered `NOSCRIPT` ([`BatchFailure::NoScript`]), the
    ///   transaction was discarded or aborted, or the connection failed.
    ///   [`BatchError`] says which entries ran. On a sync
    ///   `redis::cluster::ClusterConnection` nothing is sent
    ///   ([`BatchFailure::NotSent`]): that client resends a whole batch after
    ///   a redirect, which would run entries twice; use the async cluster
    ///   connection.
    ///
    /// ```no_run
    /// use redlua::redis_script;
    ///
    /// #[redis_script("multiply.lua")]
    /// fn multiply(key: &str, multiplier: i64) -> i64;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// let mut p = redlua::pipe();
    /// let a = p.add(multiply("a", 2));
    /// match p.query(&mut con) {
    ///     Ok(results) => println!("a = {:?}", results.get(a)),
    ///     Err(redlua::Error::Batch(e)) => eprintln!("ran {:?}, not run {:?}", e.ran(), e.not_run()),
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn query<C>(&self, con: &mut C) -> Result<Results, Error>
    where
        C: redis::ConnectionLike + ?Sized,
    {
        self.check_encoded()?;
        if self.items.is_empty() {
            return Ok(self.empty_results());
        }
        if !con.supports_pipelining() {
            return Err(self.not_sent(SYNC_CLUSTER, None));
        }
        let packed = self.packed();
        let replies = con.req_packed_commands(&packed, 0, self.wire_len());
        self.finish(replies)
    }

    /// Runs the batch on an async connection (`MultiplexedConnection`,
    /// `ConnectionManager`, the async cluster connection, ...), in one round
    /// trip; same results and errors as [`Pipeline::query`]. On Redis
    /// Cluster every key of the batch must hash to one slot; a batch across
    /// slots is refused before sending ([`BatchFailure::NotSent`]).
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
    /// let mut p = redlua::pipe();
    /// p.atomic();
    /// let a = p.add(multiply("a", 2));
    /// let a = p.query_async(&mut con).await?.get(a)?;
    /// # Ok(()) }
    /// ```
    pub async fn query_async<C>(&self, con: &mut C) -> Result<Results, Error>
    where
        C: redis::aio::ConnectionLike + ?Sized,
    {
        self.check_encoded()?;
        if self.items.is_empty() {
            return Ok(self.empty_results());
        }
        let wire = self.wire();
        let replies = con.req_packed_commands(&wire, 0, wire.len()).await;
        match replies {
            // Only the async cluster client raises CROSSSLOT for a whole
            // batch, and it does so before sending anything.
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::CrossSlot) => {
                Err(self.not_sent(CROSS_SLOT, Some(e)))
            }
            replies => self.finish(replies),
        }
    }

    fn check_encoded(&self) -> Result<(), Error> {
        for item in &self.items {
            if let Item::Script {
                script,
                error: Some(e),
                ..
            } = item
            {
                return Err(classify::encode(script, e.0, e.1.clone()));
            }
        }
        Ok(())
    }

    /// The scripts loaded ahead of the entries.
    fn loads(&self) -> &[&'static Script] {
        if self.assume_loaded {
            &[]
        } else {
            &self.scripts
        }
    }

    /// Number of commands on the wire (and of replies expected).
    fn wire_len(&self) -> usize {
        self.loads().len() + self.items.len() + if self.atomic { 2 } else { 0 }
    }

    fn packed(&self) -> Vec<u8> {
        let loads = self.loads();
        let mut buf = Vec::with_capacity(
            loads.iter().map(|s| s.source().len() + 48).sum::<usize>() + 64 * self.items.len(),
        );
        if self.atomic {
            buf.extend_from_slice(MULTI);
        }
        for script in loads {
            write_load(&mut buf, script);
        }
        for item in &self.items {
            item.cmd().write_packed_command(&mut buf);
        }
        if self.atomic {
            buf.extend_from_slice(EXEC);
        }
        buf
    }

    /// The batch as a plain `redis::Pipeline` (MULTI/EXEC written out, so
    /// every reply, QUEUED ones included, comes back).
    fn wire(&self) -> redis::Pipeline {
        let mut wire = redis::Pipeline::with_capacity(self.wire_len());
        if self.atomic {
            wire.add_command(redis::cmd("MULTI"));
        }
        for script in self.loads() {
            wire.add_command(crate::call::load_cmd(script));
        }
        for item in &self.items {
            wire.add_command(item.cmd().clone());
        }
        if self.atomic {
            wire.add_command(redis::cmd("EXEC"));
        }
        wire
    }

    fn empty_results(&self) -> Results {
        Results {
            pipe: self.id,
            slots: Vec::new(),
        }
    }

    /// Sorts the replies of the whole wire batch into results or a
    /// [`BatchError`].
    fn finish(&self, replies: redis::RedisResult<Vec<Value>>) -> Result<Results, Error> {
        let replies = match replies {
            Ok(r) => r,
            Err(e) => {
                return Err(self.unknown(BatchFailure::Connection, None, Some(e)));
            }
        };
        if replies.len() != self.wire_len() {
            let what = format!("{} replies to {} commands", replies.len(), self.wire_len());
            return Err(self.unknown(BatchFailure::Protocol, Some(what), None));
        }
        let nloads = self.loads().len();
        let mut replies = replies.into_iter();
        if !self.atomic {
            let loads: Vec<Value> = replies.by_ref().take(nloads).collect();
            return self.settle(loads, replies.collect());
        }

        // MULTI, the QUEUED replies, EXEC.
        let multi = replies.next().unwrap_or(Value::Nil);
        let queued: Vec<Value> = replies.by_ref().take(nloads + self.items.len()).collect();
        let exec = replies.next().unwrap_or(Value::Nil);
        if let Value::ServerError(e) = &multi {
            // e.g. "MULTI calls can not be nested": the connection was
            // already in a transaction, so the entries went into it.
            let what = format!("MULTI was refused: {}", server_error_text(e));
            return Err(self.unknown(BatchFailure::Protocol, Some(what), None));
        }
        match exec {
            Value::Array(values) if values.len() == queued.len() => {
                let mut values = values.into_iter();
                let loads: Vec<Value> = values.by_ref().take(nloads).collect();
                self.settle(loads, values.collect())
            }
            Value::Nil => Err(self.batch_error(
                BatchFailure::WatchAborted,
                |_| (EntryStatus::NotRun, None),
                Vec::new(),
                None,
                None,
                None,
            )),
            Value::ServerError(e) => Err(self.discarded(&queued, e)),
            other => {
                let what = format!("EXEC answered {}", describe(&other));
                Err(self.unknown(BatchFailure::Protocol, Some(what), None))
            }
        }
    }

    /// The replies of an executed batch: the loads', then the entries'.
    fn settle(&self, loads: Vec<Value>, entries: Vec<Value>) -> Result<Results, Error> {
        let failed_loads: Vec<Option<LoadFailure>> = self
            .loads()
            .iter()
            .zip(&loads)
            .map(|(script, reply)| load_failure(script, reply))
            .collect();
        let mut slots = Vec::with_capacity(entries.len());
        let mut not_run: Vec<(usize, String)> = Vec::new();
        for (i, (item, mut reply)) in self.items.iter().zip(entries).enumerate() {
            if let (Some(script), Value::ServerError(e)) = (item.script(), &reply) {
                if classify::is_noscript(e) {
                    let load = self
                        .loads()
                        .iter()
                        .position(|s| same_script(s, script))
                        .map(|k| failed_loads[k].as_ref());
                    let reason = match load {
                        Some(Some(failure)) => {
                            let reason = format!("its SCRIPT LOAD failed: {failure}");
                            // The load's error says more than NOSCRIPT (a
                            // compile error with its line, NOPERM, ...).
                            if let LoadFailure::Error(e) = failure {
                                reply = Value::ServerError(e.clone());
                            }
                            reason
                        }
                        Some(None) => "NOSCRIPT: the script cache was emptied between the \
                                       batch's SCRIPT LOAD and this call"
                            .to_owned(),
                        None => "NOSCRIPT: the script is not loaded on this server \
                                 (the batch was built with assume_loaded())"
                            .to_owned(),
                    };
                    not_run.push((i, reason));
                }
            }
            slots.push(Slot::Reply(reply));
        }
        let results = Results {
            pipe: self.id,
            slots,
        };
        if not_run.is_empty() {
            return Ok(results);
        }
        let load_failures = self.listed_load_failures(failed_loads);
        Err(self.batch_error(
            BatchFailure::NoScript,
            // `not_run` is in index order.
            |i| match not_run.binary_search_by_key(&i, |(k, _)| *k) {
                Ok(k) => (EntryStatus::NotRun, Some(not_run[k].1.clone())),
                Err(_) => (EntryStatus::Ran, None),
            },
            load_failures,
            Some(results),
            None,
            None,
        ))
    }

    /// EXEC answered an error (EXECABORT): nothing ran. Names the commands
    /// Redis refused when they were queued.
    fn discarded(&self, queued: &[Value], exec: ServerError) -> Error {
        let nloads = self.loads().len();
        let load_failures = self
            .loads()
            .iter()
            .zip(queued)
            .filter_map(|(script, reply)| match reply {
                Value::ServerError(e) => Some((*script, server_error_text(e))),
                _ => None,
            })
            .collect();
        let source = RedisError::from(exec);
        self.batch_error(
            BatchFailure::Discarded,
            |i| match queued.get(nloads + i) {
                Some(Value::ServerError(e)) => (
                    EntryStatus::NotRun,
                    Some(format!("refused when queued: {}", server_error_text(e))),
                ),
                _ => (EntryStatus::NotRun, None),
            },
            load_failures,
            None,
            Some(source),
            None,
        )
    }

    /// Refused before sending: no entry ran.
    fn not_sent(&self, why: &str, source: Option<RedisError>) -> Error {
        self.batch_error(
            BatchFailure::NotSent,
            |_| (EntryStatus::NotRun, None),
            Vec::new(),
            None,
            source,
            Some(why.to_owned()),
        )
    }

    /// A failure after which nobody knows which entries ran.
    fn unknown(
        &self,
        kind: BatchFailure,
        detail: Option<String>,
        source: Option<RedisError>,
    ) -> Error {
        self.batch_error(
            kind,
            |_| (EntryStatus::Unknown, None),
            Vec::new(),
            None,
            source,
            detail,
        )
    }

    fn listed_load_failures(
        &self,
        failed: Vec<Option<LoadFailure>>,
    ) -> Vec<(&'static Script, String)> {
        self.loads()
            .iter()
            .zip(failed)
            .filter_map(|(s, f)| f.map(|f| (*s, f.to_string())))
            .collect()
    }

    fn batch_error(
        &self,
        kind: BatchFailure,
        status: impl Fn(usize) -> (EntryStatus, Option<String>),
        load_failures: Vec<(&'static Script, String)>,
        results: Option<Results>,
        source: Option<RedisError>,
        detail: Option<String>,
    ) -> Error {
        let entries = self
            .items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let (status, reason) = status(index);
                EntryReport {
                    index,
                    script: item.script(),
                    command: match item {
                        Item::Script { .. } => None,
                        Item::Cmd(cmd) => Some(command_name(cmd)),
                    },
                    status,
                    reason,
                }
            })
            .collect();
        Error::Batch(Box::new(BatchError {
            kind,
            atomic: self.atomic,
            entries,
            load_failures,
            results,
            source,
            detail,
        }))
    }
}

const SYNC_CLUSTER: &str = "this connection does not take batches (a sync \
    redis::cluster::ClusterConnection resends a whole batch after a MOVED, ASK or TRYAGAIN \
    reply, which would run entries twice); run the batch on the async cluster connection \
    (keys in one hash slot), or send the calls one by one with invoke";

const CROSS_SLOT: &str = "on Redis Cluster the keys of one batch must hash to one slot: \
    give them a common {hash tag}, or split the batch";

fn same_script(a: &Script, b: &Script) -> bool {
    std::ptr::eq(a, b) || a.sha1() == b.sha1()
}

/// A short description of an unexpected reply.
fn describe(v: &Value) -> String {
    match v {
        Value::Nil => "null".to_owned(),
        Value::Int(n) => format!("integer {n}"),
        Value::Okay => "OK".to_owned(),
        Value::SimpleString(s) => format!("status {s:?}"),
        Value::BulkString(b) => format!("a bulk string of {} bytes", b.len()),
        Value::Array(a) => format!("an array of {}", a.len()),
        other => {
            let text = format!("{other:?}");
            text.chars().take(80).collect()
        }
    }
}

fn server_error_text(e: &ServerError) -> String {
    match e.details() {
        Some(d) if !e.code().is_empty() => format!("{} {d}", e.code()),
        Some(d) => d.to_owned(),
        None => e.code().to_owned(),
    }
}

/// `SET`, or `SCRIPT FLUSH` for commands with subcommands.
fn command_name(cmd: &Cmd) -> String {
    const CONTAINERS: &[&str] = &[
        "ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "FUNCTION", "LATENCY", "MEMORY", "MODULE",
        "OBJECT", "PUBSUB", "SCRIPT", "SLOWLOG", "XGROUP", "XINFO",
    ];
    let mut words = cmd.args_iter().map(|arg| match arg {
        redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).to_ascii_uppercase(),
        _ => "?".to_owned(),
    });
    let mut name = words.next().unwrap_or_default();
    if CONTAINERS.contains(&name.as_str()) {
        if let Some(sub) = words.next().filter(|s| s.len() <= 32) {
            name.push(' ');
            name.push_str(&sub);
        }
    }
    name
}

// ---------------------------------------------------------------------------
// Handles and results

/// The reply of one entry, as kept in [`Results`]. Not public API.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub enum Slot {
    Reply(Value),
    Taken,
}

mod sealed {
    pub trait Sealed {}
}

/// A handle to one entry of a [`Pipeline`]: [`Handle<T>`] for script
/// calls, [`CmdHandle<T>`] for plain commands. [`Results::get`] and
/// [`Results::take`] accept either.
///
/// ```no_run
/// use redlua::{Entry, Results};
///
/// fn get_all<E: Entry>(results: &Results, entries: &[E]) -> Vec<E::Output> {
///     entries.iter().map(|e| results.get(*e)).collect()
/// }
/// ```
pub trait Entry: Copy + sealed::Sealed {
    /// What reading the entry gives: `Result<T, redlua::Error>` for a
    /// script call, `redis::RedisResult<T>` for a plain command.
    type Output;

    /// The entry's position in its pipeline, counting from 0 (the
    /// `SCRIPT LOAD`s and `MULTI` the pipeline adds are not counted).
    fn index(&self) -> usize;

    #[doc(hidden)]
    fn __pipe(&self) -> u64;

    #[doc(hidden)]
    fn __finish(self, slot: Option<Slot>) -> Self::Output;
}

/// The handle of a script call queued with [`Pipeline::add`]; reads back a
/// `T` decoded by the script's own `%return` rules.
///
/// Copyable; it only reads the [`Results`] of the pipeline that made it.
///
/// ```no_run
/// use redlua::redis_script;
///
/// #[redis_script("multiply.lua")]
/// fn multiply(key: &str, multiplier: i64) -> i64;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
/// let mut p = redlua::pipe();
/// let h: redlua::Handle<i64> = p.add(multiply("foo", 2));
/// assert_eq!(h.index(), 0);
/// assert_eq!(h.script().name(), "multiply");
/// let n: i64 = p.query(&mut con)?.get(h)?;
/// # Ok(()) }
/// ```
pub struct Handle<T> {
    pipe: u64,
    index: usize,
    script: &'static Script,
    decode: fn(Value) -> Decoded<T>,
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Handle<T> {
        *self
    }
}

impl<T> Copy for Handle<T> {}

impl<T> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("index", &self.index)
            .field("script", &self.script.name())
            .finish()
    }
}

impl<T> Handle<T> {
    /// The entry's position in its pipeline, counting from 0; the index
    /// [`EntryReport::index`] uses.
    ///
    /// ```no_run
    /// # use redlua::redis_script;
    /// # #[redis_script("multiply.lua")]
    /// # fn multiply(key: &str, multiplier: i64) -> i64;
    /// let mut p = redlua::pipe();
    /// p.cmd(&redis::cmd("PING"));
    /// assert_eq!(p.add(multiply("foo", 2)).index(), 1);
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// The script the entry calls.
    ///
    /// ```no_run
    /// # use redlua::redis_script;
    /// # #[redis_script("multiply.lua")]
    /// # fn multiply(key: &str, multiplier: i64) -> i64;
    /// let mut p = redlua::pipe();
    /// assert_eq!(p.add(multiply("foo", 2)).script().path(), "lua/multiply.lua");
    /// ```
    pub fn script(&self) -> &'static Script {
        self.script
    }
}

impl<T> sealed::Sealed for Handle<T> {}

impl<T> Entry for Handle<T> {
    type Output = Result<T, Error>;

    fn index(&self) -> usize {
        self.index
    }

    fn __pipe(&self) -> u64 {
        self.pipe
    }

    fn __finish(self, slot: Option<Slot>) -> Result<T, Error> {
        match slot {
            Some(Slot::Reply(Value::ServerError(e))) => {
                Err(classify::from_server_error(self.script, &e))
            }
            Some(Slot::Reply(v)) => (self.decode)(v).map_err(|f| fail_to_error(self.script, f)),
            Some(Slot::Taken) => Err(Error::Redis {
                script: self.script.name(),
                source: misuse(self.index, "its result was already taken"),
            }),
            None => Err(Error::Redis {
                script: self.script.name(),
                source: misuse(self.index, NOT_THESE_RESULTS),
            }),
        }
    }
}

/// The handle of a plain command queued with [`Pipeline::cmd`] or
/// [`Pipeline::add_cmd`]; reads back a [`redis::Value`], or a `T` chosen
/// with [`CmdHandle::returning`].
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
/// let mut p = redlua::pipe();
/// let raw = p.cmd(redis::cmd("INCR").arg("n"));
/// let typed: redlua::CmdHandle<i64> = p.cmd(redis::cmd("INCR").arg("n")).returning();
/// let results = p.query(&mut con)?;
/// assert_eq!(results.get(raw)?, redis::Value::Int(1));
/// assert_eq!(results.get(typed)?, 2);
/// # Ok(()) }
/// ```
pub struct CmdHandle<T = Value> {
    pipe: u64,
    index: usize,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for CmdHandle<T> {
    fn clone(&self) -> CmdHandle<T> {
        *self
    }
}

impl<T> Copy for CmdHandle<T> {}

impl<T> fmt::Debug for CmdHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CmdHandle")
            .field("index", &self.index)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

impl<T> CmdHandle<T> {
    /// The same entry, read back as `U` (any [`FromRedisValue`] type).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// let mut p = redlua::pipe();
    /// let members = p
    ///     .cmd(redis::cmd("SMEMBERS").arg("tags"))
    ///     .returning::<Vec<String>>();
    /// let members: Vec<String> = p.query(&mut con)?.get(members)?;
    /// # Ok(()) }
    /// ```
    pub fn returning<U: FromRedisValue>(self) -> CmdHandle<U> {
        CmdHandle {
            pipe: self.pipe,
            index: self.index,
            _t: PhantomData,
        }
    }

    /// The entry's position in its pipeline, counting from 0.
    ///
    /// ```
    /// let mut p = redlua::pipe();
    /// assert_eq!(p.cmd(&redis::cmd("PING")).index(), 0);
    /// assert_eq!(p.cmd(&redis::cmd("PING")).index(), 1);
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }
}

impl<T> sealed::Sealed for CmdHandle<T> {}

impl<T: FromRedisValue> Entry for CmdHandle<T> {
    type Output = redis::RedisResult<T>;

    fn index(&self) -> usize {
        self.index
    }

    fn __pipe(&self) -> u64 {
        self.pipe
    }

    fn __finish(self, slot: Option<Slot>) -> redis::RedisResult<T> {
        match slot {
            Some(Slot::Reply(Value::ServerError(e))) => Err(e.into()),
            Some(Slot::Reply(v)) => T::from_redis_value(v).map_err(Into::into),
            Some(Slot::Taken) => Err(misuse(self.index, "its result was already taken")),
            None => Err(misuse(self.index, NOT_THESE_RESULTS)),
        }
    }
}

const NOT_THESE_RESULTS: &str =
    "the handle belongs to another pipeline, or was made after these results";

fn misuse(index: usize, what: &str) -> RedisError {
    RedisError::from((
        ErrorKind::Client,
        "cannot read pipeline entry",
        format!("entry #{index}: {what}"),
    ))
}

/// The replies of a [`Pipeline`] run, one per queued entry; read each with
/// its handle.
///
/// [`Results::get`] decodes a copy and can be called again;
/// [`Results::take`] moves the reply out (no copy) and can be called once
/// per entry.
///
/// ```no_run
/// use redlua::redis_script;
///
/// #[redis_script("multiply.lua")]
/// fn multiply(key: &str, multiplier: i64) -> i64;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
/// let mut p = redlua::pipe();
/// let a = p.add(multiply("a", 2));
/// let b = p.cmd(redis::cmd("GET").arg("a")).returning::<Option<String>>();
/// let mut results = p.query(&mut con)?;
/// assert_eq!(results.len(), 2);
/// let a: i64 = results.take(a)?;
/// let b: Option<String> = results.get(b)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Results {
    pipe: u64,
    slots: Vec<Slot>,
}

impl fmt::Debug for Results {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.slots).finish()
    }
}

impl Results {
    /// Decodes a copy of the entry's reply; can be called any number of
    /// times.
    ///
    /// For a script call: `Ok` with the decoded value, or the entry's own
    /// [`Error`], mapped to that script's `.lua` file and line. For a
    /// command: its `redis::RedisResult`.
    ///
    /// ```no_run
    /// use redlua::redis_script;
    ///
    /// #[redis_script("multiply.lua")]
    /// fn multiply(key: &str, multiplier: i64) -> i64;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// let mut p = redlua::pipe();
    /// let ok = p.add(multiply("n", 2));
    /// p.cmd(redis::cmd("HSET").arg("h").arg("f").arg("v"));
    /// let bad = p.add(multiply("h", 2)); // GET on a hash: WRONGTYPE
    /// let results = p.query(&mut con)?;
    /// assert!(results.get(ok).is_ok());
    /// let err = results.get(bad).unwrap_err();
    /// assert_eq!(err.script_name(), "multiply");
    /// # Ok(()) }
    /// ```
    pub fn get<E: Entry>(&self, entry: E) -> E::Output {
        let slot = if entry.__pipe() == self.pipe {
            self.slots.get(entry.index()).cloned()
        } else {
            None
        };
        entry.__finish(slot)
    }

    /// Moves the entry's reply out and decodes it, without a copy. Reading
    /// the same entry again gives an error.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// let mut p = redlua::pipe();
    /// let big = p.cmd(redis::cmd("LRANGE").arg("l").arg(0).arg(-1)).returning::<Vec<String>>();
    /// let mut results = p.query(&mut con)?;
    /// let items = results.take(big)?;
    /// assert!(results.take(big).is_err());
    /// # Ok(()) }
    /// ```
    pub fn take<E: Entry>(&mut self, entry: E) -> E::Output {
        let slot = if entry.__pipe() == self.pipe {
            self.slots
                .get_mut(entry.index())
                .map(|slot| std::mem::replace(slot, Slot::Taken))
        } else {
            None
        };
        entry.__finish(slot)
    }

    /// The raw reply of entry `index` (an error reply is a
    /// [`Value::ServerError`]); `None` when out of range or taken.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// let mut p = redlua::pipe();
    /// p.cmd(&redis::cmd("PING"));
    /// let results = p.query(&mut con)?;
    /// assert!(results.raw(0).is_some());
    /// # Ok(()) }
    /// ```
    pub fn raw(&self, index: usize) -> Option<&Value> {
        match self.slots.get(index) {
            Some(Slot::Reply(v)) => Some(v),
            _ => None,
        }
    }

    /// Indices of the entries whose reply is an error (a script error, an
    /// error reply, a refused command).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// let mut p = redlua::pipe();
    /// p.cmd(redis::cmd("SET").arg("k").arg("v"));
    /// p.cmd(redis::cmd("INCR").arg("k")); // not an integer
    /// assert_eq!(p.query(&mut con)?.errors(), vec![1]);
    /// # Ok(()) }
    /// ```
    pub fn errors(&self) -> Vec<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Slot::Reply(Value::ServerError(_))))
            .map(|(i, _)| i)
            .collect()
    }

    /// Number of entries (one per queued entry).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// let mut p = redlua::pipe();
    /// p.cmd(&redis::cmd("PING"));
    /// assert_eq!(p.query(&mut con)?.len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True for the results of an empty pipeline.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// assert!(redlua::pipe().query(&mut con)?.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

// ---------------------------------------------------------------------------
// Batch errors

/// Why a batch did not run as a whole ([`BatchError::kind`]).
///
/// ```
/// use redlua::BatchFailure;
///
/// fn safe_to_resend_everything(kind: BatchFailure) -> bool {
///     matches!(kind, BatchFailure::Discarded | BatchFailure::WatchAborted)
/// }
/// assert!(!safe_to_resend_everything(BatchFailure::NoScript));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchFailure {
    /// Some script entries were answered `NOSCRIPT` and did not run; every
    /// other entry ran (Redis does not roll back, not even in a
    /// transaction). [`BatchError::results`] holds the replies.
    NoScript,
    /// `EXEC` answered `EXECABORT`: Redis refused a command when it was
    /// queued (wrong arity, unknown command, ACL denial), so the
    /// transaction was discarded and no entry ran.
    Discarded,
    /// `EXEC` answered null: a key under `WATCH` changed, so no entry ran.
    WatchAborted,
    /// The connection failed; whether entries ran is unknown.
    Connection,
    /// The replies did not have the expected shape (for example `MULTI`
    /// was refused because the connection was already in a transaction);
    /// whether entries ran is unknown.
    Protocol,
    /// Nothing was sent, so no entry ran: the connection cannot run the
    /// batch safely as one unit. A sync `redis::cluster::ClusterConnection`
    /// resends a whole batch after a `MOVED`, `ASK` or `TRYAGAIN` reply to
    /// any entry, which would run the other entries again; an async cluster
    /// connection refuses a batch whose keys hash to more than one slot.
    NotSent,
}

/// What became of one queued entry of a batch that failed
/// ([`EntryReport::status`]).
///
/// ```
/// use redlua::EntryStatus;
///
/// fn may_send_again(s: EntryStatus) -> bool {
///     s == EntryStatus::NotRun
/// }
/// assert!(!may_send_again(EntryStatus::Unknown));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryStatus {
    /// The server executed the entry and answered it; the answer (which
    /// may be an error the entry raised) is in [`BatchError::results`].
    Ran,
    /// The entry was not executed: it changed nothing and can be sent
    /// again.
    NotRun,
    /// The connection failed or the replies made no sense: the entry may
    /// or may not have run.
    Unknown,
}

/// One queued entry in a [`BatchError`].
///
/// ```no_run
/// # fn report(e: &redlua::BatchError) {
/// for entry in e.entries() {
///     println!("#{} {} {:?} {}", entry.index(), entry.name(), entry.status(),
///              entry.reason().unwrap_or(""));
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct EntryReport {
    index: usize,
    script: Option<&'static Script>,
    command: Option<String>,
    status: EntryStatus,
    reason: Option<String>,
}

impl EntryReport {
    /// The entry's position in the pipeline, counting from 0 (as
    /// [`Handle::index`] and [`CmdHandle::index`]).
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// let not_run: Vec<usize> = e.entries().iter()
    ///     .filter(|r| r.status() == redlua::EntryStatus::NotRun)
    ///     .map(|r| r.index())
    ///     .collect();
    /// # }
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// The script, for a script call; `None` for a plain command.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// let scripts: Vec<&str> = e.entries().iter()
    ///     .filter_map(|r| r.script())
    ///     .map(|s| s.name())
    ///     .collect();
    /// # }
    /// ```
    pub fn script(&self) -> Option<&'static Script> {
        self.script
    }

    /// The script's name for a script call, the command's name (`SET`,
    /// `SCRIPT FLUSH`) for a plain command.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// println!("first entry: {}", e.entries()[0].name());
    /// # }
    /// ```
    pub fn name(&self) -> &str {
        match (&self.script, &self.command) {
            (Some(s), _) => s.name(),
            (None, Some(c)) => c,
            (None, None) => "",
        }
    }

    /// Whether the entry ran.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// assert_eq!(e.entries()[0].status(), redlua::EntryStatus::Ran);
    /// # }
    /// ```
    pub fn status(&self) -> EntryStatus {
        self.status
    }

    /// Why the entry did not run, when that is known (the `NOSCRIPT`, the
    /// failed `SCRIPT LOAD`, the error Redis gave when it was queued).
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// if let Some(why) = e.entries()[0].reason() {
    ///     eprintln!("{why}");
    /// }
    /// # }
    /// ```
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
}

/// A pipeline or transaction that did not run as a whole
/// ([`Error::Batch`]): which entries ran, which did not, and why.
///
/// Nothing is ever retried. The entries reported [`EntryStatus::NotRun`]
/// changed nothing and may be sent again; those reported
/// [`EntryStatus::Ran`] must not be sent again blindly.
///
/// ```no_run
/// use redlua::{redis_script, BatchFailure, Error};
///
/// #[redis_script("multiply.lua")]
/// fn multiply(key: &str, multiplier: i64) -> i64;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
/// let mut p = redlua::pipe();
/// p.assume_loaded();
/// let a = p.add(multiply("a", 2));
/// match p.query(&mut con) {
///     Err(Error::Batch(e)) if e.kind() == BatchFailure::NoScript => {
///         eprintln!("{e}"); // lists ran / not run entries
///         redlua::load_all(&mut con)?;
///         // Send again only what did not run.
///         assert_eq!(e.not_run(), vec![a.index()]);
///     }
///     other => { other?; }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct BatchError {
    kind: BatchFailure,
    atomic: bool,
    entries: Vec<EntryReport>,
    load_failures: Vec<(&'static Script, String)>,
    results: Option<Results>,
    source: Option<RedisError>,
    detail: Option<String>,
}

impl BatchError {
    /// What went wrong.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// if e.kind() == redlua::BatchFailure::Connection { /* reconnect */ }
    /// # }
    /// ```
    pub fn kind(&self) -> BatchFailure {
        self.kind
    }

    /// True when the batch was a `MULTI`/`EXEC` transaction.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// let what = if e.is_atomic() { "transaction" } else { "pipeline" };
    /// # }
    /// ```
    pub fn is_atomic(&self) -> bool {
        self.atomic
    }

    /// Every queued entry, in order, with its [`EntryStatus`].
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// for r in e.entries() {
    ///     println!("#{} {}: {:?}", r.index(), r.name(), r.status());
    /// }
    /// # }
    /// ```
    pub fn entries(&self) -> &[EntryReport] {
        &self.entries
    }

    /// Indices of the entries that ran.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// println!("ran: {:?}", e.ran());
    /// # }
    /// ```
    pub fn ran(&self) -> Vec<usize> {
        self.with_status(EntryStatus::Ran)
    }

    /// Indices of the entries that did not run (safe to send again).
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// println!("not run: {:?}", e.not_run());
    /// # }
    /// ```
    pub fn not_run(&self) -> Vec<usize> {
        self.with_status(EntryStatus::NotRun)
    }

    /// Indices of the entries that may or may not have run.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// assert!(e.unknown().is_empty() || e.kind() == redlua::BatchFailure::Connection
    ///     || e.kind() == redlua::BatchFailure::Protocol);
    /// # }
    /// ```
    pub fn unknown(&self) -> Vec<usize> {
        self.with_status(EntryStatus::Unknown)
    }

    /// The replies, when the batch was executed ([`BatchFailure::NoScript`]):
    /// read the entries that ran with their handles as usual; the entries
    /// that did not run give their `NOSCRIPT` (or failed `SCRIPT LOAD`)
    /// error.
    ///
    /// ```no_run
    /// # use redlua::redis_script;
    /// # #[redis_script("multiply.lua")]
    /// # fn multiply(key: &str, multiplier: i64) -> i64;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// let mut p = redlua::pipe();
    /// let hits = p.cmd(redis::cmd("INCR").arg("hits")).returning::<i64>();
    /// let a = p.add(multiply("a", 2));
    /// if let Err(redlua::Error::Batch(e)) = p.query(&mut con) {
    ///     if let Some(results) = e.results() {
    ///         println!("hits = {:?}, a = {:?}", results.get(hits), results.get(a));
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn results(&self) -> Option<&Results> {
        self.results.as_ref()
    }

    /// Like [`BatchError::results`], by value.
    ///
    /// ```no_run
    /// # fn f(e: redlua::BatchError) {
    /// let results: Option<redlua::Results> = e.into_results();
    /// # }
    /// ```
    pub fn into_results(self) -> Option<Results> {
        self.results
    }

    /// The batch's `SCRIPT LOAD`s that failed, with the error: the script
    /// does not compile, the user may not run `SCRIPT LOAD` (`NOPERM`), ...
    /// A failed load makes the entries of that script not run unless the
    /// script was already resident.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// for (script, why) in e.load_failures() {
    ///     eprintln!("SCRIPT LOAD of {}: {why}", script.name());
    /// }
    /// # }
    /// ```
    pub fn load_failures(&self) -> impl Iterator<Item = (&'static Script, &str)> + '_ {
        self.load_failures.iter().map(|(s, e)| (*s, e.as_str()))
    }

    /// The client error behind a [`BatchFailure::Connection`] failure, or
    /// the `EXECABORT` of a [`BatchFailure::Discarded`] one.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// if let Some(io) = e.redis_error() { eprintln!("{io}"); }
    /// # }
    /// ```
    pub fn redis_error(&self) -> Option<&RedisError> {
        self.source.as_ref()
    }

    /// The name of the first script entry that did not run (else of the
    /// first script entry, else empty): what [`Error::script_name`] says.
    pub(crate) fn script_name(&self) -> &str {
        let first_not_run = self
            .entries
            .iter()
            .filter(|e| e.status != EntryStatus::Ran)
            .find_map(|e| e.script);
        first_not_run
            .or_else(|| self.entries.iter().find_map(|e| e.script))
            .map_or("", |s| s.name())
    }

    /// What [`Error::code`] says.
    pub(crate) fn code(&self) -> Option<&str> {
        match self.kind {
            BatchFailure::NoScript => Some("NOSCRIPT"),
            BatchFailure::Discarded => Some("EXECABORT"),
            _ => self.source.as_ref().and_then(|e| e.code()),
        }
    }

    /// For `From<Error> for RedisError`: never a kind that a caller would
    /// retry the whole batch on (no `ErrorKind::Server(NoScript)`), except
    /// that a connection failure stays the client's own error.
    pub(crate) fn into_redis_error(self, text: String) -> RedisError {
        match (self.kind, self.source) {
            (BatchFailure::Connection, Some(source)) => source,
            (BatchFailure::NoScript, _) => {
                redis::make_extension_error("NOSCRIPT".into(), Some(text))
            }
            (BatchFailure::Discarded, _) => {
                redis::make_extension_error("EXECABORT".into(), Some(text))
            }
            (BatchFailure::WatchAborted, _) => {
                RedisError::from((ErrorKind::Client, "transaction aborted", text))
            }
            (BatchFailure::NotSent, _) => {
                RedisError::from((ErrorKind::Client, "batch not sent", text))
            }
            _ => RedisError::from((ErrorKind::UnexpectedReturnType, "batch failed", text)),
        }
    }

    fn with_status(&self, status: EntryStatus) -> Vec<usize> {
        self.entries
            .iter()
            .filter(|e| e.status == status)
            .map(|e| e.index)
            .collect()
    }

    fn what(&self) -> &'static str {
        if self.atomic {
            "transaction"
        } else {
            "pipeline"
        }
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = self.what();
        let n = self.entries.len();
        let none_ran = none_ran(n);
        match self.kind {
            BatchFailure::NoScript => {
                let not_run = self.not_run().len();
                if not_run < n {
                    write!(
                        f,
                        "{what} partially executed: {not_run} of {n} entries did not run \
                         (NOSCRIPT), the others ran; nothing was retried",
                    )?;
                } else {
                    write!(
                        f,
                        "{what} not executed: {none_ran} (NOSCRIPT); nothing was retried"
                    )?;
                }
                write!(f, "\n  ran:     ")?;
                write_ranges(f, &self.ran())?;
                write!(f, "\n  not run:")?;
                self.write_entries(f, |e| e.status == EntryStatus::NotRun)?;
            }
            BatchFailure::Discarded => {
                write!(f, "{what} discarded (EXECABORT): {none_ran}")?;
                let refused = self.entries.iter().filter(|e| e.reason.is_some()).count()
                    + self.load_failures.len();
                if refused > 0 {
                    write!(
                        f,
                        "; Redis refused {refused} {} when queued:",
                        plural(refused, "command", "commands")
                    )?;
                    self.write_entries(f, |e| e.reason.is_some())?;
                } else if let Some(e) = &self.source {
                    write!(f, ": {e}")?;
                }
            }
            BatchFailure::WatchAborted => write!(
                f,
                "{what} aborted: a WATCHed key changed (EXEC answered null), {none_ran}"
            )?,
            BatchFailure::Connection => {
                write!(
                    f,
                    "{what} of {n} {} failed; whether any entry ran is unknown",
                    plural(n, "entry", "entries")
                )?;
                if let Some(e) = &self.source {
                    write!(f, ": {e}")?;
                }
            }
            BatchFailure::Protocol => {
                write!(
                    f,
                    "{what} of {n} {}: unexpected replies; whether any entry ran is unknown",
                    plural(n, "entry", "entries")
                )?;
                if let Some(d) = &self.detail {
                    write!(f, ": {d}")?;
                }
            }
            BatchFailure::NotSent => {
                write!(f, "{what} not sent: {none_ran}")?;
                if let Some(d) = &self.detail {
                    write!(f, "; {d}")?;
                }
            }
        }
        // With NOSCRIPT, the entries' reasons already quote their load's error.
        if self.kind != BatchFailure::NoScript {
            for (script, why) in &self.load_failures {
                write!(f, "\n    SCRIPT LOAD of `{}`: {why}", script.name())?;
            }
        }
        if self
            .load_failures
            .iter()
            .any(|(_, why)| why.starts_with("NOPERM"))
        {
            f.write_str(
                "\n  hint: this user may not run SCRIPT LOAD; preload the scripts with \
                 redlua::load and build the pipeline with assume_loaded()",
            )?;
        }
        Ok(())
    }
}

impl BatchError {
    fn write_entries(
        &self,
        f: &mut fmt::Formatter<'_>,
        pick: impl Fn(&EntryReport) -> bool,
    ) -> fmt::Result {
        let picked: Vec<&EntryReport> = self.entries.iter().filter(|e| pick(e)).collect();
        for e in picked.iter().take(LISTED) {
            write!(f, "\n    #{} ", e.index)?;
            match e.script {
                Some(s) => write!(f, "script `{}`", s.name())?,
                None => f.write_str(e.name())?,
            }
            if let Some(why) = &e.reason {
                write!(f, ": {why}")?;
            }
        }
        if picked.len() > LISTED {
            write!(f, "\n    ... and {} more", picked.len() - LISTED)?;
        }
        Ok(())
    }
}

impl std::error::Error for BatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// `none of its 3 entries ran`, `its only entry did not run`.
fn none_ran(n: usize) -> String {
    if n == 1 {
        "its only entry did not run".to_owned()
    } else {
        format!("none of its {n} entries ran")
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// `#0-#2, #5`, at most `LISTED` ranges.
fn write_ranges(f: &mut fmt::Formatter<'_>, indices: &[usize]) -> fmt::Result {
    if indices.is_empty() {
        return f.write_str("(none)");
    }
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for &i in indices {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == i => *end = i,
            _ => ranges.push((i, i)),
        }
    }
    for (k, (start, end)) in ranges.iter().take(LISTED).enumerate() {
        if k > 0 {
            f.write_str(", ")?;
        }
        if start == end {
            write!(f, "#{start}")?;
        } else {
            write!(f, "#{start}-#{end}")?;
        }
    }
    if ranges.len() > LISTED {
        write!(f, ", ... ({} entries in all)", indices.len())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Builder;

    static COUNT: Script = Script::__new(
        "count",
        "lua/count.lua",
        "a1f8c8a2d0c4f0b0d0f5b8a0f2c4c9e6c1e7a3b2",
        "return redis.call('INCR', KEYS[1])",
        false,
        &["lua/count.lua"],
        &[],
        &[],
    );

    fn count(key: &str) -> Call<i64> {
        let mut b = Builder::new(&COUNT, 1, 1);
        b.push(key.as_bytes());
        b.finish(crate::decode::int)
    }

    /// Answers every batch with the same canned replies.
    struct Canned(Vec<Value>);

    impl redis::ConnectionLike for Canned {
        fn req_packed_command(&mut self, _: &[u8]) -> redis::RedisResult<Value> {
            unreachable!()
        }
        fn req_packed_commands(
            &mut self,
            _: &[u8],
            _: usize,
            _: usize,
        ) -> redis::RedisResult<Vec<Value>> {
            Ok(self.0.clone())
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

    fn server_error(resp: &[u8]) -> Value {
        redis::parse_redis_value(resp).unwrap()
    }

    fn batch(result: Result<Results, Error>) -> BatchError {
        match result {
            Err(Error::Batch(e)) => *e,
            other => panic!("expected a batch error, got {other:?}"),
        }
    }

    #[test]
    fn sync_and_async_encodings_are_the_same_bytes() {
        for (atomic, assume_loaded) in [(false, false), (true, false), (false, true), (true, true)]
        {
            let mut p = pipe();
            if atomic {
                p.atomic();
            }
            if assume_loaded {
                p.assume_loaded();
            }
            p.add(count("a"));
            p.cmd(redis::cmd("SET").arg("k").arg("v"));
            p.add(count("b"));
            assert_eq!(p.scripts().len(), 1);
            assert_eq!(p.packed(), p.wire().get_packed_pipeline());
            let expected = 3 + usize::from(!assume_loaded) + if atomic { 2 } else { 0 };
            assert_eq!(p.wire_len(), expected);
            assert_eq!(p.wire().len(), expected);
        }
    }

    #[test]
    fn the_wrong_number_of_replies_is_a_protocol_failure() {
        let mut p = pipe();
        p.add(count("a"));
        let e = batch(p.query(&mut Canned(vec![Value::Okay])));
        assert_eq!(e.kind(), BatchFailure::Protocol);
        assert_eq!(e.unknown(), vec![0]);
        assert_eq!(
            e.to_string(),
            "pipeline of 1 entry: unexpected replies; whether any entry ran is unknown: \
             1 replies to 2 commands"
        );
    }

    #[test]
    fn a_refused_multi_is_a_protocol_failure() {
        let mut p = pipe();
        p.atomic().assume_loaded();
        p.add(count("a"));
        let replies = vec![
            server_error(b"-ERR MULTI calls can not be nested\r\n"),
            server_error(b"+QUEUED\r\n"),
            Value::Array(vec![Value::Int(1)]),
        ];
        let e = batch(p.query(&mut Canned(replies)));
        assert_eq!(e.kind(), BatchFailure::Protocol);
        assert!(e
            .to_string()
            .contains("MULTI was refused: ERR MULTI calls can not be nested"));
        let r = redis::RedisError::from(Error::Batch(Box::new(e)));
        assert_eq!(r.kind(), ErrorKind::UnexpectedReturnType);
    }

    #[test]
    fn an_odd_exec_reply_is_a_protocol_failure() {
        let mut p = pipe();
        p.atomic().assume_loaded();
        p.add(count("a"));
        let replies = vec![Value::Okay, Value::Okay, Value::Int(3)];
        let e = batch(p.query(&mut Canned(replies)));
        assert_eq!(e.kind(), BatchFailure::Protocol);
        assert!(e.to_string().ends_with("EXEC answered integer 3"), "{e}");
    }

    #[test]
    fn a_wrong_sha_from_script_load_is_named_when_the_call_then_fails() {
        let mut p = pipe();
        let h = p.add(count("a"));
        let replies = vec![
            Value::BulkString(b"ffffffffffffffffffffffffffffffffffffffff".to_vec()),
            server_error(b"-NOSCRIPT No matching script. Please use EVAL.\r\n"),
        ];
        let e = batch(p.query(&mut Canned(replies)));
        assert_eq!(e.not_run(), vec![0]);
        let why = e.entries()[0].reason().unwrap();
        assert!(
            why.starts_with("its SCRIPT LOAD failed: the server answered ffff"),
            "{why}"
        );
        assert!(
            e.to_string()
                .contains("#0 script `count`: its SCRIPT LOAD failed: the server answered ffff"),
            "{e}"
        );
        let err = e.results().unwrap().get(h).unwrap_err();
        assert_eq!(err.code(), Some("NOSCRIPT"));
    }

    #[test]
    fn an_encode_error_sends_nothing() {
        let mut b = Builder::new(&COUNT, 1, 1);
        b.push(b"a");
        b.fail("attrs", "key must be a string".into());
        let call: Call<i64> = b.finish(crate::decode::int);
        let mut p = pipe();
        p.add(count("ok"));
        p.add(call);
        let err = p
            .query(&mut crate::call::tests_support::Unreachable)
            .unwrap_err();
        assert!(matches!(err, Error::Encode(_)), "{err:?}");
    }

    #[test]
    fn handles_results_and_errors_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Pipeline>();
        check::<Results>();
        check::<Handle<String>>();
        check::<CmdHandle<Vec<u8>>>();
        check::<BatchError>();
    }

    /// The futures can be spawned on a multi-threaded runtime.
    #[allow(dead_code)]
    fn futures_are_send<'a>(
        p: &'a Pipeline,
        con: &'a mut redis::aio::MultiplexedConnection,
    ) -> impl std::future::Future<Output = Result<Results, Error>> + Send + 'a {
        p.query_async(con)
    }

    #[allow(dead_code)]
    fn load_futures_are_send(
        con: &mut redis::aio::MultiplexedConnection,
    ) -> impl std::future::Future<Output = Result<usize, Error>> + Send + '_ {
        crate::load_all_async(con)
    }

    #[test]
    fn command_names() {
        assert_eq!(command_name(redis::cmd("set").arg("k").arg("v")), "SET");
        assert_eq!(
            command_name(redis::cmd("SCRIPT").arg("flush")),
            "SCRIPT FLUSH"
        );
        assert_eq!(command_name(&redis::cmd("CONFIG")), "CONFIG");
    }

    struct Ranges<'a>(&'a [usize]);

    impl fmt::Display for Ranges<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_ranges(f, self.0)
        }
    }

    #[test]
    fn index_ranges() {
        assert_eq!(Ranges(&[]).to_string(), "(none)");
        assert_eq!(Ranges(&[0, 1, 2, 4, 6, 7]).to_string(), "#0-#2, #4, #6-#7");
        let every_other: Vec<usize> = (0..40).step_by(2).collect();
        assert_eq!(
            Ranges(&every_other).to_string(),
            "#0, #2, #4, #6, #8, #10, #12, #14, #16, #18, ... (20 entries in all)"
        );
    }

    #[test]
    fn many_not_run_entries_are_summarised() {
        let mut p = pipe();
        p.assume_loaded();
        let mut replies = Vec::new();
        for i in 0..12 {
            p.add(count(&i.to_string()));
            replies.push(server_error(
                b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
            ));
        }
        let e = batch(p.query(&mut Canned(replies)));
        let text = e.to_string();
        assert!(
            text.starts_with(
                "pipeline not executed: none of its 12 entries ran (NOSCRIPT); nothing was retried"
            ),
            "{text}"
        );
        assert!(text.contains("ran:     (none)"), "{text}");
        assert!(text.contains("#9 script `count`"), "{text}");
        assert!(!text.contains("#10 script"), "{text}");
        assert!(text.ends_with("... and 2 more"), "{text}");
        assert_eq!(e.script_name(), "count");
    }
}
