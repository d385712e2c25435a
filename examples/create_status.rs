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

mod common;
use redlua::testing::command_calls;

/// Posts a status message; `None` when the user has no login.
// The script writes `status:<id>`, a key built from INCR's reply that the
// header cannot declare: the compile-time check warns that it does not work
// on Redis Cluster. This example runs on one server, so it says so here.
#[allow(deprecated)]
#[redis_script("create_status.lua")]
pub fn create_status(user: &str, ids: &str, fields: &[&str]) -> Option<i64>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the throwaway server alive until the end of main.
    let (_server, url) = common::server()?;
    let mut con = redis::Client::open(url.as_str())?.get_connection()?;
    let script = CREATE_STATUS;
    println!(
        "{} is {} (SHA1 {})",
        script.name(),
        script.path(),
        script.sha1()
    );

    // 1. A call: one EVALSHA; the header says the reply may be null.
    let none =
        create_status("user:example", "status:id:", &["message", "hello"]).invoke(&mut con)?;
    println!("1. user:example has no login yet: {none:?}, nothing written");

    redis::cmd("HSET")
        .arg("user:example")
        .arg("login")
        .arg("example")
        .exec(&mut con)?;
    let id = create_status(
        "user:example",
        "status:id:",
        &["message", "hello from redlua"],
    )
    .invoke(&mut con)?;
    let status: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg(format!("status:{}", id.unwrap_or_default()))
        .query(&mut con)?;
    println!("2. with a login: posted status {id:?}: {status:?}");

    // 3. The server forgets its scripts (flush, restart, failover): the call
    // heals itself with SCRIPT LOAD + EVALSHA in one extra round trip.
    redis::cmd("SCRIPT").arg("FLUSH").exec(&mut con)?;
    let loads_before = command_calls(&mut con, "script|load");
    let id = create_status("user:example", "status:id:", &["message", "again"]).invoke(&mut con)?;
    let loads = command_calls(&mut con, "script|load") - loads_before;
    println!("3. after SCRIPT FLUSH: posted status {id:?}, with {loads} SCRIPT LOAD (NOSCRIPT healed, the script ran once)");

    // 4. A Redis error inside the script names the .lua file and line.
    redis::cmd("SET")
        .arg("user:broken")
        .arg("not a hash")
        .exec(&mut con)?;
    match create_status("user:broken", "status:id:", &[]).invoke(&mut con) {
        Ok(id) => println!("4. unexpected success: {id:?}"),
        Err(e) => println!(
            "4. a runtime error, outcome {:?} (it ran up to that line):\n{e}",
            e.outcome()
        ),
    }

    // 5. Mistakes in a script are compile errors. The macro's analysis is
    // the redlua-script crate; here it judges a script with a typo.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let broken = redlua_script::load(root, "ui/create_foo.lua")?;
    let findings = redlua_script::check(&broken, &Default::default());
    println!("5. what `#[redis_script(\"ui/create_foo.lua\")]` reports at compile time:");
    for finding in findings
        .iter()
        .filter(|f| f.severity == redlua_script::Severity::Error)
    {
        println!("{}", finding.render(&broken));
    }
    Ok(())
}
