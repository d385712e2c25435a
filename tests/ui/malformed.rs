use redlua::redis_script;

#[redis_script("ui/malformed.lua")]
fn f(size: i64) -> i64;

fn main() {}
