use redlua::redis_script;

/// Clashes with the script static `#[redis_script]` emits for `multiply`.
const MULTIPLY: i64 = 2;

#[redis_script("multiply.lua")]
fn multiply(key: &str, multiplier: i64) -> i64;

fn main() {
    let _ = (MULTIPLY, multiply("k", 1));
}
