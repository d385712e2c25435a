use redlua::redis_script;

#[redis_script("create_status.lua")]
fn f(user: &str, ids: &str, fields: &str) -> Option<i64>;

fn main() {}
