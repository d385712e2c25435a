use redlua::redis_script;

#[redis_script("ui/params.lua")]
fn f(user: &str, sise: i64, name: &str) -> i64;

fn main() {}
