use redlua::redis_script;

#[redis_script("ui/duplicate.lua")]
fn f(user: &str, user2: &str) -> i64;

fn main() {}
