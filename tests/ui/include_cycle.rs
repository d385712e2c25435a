use redlua::redis_script;

#[redis_script("ui/cycle_a.lua")]
fn f() -> i64;

fn main() {}
