//! Fixtures for the batch unit tests: a script, and a connection that
//! answers every batch with canned replies.

use redis::Value;

use super::report::BatchError;
use super::results::Results;
use crate::call::{Builder, Call};
use crate::error::Error;
use crate::Script;

pub(crate) static COUNT: Script = Script::__new(
    "count",
    "lua/count.lua",
    "a1f8c8a2d0c4f0b0d0f5b8a0f2c4c9e6c1e7a3b2",
    "return redis.call('INCR', KEYS[1])",
    false,
    &["lua/count.lua"],
    &[],
    &[],
);

pub(super) fn count(key: &str) -> Call<i64> {
    let mut b = Builder::new(&COUNT, 1, 1);
    b.push(key.as_bytes());
    b.finish(crate::decode::int)
}

/// Answers every batch with the same canned replies.
pub(super) struct Canned(pub(super) Vec<Value>);

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

pub(super) fn server_error(resp: &[u8]) -> Value {
    redis::parse_redis_value(resp).unwrap()
}

pub(super) fn batch(result: Result<Results, Error>) -> BatchError {
    match result {
        Err(Error::Batch(e)) => *e,
        other => panic!("expected a batch error, got {other:?}"),
    }
}
