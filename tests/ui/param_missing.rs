use redlua::redis_script;

#[redis_script("ui/params.lua")]
fn f(user: &str, size: i64) -> i64;

fn main() {}
