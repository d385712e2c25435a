use redlua::redis_script;

#[redis_script("../../outside.lua")]
fn f() -> i64;

fn main() {}
