//! Sync calls with no async runtime in the build.

use redlua::redis_script;

#[redis_script("multiply.lua")]
fn multiply(key: &str, multiplier: i64) -> i64;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = redlua::testing::RedisServer::start()?;
    let mut con = server.connection();
    redis::cmd("SET").arg("n").arg(6).exec(&mut con)?;
    assert_eq!(multiply("n", 7).invoke(&mut con)?, 42);
    // After a flush the call heals itself, sync as async.
    redis::cmd("SCRIPT").arg("FLUSH").exec(&mut con)?;
    assert_eq!(multiply("n", 2).invoke(&mut con)?, 12);
    let mut p = redlua::pipe();
    let a = p.add(multiply("n", 3));
    assert_eq!(p.query(&mut con)?.get(a)?, 18);
    println!("sync calls without an async runtime: ok");
    Ok(())
}
