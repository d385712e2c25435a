//! The text of a Redis script error: finds the `user_script:<N>` marker
//! of each server version and splits code, message and line. Pure text;
//! [`super::classify`] maps the line back to the `.lua` file.

#[derive(Debug, PartialEq)]
pub(super) struct Parsed {
    pub(super) code: String,
    pub(super) message: String,
    pub(super) line: Option<usize>,
    pub(super) compile: bool,
}

/// Redis 6 wrapper of a run-time error.
const V6_RUNNING: &str = "ERR Error running script (call to ";
/// Compile errors (all versions).
const COMPILING: &str = "ERR Error compiling script (new function): ";

/// Parses `raw` (`<CODE> <text>`) if it carries a script-error marker.
pub(super) fn parse_script_error(raw: &str) -> Option<Parsed> {
    let raw = raw.trim_end();
    if let Some((head, marker_line)) = split_v7_suffix(raw) {
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
        });
    }
    if let Some(rest) = raw.strip_prefix(COMPILING) {
        let (line, message) = match lua_position(rest) {
            Some((n, msg)) => (Some(n), msg),
            None => (None, rest),
        };
        return Some(Parsed {
            code: "ERR".to_owned(),
            message: message.to_owned(),
            line,
            compile: true,
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
        });
    }
    None
}

/// Splits `<head> script: <sha>, on @user_script:<N>.` into head and N.
fn split_v7_suffix(raw: &str) -> Option<(&str, usize)> {
    const ON: &str = ", on @user_script:";
    let s = raw.strip_suffix('.')?;
    let at = s.rfind(ON)?;
    let line = parse_digits(&s[at + ON.len()..])?;
    let before = &s[..at];
    let sp = before.rfind("script: ")?;
    let sha = &before[sp + "script: ".len()..];
    if sha.is_empty() || sha.contains(char::is_whitespace) {
        return None;
    }
    let head = &before[..sp];
    let head = if head.is_empty() {
        head
    } else {
        head.strip_suffix(' ')?
    };
    Some((head, line))
}

/// `user_script:<N>: <msg>` (a Lua position, `@` optional) → (N, msg).
fn lua_position(s: &str) -> Option<(usize, &str)> {
    strip_position(s, "user_script:").or_else(|| strip_position(s, "@user_script:"))
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
