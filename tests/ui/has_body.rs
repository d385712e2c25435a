use redlua::redis_script;

#[redis_script("multiply.lua")]
fn multiply(key: &str, multiplier: i64) -> i64 {
    0
}

fn main() {}
