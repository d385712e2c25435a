//! Pipelines, transactions and preloading against a real redis-server:
//! typed per-entry results, exactly-once execution after the script cache
//! was emptied (SCRIPT FLUSH, restart, failover to a replica), partial
//! execution reports, errors per entry, and the link-time script registry.

use std::time::{Duration, Instant};

use redis::Value;
use redlua::testing::{RedisServer, RoundTrips};
use redlua::{redis_script, BatchFailure, EntryStatus, Error};
use serde::Deserialize;

/// One INCR of `counter` per run: counts how often each call ran.
#[redis_script("pipeline/count.lua")]
fn count(counter: &str) -> i64;

#[redis_script("pipeline/fail_if.lua")]
fn fail_if(scratch: &str, fail: bool) -> String;

#[derive(Deserialize, Debug, PartialEq)]
struct Tally {
    count: i64,
    runs: i64,
}

#[redis_script("pipeline/tally.lua")]
fn tally(key: &str, n: i64) -> Tally;

#[redis_script("pipeline/exists.lua")]
fn exists(key: &str) -> bool;

/// Posts a status message; `None` when the user has no login.
// status:<id> is built from INCR's reply: the check warns it is not cluster-safe.
#[allow(deprecated)]
#[redis_script("create_status.lua")]
fn create_status(user: &str, ids: &str, fields: &[&str]) -> Option<i64>;

#[redis_script("multiply.lua")]
fn multiply(key: &str, multiplier: i64) -> i64;

/// Registered by hand through the hook generated code uses, so the
/// registry is tested even without the macro.
static BY_HAND: redlua::__private::Script = redlua::__private::Script::__new(
    "by_hand",
    "lua/by_hand.lua",
    "d5931a8292b118c118e7f84ef569a9a73b4011c5",
    "return 'registered by hand'",
    false,
    &["lua/by_hand.lua"],
    &[],
    &[],
);
redlua::__private::register!(BY_HAND);

/// Not registered: does not compile on the server.
static BROKEN: redlua::__private::Script = redlua::__private::Script::__new(
    "broken",
    "lua/broken.lua",
    "0000000000000000000000000000000000000000",
    "local x = \nreturn (",
    false,
    &["lua/broken.lua"],
    &[],
    &[],
);

fn server() -> (RedisServer, redis::Connection) {
    let server = RedisServer::start().expect("start redis-server");
    let con = server.connection();
    (server, con)
}

/// Skips, printing why, on a server that cannot compile `#!lua` scripts
/// (Redis 6.2): the test runs exists.lua (`#!lua flags=no-writes`), or
/// `load_all`, which loads it with every other registered script.
fn skip_without_script_flags(server: &RedisServer) -> bool {
    server.skip_unless(
        server.server_version().has_script_flags(),
        "runs exists.lua (#!lua flags=no-writes), which this server cannot compile",
    )
}

/// Skips, printing why, where `INFO commandstats` has no `script|load`
/// count (Redis 6.2 counts all SCRIPT subcommands together): the test
/// counts the loads a batch cost.
fn skip_without_subcommand_stats(server: &RedisServer) -> bool {
    server.skip_unless(
        server.server_version().has_subcommand_stats(),
        "counts SCRIPT LOADs, which INFO commandstats does not count apart on this server",
    )
}

/// `calls=` of `cmdstat_<name>` in INFO commandstats (0 when absent).
fn calls(con: &mut redis::Connection, name: &str) -> u64 {
    redlua::testing::command_calls(con, name)
}

fn stat(con: &mut redis::Connection, name: &str, field: &str) -> Option<f64> {
    let stats: String = redis::cmd("INFO").arg("commandstats").query(con).unwrap();
    let prefix = format!("cmdstat_{name}:");
    let line = stats.lines().find_map(|l| l.strip_prefix(&prefix))?;
    line.split(',').find_map(|kv| {
        kv.strip_prefix(field)
            .and_then(|r| r.strip_prefix('='))
            .and_then(|v| v.parse().ok())
    })
}

fn reset_stats(con: &mut redis::Connection) {
    redis::cmd("CONFIG").arg("RESETSTAT").exec(con).unwrap();
}

fn flush_scripts(con: &mut redis::Connection) {
    redis::cmd("SCRIPT").arg("FLUSH").exec(con).unwrap();
}

fn get_int(con: &mut redis::Connection, key: &str) -> Option<i64> {
    redis::cmd("GET").arg(key).query(con).unwrap()
}

fn script_exists(con: &mut redis::Connection, scripts: &[&redlua::Script]) -> Vec<bool> {
    let mut cmd = redis::cmd("SCRIPT");
    cmd.arg("EXISTS");
    for s in scripts {
        cmd.arg(s.sha1());
    }
    cmd.query(con).unwrap()
}

fn expect_batch(result: Result<redlua::Results, Error>) -> Box<redlua::BatchError> {
    match result {
        Err(Error::Batch(e)) => e,
        Err(other) => panic!("expected a batch error, got {other:?}"),
        Ok(r) => panic!("expected a batch error, got results {r:?}"),
    }
}

// ---------------------------------------------------------------------------
// Typed results

