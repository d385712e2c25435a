//! The seed scripts end to end, the NOSCRIPT path, errors and async use,
//! against a real redis-server.

use redlua::redis_script;
use redlua::testing::{command_calls, RedisServer};

/// Posts a status message; `None` when the user has no login.
// status:<id> is built from INCR's reply: the check warns it is not cluster-safe.
#[allow(deprecated)]
#[redis_script("create_status.lua")]
pub fn create_status(user: &str, ids: &str, fields: &[&str]) -> Option<i64>;

#[redis_script("push_and_sum.lua")]
fn push_and_sum(list: &str, sum: &str, values: &[i64]) -> i64;

#[redis_script("multiply.lua")]
fn multiply(key: &str, multiplier: i64) -> i64;

#[redis_script("errors/raise.lua")]
fn raise(scratch: &str, mode: &str) -> String;

#[redis_script("errors/reply.lua")]
fn reply_error(code: &str) -> String;

fn server() -> (RedisServer, redis::Connection) {
    let server = RedisServer::start().expect("start redis-server");
    let con = server.connection();
    (server, con)
}

#[test]
fn create_status_posts_a_message() {
    let (_s, mut con) = server();
    // No login: nothing is written.
    let id = create_status("user:1", "status:id:", &["message", "hi"])
        .invoke(&mut con)
        .unwrap();
    assert_eq!(id, None);
    let counter: Option<i64> = redis::cmd("GET").arg("status:id:").query(&mut con).unwrap();
    assert_eq!(counter, None);

    redis::cmd("HSET")
        .arg("user:1")
        .arg("login")
        .arg("dr_josiah")
        .exec(&mut con)
        .unwrap();
    let id = create_status("user:1", "status:id:", &["message", "hi", "posted", "1.5"])
        .invoke(&mut con)
        .unwrap();
    assert_eq!(id, Some(1));
    let status: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg("status:1")
        .query(&mut con)
        .unwrap();
    assert_eq!(status["login"], "dr_josiah");
    assert_eq!(status["message"], "hi");
    assert_eq!(status["posted"], "1.5");
    assert_eq!(status["id"], "1");
    let posts: i64 = redis::cmd("HGET")
        .arg("user:1")
        .arg("posts")
        .query(&mut con)
        .unwrap();
    assert_eq!(posts, 1);
    let id = create_status("user:1", "status:id:", &["message", "again"])
        .invoke(&mut con)
        .unwrap();
    assert_eq!(id, Some(2));
}

#[test]
fn push_and_sum_keeps_list_and_sum_in_step() {
    let (_s, mut con) = server();
    assert_eq!(
        push_and_sum("mylist", "sum", &[2, 1, 2])
            .invoke(&mut con)
            .unwrap(),
        5
    );
    assert_eq!(
        push_and_sum("mylist", "sum", &[10])
            .invoke(&mut con)
            .unwrap(),
        15
    );
    let list: Vec<i64> = redis::cmd("LRANGE")
        .arg("mylist")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(list, vec![10, 2, 1, 2]);
}

#[test]
fn multiply_as_in_the_redis_py_docs() {
    let (_s, mut con) = server();
    redis::cmd("SET").arg("foo").arg(2).exec(&mut con).unwrap();
    assert_eq!(multiply("foo", 5).invoke(&mut con).unwrap(), 10);
}

#[test]
fn the_sha_is_the_one_redis_computes() {
    let (_s, mut con) = server();
    let call = multiply("foo", 5);
    let script = call.script();
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(script.source())
        .query(&mut con)
        .unwrap();
    assert_eq!(script.sha1(), sha);
    assert_eq!(script.name(), "multiply");
    assert_eq!(script.path(), "lua/multiply.lua");
    assert!(!script.is_read_only());
}

#[test]
fn noscript_costs_one_extra_round_trip_and_leaves_the_script_resident() {
    let (s, mut con) = server();
    if s.skip_unless(
        s.server_version().has_subcommand_stats(),
        "counts SCRIPT LOADs, which INFO commandstats does not count apart on this server",
    ) {
        return;
    }
    redis::cmd("SET").arg("foo").arg(3).exec(&mut con).unwrap();
    assert_eq!(multiply("foo", 2).invoke(&mut con).unwrap(), 6);
    assert_eq!(
        command_calls(&mut con, "evalsha"),
        2,
        "first call: miss, then load+call"
    );
    assert_eq!(command_calls(&mut con, "script|load"), 1);
    assert_eq!(multiply("foo", 2).invoke(&mut con).unwrap(), 6);
    assert_eq!(
        command_calls(&mut con, "evalsha"),
        3,
        "hot call: one EVALSHA"
    );
    assert_eq!(command_calls(&mut con, "script|load"), 1);

    redis::cmd("SCRIPT").arg("FLUSH").exec(&mut con).unwrap();
    assert_eq!(multiply("foo", 4).invoke(&mut con).unwrap(), 12);
    assert_eq!(command_calls(&mut con, "script|load"), 2);
    let exists: Vec<bool> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(multiply("foo", 1).script().sha1())
        .query(&mut con)
        .unwrap();
    assert_eq!(exists, vec![true]);
    // EVAL is never used to make a script resident (7.4+ evicts those).
    assert_eq!(command_calls(&mut con, "eval"), 0);
}

