use redlua::redis_script;

#[redis_script("ui/too_deep.lua")]
fn f() -> i64;

fn main() {}
