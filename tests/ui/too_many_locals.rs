use redlua::redis_script;

/// 201 live locals (the `%key` and 200 more): Lua would refuse the script
/// when Redis loads it, so the build does.
#[redis_script("ui/too_many_locals.lua")]
fn too_many(counter: &str) -> i64;

fn main() {}
