use redlua::redis_script;

/// A user type where the header says `str`, `bytes` or `bool`: one error
/// each, at the return type, saying which header fits a type of one's own.
struct Name(String);

#[redis_script("types/str.lua")]
fn name(value: &str) -> Name;

#[redis_script("types/bytes.lua")]
fn blob(value: &[u8]) -> Name;

#[redis_script("types/bool.lua")]
fn flag(value: bool) -> Name;

/// An alias of the right type works.
type Text = String;

#[redis_script("types/str.lua")]
fn text(value: &str) -> Text;

fn main() {
    let _: redlua::Call<Text> = text("x");
}
