//! Helpers shared by the integration tests that count what ran on a server.

use std::time::{Duration, Instant};

use redlua::testing::RedisServer;

/// How often the counting scripts ran: the counter key's value.
pub fn runs(con: &mut redis::Connection, counter: &str) -> i64 {
    redis::cmd("GET")
        .arg(counter)
        .query::<Option<i64>>(con)
        .expect("GET counter")
        .unwrap_or(0)
}

/// A server that is loading a dataset that takes about 1.5 s to load, and
/// the thread that made it load.
///
/// `DEBUG RELOAD` saves and loads the dataset again in the server process,
/// exactly as at startup: while it loads, the server answers every other
/// client `LOADING`. (The testing harness's `restart()` waits until the
/// server answers `PING`, i.e. until the load has finished.)
///
/// `None`, after printing why, on a server before Redis 7.0: it has no
/// `loading-process-events-interval-bytes`, and answers no client until it
/// has loaded 2 MB, too coarse for a dataset this test can make.
pub fn loading_server() -> Option<(RedisServer, std::thread::JoinHandle<()>)> {
    let probe = RedisServer::start().expect("start redis-server");
    if probe.skip_unless(
        probe.server_version().has_script_flags(),
        "no loading-process-events-interval-bytes before Redis 7.0",
    ) {
        return None;
    }
    drop(probe);
    // key-load-delay (microseconds per key) makes the load slow on a small
    // dataset; the small event interval lets the server answer (LOADING)
    // between keys instead of only every 2 MB.
    let server = RedisServer::builder()
        .args(["--key-load-delay", "100"])
        .args(["--loading-process-events-interval-bytes", "1024"])
        .start()
        .expect("start redis-server");
    let mut con = server.connection();
    redis::cmd("DEBUG")
        .arg("POPULATE")
        .arg(15_000)
        .arg("fill")
        .arg(64)
        .exec(&mut con)
        .expect("DEBUG POPULATE");
    let mut reloader = server.connection();
    let reload = std::thread::spawn(move || {
        redis::cmd("DEBUG")
            .arg("RELOAD")
            .exec(&mut reloader)
            .expect("DEBUG RELOAD");
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while !is_loading(&mut con) {
        assert!(
            Instant::now() < deadline,
            "the server never started loading"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    Some((server, reload))
}

/// True while the server is loading its dataset (`INFO persistence`).
pub fn is_loading(con: &mut redis::Connection) -> bool {
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query(con)
        .expect("INFO persistence");
    info.lines().any(|l| l.trim() == "loading:1")
}
