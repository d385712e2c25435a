use redlua::redis_script;

#[redis_script("ui/server_code.lua")]
fn f(k: &str) -> i64;

fn main() {}
