//! Reply decoding: an arbitrary nested `redis::Value`, built from the fuzz
//! bytes by a small builder, decoded into every return shape a `%return`
//! header can declare (`T`, `T?`, `T[]`, `T?[]`, `T[]?`, `T?[]?` for each
//! type, no `%return`, the raw reply), with the generated code's own
//! decode functions; the description a `DecodeError` carries is built too.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use redis::{PushKind, Value, VerbatimFormat};
use redlua::__private::decode::{self, Decoded};
use redlua::__private::fuzz;

/// Reads the fuzz bytes front to back; zeros once they run out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn bytes(&mut self) -> Vec<u8> {
        let n = usize::from(self.byte()).min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head.to_vec()
    }

    fn text(&mut self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(std::array::from_fn(|_| self.byte()))
    }

    fn values(&mut self, depth: usize) -> Vec<Value> {
        (0..self.byte() % 6)
            .map(|_| self.value(depth + 1))
            .collect()
    }

    fn pairs(&mut self, depth: usize) -> Vec<(Value, Value)> {
        (0..self.byte() % 4)
            .map(|_| (self.value(depth + 1), self.value(depth + 1)))
            .collect()
    }

    fn value(&mut self, depth: usize) -> Value {
        // Below 12 levels only scalars: every shape nests at most 2 deep,
        // deeper values only test that nothing recurses without bound.
        let kinds = if depth > 12 { 8 } else { 15 };
        match self.byte() % kinds {
            0 => Value::Nil,
            1 => Value::Int(self.i64()),
            2 => Value::BulkString(self.bytes()),
            // Digits, JSON-ish text and Lua's number spellings are what the
            // decoders parse: make them likely.
            3 => Value::BulkString(
                match self.byte() % 6 {
                    0 => self.i64().to_string(),
                    1 => f64::from_bits(self.i64() as u64).to_string(),
                    2 => ["inf", "-inf", "nan", "-nan", "1e400", "-0"]
                        [usize::from(self.byte() % 6)]
                    .to_string(),
                    3 => format!("[{}]", self.text()),
                    4 => format!("{{\"{}\":{}}}", self.text(), self.i64()),
                    _ => format!("\"{}\"", self.text()),
                }
                .into_bytes(),
            ),
            4 => Value::SimpleString(self.text()),
            5 => Value::Okay,
            6 => Value::Double(f64::from_bits(self.i64() as u64)),
            7 => Value::Boolean(self.byte() & 1 == 1),
            8 => Value::Array(self.values(depth)),
            9 => Value::Set(self.values(depth)),
            10 => Value::Map(self.pairs(depth)),
            11 => Value::Attribute {
                data: Box::new(self.value(depth + 1)),
                attributes: self.pairs(depth),
            },
            12 => Value::VerbatimString {
                format: match self.byte() % 3 {
                    0 => VerbatimFormat::Text,
                    1 => VerbatimFormat::Markdown,
                    _ => VerbatimFormat::Unknown(self.text()),
                },
                text: self.text(),
            },
            13 => Value::Push {
                kind: PushKind::Other(self.text()),
                data: self.values(depth),
            },
            // An error reply, `-<text>`, through redis-rs's own parser (its
            // `ServerError` has no public constructor).
            _ => {
                let text: Vec<u8> = self
                    .bytes()
                    .into_iter()
                    .filter(|b| *b != b'\r' && *b != b'\n')
                    .collect();
                let mut resp = b"-".to_vec();
                resp.extend(text);
                resp.extend(b"\r\n");
                redis::parse_redis_value(&resp).unwrap_or(Value::Nil)
            }
        }
    }
}

/// Decodes `v` into `T`, `T?`, `T[]`, `T?[]`, `T[]?` and `T?[]?`, as
/// `macros/src/signature.rs` composes the decode functions.
macro_rules! shapes {
    ($v:expr, $t:ty, $base:expr) => {{
        fn base(v: Value) -> Decoded<$t> {
            ($base)(v)
        }
        fn elem_opt(v: Value) -> Decoded<Option<$t>> {
            decode::opt(v, base)
        }
        fn arr(v: Value) -> Decoded<Vec<$t>> {
            decode::array(v, base)
        }
        fn arr_opt(v: Value) -> Decoded<Vec<Option<$t>>> {
            decode::array(v, elem_opt)
        }
        let _ = base($v.clone());
        let _ = elem_opt($v.clone());
        let _ = arr($v.clone());
        let _ = arr_opt($v.clone());
        let _ = decode::opt($v.clone(), arr);
        let _ = format!("{:?}", decode::opt($v.clone(), arr_opt));
    }};
}

fuzz_target!(|data: &[u8]| {
    let v = Input(data).value(0);
    let _ = fuzz::describe(&v);
    let _ = decode::unit(v.clone());
    let _ = decode::raw(v.clone());
    shapes!(v, i64, decode::int::<i64>);
    shapes!(v, u8, decode::int::<u8>);
    shapes!(v, f64, decode::float::<f64>);
    shapes!(v, f32, decode::float::<f32>);
    shapes!(v, String, decode::string);
    shapes!(v, Vec<u8>, decode::bytes);
    shapes!(v, bool, decode::boolean);
    shapes!(v, Vec<serde_json::Value>, |v| decode::json(
        v,
        "Vec<serde_json::Value>"
    ));
    shapes!(
        v,
        HashMap<String, serde_json::Value>,
        |v| decode::json(v, "HashMap<String, serde_json::Value>")
    );
    shapes!(v, serde_json::Value, |v| decode::json(
        v,
        "serde_json::Value"
    ));
    shapes!(v, Value, |v| decode::redis(v, "redis::Value"));
    shapes!(v, Vec<(String, i64)>, |v| decode::redis(
        v,
        "Vec<(String, i64)>"
    ));
    shapes!(v, HashMap<String, String>, |v| decode::redis(v, "HashMap<String, String>"));
});
