use redlua::redis_script;

#[redis_script("ui/params.lua")]
fn f(user: i64, size: &str, name: Vec<u8>) -> i64;

fn main() {}
