use redlua::redis_script;

#[redis_script("ui/does_not_exist.lua")]
fn f() -> i64;

fn main() {}
