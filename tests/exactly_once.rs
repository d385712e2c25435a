//! A script runs exactly once: its own error codes are never taken for the
//! server's (no reload and rerun after a script's own `NOSCRIPT`, no
//! `Error::Redis` for a script's `TRYAGAIN`, ...), and a call sent while the
//! server loads its dataset waits and then runs once. Against a real
//! redis-server; every test counts runs on the server.

use std::time::{Duration, Instant};

use redlua::testing::RedisServer;
use redlua::{redis_script, Error};

mod common;
use common::{is_loading, loading_server, runs};

/// Counts its run, then fails with the code it is given.
#[redis_script("outcome/count_then_fail.lua")]
fn count_then_fail(counter: &str, code: &str, mode: &str) -> i64;

#[redis_script("pipeline/count.lua")]
fn count(counter: &str) -> i64;

/// Makes the script resident, so a wrongly taken "cache miss" shows as a
/// second run (on a cold cache the first EVALSHA's real NOSCRIPT hides it).
fn preload(con: &mut redis::Connection) {
    redlua::load(con, &[COUNT_THEN_FAIL]).expect("SCRIPT LOAD");
}

/// The error a run of `count_then_fail` in `mode` must give: the script's,
/// with the code it chose.
fn assert_scripts_own(e: &Error, code: &str, mode: &str) {
    match mode {
        "raise" => assert!(e.is_script_error(), "{mode} {code}: {e:?}"),
        _ => assert!(e.is_reply_error(), "{mode} {code}: {e:?}"),
    }
    // Redis 6.2 cannot raise a table: its error handler fails on it
    // ("attempt to concatenate local 'err' (a table value)", recorded in
    // runtime/tests/fixtures/replies/redis-6.2.5.txt), a script error with
    // code ERR. It still ran once, which is what the callers count.
    if mode == "raise" && e.to_string().contains("err_handler_def") {
        assert_eq!(e.code(), Some("ERR"), "{e}");
        return;
    }
    assert_eq!(e.code(), Some(code), "{mode}: {e}");
    assert!(e.to_string().contains("raised by the script itself"), "{e}");
}

const MODES: [&str; 3] = ["reply", "table", "raise"];

/// The codes clients take for server conditions.
const SERVER_CODES: [&str; 12] = [
    "NOSCRIPT",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "LOADING",
    "MASTERDOWN",
    "READONLY",
    "MOVED",
    "ASK",
    "BUSY",
    "OOM",
    "NOPERM",
    "CROSSSLOT",
];

#[test]
fn a_scripts_own_noscript_runs_once_sync() {
    let server = RedisServer::start().expect("start redis-server");
    let mut con = server.connection();
    preload(&mut con);
    for mode in MODES {
        let counter = format!("runs:{mode}");
        let e = count_then_fail(&counter, "NOSCRIPT", mode)
            .invoke(&mut con)
            .unwrap_err();
        assert_scripts_own(&e, "NOSCRIPT", mode);
        assert_eq!(runs(&mut con, &counter), 1, "{mode}: ran more than once");
    }
}

#[tokio::test]
async fn a_scripts_own_noscript_runs_once_async() {
    let server = RedisServer::start().expect("start redis-server");
    let mut sync = server.connection();
    preload(&mut sync);
    let mut con = server.multiplexed().await;
    for mode in MODES {
        let counter = format!("runs:{mode}");
        let e = count_then_fail(&counter, "NOSCRIPT", mode)
            .invoke_async(&mut con)
            .await
            .unwrap_err();
        assert_scripts_own(&e, "NOSCRIPT", mode);
        assert_eq!(runs(&mut sync, &counter), 1, "{mode}: ran more than once");
    }
}

#[test]
fn a_scripts_own_noscript_in_a_batch_is_reported_as_run() {
    let server = RedisServer::start().expect("start redis-server");
    let mut con = server.connection();
    for atomic in [false, true] {
        for assume_loaded in [false, true] {
            if assume_loaded {
                preload(&mut con);
            }
            let mut p = redlua::pipe();
            if atomic {
                p.atomic();
            }
            if assume_loaded {
                p.assume_loaded();
            }
            let prefix = format!("b:{atomic}:{assume_loaded}");
            let handles: Vec<_> = MODES
                .iter()
                .map(|mode| {
                    p.add(count_then_fail(
                        &format!("{prefix}:{mode}"),
                        "NOSCRIPT",
                        mode,
                    ))
                })
                .collect();
            let results = p
                .query(&mut con)
                .unwrap_or_else(|e| panic!("atomic={atomic}: every entry ran, got {e}"));
            for (h, mode) in handles.into_iter().zip(MODES) {
                let e = results.get(h).unwrap_err();
                assert_scripts_own(&e, "NOSCRIPT", mode);
                assert_eq!(runs(&mut con, &format!("{prefix}:{mode}")), 1, "{mode}");
            }
        }
    }
}

