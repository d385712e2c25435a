use redlua::redis_script;

#[redis_script("ui/variadic_not_last.lua")]
fn f(first: &[&str], second: i64);

fn main() {}
