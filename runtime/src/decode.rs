//! How a script's reply becomes the declared Rust return type.
//!
//! The macro composes these functions from the `%return` directive (for
//! example `%return str?[]` is `array(v, |e| opt(e, string))`), so each call
//! decodes by its own header's rules with no run-time dispatch on the type.

use redis::Value;

/// Why a reply did not decode: what the header promised, and what came.
#[derive(Debug)]
pub enum Fail {
    Mismatch {
        expected: &'static str,
        got: Value,
    },
    /// An error reply where a value was expected (e.g. `{err=...}` inside a table).
    Server(redis::ServerError),
    /// `list`/`dict`/`json` got a reply that is not text: the script
    /// returned a Lua table (or number) instead of `cjson.encode(t)`.
    NotJson {
        expected: &'static str,
        got: Value,
    },
    /// `%return redis`: redis-rs's `FromRedisValue` refused the reply; its
    /// message describes the reply.
    Parse {
        expected: &'static str,
        message: String,
    },
    /// `TYPE[]`: element `index` did not decode.
    Element {
        index: usize,
        fail: Box<Fail>,
    },
}

pub type Decoded<T> = Result<T, Fail>;

fn mismatch<T>(expected: &'static str, got: Value) -> Decoded<T> {
    match got {
        Value::ServerError(e) => Err(Fail::Server(e)),
        got => Err(Fail::Mismatch { expected, got }),
    }
}

/// A RESP3 reply as the server would have sent it to a RESP2 client, so a
/// header type decodes alike on both protocols (the RESP2 form is the one
/// every reply has: a RESP3 value only adds a type on top of it).
///
/// `Boolean` (a script after `redis.setresp(3)`) is RESP2's `1`/`0`, `Map`
/// the flat `k1, v1, k2, v2` array, `Set` an array, `Double` and
/// `BigNumber` their text. Only the top level is converted; arrays convert
/// each element as they decode it. Any other value is returned as it is.
#[inline(always)]
pub(crate) fn as_resp2(v: Value) -> Value {
    match v {
        // The RESP3-only types, off the hot path: a RESP2 reply passes
        // through as it is, without a call.
        Value::Boolean(_)
        | Value::Double(_)
        | Value::BigNumber(_)
        | Value::VerbatimString { .. }
        | Value::Map(_)
        | Value::Set(_)
        | Value::Attribute { .. } => resp3_as_resp2(v),
        v => v,
    }
}

#[cold]
fn resp3_as_resp2(v: Value) -> Value {
    match v {
        Value::Boolean(b) => Value::Int(b.into()),
        Value::Double(f) => Value::BulkString(double_text(f).into_bytes()),
        Value::BigNumber(n) => Value::BulkString(big_number_digits(&n).into_bytes()),
        Value::VerbatimString { text, .. } => Value::BulkString(text.into_bytes()),
        Value::Map(pairs) => Value::Array(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
        Value::Set(items) => Value::Array(items),
        Value::Attribute { data, .. } => as_resp2(*data),
        v => v,
    }
}

/// [`as_resp2`] all the way down, for decoders that read nested replies.
fn as_resp2_deep(v: Value) -> Value {
    match as_resp2(v) {
        Value::Array(items) => Value::Array(items.into_iter().map(as_resp2_deep).collect()),
        v => v,
    }
}

/// The digits of a RESP3 big number. redis-rs holds them as bytes, or as a
/// `BigInt` when some crate in the build enables its `num-bigint` feature
/// (features unify, so this crate cannot choose): both print their digits
/// through `Debug`, the bytes as a list of their codes.
fn big_number_digits(n: &impl std::fmt::Debug) -> String {
    let text = format!("{n:?}");
    match text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(codes) => codes
            .split(", ")
            .filter_map(|c| c.parse::<u8>().ok())
            .map(char::from)
            .collect(),
        None => text,
    }
}

