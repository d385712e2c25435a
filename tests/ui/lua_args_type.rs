use redlua::redis_script;

#[redis_script("ui/args_type.lua")]
fn f(argv: &[i64]) -> i64;

fn main() {}
