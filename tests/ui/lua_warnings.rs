// Warnings do not fail a build; denying them here shows their text.
#![deny(deprecated)]

use redlua::redis_script;

#[redis_script("checks/warnings.lua")]
fn f(user: &str, unused: i64) -> Option<String>;

fn main() {}