/// A double as Redis 7.2+ and Valkey write it to a RESP2 client: the
/// shortest text that reads back as the same number, in plain notation
/// unless the number is very large or very small (`1e+20`, `1e-7`).
/// (Redis 7.0 and before write 17 significant digits instead, so a double
/// like 0.1 reads "0.10000000000000001" there on RESP2; `%return float`
/// gets the same number either way.)
pub(crate) fn double_text(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f == 0.0 {
        return format!("{sign}0");
    }
    // `{:e}` gives the shortest round-trip digits: `d.ddde[-]x`.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let n = digits.len() as i32;
    // The exponent of the last digit, and where the decimal point goes.
    let last = exp - (n - 1);
    let point = n + last;
    if last >= 0 && point <= 20 {
        format!("{sign}{digits}{}", "0".repeat(last as usize))
    } else if last < 0 && last > -(n + 6) {
        if point > 0 {
            let (int, frac) = digits.split_at(point as usize);
            format!("{sign}{int}.{frac}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        }
    } else {
        let exp_sign = if exp < 0 { "-" } else { "+" };
        format!("{sign}{mantissa}e{exp_sign}{}", exp.abs())
    }
}

/// Return types accepted for `%return int`: every integer type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold a `%return int` reply",
    label = "expected an integer type",
    note = "`%return int` decodes into any integer type (`i64`, `u32`, ...)"
)]
pub trait FromInt: Sized {
    /// `i128` so a text or big-number reply beyond `i64` (up to `u64::MAX`
    /// and beyond) still reaches a type that can hold it.
    fn from_i128(v: i128) -> Option<Self>;
}

macro_rules! from_int_impls {
    ($($t:ty)*) => {$(
        impl FromInt for $t {
            #[inline]
            fn from_i128(v: i128) -> Option<Self> {
                <$t>::try_from(v).ok()
            }
        }
    )*};
}
from_int_impls!(i8 i16 i32 i64 i128 isize u8 u16 u32 u64 u128 usize);

/// Return types accepted for `%return float`: `f32`, `f64`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold a `%return float` reply",
    label = "expected `f32` or `f64`"
)]
pub trait FromFloat: Sized {
    fn from_f64(v: f64) -> Self;
}
impl FromFloat for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
}
impl FromFloat for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

/// The reply is discarded; an error reply is still an error.
#[inline]
pub fn unit(v: Value) -> Decoded<()> {
    match v {
        Value::ServerError(e) => Err(Fail::Server(e)),
        _ => Ok(()),
    }
}

/// The raw reply, for scripts without `%return`.
#[inline]
pub fn raw(v: Value) -> Decoded<Value> {
    match v {
        Value::ServerError(e) => Err(Fail::Server(e)),
        v => Ok(v),
    }
}

#[inline]
pub fn int<T: FromInt>(v: Value) -> Decoded<T> {
    const EXPECTED: &str = "int";
    let v = as_resp2(v);
    let n = match &v {
        Value::Int(n) => Some(i128::from(*n)),
        // A script may return digits as a string (e.g. a value it read with GET).
        Value::BulkString(b) => std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    };
    match n.map(T::from_i128) {
        Some(Some(n)) => Ok(n),
        Some(None) => mismatch("int in the range of the declared Rust type", v),
        None => mismatch(EXPECTED, v),
    }
}

#[inline]
pub fn float<T: FromFloat>(v: Value) -> Decoded<T> {
    // The number itself, not its text: exact on RESP3.
    if let Value::Double(f) = v {
        return Ok(T::from_f64(f));
    }
    let v = as_resp2(v);
    let f = match &v {
        // Lua numbers become integers on the way out; floats come as text.
        Value::Int(n) => Some(*n as f64),
        Value::BulkString(b) => std::str::from_utf8(b).ok().and_then(parse_lua_number),
        Value::SimpleString(s) => parse_lua_number(s),
        _ => None,
    };
    match f {
        Some(f) => Ok(T::from_f64(f)),
        None => mismatch("float", v),
    }
}

/// Reads a number as Lua's `tostring` writes it (`inf`, `-inf`, `nan`, `-nan` included).
fn parse_lua_number(s: &str) -> Option<f64> {
    match s {
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        "nan" | "-nan" => Some(f64::NAN),
        s => s.parse().ok(),
    }
}

