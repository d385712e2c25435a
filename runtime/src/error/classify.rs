//! From what went wrong to an [`Error`]: sorts a Redis error reply into
//! [`Error::Script`], [`Error::Redis`] or [`Error::Reply`] (the rules are on
//! [`Error`]), maps a script error's line to its `.lua` file, and builds the
//! decode and encode errors. [`retry`] is the one test for "the server ran
//! nothing and the call may be sent again" (`NOSCRIPT`, `LOADING`).

use redis::{RedisError, ServerError};

use super::parse::{parse_script_error, split_code};
pub(crate) use super::render::describe;
use super::{DecodeError, EncodeError, Error, ReplyError, ScriptError};
use crate::script::Script;

/// A refusal after which the same command may be sent again, because the
/// server ran nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// The server does not have the script (never loaded, flushed,
    /// restarted, failed over): load it, then call again.
    NoScript,
    /// The server is loading its dataset: wait, then call again.
    Loading,
}

/// The server's own `NOSCRIPT` (`ERR Function not found` for a function)
/// or `LOADING` in the reply to a call of `script`, whether it came as a
/// value or raised by the client. A script that returned or raised an error
/// with such a code ran, and is told apart by the server's exact wording
/// (Redis: `No matching script. Please use EVAL.`, Valkey 8 and 9: `No
/// matching script.`; see [`REFUSALS`]), and by the command: `EVALSHA` never
/// answers `Function not found`, nor `FCALL` `NOSCRIPT`.
pub(crate) fn retry(script: &Script, reply: &redis::RedisResult<redis::Value>) -> Option<Retry> {
    match reply {
        Ok(v) => retry_value(script, v),
        Err(e) => retry_code(script, e.code()?, e.detail().unwrap_or("")),
    }
}

/// [`retry`] for one reply of a batch.
pub(crate) fn retry_value(script: &Script, reply: &redis::Value) -> Option<Retry> {
    match reply {
        redis::Value::ServerError(e) => retry_code(script, e.code(), e.details().unwrap_or("")),
        _ => None,
    }
}

/// The server's own `LOADING`, whatever command it answers.
pub(crate) fn is_loading(reply: &redis::Value) -> bool {
    matches!(reply, redis::Value::ServerError(e)
        if e.code() == "LOADING" && server_refusal("LOADING", e.details().unwrap_or("")))
}

fn retry_code(script: &Script, code: &str, detail: &str) -> Option<Retry> {
    let retry = match code {
        "NOSCRIPT" if !script.is_function() => Retry::NoScript,
        "ERR" if script.is_function() => {
            return is_function_not_found(script, code, detail).then_some(Retry::NoScript)
        }
        "LOADING" => Retry::Loading,
        _ => return None,
    };
    server_refusal(code, detail).then_some(retry)
}

/// `FCALL` of a function the server does not have: the whole text, as
/// Redis 7.0-8.2 and Valkey 8-9 send it (a function that returns an error
/// says more, or raises it with a location suffix).
fn is_function_not_found(script: &Script, code: &str, detail: &str) -> bool {
    script.is_function() && code == "ERR" && detail == FUNCTION_NOT_FOUND
}

/// Classifies an error from the Redis client (see the module docs).
pub(crate) fn from_redis(script: &'static Script, err: RedisError) -> Error {
    // Only a single server error is classified; pipeline/transaction
    // aggregates, I/O and protocol errors are reported as they are.
    match ServerError::try_from(err) {
        Ok(server) => classify(script, server.code(), server.details(), || {
            RedisError::from(server.clone())
        }),
        Err(err) => Error::Redis {
            script: script.name(),
            source: err,
        },
    }
}

/// Classifies an error reply that arrived as a value (see the module docs).
pub(crate) fn from_server_error(script: &'static Script, err: &ServerError) -> Error {
    classify(script, err.code(), err.details(), || {
        RedisError::from(err.clone())
    })
}

/// The reply did not decode as `expected`.
#[cfg(test)]
pub(crate) fn decode(script: &'static Script, expected: &'static str, got: &redis::Value) -> Error {
    decode_detail(
        script,
        expected,
        describe(got),
        matches!(got, redis::Value::Nil),
        None,
        None,
    )
}

/// The reply did not decode as `expected`; `got` already described, with
/// the array element and a hint when known.
pub(crate) fn decode_detail(
    script: &'static Script,
    expected: &'static str,
    got: String,
    got_null: bool,
    index: Option<usize>,
    hint: Option<&'static str>,
) -> Error {
    Error::Decode(Box::new(DecodeError {
        script,
        expected,
        got,
        got_null,
        index,
        hint,
    }))
}

/// Argument `param` could not be encoded.
pub(crate) fn encode(script: &'static Script, param: &'static str, message: String) -> Error {
    Error::Encode(Box::new(EncodeError {
        script,
        param,
        message,
    }))
}

