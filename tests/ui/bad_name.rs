use redlua::redis_script;

#[redis_script("ui/bad_name.lua")]
fn f() -> i64;

fn main() {}
