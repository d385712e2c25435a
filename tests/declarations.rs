// create_status.lua warns (status:<id> is built from a reply); these declarations only need to compile.
#![allow(deprecated)]
//! The declarations `redlua show` prints for this repo's scripts, pasted
//! as printed: this file compiling is the proof that they fit the macro.
//! cli/tests/cli.rs checks that `redlua show` still prints each of them,
//! and script/src/rust_decl.rs has the same texts as unit-test cases.
#![allow(dead_code)]

use redlua::redis_script;

#[redis_script("create_status.lua")]
pub fn create_status(user: &str, ids: &str, fields: &[&str]) -> Option<i64>;

#[redis_script("types/list.lua")]
pub fn list(value: &[serde_json::Value]) -> Vec<serde_json::Value>;

#[redis_script("types/dict.lua")]
pub fn dict(
    value: &std::collections::HashMap<String, serde_json::Value>,
) -> std::collections::HashMap<String, serde_json::Value>;

#[redis_script("types/json.lua")]
pub fn json(value: &serde_json::Value) -> serde_json::Value;

#[redis_script("types/nothing.lua")]
pub fn nothing(key: &str, value: &str);

#[redis_script("types/variadic.lua")]
pub fn variadic(first: &str, rest: &[&str], scale: i64, values: &[i64]) -> Vec<String>;

#[redis_script("types/bytes.lua")]
pub fn bytes(value: &[u8]) -> Vec<u8>;

#[redis_script("types/zrange_scores.lua")]
pub fn zrange_scores(key: &str) -> redis::Value;

#[redis_script("types/hmget.lua")]
pub fn hmget(hash: &str, fields: &[&str]) -> Vec<Option<String>>;

#[test]
fn the_printed_declarations_compile() {
    // Building a call encodes its arguments; nothing is sent.
    let _ = create_status("user:1", "ids", &["message", "hi"]);
    let _ = list(&[serde_json::json!(1)]);
    let _ = json(&serde_json::json!({"a": 1}));
    let _ = variadic("a", &["b"], 2, &[1, 2]);
}
