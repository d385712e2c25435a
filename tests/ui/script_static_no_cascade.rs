use redlua::redis_script;

// The script's header error is the only error: the function and its script
// static are still emitted, so code naming them type-checks.
#[redis_script("ui/params.lua")]
fn f(user: &str, size: i64, name: &str, extra: i64) -> i64;

fn main() {
    let _: &'static redlua::Script = F;
    let _ = f("u", 1, "n", 2);
}
