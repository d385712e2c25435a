//! How each header type travels from a Rust argument to a KEYS/ARGV entry.
//!
//! Generated code calls the free functions here, one per parameter, with the
//! parameter's Rust type as the trait's `Self`: a type that does not fit its
//! directive fails to compile at the parameter, with the note below.

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

use crate::call::Builder;

/// Types accepted for `%key`: Redis keys are bytes, so UTF-8 strings and
/// byte strings both fit. Implement it for a key type of your own, or
/// bound a generic key parameter with it (`fn f<K: redlua::arg::Key>(key: K)`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be passed as a `%key` parameter",
    label = "expected a string or bytes",
    note = "`%key` accepts `&str`, `String`, `Cow<str>`, `Box<str>`, `Arc<str>`, `&[u8]`, `Vec<u8>`, `[u8; N]`, `Cow<[u8]>`, or a generic bounded by `redlua::arg::Key`"
)]
pub trait Key {
    /// The key as Redis receives it.
    fn key_bytes(&self) -> &[u8];
}

// Each key type reaches its bytes through the `str` or `bytes` trait it
// already implements, so the three lists cannot disagree.
macro_rules! key_impls {
    ($via:ident: $($t:ty),*) => {$(
        impl Key for $t {
            #[inline]
            fn key_bytes(&self) -> &[u8] {
                key_impls!(@$via self)
            }
        }
    )*};
    (@text $v:ident) => { Str::as_str($v).as_bytes() };
    (@binary $v:ident) => { Bytes::as_bytes($v) };
}
key_impls!(text: str, String, Cow<'_, str>, Box<str>, Arc<str>, Rc<str>);
key_impls!(binary: [u8], Vec<u8>, Cow<'_, [u8]>, Box<[u8]>, Arc<[u8]>, Rc<[u8]>);
impl<const N: usize> Key for [u8; N] {
    fn key_bytes(&self) -> &[u8] {
        self
    }
}
impl<T: Key + ?Sized> Key for &T {
    fn key_bytes(&self) -> &[u8] {
        (**self).key_bytes()
    }
}

/// Types accepted for `%arg NAME str`: UTF-8 text.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be passed as a `str` parameter",
    label = "expected a string",
    note = "`str` accepts `&str`, `String`, `&String`, `Cow<str>`, `Box<str>` and `Arc<str>`; for binary values declare `%arg NAME bytes`"
)]
pub trait Str {
    /// The value as text.
    fn as_str(&self) -> &str;
}

/// Implements a view trait for owners that deref to its target type.
macro_rules! deref_impls {
    ($trait:ident::$method:ident -> $target:ty: $($t:ty),*) => {$(
        impl $trait for $t {
            #[inline]
            fn $method(&self) -> &$target {
                self
            }
        }
    )*};
}
deref_impls!(Str::as_str -> str: str, String, Cow<'_, str>, Box<str>, Arc<str>, Rc<str>);
impl<T: Str + ?Sized> Str for &T {
    fn as_str(&self) -> &str {
        (**self).as_str()
    }
}

/// Types accepted for `%arg NAME bytes`: binary-safe, no UTF-8 check.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be passed as a `bytes` parameter",
    label = "expected bytes",
    note = "`bytes` accepts `&[u8]`, `Vec<u8>`, `[u8; N]` and `Cow<[u8]>`"
)]
pub trait Bytes {
    /// The value as Redis receives it.
    fn as_bytes(&self) -> &[u8];
}

deref_impls!(Bytes::as_bytes -> [u8]: [u8], Vec<u8>, Cow<'_, [u8]>, Box<[u8]>, Arc<[u8]>, Rc<[u8]>);
impl<const N: usize> Bytes for [u8; N] {
    fn as_bytes(&self) -> &[u8] {
        self
    }
}
impl<T: Bytes + ?Sized> Bytes for &T {
    fn as_bytes(&self) -> &[u8] {
        (**self).as_bytes()
    }
}

/// Types accepted for `%arg NAME int`: every integer type, sent as decimal text.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be passed as an `int` parameter",
    label = "expected an integer",
    note = "`int` accepts every integer type (`i64`, `u32`, `usize`, ...)"
)]
pub trait Int {
    /// The value, when Lua can hold it exactly (see [`MAX_EXACT_INT`]);
    /// otherwise its decimal text, for the error.
    #[doc(hidden)]
    fn exact(&self) -> Result<i64, String>;
}

