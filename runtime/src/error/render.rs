//! How errors show: `Display` for people (script, `.lua` file:line, the
//! failing line, what to do), `Debug` without the script's source.

use std::fmt;

use redis::{ServerError, Value};

use super::{DecodeError, EncodeError, Error, Outcome, ReplyError, ScriptError};

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Redis { script, source } => {
                write!(f, "script `{script}`: ")?;
                match ServerError::try_from(source.clone()) {
                    Ok(e) => {
                        let detail = e.details().unwrap_or("");
                        write_code_message(f, e.code(), detail)?;
                        if e.code() == "ERR" {
                            if detail.starts_with("unknown command `EVALSHA_RO`") {
                                f.write_str(BEFORE_7)?;
                            } else if detail.starts_with("unknown command `FCALL")
                                || detail.starts_with("unknown command `FUNCTION`")
                            {
                                f.write_str(NO_FUNCTIONS)?;
                            }
                        }
                        Ok(())
                    }
                    Err(_) => {
                        write!(f, "{source}")?;
                        match Outcome::of_redis_error(source) {
                            Outcome::NotSent => f.write_str(
                                "\n  not sent: the script did not run; safe to send again",
                            ),
                            Outcome::MayHaveRun => f.write_str(
                                "\n  sent without a reply: the script may have run; \
                                 check its effects before sending it again",
                            ),
                            _ => Ok(()),
                        }
                    }
                }
            }
            Error::Script(e) => e.fmt(f),
            Error::Reply(e) => e.fmt(f),
            Error::Decode(e) => e.fmt(f),
            Error::Encode(e) => e.fmt(f),
            Error::Batch(e) => e.fmt(f),
            Error::Cluster(e) => e.fmt(f),
        }
    }
}

/// What to do when a server older than Redis 7.0 meets a script with a
/// `#!lua` line (it has no script flags and no `EVALSHA_RO`).
const BEFORE_7: &str = "\n  hint: this server is older than Redis 7.0, which added script flags \
    and EVALSHA_RO: it cannot run a script with a `#!lua flags=...` line. Remove the line to \
    run the script there (a `no-writes` script then runs with EVALSHA, on primaries only), or \
    use Redis 7.0+ or Valkey";

/// What to do when a server without Redis Functions (before Redis 7.0)
/// meets a `#[redis_function]`.
const NO_FUNCTIONS: &str = "\n  hint: this server has no Redis Functions (Redis 7.0 added them; \
    Valkey has them): declare the script with #[redis_script] instead of #[redis_function] to \
    run it here, or use Redis 7.0+ or Valkey";

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.compile {
            "failed to compile"
        } else {
            "failed"
        };
        write!(
            f,
            "script `{}` ({}) {what}: ",
            self.script_name(),
            self.path()
        )?;
        write_code_message(f, &self.code, &self.message)?;
        if !self.location.is_empty() {
            f.write_str("\n  at ")?;
            for (i, (file, line)) in self.location.iter().enumerate() {
                if i > 0 {
                    f.write_str(" <- ")?;
                }
                write!(f, "{file}:{line}")?;
            }
        } else if let Some(line) = self.line {
            write!(f, "\n  at line {line} of the assembled script")?;
        }
        if let Some(src) = self.source_line() {
            let src = src.trim();
            if !src.is_empty() {
                write!(f, "\n   | {}", truncate(src, 160))?;
            }
        }
        // Redis 6's Lua reads the `#!lua` line as code.
        if self.compile
            && self.line == Some(1)
            && self.message.contains("near '#'")
            && self.script.source().starts_with("#!")
        {
            f.write_str(BEFORE_7)?;
        }
        Ok(())
    }
}

impl fmt::Debug for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptError")
            .field("script", &self.script_name())
            .field("code", &self.code)
            .field("message", &self.message)
            .field("line", &self.line)
            .field("location", &self.location)
            .field("compile", &self.compile)
            .finish()
    }
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "script `{}` returned an error reply: ",
            self.script_name()
        )?;
        write_code_message(f, &self.code, &self.message)
    }
}

