use redlua::redis_script;

/// A type alias hides the shape: the runtime trait catches it at the parameter.
type Count = String;

#[redis_script("ui/no_ret.lua")]
fn f(n: Count);

fn main() {}
