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

/// In-memory scripts for the analysis (no file on disk).
struct Sources(std::collections::HashMap<std::path::PathBuf, String>);

impl redlua_script::Loader for Sources {
    fn load(&self, path: &std::path::Path) -> std::io::Result<String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
}

/// Lua refuses a function with more than 200 live locals, or more than 60
/// upvalues, when Redis loads it; the check must refuse exactly what the
/// server refuses, counting the `%key`/`%arg` locals, a `for` loop's three
/// hidden ones, and, for a Redis Function, the `KEYS` and `ARGV` of the
/// function it runs in.
#[test]
fn the_local_variable_limit_is_the_servers() {
    let server = RedisServer::start().expect("start redis-server");
    let mut con = server.connection();
    let functions = server.server_version().has_functions();
    // (name, source with `n` locals in all), each around the limit.
    type Shape = Box<dyn Fn(usize) -> String>;
    let shapes: Vec<(&str, Shape)> = vec![
        (
            "plain locals",
            Box::new(|n| {
                let mut s = String::from("%key k\n%return int\n");
                for i in 1..n {
                    s.push_str(&format!("local a{i} = {i}\n"));
                }
                s + "return redis.call('INCR', k)\n"
            }),
        ),
        (
            "locals and a for loop",
            Box::new(|n| {
                let mut s = String::from("%key k\n%return int\n");
                for i in 1..n - 4 {
                    s.push_str(&format!("local a{i} = {i}\n"));
                }
                s + "for i = 1, 2 do redis.call('INCR', k) end\nreturn 1\n"
            }),
        ),
    ];
    // And the upvalue limit (60): a nested function using `n` locals of the
    // top level, with `KEYS` and `ARGV` (upvalues only in a function body).
    let upvalue_shapes: Vec<(&str, Shape)> = vec![
        (
            "upvalues",
            Box::new(|n| {
                let mut s = String::from("%key k\n%return int\n");
                let mut used = vec!["#k".to_string()];
                for i in 1..n {
                    s.push_str(&format!("local a{i} = {i}\n"));
                    used.push(format!("a{i}"));
                }
                s + &format!(
                    "local function f()\n  return {}\nend\nreturn f()\n",
                    used.join(" + ")
                )
            }),
        ),
        (
            "upvalues and KEYS/ARGV",
            Box::new(|n| {
                let mut s = String::from("%key k\n%return int\n");
                let mut used = vec!["#k".to_string(), "#KEYS".to_string(), "#ARGV".to_string()];
                for i in 1..n - 2 {
                    s.push_str(&format!("local a{i} = {i}\n"));
                    used.push(format!("a{i}"));
                }
                s + &format!(
                    "local function f()\n  return {}\nend\nreturn f()\n",
                    used.join(" + ")
                )
            }),
        ),
    ];
    let cases = shapes
        .iter()
        .map(|(shape, source)| (shape, source, [198, 199, 200, 201]))
        .chain(
            upvalue_shapes
                .iter()
                .map(|(shape, source)| (shape, source, [59, 60, 61, 62])),
        );
    for (shape, source, counts) in cases {
        for n in counts {
            let text = source(n);
            let files = Sources(
                [(std::path::PathBuf::from("/c/lua/a.lua"), text)]
                    .into_iter()
                    .collect(),
            );
            let asm =
                redlua_script::assemble::assemble(&files, std::path::Path::new("/c"), "lua/a.lua")
                    .unwrap();
            let refused = |findings: Vec<redlua_script::Finding>| {
                findings
                    .iter()
                    .any(|f| f.severity == redlua_script::Severity::Error)
            };
            let as_script = refused(redlua_script::check(&asm, &Default::default()));
            let loaded: redis::RedisResult<String> = redis::cmd("SCRIPT")
                .arg("LOAD")
                .arg(&asm.source)
                .query(&mut con);
            assert_eq!(
                as_script,
                loaded.is_err(),
                "{shape}, {n} locals: check refused {as_script}, server {loaded:?}"
            );
            if !functions {
                continue;
            }
            let as_function = refused(redlua_script::check_function(&asm, &Default::default()));
            let lib =
                redlua_script::function::library(&asm.source, &asm.flags, "a", "t", "lua/a.lua");
            let loaded: redis::RedisResult<String> = redis::cmd("FUNCTION")
                .arg("LOAD")
                .arg("REPLACE")
                .arg(&lib.text)
                .query(&mut con);
            assert_eq!(
                as_function,
                loaded.is_err(),
                "{shape}, {n} locals as a function: check refused {as_function}, server {loaded:?}"
            );
        }
    }
}