/// The largest magnitude an `int` argument may have: Lua 5.1 numbers are
/// doubles, exact only up to 2^53, so `tonumber` would round anything
/// larger (`i64::MAX` arrives as `9.2233720368547758e+18`).
pub const MAX_EXACT_INT: i64 = 1 << 53;

macro_rules! int_impls {
    ($($t:ty)*) => {$(
        impl Int for $t {
            #[inline]
            fn exact(&self) -> Result<i64, String> {
                match i64::try_from(*self) {
                    Ok(v) if (-MAX_EXACT_INT..=MAX_EXACT_INT).contains(&v) => Ok(v),
                    _ => Err(self.to_string()),
                }
            }
        }
    )*};
}
int_impls!(i8 i16 i32 i64 isize u8 u16 u32 i128 u64 u128 usize);

impl<T: Int + ?Sized> Int for &T {
    fn exact(&self) -> Result<i64, String> {
        (**self).exact()
    }
}

/// Types accepted for `%arg NAME float`: `f32`, `f64`, sent in shortest
/// round-trip form (Lua reads it with `tonumber`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be passed as a `float` parameter",
    label = "expected `f32` or `f64`",
    note = "`float` accepts `f32` and `f64`"
)]
pub trait Float {
    fn write(&self, out: &mut Text);
}

impl Float for f64 {
    fn write(&self, out: &mut Text) {
        write_float(out, *self, self.abs());
    }
}
impl Float for f32 {
    fn write(&self, out: &mut Text) {
        // Formatted as f32 so 0.1f32 travels as "0.1", not 0.10000000149011612.
        write_float(out, *self, f64::from(self.abs()));
    }
}
impl<T: Float + ?Sized> Float for &T {
    fn write(&self, out: &mut Text) {
        (**self).write(out)
    }
}

fn write_float<F: std::fmt::Display + std::fmt::LowerExp>(out: &mut Text, v: F, abs: f64) {
    use std::fmt::Write;
    // Display never uses an exponent (1e300 would be 301 digits); Lua's
    // tonumber reads both forms, and both are shortest round-trip.
    let _ = if abs == 0.0 || (1e-5..1e16).contains(&abs) || abs.is_nan() || abs.is_infinite() {
        write!(out, "{v}")
    } else {
        write!(out, "{v:e}")
    };
}

/// A small stack buffer for number formatting (no allocation per argument).
pub struct Text {
    buf: [u8; 48],
    len: usize,
}

impl Text {
    fn new() -> Self {
        Text {
            buf: [0; 48],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Types accepted for `%arg NAME bool`: sent as `1` / `0`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be passed as a `bool` parameter",
    label = "expected `bool`"
)]
pub trait Bool {
    fn value(&self) -> bool;
}
impl Bool for bool {
    fn value(&self) -> bool {
        *self
    }
}
impl<T: Bool + ?Sized> Bool for &T {
    fn value(&self) -> bool {
        (**self).value()
    }
}

/// The keys of a variadic `%key`: their number goes before them in the
/// command, so it is taken from an exact size hint (slices, `Vec`, sets)
/// or, for any other iterator, by collecting it first.
pub enum Counted<I: Iterator> {
    Exact { iter: I, len: usize, left: usize },
    Collected(std::vec::IntoIter<I::Item>, usize),
}

impl<I: Iterator> Counted<I> {
    #[inline]
    pub fn new(iter: I) -> Self {
        match iter.size_hint() {
            (lo, Some(hi)) if lo == hi => Counted::Exact {
                iter,
                len: lo,
                left: lo,
            },
            _ => {
                let all: Vec<I::Item> = iter.collect();
                let len = all.len();
                Counted::Collected(all.into_iter(), len)
            }
        }
    }

    /// How many keys numkeys announces.
    #[inline]
    pub fn numkeys(&self) -> usize {
        match self {
            Counted::Exact { len, .. } | Counted::Collected(_, len) => *len,
        }
    }

    /// An iterator whose exact size hint was wrong would shift keys into
    /// ARGV: refuse to send the call instead.
    #[inline]
    pub fn check(&mut self, b: &mut Builder, param: &'static str) {
        if let Counted::Exact { iter, left, len } = self {
            if *left != 0 || iter.next().is_some() {
                b.fail(
                    param,
                    format!(
                        "the iterator announced {len} keys (an exact size hint) but yielded a \
                         different number, which would shift keys into ARGV; nothing was sent \
                         (collect the keys into a Vec first, or fix the iterator's size_hint)"
                    ),
                );
            }
        }
    }
}

impl<I: Iterator> Iterator for Counted<I> {
    type Item = I::Item;

