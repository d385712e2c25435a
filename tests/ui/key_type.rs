use redlua::redis_script;

/// A number is not a key: the help lists strings, bytes and `redlua::arg::Key`.
#[redis_script("ui/one_key.lua")]
fn by_number(key: i64) -> i64;

/// A generic key without a bound: rustc's help suggests the public trait.
#[redis_script("ui/one_key.lua")]
fn generic<K>(key: K) -> i64;

fn main() {}
