use redlua::redis_script;

#[redis_script("ui/not_allowed.lua")]
fn f(user: &str, ids: &str) -> i64;

fn main() {}
