use redlua::redis_script;

/// The redis-lua docs' own example mistake: `foo_size_key` read before it exists.
#[redis_script("ui/create_foo.lua")]
fn create_foo(size: i64, members: &[&str]) -> std::collections::HashMap<String, serde_json::Value>;

fn main() {}
