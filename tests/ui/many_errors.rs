use redlua::redis_script;

#[redis_script("ui/many_errors.lua")]
fn f(user: i64, size: i64) -> String;

fn main() {}
