use redlua::redis_script;

#[redis_script("ui/removed_fn.lua")]
fn f() -> i64;

fn main() {}