// The three traits below are written out, not made by a macro: a macro's
// impl would show in the compiler's error for a wrong return type.

/// Return types accepted for `%return str`: `String` (or an alias of it).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold a `%return str` reply",
    label = "expected `String`",
    note = "`%return str` decodes into `String`; for your own type declare `%return json` (serde) or `%return redis` (`redis::FromRedisValue`)"
)]
pub trait FromStrReply: Sized {
    fn from_string(s: String) -> Self;
}
impl FromStrReply for String {
    #[inline]
    fn from_string(s: String) -> Self {
        s
    }
}

/// Return types accepted for `%return bytes`: `Vec<u8>` (or an alias of it).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold a `%return bytes` reply",
    label = "expected `Vec<u8>`",
    note = "`%return bytes` decodes into `Vec<u8>`; for your own type declare `%return redis` (`redis::FromRedisValue`)"
)]
pub trait FromBytesReply: Sized {
    fn from_bytes(b: Vec<u8>) -> Self;
}
impl FromBytesReply for Vec<u8> {
    #[inline]
    fn from_bytes(b: Vec<u8>) -> Self {
        b
    }
}

/// Return types accepted for `%return bool`: `bool` (or an alias of it).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold a `%return bool` reply",
    label = "expected `bool`",
    note = "`%return bool` decodes into `bool`; for your own type declare `%return redis` (`redis::FromRedisValue`)"
)]
pub trait FromBoolReply: Sized {
    fn from_bool(b: bool) -> Self;
}
impl FromBoolReply for bool {
    #[inline]
    fn from_bool(b: bool) -> Self {
        b
    }
}

#[inline]
pub fn string<T: FromStrReply>(v: Value) -> Decoded<T> {
    let s = match as_resp2(v) {
        Value::BulkString(b) => String::from_utf8(b)
            .or_else(|e| mismatch("UTF-8 str", Value::BulkString(e.into_bytes())))?,
        Value::SimpleString(s) => s,
        Value::Okay => "OK".to_owned(),
        v => return mismatch("str", v),
    };
    Ok(T::from_string(s))
}

#[inline]
pub fn bytes<T: FromBytesReply>(v: Value) -> Decoded<T> {
    let b = match as_resp2(v) {
        Value::BulkString(b) => b,
        Value::SimpleString(s) => s.into_bytes(),
        Value::Okay => b"OK".to_vec(),
        v => return mismatch("bytes", v),
    };
    Ok(T::from_bytes(b))
}

/// Lua `true` is 1 and `false` is null, so null is `false` here.
#[inline]
pub fn boolean<T: FromBoolReply>(v: Value) -> Decoded<T> {
    let b = match as_resp2(v) {
        Value::Nil => false,
        Value::Int(n) => n != 0,
        v => return mismatch("bool", v),
    };
    Ok(T::from_bool(b))
}

/// `list`, `dict` and `json`: a string the script made with `cjson.encode`.
/// `written` is the Rust type as the user wrote it, for the error.
#[inline]
pub fn json<T: serde::de::DeserializeOwned>(v: Value, written: &'static str) -> Decoded<T> {
    let v = as_resp2(v);
    match &v {
        Value::BulkString(b) => serde_json::from_slice(b).or_else(|_| mismatch(written, v)),
        Value::SimpleString(s) => serde_json::from_str(s).or_else(|_| mismatch(written, v)),
        Value::Nil | Value::ServerError(_) => mismatch(written, v),
        _ => Err(Fail::NotJson {
            expected: written,
            got: v,
        }),
    }
}

/// `%return redis`: redis-rs's own `FromRedisValue` rules (pairs from flat
/// arrays, maps from `HGETALL`, nested tuples), as `query::<T>()` applies them.
#[inline]
pub fn redis<T: redis::FromRedisValue>(v: Value, written: &'static str) -> Decoded<T> {
    match v {
        Value::ServerError(e) => Err(Fail::Server(e)),
        // The RESP2 form, deep: redis-rs reads RESP3 types too, but not
        // always as it reads their RESP2 form (a double is not a string).
        v => T::from_redis_value(as_resp2_deep(v)).map_err(|e| Fail::Parse {
            expected: written,
            message: e.to_string(),
        }),
    }
}

