use redlua::redis_script;

#[redis_script("ui/backtick.lua")]
fn f(k: &str) -> String;

fn main() {}
