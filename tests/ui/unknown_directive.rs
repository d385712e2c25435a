use redlua::redis_script;

#[redis_script("ui/unknown_directive.lua")]
fn f(user: &str) -> i64;

fn main() {}
