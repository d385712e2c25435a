use redlua::redis_script;

#[redis_script("/etc/passwd.lua")]
fn f() -> i64;

fn main() {}
