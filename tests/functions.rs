//! `#[redis_function]`: the same scripts through FUNCTION LOAD / FCALL, on
//! a real server (Redis 7.0+ or Valkey; older servers skip, saying why).

use std::collections::BTreeMap;
use std::fmt::Debug;

use redlua::testing::{command_calls, RedisServer};
use redlua::{redis_function, redis_script};

#[allow(dead_code)]
mod common;
use common::runs;

/// Declares each script twice, with the same name and signature: in `s`
/// with `#[redis_script]`, in `f` with `#[redis_function]`.
macro_rules! both {
    // The return type is in brackets: a macro cannot tell where a type
    // written as loose tokens ends.
    ($( $(#[$meta:meta])* $path:literal => fn $name:ident ( $($params:tt)* ) $([$($ret:tt)*])? ; )*) => {
        mod s {
            #![allow(dead_code)]
            use super::*;
            $( $(#[$meta])* #[redis_script($path)] pub fn $name($($params)*) $(-> $($ret)*)?; )*
        }
        mod f {
            #![allow(dead_code)]
            use super::*;
            $( $(#[$meta])* #[redis_function($path)] pub fn $name($($params)*) $(-> $($ret)*)?; )*
        }
    };
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Counter {
    name: String,
    count: i64,
}

pub use std::collections::HashMap;

both! {
    // status:<id> is built from INCR's reply: the check warns it is not cluster-safe.
    #[allow(deprecated)]
    "create_status.lua" => fn create_status(user: &str, ids: &str, fields: &[&str]) [Option<i64>];
    "push_and_sum.lua" => fn push_and_sum(list: &str, sum: &str, values: &[i64]) [i64];
    "multiply.lua" => fn multiply(key: &str, multiplier: i64) [i64];
    "rate_limit.lua" => fn take(bucket: &str, limit: i64, window_ms: i64) [Option<i64>];
    "errors/raise.lua" => fn raise(scratch: &str, mode: &str) [String];
    "errors/reply.lua" => fn reply_error(code: &str) [String];
    "types/int.lua" => fn int_echo(value: i64) [i64];
    "types/float.lua" => fn float_echo(value: f64) [f64];
    "types/str.lua" => fn str_echo(value: &str) [String];
    "types/bytes.lua" => fn bytes_echo(value: &[u8]) [Vec<u8>];
    "types/bool.lua" => fn bool_echo(value: bool) [bool];
    "types/list.lua" => fn list_echo(value: &[i64]) [Vec<i64>];
    "types/dict.lua" => fn dict_echo(value: &HashMap<String, String>) [HashMap<String, String>];
    "types/json.lua" => fn json_bump(value: &Counter) [Counter];
    "types/variadic.lua" => fn variadic(first: &str, rest: &[&str], scale: i64, values: Vec<i64>) [Vec<String>];
    "types/maybe_int.lua" => fn maybe_int(present: bool) [Option<i64>];
    "types/hmget.lua" => fn hmget(hash: &str, fields: &[&str]) [Vec<Option<String>>];
    "types/nothing.lua" => fn set_unit(key: &str, value: &str);
    "types/null_int.lua" => fn null_int() [i64];
    "types/nested.lua" => fn nested() [(String, (i64, f64), Vec<String>)];
    "types/zrange_scores.lua" => fn scores(key: &str) [Vec<(String, f64)>];
    "types/hgetall.lua" => fn hgetall(key: &str) [HashMap<String, String>];
    "types/keys_echo.lua" => fn keys_echo(keys: &[&str]) [Vec<Vec<u8>>];
    "types/mixed_ints.lua" => fn mixed_ints() [Vec<i64>];
    "types/raw_table.lua" => fn raw_table() [HashMap<String, i64>];
    "contract/passthrough.lua" => fn passthrough(keys: &[&str], argv: &[&str]) [Vec<String>];
    "contract/vararg_arg.lua" => fn vararg_arg() [i64];
    // The `table.unpack` probe warns: it is always false on Redis.
    #[allow(deprecated)]
    "contract/feature_tests.lua" => fn feature_tests() [String];
    "contract/long_string.lua" => fn long_string(name: &str) [String];
    "pipeline/count.lua" => fn count(counter: &str) [i64];
    "functions/read.lua" => fn read(key: &str) [Option<String>];
    "functions/flagged.lua" => fn flagged(key: &str) [i64];
}

/// The two versions of one script, as two builds of a program would have
/// it: the same Rust name and signature, different bodies.
mod v1 {
    use super::*;
    #[redis_function("functions/v1/greet.lua")]
    pub fn greet(log: &str, who: &str) -> String;
}
mod v2 {
    use super::*;
    #[redis_function("functions/v2/greet.lua")]
    pub fn greet(log: &str, who: &str) -> String;
}

/// A server with Functions, or `None` after saying why not.
fn server() -> Option<(RedisServer, redis::Connection)> {
    let server = RedisServer::start().expect("start redis-server");
    if server.skip_unless(
        server.server_version().has_functions(),
        "Redis Functions need Redis 7.0 or Valkey",
    ) {
        return None;
    }
    let con = server.connection();
    Some((server, con))
}

/// What a call answered, in a form both attributes must agree on: the
/// value, or the error's kind, code, message and `.lua` location (not its
/// text, which names the SHA1 or the function).
fn outcome<T: Debug>(r: Result<T, redlua::Error>) -> String {
    match r {
        Ok(v) => format!("Ok({v:?})"),
        Err(redlua::Error::Script(e)) => format!(
            "Script({} {:?} at {:?}, compile: {})",
            e.code(),
            e.message(),
            e.location(),
            e.is_compile_error()
        ),
        Err(redlua::Error::Reply(e)) => format!("Reply({} {:?})", e.code(), e.message()),
        Err(e) => format!("Err({:?} {:?})", e.code(), e.outcome()),
    }
}

/// Every key with its value (`DUMP`, without TTLs), so both runs are
/// compared on what they wrote too.
fn dataset(con: &mut redis::Connection) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(con).unwrap();
    keys.into_iter()
        .map(|k| {
            let v: Vec<u8> = redis::cmd("DUMP").arg(&k).query(con).unwrap();
            (k, v)
        })
        .collect()
}

/// Runs one case as a script and as a function on an emptied database,
/// after the same setup, and checks that both answer and write the same.
macro_rules! same {
    ($con:expr, [$($setup:expr),*], $name:ident ( $($arg:expr),* )) => {{
        let con: &mut redis::Connection = $con;
        let mut run = |which: &str| {
            redis::cmd("FLUSHDB").exec(con).unwrap();
            $( let _: redis::Value = $setup.query(con).unwrap(); )*
            let answer = match which {
                "script" => outcome(s::$name($($arg),*).invoke(con)),
                _ => outcome(f::$name($($arg),*).invoke(con)),
            };
            (answer, dataset(con))
        };
        let script = run("script");
        let function = run("function");
        assert_eq!(script, function, "{} differs", stringify!($name($($arg),*)));
        script.0
    }};
}

fn cmd(name: &str) -> redis::Cmd {
    redis::cmd(name)
}

#[test]
fn every_seed_and_test_script_answers_the_same_as_a_function() {
    let Some((_server, mut con)) = server() else {
        return;
    };
    let con = &mut con;
    let login = cmd("HSET")
        .arg("user:1")
        .arg("login")
        .arg("dr_josiah")
        .clone();
    let answers = [
        same!(
            con,
            [],
            create_status("user:1", "status:id:", &["message", "hi"])
        ),
        same!(
            con,
            [login],
            create_status("user:1", "status:id:", &["message", "hi", "posted", "1.5"])
        ),
        same!(con, [], push_and_sum("list", "sum", &[2, 1, 2])),
        same!(con, [cmd("SET").arg("foo").arg(3)], multiply("foo", 5)),
        same!(con, [cmd("SET").arg("foo").arg("x")], multiply("foo", 5)),
        same!(con, [cmd("SET").arg("b").arg(1)], take("b", 1, 60_000)),
        same!(con, [], take("b", 1, 60_000)),
        same!(con, [], raise("scratch", "error")),
        same!(con, [], raise("scratch", "wrongtype")),
        same!(con, [], raise("scratch", "arith")),
        same!(con, [], raise("scratch", "none")),
        same!(con, [], reply_error("NOPE")),
        same!(con, [], int_echo(-42)),
        same!(con, [], float_echo(2.5)),
        same!(con, [], str_echo("héllo")),
        same!(con, [], bytes_echo(&[0, 255, 10])),
        same!(con, [], bool_echo(true)),
        same!(con, [], list_echo(&[1, 2, 3])),
        same!(
            con,
            [],
            dict_echo(&HashMap::from([("a".to_owned(), "b".to_owned())]))
        ),
        same!(
            con,
            [],
            json_bump(&Counter {
                name: "n".into(),
                count: 1
            })
        ),
        same!(con, [], variadic("a", &["b", "c"], 3, vec![1, 2])),
        same!(con, [], maybe_int(false)),
        same!(con, [], maybe_int(true)),
        same!(
            con,
            [cmd("HSET").arg("h").arg("x").arg("1")],
            hmget("h", &["x", "y"])
        ),
        same!(con, [], set_unit("k", "v")),
        same!(con, [], null_int()),
        same!(con, [], nested()),
        same!(
            con,
            [cmd("ZADD").arg("z").arg(1.5).arg("a").arg(2).arg("b")],
            scores("z")
        ),
        same!(con, [cmd("HSET").arg("h").arg("f").arg("v")], hgetall("h")),
        same!(con, [], keys_echo(&["k1", "k2"])),
        same!(con, [], mixed_ints()),
        same!(con, [], raw_table()),
        same!(con, [], passthrough(&["a", "b"], &["1", "2", "3"])),
        same!(con, [], vararg_arg()),
        same!(con, [], feature_tests()),
        same!(con, [], long_string("x")),
        same!(con, [], count("c")),
        same!(con, [cmd("SET").arg("r").arg("v")], read("r")),
        same!(con, [cmd("SET").arg("n").arg("x")], flagged("n")),
    ];
    // The table proves something only if its cases differ: values, nulls,
    // the script's own errors, Lua errors at their .lua line.
    let all = answers.join("\n");
    assert!(all.contains("Ok(Some(1))"), "{all}");
    assert!(all.contains("Ok(None)"), "{all}");
    assert!(
        all.contains(
            "Script(ERR \"boom from the library\" at [(\"lua/errors/raise.lua\", 3), (\"lua/lib/fail.lua\", 5)]"
        ),
        "{all}"
    );
    assert!(all.contains("Reply(NOPE"), "{all}");
    // A script with a `#!lua` line: its library line numbers are its own.
    assert!(
        all.contains("at [(\"lua/functions/flagged.lua\", 7)]"),
        "{all}"
    );
}

#[test]
fn a_function_runs_with_fcall_and_is_loaded_on_its_first_miss_only() {
    let Some((_server, mut con)) = server() else {
        return;
    };
    assert!(f::MULTIPLY.is_function() && !s::MULTIPLY.is_function());
    let name = f::MULTIPLY.function_name().unwrap();
    assert!(name.starts_with("multiply_") && name.len() == "multiply_".len() + 16);
    redis::cmd("SET").arg("n").arg(2).exec(&mut con).unwrap();
    for expected in [6, 6, 6] {
        assert_eq!(f::multiply("n", 3).invoke(&mut con).unwrap(), expected);
    }
    // The first FCALL missed (nothing ran), then one FUNCTION LOAD + FCALL.
    assert_eq!(command_calls(&mut con, "fcall"), 4);
    assert_eq!(command_calls(&mut con, "function|load"), 1);
    assert_eq!(command_calls(&mut con, "evalsha"), 0);
    let listed: Vec<HashMap<String, redis::Value>> =
        redis::cmd("FUNCTION").arg("LIST").query(&mut con).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0]["library_name"],
        redis::Value::BulkString(name.as_bytes().to_vec())
    );

    // `no-writes` runs with FCALL_RO.
    redis::cmd("SET").arg("r").arg("v").exec(&mut con).unwrap();
    assert_eq!(f::read("r").invoke(&mut con).unwrap().as_deref(), Some("v"));
    assert_eq!(command_calls(&mut con, "fcall_ro"), 2);
    assert!(f::read("r")
        .cmd()
        .args_iter()
        .next()
        .is_some_and(|a| matches!(a, redis::Arg::Simple(b) if b == b"FCALL_RO")));
}

#[test]
fn rolling_deploy_each_version_runs_its_own_body() {
    let Some((_server, mut con)) = server() else {
        return;
    };
    let (n1, n2) = (
        v1::GREET.function_name().unwrap(),
        v2::GREET.function_name().unwrap(),
    );
    assert!(n1.starts_with("greet_") && n2.starts_with("greet_"));
    assert_ne!(n1, n2, "two bodies, two names");
    // Both builds are live against one server; the calls interleave.
    let mut answers = Vec::new();
    for i in 0..6 {
        let answer = if i % 2 == 0 {
            v1::greet("log", "ann").invoke(&mut con).unwrap()
        } else {
            v2::greet("log", "bob").invoke(&mut con).unwrap()
        };
        answers.push(answer);
    }
    assert_eq!(
        answers,
        [
            "hello ann",
            "hi bob!",
            "hello ann",
            "hi bob!",
            "hello ann",
            "hi bob!"
        ]
    );
    let log: Vec<String> = redis::cmd("LRANGE")
        .arg("log")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(log, ["v1", "v2", "v1", "v2", "v1", "v2"]);
    // Each version loaded its own library once, and neither replaced the other.
    assert_eq!(command_calls(&mut con, "function|load"), 2);
    let libraries: Vec<HashMap<String, redis::Value>> =
        redis::cmd("FUNCTION").arg("LIST").query(&mut con).unwrap();
    assert_eq!(libraries.len(), 2);
}

#[test]
fn function_flush_between_calls_heals_like_noscript() {
    let Some((_server, mut con)) = server() else {
        return;
    };
    assert_eq!(f::count("c").invoke(&mut con).unwrap(), 1);
    redis::cmd("FUNCTION").arg("FLUSH").exec(&mut con).unwrap();
    assert_eq!(f::count("c").invoke(&mut con).unwrap(), 2);
    assert_eq!(command_calls(&mut con, "function|load"), 2);
    // Exactly once: the miss ran nothing.
    let runs: i64 = redis::cmd("GET").arg("c").query(&mut con).unwrap();
    assert_eq!(runs, 2);
}

#[tokio::test]
async fn function_flush_between_async_calls_heals() {
    let Some((server, _con)) = server() else {
        return;
    };
    let mut con = server.multiplexed().await;
    assert_eq!(f::count("c").invoke_async(&mut con).await.unwrap(), 1);
    redis::cmd("FUNCTION")
        .arg("FLUSH")
        .exec_async(&mut con)
        .await
        .unwrap();
    assert_eq!(f::count("c").invoke_async(&mut con).await.unwrap(), 2);
    let mut sync = server.connection();
    assert_eq!(command_calls(&mut sync, "function|load"), 2);
}

#[test]
fn a_restart_without_persistence_heals() {
    let Some((mut server, mut con)) = server() else {
        return;
    };
    assert_eq!(f::count("c").invoke(&mut con).unwrap(), 1);
    server.restart().unwrap();
    let mut con = server.connection();
    // The data and the library are gone; the call loads it again.
    assert_eq!(f::count("c").invoke(&mut con).unwrap(), 1);
    assert_eq!(command_calls(&mut con, "function|load"), 1);
}

#[test]
fn a_batch_loads_its_functions_once_inside_the_batch() {
    let Some((_server, mut con)) = server() else {
        return;
    };
    for atomic in [false, true] {
        redis::cmd("FUNCTION").arg("FLUSH").exec(&mut con).unwrap();
        redis::cmd("FLUSHDB").exec(&mut con).unwrap();
        redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .exec(&mut con)
            .unwrap();
        let mut p = redlua::pipe();
        if atomic {
            p.atomic();
        }
        let a = p.add(f::count("c"));
        let b = p.add(f::count("c"));
        // A script and a function of the same file are two loads.
        let c = p.add(s::count("c"));
        let results = p.query(&mut con).unwrap();
        assert_eq!(
            (
                results.get(a).unwrap(),
                results.get(b).unwrap(),
                results.get(c).unwrap()
            ),
            (1, 2, 3),
            "atomic: {atomic}"
        );
        assert_eq!(
            command_calls(&mut con, "function|load"),
            1,
            "atomic: {atomic}"
        );
        assert_eq!(
            command_calls(&mut con, "script|load"),
            1,
            "atomic: {atomic}"
        );
        assert_eq!(command_calls(&mut con, "fcall"), 2, "atomic: {atomic}");
        // The library is there now: loading it again in a batch is success.
        let mut p = redlua::pipe();
        if atomic {
            p.atomic();
        }
        let d = p.add(f::count("c"));
        assert_eq!(p.query(&mut con).unwrap().get(d).unwrap(), 4);
    }
}

#[test]
fn function_flush_inside_a_batch_fails_the_later_entry_without_running_it() {
    let Some((_server, mut con)) = server() else {
        return;
    };
    let mut p = redlua::pipe();
    let a = p.add(f::count("c"));
    p.cmd(redis::cmd("FUNCTION").arg("FLUSH"));
    let b = p.add(f::count("c"));
    let err = p.query(&mut con).unwrap_err();
    let redlua::Error::Batch(batch) = &err else {
        panic!("expected a batch error: {err:?}");
    };
    let results = batch.results().expect("the batch ran");
    assert_eq!(results.get(a).unwrap(), 1);
    let text = err.to_string();
    assert!(text.contains("emptied between"), "{text}");
    assert!(results.get(b).is_err());
    // Nothing ran twice: one run, by the first entry. The same batch again
    // loads and runs both.
    let runs: i64 = redis::cmd("GET").arg("c").query(&mut con).unwrap();
    assert_eq!(runs, 1);
    let mut p = redlua::pipe();
    let a = p.add(f::count("c"));
    let b = p.add(f::count("c"));
    let results = p.query(&mut con).unwrap();
    assert_eq!((results.get(a).unwrap(), results.get(b).unwrap()), (2, 3));
}

#[test]
fn load_and_load_all_load_functions_and_an_existing_library_is_success() {
    let Some((_server, mut con)) = server() else {
        return;
    };
    assert_eq!(
        redlua::load(&mut con, &[f::MULTIPLY, s::MULTIPLY]).unwrap(),
        2
    );
    // Again: the library exists, same name, same text.
    assert_eq!(redlua::load(&mut con, &[f::MULTIPLY]).unwrap(), 1);
    let all = redlua::load_all(&mut con).unwrap();
    assert_eq!(all, redlua::scripts().len());
    redis::cmd("SET").arg("n").arg(2).exec(&mut con).unwrap();
    assert_eq!(f::multiply("n", 4).invoke(&mut con).unwrap(), 8);
    // Every library was loaded ahead of the call: the call needed none.
    let before = command_calls(&mut con, "function|load");
    assert_eq!(f::multiply("n", 4).invoke(&mut con).unwrap(), 8);
    assert_eq!(command_calls(&mut con, "function|load"), before);
}

#[test]
fn prune_deletes_only_this_packages_libraries_that_are_not_compiled_in() {
    let Some((_server, mut con)) = server() else {
        return;
    };
    redlua::load(&mut con, &[v1::GREET, v2::GREET]).unwrap();
    let library = |name: &str, description: &str| {
        format!(
            "#!lua name={name}\nredis.register_function{{function_name='{name}', \
             description='{description}', callback=function(KEYS, ARGV) return 1 end}}\n"
        )
    };
    let old = "greet_0123456789abcdef";
    let kept = "greet_fedcba9876543210";
    for text in [
        // An older build of this package: pruned.
        library(old, "redlua redlua-root lua/functions/v0/greet.lua"),
        // Another one, spared by the caller.
        library(kept, "redlua redlua-root lua/functions/v0/greet.lua"),
        // Another program's (another package): not ours.
        library("greet_00000000000000ff", "redlua other-app lua/greet.lua"),
        // Made by hand.
        library("mylib", "mine"),
        library("mine_0123456789abcdef", "mine"),
    ] {
        redis::cmd("FUNCTION")
            .arg("LOAD")
            .arg(text)
            .exec(&mut con)
            .unwrap();
    }
    let deleted = redlua::prune_functions(&mut con, &[kept]).unwrap();
    assert_eq!(deleted, [old]);
    let mut left: Vec<String> = redis::cmd("FUNCTION")
        .arg("LIST")
        .query::<Vec<HashMap<String, redis::Value>>>(&mut con)
        .unwrap()
        .into_iter()
        .map(|l| redis::from_redis_value(l["library_name"].clone()).unwrap())
        .collect();
    left.sort();
    let mut expected = vec![
        "greet_00000000000000ff".to_owned(),
        kept.to_owned(),
        "mine_0123456789abcdef".to_owned(),
        "mylib".to_owned(),
        v1::GREET.function_name().unwrap().to_owned(),
        v2::GREET.function_name().unwrap().to_owned(),
    ];
    expected.sort();
    assert_eq!(left, expected);
    // Nothing more to prune; and the compiled-in versions still run.
    assert!(redlua::prune_functions(&mut con, &[kept])
        .unwrap()
        .is_empty());
    assert_eq!(v2::greet("log", "x").invoke(&mut con).unwrap(), "hi x!");
}

#[test]
fn a_functions_runtime_error_points_at_the_lua_line() {
    let Some((_server, mut con)) = server() else {
        return;
    };
    let err = f::raise("scratch", "wrongtype")
        .invoke(&mut con)
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("lua/lib/fail.lua:7"), "{text}");
    assert!(text.contains("lua/errors/raise.lua:3"), "{text}");
    assert_eq!(err.code(), Some("WRONGTYPE"));
}

/// A connection to a real server on which another client loads `library`
/// right after the first command's reply: the race of two callers that
/// both missed the function.
struct LoadedMeanwhile {
    con: redis::Connection,
    other: redis::Connection,
    library: Option<&'static str>,
}

impl redis::ConnectionLike for LoadedMeanwhile {
    fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<redis::Value> {
        let reply = self.con.req_packed_command(cmd);
        if let Some(library) = self.library.take() {
            redis::cmd("FUNCTION")
                .arg("LOAD")
                .arg(library)
                .exec(&mut self.other)
                .unwrap();
        }
        reply
    }
    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<redis::Value>> {
        self.con.req_packed_commands(cmd, offset, count)
    }
    fn get_db(&self) -> i64 {
        self.con.get_db()
    }
    fn check_connection(&mut self) -> bool {
        self.con.check_connection()
    }
    fn is_open(&self) -> bool {
        self.con.is_open()
    }
}

#[test]
fn a_library_another_caller_loaded_first_is_no_error_and_the_call_runs_once() {
    let Some((server, con)) = server() else {
        return;
    };
    let mut racing = LoadedMeanwhile {
        con,
        other: server.connection(),
        library: f::COUNT.library(),
    };
    // FCALL misses; the other client loads the library; this caller's
    // load (REPLACE, same text) and FCALL still succeed, and it runs once.
    assert_eq!(f::count("c").invoke(&mut racing).unwrap(), 1);
    let mut con = server.connection();
    assert_eq!(runs(&mut con, "c"), 1);
    assert_eq!(command_calls(&mut con, "function|load"), 2);
}

/// The libraries loaded on `node`.
fn libraries(node: &RedisServer) -> Vec<String> {
    redis::cmd("FUNCTION")
        .arg("LIST")
        .query::<Vec<HashMap<String, redis::Value>>>(&mut node.connection())
        .unwrap()
        .into_iter()
        .map(|l| redis::from_redis_value(l["library_name"].clone()).unwrap())
        .collect()
}

/// `FUNCTION FLUSH` on every primary of `cluster`.
fn flush_functions(cluster: &redlua::testing::RedisCluster) {
    for node in cluster.nodes() {
        redis::cmd("FUNCTION")
            .arg("FLUSH")
            .exec(&mut node.connection())
            .unwrap();
    }
}

#[test]
fn on_a_cluster_load_reaches_every_primary_and_a_miss_heals_on_the_keys_node() {
    let cluster = redlua::testing::RedisCluster::start(3).expect("start a 3-node redis cluster");
    if cluster.skip_unless(
        cluster.nodes()[0].server_version().has_functions(),
        "Redis Functions need Redis 7.0 or Valkey",
    ) {
        return;
    }
    let client = redis::cluster::ClusterClient::new(cluster.urls()).expect("cluster client");
    let mut con = client.get_connection().expect("cluster connection");
    // The sync cluster client sends FUNCTION LOAD to every primary.
    assert_eq!(redlua::load(&mut con, &[f::COUNT]).unwrap(), 1);
    let name = f::COUNT.function_name().unwrap();
    for node in cluster.nodes() {
        assert_eq!(libraries(node), [name], "{}", node.url());
    }
    // Loading again, where it is everywhere already, is success.
    assert_eq!(redlua::load(&mut con, &[f::COUNT]).unwrap(), 1);
    // Keys on several nodes; after FUNCTION FLUSH everywhere, each call
    // loads its function where its key lives and runs once.
    let keys: Vec<String> = (0..12).map(|i| format!("c{i}")).collect();
    for key in &keys {
        assert_eq!(f::count(key).invoke(&mut con).unwrap(), 1);
    }
    flush_functions(&cluster);
    for key in &keys {
        assert_eq!(f::count(key).invoke(&mut con).unwrap(), 2, "{key}");
    }
    let loaded = cluster
        .nodes()
        .iter()
        .filter(|n| libraries(n) == [name])
        .count();
    assert!(loaded >= 2, "the keys' nodes loaded the function: {loaded}");

    // The async cluster connection: load_cluster_async reaches every
    // primary (and sends replicas nothing: they replicate libraries), and
    // calls route by their key.
    flush_functions(&cluster);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut acon = client.get_async_connection().await.expect("async cluster");
        let report = redlua::load_cluster_async(&mut acon, &[f::COUNT], None)
            .await
            .unwrap();
        assert!(report.is_complete(), "{report}");
        for node in cluster.nodes() {
            assert_eq!(libraries(node), [name], "{}", node.url());
        }
        for key in &keys {
            assert_eq!(
                f::count(key).invoke_async(&mut acon).await.unwrap(),
                3,
                "{key}"
            );
        }
        // A miss on the async cluster connection loads on the key's node.
        flush_functions(&cluster);
        for key in &keys {
            assert_eq!(
                f::count(key).invoke_async(&mut acon).await.unwrap(),
                4,
                "{key}"
            );
        }
    });
}

/// Waits (up to 10 s) until `check` holds on `con`.
fn eventually(
    con: &mut redis::Connection,
    what: &str,
    check: impl Fn(&mut redis::Connection) -> bool,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !check(con) {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_replica_runs_read_only_functions_and_keeps_the_libraries_when_promoted() {
    let Some((primary, mut con)) = server() else {
        return;
    };
    let replica = RedisServer::start().expect("start the replica");
    let mut rcon = replica.connection();
    redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(primary.port())
        .exec(&mut rcon)
        .unwrap();
    redlua::load(&mut con, &[f::READ, f::COUNT]).unwrap();
    redis::cmd("SET").arg("r").arg("v").exec(&mut con).unwrap();
    let read = f::READ.function_name().unwrap();
    eventually(&mut rcon, "the libraries and data reach the replica", |c| {
        let libs: Vec<HashMap<String, redis::Value>> = redis::cmd("FUNCTION")
            .arg("LIST")
            .query(c)
            .unwrap_or_default();
        let value: Option<String> = redis::cmd("GET").arg("r").query(c).unwrap_or(None);
        libs.len() == 2 && value.is_some()
    });
    // `no-writes` runs with FCALL_RO, which a replica serves.
    assert_eq!(
        f::read("r").invoke(&mut rcon).unwrap().as_deref(),
        Some("v")
    );
    assert!(libraries(&replica).iter().any(|l| l == read));
    // Promoted, it has every library: the first write call loads nothing
    // (a script would need a SCRIPT LOAD here).
    redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .exec(&mut rcon)
        .unwrap();
    // (Counted from here: the library may have come as a replicated
    // FUNCTION LOAD or in the full sync's RDB.)
    let loads = command_calls(&mut rcon, "function|load");
    assert_eq!(f::count("c").invoke(&mut rcon).unwrap(), 1);
    assert_eq!(command_calls(&mut rcon, "function|load"), loads);
    assert_eq!(command_calls(&mut rcon, "fcall"), 1);
    assert_eq!(command_calls(&mut rcon, "fcall_ro"), 1);
}

#[test]
fn load_cluster_loads_functions_on_primaries_and_replicas_get_them_by_replication() {
    let cluster = redlua::testing::RedisCluster::start_with_replicas(3, 1)
        .expect("start a 3-primary cluster with a replica each");
    if cluster.skip_unless(
        cluster.server_version().has_functions(),
        "Redis Functions need Redis 7.0 or Valkey",
    ) {
        return;
    }
    let client = redis::cluster::ClusterClient::new(cluster.urls()).expect("cluster client");
    let mut con = client.get_connection().expect("cluster connection");
    // A script and a function: the replicas get the script's SCRIPT LOAD,
    // not FUNCTION LOAD (they would answer READONLY).
    let report = redlua::load_cluster(&mut con, &[f::COUNT, s::COUNT], None).unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.nodes().len(), 6, "{report}");
    let name = f::COUNT.function_name().unwrap();
    for node in cluster.nodes().iter().chain(cluster.replicas()) {
        let mut c = node.connection();
        eventually(&mut c, "the library on every node", |c| {
            let libs: Vec<HashMap<String, redis::Value>> = redis::cmd("FUNCTION")
                .arg("LIST")
                .query(c)
                .unwrap_or_default();
            libs.len() == 1
        });
        assert_eq!(libraries(node), [name], "{}", node.url());
    }
}

/// On a cluster connection, pruning reaches every primary: a stale library
/// of this package is deleted wherever it is (on every primary, or on one
/// only, which a `FUNCTION LIST` sent to one node would miss), and named
/// once.
#[tokio::test]
async fn prune_on_a_cluster_connection_reaches_every_primary() {
    let cluster = redlua::testing::RedisCluster::start(3).expect("start a 3-node redis cluster");
    if cluster.skip_unless(
        cluster.server_version().has_functions(),
        "Redis Functions need Redis 7.0 or Valkey",
    ) {
        return;
    }
    let stale = |name: &str, on: &[usize]| {
        let text = format!(
            "#!lua name={name}\nredis.register_function{{function_name='{name}', \
             description='redlua redlua-root lua/functions/v0/greet.lua', \
             callback=function(KEYS, ARGV) return 1 end}}\n"
        );
        for &i in on {
            redis::cmd("FUNCTION")
                .arg("LOAD")
                .arg(&text)
                .exec(&mut cluster.nodes()[i].connection())
                .unwrap();
        }
    };
    let left = |name: &str| -> usize {
        cluster
            .nodes()
            .iter()
            .filter(|node| {
                let listed: Vec<HashMap<String, redis::Value>> = redis::cmd("FUNCTION")
                    .arg("LIST")
                    .arg("LIBRARYNAME")
                    .arg(name)
                    .query(&mut node.connection())
                    .unwrap();
                !listed.is_empty()
            })
            .count()
    };
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let mut con = client.get_connection().unwrap();
    let mut acon = client.get_async_connection().await.unwrap();
    for (i, on) in [vec![0, 1, 2], vec![1], vec![2]].into_iter().enumerate() {
        let (sync_old, async_old) = (
            format!("greet_0a0a0a0a0a0a0a0{i}"),
            format!("greet_0b0b0b0b0b0b0b0{i}"),
        );
        stale(&sync_old, &on);
        assert_eq!(left(&sync_old), on.len());
        assert_eq!(
            redlua::prune_functions(&mut con, &[]).unwrap(),
            vec![sync_old.clone()]
        );
        assert_eq!(left(&sync_old), 0, "deleted from {on:?}");
        stale(&async_old, &on);
        assert_eq!(
            redlua::prune_functions_async(&mut acon, &[]).await.unwrap(),
            vec![async_old.clone()]
        );
        assert_eq!(left(&async_old), 0, "deleted from {on:?}");
    }
}