    #[inline]
    fn next(&mut self) -> Option<I::Item> {
        match self {
            Counted::Exact { iter, left, .. } => {
                if *left == 0 {
                    return None;
                }
                let v = iter.next()?;
                *left -= 1;
                Some(v)
            }
            Counted::Collected(iter, _) => iter.next(),
        }
    }
}

#[inline]
pub fn key<T: Key + ?Sized>(b: &mut Builder, v: &T) {
    b.push(v.key_bytes());
}

#[inline]
pub fn str<T: Str + ?Sized>(b: &mut Builder, v: &T) {
    b.push(v.as_str().as_bytes());
}

#[inline]
pub fn bytes<T: Bytes + ?Sized>(b: &mut Builder, v: &T) {
    b.push(v.as_bytes());
}

#[inline]
pub fn int<T: Int + ?Sized>(b: &mut Builder, param: &'static str, v: &T) {
    match v.exact() {
        // redis-rs writes i64 with itoa, no allocation.
        Ok(v) => b.push_int(v),
        Err(text) => b.fail(
            param,
            format!(
                "{text} is outside ±2^53 ({MAX_EXACT_INT}), the integers a Lua number holds \
                 exactly: the script would see a rounded value; nothing was sent (pass it as \
                 `str` if the script only stores or compares it)"
            ),
        ),
    }
}

#[inline]
pub fn float<T: Float + ?Sized>(b: &mut Builder, v: &T) {
    let mut t = Text::new();
    v.write(&mut t);
    b.push(t.as_bytes());
}

#[inline]
pub fn bool<T: Bool + ?Sized>(b: &mut Builder, v: &T) {
    b.push(if v.value() { b"1" } else { b"0" });
}

/// `list`, `dict` and `json`: compact JSON, decoded with `cjson` in the script.
#[inline]
pub fn json<T: serde::Serialize + ?Sized>(b: &mut Builder, param: &'static str, v: &T) {
    match serde_json::to_vec(v) {
        Ok(text) => b.push(&text),
        Err(e) => b.fail(param, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Claims an exact length it does not keep.
    struct Lying {
        claims: usize,
        yields: usize,
    }

    impl Iterator for Lying {
        type Item = &'static str;
        fn next(&mut self) -> Option<&'static str> {
            self.yields = self.yields.checked_sub(1)?;
            Some("k")
        }
        fn size_hint(&self) -> (usize, Option<usize>) {
            (self.claims, Some(self.claims))
        }
    }

    static S: crate::Script = crate::Script::__new("s", "lua/s.lua", "", "", false, &[], &[], &[]);

    #[test]
    fn a_wrong_exact_size_hint_refuses_the_call_instead_of_shifting_keys() {
        for (claims, yields) in [(2, 1), (2, 3)] {
            let mut keys = Counted::new(Lying { claims, yields });
            assert_eq!(keys.numkeys(), claims);
            let mut b = Builder::new(&S, keys.numkeys(), 0);
            for k in &mut keys {
                key(&mut b, k);
            }
            keys.check(&mut b, "keys");
            let e = b.finish(crate::decode::raw).check_encoded().unwrap_err();
            assert!(e.to_string().contains("collect the keys into a Vec"), "{e}");
        }
        // An honest iterator passes.
        let mut keys = Counted::new(Lying {
            claims: 2,
            yields: 2,
        });
        let mut b = Builder::new(&S, 2, 0);
        for k in &mut keys {
            key(&mut b, k);
        }
        keys.check(&mut b, "keys");
        assert!(b.finish(crate::decode::raw).check_encoded().is_ok());
    }

    fn float_text<F: Float>(v: F) -> String {
        let mut t = Text::new();
        v.write(&mut t);
        String::from_utf8(t.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn floats_travel_in_shortest_round_trip_form() {
        assert_eq!(float_text(0.1f64), "0.1");
        assert_eq!(float_text(0.1f32), "0.1");
        assert_eq!(float_text(1.5e300f64), "1.5e300");
        assert_eq!(float_text(-2.5e-7f64), "-2.5e-7");
        assert_eq!(float_text(1234.5f64), "1234.5");
        assert_eq!(float_text(0.0f64), "0");
        assert_eq!(float_text(f64::MAX), "1.7976931348623157e308");
        for v in [0.1f64, 1.0 / 3.0, 1e-300, 123456789.12345679, -0.0, 5e-324] {
            assert_eq!(float_text(v).parse::<f64>().unwrap().to_bits(), v.to_bits());
        }
    }
}