#[test]
fn a_mixed_pipeline_gives_typed_results_per_entry() {
    let (s, mut con) = server();
    if skip_without_script_flags(&s) {
        return;
    }
    let mut p = redlua::pipe();
    p.cmd(
        redis::cmd("HSET")
            .arg("user:1")
            .arg("login")
            .arg("dr_josiah"),
    );
    let posted = p.add(create_status("user:1", "status:id:", &["message", "hi"]));
    let no_login = p.add(create_status("user:2", "status:id:", &["message", "hi"]));
    p.cmd(redis::cmd("SET").arg("foo").arg(2));
    let product = p.add(multiply("foo", 5));
    let foo = p
        .cmd(redis::cmd("GET").arg("foo"))
        .returning::<Option<String>>();
    let missing = p
        .cmd(redis::cmd("GET").arg("missing"))
        .returning::<Option<String>>();
    let ping = p.cmd(&redis::cmd("PING"));
    let first = p.add(tally("tally", 5));
    let second = p.add(tally("tally", 2));
    let yes = p.add(exists("foo"));
    let no = p.add(exists("nothing here"));
    let hits = p.add_cmd({
        let mut c = redis::cmd("INCR");
        c.arg("hits");
        c
    });
    assert_eq!(p.len(), 13);
    assert_eq!(p.scripts().len(), 4, "{:?}", p);
    assert_eq!(product.index(), 4);
    assert_eq!(product.script().name(), "multiply");

    let mut counting = RoundTrips::new(&mut con);
    let mut results = p.query(&mut counting).unwrap();
    assert_eq!(counting.count(), 1, "one round trip");
    assert_eq!(results.len(), 13);
    assert!(results.errors().is_empty(), "{results:?}");

    // Each script entry decodes by its own %return.
    let id: Option<i64> = results.get(posted).unwrap();
    assert_eq!(id, Some(1));
    assert_eq!(results.get(no_login).unwrap(), None);
    assert_eq!(results.get(product).unwrap(), 10);
    assert_eq!(results.get(first).unwrap(), Tally { count: 5, runs: 1 });
    assert_eq!(results.get(second).unwrap(), Tally { count: 7, runs: 2 });
    // Lua true arrives as 1, false as null: both decode as bool.
    assert!(results.get(yes).unwrap());
    assert!(!results.get(no).unwrap());
    assert_eq!(results.raw(no.index()), Some(&Value::Nil));
    // Plain commands: FromRedisValue types, or the raw Value.
    assert_eq!(results.get(foo).unwrap().as_deref(), Some("2"));
    assert_eq!(results.get(missing).unwrap(), None);
    assert_eq!(
        results.get(ping).unwrap(),
        Value::SimpleString("PONG".into())
    );
    assert_eq!(results.get(hits).unwrap(), Value::Int(1));
    assert_eq!(results.get(hits.returning::<i64>()).unwrap(), 1);

    // get copies, take moves out once.
    assert_eq!(results.take(product).unwrap(), 10);
    let again = results.take(product).unwrap_err();
    assert!(again.to_string().contains("already taken"), "{again}");
    assert_eq!(again.script_name(), "multiply");
    assert!(results.get(product).is_err());
    assert_eq!(results.get(posted).unwrap(), Some(1));

    // A handle only reads its own pipeline's results.
    let mut other = redlua::pipe();
    let foreign = other.add(count("x"));
    let err = results.get(foreign).unwrap_err();
    assert!(err.to_string().contains("another pipeline"), "{err}");
    let foreign_cmd = other.cmd(&redis::cmd("PING"));
    assert!(results.get(foreign_cmd).is_err());

    // The data is there.
    let status: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg("status:1")
        .query(&mut con)
        .unwrap();
    assert_eq!(status["message"], "hi");
}

#[test]
fn entries_run_in_order_and_a_pipeline_can_be_sent_again() {
    let (_s, mut con) = server();
    let mut p = redlua::pipe();
    let a = p.add(count("n"));
    let b = p.cmd(redis::cmd("INCR").arg("n")).returning::<i64>();
    let c = p.add(count("n"));
    let results = p.query(&mut con).unwrap();
    assert_eq!(
        (
            results.get(a).unwrap(),
            results.get(b).unwrap(),
            results.get(c).unwrap()
        ),
        (1, 2, 3)
    );
    let results = p.query(&mut con).unwrap();
    assert_eq!(results.get(c).unwrap(), 6);
    assert_eq!(get_int(&mut con, "n"), Some(6));
}

#[test]
fn an_empty_pipeline_sends_nothing() {
    let (_s, mut con) = server();
    let mut counting = RoundTrips::new(&mut con);
    let results = redlua::pipe().query(&mut counting).unwrap();
    assert!(results.is_empty());
    let results = redlua::pipe().atomic().query(&mut counting).unwrap();
    assert!(results.is_empty());
    assert_eq!(counting.count(), 0);
}

