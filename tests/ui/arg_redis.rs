use redlua::redis_script;

#[redis_script("ui/arg_redis.lua")]
fn f(x: &str) -> i64;

fn main() {}