/// `TYPE?`: null (Lua `nil` or `false`) is `None`.
#[inline]
pub fn opt<T>(v: Value, inner: fn(Value) -> Decoded<T>) -> Decoded<Option<T>> {
    match v {
        Value::Nil => Ok(None),
        v => inner(v).map(Some),
    }
}

/// `TYPE[]`: a native RESP array, each element decoded by `inner`.
#[inline]
pub fn array<T>(v: Value, inner: fn(Value) -> Decoded<T>) -> Decoded<Vec<T>> {
    match as_resp2(v) {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(index, v)| {
                inner(v).map_err(|fail| match fail {
                    // An error reply stays an error reply, wherever it sits.
                    Fail::Server(e) => Fail::Server(e),
                    fail => Fail::Element {
                        index,
                        fail: Box::new(fail),
                    },
                })
            })
            .collect(),
        v => mismatch("array", v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected_of<T: std::fmt::Debug>(r: Decoded<T>) -> &'static str {
        match r {
            Err(Fail::Mismatch { expected, .. }) => expected,
            other => panic!("expected a mismatch, got {other:?}"),
        }
    }

    #[test]
    fn ints_check_range() {
        assert_eq!(int::<u8>(Value::Int(255)).unwrap(), 255);
        assert_eq!(
            expected_of(int::<u8>(Value::Int(256))),
            "int in the range of the declared Rust type"
        );
        assert_eq!(int::<i64>(Value::BulkString(b"-12".to_vec())).unwrap(), -12);
        assert_eq!(expected_of(int::<i64>(Value::Nil)), "int");
    }

    #[test]
    fn floats_come_as_text_double_or_int() {
        assert_eq!(
            float::<f64>(Value::BulkString(b"2.5".to_vec())).unwrap(),
            2.5
        );
        assert_eq!(float::<f64>(Value::Double(0.25)).unwrap(), 0.25);
        assert_eq!(float::<f64>(Value::Int(3)).unwrap(), 3.0);
        assert!(float::<f64>(Value::BulkString(b"inf".to_vec()))
            .unwrap()
            .is_infinite());
        assert_eq!(
            expected_of(float::<f64>(Value::BulkString(b"x".to_vec()))),
            "float"
        );
    }

    #[test]
    fn null_rules() {
        assert!(!boolean::<bool>(Value::Nil).unwrap());
        assert!(boolean::<bool>(Value::Int(1)).unwrap());
        assert_eq!(opt(Value::Nil, int::<i64>).unwrap(), None);
        assert_eq!(opt(Value::Int(4), int::<i64>).unwrap(), Some(4));
        let v = Value::Array(vec![Value::BulkString(b"a".to_vec()), Value::Nil]);
        assert_eq!(
            array(v, |e| opt(e, string)).unwrap(),
            vec![Some("a".to_owned()), None]
        );
    }

    #[test]
    fn strings_are_checked_bytes_are_not() {
        let bad = Value::BulkString(vec![0xff, 0x00]);
        assert_eq!(expected_of(string::<String>(bad.clone())), "UTF-8 str");
        assert_eq!(bytes::<Vec<u8>>(bad).unwrap(), vec![0xff, 0x00]);
    }

    #[test]
    fn json_names_the_type_as_written() {
        let v = Value::BulkString(br#"{"a":[1,2]}"#.to_vec());
        let m: std::collections::HashMap<String, Vec<i32>> = json(v, "HashMap").unwrap();
        assert_eq!(m["a"], vec![1, 2]);
        assert_eq!(
            expected_of(json::<Vec<i32>>(
                Value::BulkString(b"{}".to_vec()),
                "Vec<i32>"
            )),
            "Vec<i32>"
        );
        // A raw Lua table arrives as an array, not JSON text.
        assert!(matches!(
            json::<Vec<i32>>(Value::Array(vec![Value::Int(1)]), "Vec<i32>"),
            Err(Fail::NotJson { .. })
        ));
    }

    #[test]
    fn array_errors_name_the_element() {
        let v = Value::Array(vec![Value::Int(1), Value::Int(2), Value::Nil]);
        match array(v, int::<i64>) {
            Err(Fail::Element { index: 2, fail }) => {
                assert!(matches!(
                    *fail,
                    Fail::Mismatch {
                        expected: "int",
                        ..
                    }
                ))
            }
            other => panic!("expected element 2 to fail, got {other:?}"),
        }
    }

    #[test]
    fn doubles_read_as_newer_servers_write_them_on_resp2() {
        // Each pair as redis-server 8.2.3 wrote `{double=x}` to a RESP2 client.
        for (f, text) in [
            (0.1, "0.1"),
            (3.0, "3"),
            (-0.0, "-0"),
            (1e15, "1000000000000000"),
            (1e17, "100000000000000000"),
            (12345678901234567890.0, "12345678901234567000"),
            (1e20, "1e+20"),
            (1e22, "1e+22"),
            (1.5e-5, "0.000015"),
            (1e-6, "0.000001"),
            (0.000123, "0.000123"),
            (1e-7, "1e-7"),
            (-2.5e-10, "-2.5e-10"),
            (123456.789, "123456.789"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(double_text(f), text, "{f:e}");
        }
    }

    #[test]
    fn resp3_replies_decode_as_their_resp2_form() {
        let resp2 = |v: &Value| as_resp2(v.clone());
        let map = Value::Map(vec![(Value::BulkString(b"a".to_vec()), Value::Int(1))]);
        assert_eq!(
            resp2(&map),
            Value::Array(vec![Value::BulkString(b"a".to_vec()), Value::Int(1)])
        );
        assert_eq!(resp2(&Value::Boolean(false)), Value::Int(0));
        assert_eq!(int::<i64>(Value::Boolean(true)).unwrap(), 1);
        assert_eq!(opt(Value::Boolean(false), int::<i64>).unwrap(), Some(0));
        assert_eq!(string::<String>(Value::Double(1.5)).unwrap(), "1.5");
        assert_eq!(int::<i64>(Value::Double(3.0)).unwrap(), 3);
        assert_eq!(expected_of(int::<i64>(Value::Double(3.5))), "int");
        assert_eq!(float::<f64>(Value::Double(0.1)).unwrap(), 0.1);
        // (This workspace builds redis without `num-bigint`: digits as bytes.)
        {
            let big = Value::BigNumber(b"12345678901234567890".to_vec());
            assert_eq!(
                string::<String>(big.clone()).unwrap(),
                "12345678901234567890"
            );
            assert_eq!(int::<u64>(big).unwrap(), 12345678901234567890);
        }
        let set = Value::Set(vec![Value::BulkString(b"x".to_vec())]);
        assert_eq!(array(set, string::<String>).unwrap(), vec!["x".to_owned()]);
        let pairs: Vec<(String, i64)> = redis(map.clone(), "Vec<(String, i64)>").unwrap();
        assert_eq!(pairs, vec![("a".to_owned(), 1)]);
        assert_eq!(array(map, raw).unwrap().len(), 2);
    }

    #[test]
    fn redis_uses_redis_rs_rules() {
        let flat = Value::Array(vec![
            Value::BulkString(b"a".to_vec()),
            Value::BulkString(b"1.5".to_vec()),
        ]);
        let pairs: Vec<(String, f64)> = redis(flat, "Vec<(String, f64)>").unwrap();
        assert_eq!(pairs, vec![("a".to_owned(), 1.5)]);
        assert!(matches!(
            redis::<Vec<(String, f64)>>(Value::Int(3), "Vec<(String, f64)>"),
            Err(Fail::Parse {
                expected: "Vec<(String, f64)>",
                ..
            })
        ));
    }
}
