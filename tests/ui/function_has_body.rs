use redlua::redis_function;

#[redis_function("multiply.lua")]
fn multiply(key: &str, multiplier: i64) -> i64 {
    0
}

fn main() {}
