use redlua::redis_script;

#[redis_script("ui/undefined_read.lua")]
fn f(counter: &str) -> i64;

fn main() {}
