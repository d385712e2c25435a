use redlua::redis_script;

#[redis_script("ui/unknown_flag.lua")]
fn f(counter: &str) -> Option<String>;

fn main() {}
