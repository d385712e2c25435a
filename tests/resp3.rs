//! Every header type decodes a reply alike on RESP2 and RESP3: the same
//! Rust value, or a `Decode` error on both. The scripts return each RESP3
//! reply type (`{map=...}`, `{big_number=...}`, `{double=...}`, sets,
//! verbatim strings, `redis.setresp(3)` booleans, a RESP3 `HGETALL`).

use std::collections::HashMap;
use std::fmt::Debug;

use redlua::redis_script;
use redlua::testing::RedisServer;

// The scripts call `redis.setresp(3)` on purpose; under a nullable
// `%return` the check warns that `false` is then no longer null.

#[allow(deprecated)]
#[redis_script("resp3/int.lua")]
fn as_int(hash: &str, kind: &str) -> Option<i64>;

#[allow(deprecated)]
#[redis_script("resp3/float.lua")]
fn as_float(hash: &str, kind: &str) -> Option<f64>;

#[allow(deprecated)]
#[redis_script("resp3/str.lua")]
fn as_str(hash: &str, kind: &str) -> Option<String>;

#[allow(deprecated)]
#[redis_script("resp3/bytes.lua")]
fn as_bytes(hash: &str, kind: &str) -> Option<Vec<u8>>;

#[allow(deprecated)]
#[redis_script("resp3/bool.lua")]
fn as_bool(hash: &str, kind: &str) -> bool;

#[redis_script("resp3/str_array.lua")]
fn as_strs(hash: &str, kind: &str) -> Vec<String>;

#[allow(deprecated)]
#[redis_script("resp3/int_array.lua")]
fn as_ints(hash: &str, kind: &str) -> Vec<Option<i64>>;

#[redis_script("resp3/redis.lua")]
fn as_map(hash: &str, kind: &str) -> std::collections::BTreeMap<String, String>;

#[redis_script("resp3/redis.lua")]
fn as_value(hash: &str, kind: &str) -> redis::Value;

const KINDS: &[&str] = &[
    "map",
    "big_number",
    "double",
    "whole_double",
    "set",
    "verbatim",
    "true",
    "false",
    "hgetall",
    "array",
    "nil",
];

/// `Ok(value)` as text, or the error's kind: what must agree.
fn outcome<T: Debug>(r: Result<T, redlua::Error>) -> String {
    match r {
        Ok(v) => format!("Ok({v:?})"),
        Err(redlua::Error::Decode(_)) => "Decode error".to_owned(),
        Err(e) => panic!("only a value or a Decode error is expected, got {e}"),
    }
}

struct Connections {
    resp2: redis::Connection,
    resp3: redis::Connection,
}

impl Connections {
    fn open(server: &RedisServer) -> Connections {
        let client = |url: String| redis::Client::open(url).unwrap().get_connection().unwrap();
        let mut resp3 = client(format!("{}?protocol=resp3", server.url()));
        let hello: HashMap<String, redis::Value> = redis::cmd("HELLO").query(&mut resp3).unwrap();
        assert_eq!(hello["proto"], redis::Value::Int(3), "RESP3 connection");
        Connections {
            resp2: client(server.url()),
            resp3,
        }
    }

    /// Runs `call` on both connections; asserts both agree and returns
    /// what they said.
    fn both<T: Debug>(
        &mut self,
        what: &str,
        kind: &str,
        call: impl Fn(&mut redis::Connection) -> Result<T, redlua::Error>,
    ) -> String {
        let two = outcome(call(&mut self.resp2));
        let three = outcome(call(&mut self.resp3));
        assert_eq!(
            two, three,
            "{what} of `{kind}`: RESP2 said {two}, RESP3 {three}"
        );
        two
    }
}

#[test]
fn every_header_type_decodes_resp2_and_resp3_alike() {
    let server = RedisServer::start().expect("start redis-server");
    let mut c = Connections::open(&server);
    redis::cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("v")
        .exec(&mut c.resp2)
        .unwrap();
    let mut table = Vec::new();
    for kind in KINDS {
        let k = *kind;
        table.push((
            k,
            [
                c.both("int?", k, |con| as_int("h", k).invoke(con)),
                c.both("float?", k, |con| as_float("h", k).invoke(con)),
                c.both("str?", k, |con| as_str("h", k).invoke(con)),
                c.both("bytes?", k, |con| as_bytes("h", k).invoke(con)),
                c.both("bool", k, |con| as_bool("h", k).invoke(con)),
                c.both("str[]", k, |con| as_strs("h", k).invoke(con)),
                c.both("int?[]", k, |con| as_ints("h", k).invoke(con)),
                c.both("redis HashMap", k, |con| as_map("h", k).invoke(con)),
                c.both("redis Value", k, |con| as_value("h", k).invoke(con)),
            ],
        ));
    }
    for (kind, row) in &table {
        println!("{kind:>12}: {}", row.join(" | "));
    }
    let row = |kind: &str| &table.iter().find(|(k, _)| *k == kind).unwrap().1;
    // What a user can rely on, spelled out.
    assert_eq!(row("map")[5], r#"Ok(["a", "1"])"#);
    assert_eq!(row("map")[7], r#"Ok({"a": "1"})"#);
    assert_eq!(row("hgetall")[7], r#"Ok({"f": "v"})"#);
    let v = server.server_version();
    if v.is_redis() && v.numbers() < (7, 0, 0) {
        println!(
            "{v:?}: Lua has no `{{big_number=...}}` or `{{verbatim_string=...}}` before \
             Redis 7.0 (an empty table): their values are not checked"
        );
    } else {
        assert_eq!(row("big_number")[0], "Decode error"); // beyond i64
        assert_eq!(row("big_number")[2], r#"Ok(Some("12345678901234567890"))"#);
        assert_eq!(row("verbatim")[2], r#"Ok(Some("hi"))"#);
    }
    assert_eq!(row("double")[1], "Ok(Some(1.5))");
    assert_eq!(row("double")[2], r#"Ok(Some("1.5"))"#);
    assert_eq!(row("whole_double")[0], "Ok(Some(3))");
    assert_eq!(row("set")[5], r#"Ok(["x"])"#);
    assert_eq!(row("true")[4], "Ok(true)");
    assert_eq!(row("false")[4], "Ok(false)");
    // After redis.setresp(3) a Lua `false` is the integer 0 on RESP2, so
    // it is 0 on RESP3 too, not null (return `nil` for null).
    assert_eq!(row("false")[0], "Ok(Some(0))");
    assert_eq!(row("array")[6], "Decode error"); // "x" is not an int
    assert_eq!(row("nil")[0], "Ok(None)");
}
