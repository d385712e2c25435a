use redlua::redis_script;

#[redis_script("ui/params.lua")]
fn f(user: &str, size: i64, name: &str, extra: bool) -> i64;

fn main() {}
