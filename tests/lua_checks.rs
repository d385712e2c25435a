//! Scripts that pass the compile-time Lua check also run: every sandbox
//! global is accepted, and a `no-writes` script runs through EVALSHA_RO.

use redlua::redis_script;
use redlua::testing::{command_calls, RedisServer};

#[redis_script("checks/read_only.lua")]
fn read_counter(counter: &str) -> Option<i64>;

#[redis_script("checks/globals.lua")]
fn globals(key: &str, data: &serde_json::Value) -> String;

/// On Redis 6.2 (in the CI matrix) a flagged script cannot run: the error
/// names the script and says what to do, for the EVALSHA_RO refusal and
/// for the `#!lua` line's compile error alike, and nothing ran.
#[test]
fn a_flagged_script_on_a_server_before_7_says_what_to_do() {
    let server = RedisServer::start().expect("start redis-server");
    if server.skip_unless(
        !server.server_version().has_script_flags(),
        "this server runs flagged scripts (a_no_writes_script_runs_through_evalsha_ro); \
         the refusal is tested on Redis 6.2",
    ) {
        return;
    }
    let mut con = server.connection();
    let e = read_counter("c").invoke(&mut con).unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("script `read_counter`"), "{text}");
    assert!(text.contains("older than Redis 7.0"), "{text}");
    assert_eq!(e.outcome(), redlua::Outcome::Refused, "{text}");
    // Loading it gives the compile error, with the same advice.
    let e = redlua::load(&mut con, &[READ_COUNTER]).unwrap_err();
    assert!(e.to_string().contains("older than Redis 7.0"), "{e}");
}

#[test]
fn a_no_writes_script_runs_through_evalsha_ro() {
    let server = RedisServer::start().expect("start redis-server");
    if server.skip_unless(
        server.server_version().has_evalsha_ro(),
        "no EVALSHA_RO and no #!lua flags on this server",
    ) {
        return;
    }
    let mut con = server.connection();
    let call = read_counter("c");
    assert!(call.script().is_read_only());
    // The shebang is kept verbatim: it is part of the SHA.
    assert!(call
        .script()
        .source()
        .starts_with("#!lua flags=no-writes\n"));
    assert_eq!(call.invoke(&mut con).unwrap(), None);
    redis::cmd("SET").arg("c").arg(5).exec(&mut con).unwrap();
    assert_eq!(read_counter("c").invoke(&mut con).unwrap(), Some(5));
    // First call: miss + (load, call); second call: one hit. All via _RO.
    assert_eq!(command_calls(&mut con, "evalsha_ro"), 3);
    assert_eq!(command_calls(&mut con, "evalsha"), 0);
}

#[test]
fn a_no_writes_script_runs_on_a_read_only_replica() {
    let primary = RedisServer::start().expect("start redis-server");
    if primary.skip_unless(
        primary.server_version().has_evalsha_ro(),
        "no EVALSHA_RO and no #!lua flags on this server",
    ) {
        return;
    }
    let replica = RedisServer::builder()
        .arg("--replicaof")
        .arg("127.0.0.1")
        .arg(primary.port().to_string())
        .start()
        .expect("start replica");
    let mut p = primary.connection();
    redis::cmd("SET").arg("c").arg(9).exec(&mut p).unwrap();
    let mut r = replica.connection();
    let mut seen = None;
    for _ in 0..100 {
        seen = read_counter("c").invoke(&mut r).unwrap();
        if seen.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(seen, Some(9));
}

#[test]
fn every_sandbox_global_compiles_and_runs() {
    let server = RedisServer::start().expect("start redis-server");
    let mut con = server.connection();
    let out = globals("k", &serde_json::json!({"a": 1}))
        .invoke(&mut con)
        .unwrap();
    assert!(out.contains(r#"{"a":1}"#), "{out}");
    assert!(out.ends_with("Lua 5.1"), "{out}");
}
