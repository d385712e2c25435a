use redlua::redis_script;

#[redis_script("ui/write_in_readonly.lua")]
fn f(counter: &str) -> i64;

fn main() {}
