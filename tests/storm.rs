//! A reload storm: after `SCRIPT FLUSH`, many concurrent async callers of a
//! script that the server no longer has. The reload is coalesced (about one
//! `SCRIPT LOAD` per script per miss wave), every caller still runs exactly
//! once, and a leading load that never answers does not hang the callers
//! waiting on it. Against a real redis-server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redlua::testing::{command_calls, RedisServer};
use redlua::{redis_script, Call, Outcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

// Only `runs` is used here; the module's other helpers serve other tests.
#[allow(dead_code)]
mod common;
use common::runs;

/// Counts its run and returns twice `n`.
#[redis_script("storm/double.lua")]
fn double(counter: &str, n: i64) -> i64;

// The same script declared again for each leader test: the reload state is
// per declared script, and the tests of this file run in parallel.
#[redis_script("storm/double.lua")]
fn double_cut(counter: &str, n: i64) -> i64;

#[redis_script("storm/double.lua")]
fn double_timeout(counter: &str, n: i64) -> i64;

const CALLERS: i64 = 1_000;
const WAVES: i64 = 3;

/// `SCRIPT LOAD`s the server ran so far. Redis 6.2 counts every `SCRIPT`
/// subcommand together: there the test's own flushes are taken off.
fn script_loads(server: &RedisServer, con: &mut redis::Connection, flushes: u64) -> u64 {
    if server.server_version().has_subcommand_stats() {
        command_calls(con, "script|load")
    } else {
        command_calls(con, "script") - flushes
    }
}

fn script_flush(con: &mut redis::Connection) {
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .exec(con)
        .expect("SCRIPT FLUSH");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_storm_sends_about_one_script_load_per_wave() {
    let server = RedisServer::start().expect("start redis-server");
    let mut admin = server.connection();
    let con = server.multiplexed().await;
    let mut flushes = 0;
    let mut per_wave = Vec::new();
    for wave in 0..WAVES {
        script_flush(&mut admin);
        flushes += 1;
        let before = script_loads(&server, &mut admin, flushes);
        let tasks: Vec<_> = (0..CALLERS)
            .map(|i| {
                let mut con = con.clone();
                let n = wave * CALLERS + i;
                tokio::spawn(async move { (n, double("runs", n).invoke_async(&mut con).await) })
            })
            .collect();
        for task in tasks {
            let (n, reply) = task.await.expect("caller task");
            assert_eq!(reply.expect("call after SCRIPT FLUSH"), 2 * n);
        }
        per_wave.push(script_loads(&server, &mut admin, flushes) - before);
    }
    println!("SCRIPT LOADs per wave of {CALLERS} callers: {per_wave:?}");
    assert_eq!(
        runs(&mut admin, "runs"),
        WAVES * CALLERS,
        "every call ran once"
    );
    for loads in &per_wave {
        assert!(
            (1..=3).contains(loads),
            "{per_wave:?} SCRIPT LOADs per wave of {CALLERS} callers: the reload is not coalesced"
        );
    }
}

/// A TCP proxy in front of `upstream` for one client connection: it passes
/// everything until the client sends a `SCRIPT` command, then holds that
/// request (and all after it) from the server, tells `held`, and closes
/// the client's connection when `cut` fires (if `cut` is dropped unfired,
/// it holds the request until the test ends).
async fn holding_proxy(
    upstream: u16,
    held: oneshot::Sender<()>,
    cut: oneshot::Receiver<()>,
) -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind proxy");
    let port = listener.local_addr().expect("proxy address").port();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.expect("proxy accept");
        let server = TcpStream::connect(("127.0.0.1", upstream))
            .await
            .expect("proxy connect");
        let (mut from_client, mut to_client) = client.into_split();
        let (mut from_server, mut to_server) = server.into_split();
        let back = tokio::spawn(async move {
            let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
            to_client
        });
        let mut buf = vec![0; 64 * 1024];
        let mut held = Some(held);
        loop {
            let n = from_client.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            if buf[..n].windows(6).any(|w| w == b"SCRIPT") {
                break;
            }
            to_server.write_all(&buf[..n]).await.expect("proxy write");
        }
        if let Some(held) = held.take() {
            let _ = held.send(());
        }
        if cut.await.is_err() {
            // Never cut: hold the request for good.
            std::future::pending::<()>().await;
        }
        back.abort();
        // Dropping both halves of both sockets closes the connections.
    });
    port
}

/// Starts the leading caller through a proxy that holds its `SCRIPT LOAD`,
/// then `WAITERS` callers on a direct connection; `cut` decides whether the
/// proxy closes the leader's connection (else the leader's own response
/// timeout ends its wait). Every waiter must then answer, correctly and
/// soon, and the leader's error must say its call may have run.
async fn waiters_outlive_a_stuck_leader(
    double: fn(&str, i64) -> Call<i64>,
    cut_after: Option<Duration>,
) {
    const WAITERS: i64 = 200;
    let server = RedisServer::start().expect("start redis-server");
    let mut admin = server.connection();
    let (held_tx, held_rx) = oneshot::channel();
    let (cut_tx, cut_rx) = oneshot::channel();
    let proxy = holding_proxy(server.port(), held_tx, cut_rx).await;
    let mut leader_con = redis::Client::open(format!("redis://127.0.0.1:{proxy}/"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("connect through the proxy");
    let con = server.multiplexed().await;
    script_flush(&mut admin);

    let leader =
        tokio::spawn(async move { double("runs", -1).invoke_async(&mut leader_con).await });
    tokio::time::timeout(Duration::from_secs(5), held_rx)
        .await
        .expect("the leader never sent SCRIPT LOAD")
        .expect("proxy gone");

    let done = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..WAITERS)
        .map(|n| {
            let mut con = con.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let reply = double("runs", n).invoke_async(&mut con).await;
                done.fetch_add(1, Ordering::SeqCst);
                (n, reply)
            })
        })
        .collect();
    // The waiters found the leader's load in flight and wait for it.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let early = done.load(Ordering::SeqCst);
    let released = Instant::now();
    if let Some(after) = cut_after {
        tokio::time::sleep(after).await;
        cut_tx.send(()).expect("proxy gone");
    }
    let leader = tokio::time::timeout(Duration::from_secs(5), leader)
        .await
        .expect("the leader hung")
        .expect("leader task");
    let e = leader.expect_err("the leader's connection never reached the server");
    assert_eq!(e.outcome(), Outcome::MayHaveRun, "{e}");
    for waiter in waiters {
        let (n, reply) = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("a waiter hung after its leader failed")
            .expect("waiter task");
        assert_eq!(reply.expect("a waiter's own load and call"), 2 * n);
    }
    let waited = released.elapsed();
    let loads = script_loads(&server, &mut admin, 1);
    println!(
        "{early} of {WAITERS} waiters answered before the leader failed; all {WAITERS} \
         answered {waited:?} after; {loads} SCRIPT LOADs"
    );
    assert_eq!(early, 0, "the waiters did not wait for the leader's load");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    // Each waiter ran once; the leader's held call never reached the server.
    assert_eq!(runs(&mut admin, "runs"), WAITERS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_do_their_own_load_when_the_leaders_connection_drops() {
    waiters_outlive_a_stuck_leader(double_cut, Some(Duration::from_millis(100))).await;
}

/// redis-rs 1.8's async connections give up on a request after 500 ms by
/// default: that bounds how long the waiters wait for a leader whose
/// server never answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_do_their_own_load_when_the_leaders_load_times_out() {
    waiters_outlive_a_stuck_leader(double_timeout, None).await;
}