impl fmt::Debug for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyError")
            .field("script", &self.script_name())
            .field("code", &self.code)
            .field("message", &self.message)
            .finish()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "script `{}` ({}): reply does not decode as {}: ",
            self.script_name(),
            self.path(),
            self.expected,
        )?;
        if let Some(i) = self.index {
            write!(f, "element {i} (0-based) of the array reply: ")?;
        }
        write!(f, "got {}", self.got)?;
        if let Some(hint) = self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        if self.got_null && !is_optional(self.expected) {
            // Header type names are single words; JSON targets are Rust type paths.
            let declared = if self.expected.chars().all(|c| c.is_ascii_lowercase()) {
                self.expected.to_string()
            } else {
                "TYPE".to_string()
            };
            write!(
                f,
                "\n  hint: Lua `nil` and `false` both arrive as null; \
                 declare `%return {declared}?` to accept null"
            )?;
        }
        Ok(())
    }
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodeError")
            .field("script", &self.script_name())
            .field("expected", &self.expected)
            .field("got", &self.got)
            .field("index", &self.index)
            .finish()
    }
}

fn is_optional(expected: &str) -> bool {
    expected.ends_with('?')
        || expected.starts_with("Option<")
        || expected.starts_with("core::option::Option<")
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "script `{}`: cannot encode argument `{}`: {}",
            self.script_name(),
            self.param,
            self.message
        )
    }
}

impl fmt::Debug for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncodeError")
            .field("script", &self.script_name())
            .field("param", &self.param)
            .field("message", &self.message)
            .finish()
    }
}

fn write_code_message(f: &mut fmt::Formatter<'_>, code: &str, message: &str) -> fmt::Result {
    match (code.is_empty(), message.is_empty()) {
        (false, false) => write!(f, "{code} {message}"),
        (false, true) => f.write_str(code),
        (true, false) => f.write_str(message),
        (true, true) => f.write_str("(empty error message)"),
    }
}

// ---------------------------------------------------------------------------
// Describing a value for DecodeError
// ---------------------------------------------------------------------------

const SHOWN_CHARS: usize = 60;

fn truncate(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => s.into(),
        Some((at, _)) => format!("{}…", &s[..at]).into(),
    }
}

fn quoted(s: &str) -> String {
    let shown = truncate(s, SHOWN_CHARS);
    let escaped: String = shown.chars().flat_map(char::escape_debug).collect();
    format!("\"{escaped}\"")
}

fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A short description of a reply for people.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Nil => "null".to_owned(),
        Value::Int(n) => format!("integer {n}"),
        Value::BulkString(b) => match std::str::from_utf8(b) {
            Ok(s) => format!("bulk string {}", quoted(s)),
            Err(_) => format!(
                "bulk string of {} (not UTF-8)",
                count(b.len(), "byte", "bytes")
            ),
        },
        Value::Array(items) if items.is_empty() => "empty array".to_owned(),
        Value::Array(items) => format!("array of {}", items.len()),
        Value::SimpleString(s) => format!("status {}", quoted(s)),
        Value::Okay => "status \"OK\"".to_owned(),
        Value::Map(items) => format!("map of {}", count(items.len(), "entry", "entries")),
        Value::Attribute { data, .. } => describe(data),
        Value::Set(items) => format!("set of {}", items.len()),
        Value::Double(d) => format!("double {d}"),
        Value::Boolean(b) => format!("boolean {b}"),
        Value::VerbatimString { text, .. } => format!("verbatim string {}", quoted(text)),
        Value::BigNumber(_) => "big number".to_owned(),
        Value::Push { .. } => "push message".to_owned(),
        Value::ServerError(e) => {
            let text = match e.details() {
                Some(d) => format!("{} {d}", e.code()),
                None => e.code().to_owned(),
            };
            format!("error reply {}", quoted(&text))
        }
        _ => "an unsupported reply".to_owned(),
    }
}
