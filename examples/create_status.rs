//! Posts status messages with the *Redis in Action* listing 11.3 script.
//!
//! Runs against `REDIS_URL` when it is set, else against a throwaway
//! redis-server started with `redlua::testing`:
//!
//! ```sh
//! cargo run --example create_status
//! REDIS_URL=redis://127.0.0.1:6379/ cargo run --example create_status
//! ```

use redlua::redis_script;

/// Posts a status message; `None` when the user has no login.
// The script writes `status:<id>`, a key built from INCR's reply that the
// header cannot declare: the compile-time check warns that it does not work
// on Redis Cluster. This example runs on one server, so it says so here.
#[allow(deprecated)]
#[redis_script("create_status.lua")]
pub fn create_status(user: &str, ids: &str, fields: &[&str]) -> Option<i64>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the throwaway server alive until the end of main.
    let (_server, url) = match std::env::var("REDIS_URL") {
        Ok(url) => (None, url),
        Err(_) => {
            let server = redlua::testing::RedisServer::start()?;
            let url = server.url();
            println!("REDIS_URL is not set: started a throwaway redis-server at {url}");
            (Some(server), url)
        }
    };
    let mut con = redis::Client::open(url.as_str())?.get_connection()?;

    let call = create_status("user:example", "status:id:", &["message", "hello"]);
    println!(
        "script {} ({}), sha1 {}",
        call.script().name(),
        call.script().path(),
        call.script().sha1()
    );
    match call.invoke(&mut con)? {
        None => println!("user:example has no login yet: nothing posted"),
        Some(id) => println!("posted status {id}"),
    }

    redis::cmd("HSET")
        .arg("user:example")
        .arg("login")
        .arg("example")
        .exec(&mut con)?;
    let posted = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs_f64()
        .to_string();
    let id = create_status(
        "user:example",
        "status:id:",
        &["message", "hello from redlua", "posted", &posted],
    )
    .invoke(&mut con)?;
    println!("posted status {id:?}");
    let status: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg(format!("status:{}", id.unwrap_or_default()))
        .query(&mut con)?;
    for (field, value) in status {
        println!("  {field} = {value}");
    }
    Ok(())
}
