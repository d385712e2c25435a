use redlua::redis_script;

/// ZRANGE WITHSCORES pairs under `%return str[]`: the help lists `%return redis`.
#[redis_script("ui/zrange_str.lua")]
fn scores(key: &str) -> Vec<(String, f64)>;

fn main() {}
