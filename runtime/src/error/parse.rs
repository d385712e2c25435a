//! The text of a Redis script error: finds the `user_script:<N>` marker
//! (`user_function:<N>` for a Redis Function) of each server version and
//! splits code, message and line. Pure text; [`super::classify`] maps the
//! line back to the `.lua` file.

#[derive(Debug, PartialEq)]
pub(super) struct Parsed {
    pub(super) code: String,
    pub(super) message: String,
    pub(super) line: Option<usize>,
    pub(super) compile: bool,
    /// The error is a Redis Function's: `line` counts lines of the library
    /// loaded with `FUNCTION LOAD`, not of the script.
    pub(super) function: bool,
}

/// Redis 6 wrapper of a run-time error.
const V6_RUNNING: &str = "ERR Error running script (call to ";
/// Compile errors (all versions).
const COMPILING: &str = "ERR Error compiling script (new function): ";
/// Compile errors of `FUNCTION LOAD` (Redis 7.0-8.2, Valkey 8-9).
const COMPILING_FUNCTION: &str = "ERR Error compiling function: ";

/// Parses `raw` (`<CODE> <text>`) if it carries a script-error marker.
pub(super) fn parse_script_error(raw: &str) -> Option<Parsed> {
    let raw = raw.trim_end();
    if let Some((head, marker_line, function)) = split_v7_suffix(raw) {
        let (code, rest) = split_code(head);
        let (line, message) = match lua_position(rest) {
            Some((n, msg)) if code == "ERR" => (n, msg),
            _ => (marker_line, rest),
        };
        return Some(Parsed {
            code: code.to_owned(),
            message: message.to_owned(),
            line: Some(line),
            compile: false,
            function,
        });
    }
    let compiling = raw
        .strip_prefix(COMPILING)
        .map(|rest| (rest, false))
        .or_else(|| {
            raw.strip_prefix(COMPILING_FUNCTION)
                .map(|rest| (rest, true))
        });
    if let Some((rest, function)) = compiling {
        let (line, message) = match lua_position(rest) {
            Some((n, msg)) => (Some(n), msg),
            None => (None, rest),
        };
        return Some(Parsed {
            code: "ERR".to_owned(),
            message: message.to_owned(),
            line,
            compile: true,
            function,
        });
    }
    if let Some(rest) = raw.strip_prefix(V6_RUNNING) {
        // `f_<sha>): @user_script:<N>: <inner>`
        let rest = rest.split_once("): ").map_or("", |(_, r)| r);
        let (outer, inner) = match strip_position(rest, "@user_script:") {
            Some((n, inner)) => (Some(n), inner),
            None => (None, rest),
        };
        // A misused redis.call: `@user_script: <N>: <msg>`; a Lua error:
        // `user_script:<N>: <msg>`; a failing redis.call: `<CODE> <msg>`.
        let parsed = strip_position(inner, "@user_script: ")
            .or_else(|| lua_position(inner))
            .map(|(n, msg)| ("ERR", Some(n), msg));
        let (code, line, message) = match parsed {
            Some(p) => p,
            None => match split_code(inner) {
                ("", msg) => ("ERR", outer, msg),
                (code, msg) => (code, outer, msg),
            },
        };
        return Some(Parsed {
            code: code.to_owned(),
            message: message.to_owned(),
            line: line.or(outer),
            compile: false,
            function: false,
        });
    }
    None
}

