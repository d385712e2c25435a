use redlua::redis_script;

#[redis_script("ui/directive_after_code.lua")]
fn f(k: &str) -> i64;

fn main() {}
