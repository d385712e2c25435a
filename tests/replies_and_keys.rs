//! `%return redis` (redis-rs's own decoding), binary keys, every variadic
//! `IntoIterator` form, and what a bad reply's error says, against a real
//! redis-server.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use redlua::redis_script;
use redlua::testing::RedisServer;

fn server() -> (RedisServer, redis::Connection) {
    let server = RedisServer::start().expect("start redis-server");
    let con = server.connection();
    (server, con)
}

#[redis_script("types/zrange_scores.lua")]
fn scores(key: &str) -> Vec<(String, f64)>;

#[redis_script("types/hgetall.lua")]
fn hgetall(key: &str) -> HashMap<String, String>;

#[redis_script("types/nested.lua")]
fn nested() -> (String, (i64, f64), Vec<String>);

#[test]
fn redis_return_decodes_by_redis_rs_rules() {
    let (_s, mut con) = server();
    redis::cmd("ZADD")
        .arg("z")
        .arg(1.5)
        .arg("a")
        .arg(2)
        .arg("b")
        .exec(&mut con)
        .unwrap();
    assert_eq!(
        scores("z").invoke(&mut con).unwrap(),
        vec![("a".to_owned(), 1.5), ("b".to_owned(), 2.0)]
    );
    redis::cmd("HSET")
        .arg("h")
        .arg("f1")
        .arg("v1")
        .arg("f2")
        .arg("v2")
        .exec(&mut con)
        .unwrap();
    let h = hgetall("h").invoke(&mut con).unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!((h["f1"].as_str(), h["f2"].as_str()), ("v1", "v2"));
    assert_eq!(
        nested().invoke(&mut con).unwrap(),
        (
            "job".to_owned(),
            (7, 2.5),
            vec!["a".to_owned(), "b".to_owned()]
        )
    );
}

#[redis_script("types/zrange_scores.lua")]
fn scores_as_ints(key: &str) -> Vec<(String, i64)>;

#[test]
fn redis_return_mismatch_is_a_decode_error_with_redis_rs_reason() {
    let (_s, mut con) = server();
    redis::cmd("ZADD")
        .arg("z")
        .arg(1.5)
        .arg("a")
        .exec(&mut con)
        .unwrap();
    let e = scores_as_ints("z").invoke(&mut con).unwrap_err();
    let d = e.as_decode_error().expect("a decode error");
    assert_eq!(d.expected(), "Vec<(String, i64)>");
    let text = e.to_string();
    assert!(
        text.contains("does not decode as Vec<(String, i64)>"),
        "{text}"
    );
}

#[redis_script("types/key_roundtrip.lua")]
fn roundtrip<K: redlua::arg::Key>(key: K, value: &[u8]) -> Vec<u8>;

#[redis_script("types/key_roundtrip.lua")]
fn roundtrip_slice(key: &[u8], value: &[u8]) -> Vec<u8>;

#[redis_script("types/key_roundtrip.lua")]
fn roundtrip_vec(key: Vec<u8>, value: &[u8]) -> Vec<u8>;

#[redis_script("types/key_roundtrip.lua")]
fn roundtrip_array(key: [u8; 3], value: &[u8]) -> Vec<u8>;

#[redis_script("types/key_roundtrip.lua")]
fn roundtrip_cow(key: Cow<[u8]>, value: &[u8]) -> Vec<u8>;

#[redis_script("types/key_roundtrip.lua")]
fn roundtrip_arc(key: Arc<str>, value: &[u8]) -> Vec<u8>;

#[redis_script("types/key_roundtrip.lua")]
fn roundtrip_box(key: Box<str>, value: &[u8]) -> Vec<u8>;

fn stored(con: &mut redis::Connection, key: &[u8]) -> Option<Vec<u8>> {
    redis::cmd("GET").arg(key).query(con).unwrap()
}