/// The codes Redis and Valkey use to refuse a command before (or instead
/// of) running it, each with the starts of the texts the server itself sends
/// with it (from the Redis 6.2-8.2 and Valkey 8-9 sources and recorded
/// replies). A script can return any of these codes too
/// (`redis.error_reply(...)`, `{err = ...}`, a `redis.pcall` result it
/// passes on); only an error whose text is one of the server's own is a
/// refusal, anything else is the script's reply.
///
/// The texts are prefixes except where the server's text is a fixed
/// sentence (`NOSCRIPT`, whose exact wording tells a cache miss from a
/// script that ran). `MOVED` and `ASK` are checked by shape instead
/// (`<slot> <host>:<port>`).
const REFUSALS: &[(&str, &[&str])] = &[
    (
        "NOSCRIPT",
        &[
            "No matching script. Please use EVAL.",
            "No matching script.",
        ],
    ),
    (
        "NOPERM",
        &[
            "this user has no permissions to",
            "No permissions to access",
            // Redis 8 and Valkey name the user: `User <name> has no permissions to run ...`.
            "User ",
        ],
    ),
    ("NOAUTH", &["Authentication required."]),
    (
        "WRONGPASS",
        &["invalid username-password pair or user is disabled."],
    ),
    (
        "BUSY",
        &["Redis is busy running ", "Valkey is busy running "],
    ),
    ("NOTBUSY", &["No scripts in execution right now."]),
    (
        "UNKILLABLE",
        &["Sorry the script already executed write commands against the dataset."],
    ),
    (
        "READONLY",
        &[
            "You can't write against a read only replica.",
            "You can't write against a read only slave.",
        ],
    ),
    (
        "OOM",
        &["command not allowed when used memory > 'maxmemory'"],
    ),
    (
        "LOADING",
        &[
            "Redis is loading the dataset in memory",
            "Valkey is loading the dataset in memory",
        ],
    ),
    (
        "MISCONF",
        &[
            "Redis is configured to save RDB snapshots",
            "Valkey is configured to save RDB snapshots",
            "Errors writing to the AOF file",
        ],
    ),
    ("NOREPLICAS", &["Not enough good replicas to write."]),
    (
        "MASTERDOWN",
        &[
            "Link with MASTER is down and ",
            "Link with PRIMARY is down and ",
            "Link with master is down and ",
            "Link with primary is down and ",
        ],
    ),
    ("EXECABORT", &["Transaction discarded because of"]),
    (
        "CROSSSLOT",
        &["Keys in request don't hash to the same slot"],
    ),
    (
        "CLUSTERDOWN",
        &["The cluster is down", "Hash slot not served"],
    ),
    (
        "TRYAGAIN",
        &["Multiple keys request during rehashing of slot"],
    ),
];

/// True when `code` with `detail` is one of the server's own refusals
/// (see [`REFUSALS`]), not an error a script chose.
pub(crate) fn server_refusal(code: &str, detail: &str) -> bool {
    if code == "MOVED" || code == "ASK" {
        return is_redirect(detail);
    }
    let Some((_, texts)) = REFUSALS.iter().find(|(c, _)| *c == code) else {
        return false;
    };
    if code == "NOSCRIPT" {
        return texts.contains(&detail);
    }
    texts.iter().any(|t| detail.starts_with(t))
}

/// `<slot> <host>:<port>`, the whole text of a server's `MOVED`/`ASK`.
fn is_redirect(detail: &str) -> bool {
    let mut words = detail.split(' ');
    let slot_ok = words
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .is_some_and(|s| s < 16384);
    let addr_ok = words.next().is_some_and(|a| {
        a.rsplit_once(':')
            .is_some_and(|(_, port)| !port.is_empty() && port.parse::<u16>().is_ok())
    });
    slot_ok && addr_ok && words.next().is_none()
}

/// The server's whole reply text to `FCALL` of a function it does not have.
const FUNCTION_NOT_FOUND: &str = "Function not found";

/// Starts of `ERR` replies with which the server itself refuses
/// `EVALSHA`/`EVALSHA_RO`/`SCRIPT LOAD` (and `FCALL`/`FUNCTION LOAD`).
const ERR_REFUSALS: &[&str] = &[
    "Error registering functions",
    "No functions registered",
    "Library names can only contain",
    "Function names can only contain",
    "Number of keys can't be",
    "wrong number of arguments for",
    "unknown command",
    "unknown subcommand",
    "Can not execute a script with write flag using *_ro command",
    "Can not run script on cluster",
    "Unexpected flag in script shebang",
    "Unexpected engine in script shebang",
    "Invalid script shebang",
    "Invalid engine in script shebang",
    "Could not find engine",
    "max number of clients reached",
    "Protocol error",
    "operation not permitted",
    "Command not allowed inside a transaction",
];

fn classify(
    script: &'static Script,
    code: &str,
    detail: Option<&str>,
    source: impl FnOnce() -> RedisError,
) -> Error {
    let raw = match detail {
        Some(d) => format!("{code} {d}"),
        None => code.to_owned(),
    };
    if let Some(p) = parse_script_error(&raw) {
        // A function's error counts lines of its library.
        let line = match p.function {
            true => p.line.and_then(|n| script.source_line_of_loaded(n)),
            false => p.line,
        };
        let location = locate(script, line);
        return Error::Script(Box::new(ScriptError {
            script,
            code: p.code,
            message: p.message,
            line,
            location,
            compile: p.compile,
            raw,
        }));
    }
    let detail = detail.unwrap_or("");
    let refused = server_refusal(code, detail)
        || (code == "ERR" && ERR_REFUSALS.iter().any(|r| detail.starts_with(r)))
        || is_function_not_found(script, code, detail);
    if refused {
        return Error::Redis {
            script: script.name(),
            source: source(),
        };
    }
    let (code, message) = split_code(raw.trim());
    Error::Reply(Box::new(ReplyError {
        script,
        code: code.to_owned(),
        message: message.to_owned(),
    }))
}

