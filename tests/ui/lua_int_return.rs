// A warning of the Lua check, denied to show its text.
#![deny(deprecated)]

use redlua::redis_script;

#[redis_script("ui/int_return.lua")]
fn f(k: &str) -> i64;

fn main() {}
