use redlua::redis_script;

#[redis_script("ui/os_clock.lua")]
fn f() -> f64;

fn main() {}