#[test]
fn an_atomic_pipeline_is_one_multi_exec_with_the_loads_inside() {
    let (s, mut con) = server();
    if skip_without_subcommand_stats(&s) {
        return;
    }
    reset_stats(&mut con);
    let mut p = redlua::pipe();
    p.atomic();
    assert!(p.is_atomic());
    p.cmd(redis::cmd("SET").arg("foo").arg(3));
    let product = p.add(multiply("foo", 2));
    let n = p.add(count("n"));
    let m = p.add(count("n"));
    let t = p.add(tally("t", 4));
    let mut counting = RoundTrips::new(&mut con);
    let results = p.query(&mut counting).unwrap();
    assert_eq!(counting.count(), 1);
    assert_eq!(results.len(), 5);
    assert_eq!(results.get(product).unwrap(), 6);
    assert_eq!((results.get(n).unwrap(), results.get(m).unwrap()), (1, 2));
    assert_eq!(results.get(t).unwrap(), Tally { count: 4, runs: 1 });
    assert_eq!(calls(&mut con, "multi"), 1);
    assert_eq!(calls(&mut con, "exec"), 1);
    assert_eq!(calls(&mut con, "script|load"), 3, "one per distinct script");
    assert_eq!(calls(&mut con, "evalsha"), 4);
}

// ---------------------------------------------------------------------------
// Exactly once after the cache was emptied

/// 8 entries: 5 script calls of 2 scripts, 3 commands. Returns the
/// handles' values in order.
fn counting_batch(atomic: bool) -> (redlua::Pipeline, impl Fn(&redlua::Results) -> Vec<i64>) {
    let mut p = redlua::pipe();
    if atomic {
        p.atomic();
    }
    let h = [
        p.add(count("c:a")),
        p.add(count("c:a")),
        p.add(count("c:b")),
        p.add(count("c:a")),
    ];
    let x1 = p.cmd(redis::cmd("INCR").arg("c:x")).returning::<i64>();
    let t = p.add(tally("c:t", 10));
    let x2 = p.cmd(redis::cmd("INCR").arg("c:x")).returning::<i64>();
    p.cmd(redis::cmd("RPUSH").arg("c:log").arg("batch"));
    let read = move |r: &redlua::Results| {
        let mut v: Vec<i64> = h.iter().map(|h| r.get(*h).unwrap()).collect();
        v.push(r.get(x1).unwrap());
        v.push(r.get(t).unwrap().runs);
        v.push(r.get(x2).unwrap());
        v
    };
    (p, read)
}

fn assert_ran_once(con: &mut redis::Connection, atomic: bool, values: Vec<i64>) {
    assert_eq!(values, vec![1, 2, 1, 3, 1, 1, 2]);
    assert_eq!(get_int(con, "c:a"), Some(3));
    assert_eq!(get_int(con, "c:b"), Some(1));
    assert_eq!(get_int(con, "c:x"), Some(2));
    let log: i64 = redis::cmd("LLEN").arg("c:log").query(con).unwrap();
    assert_eq!(log, 1);
    assert_eq!(
        calls(con, "evalsha"),
        5,
        "each call sent once, never replayed"
    );
    assert_eq!(calls(con, "script|load"), 2, "one load per distinct script");
    // 2 INCR commands, and the INCR inside each of the 4 `count` runs.
    assert_eq!(calls(con, "incr"), 2 + 4);
    assert_eq!(calls(con, "rpush"), 1);
    assert_eq!(calls(con, "eval"), 0);
    assert_eq!(calls(con, "exec"), u64::from(atomic));
}

#[test]
fn after_script_flush_every_entry_runs_exactly_once() {
    for atomic in [false, true] {
        let (s, mut con) = server();
        if skip_without_script_flags(&s) {
            return;
        }
        redlua::load_all(&mut con).unwrap();
        flush_scripts(&mut con);
        reset_stats(&mut con);
        let (p, read) = counting_batch(atomic);
        let mut counting = RoundTrips::new(&mut con);
        let results = p.query(&mut counting).unwrap();
        assert_eq!(counting.count(), 1);
        assert_ran_once(&mut con, atomic, read(&results));
        assert_eq!(
            script_exists(&mut con, &[count("").script(), tally("", 0).script()]),
            vec![true, true]
        );
    }
}

#[test]
fn after_a_restart_every_entry_runs_exactly_once() {
    for atomic in [false, true] {
        let mut server = RedisServer::start().expect("start redis-server");
        if skip_without_subcommand_stats(&server) {
            return;
        }
        let mut con = server.connection();
        let (p, read) = counting_batch(atomic);
        p.query(&mut con).unwrap();
        server.restart().expect("restart redis-server");
        let mut con = server.connection();
        assert_eq!(
            script_exists(&mut con, &[count("").script()]),
            vec![false],
            "a restart empties the script cache"
        );
        let results = p.query(&mut con).unwrap();
        assert_ran_once(&mut con, atomic, read(&results));
    }
}

