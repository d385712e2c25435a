use redlua::redis_script;

#[redis_script("multiply.lua")]
fn f(key: &str, multiplier: i64) -> Option<i64>;

fn main() {}