/// Splits the Redis 7+ / Valkey location suffix off a script error:
/// `<head> script: <sha>, on @user_script:<N>.` (Redis 7, 8, Valkey 8) or
/// `<head> script: on @user_script:<N>.` (Valkey 9.1, no SHA) → head and N.
/// A function's error names the function for the SHA and `@user_function`
/// (`script: <name>, on @user_function:<N>.`, Valkey 9.1 `script: on
/// @user_function:<N>.`): the third value is true then.
fn split_v7_suffix(raw: &str) -> Option<(&str, usize, bool)> {
    let s = raw.strip_suffix('.')?;
    let (at, on, function) = [(" on @user_script:", false), (" on @user_function:", true)]
        .into_iter()
        .filter_map(|(on, function)| Some((s.rfind(on)?, on, function)))
        .max_by_key(|(at, _, _)| *at)?;
    let line = parse_digits(&s[at + on.len()..])?;
    let before = &s[..at];
    let head = match before.strip_suffix(',') {
        Some(with_sha) => {
            let sp = with_sha.rfind("script: ")?;
            let sha = &with_sha[sp + "script: ".len()..];
            if sha.is_empty() || sha.contains(char::is_whitespace) {
                return None;
            }
            &with_sha[..sp]
        }
        None => before.strip_suffix("script:")?,
    };
    let head = if head.is_empty() {
        head
    } else {
        head.strip_suffix(' ')?
    };
    Some((head, line, function))
}

/// `user_script:<N>: <msg>` (a Lua position, `@` optional; `user_function`
/// in a function) → (N, msg).
fn lua_position(s: &str) -> Option<(usize, &str)> {
    [
        "user_script:",
        "@user_script:",
        "user_function:",
        "@user_function:",
    ]
    .into_iter()
    .find_map(|prefix| strip_position(s, prefix))
}

/// `<prefix><N>: <rest>` → (N, rest).
fn strip_position<'a>(s: &'a str, prefix: &str) -> Option<(usize, &'a str)> {
    let s = s.strip_prefix(prefix)?;
    let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let n = parse_digits(&s[..digits])?;
    let rest = s[digits..].strip_prefix(':')?;
    Some((n, rest.strip_prefix(' ').unwrap_or(rest)))
}

fn parse_digits(s: &str) -> Option<usize> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `CODE message` → ("CODE", "message"); ("", text) when the first word is
/// not code-like.
pub(super) fn split_code(text: &str) -> (&str, &str) {
    let (first, rest) = text.split_once(' ').unwrap_or((text, ""));
    if looks_like_code(first) {
        (first, rest)
    } else {
        ("", text)
    }
}

