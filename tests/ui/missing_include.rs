use redlua::redis_script;

#[redis_script("ui/missing_include.lua")]
fn f() -> i64;

fn main() {}
