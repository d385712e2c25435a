use redlua::redis_script;

#[redis_script("ui/keys_beyond.lua")]
fn f(k: &str) -> Option<String>;

fn main() {}
