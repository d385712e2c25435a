use redlua::{redis_function, redis_script};

// The same file compiles as a script...
#[redis_script("ui/function_only.lua")]
fn as_script(counter: &str) -> i64;

// ...and not as a function: what only a function body refuses.
#[redis_function("ui/function_only.lua")]
fn as_function(counter: &str) -> i64;

fn main() {
    let _ = as_script("c");
}