#[test]
fn after_a_failover_every_entry_runs_exactly_once() {
    for atomic in [false, true] {
        // No 5 s wait before the first full sync.
        let primary = RedisServer::builder()
            .args(["--repl-diskless-sync-delay", "0"])
            .start()
            .expect("start the primary");
        if skip_without_script_flags(&primary) {
            return;
        }
        let replica = RedisServer::builder()
            .args(["--replicaof", "127.0.0.1"])
            .arg(primary.port().to_string())
            .start()
            .expect("start the replica");
        redlua::load_all(&mut primary.connection()).unwrap();
        let mut con = replica.connection();
        wait_for_sync(&mut con);
        assert_eq!(
            script_exists(&mut con, &[COUNT, TALLY]),
            vec![false, false],
            "Redis 7 does not replicate the script cache"
        );
        // The promoted replica is the new primary: a client that followed
        // the failover sends the batch there.
        redis::cmd("REPLICAOF")
            .arg("NO")
            .arg("ONE")
            .exec(&mut con)
            .unwrap();
        reset_stats(&mut con);
        let (p, read) = counting_batch(atomic);
        let results = p.query(&mut con).unwrap();
        assert_ran_once(&mut con, atomic, read(&results));
        assert_eq!(script_exists(&mut con, &[COUNT, TALLY]), vec![true, true]);
    }
}