#[test]
fn binary_keys_are_used_as_their_exact_bytes() {
    let (_s, mut con) = server();
    // Not UTF-8: 0xff never appears in UTF-8 text.
    let raw: [u8; 3] = [0xff, 0x00, 0xfe];
    assert_eq!(roundtrip_slice(&raw, b"s").invoke(&mut con).unwrap(), b"s");
    assert_eq!(stored(&mut con, &raw).as_deref(), Some(&b"s"[..]));
    assert_eq!(
        roundtrip_vec(raw.to_vec(), b"v").invoke(&mut con).unwrap(),
        b"v"
    );
    assert_eq!(stored(&mut con, &raw).as_deref(), Some(&b"v"[..]));
    assert_eq!(roundtrip_array(raw, b"a").invoke(&mut con).unwrap(), b"a");
    assert_eq!(
        roundtrip_cow(Cow::Borrowed(&raw[..]), b"c")
            .invoke(&mut con)
            .unwrap(),
        b"c"
    );
    assert_eq!(stored(&mut con, &raw).as_deref(), Some(&b"c"[..]));
    // The UTF-8 form of those bytes is a different key, never written.
    assert_eq!(stored(&mut con, "\u{fffd}\0\u{fffd}".as_bytes()), None);

    assert_eq!(
        roundtrip_arc(Arc::from("k:arc"), b"1")
            .invoke(&mut con)
            .unwrap(),
        b"1"
    );
    assert_eq!(stored(&mut con, b"k:arc").as_deref(), Some(&b"1"[..]));
    assert_eq!(
        roundtrip_box(Box::from("k:box"), b"2")
            .invoke(&mut con)
            .unwrap(),
        b"2"
    );
    assert_eq!(stored(&mut con, b"k:box").as_deref(), Some(&b"2"[..]));
    // A generic bounded by the public trait takes both kinds.
    assert_eq!(roundtrip("k:gen", b"3").invoke(&mut con).unwrap(), b"3");
    assert_eq!(
        roundtrip(&b"k:\xffgen"[..], b"4").invoke(&mut con).unwrap(),
        b"4"
    );
    assert_eq!(stored(&mut con, b"k:\xffgen").as_deref(), Some(&b"4"[..]));
}

#[redis_script("types/keys_echo.lua")]
fn keys_btree(keys: &BTreeSet<String>) -> Vec<Vec<u8>>;

#[redis_script("types/keys_echo.lua")]
fn keys_hash(keys: &HashSet<&str>) -> Vec<Vec<u8>>;

#[redis_script("types/keys_echo.lua")]
fn keys_deque(keys: VecDeque<Vec<u8>>) -> Vec<Vec<u8>>;

#[redis_script("types/keys_echo.lua")]
fn keys_iter(keys: impl IntoIterator<Item = String>) -> Vec<Vec<u8>>;

#[redis_script("types/args_echo.lua")]
fn args_btree(values: &BTreeSet<String>) -> Vec<String>;

#[redis_script("types/args_echo.lua")]
fn args_iter(values: impl IntoIterator<Item = &'static str>) -> Vec<String>;

#[test]
fn variadics_take_every_into_iterator() {
    let (_s, mut con) = server();
    let set: BTreeSet<String> = ["b", "a", "c"].iter().map(|s| s.to_string()).collect();
    assert_eq!(
        keys_btree(&set).invoke(&mut con).unwrap(),
        vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
    );
    let hs: HashSet<&str> = ["x", "y"].into_iter().collect();
    let mut got = keys_hash(&hs).invoke(&mut con).unwrap();
    got.sort();
    assert_eq!(got, vec![b"x".to_vec(), b"y".to_vec()]);
    let dq: VecDeque<Vec<u8>> = [vec![0xff], vec![0x01]].into_iter().collect();
    assert_eq!(
        keys_deque(dq).invoke(&mut con).unwrap(),
        vec![vec![0xff], vec![0x01]]
    );
    // `filter` has no exact size: the keys are counted by collecting them.
    let odd = (1..=5).filter(|n| n % 2 == 1).map(|n| format!("k{n}"));
    assert_eq!(
        keys_iter(odd).invoke(&mut con).unwrap(),
        vec![b"k1".to_vec(), b"k3".to_vec(), b"k5".to_vec()]
    );
    assert_eq!(
        args_btree(&set).invoke(&mut con).unwrap(),
        vec!["a", "b", "c"]
    );
    assert_eq!(
        args_iter(["p", "q", "r"].into_iter().filter(|s| *s != "q"))
            .invoke(&mut con)
            .unwrap(),
        vec!["p", "r"]
    );
}

#[redis_script("types/mixed_ints.lua")]
fn mixed_ints() -> Vec<i64>;

#[redis_script("types/raw_table.lua")]
fn raw_table() -> HashMap<String, i64>;

#[test]
fn decode_errors_name_the_element_and_the_fix() {
    let (_s, mut con) = server();
    let e = mixed_ints().invoke(&mut con).unwrap_err();
    let d = e.as_decode_error().expect("a decode error");
    assert_eq!(d.index(), Some(2));
    assert_eq!(
        e.to_string(),
        "script `mixed_ints` (lua/types/mixed_ints.lua): reply does not decode as int: \
         element 2 (0-based) of the array reply: got bulk string \"three\""
    );
    let e = raw_table().invoke(&mut con).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("as HashMap<String, i64>"), "{text}");
    assert!(text.contains("return cjson.encode(t)"), "{text}");
}
