//! What every example starts with: a server to talk to.

use redlua::testing::RedisServer;

/// `REDIS_URL` when it is set, else a throwaway redis-server (kept alive by
/// the returned handle until the example ends).
pub fn server() -> Result<(Option<RedisServer>, String), redlua::testing::TestingError> {
    match std::env::var("REDIS_URL") {
        Ok(url) => Ok((None, url)),
        Err(_) => {
            let server = RedisServer::start()?;
            let url = server.url();
            println!("REDIS_URL is not set: started a throwaway redis-server at {url}");
            Ok((Some(server), url))
        }
    }
}
