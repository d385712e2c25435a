//! The typed handles of queued entries: [`Handle`] for a script call,
//! decoded by the script's own `%return` rules, and [`CmdHandle`] for a
//! plain command.

use std::fmt;
use std::marker::PhantomData;

use redis::{ErrorKind, FromRedisValue, RedisError, Value};

use super::results::{sealed, Entry, Slot};
use crate::call::fail_to_error;
use crate::decode::Decoded;
use crate::error::classify;
use crate::error::Error;
use crate::Script;

/// The handle of a script call queued with [`Pipeline::add`](crate::Pipeline::add); reads back a
/// `T` decoded by the script's own `%return` rules.
///
/// Copyable; it only reads the [`Results`](crate::Results) of the pipeline that made it.
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
    pub(super) pipe: u64,
    pub(super) index: usize,
    pub(super) script: &'static Script,
    pub(super) decode: fn(Value) -> Decoded<T>,
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
    /// [`EntryReport::index`](crate::EntryReport::index) uses.
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
            Some(Slot::NotRun(why)) => Err(Error::Redis {
                script: self.script.name(),
                source: misuse(self.index, &format!("it did not run: {why}")),
            }),
            None => Err(Error::Redis {
                script: self.script.name(),
                source: misuse(self.index, NOT_THESE_RESULTS),
            }),
        }
    }
}

/// The handle of a plain command queued with [`Pipeline::cmd`](crate::Pipeline::cmd) or
/// [`Pipeline::add_cmd`](crate::Pipeline::add_cmd); reads back a [`redis::Value`], or a `T` chosen
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
    pub(super) pipe: u64,
    pub(super) index: usize,
    pub(super) _t: PhantomData<fn() -> T>,
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
            Some(Slot::NotRun(why)) => Err(misuse(self.index, &format!("it did not run: {why}"))),
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
