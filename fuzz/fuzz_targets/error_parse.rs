//! The classification of a script's error reply (the parser of every
//! server's error texts, the line map back to the `.lua` files, the
//! `Display` people read) on arbitrary error texts, seeded with the recorded
//! replies of every tested server (`fuzz/seed.sh`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use redlua::__private::{fuzz, LineOrigin, LineRun, Script};

const fn at(file: u16, line: u32, via: u16) -> LineOrigin {
    LineOrigin { file, line, via }
}

/// A script of 5 lines, lines 2-3 from an included file.
static SCRIPT: Script = Script::__new(
    "fuzzed",
    "lua/fuzzed.lua",
    "0123456789abcdef0123456789abcdef01234567",
    "local a = 1\n-- %include \"lib.lua\"\nlocal b = 2\nreturn a + b\nerror('x')\n",
    false,
    &["lua/fuzzed.lua", "lua/lib.lua"],
    &[
        LineRun::new(1, 2, 0, 1, LineOrigin::TOP),
        LineRun::new(3, 1, 1, 1, 0),
        LineRun::new(4, 2, 0, 3, LineOrigin::TOP),
    ],
    &[at(0, 2, LineOrigin::TOP)],
);

fuzz_target!(|data: &[u8]| {
    // One RESP error line: `-<text>\r\n`, the text without CR or LF.
    let text: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .collect();
    let text = text.strip_prefix(b"-").unwrap_or(&text);
    let mut resp = Vec::with_capacity(text.len() + 3);
    resp.push(b'-');
    resp.extend_from_slice(text);
    resp.extend_from_slice(b"\r\n");
    let Ok(redis::Value::ServerError(e)) = redis::parse_redis_value(&resp) else {
        return;
    };
    let err = fuzz::classify_server_error(&SCRIPT, &e);
    let _ = err.to_string();
    let _ = format!("{err:?}");
    let _ = err.code();
});
