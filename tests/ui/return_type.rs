use redlua::redis_script;

#[redis_script("ui/ret.lua")]
fn f(n: i64) -> Option<String>;

fn main() {}
