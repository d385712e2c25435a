//! `Error::outcome`: whether a failed call or batch ran, from redis-rs's own
//! classification of the failure. Against a real redis-server.

use std::time::Duration;

use redlua::testing::RedisServer;
use redlua::{redis_script, BatchFailure, Outcome};

mod common;
use common::{loading_server, runs};

/// Busy-waits `ms` milliseconds of server time, then counts its run.
#[redis_script("outcome/spin.lua")]
fn spin(counter: &str, ms: i64) -> i64;

#[redis_script("outcome/count_then_fail.lua")]
fn count_then_fail(counter: &str, code: &str, mode: &str) -> i64;

/// A port nothing listens on: a server's, after it stopped.
fn closed_port() -> u16 {
    let server = RedisServer::start().expect("start redis-server");
    server.port()
}

#[test]
fn a_read_timeout_says_the_script_may_have_run() {
    let server = RedisServer::start().expect("start redis-server");
    let mut check = server.connection();
    let mut con = server.connection();
    redlua::load(&mut check, &[SPIN]).expect("SCRIPT LOAD");
    con.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let e = spin("spun", 300).invoke(&mut con).unwrap_err();
    assert!(e.is_redis_error(), "{e:?}");
    assert!(e.redis_error().unwrap().is_timeout(), "{e:?}");
    assert_eq!(e.outcome(), Outcome::MayHaveRun);
    let text = e.to_string();
    assert!(text.starts_with("script `spin`: "), "{text}");
    assert!(
        text.contains("sent without a reply: the script may have run"),
        "{text}"
    );
    // It did run, to the end.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(runs(&mut check, "spun"), 1);

    // The same in a batch: every entry may have run.
    let mut con = server.connection();
    con.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut p = redlua::pipe();
    p.add(spin("spun2", 300));
    let e = p.query(&mut con).unwrap_err();
    assert_eq!(e.outcome(), Outcome::MayHaveRun, "{e}");
    let b = e.as_batch_error().unwrap();
    assert_eq!(b.kind(), BatchFailure::Connection);
    assert!(b
        .entries()
        .iter()
        .all(|r| r.outcome() == Outcome::MayHaveRun));
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(runs(&mut check, "spun2"), 1);
}

/// redis-rs 1.8's async connections give up after 500 ms by default.
#[tokio::test]
async fn the_async_default_response_timeout_says_the_script_may_have_run() {
    let server = RedisServer::start().expect("start redis-server");
    let mut check = server.connection();
    redlua::load(&mut check, &[SPIN]).expect("SCRIPT LOAD");
    let mut con = server.multiplexed().await;
    let e = spin("spun", 800).invoke_async(&mut con).await.unwrap_err();
    assert_eq!(e.outcome(), Outcome::MayHaveRun, "{e:?}");
    assert!(e.to_string().contains("may have run"), "{e}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(runs(&mut check, "spun"), 1);
}

#[test]
fn a_refused_connection_says_nothing_was_sent() {
    let mut client = redis::Client::open(format!("redis://127.0.0.1:{}/", closed_port())).unwrap();
    let e = spin("never", 0).invoke(&mut client).unwrap_err();
    assert!(e.is_redis_error(), "{e:?}");
    assert_eq!(e.outcome(), Outcome::NotSent, "{e:?}");
    let text = e.to_string();
    assert!(text.starts_with("script `spin`: "), "{text}");
    assert!(text.contains("not sent: the script did not run"), "{text}");

    let mut p = redlua::pipe();
    p.add(spin("never", 0));
    let e = p.query(&mut client).unwrap_err();
    assert_eq!(e.outcome(), Outcome::NotSent, "{e}");
    let b = e.as_batch_error().unwrap();
    assert_eq!(b.not_run(), vec![0]);
    assert!(b.entries().iter().all(|r| r.outcome() == Outcome::NotSent));
}

#[test]
fn refusals_and_script_errors_have_their_outcomes() {
    let server = RedisServer::start().expect("start redis-server");
    let mut con = server.connection();
    // The script's own error: it ran.
    let e = count_then_fail("c", "MYERR", "reply")
        .invoke(&mut con)
        .unwrap_err();
    assert_eq!(e.outcome(), Outcome::Ran);
    let e = count_then_fail("c", "MYERR", "raise")
        .invoke(&mut con)
        .unwrap_err();
    assert_eq!(e.outcome(), Outcome::Ran);
    // A server refusal: NOPERM for a user without EVALSHA.
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("noeval")
        .arg("on")
        .arg(">pw")
        .arg("~*")
        .arg("+@all")
        .arg("-evalsha")
        .exec(&mut con)
        .unwrap();
    let mut denied = redis::Client::open(format!("redis://noeval:pw@127.0.0.1:{}/", server.port()))
        .unwrap()
        .get_connection()
        .unwrap();
    let e = count_then_fail("c", "MYERR", "reply")
        .invoke(&mut denied)
        .unwrap_err();
    assert!(e.is_redis_error(), "{e:?}");
    assert_eq!(e.outcome(), Outcome::Refused);
    assert_eq!(runs(&mut con, "c"), 2);

    // Entries of a batch answered NOSCRIPT were refused; the others ran.
    redis::cmd("SCRIPT").arg("FLUSH").exec(&mut con).unwrap();
    let mut p = redlua::pipe();
    p.assume_loaded();
    p.cmd(redis::cmd("INCR").arg("plain"));
    p.add(count_then_fail("c", "MYERR", "reply"));
    let e = p.query(&mut con).unwrap_err();
    let b = e.as_batch_error().unwrap();
    assert_eq!(b.kind(), BatchFailure::NoScript);
    let outcomes: Vec<Outcome> = b.entries().iter().map(|r| r.outcome()).collect();
    assert_eq!(outcomes, [Outcome::Ran, Outcome::Refused]);
    assert_eq!(e.outcome(), Outcome::Ran);
}

/// With the LOADING wait turned off, a call to a loading server fails at
/// once, refused (nothing ran). The setting is global: no other test of this
/// binary meets `LOADING`, so turning it off here changes none of them.
#[test]
fn loading_timeout_zero_gives_the_refusal() {
    assert_eq!(redlua::loading_timeout(), redlua::DEFAULT_LOADING_TIMEOUT);
    assert_eq!(redlua::DEFAULT_LOADING_TIMEOUT, Duration::from_secs(5));
    let Some((server, reload)) = loading_server() else {
        return;
    };
    let mut con = server.connection();
    redlua::set_loading_timeout(Duration::ZERO);
    let e = count_then_fail("c", "MYERR", "reply")
        .invoke(&mut con)
        .unwrap_err();
    redlua::set_loading_timeout(redlua::DEFAULT_LOADING_TIMEOUT);
    assert!(e.is_redis_error(), "{e:?}");
    assert_eq!(e.code(), Some("LOADING"));
    assert_eq!(e.outcome(), Outcome::Refused);
    reload.join().unwrap();
    assert_eq!(runs(&mut con, "c"), 0);
}