#[test]
fn a_scripts_server_condition_codes_are_the_scripts_errors() {
    let server = RedisServer::start().expect("start redis-server");
    let mut con = server.connection();
    preload(&mut con);
    for code in SERVER_CODES {
        for mode in MODES {
            let counter = format!("c:{code}:{mode}");
            let e = count_then_fail(&counter, code, mode)
                .invoke(&mut con)
                .unwrap_err();
            assert_scripts_own(&e, code, mode);
            assert_eq!(runs(&mut con, &counter), 1, "{code} {mode}");
        }
    }
    // The same in a batch, where the entry is reported as run.
    let mut p = redlua::pipe();
    let handles: Vec<_> = SERVER_CODES
        .iter()
        .map(|code| {
            (
                code,
                p.add(count_then_fail(&format!("p:{code}"), code, "reply")),
            )
        })
        .collect();
    let results = p.query(&mut con).expect("every entry ran");
    for (code, h) in handles {
        let e = results.get(h).unwrap_err();
        assert_scripts_own(&e, code, "reply");
        assert_eq!(runs(&mut con, &format!("p:{code}")), 1, "{code}");
    }
}

/// The server's own refusals stay `Error::Redis`: a call sent to a server
/// that loops in another script gets `BUSY`, and nothing ran.
#[test]
fn the_servers_busy_is_still_a_refusal() {
    let server = RedisServer::builder()
        // `busy-reply-threshold` since 7.0; the older name works everywhere.
        .args(["--lua-time-limit", "50"])
        .start()
        .expect("start redis-server");
    let mut con = server.connection();
    let mut looper = server.connection();
    let spin = std::thread::spawn(move || {
        // Loops for 1 s of server time.
        let _: redis::RedisResult<redis::Value> = redis::cmd("EVAL")
            .arg(
                "local t = tonumber(redis.call('TIME')[1]) + 1 \
                  while tonumber(redis.call('TIME')[1]) <= t do end return 1",
            )
            .arg(0)
            .query(&mut looper);
    });
    std::thread::sleep(Duration::from_millis(300));
    let e = count("busy").invoke(&mut con).unwrap_err();
    assert!(e.is_redis_error(), "{e:?}");
    assert_eq!(e.code(), Some("BUSY"));
    spin.join().unwrap();
    assert_eq!(runs(&mut con, "busy"), 0);
}

#[test]
fn a_call_sent_while_the_server_loads_waits_and_runs_once() {
    // Sync call.
    let Some((server, reload)) = loading_server() else {
        return;
    };
    let mut con = server.connection();
    assert!(is_loading(&mut con), "the server should still be loading");
    let started = Instant::now();
    assert_eq!(
        count("sync").invoke(&mut con).expect("runs after the load"),
        1
    );
    assert!(
        started.elapsed() > Duration::from_millis(200),
        "the call should have waited for the load"
    );
    assert_eq!(runs(&mut con, "sync"), 1);
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut con).unwrap(), 15_001);
    reload.join().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_async_call_sent_while_the_server_loads_waits_and_runs_once() {
    let Some((server, reload)) = loading_server() else {
        return;
    };
    let mut sync = server.connection();
    assert!(is_loading(&mut sync), "the server should still be loading");
    let mut con = server.multiplexed().await;
    let n = count("async")
        .invoke_async(&mut con)
        .await
        .expect("runs after the load");
    assert_eq!(n, 1);
    assert_eq!(runs(&mut sync, "async"), 1);
    reload.join().unwrap();
}

#[test]
fn a_batch_sent_while_the_server_loads_waits_and_runs_once() {
    for atomic in [false, true] {
        let Some((server, reload)) = loading_server() else {
            return;
        };
        let mut con = server.connection();
        assert!(is_loading(&mut con), "the server should still be loading");
        let mut p = redlua::pipe();
        if atomic {
            p.atomic();
        }
        let a = p.add(count("a"));
        let b = p.add(count("b"));
        let results = p.query(&mut con).expect("runs after the load");
        assert_eq!(results.get(a).unwrap(), 1, "atomic={atomic}");
        assert_eq!(results.get(b).unwrap(), 1, "atomic={atomic}");
        assert_eq!(runs(&mut con, "a"), 1);
        reload.join().unwrap();
    }
}
