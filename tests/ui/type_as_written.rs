use redlua::redis_script;

/// The error prints the types as written, not as token streams.
#[redis_script("ui/one_key.lua")]
fn f(key: &std::collections::BTreeSet<String>) -> std::vec::Vec<(i64, String)>;

fn main() {}
