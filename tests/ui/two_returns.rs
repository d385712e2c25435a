use redlua::redis_script;

#[redis_script("ui/two_returns.lua")]
fn f(n: i64) -> i64;

fn main() {}