fn wait_for_sync(replica: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query(replica)
            .unwrap();
        if info.contains("master_link_status:up") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never synced:\n{info}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------
// NOSCRIPT that still happens: partial execution, reported, never retried

/// count a, count b, SCRIPT FLUSH, count c, INCR x, tally t.
fn flush_mid_batch(atomic: bool) -> redlua::Pipeline {
    let mut p = redlua::pipe();
    if atomic {
        p.atomic();
    }
    p.add(count("c:a"));
    p.add(count("c:b"));
    p.cmd(redis::cmd("SCRIPT").arg("FLUSH"));
    p.add(count("c:c"));
    p.cmd(redis::cmd("INCR").arg("c:x"));
    p.add(tally("c:t", 1));
    p
}

#[test]
fn a_script_flush_inside_the_batch_gives_a_partial_execution_error() {
    for atomic in [false, true] {
        let (s, mut con) = server();
        if skip_without_subcommand_stats(&s) {
            return;
        }
        reset_stats(&mut con);
        let mut p = redlua::pipe();
        if atomic {
            p.atomic();
        }
        let a = p.add(count("c:a"));
        let b = p.add(count("c:b"));
        let flush = p.cmd(redis::cmd("SCRIPT").arg("FLUSH"));
        let c = p.add(count("c:c"));
        let x = p.cmd(redis::cmd("INCR").arg("c:x")).returning::<i64>();
        let t = p.add(tally("c:t", 1));

        let err = p.query(&mut con).unwrap_err();
        assert_eq!(err.code(), Some("NOSCRIPT"));
        assert_eq!(
            err.script_name(),
            "count",
            "the first entry that did not run"
        );
        let text = err.to_string();
        let Error::Batch(e) = err else { unreachable!() };
        assert_eq!(e.kind(), BatchFailure::NoScript);
        assert_eq!(e.is_atomic(), atomic);
        assert_eq!(e.ran(), vec![0, 1, 2, 4], "{e}");
        assert_eq!(e.not_run(), vec![3, 5], "{e}");
        assert!(e.unknown().is_empty());
        let entries = e.entries();
        assert_eq!(entries.len(), 6);
        assert_eq!(entries[2].name(), "SCRIPT FLUSH");
        assert!(entries[2].script().is_none());
        assert_eq!(entries[3].name(), "count");
        assert_eq!(entries[3].status(), EntryStatus::NotRun);
        assert!(
            entries[3].reason().unwrap().contains("emptied between"),
            "{:?}",
            entries[3].reason()
        );
        assert_eq!(entries[5].script().unwrap().name(), "tally");
        assert_eq!(entries[0].status(), EntryStatus::Ran);
        assert!(entries[0].reason().is_none());

        let what = if atomic { "transaction" } else { "pipeline" };
        assert!(
            text.starts_with(&format!(
                "{what} partially executed: 2 of 6 entries did not run (NOSCRIPT), \
                 the others ran; nothing was retried"
            )),
            "{text}"
        );
        assert!(text.contains("ran:     #0-#2, #4"), "{text}");
        assert!(text.contains("#3 script `count`: NOSCRIPT"), "{text}");
        assert!(text.contains("#5 script `tally`: NOSCRIPT"), "{text}");

        // The entries that ran have their results; the others their error.
        let results = e.results().expect("results of the entries that ran");
        assert_eq!(results.get(a).unwrap(), 1);
        assert_eq!(results.get(b).unwrap(), 1);
        assert_eq!(results.get(flush).unwrap(), Value::Okay);
        assert_eq!(results.get(x).unwrap(), 1);
        let c_err = results.get(c).unwrap_err();
        assert_eq!(c_err.code(), Some("NOSCRIPT"), "{c_err}");
        assert_eq!(c_err.script_name(), "count");
        assert!(results.get(t).unwrap_err().is_redis_error());

        // Exactly what the report says ran, ran once; nothing was retried.
        assert_eq!(get_int(&mut con, "c:a"), Some(1));
        assert_eq!(get_int(&mut con, "c:b"), Some(1));
        assert_eq!(get_int(&mut con, "c:c"), None);
        assert_eq!(get_int(&mut con, "c:x"), Some(1));
        assert_eq!(get_int(&mut con, "c:t"), None);
        assert_eq!(calls(&mut con, "evalsha"), 4);
        assert_eq!(calls(&mut con, "script|load"), 2);

        // Converted for `?` into a RedisError, it is not a NOSCRIPT kind a
        // client would reload-and-replay on.
        let r = redis::RedisError::from(Error::Batch(e.clone()));
        assert_eq!(r.code(), Some("NOSCRIPT"));
        assert_eq!(r.kind(), redis::ErrorKind::Extension);
        assert!(matches!(r.retry_method(), redis::RetryMethod::NoRetry));

        // Sent again (by the caller's choice), the batch reloads its scripts.
        let again = flush_mid_batch(atomic).query(&mut con);
        assert!(matches!(&again, Err(Error::Batch(_))), "{again:?}");
        let into = e.into_results().unwrap();
        assert_eq!(into.len(), 6);
    }
}

#[test]
fn assume_loaded_skips_the_loads_and_reports_missing_scripts() {
    let (_s, mut con) = server();
    let mut p = redlua::pipe();
    p.assume_loaded();
    assert!(p.assumes_loaded());
    let a = p.add(count("c:a"));
    let x = p.cmd(redis::cmd("INCR").arg("c:x")).returning::<i64>();
    let t = p.add(tally("c:t", 2));

    // Nothing preloaded: the script entries do not run, the command does.
    reset_stats(&mut con);
    let e = expect_batch(p.query(&mut con));
    assert_eq!(e.kind(), BatchFailure::NoScript);
    assert_eq!(e.ran(), vec![1]);
    assert_eq!(e.not_run(), vec![0, 2]);
    assert!(
        e.entries()[0].reason().unwrap().contains("assume_loaded"),
        "{e}"
    );
    assert_eq!(e.results().unwrap().get(x).unwrap(), 1);
    assert_eq!(calls(&mut con, "script|load"), 0);
    assert_eq!(get_int(&mut con, "c:a"), None);

    // Preloaded: the batch is just the calls.
    redlua::load(&mut con, &[count("").script(), tally("", 0).script()]).unwrap();
    reset_stats(&mut con);
    let results = p.query(&mut con).unwrap();
    assert_eq!(results.get(a).unwrap(), 1);
    assert_eq!(results.get(x).unwrap(), 2);
    assert_eq!(results.get(t).unwrap(), Tally { count: 2, runs: 1 });
    assert_eq!(calls(&mut con, "script|load"), 0);
    assert_eq!(calls(&mut con, "evalsha"), 2);
}

// ---------------------------------------------------------------------------
// Errors per entry

#[test]
fn a_script_error_in_one_entry_names_its_script_and_line_and_spares_the_others() {
    for atomic in [false, true] {
        let (_s, mut con) = server();
        let mut p = redlua::pipe();
        if atomic {
            p.atomic();
        }
        let a = p.add(count("c:a"));
        let failing = p.add(fail_if("scratch", true));
        let fine = p.add(fail_if("scratch", false));
        let x = p.cmd(redis::cmd("INCR").arg("c:x")).returning::<i64>();
        let wrongtype = p.cmd(redis::cmd("HGET").arg("c:a").arg("field"));
        let product = p.add(multiply("c:a", 7));

        let results = p.query(&mut con).unwrap();
        assert_eq!(results.errors(), vec![1, 4]);
        let err = results.get(failing).unwrap_err();
        let Error::Script(e) = &err else {
            panic!("expected a script error, got {err:?}");
        };
        assert_eq!(e.script_name(), "fail_if");
        assert_eq!(e.path(), "lua/pipeline/fail_if.lua");
        assert!(e.message().contains("entry failed on purpose"), "{e}");
        assert_eq!(e.location(), &[("lua/pipeline/fail_if.lua", 9)][..]);
        let text = err.to_string();
        assert!(text.contains("lua/pipeline/fail_if.lua:9"), "{text}");
        assert!(text.contains("error('entry failed on purpose')"), "{text}");

        // The other entries' results are all there.
        assert_eq!(results.get(a).unwrap(), 1);
        assert_eq!(results.get(fine).unwrap(), "ok");
        assert_eq!(results.get(x).unwrap(), 1);
        assert_eq!(results.get(product).unwrap(), 7);
        let wt = results.get(wrongtype).unwrap_err();
        assert_eq!(wt.code(), Some("WRONGTYPE"));
        // Both fail_if calls wrote before deciding (no rollback).
        assert_eq!(get_int(&mut con, "scratch"), Some(2));
    }
}

#[test]
fn a_script_that_does_not_compile_is_reported_with_its_line() {
    for atomic in [false, true] {
        let (_s, mut con) = server();
        let broken: redlua::Call<Value> =
            redlua::__private::Builder::new(&BROKEN, 0, 0).finish(redlua::__private::decode::raw);
        let mut p = redlua::pipe();
        if atomic {
            p.atomic();
        }
        let a = p.add(count("c:a"));
        let b = p.add(broken);
        let e = expect_batch(p.query(&mut con));
        assert_eq!(e.kind(), BatchFailure::NoScript);
        assert_eq!((e.ran(), e.not_run()), (vec![0], vec![1]));
        let why = e.entries()[1].reason().unwrap();
        assert!(
            why.starts_with("its SCRIPT LOAD failed: ERR Error compiling script"),
            "{why}"
        );
        let results = e.results().unwrap();
        assert_eq!(results.get(a).unwrap(), 1);
        let err = results.get(b).unwrap_err();
        let Error::Script(se) = &err else {
            panic!("expected a compile error, got {err:?}");
        };
        assert!(se.is_compile_error());
        assert_eq!(se.script_name(), "broken");
        assert_eq!(se.line(), Some(2));
    }
}

#[test]
fn a_command_refused_when_queued_discards_the_transaction() {
    let (_s, mut con) = server();
    let mut p = redlua::pipe();
    p.atomic();
    p.add(count("c:a"));
    p.cmd(redis::cmd("SET").arg("only-a-key"));
    p.add(count("c:b"));
    let e = expect_batch(p.query(&mut con));
    assert_eq!(e.kind(), BatchFailure::Discarded);
    assert_eq!(e.not_run(), vec![0, 1, 2]);
    assert!(e.ran().is_empty());
    assert!(e.results().is_none());
    assert_eq!(e.entries()[1].name(), "SET");
    let why = e.entries()[1].reason().unwrap();
    assert!(why.contains("wrong number of arguments"), "{why}");
    assert!(e.entries()[0].reason().is_none());
    let text = e.to_string();
    assert!(
        text.starts_with(
            "transaction discarded (EXECABORT): none of its 3 entries ran; \
             Redis refused 1 command when queued:\n    #1 SET: refused when queued: ERR wrong number"
        ),
        "{text}"
    );
    assert_eq!(e.redis_error().and_then(|r| r.code()), Some("EXECABORT"));
    assert_eq!(get_int(&mut con, "c:a"), None);
    let err = Error::Batch(e);
    assert_eq!(err.code(), Some("EXECABORT"));
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn a_changed_watched_key_aborts_the_transaction() {
    let (server, mut con) = server();
    redis::cmd("WATCH").arg("w").exec(&mut con).unwrap();
    let mut other = server.connection();
    redis::cmd("SET").arg("w").arg(1).exec(&mut other).unwrap();
    let mut p = redlua::pipe();
    p.atomic();
    p.add(count("c:a"));
    p.cmd(redis::cmd("INCR").arg("c:x"));
    let e = expect_batch(p.query(&mut con));
    assert_eq!(e.kind(), BatchFailure::WatchAborted);
    assert_eq!(e.not_run(), vec![0, 1]);
    assert!(e.to_string().contains("a WATCHed key changed"), "{e}");
    assert_eq!(get_int(&mut con, "c:a"), None);
    assert_eq!(get_int(&mut con, "c:x"), None);
    // The connection is usable again.
    assert_eq!(p.query(&mut con).unwrap().len(), 2);
}

#[test]
fn a_user_who_may_not_load_scripts() {
    let (server, mut admin) = server();
    if server.skip_unless(
        server.server_version().has_subcommand_stats(),
        "no ACL rules for subcommands (-script|load) on this server",
    ) {
        return;
    }
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("app")
        .arg("on")
        .arg(">secret")
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .arg("-script|load")
        .exec(&mut admin)
        .unwrap();
    let url = format!("redis://app:secret@127.0.0.1:{}/", server.port());
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();

    // Atomic: the refused SCRIPT LOAD discards the transaction.
    let mut p = redlua::pipe();
    p.atomic();
    p.add(count("c:a"));
    let e = expect_batch(p.query(&mut con));
    assert_eq!(e.kind(), BatchFailure::Discarded);
    let loads: Vec<_> = e.load_failures().collect();
    assert_eq!(loads.len(), 1);
    assert_eq!(loads[0].0.name(), "count");
    assert!(loads[0].1.starts_with("NOPERM"), "{}", loads[0].1);
    let text = e.to_string();
    assert!(text.contains("SCRIPT LOAD of `count`: NOPERM"), "{text}");
    assert!(text.contains("assume_loaded()"), "{text}");

    // Plain pipeline: the call reports the load's own error.
    let mut p = redlua::pipe();
    let a = p.add(count("c:a"));
    let e = expect_batch(p.query(&mut con));
    assert!(
        e.to_string().starts_with(
            "pipeline not executed: its only entry did not run (NOSCRIPT); nothing was retried"
        ),
        "{e}"
    );
    assert!(
        e.entries()[0]
            .reason()
            .unwrap()
            .starts_with("its SCRIPT LOAD failed: NOPERM"),
        "{e}"
    );
    let err = e.results().unwrap().get(a).unwrap_err();
    assert_eq!(err.code(), Some("NOPERM"), "{err}");

    // Preloaded by an admin, assume_loaded works for this user.
    redlua::load(&mut admin, &[count("").script()]).unwrap();
    p.assume_loaded();
    assert_eq!(p.query(&mut con).unwrap().get(a).unwrap(), 1);
}

#[test]
fn a_connection_failure_says_nothing_is_known() {
    let server = RedisServer::start().expect("start redis-server");
    let mut con = server.connection();
    drop(server);
    let mut p = redlua::pipe();
    p.add(count("c:a"));
    let e = expect_batch(p.query(&mut con));
    assert_eq!(e.kind(), BatchFailure::Connection);
    assert_eq!(e.unknown(), vec![0]);
    assert!(e.redis_error().is_some());
    assert!(
        e.to_string().contains("whether any entry ran is unknown"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------
// Preloading and the registry

#[test]
fn load_makes_several_scripts_resident_in_one_round_trip() {
    let (s, mut con) = server();
    if skip_without_script_flags(&s) {
        return;
    }
    // The statics #[redis_script] emits, and a call's script: the same one.
    let scripts = [COUNT, TALLY, EXISTS, count("other").script()];
    reset_stats(&mut con);
    let mut counting = RoundTrips::new(&mut con);
    assert_eq!(redlua::load(&mut counting, &scripts).unwrap(), 3);
    assert_eq!(counting.count(), 1);
    assert_eq!(calls(&mut con, "script|load"), 3);
    assert_eq!(script_exists(&mut con, &scripts), vec![true; 4]);
    assert_eq!(redlua::load(&mut con, &[]).unwrap(), 0);

    // A script that does not compile: its error, mapped; the others load.
    flush_scripts(&mut con);
    let err = redlua::load(&mut con, &[count("").script(), &BROKEN]).unwrap_err();
    let Error::Script(e) = &err else {
        panic!("expected a compile error, got {err:?}");
    };
    assert!(e.is_compile_error());
    assert_eq!(e.script_name(), "broken");
    assert_eq!(script_exists(&mut con, &[count("").script()]), vec![true]);
}

#[test]
fn the_script_const_is_the_script_calls_run() {
    // The same script, not the same address: a call's copy lives in the
    // function (so the function can be an associated one), the const's
    // beside it.
    for (handle, called) in [
        (COUNT, count("k").script()),
        (CREATE_STATUS, create_status("", "", &[]).script()),
        (MULTIPLY, multiply("k", 2).script()),
    ] {
        assert_eq!(handle.name(), called.name());
        assert_eq!(handle.path(), called.path());
        assert_eq!(handle.sha1(), called.sha1());
        assert_eq!(handle.source(), called.source());
        assert_eq!(handle.is_read_only(), called.is_read_only());
    }
    assert_eq!(MULTIPLY.name(), "multiply");
    assert_eq!(MULTIPLY.path(), "lua/multiply.lua");
    assert!(EXISTS.is_read_only());
    assert!(
        redlua::scripts().any(|s| std::ptr::eq(s, TALLY)),
        "registered"
    );
}

#[test]
fn the_registry_lists_every_script_of_the_binary() {
    let names: Vec<&str> = redlua::scripts().map(|s| s.name()).collect();
    assert!(names.contains(&"by_hand"), "{names:?}");
    assert!(!names.contains(&"broken"), "{names:?}");
    for name in [
        "count",
        "fail_if",
        "tally",
        "exists",
        "create_status",
        "multiply",
    ] {
        assert!(
            names.contains(&name),
            "`{name}` is not registered: the code #[redis_script] generates must call \
             ::redlua::__private::register!(..) (registered: {names:?})"
        );
    }

    let (s, mut con) = server();
    if skip_without_script_flags(&s) {
        return;
    }
    reset_stats(&mut con);
    let mut counting = RoundTrips::new(&mut con);
    let n = redlua::load_all(&mut counting).unwrap();
    assert_eq!(counting.count(), 1);
    let mut shas: Vec<&str> = redlua::scripts().map(|s| s.sha1()).collect();
    shas.sort_unstable();
    shas.dedup();
    assert_eq!(n, shas.len());
    assert_eq!(calls(&mut con, "script|load"), n as u64);
    let all: Vec<&redlua::Script> = redlua::scripts().collect();
    assert!(script_exists(&mut con, &all).iter().all(|&b| b));
    let by_hand: String = redis::cmd("EVALSHA")
        .arg(BY_HAND.sha1())
        .arg(0)
        .query(&mut con)
        .unwrap();
    assert_eq!(by_hand, "registered by hand");
}

// ---------------------------------------------------------------------------
// Async

#[tokio::test]
async fn async_pipelines_and_loads_on_a_multiplexed_connection() {
    let server = RedisServer::start().expect("start redis-server");
    if skip_without_script_flags(&server) {
        return;
    }
    let mut admin = server.connection();
    let mut con = server.multiplexed().await;

    // Flushed cache, plain and atomic: every entry once.
    for atomic in [false, true] {
        redis::cmd("FLUSHALL").exec(&mut admin).unwrap();
        flush_scripts(&mut admin);
        reset_stats(&mut admin);
        let (p, read) = counting_batch(atomic);
        let results = p.query_async(&mut con).await.unwrap();
        assert_ran_once(&mut admin, atomic, read(&results));
    }

    // Partial execution is reported the same way.
    for atomic in [false, true] {
        let e = match flush_mid_batch(atomic).query_async(&mut con).await {
            Err(Error::Batch(e)) => e,
            other => panic!("expected a batch error, got {other:?}"),
        };
        assert_eq!(e.kind(), BatchFailure::NoScript);
        assert_eq!(e.ran(), vec![0, 1, 2, 4]);
        assert_eq!(e.not_run(), vec![3, 5]);
    }

    // A script error names its entry's script.
    let mut p = redlua::pipe();
    let ok = p.add(count("n"));
    let failing = p.add(fail_if("s", true));
    let results = p.query_async(&mut con).await.unwrap();
    assert!(results.get(ok).is_ok());
    assert_eq!(results.get(failing).unwrap_err().script_name(), "fail_if");

    // Preloading.
    flush_scripts(&mut admin);
    reset_stats(&mut admin);
    let n = redlua::load_async(&mut con, &[count("").script(), exists("").script()])
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(calls(&mut admin, "script|load"), 2);
    flush_scripts(&mut admin);
    let n = redlua::load_all_async(&mut con).await.unwrap();
    assert!(
        n >= 7,
        "load_all_async loaded {n} scripts: the code #[redis_script] generates must call \
         ::redlua::__private::register!(..)"
    );
    let all: Vec<&redlua::Script> = redlua::scripts().collect();
    assert!(script_exists(&mut admin, &all).iter().all(|&b| b));

    // assume_loaded after load_all: just the calls.
    let mut p = redlua::pipe();
    p.assume_loaded().atomic();
    let t = p.add(tally("t", 3));
    let y = p.add(exists("t"));
    let results = p.query_async(&mut con).await.unwrap();
    assert_eq!(results.get(t).unwrap(), Tally { count: 3, runs: 1 });
    assert!(results.get(y).unwrap());

    // ConnectionManager.
    let mut manager = redis::aio::ConnectionManager::new(server.client())
        .await
        .unwrap();
    flush_scripts(&mut admin);
    let mut p = redlua::pipe();
    let a = p.add(count("m"));
    let results = p.query_async(&mut manager).await.unwrap();
    assert_eq!(results.get(a).unwrap(), 1);
}

// ---------------------------------------------------------------------------
// Cost of the in-batch SCRIPT LOADs (printed, not asserted)

/// Median and 10th percentile of per-batch latencies.
fn summarize(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.1))
}

#[test]
fn measure_the_cost_of_in_batch_loads() {
    const N: u32 = 2000;
    let (s, mut con) = server();
    if skip_without_script_flags(&s) {
        return;
    }
    redlua::load_all(&mut con).unwrap();

    let mut plain = redis::pipe();
    for i in 0..16 {
        plain.cmd("INCR").arg(format!("k{i}"));
    }
    let one_script = |loads: bool, atomic: bool| {
        let mut p = redlua::pipe();
        if !loads {
            p.assume_loaded();
        }
        if atomic {
            p.atomic();
        }
        for i in 0..16 {
            p.add(count(&format!("k{i}")));
        }
        p
    };
    let four_scripts = |loads: bool| {
        let mut p = redlua::pipe();
        if !loads {
            p.assume_loaded();
        }
        for i in 0..4 {
            p.add(count(&format!("k{i}")));
            p.add(tally(&format!("t{i}"), 1));
            p.add(exists(&format!("k{i}")));
            p.add(create_status("user:1", "ids", &["message", "hi"]));
        }
        p
    };
    let variants = [
        ("16 calls, 1 script, in-batch load", one_script(true, false)),
        (
            "16 calls, 1 script, assume_loaded",
            one_script(false, false),
        ),
        (
            "16 calls, 1 script, atomic, in-batch load",
            one_script(true, true),
        ),
        (
            "16 calls, 1 script, atomic, assume_loaded",
            one_script(false, true),
        ),
        ("16 calls, 4 scripts, in-batch loads", four_scripts(true)),
        ("16 calls, 4 scripts, assume_loaded", four_scripts(false)),
    ];
    // Round robin, so load on the machine hits every variant alike.
    let mut plain_samples = Vec::with_capacity(N as usize);
    let mut samples = vec![Vec::with_capacity(N as usize); variants.len()];
    for round in 0..N + N / 10 {
        let start = Instant::now();
        plain.exec(&mut con).unwrap();
        if round >= N / 10 {
            plain_samples.push(start.elapsed());
        }
        for (k, (_, p)) in variants.iter().enumerate() {
            let start = Instant::now();
            drop(p.query(&mut con).unwrap());
            if round >= N / 10 {
                samples[k].push(start.elapsed());
            }
        }
    }
    println!("\nper batch, median (p10) of {N}, loopback, this build's profile:");
    let (median, p10) = summarize(plain_samples);
    println!(
        "  {:<45} {median:>7.1} us ({p10:.1})",
        "plain redis::pipe(), 16 INCR"
    );
    for ((name, p), samples) in variants.iter().zip(samples) {
        let (median, p10) = summarize(samples);
        let bytes: usize = if p.assumes_loaded() {
            0
        } else {
            p.scripts().iter().map(|s| s.source().len()).sum()
        };
        println!("  {name:<45} {median:>7.1} us ({p10:.1})   script text sent: {bytes} B");
    }
    let load_usec = stat(&mut con, "script|load", "usec_per_call").unwrap_or(0.0);
    let evalsha_usec = stat(&mut con, "evalsha", "usec_per_call").unwrap_or(0.0);
    println!(
        "  server time: SCRIPT LOAD of a resident script {load_usec:.2} us/call, \
         EVALSHA {evalsha_usec:.2} us/call"
    );
}
