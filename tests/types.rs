//! Every header type in both directions, null handling, binary and unicode
//! values, against a real redis-server.

use std::collections::{BTreeMap, HashMap};

use redlua::redis_script;
use redlua::testing::RedisServer;
use serde::{Deserialize, Serialize};

#[redis_script("types/int.lua")]
fn int_echo(value: i64) -> i64;

#[redis_script("types/int.lua")]
fn int_echo_u8(value: u8) -> u8;

#[redis_script("types/float.lua")]
fn float_echo(value: f64) -> f64;

#[redis_script("types/float.lua")]
fn float32_echo(value: f32) -> f32;

#[redis_script("types/str.lua")]
fn str_echo(value: &str) -> String;

#[redis_script("types/str.lua")]
fn string_echo(value: String) -> String;

#[redis_script("types/bytes.lua")]
fn bytes_echo(value: &[u8]) -> Vec<u8>;

#[redis_script("types/bool.lua")]
fn bool_echo(value: bool) -> bool;

#[redis_script("types/list.lua")]
fn list_echo(value: &[i64]) -> Vec<i64>;

#[redis_script("types/dict.lua")]
fn dict_echo(value: &HashMap<String, String>) -> HashMap<String, String>;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Counter {
    name: String,
    count: i64,
    tags: Vec<String>,
}

#[redis_script("types/json.lua")]
fn json_bump(value: &Counter) -> Counter;

#[redis_script("types/variadic.lua")]
fn variadic(first: &str, rest: &[&str], scale: i64, values: Vec<i64>) -> Vec<String>;

#[redis_script("types/maybe_int.lua")]
fn maybe_int(present: bool) -> Option<i64>;

#[redis_script("types/hmget.lua")]
fn hmget(hash: &str, fields: &[&str]) -> Vec<Option<String>>;

#[redis_script("types/nothing.lua")]
fn set_unit(key: &str, value: &str);

#[redis_script("types/nothing.lua")]
fn set_raw(key: &str, value: &str) -> redis::Value;

#[redis_script("types/null_int.lua")]
fn null_int() -> i64;

#[redis_script("types/dict.lua")]
fn bad_dict(value: &BTreeMap<(u8, u8), u8>) -> HashMap<String, String>;

fn server() -> (RedisServer, redis::Connection) {
    let server = RedisServer::start().expect("start redis-server");
    let con = server.connection();
    (server, con)
}

#[test]
fn ints_round_trip_at_the_edges_lua_can_hold() {
    let (_s, mut con) = server();
    // Lua numbers are doubles: integers round-trip exactly up to 2^53.
    for v in [0, 1, -1, 42, 1 << 53, -(1 << 53)] {
        assert_eq!(int_echo(v).invoke(&mut con).unwrap(), v);
    }
    assert_eq!(int_echo_u8(255).invoke(&mut con).unwrap(), 255);
}

#[redis_script("types/int_text.lua")]
fn u128_text(value: u128) -> String;

#[redis_script("types/int_text.lua")]
fn i128_text(value: i128) -> String;

#[redis_script("types/int_text.lua")]
fn u64_text(value: u64) -> String;

#[redis_script("types/int_count.lua")]
fn int_count(k: &str, n: i64) -> i64;

#[redis_script("types/int_count.lua")]
fn int_count_u64(k: &str, n: u64) -> i64;

#[test]
fn ints_are_exact_within_2_pow_53_and_refused_beyond_it() {
    let (_s, mut con) = server();
    let edge: i64 = 1 << 53;
    // Every width carries an exact value within ±2^53.
    assert_eq!(
        u64_text(edge as u64).invoke(&mut con).unwrap(),
        edge.to_string()
    );
    assert_eq!(u128_text(7).invoke(&mut con).unwrap(), "7");
    assert_eq!(
        i128_text(-(edge as i128)).invoke(&mut con).unwrap(),
        (-edge).to_string()
    );
    assert_eq!(int_count("calls", edge).invoke(&mut con).unwrap(), edge);
    assert_eq!(int_count("calls", -edge).invoke(&mut con).unwrap(), -edge);
    // One past it, Lua would round (2^53 + 1 arrives as 2^53): an encode
    // error naming the parameter, and nothing sent.
    let refused: Vec<redlua::Error> = vec![
        int_count("calls", edge + 1).invoke(&mut con).unwrap_err(),
        int_count("calls", -edge - 1).invoke(&mut con).unwrap_err(),
        int_count("calls", i64::MAX).invoke(&mut con).unwrap_err(),
        int_count_u64("calls", u64::MAX)
            .invoke(&mut con)
            .unwrap_err(),
        u128_text(u128::MAX).invoke(&mut con).unwrap_err(),
        i128_text(i128::MIN).invoke(&mut con).unwrap_err(),
    ];
    for e in &refused {
        match e {
            redlua::Error::Encode(enc) => {
                assert!(["n", "value"].contains(&enc.param()), "{e}");
                assert!(e.to_string().contains("outside ±2^53"), "{e}");
            }
            other => panic!("expected an encode error, got {other:?}"),
        }
    }
    let calls: i64 = redis::cmd("GET").arg("calls").query(&mut con).unwrap();
    assert_eq!(calls, 2, "the refused calls ran nothing");
}

