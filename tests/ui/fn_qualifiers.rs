use redlua::redis_script;

#[redis_script("ui/one_key.lua")]
async fn a(key: &str) -> i64;

#[redis_script("ui/one_key.lua")]
const fn b(key: &str) -> i64;

#[redis_script("ui/one_key.lua")]
unsafe fn c(key: &str) -> i64;

#[redis_script("ui/one_key.lua")]
extern "C" fn d(key: &str) -> i64;

fn main() {}
