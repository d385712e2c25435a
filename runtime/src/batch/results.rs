//! What a batch answered: [`Results`], one reply per queued entry, and the
//! [`Entry`] trait through which a handle reads its own. Plain data, below
//! the errors (a [`BatchError`](crate::BatchError) holds a `Results`).

use std::fmt;

use redis::Value;

/// The reply of one entry, as kept in [`Results`]. Not public API.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub enum Slot {
    Reply(Value),
    Taken,
    /// The entry did not run (a part of a cluster batch was refused): why.
    NotRun(String),
}

pub(super) mod sealed {
    pub trait Sealed {}
}

/// A handle to one entry of a [`Pipeline`](crate::Pipeline): [`Handle<T>`](crate::Handle) for script
/// calls, [`CmdHandle<T>`](crate::CmdHandle) for plain commands. [`Results::get`] and
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

/// The replies of a [`Pipeline`](crate::Pipeline) run, one per queued entry; read each with
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
    pub(super) pipe: u64,
    pub(super) slots: Vec<Slot>,
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
    /// [`Error`](crate::Error), mapped to that script's `.lua` file and line. For a
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