#[test]
fn floats_round_trip_exactly() {
    let (_s, mut con) = server();
    for v in [0.1, -2.5, 1.0 / 3.0, 1e300, 5e-324, 123456.789] {
        assert_eq!(float_echo(v).invoke(&mut con).unwrap(), v, "value {v}");
    }
    assert_eq!(float32_echo(0.1f32).invoke(&mut con).unwrap(), 0.1f32);
    assert!(float_echo(f64::INFINITY)
        .invoke(&mut con)
        .unwrap()
        .is_infinite());
}

#[test]
fn strings_unicode_empty_and_binary() {
    let (_s, mut con) = server();
    for v in [
        "",
        "hello",
        "héllo wörld ✓ 日本語 🎉",
        "line\nbreak\r\n\0nul",
    ] {
        assert_eq!(str_echo(v).invoke(&mut con).unwrap(), v);
        assert_eq!(string_echo(v.to_owned()).invoke(&mut con).unwrap(), v);
    }
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(bytes_echo(&all).invoke(&mut con).unwrap(), all);
    assert_eq!(bytes_echo(&[]).invoke(&mut con).unwrap(), Vec::<u8>::new());
    // A str reply that is not UTF-8 is a decode error, not garbage.
    let err = str_of_hex("fffe").invoke(&mut con).unwrap_err();
    assert!(
        matches!(&err, redlua::Error::Decode(d) if d.expected() == "UTF-8 str"),
        "{err}"
    );
}

#[redis_script("types/str_of_hex.lua")]
fn str_of_hex(hex: &str) -> String;

#[test]
fn bools_both_ways() {
    let (_s, mut con) = server();
    assert!(bool_echo(true).invoke(&mut con).unwrap());
    // Lua false arrives as null, which is false for bool.
    assert!(!bool_echo(false).invoke(&mut con).unwrap());
}

#[test]
fn list_dict_and_json_travel_as_json() {
    let (_s, mut con) = server();
    assert_eq!(
        list_echo(&[1, 2, 3]).invoke(&mut con).unwrap(),
        vec![1, 2, 3]
    );
    let mut m = HashMap::new();
    m.insert("a".to_owned(), "1".to_owned());
    m.insert("ключ".to_owned(), "значение".to_owned());
    assert_eq!(dict_echo(&m).invoke(&mut con).unwrap(), m);
    let c = Counter {
        name: "hits".into(),
        count: 41,
        tags: vec!["x".into(), "y".into()],
    };
    let out = json_bump(&c).invoke(&mut con).unwrap();
    assert_eq!(out, Counter { count: 42, ..c });
}

#[test]
fn a_value_that_cannot_be_encoded_is_an_error_and_nothing_is_sent() {
    let (_s, mut con) = server();
    let mut m = BTreeMap::new();
    m.insert((1u8, 2u8), 3u8);
    let err = bad_dict(&m).invoke(&mut con).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("bad_dict") && text.contains("value"),
        "{text}"
    );
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut con)
        .unwrap();
    assert!(!stats.contains("cmdstat_evalsha"), "{stats}");
}

#[test]
fn variadic_keys_and_args_bind_tables_and_keep_keys_argv() {
    let (_s, mut con) = server();
    let out = variadic("k1", &["k2", "k3"], 10, vec![1, 2])
        .invoke(&mut con)
        .unwrap();
    assert_eq!(out, vec!["k1|k2,k3|10", "k1|k2,k3|20", "3/3/2"]);
    // Empty variadics are fine.
    let out = variadic("k1", &[], 1, vec![]).invoke(&mut con).unwrap();
    assert_eq!(out, vec!["1/1/0"]);
    // Large variadic lists do not overflow Lua's stack.
    let many: Vec<i64> = (0..20_000).collect();
    let out = variadic("k", &[], 1, many).invoke(&mut con).unwrap();
    assert_eq!(out.len(), 20_001);
    assert_eq!(out[20_000], "1/20001/-1");
    assert_eq!(out[19_999], "k||19999");
}

