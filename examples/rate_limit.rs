//! A rate limiter used from many async tasks at once: 50 tasks, 10 requests
//! each, against a limit of 100 per window. The script counts and decides
//! atomically on the server, so exactly 100 requests get through however
//! the tasks interleave, each in one round trip.
//!
//! Runs against `REDIS_URL` when it is set, else against a throwaway
//! redis-server started with `redlua::testing`:
//!
//! ```sh
//! cargo run --example rate_limit
//! ```

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use redlua::redis_script;

mod common;

/// Takes one request from `bucket`: `Some(remaining)` if allowed, `None` if
/// the window's `limit` is spent.
#[redis_script("rate_limit.lua")]
pub fn take(bucket: &str, limit: i64, window_ms: i64) -> Option<i64>;

const TASKS: usize = 50;
const REQUESTS: usize = 10;
const LIMIT: i64 = 100;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the throwaway server alive until the end of main.
    let (_server, url) = common::server()?;
    let client = redis::Client::open(url.as_str())?;
    // One multiplexed connection shared by every task (clones share it).
    let con = client.get_multiplexed_async_connection().await?;
    let bucket = format!("rate:example:{}", std::process::id());

    let allowed = Arc::new(AtomicU32::new(0));
    let refused = Arc::new(AtomicU32::new(0));
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (mut con, bucket) = (con.clone(), bucket.clone());
        let (allowed, refused) = (allowed.clone(), refused.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..REQUESTS {
                match take(&bucket, LIMIT, 60_000).invoke_async(&mut con).await? {
                    Some(_) => allowed.fetch_add(1, Ordering::Relaxed),
                    None => refused.fetch_add(1, Ordering::Relaxed),
                };
            }
            Ok::<_, redlua::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let (allowed, refused) = (
        allowed.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
    );
    println!(
        "{} requests from {TASKS} tasks in {:.1?}: {allowed} allowed, {refused} refused (limit {LIMIT})",
        TASKS * REQUESTS,
        started.elapsed()
    );
    assert_eq!(
        i64::from(allowed),
        LIMIT,
        "the limiter let through exactly the limit"
    );
    let mut con = con;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&bucket)
        .query_async(&mut con)
        .await?;
    println!("the window of {bucket} ends in {ttl} ms");
    Ok(())
}