fn locate(script: &'static Script, line: Option<usize>) -> Vec<(&'static str, u32)> {
    let Some(n) = line else {
        return Vec::new();
    };
    let chain = script.origin_of(n);
    // A compile error "near '<eof>'" names the line after the last one.
    if chain.is_empty()
        && n > 1
        && script.source_line(n).is_none()
        && script.source_line(n - 1).is_some()
    {
        return script.origin_of(n - 1);
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{LineOrigin, LineRun};
    use redis::Value;

    const MAIN: u16 = 0;
    const KEYS_LUA: u16 = 1;
    const fn at(file: u16, line: u32, via: u16) -> LineOrigin {
        LineOrigin { file, line, via }
    }
    const TOP: u16 = LineOrigin::TOP;

    /// The script the Redis 7.0.15 replies below were recorded from
    /// (`EVAL <source> 1 k:t <mode>`): lines 2-4 come from
    /// `lua/lib/keys.lua`, included at line 2 of `lua/create_status.lua`.
    static SCRIPT: Script = Script::__new(
        "create_status",
        "lua/create_status.lua",
        "8a27d0a361c3b94088d10ddeb019c98482034186",
        concat!(
            "local key = KEYS[1]\n",
            "local function field(k, f)\n",
            "  return redis.call('HGET', k, f)\n",
            "end\n",
            "local mode = ARGV[1]\n",
            "if mode == 'boom' then error('boom') end\n",
            "if mode == 'table' then error({err = 'MYCODE boom'}) end\n",
            "if mode == 'arity' then redis.call('GET') end\n",
            "if mode == 'nil' then local x; return x + 1 end\n",
            "if mode == 'reply' then return redis.error_reply('MYCODE nope') end\n",
            "if mode == 'raise' then error(redis.error_reply('MYCODE raised')) end\n",
            "redis.call('SET', key, 'x')\n",
            "return field(key, 'x')\n",
        ),
        false,
        &["lua/create_status.lua", "lua/lib/keys.lua"],
        &[
            LineRun::new(1, 1, MAIN, 1, TOP),
            LineRun::new(2, 3, KEYS_LUA, 1, 0),
            LineRun::new(5, 9, MAIN, 3, TOP),
        ],
        &[at(MAIN, 2, TOP)],
    );

    /// [`SCRIPT`] as a Redis Function: its library has one line (`#!lua
    /// name=`) before the script's first.
    static FUNCTION: Script = Script::__new(
        "create_status",
        "lua/create_status.lua",
        "8a27d0a361c3b94088d10ddeb019c98482034186",
        "",
        false,
        &["lua/create_status.lua", "lua/lib/keys.lua"],
        &[
            LineRun::new(1, 1, MAIN, 1, TOP),
            LineRun::new(2, 3, KEYS_LUA, 1, 0),
            LineRun::new(5, 1, MAIN, 3, TOP),
        ],
        &[at(MAIN, 2, TOP)],
    )
    .__function("create_status_0123456789abcdef", "", 1);

    #[test]
    fn a_functions_error_is_mapped_from_its_library_line_to_the_lua_file() {
        // Library line 4 is script line 3: keys.lua:2, included at
        // create_status.lua:2 (Redis 7.0.15's text).
        let e = script_err(
            &FUNCTION,
            b"-WRONGTYPE Operation against a key holding the wrong kind of value script: create_status_0123456789abcdef, on @user_function:4.\r\n",
        );
        assert_eq!(e.line(), Some(3));
        assert_eq!(
            e.location(),
            &[("lua/create_status.lua", 2), ("lua/lib/keys.lua", 2)][..]
        );
        assert_eq!(e.code(), "WRONGTYPE");
        // Valkey 9.1 names no function; a compile error counts alike.
        let e = script_err(
            &FUNCTION,
            b"-ERR user_function:2: boom script: on @user_function:2.\r\n",
        );
        assert_eq!((e.line(), e.message()), (Some(1), "boom"));
        let e = script_err(
            &FUNCTION,
            b"-ERR Error compiling function: user_function:5: unexpected symbol near 'end'\r\n",
        );
        assert!(e.is_compile_error());
        assert_eq!(
            e.location(),
            &[("lua/create_status.lua", 2), ("lua/lib/keys.lua", 3)][..]
        );
        assert_eq!(
            format!("{FUNCTION:?}"),
            "Script { name: \"create_status\", path: \"lua/create_status.lua\", \
             sha1: \"8a27d0a361c3b94088d10ddeb019c98482034186\", read_only: false, \
             function: \"create_status_0123456789abcdef\", .. }"
        );
    }

    /// `ERR Function not found` (Redis 7.0.15-8.2.3, Valkey 8.1.8/9.1.2) is
    /// a miss only for a function, `NOSCRIPT` only for a script: the other
    /// one's call cannot get it from the server, so its script sent it.
    #[test]
    fn each_command_has_its_own_miss() {
        let missing = b"-ERR Function not found\r\n";
        let noscript = b"-NOSCRIPT No matching script. Please use EVAL.\r\n";
        let value =
            |s: &Script, resp: &[u8]| retry_value(s, &redis::Value::ServerError(server_err(resp)));
        assert_eq!(value(&FUNCTION, missing), Some(Retry::NoScript));
        assert_eq!(
            retry(&FUNCTION, &Err(redis_err(missing))),
            Some(Retry::NoScript)
        );
        assert_eq!(value(&SCRIPT, missing), None);
        assert_eq!(value(&FUNCTION, noscript), None);
        let e = classify_resp(&FUNCTION, missing);
        assert!(e.is_redis_error(), "{e:?}");
        assert_eq!(e.outcome(), crate::Outcome::Refused);
        // A script that returns the same text ran.
        let e = classify_resp(&SCRIPT, missing);
        assert!(e.is_reply_error(), "{e:?}");
        assert_eq!(e.outcome(), crate::Outcome::Ran);
        let loading = b"-LOADING Redis is loading the dataset in memory\r\n";
        assert!(is_loading(&redis::Value::ServerError(server_err(loading))));
        assert!(!is_loading(&redis::Value::ServerError(server_err(
            b"-LOADING later\r\n"
        ))));
        assert_eq!(value(&FUNCTION, loading), Some(Retry::Loading));
    }

    #[test]
    fn script_debug_names_the_script_without_its_source() {
        let shown = format!("{SCRIPT:?}");
        assert_eq!(
            shown,
            "Script { name: \"create_status\", path: \"lua/create_status.lua\", \
             sha1: \"8a27d0a361c3b94088d10ddeb019c98482034186\", read_only: false, .. }"
        );
    }

    /// Does not compile: `HGET', k f)` at line 3 (keys.lua:2).
    static BROKEN: Script = Script::__new(
        "broken",
        "lua/broken.lua",
        "156b3484a3ec78986c22848973e7c462e8602f8f",
        concat!(
            "local key = KEYS[1]\n",
            "local function field(k, f)\n",
            "  return redis.call('HGET', k f)\n",
            "end\n",
            "return field(key, 'x')\n",
        ),
        false,
        &["lua/broken.lua", "lua/lib/keys.lua"],
        &[
            LineRun::new(1, 1, MAIN, 1, TOP),
            LineRun::new(2, 3, KEYS_LUA, 1, 0),
            LineRun::new(5, 1, MAIN, 3, TOP),
        ],
        &[at(MAIN, 2, TOP)],
    );

    /// Does not compile: ends in the middle of an expression, so Lua names
    /// line 4, one past the last (line 3 is keys.lua:5, included at
    /// truncated.lua:3).
    static TRUNCATED: Script = Script::__new(
        "truncated",
        "lua/truncated.lua",
        "c881a464f022b680219d00146cbe55c52982fabc",
        "local a = 1\nlocal b = 2\nreturn a +\n",
        false,
        &["lua/truncated.lua", "lua/lib/keys.lua"],
        &[
            LineRun::new(1, 2, MAIN, 1, TOP),
            LineRun::new(3, 1, KEYS_LUA, 5, 0),
        ],
        &[at(MAIN, 3, TOP)],
    );

    /// Parses one RESP error reply the way the client does and returns the
    /// `RedisError` a command would fail with.
    fn redis_err(resp: &[u8]) -> RedisError {
        redis::parse_redis_value(resp)
            .expect("valid RESP")
            .extract_error()
            .expect_err("an error reply")
    }

    fn server_err(resp: &[u8]) -> ServerError {
        match redis::parse_redis_value(resp).expect("valid RESP") {
            Value::ServerError(e) => e,
            other => panic!("not an error reply: {other:?}"),
        }
    }

    /// Classifies through both entry points and checks they agree.
    fn classify_resp(script: &'static Script, resp: &[u8]) -> Error {
        let a = from_redis(script, redis_err(resp));
        let b = from_server_error(script, &server_err(resp));
        assert_eq!(a.to_string(), b.to_string());
        a
    }

    fn script_err(script: &'static Script, resp: &[u8]) -> ScriptError {
        match classify_resp(script, resp) {
            Error::Script(e) => *e,
            other => panic!("expected Error::Script, got {other:?}"),
        }
    }

    static FLAGGED: Script = Script::__new(
        "read_counter",
        "lua/checks/read_only.lua",
        "d3c21d0c2b9ca22f82737626a27bcaf5d288f99f",
        "#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])\n",
        true,
        &["lua/checks/read_only.lua"],
        &[],
        &[],
    );

    #[test]
    fn a_flagged_script_on_a_server_before_7_says_what_to_do() {
        // Redis 6.2.5's replies (runtime/tests/fixtures/replies/redis-6.2.5.txt).
        let e = classify_resp(
            &FLAGGED,
            b"-ERR unknown command `EVALSHA_RO`, with args beginning with: `d3c21d0c2b9ca22f82737626a27bcaf5d288f99f`, `1`, `str`, \r\n",
        );
        assert!(e.is_redis_error(), "{e:?}");
        let text = e.to_string();
        assert!(text.starts_with("script `read_counter`: "), "{text}");
        assert!(
            text.contains("older than Redis 7.0") && text.contains("Remove the line"),
            "{text}"
        );
        let e = script_err(
            &FLAGGED,
            b"-ERR Error compiling script (new function): user_script:1: unexpected symbol near '#'\r\n",
        );
        assert!(e.to_string().contains("older than Redis 7.0"), "{e}");
        // A Redis Function there: FCALL and FUNCTION are unknown commands.
        for reply in [
            &b"-ERR unknown command `FCALL`, with args beginning with: `no_such_function`, `0`, \r\n"[..],
            b"-ERR unknown command `FUNCTION`, with args beginning with: `LOAD`, \r\n",
        ] {
            let text = classify_resp(&FLAGGED, reply).to_string();
            assert!(text.contains("no Redis Functions") && text.contains("#[redis_script]"), "{text}");
            assert!(!text.contains("older than Redis 7.0, which added script flags"), "{text}");
        }
        // The same compile error of a script without a `#!` line is not that.
        let e = script_err(
            &SCRIPT,
            b"-ERR Error compiling script (new function): user_script:1: unexpected symbol near '#'\r\n",
        );
        assert!(!e.to_string().contains("older than Redis 7.0"), "{e}");
    }

    const MAIN_FILE: &str = "lua/create_status.lua";
    const KEYS_FILE: &str = "lua/lib/keys.lua";

    // ---- Redis 7.0.15, recorded ------------------------------------------

    #[test]
    fn v7_failing_redis_call_keeps_inner_code() {
        let e = script_err(
            &SCRIPT,
            b"-WRONGTYPE Operation against a key holding the wrong kind of value script: 8a27d0a361c3b94088d10ddeb019c98482034186, on @user_script:3.\r\n",
        );
        assert_eq!(e.code(), "WRONGTYPE");
        assert_eq!(
            e.message(),
            "Operation against a key holding the wrong kind of value"
        );
        assert_eq!(e.line(), Some(3));
        assert_eq!(e.location(), &[(MAIN_FILE, 2), (KEYS_FILE, 2)]);
        assert_eq!(e.source_line(), Some("  return redis.call('HGET', k, f)"));
        assert!(!e.is_compile_error());
        assert_eq!(
            e.to_string(),
            "script `create_status` (lua/create_status.lua) failed: WRONGTYPE Operation against a key holding the wrong kind of value\n  at lua/create_status.lua:2 <- lua/lib/keys.lua:2\n   | return redis.call('HGET', k, f)"
        );
    }

    #[test]
    fn v7_error_string() {
        let e = script_err(
            &SCRIPT,
            b"-ERR user_script:6: boom script: 8a27d0a361c3b94088d10ddeb019c98482034186, on @user_script:6.\r\n",
        );
        assert_eq!((e.code(), e.message(), e.line()), ("ERR", "boom", Some(6)));
        assert_eq!(e.location(), &[(MAIN_FILE, 4)]);
        assert_eq!(
            e.to_string(),
            "script `create_status` (lua/create_status.lua) failed: ERR boom\n  at lua/create_status.lua:4\n   | if mode == 'boom' then error('boom') end"
        );
    }

    #[test]
    fn v7_error_table_and_raised_error_reply() {
        let e = script_err(
            &SCRIPT,
            b"-MYCODE boom script: 8a27d0a361c3b94088d10ddeb019c98482034186, on @user_script:7.\r\n",
        );
        assert_eq!(
            (e.code(), e.message(), e.line()),
            ("MYCODE", "boom", Some(7))
        );
        assert_eq!(e.location(), &[(MAIN_FILE, 5)]);

        // error(redis.error_reply('MYCODE raised')) is the same shape.
        let e = script_err(
            &SCRIPT,
            b"-MYCODE raised script: 8a27d0a361c3b94088d10ddeb019c98482034186, on @user_script:11.\r\n",
        );
        assert_eq!(
            (e.code(), e.message(), e.line()),
            ("MYCODE", "raised", Some(11))
        );
        assert_eq!(e.location(), &[(MAIN_FILE, 9)]);
    }

    #[test]
    fn v7_wrong_arity_redis_call() {
        let e = script_err(
            &SCRIPT,
            b"-ERR Wrong number of args calling Redis command from script script: 8a27d0a361c3b94088d10ddeb019c98482034186, on @user_script:8.\r\n",
        );
        assert_eq!(e.code(), "ERR");
        assert_eq!(
            e.message(),
            "Wrong number of args calling Redis command from script"
        );
        assert_eq!(e.line(), Some(8));
        assert_eq!(e.location(), &[(MAIN_FILE, 6)]);
        assert_eq!(
            e.source_line(),
            Some("if mode == 'arity' then redis.call('GET') end")
        );
    }

    #[test]
    fn v7_lua_runtime_error() {
        let e = script_err(
            &SCRIPT,
            b"-ERR user_script:9: attempt to perform arithmetic on local 'x' (a nil value) script: 8a27d0a361c3b94088d10ddeb019c98482034186, on @user_script:9.\r\n",
        );
        assert_eq!(e.code(), "ERR");
        assert_eq!(
            e.message(),
            "attempt to perform arithmetic on local 'x' (a nil value)"
        );
        assert_eq!(e.line(), Some(9));
        assert_eq!(e.location(), &[(MAIN_FILE, 7)]);
        assert_eq!(
            e.to_string(),
            "script `create_status` (lua/create_status.lua) failed: ERR attempt to perform arithmetic on local 'x' (a nil value)\n  at lua/create_status.lua:7\n   | if mode == 'nil' then local x; return x + 1 end"
        );
    }

    #[test]
    fn v7_compile_error() {
        let e = script_err(
            &BROKEN,
            b"-ERR Error compiling script (new function): user_script:3: ')' expected near 'f'\r\n",
        );
        assert!(e.is_compile_error());
        assert_eq!((e.code(), e.message()), ("ERR", "')' expected near 'f'"));
        assert_eq!(e.line(), Some(3));
        assert_eq!(e.location(), &[("lua/broken.lua", 2), (KEYS_FILE, 2)]);
        assert_eq!(
            e.to_string(),
            "script `broken` (lua/broken.lua) failed to compile: ERR ')' expected near 'f'\n  at lua/broken.lua:2 <- lua/lib/keys.lua:2\n   | return redis.call('HGET', k f)"
        );
    }

    #[test]
    fn v7_compile_error_at_end_of_script() {
        let e = script_err(
            &TRUNCATED,
            b"-ERR Error compiling script (new function): user_script:4: unexpected symbol near '<eof>'\r\n",
        );
        assert!(e.is_compile_error());
        assert_eq!(e.message(), "unexpected symbol near '<eof>'");
        assert_eq!(e.line(), Some(4));
        assert_eq!(e.location(), &[("lua/truncated.lua", 3), (KEYS_FILE, 5)]);
        assert_eq!(e.source_line(), None);
        assert_eq!(
            e.to_string(),
            "script `truncated` (lua/truncated.lua) failed to compile: ERR unexpected symbol near '<eof>'\n  at lua/truncated.lua:3 <- lua/lib/keys.lua:5"
        );
    }

    /// More Redis 7.0.15 recordings, from one-off scripts (their line
    /// numbers are mapped through SCRIPT's table regardless).
    #[test]
    fn v7_other_shapes() {
        let cases: &[(&[u8], &str, &str, usize)] = &[
            // error("boom", 2) in a function called from line 4: Lua blames
            // the caller, Redis's marker the error() line.
            (
                b"-ERR user_script:4: boom script: 8eecdb635ce83a0841a267a5cd3f34d81355deda, on @user_script:2.\r\n",
                "ERR",
                "boom",
                4,
            ),
            // error("boom", 0): no Lua position.
            (
                b"-ERR boom script: 6d36be2ba591adb012b104a8949eb75a3e7284b5, on @user_script:1.\r\n",
                "ERR",
                "boom",
                1,
            ),
            // error()
            (
                b"-ERR nil script: aca90d914519fdb9825352bdc0befb59f7c8510f, on @user_script:1.\r\n",
                "ERR",
                "nil",
                1,
            ),
            // error("bad script: x"): "script: " inside the message.
            (
                b"-ERR user_script:1: bad script: x script: 593d5bebc549960a0bf7d29e69a08eabdaff1a56, on @user_script:1.\r\n",
                "ERR",
                "bad script: x",
                1,
            ),
            // error({err = "boom"}): no code.
            (
                b"-boom script: bd3a82afbbd971a48dc7593f7cb13f08ae5c57ee, on @user_script:1.\r\n",
                "",
                "boom",
                1,
            ),
            // error({err = ""})
            (
                b"- script: be9c3032cdff9e02cec6578de043cd5e4e049652, on @user_script:1.\r\n",
                "",
                "",
                1,
            ),
            // error(redis.error_reply("boom")): Redis adds ERR.
            (
                b"-ERR boom script: 80083dcfdebe5fd29f13e655357b50fbf80e63a6, on @user_script:1.\r\n",
                "ERR",
                "boom",
                1,
            ),
            // redis.call under maxmemory, on a read-only replica, denied by ACL.
            (
                b"-OOM command not allowed when used memory > 'maxmemory'. script: 0a9f75e991483d02789696e4c90d26c10395863e, on @user_script:1.\r\n",
                "OOM",
                "command not allowed when used memory > 'maxmemory'.",
                1,
            ),
            (
                b"-READONLY You can't write against a read only replica. script: 0a9f75e991483d02789696e4c90d26c10395863e, on @user_script:1.\r\n",
                "READONLY",
                "You can't write against a read only replica.",
                1,
            ),
            (
                b"-ERR The user executing the script can't run this command or subcommand script: 9d942d0251c5ac1fbe0caad3b415e97d85edc64a, on @user_script:1.\r\n",
                "ERR",
                "The user executing the script can't run this command or subcommand",
                1,
            ),
            // A write from EVAL_RO.
            (
                b"-ERR Write commands are not allowed from read-only scripts. script: 219bb33e7c6773035c720850383aa2ebb63d9904, on @user_script:1.\r\n",
                "ERR",
                "Write commands are not allowed from read-only scripts.",
                1,
            ),
            // The caller of a script stopped by SCRIPT KILL.
            (
                b"-ERR Script killed by user with SCRIPT KILL... script: 694a5fe1ddb97a4c6a1bf299d9537c7d3d0f84e7, on @user_script:1.\r\n",
                "ERR",
                "Script killed by user with SCRIPT KILL...",
                1,
            ),
            // pcall(redis.call, "GET") then error(e).
            (
                b"-ERR user_script:1: ERR Wrong number of args calling Redis command from script script: 5ea2365cb321fe38b0202b783f1c7c55e6cadc77, on @user_script:1.\r\n",
                "ERR",
                "ERR Wrong number of args calling Redis command from script",
                1,
            ),
        ];
        for &(resp, code, message, line) in cases {
            let e = script_err(&SCRIPT, resp);
            let what = String::from_utf8_lossy(resp);
            assert_eq!(e.code(), code, "{what}");
            assert_eq!(e.message(), message, "{what}");
            assert_eq!(e.line(), Some(line), "{what}");
            assert_eq!(e.location(), SCRIPT.origin_of(line).as_slice(), "{what}");
        }
    }

    #[test]
    fn v7_empty_error_displays() {
        let e = script_err(
            &SCRIPT,
            b"- script: be9c3032cdff9e02cec6578de043cd5e4e049652, on @user_script:1.\r\n",
        );
        assert_eq!(
            e.to_string(),
            "script `create_status` (lua/create_status.lua) failed: (empty error message)\n  at lua/create_status.lua:1\n   | local key = KEYS[1]"
        );
    }

    // ---- Redis 6 shapes (from the 6.x sources) ----------------------------

    #[test]
    fn v6_failing_redis_call() {
        let e = script_err(
            &SCRIPT,
            b"-ERR Error running script (call to f_8a27d0a361c3b94088d10ddeb019c98482034186): @user_script:3: WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        );
        assert_eq!(e.code(), "WRONGTYPE");
        assert_eq!(
            e.message(),
            "Operation against a key holding the wrong kind of value"
        );
        assert_eq!(e.line(), Some(3));
        assert_eq!(e.location(), &[(MAIN_FILE, 2), (KEYS_FILE, 2)]);
        assert_eq!(
            e.to_string(),
            "script `create_status` (lua/create_status.lua) failed: WRONGTYPE Operation against a key holding the wrong kind of value\n  at lua/create_status.lua:2 <- lua/lib/keys.lua:2\n   | return redis.call('HGET', k, f)"
        );
    }

    #[test]
    fn v6_wrong_arity_redis_call() {
        let e = script_err(
            &SCRIPT,
            b"-ERR Error running script (call to f_8a27d0a361c3b94088d10ddeb019c98482034186): @user_script:8: @user_script: 8: Wrong number of args calling Redis command From Lua script\r\n",
        );
        assert_eq!(e.code(), "ERR");
        assert_eq!(
            e.message(),
            "Wrong number of args calling Redis command From Lua script"
        );
        assert_eq!(e.line(), Some(8));
        assert_eq!(e.location(), &[(MAIN_FILE, 6)]);
    }

    #[test]
    fn v6_lua_errors() {
        let e = script_err(
            &SCRIPT,
            b"-ERR Error running script (call to f_8a27d0a361c3b94088d10ddeb019c98482034186): @user_script:6: user_script:6: boom\r\n",
        );
        assert_eq!((e.code(), e.message(), e.line()), ("ERR", "boom", Some(6)));
        assert_eq!(e.location(), &[(MAIN_FILE, 4)]);

        let e = script_err(
            &SCRIPT,
            b"-ERR Error running script (call to f_8a27d0a361c3b94088d10ddeb019c98482034186): @user_script:9: user_script:9: attempt to perform arithmetic on local 'x' (a nil value)\r\n",
        );
        assert_eq!(e.code(), "ERR");
        assert_eq!(
            e.message(),
            "attempt to perform arithmetic on local 'x' (a nil value)"
        );
        assert_eq!(e.line(), Some(9));

        let e = script_err(
            &SCRIPT,
            b"-ERR Error running script (call to f_8a27d0a361c3b94088d10ddeb019c98482034186): @user_script:1: Script killed by user with SCRIPT KILL...\r\n",
        );
        assert_eq!(
            (e.code(), e.message(), e.line()),
            ("ERR", "Script killed by user with SCRIPT KILL...", Some(1))
        );
    }

    #[test]
    fn v6_compile_error() {
        let e = script_err(
            &BROKEN,
            b"-ERR Error compiling script (new function): user_script:3: ')' expected near 'f'\r\n",
        );
        assert!(e.is_compile_error());
        assert_eq!(e.line(), Some(3));
    }

    // ---- Classification ---------------------------------------------------

    #[test]
    fn server_refusals_are_redis_errors() {
        // All recorded from Redis 7.0.15.
        let cases: &[&[u8]] = &[
            b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
            b"-NOPERM this user has no permissions to run the 'evalsha' command\r\n",
            b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n",
            b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n",
            b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n",
            b"-NOAUTH Authentication required.\r\n",
            b"-OOM command not allowed when used memory > 'maxmemory'.\r\n",
            b"-READONLY You can't write against a read only replica.\r\n",
            b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n",
            b"-ERR Can not execute a script with write flag using *_ro command.\r\n",
            b"-ERR Number of keys can't be greater than number of args\r\n",
            b"-ERR wrong number of arguments for 'evalsha' command\r\n",
            b"-MOVED 3999 127.0.0.1:6381\r\n",
        ];
        for &resp in cases {
            let e = classify_resp(&SCRIPT, resp);
            assert!(
                e.is_redis_error(),
                "{}: {e:?}",
                String::from_utf8_lossy(resp)
            );
            assert_eq!(e.script_name(), "create_status");
        }
        let e = classify_resp(
            &SCRIPT,
            b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
        );
        assert_eq!(e.code(), Some("NOSCRIPT"));
        assert_eq!(
            e.to_string(),
            "script `create_status`: NOSCRIPT No matching script. Please use EVAL."
        );
        let source = std::error::Error::source(&e).expect("has a source");
        assert!(source.to_string().contains("No matching script"));
        assert_eq!(
            e.redis_error().map(|e| e.kind()),
            Some(redis::ErrorKind::Server(redis::ServerErrorKind::NoScript))
        );
    }

    /// The server's own wordings (recorded from Redis 6.2.5-8.2.3 and
    /// Valkey 8.1.8/9.1.2) against a script's use of the same codes.
    #[test]
    fn only_the_servers_own_wording_is_a_refusal() {
        let server: &[&[u8]] = &[
            b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
            b"-NOSCRIPT No matching script.\r\n",
            b"-LOADING Redis is loading the dataset in memory\r\n",
            b"-LOADING Valkey is loading the dataset in memory\r\n",
            b"-BUSY Valkey is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n",
            b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
            b"-CLUSTERDOWN The cluster is down\r\n",
            b"-CLUSTERDOWN Hash slot not served\r\n",
            b"-ASK 3999 127.0.0.1:6381\r\n",
            b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
            // Redis 8.2 and Valkey (measured): the user is named.
            b"-NOPERM User noeval has no permissions to run the 'evalsha' command\r\n",
        ];
        for &resp in server {
            let e = classify_resp(&SCRIPT, resp);
            assert!(e.is_redis_error(), "{}", String::from_utf8_lossy(resp));
            assert_eq!(e.outcome(), crate::Outcome::Refused);
        }
        let value =
            |resp: &[u8]| retry_value(&SCRIPT, &redis::Value::ServerError(server_err(resp)));
        let raised = |resp: &[u8]| retry(&SCRIPT, &Err(redis_err(resp)));
        for (resp, want) in [
            (&b"-NOSCRIPT No matching script.\r\n"[..], Retry::NoScript),
            (
                b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
                Retry::NoScript,
            ),
            (
                b"-LOADING Redis is loading the dataset in memory\r\n",
                Retry::Loading,
            ),
        ] {
            assert_eq!(value(resp), Some(want));
            assert_eq!(raised(resp), Some(want));
        }
        let script: &[&[u8]] = &[
            b"-NOSCRIPT fake\r\n",
            b"-NOSCRIPT No matching script. Please use EVAL. (not really)\r\n",
            b"-LOADING later\r\n",
            b"-BUSY try again\r\n",
            b"-MOVED elsewhere\r\n",
            b"-MOVED 99999 127.0.0.1:6381\r\n",
            b"-ASK 1 127.0.0.1:6381 please\r\n",
            b"-TRYAGAIN soon\r\n",
            b"-READONLY not now\r\n",
            b"-OOM full\r\n",
        ];
        for &resp in script {
            let e = classify_resp(&SCRIPT, resp);
            assert!(
                e.is_reply_error(),
                "{}: {e:?}",
                String::from_utf8_lossy(resp)
            );
            assert_eq!(e.outcome(), crate::Outcome::Ran);
        }
        for resp in [
            &b"-NOSCRIPT fake\r\n"[..],
            b"-LOADING later\r\n",
            b"-ERR x\r\n",
        ] {
            assert_eq!(value(resp), None);
            assert_eq!(raised(resp), None);
        }
    }

    #[test]
    fn connection_errors_are_redis_errors() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let e = from_redis(&SCRIPT, RedisError::from(io));
        assert!(e.is_redis_error());
        assert_eq!(e.code(), None);
        assert_eq!(
            e.to_string(),
            "script `create_status`: reset by peer\n  sent without a reply: the script may \
             have run; check its effects before sending it again"
        );
        assert_eq!(e.outcome(), crate::Outcome::MayHaveRun);
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn errors_without_markers_are_replies() {
        let cases: &[(&[u8], &str, &str)] = &[
            (b"-MYERR something\r\n", "MYERR", "something"),
            // Recorded from Redis 7.0.15:
            // return redis.error_reply('MYCODE nope') (and {err = 'MYCODE nope'})
            (b"-MYCODE nope\r\n", "MYCODE", "nope"),
            // return redis.error_reply('boom')
            (b"-ERR boom\r\n", "ERR", "boom"),
            // return {err = 'not found: user 7'}
            (b"-not found: user 7\r\n", "", "not found: user 7"),
            // return redis.pcall('INCR', k) on a non-number
            (
                b"-ERR value is not an integer or out of range\r\n",
                "ERR",
                "value is not an integer or out of range",
            ),
            // return redis.pcall('HGET', k, f) on a string key
            (
                b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
                "WRONGTYPE",
                "Operation against a key holding the wrong kind of value",
            ),
        ];
        for &(resp, code, message) in cases {
            let e = classify_resp(&SCRIPT, resp);
            let r = e.as_reply_error().unwrap_or_else(|| panic!("{e:?}"));
            assert_eq!((r.code(), r.message()), (code, message));
            assert_eq!(r.script_name(), "create_status");
        }
        let e = classify_resp(&SCRIPT, b"-MYERR something\r\n");
        assert_eq!(e.code(), Some("MYERR"));
        assert_eq!(
            e.to_string(),
            "script `create_status` returned an error reply: MYERR something"
        );
        assert!(std::error::Error::source(&e).is_none());

        // redis::make_extension_error builds the same kind of error.
        let e = from_redis(
            &SCRIPT,
            redis::make_extension_error("MYERR".into(), Some("something".into())),
        );
        assert!(e.is_reply_error());
    }

    // ---- Decode ------------------------------------------------------------

    #[test]
    fn decode_errors() {
        let e = decode(&SCRIPT, "int", &Value::Nil);
        assert!(e.is_decode_error());
        let d = e.as_decode_error().unwrap();
        assert_eq!((d.expected(), d.got()), ("int", "null"));
        assert_eq!(
            e.to_string(),
            "script `create_status` (lua/create_status.lua): reply does not decode as int: got null\n  hint: Lua `nil` and `false` both arrive as null; declare `%return int?` to accept null"
        );

        let e = decode(&SCRIPT, "str", &Value::Int(42));
        assert_eq!(
            e.to_string(),
            "script `create_status` (lua/create_status.lua): reply does not decode as str: got integer 42"
        );

        let e = decode(&SCRIPT, "str?", &Value::Nil);
        assert!(!e.to_string().contains("hint"));

        let long = "x".repeat(100);
        let e = decode(&SCRIPT, "int", &Value::BulkString(long.into_bytes()));
        assert_eq!(
            e.as_decode_error().unwrap().got(),
            format!("bulk string \"{}…\"", "x".repeat(60))
        );
        let got = |v: Value| describe(&v);
        assert_eq!(
            got(Value::BulkString(b"a\"b\n".to_vec())),
            r#"bulk string "a\"b\n""#
        );
        assert_eq!(
            got(Value::BulkString(vec![0xff, 0xfe])),
            "bulk string of 2 bytes (not UTF-8)"
        );
        assert_eq!(got(Value::Array(vec![Value::Nil; 3])), "array of 3");
        assert_eq!(got(Value::Array(vec![])), "empty array");
        assert_eq!(got(Value::Okay), "status \"OK\"");
        assert_eq!(got(Value::SimpleString("FINE".into())), "status \"FINE\"");
        assert_eq!(
            got(Value::Map(vec![(Value::Nil, Value::Nil)])),
            "map of 1 entry"
        );
        assert_eq!(got(Value::Double(1.5)), "double 1.5");
        assert_eq!(got(Value::Boolean(true)), "boolean true");
    }

    #[test]
    fn encode_errors() {
        let e = encode(&SCRIPT, "attrs", "key must be a string".into());
        assert_eq!(
            e.to_string(),
            "script `create_status`: cannot encode argument `attrs`: key must be a string"
        );
        assert_eq!(e.script_name(), "create_status");
    }

    // ---- Into RedisError -----------------------------------------------------

    #[test]
    fn converts_into_redis_error() {
        fn run(e: Error) -> redis::RedisResult<()> {
            Err(e)?;
            Ok(())
        }
        let e = classify_resp(
            &SCRIPT,
            b"-WRONGTYPE Operation against a key holding the wrong kind of value script: 8a27d0a361c3b94088d10ddeb019c98482034186, on @user_script:3.\r\n",
        );
        let text = e.to_string();
        let r = run(e).unwrap_err();
        assert_eq!(r.code(), Some("WRONGTYPE"));
        assert_eq!(r.detail(), Some(text.as_str()));

        let e = classify_resp(&SCRIPT, b"-not found\r\n");
        let r = run(e).unwrap_err();
        assert_eq!(r.code(), Some("ERR"));

        let e = classify_resp(
            &SCRIPT,
            b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
        );
        let r = run(e).unwrap_err();
        assert_eq!(
            r.kind(),
            redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
        );

        let r = run(decode(&SCRIPT, "int", &Value::Nil)).unwrap_err();
        assert_eq!(r.kind(), redis::ErrorKind::UnexpectedReturnType);
        assert!(r.detail().unwrap().contains("does not decode as int"));
    }
}
