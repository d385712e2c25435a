use redlua::redis_script;

#[redis_script("ui/ret.lua")]
fn f(n: i64);

fn main() {}
