// A header error, a Lua error and a warning of one script, in one build.
use redlua::redis_script;

#[redis_script("ui/one_pass.lua")]
fn f(user: &str, size: i64, unused: &str) -> i64;

fn main() {}
