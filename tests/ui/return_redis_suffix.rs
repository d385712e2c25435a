use redlua::redis_script;

#[redis_script("ui/redis_suffix.lua")]
fn scores(key: &str) -> Vec<(String, f64)>;

fn main() {}
