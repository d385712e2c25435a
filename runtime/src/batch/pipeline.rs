//! The builder: [`pipe`] and [`Pipeline`], which queue script calls and
//! plain commands and hand out their handles. Sending is in `send`,
//! reading the replies in `settle`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use redis::Cmd;

use super::handle::{CmdHandle, Handle};
use crate::call::Call;
use crate::Script;

/// Every pipeline gets its own id, so a handle can only read the results of
/// the pipeline that made it.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

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

#[derive(Clone)]
pub(super) enum Item {
    Script {
        script: &'static Script,
        cmd: Cmd,
        error: Option<Box<(&'static str, String)>>,
    },
    Cmd(Cmd),
}

impl Item {
    pub(super) fn cmd(&self) -> &Cmd {
        match self {
            Item::Script { cmd, .. } | Item::Cmd(cmd) => cmd,
        }
    }

    pub(super) fn script(&self) -> Option<&'static Script> {
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
/// [`CmdHandle::returning`], any [`FromRedisValue`](redis::FromRedisValue) type. Every entry has
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
/// is retried: the query fails with [`Error::Batch`](crate::Error::Batch), whose [`BatchError`](crate::BatchError)
/// lists entry by entry which ran and which did not, and still holds the
/// [`Results`](crate::Results) of the entries that ran.
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
    pub(super) id: u64,
    pub(super) items: Vec<Item>,
    /// The distinct scripts of `items`, in order of first use.
    pub(super) scripts: Vec<&'static Script>,
    pub(super) atomic: bool,
    pub(super) assume_loaded: bool,
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
    /// [`BatchError::kind`](crate::BatchError::kind) is [`BatchFailure::Discarded`](crate::BatchFailure::Discarded).
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
    /// [`Error::Batch`](crate::Error::Batch) saying which entries ran. Nothing is retried.
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
    /// An argument that could not be encoded (see [`Error::Encode`](crate::Error::Encode)) makes
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

    /// The scripts loaded ahead of the entries.
    pub(super) fn loads(&self) -> &[&'static Script] {
        if self.assume_loaded {
            &[]
        } else {
            &self.scripts
        }
    }

    /// Number of commands on the wire (and of replies expected).
    pub(super) fn wire_len(&self) -> usize {
        self.loads().len() + self.items.len() + if self.atomic { 2 } else { 0 }
    }
}

pub(super) fn same_script(a: &Script, b: &Script) -> bool {
    std::ptr::eq(a, b) || a.load_key() == b.load_key()
}