#[test]
fn nulls_follow_the_header() {
    let (_s, mut con) = server();
    assert_eq!(maybe_int(true).invoke(&mut con).unwrap(), Some(7));
    assert_eq!(maybe_int(false).invoke(&mut con).unwrap(), None);
    let err = null_int().invoke(&mut con).unwrap_err();
    match &err {
        redlua::Error::Decode(d) => {
            assert_eq!(d.script_name(), "null_int");
            assert_eq!(d.got(), "null");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("null_int") && text.contains("%return int?"),
        "{text}"
    );

    redis::cmd("HSET")
        .arg("h")
        .arg("a")
        .arg("1")
        .exec(&mut con)
        .unwrap();
    assert_eq!(
        hmget("h", &["a", "missing"]).invoke(&mut con).unwrap(),
        vec![Some("1".to_owned()), None]
    );
}

#[test]
fn without_return_the_reply_is_discarded_or_raw() {
    let (_s, mut con) = server();
    set_unit("k", "v").invoke(&mut con).unwrap();
    let got: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(got, "v");
    let raw = set_raw("k", "w").invoke(&mut con).unwrap();
    assert_eq!(
        raw,
        redis::Value::Array(vec![
            redis::Value::Int(1),
            redis::Value::BulkString(b"two".to_vec()),
            redis::Value::Array(vec![redis::Value::Int(3)]),
        ])
    );
}

#[test]
fn every_type_decodes_the_same_on_a_resp3_connection() {
    let server = RedisServer::start().expect("start redis-server");
    let url = format!("{}?protocol=resp3", server.url());
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    let info: HashMap<String, redis::Value> = redis::cmd("HELLO").query(&mut con).unwrap();
    assert_eq!(
        info["proto"],
        redis::Value::Int(3),
        "the connection speaks RESP3"
    );

    assert_eq!(int_echo(-7).invoke(&mut con).unwrap(), -7);
    assert_eq!(float_echo(0.1).invoke(&mut con).unwrap(), 0.1);
    assert_eq!(str_echo("héllo").invoke(&mut con).unwrap(), "héllo");
    assert_eq!(
        bytes_echo(&[0, 255]).invoke(&mut con).unwrap(),
        vec![0, 255]
    );
    assert!(bool_echo(true).invoke(&mut con).unwrap());
    assert!(!bool_echo(false).invoke(&mut con).unwrap());
    assert_eq!(list_echo(&[1, 2]).invoke(&mut con).unwrap(), vec![1, 2]);
    let dict = HashMap::from([("a".to_string(), "b".to_string())]);
    assert_eq!(dict_echo(&dict).invoke(&mut con).unwrap(), dict);
    let counter = Counter {
        name: "c".into(),
        count: 1,
        tags: vec!["t".into()],
    };
    assert_eq!(json_bump(&counter).invoke(&mut con).unwrap().count, 2);
    assert_eq!(maybe_int(false).invoke(&mut con).unwrap(), None);
    assert_eq!(maybe_int(true).invoke(&mut con).unwrap(), Some(7));
    redis::cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("v")
        .exec(&mut con)
        .unwrap();
    assert_eq!(
        hmget("h", &["f", "missing"]).invoke(&mut con).unwrap(),
        vec![Some("v".to_string()), None]
    );
    set_unit("k", "v").invoke(&mut con).unwrap();
    let err = null_int().invoke(&mut con).unwrap_err();
    assert!(matches!(err, redlua::Error::Decode(_)), "{err:?}");

    // A transaction after SCRIPT FLUSH: loads and EXEC's reply under RESP3.
    redis::cmd("SCRIPT").arg("FLUSH").exec(&mut con).unwrap();
    let mut p = redlua::pipe();
    p.atomic();
    let a = p.add(bool_echo(true));
    let b = p.add(dict_echo(&dict));
    let c = p.cmd(redis::cmd("GET").arg("k")).returning::<String>();
    let results = p.query(&mut con).unwrap();
    assert!(results.get(a).unwrap());
    assert_eq!(results.get(b).unwrap(), dict);
    assert_eq!(results.get(c).unwrap(), "v");
}
