//! The compile-time contract on a real server: what compiles runs as written.

use redlua::redis_script;
use redlua::testing::RedisServer;

fn server() -> (RedisServer, redis::Connection) {
    let s = RedisServer::start().expect("redis-server");
    let con = s.connection();
    (s, con)
}

#[redis_script("contract/passthrough.lua")]
fn passthrough(keys: &[&str], argv: &[&str]) -> Vec<String>;

#[redis_script("contract/passthrough_bytes.lua")]
fn passthrough_bytes(first: &[u8], rest: &[&[u8]], argv: &[&[u8]]) -> i64;

#[test]
fn pass_through_keys_and_args_reach_the_script_as_they_are() {
    let (_s, mut con) = server();
    assert_eq!(
        passthrough(&["a", "b"], &["1", "2", "3"])
            .invoke(&mut con)
            .unwrap(),
        ["k:a", "k:b", "a:1", "a:2", "a:3"]
    );
    assert!(passthrough(&[], &[]).invoke(&mut con).unwrap().is_empty());
    // Binary keys and values, after a declared key.
    let n = passthrough_bytes(b"k\xff1", &[b"k\xff2"], &[b"v\x001", b"v\x002"])
        .invoke(&mut con)
        .unwrap();
    assert_eq!(n, 4);
    let v: Vec<u8> = redis::cmd("GET").arg(b"k\xff2").query(&mut con).unwrap();
    assert_eq!(v, b"v\x002");
    // No prologue: the script text starts with the directives as comments.
    assert!(PASSTHROUGH.source().starts_with("-- The script"));
    assert!(!PASSTHROUGH.source().contains("KEYS[1]"));
}

#[redis_script("contract/long_string.lua")]
fn long_string(name: &str) -> String;

#[test]
fn percent_lines_in_lua_text_stay_lua() {
    let (_s, mut con) = server();
    // `%arg x` inside [[...]] is text, `% 4` continues the expression.
    assert_eq!(long_string("hello").invoke(&mut con).unwrap(), "%arg x\n1");
}

#[redis_script("contract/vararg_arg.lua")]
fn vararg_arg() -> i64;

#[allow(deprecated)] // the `table.unpack` probe warns: it is always false on Redis
#[redis_script("contract/feature_tests.lua")]
fn feature_tests() -> String;

#[test]
fn real_world_idioms_that_redis_runs_compile_and_run() {
    let (_s, mut con) = server();
    assert_eq!(vararg_arg().invoke(&mut con).unwrap(), 3);
    let got = feature_tests().invoke(&mut con).unwrap();
    assert!(got.starts_with("xy:"), "{got}");
    assert!(got.ends_with(":no"), "{got}");
}
