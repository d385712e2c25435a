use redlua::redis_script;

#[redis_script("ui/syntax_main.lua")]
fn f(counter: &str) -> i64;

fn main() {}