#[test]
fn a_restarted_server_gets_the_script_again() {
    let mut server = RedisServer::start().expect("start redis-server");
    let mut con = server.connection();
    redis::cmd("SET").arg("foo").arg(3).exec(&mut con).unwrap();
    assert_eq!(multiply("foo", 2).invoke(&mut con).unwrap(), 6);
    server.restart().expect("restart redis-server");
    let mut con = server.connection();
    redis::cmd("SET").arg("foo").arg(5).exec(&mut con).unwrap();
    assert_eq!(multiply("foo", 2).invoke(&mut con).unwrap(), 10);
}

#[test]
fn a_lua_error_maps_to_the_included_file_and_line() {
    let (_s, mut con) = server();
    let err = raise("scratch", "error").invoke(&mut con).unwrap_err();
    let redlua::Error::Script(e) = &err else {
        panic!("expected a script error, got {err:?}");
    };
    assert_eq!(e.script_name(), "raise");
    assert_eq!(e.code(), "ERR");
    assert!(
        e.message().contains("boom from the library"),
        "{}",
        e.message()
    );
    assert_eq!(
        e.location(),
        &[("lua/errors/raise.lua", 3), ("lua/lib/fail.lua", 5)][..]
    );
    let text = err.to_string();
    assert!(
        text.contains("lua/errors/raise.lua:3 <- lua/lib/fail.lua:5"),
        "{text}"
    );
    assert!(text.contains("error(\"boom from the library\")"), "{text}");

    // A failing redis.call keeps Redis's own code.
    let err = raise("scratch", "wrongtype").invoke(&mut con).unwrap_err();
    let redlua::Error::Script(e) = &err else {
        panic!("expected a script error, got {err:?}");
    };
    assert_eq!(e.code(), "WRONGTYPE");
    assert_eq!(e.location().last(), Some(&("lua/lib/fail.lua", 7)));

    // A Lua runtime type error.
    let err = raise("scratch", "arith").invoke(&mut con).unwrap_err();
    let redlua::Error::Script(e) = &err else {
        panic!("expected a script error, got {err:?}");
    };
    assert_eq!(e.location().last(), Some(&("lua/lib/fail.lua", 9)));
    assert!(e.message().contains("arithmetic"), "{}", e.message());

    // The writes before the error are not rolled back; the script still works.
    assert_eq!(
        raise("scratch", "none").invoke(&mut con).unwrap(),
        "no error"
    );
}

#[test]
fn an_error_reply_returned_on_purpose_is_not_a_crash() {
    let (_s, mut con) = server();
    let err = reply_error("NOPE").invoke(&mut con).unwrap_err();
    match &err {
        redlua::Error::Reply(r) => {
            assert_eq!(r.script_name(), "reply_error");
            assert_eq!(r.code(), "NOPE");
            assert_eq!(r.message(), "the answer is no");
        }
        other => panic!("expected a reply error, got {other:?}"),
    }
}

#[test]
fn errors_convert_to_redis_errors_for_question_mark() {
    fn run(con: &mut redis::Connection) -> redis::RedisResult<String> {
        Ok(reply_error("NOPE").invoke(con)?)
    }
    let (_s, mut con) = server();
    let err = run(&mut con).unwrap_err();
    assert_eq!(err.code(), Some("NOPE"));
}

#[test]
fn a_refused_connection_is_a_redis_error_naming_the_script() {
    let server = RedisServer::start().expect("start redis-server");
    let mut con = server.connection();
    drop(server);
    let err = multiply("foo", 2).invoke(&mut con).unwrap_err();
    assert!(matches!(err, redlua::Error::Redis { .. }), "{err:?}");
    assert!(err.to_string().contains("multiply"), "{err}");
}

#[tokio::test]
async fn async_on_multiplexed_connection_and_connection_manager() {
    let server = RedisServer::start().expect("start redis-server");
    let mut con = server.multiplexed().await;
    redis::cmd("SET")
        .arg("foo")
        .arg(7)
        .exec_async(&mut con)
        .await
        .unwrap();
    assert_eq!(multiply("foo", 3).invoke_async(&mut con).await.unwrap(), 21);
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .exec_async(&mut con)
        .await
        .unwrap();
    assert_eq!(multiply("foo", 2).invoke_async(&mut con).await.unwrap(), 14);

    let mut manager = redis::aio::ConnectionManager::new(server.client())
        .await
        .unwrap();
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .exec_async(&mut manager)
        .await
        .unwrap();
    assert_eq!(
        multiply("foo", 1).invoke_async(&mut manager).await.unwrap(),
        7
    );
    let err = raise("scratch", "error")
        .invoke_async(&mut manager)
        .await
        .unwrap_err();
    assert!(matches!(err, redlua::Error::Script(_)), "{err:?}");

    // 64 concurrent calls on one multiplexed connection.
    let calls = (0..64).map(|i| {
        let mut con = con.clone();
        async move { push_and_sum("l", "s", &[i]).invoke_async(&mut con).await }
    });
    let results = futures_join_all(calls).await;
    assert!(results.iter().all(|r| r.is_ok()));
    let sum: i64 = redis::cmd("GET")
        .arg("s")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(sum, (0..64).sum::<i64>());
}

