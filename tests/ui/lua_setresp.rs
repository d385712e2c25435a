// Warnings do not fail a build; denying them here shows their text.
#![deny(deprecated)]

use redlua::redis_script;

/// `redis.setresp(3)` under a nullable `%return`: a warning at the call.
#[redis_script("ui/setresp.lua")]
fn name(user: &str) -> Option<String>;

fn main() {}
