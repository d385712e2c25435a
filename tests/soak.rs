//! A soak test: 10,000 async calls of a counting script from 50 tasks over
//! several reconnecting connections, while another thread flushes the
//! script cache and restarts the server at random points. Afterwards the
//! server's count of every call must agree with what its caller was told:
//! `Ok` = ran once, an error whose outcome says it did not run = never ran,
//! "may have run" = at most once; nothing ran twice. Against a real
//! redis-server whose data survives restarts (AOF, fsync on every write).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redlua::testing::RedisServer;
use redlua::{redis_script, Outcome};

#[redis_script("storm/tally.lua")]
fn tally(counts: &str, id: &str) -> i64;

const TASKS: usize = 50;
const CALLS_PER_TASK: usize = 200;
const CONNECTIONS: usize = 5;
const MAX_RESTARTS: usize = 10;
const COUNTS: &str = "soak:counts";

/// A 64-bit LCG (Knuth's MMIX constants): reproducible chaos from a seed,
/// without a crate.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What a caller was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Told {
    Ok(i64),
    Err(Outcome),
}

#[derive(Debug, Default)]
struct Chaos {
    flushes: usize,
    /// `Ok` replies received before each restart (one entry per restart):
    /// the data they counted must have survived it.
    ok_before_restart: Vec<usize>,
}

/// Flushes the script cache or restarts the server, at random intervals,
/// until `stop`.
fn chaos(server: &mut RedisServer, seed: u64, stop: &AtomicBool, oks: &AtomicUsize) -> Chaos {
    let mut rng = Lcg(seed);
    let mut out = Chaos::default();
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50 + rng.below(250)));
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if rng.below(3) == 0 && out.ok_before_restart.len() < MAX_RESTARTS {
            out.ok_before_restart.push(oks.load(Ordering::SeqCst));
            server.restart().expect("restart redis-server");
        } else if let Ok(mut con) = server.client().get_connection() {
            if redis::cmd("SCRIPT").arg("FLUSH").exec(&mut con).is_ok() {
                out.flushes += 1;
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_counted_as_its_caller_was_told_through_flushes_and_restarts() {
    let seed = std::env::var("REDLUA_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026);
    println!("seed {seed} (REDLUA_SOAK_SEED to replay the chaos schedule)");
    let started = Instant::now();
    // Every write is on disk before its reply is sent, so a restart keeps
    // everything a caller was told ran.
    let mut server = RedisServer::builder()
        .args(["--appendonly", "yes", "--appendfsync", "always"])
        .start()
        .expect("start redis-server");
    let client = server.client();
    let mut cons = Vec::new();
    for c in 0..CONNECTIONS {
        // One manager gives up reconnecting at once, so calls on it also
        // meet a refused connection (nothing sent) while the server is down;
        // the others retry with redis-rs's default backoff.
        let config = match c {
            0 => ConnectionManagerConfig::new().set_number_of_retries(0),
            _ => ConnectionManagerConfig::new(),
        };
        cons.push(
            ConnectionManager::new_with_config(client.clone(), config)
                .await
                .expect("ConnectionManager"),
        );
    }

    let stop = Arc::new(AtomicBool::new(false));
    let oks = Arc::new(AtomicUsize::new(0));
    let chaos = {
        let (stop, oks) = (stop.clone(), oks.clone());
        std::thread::spawn(move || {
            let tally = chaos(&mut server, seed, &stop, &oks);
            (server, tally)
        })
    };

    let told = Arc::new(Mutex::new(HashMap::new()));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let mut con = cons[t % CONNECTIONS].clone();
            let (told, oks) = (told.clone(), oks.clone());
            tokio::spawn(async move {
                // Paced (20 ms apart on average) so the calls spread over
                // many flushes and restarts instead of racing past them.
                let mut rng = Lcg(seed ^ (t as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                for i in 0..CALLS_PER_TASK {
                    tokio::time::sleep(Duration::from_millis(rng.below(40))).await;
                    let id = format!("{t}:{i}");
                    let reply = tally(COUNTS, &id).invoke_async(&mut con).await;
                    let what = match reply {
                        Ok(n) => {
                            oks.fetch_add(1, Ordering::SeqCst);
                            Told::Ok(n)
                        }
                        Err(e) => {
                            // While the server is down, do not burn the
                            // remaining calls on refused connections.
                            tokio::time::sleep(Duration::from_millis(30)).await;
                            Told::Err(e.outcome())
                        }
                    };
                    told.lock().unwrap().insert(id, what);
                }
            })
        })
        .collect();
    let all = async {
        for task in tasks {
            task.await.expect("caller task");
        }
    };
    tokio::time::timeout(Duration::from_secs(50), all)
        .await
        .expect("the soak did not finish in 50 s: a call hangs");
    stop.store(true, Ordering::SeqCst);
    let (server, chaos) = chaos.join().expect("chaos thread");

    let mut check = server.connection();
    let counts: HashMap<String, i64> = redis::cmd("HGETALL")
        .arg(COUNTS)
        .query(&mut check)
        .expect("HGETALL");
    let told = told.lock().unwrap();
    assert_eq!(told.len(), TASKS * CALLS_PER_TASK);
    let (mut ok, mut may, mut may_ran, mut not_run) = (0, 0, 0, 0);
    let mut wrong = Vec::new();
    for (id, what) in told.iter() {
        let count = counts.get(id).copied().unwrap_or(0);
        let agrees = match what {
            Told::Ok(n) => {
                ok += 1;
                *n == 1 && count == 1
            }
            Told::Err(Outcome::MayHaveRun) => {
                may += 1;
                may_ran += count;
                count <= 1
            }
            Told::Err(Outcome::NotSent | Outcome::Refused) => {
                not_run += 1;
                count == 0
            }
            Told::Err(other) => {
                wrong.push(format!("{id}: unexpected outcome {other:?}, count {count}"));
                true
            }
        };
        if !agrees {
            wrong.push(format!("{id}: told {what:?}, counted {count}"));
        }
    }
    let strays: Vec<_> = counts.keys().filter(|id| !told.contains_key(*id)).collect();
    println!(
        "{} calls in {:.1?}: {ok} ok, {may} may have run ({may_ran} of them did), \
         {not_run} did not run; {} restarts (ok replies before each: {:?}), {} flushes",
        told.len(),
        started.elapsed(),
        chaos.ok_before_restart.len(),
        chaos.ok_before_restart,
        chaos.flushes
    );
    assert!(wrong.is_empty(), "{} disagree: {wrong:#?}", wrong.len());
    assert!(strays.is_empty(), "counted but never called: {strays:?}");
    assert!(
        chaos.flushes > 0,
        "no flush happened: the soak tested nothing"
    );
    assert!(
        chaos.ok_before_restart.iter().any(|&n| n > 0),
        "no restart after an Ok: the soak tested nothing"
    );
    assert!(ok > TASKS * CALLS_PER_TASK / 2, "only {ok} calls succeeded");
}