async fn futures_join_all<F>(futs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[test]
fn every_lua_file_read_is_a_build_dependency() {
    // rustc's dep-info for this test binary lists each file the macro read
    // (through include_str! of its absolute path): cargo rebuilds when any
    // of them changes, includes too.
    let exe = std::env::current_exe().unwrap();
    let dep_info =
        std::fs::read_to_string(exe.with_extension("d")).expect("dep-info next to the test binary");
    let root = env!("CARGO_MANIFEST_DIR");
    for file in [
        "lua/errors/raise.lua",
        "lua/lib/fail.lua",
        "lua/create_status.lua",
    ] {
        assert!(
            dep_info.contains(&format!("{root}/{file}")),
            "{file} is not a build dependency"
        );
    }
    // And each environment variable the macro reads (option_env! in its
    // output): toggling REDLUA_SKIP_LUA_CHECK rebuilds instead of keeping a
    // cached, unchecked build green.
    for var in ["REDLUA_SKIP_LUA_CHECK", "REDLUA_MANIFEST_DIR"] {
        assert!(
            dep_info.contains(&format!("# env-dep:{var}")),
            "{var} is not tracked: {dep_info}"
        );
    }
}

/// Scripts as associated functions: a type that groups its scripts.
struct Counter;

impl Counter {
    /// Multiplies the number at `key`.
    #[redis_script("multiply.lua")]
    pub fn multiply(key: &str, multiplier: i64) -> i64;

    #[redis_script("push_and_sum.lua")]
    fn push_and_sum(list: &str, sum: &str, values: &[i64]) -> i64;
}

#[test]
fn scripts_can_be_associated_functions() {
    let (_s, mut con) = server();
    redis::cmd("SET").arg("n").arg(7).exec(&mut con).unwrap();
    assert_eq!(Counter::multiply("n", 3).invoke(&mut con).unwrap(), 21);
    assert_eq!(
        Counter::push_and_sum("l", "s", &[1, 2])
            .invoke(&mut con)
            .unwrap(),
        3
    );
    // The handle is an associated const, the same script as the module's.
    assert_eq!(Counter::MULTIPLY.sha1(), MULTIPLY.sha1());
    assert_eq!(Counter::MULTIPLY.name(), "multiply");
    assert_eq!(
        Counter::multiply("n", 1).script().sha1(),
        Counter::MULTIPLY.sha1()
    );
    // It is registered for load_all like any other script.
    assert!(redlua::scripts().any(|s| std::ptr::eq(s, Counter::PUSH_AND_SUM)));
    redis::cmd("SCRIPT").arg("FLUSH").exec(&mut con).unwrap();
    redlua::load(&mut con, &[Counter::PUSH_AND_SUM]).unwrap();
    let loaded: Vec<bool> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(Counter::PUSH_AND_SUM.sha1())
        .query(&mut con)
        .unwrap();
    assert_eq!(loaded, vec![true]);
}

#[test]
fn a_call_is_clone_and_fits_a_plain_redis_pipeline() {
    let (_s, mut con) = server();
    redlua::load(&mut con, &[MULTIPLY]).unwrap();
    let call = multiply("n", 3);
    let again = call.clone();
    let (_, reply): ((), redis::Value) = redis::pipe()
        .cmd("SET")
        .arg("n")
        .arg(7)
        .add_command(call.cmd().clone())
        .query(&mut con)
        .unwrap();
    assert_eq!(call.decode(reply).unwrap(), 21);
    assert_eq!(again.invoke(&mut con).unwrap(), 21);
    // A plain pipeline does not load: after a flush the entry is NOSCRIPT,
    // which decode reports as the error it is (nothing ran); without
    // `ignore_errors` redis-rs fails the whole pipeline on it.
    redis::cmd("SCRIPT").arg("FLUSH").exec(&mut con).unwrap();
    let (reply,): (redis::Value,) = redis::pipe()
        .ignore_errors()
        .add_command(call.cmd().clone())
        .query(&mut con)
        .unwrap();
    let err = call.decode(reply).unwrap_err();
    assert_eq!(err.outcome(), redlua::Outcome::Refused, "{err}");
    assert!(redlua::scripts().len() >= 4);
}