fn looks_like_code(word: &str) -> bool {
    word.len() <= 64
        && word.starts_with(|c: char| c.is_ascii_uppercase())
        && word
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The replies recorded from each server of the test matrix by
    /// `tools/record_replies.py`: (server, case, reply without its type byte).
    fn recorded() -> Vec<(String, String, String)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/replies");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).expect("fixtures") {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "txt") {
                continue;
            }
            let server = path.file_stem().unwrap().to_string_lossy().into_owned();
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                if line.starts_with('#') || line.is_empty() {
                    continue;
                }
                let (case, reply) = line.split_once('\t').expect("case<TAB>reply");
                let reply = reply.replace("\\n", "\n");
                out.push((server.clone(), case.to_owned(), reply[1..].to_owned()));
            }
        }
        assert!(out.len() > 100, "fixtures of five servers");
        out
    }

    #[test]
    fn every_servers_script_errors_parse_to_the_same_code_and_line() {
        // (case, code, line) as every server from Redis 7 on reports them.
        let expected = [
            ("runtime_error", "ERR", 1),
            ("runtime_error_line3", "ERR", 3),
            ("runtime_error_evalsha", "ERR", 3),
            ("error_string", "ERR", 2),
            ("error_string_level0", "ERR", 1),
            ("error_table", "MYCODE", 2),
            ("call_wrongtype", "WRONGTYPE", 2),
            ("flags_no_writes_write", "ERR", 2),
        ];
        let all = recorded();
        let mut checked = 0;
        for (server, case, reply) in &all {
            let Some(&(_, code, line)) = expected.iter().find(|(c, _, _)| c == case) else {
                continue;
            };
            // Redis 6.2 has no flags, and its error({err=...}) fails inside
            // its own error handler.
            let v6 = server.starts_with("redis-6.");
            if v6 && matches!(case.as_str(), "flags_no_writes_write" | "error_table") {
                continue;
            }
            let p = parse_script_error(reply)
                .unwrap_or_else(|| panic!("{server} {case}: not parsed: {reply}"));
            // (6.2 wraps a failing redis.call in ERR; the inner code is kept.)
            assert_eq!(
                (p.code.as_str(), p.line),
                (code, Some(line)),
                "{server} {case}: {reply}"
            );
            assert!(
                !p.message.contains("script:"),
                "{server} {case}: {}",
                p.message
            );
            checked += 1;
        }
        assert!(checked >= 35, "checked {checked}");
    }

    #[test]
    fn replies_the_script_returned_carry_no_marker_on_any_server() {
        for (server, case, reply) in recorded() {
            if [
                "error_reply",
                "return_err_table",
                "script_noscript_fake",
                "noscript",
            ]
            .contains(&case.as_str())
            {
                assert_eq!(parse_script_error(&reply), None, "{server} {case}: {reply}");
            }
        }
    }

    /// Function errors as Redis 7.0.15 and 8.2.3 and Valkey 8.1.8 and 9.1.2
    /// sent them (`FCALL` of a library whose function starts on line 2),
    /// with the code and library line each must parse to.
    #[test]
    fn function_errors_of_every_server_parse_to_code_and_library_line() {
        let cases: &[(&str, &str, usize, &str)] = &[
            (
                "ERR user_function:4: boom script: myfn, on @user_function:4.",
                "ERR",
                4,
                "boom",
            ),
            (
                "ERR user_function:4: boom script: on @user_function:4.",
                "ERR",
                4,
                "boom",
            ),
            (
                "MYCODE boom script: myfn, on @user_function:5.",
                "MYCODE",
                5,
                "boom",
            ),
            ("MYCODE boom script: on @user_function:5.", "MYCODE", 5, "boom"),
            (
                "ERR Wrong number of args calling Redis command from script script: myfn, on @user_function:6.",
                "ERR",
                6,
                "Wrong number of args calling Redis command from script",
            ),
            (
                "ERR Wrong number of args calling command from script script: on @user_function:6.",
                "ERR",
                6,
                "Wrong number of args calling command from script",
            ),
            (
                "WRONGTYPE Operation against a key holding the wrong kind of value script: myfn, on @user_function:7.",
                "WRONGTYPE",
                7,
                "Operation against a key holding the wrong kind of value",
            ),
            (
                "ERR user_function:8: attempt to perform arithmetic on local 'y' (a nil value) script: on @user_function:8.",
                "ERR",
                8,
                "attempt to perform arithmetic on local 'y' (a nil value)",
            ),
            (
                "ERR Write commands are not allowed from read-only scripts. script: rofn, on @user_function:11.",
                "ERR",
                11,
                "Write commands are not allowed from read-only scripts.",
            ),
        ];
        for &(raw, code, line, message) in cases {
            let p = parse_script_error(raw).unwrap_or_else(|| panic!("not parsed: {raw}"));
            assert_eq!(
                p,
                Parsed {
                    code: code.to_owned(),
                    message: message.to_owned(),
                    line: Some(line),
                    compile: false,
                    function: true,
                },
                "{raw}"
            );
        }
        let p = parse_script_error(
            "ERR Error compiling function: user_function:5: unexpected symbol near 'end'",
        )
        .unwrap();
        assert_eq!((p.line, p.compile, p.function), (Some(5), true, true));
        assert_eq!(p.message, "unexpected symbol near 'end'");
        // The server's refusals of FCALL and FUNCTION LOAD carry no marker.
        for raw in [
            "ERR Function not found",
            "ERR Library 'mylib' already exists",
            "ERR Function myfn already exists",
            "ERR Error registering functions: ERR unknown flag given",
            "ERR Can not execute a script with write flag using *_ro command.",
        ] {
            assert_eq!(parse_script_error(raw), None, "{raw}");
        }
    }
}
