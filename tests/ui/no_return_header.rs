use redlua::redis_script;

#[redis_script("ui/no_ret.lua")]
fn f(n: i64) -> i64;

fn main() {}
