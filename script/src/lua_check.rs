//! Phase 3: static checks of the assembled Lua script, before it reaches Redis.
//!
//! CONTRACT (shared with the macro's glue code): keep `Severity`, `LuaIssue`
//! and `check`'s signature.
//!
//! What is checked (every problem is a returned issue, nothing panics):
//! - syntax, with full_moon's Lua 5.1 grammar (the language of Redis' Lua);
//! - names, with Lua's scoping: reading or assigning a global that the Redis
//!   sandbox does not have, functions the sandbox removed (`require`,
//!   `print`, ...), `os.*` other than `os.clock`, unknown members of the
//!   sandbox's library tables, writes into its read-only global tables;
//! - `#!lua flags=...`: write commands under `no-writes` (unknown flags are
//!   the header's to report, in `assemble`);
//! - warnings: `%key`/`%arg` parameters never read, and keys of
//!   `redis.call`/`redis.pcall` built from string literals instead of a
//!   declared key (they break on Redis Cluster).
//!
//! The sandbox's globals were taken from Redis 7.0's `src/script_lua.c`
//! (`libraries_allow_list`, `redis_api_allow_list`, `lua_builtins_allow_list`,
//! `lua_builtins_not_documented_allow_list`, `deny_list`, `luaLoadLibraries`)
//! and checked against a running redis-server 7.0.15 with
//! `EVAL "for k in pairs(_G) ..." 0` and `EVAL "return type(<name>)" 0`.

use std::collections::{HashMap, HashSet};

use full_moon::ast::{
    Ast, BinOp, Block, Call, Expression, Field, FunctionArgs, FunctionBody, FunctionCall,
    FunctionDeclaration, Index, LastStmt, Parameter, Prefix, Stmt, Suffix, TableConstructor, UnOp,
    Var,
};
use full_moon::node::Node;
use full_moon::tokenizer::{
    Lexer, LexerResult, Position, Symbol, Token, TokenReference, TokenType, TokenizerErrorType,
};
use full_moon::visitors::{Visit, Visitor};
use full_moon::LuaVersion;

use crate::diag::closest;
use crate::dialect::{Dialect, Targets};
use crate::long_bracket;
use crate::redis_commands::COMMANDS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LuaIssue {
    pub severity: Severity,
    /// 1-based line in `source`.
    pub line: usize,
    /// 1-based column, in chars.
    pub col: usize,
    /// Chars to underline (>= 1).
    pub len: usize,
    pub message: String,
    pub label: Option<String>,
    pub help: Option<String>,
}

/// Checks the assembled script `source` (exactly as sent to Redis, with an
/// optional `#!lua flags=...` first line). `params` are the declared
/// `%key`/`%arg` names (locals bound by generated lines of `source`),
/// `key_params` the subset declared with `%key`, `flags` the shebang's flags.
/// Issues come back sorted by position.
pub fn check(
    source: &str,
    params: &[&str],
    key_params: &[&str],
    flags: &[String],
) -> Vec<LuaIssue> {
    check_declared(source, params, key_params, flags, Declared::default())
}

/// How many `KEYS` and `ARGV` entries the header declares: `None` when the
/// count is open (a variadic or pass-through parameter, or unknown).
#[derive(Debug, Clone, Copy, Default)]
pub struct Declared<'a> {
    pub keys: Option<usize>,
    pub args: Option<usize>,
    /// `%return int`: a returned Lua number reaches the caller truncated.
    pub returns_int: bool,
    /// `%return TYPE?` (or `bool`): a returned `false` means null, which
    /// `redis.setresp(3)` changes.
    pub returns_null_as_false: bool,
    /// Names a header line with an error meant to declare: not rendered,
    /// but not undefined either (the header error is the one to report).
    pub assumed: &'a [&'a str],
    /// The servers the script must run on; `None`: every server of the
    /// matrix. A global or library member is accepted only if all have it.
    pub targets: Option<&'a Targets>,
    /// Warn at the script's first write command that, without keys, it
    /// cannot be routed on Redis Cluster ([`KEYLESS_WRITE`]). Set for a
    /// script that declares no `%key` and has neither `no-writes` nor
    /// `no-cluster`.
    pub keyless: bool,
    /// Locals the script's top level shares its limit with: 2 for a Redis
    /// Function body, which runs inside `function(KEYS, ARGV)`.
    pub wrapper_locals: usize,
}

/// Lua 5.1 refuses a function with more live locals than this
/// (`LUAI_MAXVARS`): "main function has more than 200 local variables",
/// when Redis loads the script.
const MAX_LOCALS: usize = 200;

/// Lua 5.1 refuses a function that uses more locals of enclosing functions
/// than this (`LUAI_MAXUPVALUES`): "function at line N has more than 60
/// upvalues".
const MAX_UPVALUES: usize = 60;

/// Pseudo-bindings for `KEYS` and `ARGV` in a Redis Function's body, where
/// they are the parameters of the function it runs in: a nested function
/// that reads them takes them as upvalues.
const WRAPPER_KEYS: usize = usize::MAX;
const WRAPPER_ARGV: usize = usize::MAX - 1;

/// The start of the warning [`Declared::keyless`] asks for.
pub const KEYLESS_WRITE: &str = "a write in a script without keys: ";

/// [`check`], also refusing `KEYS[n]` / `ARGV[n]` with a literal `n` past
/// what the header declares (the call never sends them).
pub fn check_declared(
    source: &str,
    params: &[&str],
    key_params: &[&str],
    flags: &[String],
    declared: Declared<'_>,
) -> Vec<LuaIssue> {
    on_checker_stack(|| check_inner(source, params, key_params, flags, declared))
        .unwrap_or_else(|| vec![internal_error()])
}

/// Runs `f` (a parse and walk of a script) where deep nesting cannot crash
/// rustc, and catches its panics: `None` when it panicked.
///
/// The parser and the walk recurse once per nesting level, and a
/// downstream crate builds full_moon unoptimised: rustc's own thread
/// overflows at about 140 nested `if`s. A thread with a large stack
/// (reserved, not committed, until used) runs anything `MAX_DEPTH` lets
/// through.
pub(crate) fn on_checker_stack<R: Send>(f: impl FnOnce() -> R + Send) -> Option<R> {
    let run = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("redlua-lua-check".into())
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            })
            .map(|h| h.join())
    });
    match run {
        Ok(Ok(Ok(r))) => Some(r),
        _ => None,
    }
}

/// A panic in the checker must not let the script through unchecked: it
/// fails the build with a way out.
pub(crate) fn internal_error() -> LuaIssue {
    LuaIssue {
        severity: Severity::Error,
        line: 1,
        col: 1,
        len: 1,
        message: "redlua could not check this Lua script (internal error in the checker)"
            .to_string(),
        label: None,
        help: Some(
            "please report this script to redlua; to build without the Lua check \
             meanwhile, set REDLUA_SKIP_LUA_CHECK=1"
                .to_string(),
        ),
    }
}

/// Error codes that clients (redlua, redis-rs' cluster client, ...) treat as
/// the server's own refusal or redirection of a command.
pub const SERVER_CODES: &[&str] = &[
    "NOSCRIPT",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "LOADING",
    "MASTERDOWN",
    "READONLY",
    "MOVED",
    "ASK",
    "BUSY",
];

/// Undefined names per script that get a did-you-mean (the build shows at
/// most 50 errors), and the innermost locals each is compared with: each
/// comparison is an edit distance, so an unbounded search was quadratic in
/// the number of locals (36 s for 5,000 misspelt locals).
const MAX_SUGGESTIONS: usize = 64;
const SUGGEST_LOCALS: usize = 1_000;

/// Stack of the checker's thread.
const STACK_BYTES: usize = 256 << 20;

/// Nesting levels beyond which a script is refused before parsing. Redis's
/// Lua refuses more than 200 (LUAI_MAXCCALLS, "chunk has too many syntax
/// levels"), counting the main chunk and the expression being parsed as two
/// of them; `too_deep` counts a subset of the rest. So 198 here is Redis's
/// own limit where the two counts meet (198 nested `if`s, 198 unary
/// operators in one expression, both measured on redis-server 7.0.15), and
/// no script Redis accepts is refused.
pub const MAX_DEPTH: usize = 198;

/// Where the nesting of `text` first goes past `MAX_DEPTH`, as an issue.
///
/// A byte scan that knows Lua's strings, long brackets and comments, run
/// before the parser (whose recursion it bounds). full_moon's own lexer
/// would do, but builds every token with its trivia: it cost a third of the
/// parse on every build.
///
/// It counts what Redis's Lua 5.1 parser counts as a level (`enterlevel`):
/// every block and bracket, and within an expression every unary operator
/// (`-x`, `not x`, `#x`) and every right-associative `..` or `^` of a
/// chain. Left-associative chains (`a + b + c`) add no level there, nor
/// here. Each level counted here is one of Redis's, so no script Redis
/// accepts is refused.
pub(crate) fn too_deep(text: &str) -> Option<LuaIssue> {
    let b = text.as_bytes();
    // For each open block or bracket, the expression levels outside it.
    let mut open: Vec<usize> = Vec::new();
    // Expression levels of the current expression (unary and `..`/`^`).
    let mut chain: usize = 0;
    // The last token ended a value: a `-` after it is binary.
    let mut after_value = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let mut width = 1;
        let mut value = false;
        match c {
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i += 2;
                i = match long_bracket::level(&text[i..]) {
                    Some(_) => long_bracket::skip(text, i).unwrap_or(b.len()),
                    None => text[i..].find('\n').map_or(b.len(), |n| i + n),
                };
                continue;
            }
            b'\'' | b'"' => {
                i += 1;
                while i < b.len() && b[i] != c && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                after_value = true;
                continue;
            }
            b'[' => match long_bracket::level(&text[i..]) {
                Some(_) => {
                    i = long_bracket::skip(text, i).unwrap_or(b.len());
                    after_value = true;
                    continue;
                }
                None => open.push(chain),
            },
            b'(' | b'{' => open.push(chain),
            b')' | b'}' | b']' => {
                chain = open.pop().unwrap_or(0);
                value = true;
            }
            b'-' | b'#' if c == b'#' || !after_value => chain += 1,
            b'^' => chain += 1,
            b'.' if b.get(i + 1) == Some(&b'.') => {
                if b.get(i + 2) == Some(&b'.') {
                    i += 2;
                    value = true;
                } else {
                    i += 1;
                    chain += 1;
                }
            }
            b',' | b';' | b'=' => chain = open.last().copied().unwrap_or(0),
            c if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                while i + 1 < b.len()
                    && (b[i + 1].is_ascii_alphanumeric()
                        || b[i + 1] == b'.'
                        || (matches!(b[i + 1], b'+' | b'-') && matches!(b[i] | 0x20, b'e' | b'p')))
                {
                    i += 1;
                }
                value = true;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i + 1 < b.len() && (b[i + 1].is_ascii_alphanumeric() || b[i + 1] == b'_') {
                    i += 1;
                }
                width = i + 1 - start;
                let base = |open: &Vec<usize>| open.last().copied().unwrap_or(0);
                match &text[start..=i] {
                    "function" | "do" | "then" | "repeat" => {
                        open.push(chain);
                        chain = base(&open);
                    }
                    "end" | "until" | "elseif" => {
                        chain = open.pop().unwrap_or(0);
                        value = &text[start..=i] == "end";
                    }
                    "not" => chain += 1,
                    "and" | "or" => {}
                    "local" | "return" | "if" | "else" | "while" | "for" | "in" | "break" => {
                        chain = base(&open)
                    }
                    _ => value = true,
                }
            }
            _ => {}
        }
        i += 1;
        after_value = value;
        if open.len() + chain > MAX_DEPTH {
            let (line, col) = line_col(text, start);
            let issue = issue(
                Severity::Error,
                line,
                col,
                width,
                format!("blocks, brackets and operators nested more than {MAX_DEPTH} levels deep"),
            );
            return Some(with(
                issue,
                Some("one level too many".to_string()),
                Some(format!(
                    "Redis's Lua refuses scripts nested this deep (\"chunk has too many syntax \
                     levels\", at most {MAX_DEPTH}): move inner parts into local functions or \
                     locals"
                )),
            ));
        }
    }
    None
}

fn check_inner(
    source: &str,
    params: &[&str],
    key_params: &[&str],
    flags: &[String],
    declared: Declared<'_>,
) -> Vec<LuaIssue> {
    let lines = Lines::new(source);
    let mut issues = Vec::new();

    // full_moon 3.0's lexer panics on a backtick (its backtick strings are
    // a Luau/CfxLua feature): parse with a same-width invalid character in
    // its place, so it is reported as the syntax error it is in Lua 5.1.
    let text = blank_shebang(source).replace('`', "$");
    if let Some(deep) = too_deep(&text) {
        issues.push(deep);
        return issues;
    }
    let parsed = full_moon::parse_fallible(&text, LuaVersion::lua51());
    // A tokenizer error is the cause of the parse errors around it.
    let first = parsed
        .errors()
        .iter()
        .find(|e| matches!(e, full_moon::Error::TokenizerError(_)))
        .or_else(|| parsed.errors().first());
    if let Some(first) = first {
        let mut syntax = syntax_issue(&text, &lines, first);
        if char_at(source, syntax.line, syntax.col) == Some('`') {
            syntax.message = "unexpected character `` ` ``".to_string();
            syntax.help = Some(
                "Lua 5.1 has no backtick strings: quote with '...' or \"...\", or [[...]] \
                 for text over several lines"
                    .to_string(),
            );
        }
        issues.push(syntax);
    } else if let Some(dropped) = code_after_last_statement(&text, parsed.ast()) {
        issues.push(dropped);
    } else {
        let opts = Options {
            params: params.iter().copied().collect(),
            key_params: key_params.iter().copied().collect(),
            no_writes: flags.iter().any(|f| f == "no-writes"),
            no_cluster: flags.iter().any(|f| f == "no-cluster"),
            declared,
            targets: match declared.targets {
                Some(t) => t.servers().to_vec(),
                None => crate::dialect::all().iter().collect(),
            },
        };
        issues.extend(analyze(parsed.ast(), &lines, &opts));
    }
    issues.sort_by_key(|i| (i.line, i.col));
    issues
}

/// The character at 1-based `line` and char column `col` of `text`.
fn char_at(text: &str, line: usize, col: usize) -> Option<char> {
    text.lines()
        .nth(line.checked_sub(1)?)?
        .chars()
        .nth(col.checked_sub(1)?)
}

// ---------------------------------------------------------------------------
// The Redis sandbox
// ---------------------------------------------------------------------------

const INCLUDE_HELP: &str = "use `%include \"file\"` to share code";

/// Names a Lua 5.1 programmer may expect but the sandbox does not have, with
/// what to do instead.
const REMOVED: &[(&str, &str)] = &[
    // `package` is never loaded (`luaLoadLibraries` skips luaopen_package).
    ("require", INCLUDE_HELP),
    ("module", INCLUDE_HELP),
    ("package", INCLUDE_HELP),
    // `deny_list` of script_lua.c.
    ("dofile", INCLUDE_HELP),
    ("loadfile", INCLUDE_HELP),
    (
        "print",
        "use `redis.log(redis.LOG_NOTICE, ...)` to write to the server log",
    ),
    // Set to nil after the error handler is created.
    (
        "debug",
        "use `redis.debug()` and `redis.breakpoint()` with `redis-cli --ldb` to debug a script",
    ),
    // luaopen_io is never loaded.
    (
        "io",
        "scripts cannot use files; keep data in Redis and use `redis.call`",
    ),
    // Removed by the CVE-2025-46818 fix.
    (
        "getfenv",
        "Redis removed it from the script sandbox (CVE-2025-46818)",
    ),
    (
        "setfenv",
        "Redis removed it from the script sandbox (CVE-2025-46818)",
    ),
    (
        "newproxy",
        "Redis removed it from the script sandbox (CVE-2025-46818)",
    ),
    // Lua 5.2+ names.
    (
        "bit32",
        "Redis has the `bit` library (LuaBitOp): `bit.band`, `bit.bor`, ...",
    ),
    ("utf8", "Redis runs Lua 5.1, which has no `utf8` library"),
];

/// Functions whose result is built from their arguments (so literals in the
/// arguments end up in the result), for the literal-key warning.
const STRING_BUILDERS: &[&str] = &["format", "lower", "upper", "rep", "sub", "gsub", "reverse"];

fn removed_help(name: &str) -> Option<&'static str> {
    REMOVED.iter().find(|(n, _)| *n == name).map(|(_, h)| *h)
}

/// What the command table says of one command.
#[derive(Clone, Copy)]
struct CommandInfo {
    is_write: bool,
    first_key: i32,
    last_key: i32,
    step: i32,
}

impl CommandInfo {
    /// The argv positions of the keys in a call with `argc` arguments
    /// (the command name included), as COMMAND's first/last/step say.
    fn key_positions(self, argc: usize) -> impl Iterator<Item = usize> {
        let argc = argc as i64;
        let first = i64::from(self.first_key);
        let last = match i64::from(self.last_key) {
            l if l < 0 => argc + l,
            l => l,
        };
        let step = i64::from(self.step).max(1) as usize;
        // first 0: the keys are found another way (numkeys, ...): none here.
        let last = if first > 0 { last.min(argc - 1) } else { 0 };
        (first.max(1)..=last).step_by(step).map(|p| p as usize)
    }
}

/// A lowercase command name or `container|sub` in the command table.
fn command_info(name: &str) -> Option<CommandInfo> {
    COMMANDS.binary_search_by(|c| c.0.cmp(name)).ok().map(|i| {
        let (_, is_write, first_key, last_key, step) = COMMANDS[i];
        CommandInfo {
            is_write,
            first_key,
            last_key,
            step,
        }
    })
}

fn is_container(name: &str) -> bool {
    let prefix = format!("{name}|");
    let i = COMMANDS.partition_point(|c| c.0 < prefix.as_str());
    COMMANDS.get(i).is_some_and(|c| c.0.starts_with(&prefix))
}

// ---------------------------------------------------------------------------
// Positions
// ---------------------------------------------------------------------------

/// Line lengths (in chars) of the source, to clamp underlines.
struct Lines {
    lens: Vec<usize>,
}

impl Lines {
    fn new(source: &str) -> Self {
        Lines {
            lens: source
                .split('\n')
                .map(|l| l.trim_end_matches('\r').chars().count())
                .collect(),
        }
    }

    fn len_of(&self, line: usize) -> usize {
        line.checked_sub(1)
            .and_then(|i| self.lens.get(i))
            .copied()
            .unwrap_or(0)
    }

    /// Chars to underline from `start` to `end` (exclusive), clamped to the
    /// start's line, at least 1.
    fn span_len(&self, start: Position, end: Position) -> usize {
        let len = if end.line() == start.line() {
            end.character().saturating_sub(start.character())
        } else {
            (self.len_of(start.line()) + 1).saturating_sub(start.character())
        };
        len.max(1)
    }
}

fn issue(
    severity: Severity,
    line: usize,
    col: usize,
    len: usize,
    message: impl Into<String>,
) -> LuaIssue {
    LuaIssue {
        severity,
        line: line.max(1),
        col: col.max(1),
        len: len.max(1),
        message: message.into(),
        label: None,
        help: None,
    }
}

fn with(mut i: LuaIssue, label: Option<String>, help: Option<String>) -> LuaIssue {
    i.label = label;
    i.help = help;
    i
}

/// Replaces the characters of a `#!` first line by spaces: full_moon sees
/// Lua only, and every position stays where it was.
pub(crate) fn blank_shebang(source: &str) -> String {
    if !source.starts_with("#!") {
        return source.to_string();
    }
    let end = source.find('\n').unwrap_or(source.len());
    let first = source[..end].trim_end_matches('\r');
    let mut out = String::with_capacity(source.len());
    out.extend(first.chars().map(|_| ' '));
    out.push_str(&source[first.len()..]);
    out
}

// ---------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Syntax errors
// ---------------------------------------------------------------------------

/// full_moon 3.0.0 silently drops what follows a top-level `return` or
/// `break` (`return 1 return 2` parses without error): find it.
fn code_after_last_statement(text: &str, ast: &Ast) -> Option<LuaIssue> {
    // full_moon's own end position: `node_range` walks every token of the
    // statement through nested iterators, quadratic on a long expression
    // (`return a + a + ...`); this one may stop before closing brackets,
    // which the scan below steps over.
    let end = ast.nodes().last_stmt()?.end_position()?.bytes();
    let rest = text.get(end..)?;
    let mut i = 0;
    let bytes = rest.as_bytes();
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() || matches!(bytes[i], b')' | b']' | b'}') {
            i += 1;
        } else if rest[i..].starts_with("--") {
            i += 2;
            match long_bracket::level(&rest[i..]) {
                // An unclosed comment is a tokenizer error, reported elsewhere.
                Some(_) => i = long_bracket::skip(rest, i)?,
                None => i += rest[i..].find('\n').unwrap_or(rest.len() - i),
            }
        } else {
            let at = end + i;
            let (line, col) = line_col(text, at);
            let word_len = text[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .count()
                .max(1);
            return Some(with(
                issue(
                    Severity::Error,
                    line,
                    col,
                    word_len,
                    "unexpected code after `return` or `break`",
                ),
                Some("syntax error".to_string()),
                Some(
                    "`return` and `break` must end their block; write `do return end` to leave early"
                        .to_string(),
                ),
            ));
        }
    }
    None
}

/// 1-based line and char column of a byte offset.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn syntax_issue(text: &str, lines: &Lines, error: &full_moon::Error) -> LuaIssue {
    let structural = block_structure(text);
    let (start, end) = error.range();
    // At the end of the file, point at the last thing written instead.
    let mut at_eof = None;
    if text
        .get(start.bytes()..)
        .is_some_and(|r| r.trim().is_empty())
    {
        let last = text.trim_end();
        if let Some(c) = last.chars().next_back() {
            at_eof = Some(line_col(text, last.len() - c.len_utf8()));
        }
    }
    let mut label = None;
    let mut help = None;
    let message = match error {
        full_moon::Error::TokenizerError(e) => match e.error() {
            TokenizerErrorType::UnclosedString => "unclosed string".to_string(),
            TokenizerErrorType::UnclosedComment => "unclosed comment".to_string(),
            TokenizerErrorType::InvalidNumber => "invalid number".to_string(),
            TokenizerErrorType::UnexpectedToken(c) => {
                help = match c {
                    '!' => Some("Lua writes not-equal as `~=` and negation as `not`"),
                    '&' => Some("Lua writes logical and as `and` (bit operations: `bit.band`)"),
                    '|' => Some("Lua writes logical or as `or` (bit operations: `bit.bor`)"),
                    '~' => Some("Lua writes not-equal as `~=` (bit operations: `bit.bnot`)"),
                    c if !c.is_ascii() => {
                        Some("Lua 5.1 names use only ASCII letters, digits and `_`")
                    }
                    _ => None,
                }
                .map(str::to_string);
                format!("unexpected character `{c}`")
            }
            other => other.to_string(),
        },
        full_moon::Error::AstError(e) => {
            let raw = e.error_message();
            let token = e.token().to_string();
            if let Some(s) = structural.filter(|_| {
                raw.starts_with("expected `end`")
                    || raw.starts_with("expected `until`")
                    || (raw.starts_with("unexpected token") && (token == "end" || token == "until"))
            }) {
                return s;
            }
            match raw {
                "unexpected token, this needs to be a statement" => {
                    format!("unexpected `{token}`: expected a statement")
                }
                "unexpected expression when looking for a statement" => {
                    let before = text.get(..start.bytes()).unwrap_or("").trim_end();
                    help = Some(if before.ends_with("goto") {
                        "Redis runs Lua 5.1, which has no `goto`".to_string()
                    } else {
                        "a statement is an assignment, a call, `local ...`, or a keyword such as `if`"
                            .to_string()
                    });
                    "expected a statement: an expression alone is not a statement".to_string()
                }
                "unexpected statement after last statement" => {
                    help = Some(
                        "`return` and `break` must end their block; write `do return end` to leave early"
                            .to_string(),
                    );
                    "unexpected code after `return` or `break`".to_string()
                }
                "expected values to set to" => "expected an expression after `=`".to_string(),
                "expected expression after binary operator" => {
                    let at = start.bytes();
                    if text.get(at..at + 2) == Some("//")
                        || (at > 0 && text.get(at - 1..at + 1) == Some("//"))
                    {
                        help = Some(
                            "Lua 5.1 has no `//` operator: use `math.floor(a / b)`".to_string(),
                        );
                    }
                    "expected an expression after the operator".to_string()
                }
                other => match other
                    .strip_suffix(" block")
                    .and_then(|h| h.strip_prefix("expected `end` to close "))
                {
                    Some(what) => format!("expected `end` to close the {what}"),
                    None => other.to_string(),
                },
            }
        }
    };
    if label.is_none() {
        label = Some("syntax error".to_string());
    }
    let (line, col, len) = match at_eof {
        Some((line, col)) => (line, col, 1),
        None => (start.line(), start.character(), lines.span_len(start, end)),
    };
    with(issue(Severity::Error, line, col, len, message), label, help)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Opener {
    Function,
    If,
    While,
    For,
    Do,
    Repeat,
}

impl Opener {
    fn word(self) -> &'static str {
        match self {
            Opener::Function => "function",
            Opener::If => "if",
            Opener::While => "while",
            Opener::For => "for",
            Opener::Do => "do",
            Opener::Repeat => "repeat",
        }
    }
}

/// Matches block keywords (`function`/`if`/`while`/`for`/`do`/`repeat` with
/// `end`/`until`) on the token stream, to say which block is unclosed: the
/// parser only knows where it gave up.
fn block_structure(text: &str) -> Option<LuaIssue> {
    let tokens: Vec<Token> = match Lexer::new(text, LuaVersion::lua51()).collect() {
        LexerResult::Ok(t) | LexerResult::Recovered(t, _) => t,
        _ => return None,
    };
    // (opener, its token's start, indentation of its line, waiting for `do`)
    let mut stack: Vec<(Opener, Position, usize, bool)> = Vec::new();
    // An opener closed by an `end` indented less than the opener's line: the
    // likely culprit when a later block turns out unclosed.
    let mut suspicious: Option<(Opener, Position)> = None;
    // Once for the whole text: splitting up to each keyword's line was
    // quadratic in the number of lines.
    let indents: Vec<usize> = text
        .split('\n')
        .map(|l| l.chars().take_while(|c| *c == ' ' || *c == '\t').count())
        .collect();
    let indent_of = |line: usize| -> usize {
        line.checked_sub(1)
            .and_then(|i| indents.get(i))
            .copied()
            .unwrap_or(0)
    };
    let at = |pos: Position, len: usize, message: String, label: &str, help: Option<&str>| {
        with(
            issue(Severity::Error, pos.line(), pos.character(), len, message),
            Some(label.to_string()),
            help.map(str::to_string),
        )
    };
    for token in &tokens {
        let TokenType::Symbol { symbol } = token.token_type() else {
            continue;
        };
        let pos = token.start_position();
        match symbol {
            Symbol::Function => stack.push((Opener::Function, pos, indent_of(pos.line()), false)),
            Symbol::If => stack.push((Opener::If, pos, indent_of(pos.line()), false)),
            Symbol::While => stack.push((Opener::While, pos, indent_of(pos.line()), true)),
            Symbol::For => stack.push((Opener::For, pos, indent_of(pos.line()), true)),
            Symbol::Repeat => stack.push((Opener::Repeat, pos, indent_of(pos.line()), false)),
            Symbol::Do => match stack.last_mut() {
                Some((_, _, _, waiting @ true)) => *waiting = false,
                _ => stack.push((Opener::Do, pos, indent_of(pos.line()), false)),
            },
            Symbol::End => match stack.pop() {
                None => {
                    return Some(at(
                        pos,
                        3,
                        "unexpected `end`: there is no open block to close".to_string(),
                        "no block to close",
                        Some("remove this `end`, or check the blocks above it"),
                    ))
                }
                Some((Opener::Repeat, _, _, _)) => {
                    return Some(at(
                        pos,
                        3,
                        "expected `until` to close `repeat`, found `end`".to_string(),
                        "expected `until ...`",
                        None,
                    ));
                }
                Some((opener, open, indent, _)) => {
                    if suspicious.is_none() && indent_of(pos.line()) < indent {
                        suspicious = Some((opener, open));
                    }
                }
            },
            Symbol::Until => match stack.pop() {
                Some((Opener::Repeat, _, _, _)) => {}
                Some((opener, open, _, _)) => {
                    return Some(at(
                        open,
                        opener.word().len(),
                        format!("expected `end` to close `{}`", opener.word()),
                        &format!("this `{}` is not closed before `until`", opener.word()),
                        None,
                    ))
                }
                None => {
                    return Some(at(
                        pos,
                        5,
                        "unexpected `until`: there is no `repeat` to close".to_string(),
                        "no `repeat` to close",
                        None,
                    ))
                }
            },
            _ => {}
        }
    }
    let (opener, open, _, _) = *stack.last()?;
    let (opener, open, label) = match suspicious {
        Some((o, p)) => (
            o,
            p,
            format!("this `{}` seems to be missing its `end`", o.word()),
        ),
        None => (
            opener,
            open,
            format!("this `{}` is never closed", opener.word()),
        ),
    };
    let close = if opener == Opener::Repeat {
        "until"
    } else {
        "end"
    };
    Some(at(
        open,
        opener.word().len(),
        format!("expected `{close}` to close `{}`", opener.word()),
        &label,
        Some("add the missing `end`; when an inner block lacks its `end`, it takes the `end` of the block around it"),
    ))
}

// ---------------------------------------------------------------------------
// Names, calls and keys
// ---------------------------------------------------------------------------

struct Options<'p> {
    /// Sets: every top-level local is looked up (5,000 `%key`s made a
    /// scan of the list quadratic).
    params: HashSet<&'p str>,
    key_params: HashSet<&'p str>,
    no_writes: bool,
    no_cluster: bool,
    declared: Declared<'p>,
    targets: Vec<&'static Dialect>,
}

impl Options<'_> {
    /// The target servers that lack what `has` tests for, by id.
    fn lacking(&self, has: impl Fn(&Dialect) -> bool) -> Vec<&'static str> {
        self.targets
            .iter()
            .filter(|d| !has(d))
            .map(|d| d.id)
            .collect()
    }
}

/// `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The help for a name some servers of the matrix have and a target lacks.
fn targets_help(having: &[&str]) -> String {
    if having.is_empty() {
        return "no server of the matrix has it".to_string();
    }
    format!(
        "it exists on {}: if the crate's scripts run only there, list those servers in its \
         Cargo.toml: [package.metadata.redlua] servers = [{}]",
        and_list(having),
        having
            .iter()
            .map(|h| format!("\"{h}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// What the literal-key warning knows about a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Val {
    /// Contains a string literal (through `..`, `string.format`, ...).
    lit: bool,
    /// May come from a declared key (KEYS, a `%key`) or from something the
    /// checker cannot follow (function parameters, calls of local
    /// functions, ...): never warn about it.
    key: bool,
    /// May be `redis.call` or `redis.pcall` itself (`local rcall =
    /// redis.call`): a call of it is checked like theirs.
    rcall: bool,
    /// Comes from an argument (`ARGV`, a `%arg`): a key built from it is
    /// on the declared keys' slot only if the caller gives it their tag.
    arg: bool,
    /// Comes from a `redis.call` reply: a key built from it is not declared.
    reply: bool,
}

impl Val {
    const PLAIN: Val = Val {
        lit: false,
        key: false,
        rcall: false,
        arg: false,
        reply: false,
    };
    const OPAQUE: Val = Val {
        lit: false,
        key: true,
        rcall: false,
        arg: false,
        reply: false,
    };
    const LITERAL: Val = Val {
        lit: true,
        key: false,
        rcall: false,
        arg: false,
        reply: false,
    };
    const REDIS_CALL: Val = Val {
        lit: false,
        key: false,
        rcall: true,
        arg: false,
        reply: false,
    };

    fn join(self, other: Val) -> Val {
        Val {
            lit: self.lit || other.lit,
            key: self.key || other.key,
            rcall: self.rcall || other.rcall,
            arg: self.arg || other.arg,
            reply: self.reply || other.reply,
        }
    }

    /// A value computed from this one without keeping its text.
    fn derived(self) -> Val {
        Val {
            lit: false,
            key: self.key,
            rcall: false,
            arg: self.arg,
            reply: self.reply,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ParamKind {
    Key,
    Arg,
}

struct Binding<'a> {
    name: &'a str,
    line: usize,
    col: usize,
    param: Option<ParamKind>,
    /// Reads on other lines than the binding's own.
    reads: usize,
    /// Read at all yet, in this pass.
    read: bool,
    /// The function it belongs to: its index in `Walker::fn_locals`.
    depth: usize,
}

/// How a name resolves.
#[derive(PartialEq, Eq)]
enum Resolved {
    Local(usize),
    /// `arg` in a vararg function, or a name whose directive had an error.
    Implicit,
    /// A global some servers of the matrix have, and these targets lack.
    Lacking(Vec<&'static str>, Vec<&'static str>),
    Global,
    Removed(&'static str),
    Undefined,
}

struct Walker<'a, 'o> {
    lines: &'a Lines,
    opts: &'o Options<'o>,
    bindings: Vec<Binding<'a>>,
    /// Values per binding: the previous pass's final values joined with this
    /// pass's assignments so far (flow-insensitive, so loops are covered).
    vals: Vec<Val>,
    prev: Vec<Val>,
    /// In-scope locals, innermost last.
    scope: Vec<(&'a str, usize)>,
    /// The bindings of each name in `scope`, innermost last: a lookup is
    /// one hash probe instead of a scan of every local in scope.
    by_name: HashMap<&'a str, Vec<usize>>,
    /// Did-you-mean searches left (see `suggest`).
    suggestions_left: usize,
    frames: Vec<usize>,
    /// Whether each enclosing function takes `...`.
    varargs: Vec<bool>,
    /// Walking a value that is only tested for existence (the left side of
    /// `or`, a condition, the argument of `type()`): an unknown library
    /// member there is a feature test, not a mistake.
    probing: bool,
    /// Loops around the current point, per enclosing function.
    loops: Vec<usize>,
    claimed_params: HashSet<&'a str>,
    /// A binding's value grew after it was read: some reads saw less than
    /// the final value, walk again.
    stale: bool,
    issues: Vec<LuaIssue>,
    /// The keyless-write warning was given (once per script).
    warned_keyless: bool,
    /// Per enclosing function: where its locals start in `scope`, the
    /// hidden locals of its open `for` loops (Lua gives each loop three),
    /// and whether it was already reported for too many locals.
    fn_locals: Vec<FnLocals<'a>>,
}

#[derive(Clone)]
struct FnLocals<'a> {
    start: usize,
    hidden: usize,
    reported: bool,
    /// The locals of enclosing functions it uses (binding ids).
    upvalues: HashSet<usize>,
    /// Where it starts (its parameter list), for the report.
    at: Option<&'a TokenReference>,
}

fn analyze(ast: &Ast, lines: &Lines, opts: &Options) -> Vec<LuaIssue> {
    // A binding's value is the join of everything assigned to it anywhere
    // (flow-insensitive, so loops are covered). When a value grows after it
    // was read, walk again starting from the final values; values only grow
    // (two bits each), so this ends. One pass is typical.
    let mut prev: Vec<Val> = Vec::new();
    for _ in 0..8 {
        let mut w = Walker::new(lines, opts, std::mem::take(&mut prev));
        w.block(ast.nodes(), true);
        if !w.stale {
            w.unused_params();
            return w.issues;
        }
        prev = w.vals;
    }
    // Not settled (should not happen): keep everything but the warnings that
    // depend on values.
    let mut w = Walker::new(lines, opts, prev.iter().map(|_| Val::OPAQUE).collect());
    w.block(ast.nodes(), true);
    w.unused_params();
    w.issues
}

/// The value of a call: builders keep their arguments' literals, other
/// sandbox functions give a plain value, anything else is opaque.
fn call_result(path: Option<(&str, Option<&str>)>, args: &[(Val, Option<&Expression>)]) -> Val {
    let joined = args.iter().fold(Val::PLAIN, |acc, (v, _)| acc.join(*v));
    match path {
        // What Redis answers is data, not one of the declared keys.
        Some(("redis", Some("call" | "pcall"))) => Val {
            reply: true,
            ..Val::PLAIN
        },
        Some(("tostring", None)) => joined,
        Some(("string", Some(m))) if STRING_BUILDERS.contains(&m) => joined,
        Some(_) => joined.derived(),
        None => Val::OPAQUE,
    }
}

/// A node's first and last positions, from its tokens: full_moon's own
/// `Node::range` misses closing brackets (`t[1]` ends before the `]`).
///
/// Through full_moon's visitor, which reaches each token once: its
/// `Node::tokens` nests one iterator per sub-node, so each step of a long
/// expression (`1 + 1 + ...`, a left-leaning tree) passed through all of
/// them, quadratic in its length (46 s for 200 KB).
fn node_range(node: &impl Visit) -> Option<(Position, Position)> {
    #[derive(Default)]
    struct Range(Option<(Position, Position)>);
    impl Range {
        fn add(&mut self, token: &Token) {
            let (s, e) = (token.start_position(), token.end_position());
            self.0 = Some(match self.0 {
                None => (s, e),
                Some((rs, re)) => (rs.min(s), re.max(e)),
            });
        }
    }
    // Trivia (whitespace, comments) has visitor calls of its own, which
    // are left out: only what the code itself writes counts.
    impl Visitor for Range {
        fn visit_identifier(&mut self, token: &Token) {
            self.add(token);
        }
        fn visit_number(&mut self, token: &Token) {
            self.add(token);
        }
        fn visit_string_literal(&mut self, token: &Token) {
            self.add(token);
        }
        fn visit_symbol(&mut self, token: &Token) {
            self.add(token);
        }
    }
    let mut range = Range::default();
    node.visit(&mut range);
    range.0
}

fn name_of(token: &TokenReference) -> &str {
    match token.token_type() {
        TokenType::Identifier { identifier } => identifier.as_str(),
        _ => "",
    }
}

fn string_literal(token: &TokenReference) -> Option<&str> {
    match token.token_type() {
        TokenType::StringLiteral { literal, .. } if !literal.contains('\\') => {
            Some(literal.as_str())
        }
        _ => None,
    }
}

fn is_symbol(token: &TokenReference, wanted: Symbol) -> bool {
    matches!(token.token_type(), TokenType::Symbol { symbol } if *symbol == wanted)
}

fn pos(token: &TokenReference) -> Position {
    token.token().start_position()
}

impl<'a, 'o> Walker<'a, 'o> {
    fn new(lines: &'a Lines, opts: &'o Options<'o>, prev: Vec<Val>) -> Self {
        Walker {
            lines,
            opts,
            bindings: Vec::new(),
            vals: Vec::new(),
            prev,
            scope: Vec::new(),
            by_name: HashMap::new(),
            suggestions_left: MAX_SUGGESTIONS,
            frames: Vec::new(),
            varargs: vec![true],
            probing: false,
            loops: vec![0],
            claimed_params: HashSet::new(),
            stale: false,
            issues: Vec::new(),
            warned_keyless: false,
            fn_locals: vec![FnLocals {
                start: 0,
                hidden: opts.declared.wrapper_locals,
                reported: false,
                upvalues: HashSet::new(),
                at: None,
            }],
        }
    }

    // --- issues --------------------------------------------------------

    fn at_token(
        &mut self,
        severity: Severity,
        token: &TokenReference,
        message: String,
    ) -> &mut LuaIssue {
        let start = token.token().start_position();
        let end = token.token().end_position();
        let len = self.lines.span_len(start, end);
        self.issues.push(issue(
            severity,
            start.line(),
            start.character(),
            len,
            message,
        ));
        self.issues.last_mut().expect("just pushed")
    }

    fn at_node(
        &mut self,
        severity: Severity,
        node: &impl Visit,
        message: String,
    ) -> Option<&mut LuaIssue> {
        let (start, end) = node_range(node)?;
        let len = self.lines.span_len(start, end);
        self.issues.push(issue(
            severity,
            start.line(),
            start.character(),
            len,
            message,
        ));
        self.issues.last_mut()
    }

    // --- scopes --------------------------------------------------------

    fn push_frame(&mut self) {
        self.frames.push(self.scope.len());
    }

    fn pop_frame(&mut self) {
        let start = self.frames.pop().unwrap_or(0);
        for (name, _) in self.scope.drain(start.min(self.scope.len())..) {
            if let Some(ids) = self.by_name.get_mut(name) {
                ids.pop();
            }
        }
    }

    fn bind(&mut self, name: &'a str, id: usize) {
        self.scope.push((name, id));
        self.by_name.entry(name).or_default().push(id);
    }

    fn declare(&mut self, token: &'a TokenReference, init: Val) -> usize {
        let name = name_of(token);
        let id = self.bindings.len();
        let p = pos(token);
        self.bindings.push(Binding {
            name,
            line: p.line(),
            col: p.character(),
            param: None,
            reads: 0,
            read: false,
            depth: self.fn_locals.len().saturating_sub(1),
        });
        let prev = self.prev.get(id).copied().unwrap_or_default();
        self.vals.push(prev.join(init));
        self.bind(name, id);
        self.count_local(token);
        id
    }

    /// Refuses the local that makes its function hold more than
    /// [`MAX_LOCALS`] live ones, which Lua would refuse at load time.
    fn count_local(&mut self, token: &'a TokenReference) {
        let scope = self.scope.len();
        let Some(f) = self.fn_locals.last_mut() else {
            return;
        };
        let live = scope - f.start.min(scope) + f.hidden;
        if live <= MAX_LOCALS || f.reported {
            return;
        }
        f.reported = true;
        let main = self.fn_locals.len() == 1;
        let what = if main {
            "the script's top level"
        } else {
            "this function"
        };
        let i = self.at_token(
            Severity::Error,
            token,
            format!(
                "more than {MAX_LOCALS} local variables live at once in {what}: Lua refuses \
                 the script when Redis loads it (`main function has more than 200 local \
                 variables`)"
            ),
        );
        i.label = Some(format!("local number {live}"));
        i.help = Some(
            "keep related values in a table (`local t = {}`), or close scopes with \
             `do ... end`; each `%key`/`%arg` is a local of the top level, and a `for` loop \
             takes three hidden ones"
                .to_string(),
        );
    }

    fn resolve(&self, name: &str) -> Resolved {
        if let Some(&id) = self.by_name.get(name).and_then(|ids| ids.last()) {
            return Resolved::Local(id);
        }
        // Lua 5.1 (LUA_COMPAT_VARARG, on in Redis) gives a vararg function
        // an implicit local `arg` holding its `...`; the main chunk has none.
        if name == "arg" && self.varargs.len() > 1 && self.varargs.last() == Some(&true) {
            return Resolved::Implicit;
        }
        if self.opts.declared.assumed.contains(&name) {
            return Resolved::Implicit;
        }
        let lacking = self.opts.lacking(|d| d.has_global(name));
        if lacking.is_empty() {
            return Resolved::Global;
        }
        let having = Targets::having_anywhere(|d| d.has_global(name));
        if !having.is_empty() {
            return Resolved::Lacking(lacking, having);
        }
        match removed_help(name) {
            Some(help) => Resolved::Removed(help),
            None => Resolved::Undefined,
        }
    }

    /// A name in scope close to `name`, for a did-you-mean. Bounded, since
    /// each search compares against every candidate: the innermost
    /// `SUGGEST_LOCALS` locals (and the sandbox globals), for the first
    /// `MAX_SUGGESTIONS` undefined names of the script (more are not shown:
    /// the build reports at most 50 errors).
    fn suggest(&mut self, name: &str) -> Option<&'a str> {
        self.suggestions_left = self.suggestions_left.checked_sub(1)?;
        let locals = self
            .scope
            .iter()
            .rev()
            .take(SUGGEST_LOCALS)
            .map(|(n, _)| *n);
        let globals = self.opts.targets.first().map_or(&[][..], |d| d.globals);
        closest(name, locals.chain(globals.iter().copied()))
    }

    fn global_val(name: &str) -> Val {
        match name {
            "KEYS" => Val::OPAQUE,
            "ARGV" => Val {
                arg: true,
                ..Val::PLAIN
            },
            _ => Val::PLAIN,
        }
    }

    fn grow(&mut self, id: usize, value: Val) {
        let new = self.vals[id].join(value);
        if new != self.vals[id] {
            self.stale |= self.bindings[id].read;
            self.vals[id] = new;
        }
    }

    /// A name read as a value: its value, the sandbox global it names, the
    /// local it names.
    fn read_name(&mut self, token: &'a TokenReference) -> (Val, Option<&'a str>, Option<usize>) {
        let name = name_of(token);
        let (val, global) = match self.resolve(name) {
            Resolved::Local(id) => {
                self.capture(id);
                let b = &mut self.bindings[id];
                b.read = true;
                if pos(token).line() != b.line {
                    b.reads += 1;
                }
                return (self.vals[id], None, Some(id));
            }
            // Valkey's `server` is its name for the `redis` table.
            Resolved::Global if name == "server" => (Val::PLAIN, Some("redis")),
            Resolved::Global if self.opts.declared.wrapper_locals > 0 && name == "KEYS" => {
                self.capture(WRAPPER_KEYS);
                (Self::global_val(name), Some(name))
            }
            Resolved::Global if self.opts.declared.wrapper_locals > 0 && name == "ARGV" => {
                self.capture(WRAPPER_ARGV);
                (Self::global_val(name), Some(name))
            }
            Resolved::Global => (Self::global_val(name), Some(name)),
            Resolved::Implicit => (Val::OPAQUE, None),
            Resolved::Lacking(lacking, having) => {
                let i = self.at_token(
                    Severity::Error,
                    token,
                    format!(
                        "`{name}` is not available on {} (target servers of this crate)",
                        and_list(&lacking)
                    ),
                );
                i.label = Some("missing on some target servers".to_string());
                i.help = Some(match removed_help(name) {
                    Some(instead) => format!("{instead}; {}", targets_help(&having)),
                    None => targets_help(&having),
                });
                (Val::OPAQUE, None)
            }
            Resolved::Removed(help) => {
                let i = self.at_token(
                    Severity::Error,
                    token,
                    format!("`{name}` is not available in Redis scripts"),
                );
                i.label = Some("removed from the Redis Lua sandbox".to_string());
                i.help = Some(help.to_string());
                (Val::OPAQUE, None)
            }
            Resolved::Undefined => {
                let help = self.suggest(name).map(|c| format!("did you mean `{c}`?"));
                let i = self.at_token(
                    Severity::Error,
                    token,
                    format!("undefined variable `{name}`"),
                );
                i.label = Some("not found in this scope".to_string());
                i.help = help;
                (Val::OPAQUE, None)
            }
        };
        (val, global, None)
    }

    /// A name assigned to (`name = ...`, `function name() ... end`).
    fn assign_name(&mut self, token: &'a TokenReference, value: Val, is_function: bool) {
        let name = name_of(token);
        match self.resolve(name) {
            Resolved::Local(id) => {
                self.capture(id);
                self.grow(id, value)
            }
            Resolved::Implicit => {}
            Resolved::Global | Resolved::Lacking(..) => {
                let i = self.at_token(
                    Severity::Error,
                    token,
                    format!(
                        "cannot assign to `{name}`: Redis makes the script's globals read-only"
                    ),
                );
                i.label = Some("assignment to a sandbox global".to_string());
                i.help = Some(format!("use a local with another name than `{name}`"));
            }
            Resolved::Removed(_) | Resolved::Undefined => {
                let declare = if is_function {
                    "declare it with `local function`"
                } else {
                    "declare it with `local`"
                };
                let suggestion = self.suggest(name);
                let help = match suggestion.filter(|c| self.resolve(c) != Resolved::Global) {
                    Some(c) => format!("{declare} (or did you mean `{c}`?)"),
                    None => declare.to_string(),
                };
                let i = self.at_token(
                    Severity::Error,
                    token,
                    format!("assignment to undefined global `{name}`: Redis scripts may not create globals"),
                );
                i.label = Some("creates a global".to_string());
                i.help = Some(help);
            }
        }
    }

    // --- statements ----------------------------------------------------

    /// Walks a block in a new scope; `top` for the script's own chunk.
    fn block(&mut self, block: &'a Block, top: bool) {
        self.push_frame();
        self.block_body(block, top);
        self.pop_frame();
    }

    fn block_body(&mut self, block: &'a Block, top: bool) {
        for stmt in block.stmts() {
            self.stmt(stmt, top);
        }
        match block.last_stmt() {
            Some(LastStmt::Return(ret)) => {
                if self.opts.declared.returns_int && self.varargs.len() == 1 {
                    if let Some(first) = ret.returns().iter().next() {
                        self.check_int_return(first);
                    }
                }
                for e in ret.returns().iter() {
                    self.expr(e);
                }
            }
            Some(LastStmt::Break(token)) if self.loops.last() == Some(&0) => {
                let i = self.at_token(Severity::Error, token, "`break` outside a loop".to_string());
                i.label = Some("no loop to break".to_string());
                i.help = Some("to leave the script early, use `return`".to_string());
            }
            _ => {}
        }
    }

    /// Evaluates the right side of an assignment; the result gives the value
    /// of the `i`-th name: extra names take the rest of a trailing call's
    /// results, or nil.
    fn assigned(&mut self, exprs: impl Iterator<Item = &'a Expression>) -> impl Fn(usize) -> Val {
        let exprs: Vec<&'a Expression> = exprs.collect();
        let vals: Vec<Val> = exprs.iter().map(|e| self.expr(e)).collect();
        let spill = match exprs.last() {
            Some(Expression::FunctionCall(_)) => vals.last().copied().unwrap_or_default(),
            _ => Val::PLAIN,
        };
        move |i| vals.get(i).copied().unwrap_or(spill)
    }

    fn stmt(&mut self, stmt: &'a Stmt, top: bool) {
        match stmt {
            Stmt::LocalAssignment(local) => {
                let vals = self.assigned(local.expressions().iter());
                for (i, name) in local.names().iter().enumerate() {
                    let val = vals(i);
                    let id = self.declare(name, val);
                    if top && self.frames.len() == 1 {
                        self.mark_param(id);
                    }
                }
            }
            Stmt::LocalFunction(f) => {
                self.declare(f.name(), Val::PLAIN);
                self.function_body(f.body(), false);
            }
            Stmt::FunctionDeclaration(f) => self.function_declaration(f),
            Stmt::Assignment(assign) => {
                let vals = self.assigned(assign.expressions().iter());
                for (i, var) in assign.variables().iter().enumerate() {
                    let val = vals(i);
                    match var {
                        Var::Name(token) => self.assign_name(token, val, false),
                        Var::Expression(ve) => {
                            let suffixes: Vec<&'a Suffix> = ve.suffixes().collect();
                            self.chain(ve.prefix(), &suffixes, Some(val));
                        }
                        _ => {}
                    }
                }
            }
            Stmt::FunctionCall(call) => {
                self.function_call(call);
            }
            Stmt::Do(d) => self.block(d.block(), false),
            Stmt::While(w) => {
                self.probe_expr(w.condition());
                self.in_loop(|me| me.block(w.block(), false));
            }
            Stmt::Repeat(r) => {
                // The `until` condition sees the body's locals.
                self.push_frame();
                self.in_loop(|me| me.block_body(r.block(), false));
                self.expr(r.until());
                self.pop_frame();
            }
            Stmt::If(i) => {
                self.probe_expr(i.condition());
                self.block(i.block(), false);
                if let Some(else_ifs) = i.else_if() {
                    for e in else_ifs {
                        self.probe_expr(e.condition());
                        self.block(e.block(), false);
                    }
                }
                if let Some(b) = i.else_block() {
                    self.block(b, false);
                }
            }
            Stmt::NumericFor(f) => {
                let mut val = self.expr(f.start()).join(self.expr(f.end())).derived();
                if let Some(step) = f.step() {
                    val = val.join(self.expr(step).derived());
                }
                self.push_frame();
                self.hide_loop_state(3);
                self.declare(f.index_variable(), val);
                self.in_loop(|me| me.block(f.block(), false));
                self.hide_loop_state(-3);
                self.pop_frame();
            }
            Stmt::GenericFor(f) => {
                let mut val = Val::PLAIN;
                for e in f.expressions().iter() {
                    val = val.join(self.expr(e).derived());
                }
                self.push_frame();
                self.hide_loop_state(3);
                for name in f.names().iter() {
                    self.declare(name, val);
                }
                self.in_loop(|me| me.block(f.block(), false));
                self.hide_loop_state(-3);
                self.pop_frame();
            }
            _ => {}
        }
    }

    /// A use of local `id`: an upvalue of every function between its own
    /// and the current one (Lua passes it down through each).
    fn capture(&mut self, id: usize) {
        let depth = match id {
            WRAPPER_KEYS | WRAPPER_ARGV => 0,
            id => self.bindings.get(id).map_or(0, |b| b.depth),
        };
        for f in self.fn_locals.iter_mut().skip(depth + 1) {
            f.upvalues.insert(id);
        }
    }

    /// Refuses a function with more upvalues than Lua takes.
    fn check_upvalues(&mut self, f: &FnLocals<'a>) {
        let (n, Some(at)) = (f.upvalues.len(), f.at) else {
            return;
        };
        if n <= MAX_UPVALUES {
            return;
        }
        let i = self.at_token(
            Severity::Error,
            at,
            format!(
                "this function uses {n} locals of the functions around it, more than the \
                 {MAX_UPVALUES} upvalues Lua takes: Redis refuses the script when it loads it \
                 (`function at line ... has more than 60 upvalues`)"
            ),
        );
        i.label = Some(format!("{n} upvalues"));
        i.help = Some(
            "pass the values in a table, or as arguments; each `%key`/`%arg` used inside the \
             function is one"
                .to_string(),
        );
    }

    /// A `for` loop's hidden state (three locals) opens or closes.
    fn hide_loop_state(&mut self, n: isize) {
        if let Some(f) = self.fn_locals.last_mut() {
            f.hidden = f.hidden.saturating_add_signed(n);
        }
    }

    fn in_loop(&mut self, body: impl FnOnce(&mut Self)) {
        if let Some(n) = self.loops.last_mut() {
            *n += 1;
        }
        body(self);
        if let Some(n) = self.loops.last_mut() {
            *n -= 1;
        }
    }

    /// The first top-level `local` of a declared parameter's name is its
    /// binding (the line the assembler generated).
    fn mark_param(&mut self, id: usize) {
        let name = self.bindings[id].name;
        if !self.opts.params.contains(name) || !self.claimed_params.insert(name) {
            return;
        }
        let kind = if self.opts.key_params.contains(name) {
            self.grow(id, Val::OPAQUE);
            ParamKind::Key
        } else {
            ParamKind::Arg
        };
        self.bindings[id].param = Some(kind);
    }

    fn unused_params(&mut self) {
        for b in &self.bindings {
            let Some(kind) = b.param else { continue };
            if b.reads > 0 {
                continue;
            }
            let directive = match kind {
                ParamKind::Key => "%key",
                ParamKind::Arg => "%arg",
            };
            self.issues.push(with(
                issue(
                    Severity::Warning,
                    b.line,
                    b.col,
                    b.name.chars().count(),
                    format!("`{directive} {}` is never used", b.name),
                ),
                Some("declared here".to_string()),
                Some(format!(
                    "remove the `{directive}` line, or use `{}` in the script",
                    b.name
                )),
            ));
        }
    }

    /// `redis.setresp(3)` under a header that reads null as `false`: from
    /// then on a returned Lua `false` reaches a RESP2 caller as the integer
    /// 0 and a RESP3 one as a boolean, no longer as null.
    fn check_setresp(&mut self, call: &'a Prefix) {
        let Some(token) = call.tokens().next() else {
            return;
        };
        let i = self.at_token(
            Severity::Warning,
            token,
            "after `redis.setresp(3)` a returned `false` is the integer 0 (RESP2) or a \
             boolean (RESP3), not null"
                .to_string(),
        );
        i.label = Some("changes what `false` returns".to_string());
        i.help =
            Some("return `nil` for null once the script has called `redis.setresp(3)`".to_string());
    }

    /// The script's own `return` under `%return int` of a value the check
    /// can see is fractional: Redis truncates a Lua number to an integer
    /// reply (3.9 -> 3; 1e20 and NaN -> i64::MIN), so the caller cannot tell.
    fn check_int_return(&mut self, e: &'a Expression) {
        let e = match e {
            Expression::Parentheses { expression, .. } => &**expression,
            e => e,
        };
        let why = match e {
            Expression::Number(t) => {
                let text = t.token().to_string();
                let fractional = text
                    .trim()
                    .parse::<f64>()
                    .is_ok_and(|v| v.fract() != 0.0 || v.abs() > 2f64.powi(53));
                fractional.then_some("a fractional (or huge) number literal")
            }
            Expression::BinaryOperator {
                binop: BinOp::Slash(_),
                ..
            } => Some("a division"),
            Expression::BinaryOperator {
                binop: BinOp::Caret(_),
                ..
            } => Some("a power"),
            Expression::FunctionCall(call) => match (call.prefix(), call.suffixes().next()) {
                (Prefix::Name(lib), Some(Suffix::Index(Index::Dot { name, .. })))
                    if name_of(lib) == "math"
                        && !matches!(name_of(name), "floor" | "ceil" | "max" | "min" | "abs") =>
                {
                    Some("a `math` function")
                }
                _ => None,
            },
            _ => None,
        };
        let Some(why) = why else {
            return;
        };
        let token = e.tokens().next();
        let Some(token) = token else {
            return;
        };
        let i = self.at_token(
            Severity::Warning,
            token,
            format!("`%return int` of {why}: Redis truncates a Lua number to an integer reply"),
        );
        i.label = Some("may not be a whole number".to_string());
        i.help = Some(
            "wrap it in `math.floor(...)` to say so, or declare `%return float` and return \
             `string.format('%.17g', x)` to keep the fraction"
                .to_string(),
        );
    }

    /// An error reply built from a literal whose code is one clients take
    /// for the server's own condition (NOSCRIPT is read as a cache miss,
    /// TRYAGAIN/MOVED/... are retried by cluster clients): the script, which
    /// already ran, would run again.
    fn check_error_code(&mut self, e: &'a Expression) {
        let Expression::String(token) = e else {
            return;
        };
        let Some(text) = string_literal(token) else {
            return;
        };
        let code = text.split_whitespace().next().unwrap_or("");
        if !SERVER_CODES.contains(&code) {
            return;
        }
        let i = self.at_token(
            Severity::Error,
            token,
            format!("the error code `{code}` is one the server itself sends"),
        );
        i.label = Some("read by clients as a server condition".to_string());
        i.help = Some(format!(
            "clients react to `{code}` as if the server had refused the command (reloading, \
             redirecting or retrying it), so a script that already wrote would run again: use \
             a code of your own, e.g. `{}`",
            text.replacen(code, &format!("E{code}"), 1)
        ));
    }

    /// `KEYS[n]` / `ARGV[n]` with a literal `n` the call never sends.
    fn check_declared_index(&mut self, global: Option<&str>, index: &'a Expression) {
        let (table, declared, directive, pass) = match global {
            Some("KEYS") => ("KEYS", self.opts.declared.keys, "%key", "%keys"),
            Some("ARGV") => ("ARGV", self.opts.declared.args, "%arg", "%args"),
            _ => return,
        };
        let (Some(count), Expression::Number(token)) = (declared, index) else {
            return;
        };
        let Ok(n) = token.token().to_string().trim().parse::<f64>() else {
            return;
        };
        if n >= 1.0 && n <= count as f64 && n.fract() == 0.0 {
            return;
        }
        let what = if table == "KEYS" { "key" } else { "argument" };
        let declared_text = match count {
            0 => format!("the header declares no {what}s"),
            1 => format!("the header declares 1 {what}"),
            c => format!("the header declares {c} {what}s"),
        };
        let i = self.at_token(
            Severity::Error,
            token,
            format!(
                "`{table}[{}]` is never sent: {declared_text}",
                token.token()
            ),
        );
        i.label = Some("beyond the declared parameters".to_string());
        i.help = Some(format!(
            "declare each {what} with `{directive} NAME` and use its name, or pass the raw \
             list with a last `{pass} NAME` line"
        ));
    }

    fn function_declaration(&mut self, f: &'a FunctionDeclaration) {
        let name = f.name();
        let names: Vec<&'a TokenReference> = name.names().iter().collect();
        let method = name.method_name().is_some();
        match names.as_slice() {
            [] => {}
            [single] if !method => self.assign_name(single, Val::PLAIN, true),
            [root, rest @ ..] => {
                // `function a.b.c()` / `function a:m()`: reads `a`, writes a field.
                let (_, global, _) = self.read_name(root);
                if let Some(g) = global.filter(|g| *g != "KEYS" && *g != "ARGV") {
                    let field = rest
                        .first()
                        .map(|t| name_of(t))
                        .or_else(|| name.method_name().map(name_of))
                        .unwrap_or("");
                    let i = self.at_token(
                        Severity::Error,
                        root,
                        format!("cannot modify `{g}.{field}`: Redis makes the sandbox's tables read-only"),
                    );
                    i.label = Some("writes into a read-only table".to_string());
                    i.help =
                        Some("keep your functions in locals: `local function ...`".to_string());
                }
            }
        }
        self.function_body(f.body(), method);
    }

    fn function_body(&mut self, body: &'a FunctionBody, method: bool) {
        self.push_frame();
        self.fn_locals.push(FnLocals {
            start: self.scope.len(),
            hidden: 0,
            reported: false,
            upvalues: HashSet::new(),
            at: Some(body.parameters_parentheses().tokens().0),
        });
        let mut vararg = false;
        if method {
            // `self` has no token of its own: bind it to the function's
            // parameter list position; it is never reported.
            self.bind_implicit_self(body);
        }
        for p in body.parameters().iter() {
            match p {
                Parameter::Name(token) => {
                    self.declare(token, Val::OPAQUE);
                }
                Parameter::Ellipsis(_) => vararg = true,
                _ => {}
            }
        }
        self.varargs.push(vararg);
        self.loops.push(0);
        self.block(body.block(), false);
        self.loops.pop();
        self.varargs.pop();
        if let Some(f) = self.fn_locals.pop() {
            self.check_upvalues(&f);
        }
        self.pop_frame();
    }

    fn bind_implicit_self(&mut self, body: &'a FunctionBody) {
        let (open, _) = body.parameters_parentheses().tokens();
        let p = pos(open);
        let id = self.bindings.len();
        self.bindings.push(Binding {
            name: "self",
            line: p.line(),
            col: p.character(),
            param: None,
            reads: 0,
            read: false,
            depth: self.fn_locals.len().saturating_sub(1),
        });
        let prev = self.prev.get(id).copied().unwrap_or_default();
        self.vals.push(prev.join(Val::OPAQUE));
        self.bind("self", id);
    }

    // --- expressions ---------------------------------------------------

    /// An expression whose value is tested for existence: a plain path in
    /// it (`redis.set_repl2`, `table.unpack`) is walked as a probe.
    fn probe_expr(&mut self, e: &'a Expression) -> Val {
        match e {
            Expression::Parentheses { expression, .. } => self.probe_expr(expression),
            Expression::UnaryOperator {
                unop: UnOp::Not(_),
                expression,
            } => self.probe_expr(expression).derived(),
            Expression::BinaryOperator {
                lhs,
                binop: binop @ (BinOp::And(_) | BinOp::Or(_)),
                rhs,
            } => {
                let l = self.probe_expr(lhs);
                let r = if matches!(binop, BinOp::And(_)) {
                    self.probe_expr(rhs)
                } else {
                    self.expr(rhs)
                };
                l.join(r)
            }
            Expression::Var(Var::Expression(ve))
                if ve
                    .suffixes()
                    .all(|s| matches!(s, Suffix::Index(Index::Dot { .. }))) =>
            {
                let was = std::mem::replace(&mut self.probing, true);
                let v = self.expr(e);
                self.probing = was;
                v
            }
            _ => self.expr(e),
        }
    }

    fn expr(&mut self, e: &'a Expression) -> Val {
        match e {
            Expression::String(_) => Val::LITERAL,
            Expression::Number(_) => Val::PLAIN,
            Expression::Symbol(token) => {
                if is_symbol(token, Symbol::Ellipsis) {
                    if self.varargs.last() == Some(&false) {
                        let i = self.at_token(
                            Severity::Error,
                            token,
                            "cannot use `...` outside a vararg function".to_string(),
                        );
                        i.label = Some("this function does not take `...`".to_string());
                        i.help = Some("add `...` to the function's parameters".to_string());
                    }
                    Val::OPAQUE
                } else {
                    Val::PLAIN
                }
            }
            Expression::Parentheses { expression, .. } => self.expr(expression),
            Expression::UnaryOperator { expression, .. } => self.expr(expression).derived(),
            Expression::BinaryOperator {
                lhs,
                binop: BinOp::Or(_),
                rhs,
            } => {
                // `(table.unpack or unpack)(t)`: the left side is a probe.
                let l = self.probe_expr(lhs);
                l.join(self.expr(rhs))
            }
            Expression::BinaryOperator { lhs, binop, rhs } => {
                let l = self.expr(lhs);
                let r = self.expr(rhs);
                match binop {
                    BinOp::TwoDots(_) | BinOp::And(_) | BinOp::Or(_) => l.join(r),
                    _ => l.join(r).derived(),
                }
            }
            Expression::Function(f) => {
                self.function_body(f.body(), false);
                Val::PLAIN
            }
            Expression::FunctionCall(call) => self.function_call(call),
            Expression::TableConstructor(t) => self.table(t),
            Expression::Var(Var::Name(token)) => self.read_name(token).0,
            Expression::Var(Var::Expression(ve)) => {
                let suffixes: Vec<&'a Suffix> = ve.suffixes().collect();
                self.chain(ve.prefix(), &suffixes, None)
            }
            _ => Val::OPAQUE,
        }
    }

    /// A table is never a literal key, but may hold keys.
    fn table(&mut self, t: &'a TableConstructor) -> Val {
        let mut val = Val::PLAIN;
        for field in t.fields().iter() {
            match field {
                Field::ExpressionKey { key, value, .. } => {
                    self.expr(key);
                    val = val.join(self.expr(value).derived());
                }
                Field::NameKey { key, value, .. } => {
                    if name_of(key) == "err" {
                        self.check_error_code(value);
                    }
                    val = val.join(self.expr(value).derived())
                }
                Field::NoKey(value) => val = val.join(self.expr(value).derived()),
                _ => {}
            }
        }
        val
    }

    fn function_call(&mut self, call: &'a FunctionCall) -> Val {
        let suffixes: Vec<&'a Suffix> = call.suffixes().collect();
        self.chain(call.prefix(), &suffixes, None)
    }

    fn args(&mut self, args: &'a FunctionArgs) -> Vec<(Val, Option<&'a Expression>)> {
        match args {
            FunctionArgs::Parentheses { arguments, .. } => {
                arguments.iter().map(|e| (self.expr(e), Some(e))).collect()
            }
            FunctionArgs::String(_) => vec![(Val::LITERAL, None)],
            FunctionArgs::TableConstructor(t) => vec![(self.table(t), None)],
            _ => Vec::new(),
        }
    }

    /// `prefix` followed by `.x`, `[e]`, `(...)`, `:m(...)` suffixes. With
    /// `assign`, the chain is an assignment target and the last suffix is the
    /// field written.
    fn chain(&mut self, prefix: &'a Prefix, suffixes: &[&'a Suffix], assign: Option<Val>) -> Val {
        let (mut val, mut global, root_local) = match prefix {
            Prefix::Name(token) => self.read_name(token),
            Prefix::Expression(e) => (self.expr(e), None, None),
            _ => (Val::OPAQUE, None, None),
        };
        // `global.member` while the chain is still a plain path.
        let mut member: Option<&'a str> = None;
        let mut all_index = true;
        let last = suffixes.len().saturating_sub(1);
        for (i, suffix) in suffixes.iter().enumerate() {
            let target = assign.is_some() && i == last;
            match suffix {
                Suffix::Index(index) => {
                    match index {
                        Index::Dot { name, .. } if i == 0 => {
                            if let Some(g) = global {
                                self.check_member(g, name, target);
                                member = Some(name_of(name));
                            }
                        }
                        Index::Brackets { expression, .. } => {
                            if i == 0 {
                                self.check_declared_index(global, expression);
                            }
                            self.expr(expression);
                        }
                        _ => {}
                    }
                    if target {
                        let writable = |g: &&str| *g != "KEYS" && *g != "ARGV";
                        let reported = i == 0 && matches!(index, Index::Dot { .. });
                        match (global.filter(writable), prefix) {
                            // `lib.x = ...` was reported by check_member.
                            (Some(_), _) if reported => {}
                            (Some(g), Prefix::Name(token)) if all_index => {
                                let i = self.at_token(
                                    Severity::Error,
                                    token,
                                    format!("cannot modify `{g}`: Redis makes the sandbox's tables read-only"),
                                );
                                i.label = Some("writes into a read-only table".to_string());
                                i.help = Some("copy what you need into a local table".to_string());
                            }
                            _ => {
                                if let Some(id) = root_local.filter(|_| all_index) {
                                    let v = assign.unwrap_or_default();
                                    self.grow(id, v.derived());
                                }
                            }
                        }
                        return Val::PLAIN;
                    }
                    val = val.derived();
                    if i > 0 {
                        global = None;
                    }
                }
                Suffix::Call(Call::AnonymousCall(args)) => {
                    all_index = false;
                    // A local alias of redis.call, called directly.
                    let alias = i == 0 && val.rcall;
                    let args = match (i, global, &**args) {
                        // `type(cjson.decode_array_with_array_mt)`: a probe.
                        (0, Some("type"), FunctionArgs::Parentheses { arguments, .. })
                            if arguments.len() == 1 =>
                        {
                            arguments
                                .iter()
                                .map(|e| (self.probe_expr(e), Some(e)))
                                .collect()
                        }
                        _ => self.args(args),
                    };
                    let path = match (i, global, member) {
                        (0, Some(g), None) => Some((g, None)),
                        (1, Some(g), Some(m)) => Some((g, Some(m))),
                        _ => None,
                    };
                    val = call_result(path, &args);
                    if let (Some(("redis", Some("error_reply"))), Some((_, Some(first)))) =
                        (path, args.first())
                    {
                        self.check_error_code(first);
                    }
                    if alias || matches!(path, Some(("redis", Some("call" | "pcall")))) {
                        self.redis_call(&args);
                    }
                    if matches!(path, Some(("redis", Some("setresp"))))
                        && self.opts.declared.returns_null_as_false
                    {
                        self.check_setresp(prefix);
                    }
                    global = None;
                    member = None;
                }
                Suffix::Call(Call::MethodCall(m)) => {
                    all_index = false;
                    let args = self.args(m.args());
                    let name = name_of(m.name());
                    val = if STRING_BUILDERS.contains(&name) {
                        args.iter().fold(val, |acc, (v, _)| acc.join(*v))
                    } else {
                        Val::OPAQUE
                    };
                    global = None;
                    member = None;
                }
                _ => {
                    all_index = false;
                    val = Val::OPAQUE;
                    global = None;
                    member = None;
                }
            }
        }
        // `redis.call` itself, not called: for `local rcall = redis.call`.
        if suffixes.len() == 1
            && matches!((global, member), (Some("redis"), Some("call" | "pcall")))
        {
            return val.join(Val::REDIS_CALL);
        }
        val
    }

    /// `lib.name` where `lib` is a sandbox global.
    fn check_member(&mut self, lib: &str, token: &'a TokenReference, target: bool) {
        let name = name_of(token);
        if target && lib != "KEYS" && lib != "ARGV" {
            let i = self.at_token(
                Severity::Error,
                token,
                format!("cannot modify `{lib}.{name}`: Redis makes the sandbox's tables read-only"),
            );
            i.label = Some("writes into a read-only table".to_string());
            i.help = Some("keep your own values in locals".to_string());
            return;
        }
        if lib == "os" {
            if name == "clock" {
                return;
            }
            let time = matches!(name, "time" | "date" | "difftime");
            let i = self.at_token(
                Severity::Error,
                token,
                format!("`os.{name}` is not available in Redis scripts"),
            );
            i.label = Some("the sandbox's `os` only has `clock`".to_string());
            i.help = Some(if time {
                "use `redis.call('TIME')` (seconds and microseconds, as strings)".to_string()
            } else {
                "only `os.clock()` is available (Redis 7.4 and later)".to_string()
            });
            return;
        }
        // Only targets that have the table judge its members; a target
        // without the table was told of at the table's name.
        let has_member = |d: &Dialect| d.members(lib).is_none_or(|m| m.contains(&name));
        let lacking = self.opts.lacking(has_member);
        if lacking.is_empty() {
            return;
        }
        let having =
            Targets::having_anywhere(|d| d.members(lib).is_some_and(|m| m.contains(&name)));
        // Newer servers add to the scripting API, so an unknown member of
        // `redis` is only a warning (and nothing at all in a feature test).
        let api = lib == "redis";
        if api && self.probing {
            return;
        }
        let severity = if api || self.probing {
            Severity::Warning
        } else {
            Severity::Error
        };
        let mut message = if having.is_empty() {
            format!("`{lib}.{name}` does not exist in Redis' Lua")
        } else {
            format!(
                "`{lib}.{name}` is not available on {} (target servers of this crate)",
                and_list(&lacking)
            )
        };
        if self.probing {
            message.push_str(": this test is always false");
        }
        let members = self
            .opts
            .targets
            .iter()
            .find_map(|d| d.members(lib))
            .unwrap_or(&[]);
        let help = if having.is_empty() {
            closest(name, members.iter().copied())
                .map(|c| format!("did you mean `{lib}.{c}`?"))
                .or_else(|| {
                    self.probing
                        .then(|| "remove the test if the fallback is what runs".to_string())
                })
        } else {
            Some(targets_help(&having))
        };
        let i = self.at_token(severity, token, message);
        i.label = Some(if api {
            "unknown `redis` function".to_string()
        } else {
            format!("not in the `{lib}` library")
        });
        i.help = help;
    }

    /// `redis.call`/`redis.pcall` with a literal command name.
    fn redis_call(&mut self, args: &[(Val, Option<&'a Expression>)]) {
        let Some((_, Some(Expression::String(cmd_token)))) = args.first() else {
            return;
        };
        let Some(cmd) = string_literal(cmd_token) else {
            return;
        };
        let lower = cmd.to_ascii_lowercase();
        let mut info = command_info(&lower);
        let mut shown = cmd.to_string();
        if is_container(&lower) {
            if let Some((_, Some(Expression::String(sub_token)))) = args.get(1) {
                if let Some(sub) = string_literal(sub_token) {
                    let full = format!("{lower}|{}", sub.to_ascii_lowercase());
                    if let Some(found) = command_info(&full) {
                        info = Some(found);
                        shown = format!("{cmd} {sub}");
                    }
                }
            }
        }
        let Some(info) = info else {
            return;
        };
        if info.is_write && self.opts.no_writes {
            let i = self.at_token(
                Severity::Error,
                cmd_token,
                format!("`{shown}` is a write command, but the script has the `no-writes` flag"),
            );
            i.label = Some("Redis refuses writes in a `no-writes` script".to_string());
            // SORT, GEORADIUS and GEORADIUSBYMEMBER have read-only variants.
            let ro = format!("{lower}_ro");
            i.help = Some(match command_info(&ro) {
                Some(CommandInfo {
                    is_write: false, ..
                }) => format!(
                    "use `{}`, its read-only variant, or remove `no-writes` from the `#!lua` line",
                    ro.to_ascii_uppercase()
                ),
                _ => "remove `no-writes` from the `#!lua` line, or remove the write".to_string(),
            });
        }
        if info.is_write && self.opts.declared.keyless && !self.warned_keyless {
            self.warned_keyless = true;
            let i = self.at_token(
                Severity::Warning,
                cmd_token,
                format!(
                    "{KEYLESS_WRITE}`{shown}` writes, but no `%key` is declared: on Redis \
                     Cluster the call goes to a random node, which refuses keys it does not \
                     own, so redlua refuses the call on a cluster connection"
                ),
            );
            i.label = Some("a write with no declared key to route it".to_string());
            i.help = Some(
                "declare the keys it writes with `%key name` (they route the call to their \
                 node), or add `#!lua flags=no-cluster` if the script never runs on a cluster"
                    .to_string(),
            );
        }
        if self.opts.no_cluster {
            return;
        }
        // Every key position COMMAND gives (MSET's every other argument,
        // DEL's all, RPOPLPUSH's two), among the arguments written out.
        for pos in info.key_positions(args.len()) {
            if let Some((val, Some(expr))) = args.get(pos) {
                // MIGRATE's key is `""` when it uses its KEYS form.
                let empty = matches!(expr, Expression::String(t) if string_literal(t) == Some(""));
                if val.lit && !val.key && !empty {
                    self.literal_key(expr, *val);
                }
            }
        }
    }

    /// A key position holding a value built from literals and no declared
    /// key: what it means on Redis Cluster depends on what else it holds.
    fn literal_key(&mut self, expr: &'a Expression, val: Val) {
        let (message, help) = if val.arg {
            (
                "key built from an argument and literals: on Redis Cluster it must hash to the \
                 declared keys' slot",
                "this works on a cluster only when the argument carries the same `{hash tag}` \
                 as the declared keys (e.g. `{user:1}:jobs:`): make sure callers pass it so, or \
                 declare the key with `%key name` (or add `flags=no-cluster`)",
            )
        } else if val.reply {
            (
                "key built from literals and a `redis.call` reply: it is not a declared key and \
                 will not work on Redis Cluster",
                "declare it with `%key name` and build it in the caller, or put the declared \
                 keys' `{hash tag}` in the literal (or add `flags=no-cluster`)",
            )
        } else {
            (
                "key built from literals: it will not work on Redis Cluster; declare it with %key",
                "pass the key in with `%key name` (or add `flags=no-cluster` if the script never runs on a cluster)",
            )
        };
        if let Some(i) = self.at_node(Severity::Warning, expr, message.to_string()) {
            i.label = Some("not a declared key".to_string());
            i.help = Some(help.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str) -> Vec<LuaIssue> {
        check(src, &[], &[], &[])
    }

    fn errors(issues: &[LuaIssue]) -> Vec<&LuaIssue> {
        issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .collect()
    }

    fn warnings(issues: &[LuaIssue]) -> Vec<&LuaIssue> {
        issues
            .iter()
            .filter(|i| i.severity == Severity::Warning)
            .collect()
    }

    fn assert_clean(src: &str) {
        let issues = run(src);
        assert!(issues.is_empty(), "expected no issues, got {issues:#?}");
    }

    fn locals(n: usize) -> String {
        let mut src: String = (1..=n).map(|i| format!("local a{i} = {i}\n")).collect();
        src.push_str("return a1\n");
        src
    }

    fn too_many(issues: &[LuaIssue]) -> Vec<&LuaIssue> {
        errors(issues)
            .into_iter()
            .filter(|i| i.message.contains("local variables live at once"))
            .collect()
    }

    #[test]
    fn two_hundred_live_locals_pass_and_the_201st_is_refused() {
        assert!(too_many(&run(&locals(200))).is_empty());
        let issues = run(&locals(201));
        let refused = too_many(&issues);
        assert_eq!(refused.len(), 1, "{issues:#?}");
        assert_eq!(refused[0].line, 201);
        assert_eq!(refused[0].label.as_deref(), Some("local number 201"));
        // A Redis Function's body already holds KEYS and ARGV.
        let declared = Declared {
            wrapper_locals: 2,
            ..Default::default()
        };
        let f = |n| check_declared(&locals(n), &[], &[], &[], declared);
        assert!(too_many(&f(198)).is_empty());
        assert_eq!(too_many(&f(199)).len(), 1);
    }

    fn upvalues(n: usize, also: &str) -> String {
        let mut src: String = (1..=n).map(|i| format!("local a{i} = {i}\n")).collect();
        let sum: Vec<String> = (1..=n).map(|i| format!("a{i}")).collect();
        src.push_str(&format!(
            "local function f()\n  return {}{also}\nend\nreturn f()\n",
            sum.join(" + ")
        ));
        src
    }

    fn too_many_upvalues(issues: &[LuaIssue]) -> Vec<&LuaIssue> {
        errors(issues)
            .into_iter()
            .filter(|i| i.message.contains("upvalues Lua takes"))
            .collect()
    }

    #[test]
    fn sixty_upvalues_pass_and_the_61st_is_refused() {
        assert!(too_many_upvalues(&run(&upvalues(60, ""))).is_empty());
        let issues = run(&upvalues(61, ""));
        let refused = too_many_upvalues(&issues);
        assert_eq!(refused.len(), 1, "{issues:#?}");
        assert_eq!(refused[0].line, 62, "at the function's parameter list");
        // KEYS and ARGV are globals in a script, upvalues in a function body.
        let src = upvalues(59, " + #KEYS + #ARGV");
        assert!(too_many_upvalues(&run(&src)).is_empty());
        let declared = Declared {
            wrapper_locals: 2,
            ..Default::default()
        };
        let as_function = check_declared(&src, &[], &[], &[], declared);
        assert_eq!(too_many_upvalues(&as_function).len(), 1, "{as_function:#?}");
    }

    #[test]
    fn closed_scopes_free_their_locals_and_loops_hold_three_more() {
        // 150 + 150 in two blocks: never more than 150 live.
        let mut src = format!("do\n{}end\ndo\n{}end\nreturn 1\n", locals(150), locals(150));
        src = src.replace("return a1\n", "");
        assert!(too_many(&run(&src)).is_empty(), "{src}");
        // 197 locals, then a loop: its 3 hidden and 1 visible make 201.
        let mut src: String = (1..=197).map(|i| format!("local a{i} = {i}\n")).collect();
        src.push_str("for i = 1, 2 do end\nreturn a1\n");
        assert_eq!(too_many(&run(&src)).len(), 1);
        let src = src.replace("local a197 = 197\n", "");
        assert!(too_many(&run(&src)).is_empty());
        // A function has a limit of its own.
        let inner: String = (1..=150).map(|i| format!("local b{i} = {i}\n")).collect();
        let src = format!(
            "{}local function f()\n{inner}return b1\nend\nreturn f()\n",
            locals(150).replace("return a1\n", "")
        );
        assert!(too_many(&run(&src)).is_empty());
    }

    fn nested_ifs(n: usize) -> String {
        let mut src = String::from("local x = 1\n");
        for _ in 0..n {
            src.push_str("if x then\n");
        }
        src.push_str("x = x + 1\n");
        for _ in 0..n {
            src.push_str("end\n");
        }
        src.push_str("return x\n");
        src
    }

    #[test]
    fn deep_nesting_that_redis_accepts_is_checked_even_from_a_small_stack() {
        // The check runs on its own large-stack thread: called from a thread
        // with 256 KiB of stack (rustc's is 8 MiB, full_moon unoptimised in
        // downstream builds) it still checks 198 nested ifs (Redis accepts
        // 198) and finds the undefined global inside.
        let mut src = nested_ifs(198);
        src = src.replace("x = x + 1", "x = x + y");
        let issues = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || run(&src))
            .unwrap()
            .join()
            .unwrap();
        let errs = errors(&issues);
        assert_eq!(errs.len(), 1, "{issues:#?}");
        assert!(errs[0].message.contains("`y`"), "{:?}", errs[0]);
    }

    #[test]
    fn nesting_deeper_than_redis_accepts_is_an_error_at_the_level() {
        let e = only_error(&nested_ifs(MAX_DEPTH + 1));
        assert_eq!(e.line, MAX_DEPTH + 2);
        assert!(e.message.contains("nested more than 198"), "{e:?}");
        assert!(e.help.unwrap().contains("too many syntax levels"));
        let parens = format!("return {}1{}\n", "(".repeat(5000), ")".repeat(5000));
        assert!(only_error(&parens).message.contains("nested"));
        // Brackets and keywords in strings and comments do not nest.
        let deep = "(".repeat(300);
        let quoted = format!(
            "local a = '{deep}' .. \"{deep}\\\"\" .. [==[{deep}]]]==]\n-- {deep}\n--[[ {deep}\n]] return a\n"
        );
        assert_clean(&quoted);
        let words = format!(
            "local s = '{}'\nreturn s\n",
            "do then function ".repeat(300)
        );
        assert_clean(&words);
    }

    /// `OP` repeated `n` times in one expression.
    fn chain(op: &str, n: usize) -> String {
        match op {
            "- " | "not " | "# " => format!("local a = 1\nreturn {}a\n", op.repeat(n)),
            _ => format!("local a = 1\nreturn a{}\n", format!(" {op} a").repeat(n)),
        }
    }

    #[test]
    fn operator_chains_are_bounded_like_redis_and_never_crash() {
        // Redis counts a level per unary operator and per `..`/`^` of a
        // chain: it accepts 198 of each in one expression (measured on
        // redis-server 7.0.15) and so does the check; far more are refused
        // by both (100,000 unary minuses overflowed even the checker's
        // 256 MiB stack).
        for op in ["- ", "not ", "# ", "..", "^"] {
            let ok = run(&chain(op, MAX_DEPTH));
            assert!(
                !ok.iter().any(|i| i.message.contains("nested")),
                "{op} x{MAX_DEPTH}: {ok:#?}"
            );
            let e = only_error(&chain(op, 100_000));
            assert!(e.message.contains("nested more than 198"), "{op}: {e:?}");
        }
        // A binary minus is not a unary one; left-associative chains add
        // no level (Redis accepts them at any length): 300,000 terms are
        // checked, in linear time (`code_after_last_statement` was
        // quadratic: 40,000 terms took 8.8 s).
        assert!(run(
            &chain("- ", 0).replace("return a", &format!("return a{}", " - 1".repeat(300)))
        )
        .is_empty());
        let started = std::time::Instant::now();
        assert!(errors(&run(&chain("+", 300_000))).is_empty());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_backtick_is_a_syntax_error_at_its_line_not_a_panic() {
        let e = only_error("local a = 1\nlocal b = `x`\nreturn a\n");
        assert_eq!((e.line, e.col), (2, 11));
        assert_eq!(e.message, "unexpected character `` ` ``");
        assert!(e.help.unwrap().contains("no backtick strings"));
        // Inside strings and comments a backtick is just text.
        assert_clean("-- `code`\nreturn '`' .. [[`]]\n");
    }

    #[test]
    fn literal_keys_and_argv_past_the_header_are_errors() {
        let declared = Declared {
            keys: Some(1),
            args: Some(0),
            ..Declared::default()
        };
        let issues = check_declared(
            "local a = KEYS[1]\nlocal b = KEYS[2]\nreturn ARGV[1] .. a .. b\n",
            &[],
            &[],
            &[],
            declared,
        );
        let errs = errors(&issues);
        assert_eq!(errs.len(), 2, "{issues:#?}");
        assert_eq!((errs[0].line, errs[0].col), (2, 16));
        assert_eq!(
            errs[0].message,
            "`KEYS[2]` is never sent: the header declares 1 key"
        );
        assert_eq!(
            errs[1].message,
            "`ARGV[1]` is never sent: the header declares no arguments"
        );
        assert!(errs[1].help.as_ref().unwrap().contains("`%args NAME`"));
        // Computed indexes and open counts are not judged.
        let open = Declared {
            keys: None,
            args: Some(1),
            ..Declared::default()
        };
        let src = "local i = 3\nreturn KEYS[i] .. KEYS[9] .. ARGV[1]\n";
        assert!(errors(&check_declared(src, &[], &[], &[], open)).is_empty());
    }

    #[test]
    fn implicit_arg_in_vararg_functions_but_not_in_the_main_chunk() {
        assert_clean("local function f(...) return arg.n end\nreturn f(1, 2)\n");
        assert_clean("local t = { g = function(a, ...) return arg[1] end }\nreturn t.g(1)\n");
        let e = only_error("return arg\n");
        assert_eq!(e.message, "undefined variable `arg`");
        let e = only_error("local function f(a) return arg end\nreturn f(1)\n");
        assert_eq!(e.message, "undefined variable `arg`");
    }

    #[test]
    fn feature_tests_of_missing_members_are_at_most_warnings() {
        for src in [
            "local t = {1}\nreturn (table.unpack or unpack)(t)\n",
            "return type(cjson.decode_array_with_array_mt)\n",
            "if redis.set_repl2 then return 1 end\nreturn 0\n",
            "if not string.pack and 1 then return 1 end\nreturn 0\n",
            "while math.nope do end\nreturn 0\n",
        ] {
            let issues = run(src);
            assert!(errors(&issues).is_empty(), "{src}: {issues:#?}");
        }
        let issues = run("return (table.unpack or unpack)({1})\n");
        let w = warnings(&issues);
        assert_eq!(w.len(), 1);
        assert!(w[0].message.contains("always false"), "{:?}", w[0]);
        // Used as a value, the same member is still an error.
        assert_eq!(
            only_error("return table.unpack({1})\n").message,
            "`table.unpack` does not exist in Redis' Lua"
        );
        // A call inside a condition is not a probe.
        assert!(
            only_error("if string.fromat('x') then return 1 end\nreturn 0\n")
                .message
                .contains("string.fromat")
        );
    }

    #[test]
    fn literal_server_error_codes_are_errors() {
        for (src, col) in [
            ("return redis.error_reply('NOSCRIPT gone')\n", 26),
            ("return {err = 'TRYAGAIN later'}\n", 15),
            ("error({err = \"MOVED 1 x\"})\n", 14),
            ("return redis.error_reply(\"BUSY\")\n", 26),
        ] {
            let e = only_error(src);
            assert_eq!(e.col, col, "{src}");
            assert!(e.message.contains("one the server itself sends"), "{e:?}");
            assert!(e.help.unwrap().contains("use a code of your own"), "{src}");
        }
        // Other codes, and codes that only start the same, are the script's own.
        assert_clean("return redis.error_reply('NOTFOUND x')\n");
        assert_clean("return {err = 'NOSCRIPTS x'}\n");
        assert_clean("local t = {ok = 'MOVED'}\nreturn t\n");
    }

    #[test]
    fn fractional_returns_under_return_int_warn() {
        let int = Declared {
            returns_int: true,
            ..Declared::default()
        };
        for src in [
            "return 3.9\n",
            "local a = 1\nreturn a / 2\n",
            "return (math.sqrt(2))\n",
            "return 1e20\n",
            "return 2 ^ 0.5\n",
        ] {
            let issues = check_declared(src, &[], &[], &[], int);
            let w = warnings(&issues);
            assert_eq!(w.len(), 1, "{src}: {issues:#?}");
            assert!(w[0].message.contains("truncates"), "{src}");
        }
        for src in [
            "return 3\n",
            "return math.floor(7 / 2)\n",
            "local function f() return 1.5 end\nreturn 1\n",
        ] {
            assert!(check_declared(src, &[], &[], &[], int).is_empty(), "{src}");
        }
        // Under another %return, a float is fine.
        assert_clean("return 3.9\n");
    }

    fn only_error(src: &str) -> LuaIssue {
        let issues = run(src);
        let errs = errors(&issues);
        assert_eq!(errs.len(), 1, "expected one error, got {issues:#?}");
        errs[0].clone()
    }

    // --- the redis-lua docs' mistake --------------------------------------

    const DOCS_MISTAKE: &str = "local size = tonumber(ARGV[1])
local members = cjson.decode(ARGV[2])
-- %return dict

local foo_id = redis.call('INCR', 'foo:last_id')
local foo_root_key = string.format('foo:%s', foo_id)
local foo_members_key = foo_root_key .. ':members'
local foo_size_key = foo_size_key .. ':size'

redis.call('SET', foo_size_key, size)
redis.call('SADD', foo_members_key, unpack(members))

return cjson.encode({
    id=foo_id,
    members=members,
    size=size,
})
";

    #[test]
    fn docs_mistake_reads_the_global_in_its_own_initializer() {
        let issues = check(DOCS_MISTAKE, &["size", "members"], &[], &[]);
        let errs = errors(&issues);
        assert_eq!(errs.len(), 1, "{issues:#?}");
        assert_eq!(
            *errs[0],
            LuaIssue {
                severity: Severity::Error,
                line: 8,
                col: 22,
                len: 12,
                message: "undefined variable `foo_size_key`".to_string(),
                label: Some("not found in this scope".to_string()),
                help: Some("did you mean `foo_root_key`?".to_string()),
            }
        );
        // Its keys are built from literals, not declared: two warnings.
        let warns: Vec<(usize, usize)> =
            warnings(&issues).iter().map(|w| (w.line, w.col)).collect();
        assert_eq!(warns, vec![(5, 35), (11, 20)], "{issues:#?}");
        // Both params are used.
        assert!(!issues.iter().any(|i| i.message.contains("never used")));
    }

    // --- valid scripts ---------------------------------------------------

    #[test]
    fn every_sandbox_global_is_allowed() {
        assert_clean(
            "local t = {}
local n = tonumber(ARGV[1]) or 0
t[1] = tostring(n) .. type(n) .. _VERSION
for k, v in pairs(t) do t[k] = v end
for i, v in ipairs(t) do t[i] = v end
local k = next(t)
local s = select('#', 1, 2)
local u = {unpack(t)}
local ok, e = pcall(error, 'x')
local ok2 = xpcall(function() assert(true) end, function(m) return m end)
setmetatable(t, {__index = function() return nil end})
local mt = getmetatable(t)
rawset(t, 'a', rawget(t, 'b'))
local eq = rawequal(t, t)
local f = loadstring('return 1')
local g = load(function() return nil end)
local j = cjson.encode(cmsgpack.unpack(cmsgpack.pack({1})))
local b = bit.band(1, 3) + struct.size('i')
local m = math.floor(math.random() * string.len(table.concat({'a'}, ',')))
local c = coroutine.wrap(function() coroutine.yield(1) end)
local gc = collectgarbage('count') + gcinfo()
local x = _G
redis.log(redis.LOG_NOTICE, redis.sha1hex(KEYS[1]))
redis.setresp(3)
return {k, s, u, ok, e, ok2, mt, eq, f, g, j, b, m, c, gc, x, redis.status_reply('OK')}
",
        );
    }

    /// `check` for a crate that targets the servers `ids`.
    fn run_on(src: &str, ids: &[&str]) -> Vec<LuaIssue> {
        let targets = Targets::from_ids(ids).unwrap();
        let declared = Declared {
            targets: Some(&targets),
            ..Declared::default()
        };
        check_declared(src, &[], &[], &[], declared)
    }

    #[test]
    fn a_name_some_targets_lack_says_which() {
        // `os` (only `os.clock`) is on Redis 8.2 and both Valkeys, not on
        // 6.2 or 7.0; `server` is Valkey's; `getfenv` only 6.2's.
        let e = only_error("return os.clock()\n");
        assert_eq!(
            e.message,
            "`os` is not available on redis-6.2 and redis-7.0 (target servers of this crate)"
        );
        let help = e.help.unwrap();
        assert!(
            help.contains("redis-8.2, valkey-8.1 and valkey-9.1"),
            "{help}"
        );
        assert!(
            help.contains("servers = [\"redis-8.2\", \"valkey-8.1\", \"valkey-9.1\"]"),
            "{help}"
        );
        assert!(run_on("return os.clock()\n", &["redis-8.2", "valkey-9.1"]).is_empty());
        let e = &run_on(
            "return server.call('GET', KEYS[1])\n",
            &["redis-7.0", "valkey-9.1"],
        )[0];
        assert_eq!(
            e.message,
            "`server` is not available on redis-7.0 (target servers of this crate)"
        );
        // On Valkey alone `server` is the `redis` table, checked as such.
        assert!(run_on(
            "return server.call('GET', KEYS[1])\n",
            &["valkey-8.1", "valkey-9.1"]
        )
        .is_empty());
        let flags = vec!["no-writes".to_string()];
        let targets = Targets::from_ids(&["valkey-9.1"]).unwrap();
        let declared = Declared {
            targets: Some(&targets),
            ..Declared::default()
        };
        let issues = check_declared(
            "#!lua flags=no-writes\nreturn server.call('SET', KEYS[1], 1)\n",
            &[],
            &[],
            &flags,
            declared,
        );
        assert!(
            issues[0].message.contains("`SET` is a write command"),
            "{issues:#?}"
        );
        // Only 6.2 still has getfenv; wherever a target disables it, an error.
        assert!(run_on("return getfenv(1)\n", &["redis-6.2"]).is_empty());
        let e = &run_on("return getfenv(1)\n", &["redis-6.2", "redis-8.2"])[0];
        assert!(e.message.contains("not available on redis-8.2"), "{e:?}");
        assert!(e.help.as_ref().unwrap().contains("CVE-2025-46818"), "{e:?}");
        // A library member some targets lack (REDIS_VERSION: 7.0 and later).
        let w = &run_on("return redis.REDIS_VERSION\n", &["redis-6.2", "redis-7.0"])[0];
        assert_eq!(w.severity, Severity::Warning);
        assert!(
            w.message
                .contains("`redis.REDIS_VERSION` is not available on redis-6.2"),
            "{w:?}"
        );
    }

    #[test]
    fn nested_scopes_and_shadowing() {
        assert_clean(
            "local a = 1
do
  local a = a + 1
  local b = a
  if b > 1 then
    local c = b
    a = c
  elseif b < 0 then
    local c = -b
    a = c
  else
    a = 0
  end
end
local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end
local g = function(x, ...) local y = select('#', ...) return x + y end
for i = 1, 3 do local a = i end
for k, v in pairs({}) do a = k .. v end
while a > 10 do local w = a a = w - 1 end
local t = {}
function t.f(x) return x end
function t:m(y) return self.f(y) end
return fact(a) + g(1, 2) + t:m(3)
",
        );
        // A block's locals end with the block.
        let e = only_error("do local inner = 1 end\nreturn inner\n");
        assert_eq!((e.line, e.col, e.len), (2, 8, 5));
        assert_eq!(e.message, "undefined variable `inner`");
        // Loop variables too.
        let e = only_error("for idx = 1, 2 do end\nreturn idx\n");
        assert_eq!(e.message, "undefined variable `idx`");
        // Function parameters too.
        let e = only_error("local function f(param) return param end\nreturn f(1) + param\n");
        assert_eq!((e.line, e.col), (2, 15));
    }

    #[test]
    fn repeat_until_sees_the_body_locals() {
        assert_clean(
            "local n = 0
repeat
  local done = n > 3
  n = n + 1
until done
return n
",
        );
        let e = only_error("repeat local done = true until done\nreturn done\n");
        assert_eq!((e.line, e.col), (2, 8));
    }

    #[test]
    fn local_function_sees_itself_but_local_assignment_does_not() {
        assert_clean(
            "local function f(n) if n > 0 then return f(n - 1) end return 0 end\nreturn f(3)\n",
        );
        let e = only_error("local f = function(n) return f(n - 1) end\nreturn f(3)\n");
        assert_eq!((e.line, e.col), (1, 30));
        assert_eq!(e.message, "undefined variable `f`");
    }

    #[test]
    fn varargs() {
        assert_clean(
            "local n = select('#', ...)\nlocal f = function(...) return ... end\nreturn f(n)\n",
        );
        let e = only_error("local function f(a) return ... end\nreturn f(1)\n");
        assert_eq!(e.message, "cannot use `...` outside a vararg function");
        assert_eq!((e.line, e.col, e.len), (1, 28, 3));
    }

    // --- globals -----------------------------------------------------------

    #[test]
    fn assignment_to_a_global() {
        let e = only_error("local count = 1\ntotal = count + 1\nreturn count\n");
        assert_eq!((e.line, e.col, e.len), (2, 1, 5));
        assert_eq!(
            e.message,
            "assignment to undefined global `total`: Redis scripts may not create globals"
        );
        assert_eq!(e.help.as_deref(), Some("declare it with `local`"));
        // A typo of a local.
        let issues = run("local count = 1\ncont = 2\nreturn count\n");
        assert_eq!(
            errors(&issues)[0].help.as_deref(),
            Some("declare it with `local` (or did you mean `count`?)")
        );
        // Global functions.
        let e = only_error("function helper() return 1 end\n");
        assert_eq!(e.help.as_deref(), Some("declare it with `local function`"));
        assert_eq!((e.line, e.col, e.len), (1, 10, 6));
    }

    #[test]
    fn sandbox_tables_are_read_only() {
        let e = only_error("string.trim = function(s) return s end\n");
        assert_eq!(
            e.message,
            "cannot modify `string.trim`: Redis makes the sandbox's tables read-only"
        );
        assert_eq!((e.line, e.col), (1, 8));
        let e = only_error("redis.call = nil\n");
        assert!(e.message.starts_with("cannot modify `redis.call`"), "{e:?}");
        let e = only_error("math['pi'] = 3\n");
        assert!(e.message.starts_with("cannot modify `math`"), "{e:?}");
        let e = only_error("function table.first(t) return t[1] end\n");
        assert!(
            e.message.starts_with("cannot modify `table.first`"),
            "{e:?}"
        );
        let e = only_error("redis = {}\n");
        assert!(e.message.starts_with("cannot assign to `redis`"), "{e:?}");
        // KEYS and ARGV are plain tables.
        assert_clean("KEYS[1] = 'a'\nARGV[1] = 'b'\nreturn KEYS[1] .. ARGV[1]\n");
        // Fields of local tables are fine.
        assert_clean("local t = {}\nt.x = 1\nt['y'] = 2\nfunction t.z() end\nreturn t\n");
    }

    #[test]
    fn removed_functions() {
        let e = only_error("local json = require('json')\nreturn json\n");
        assert_eq!(e.message, "`require` is not available in Redis scripts");
        assert_eq!((e.line, e.col, e.len), (1, 14, 7));
        assert_eq!(
            e.help.as_deref(),
            Some("use `%include \"file\"` to share code")
        );
        // Redis 6.2 still has print (and getfenv, setfenv, newproxy): the
        // error names the targets without it, and says what to do instead.
        let e = only_error("print('hello')\n");
        assert!(
            e.message
                .starts_with("`print` is not available on redis-7.0"),
            "{e:?}"
        );
        assert!(e.help.unwrap().contains("redis.log"));
        for name in ["dofile", "loadfile", "module", "debug", "io"] {
            let e = only_error(&format!("local x = {name}\nreturn x\n"));
            assert_eq!(
                e.message,
                format!("`{name}` is not available in Redis scripts")
            );
        }
        for name in ["setfenv", "getfenv", "newproxy"] {
            let e = only_error(&format!("local x = {name}\nreturn x\n"));
            assert!(e.message.contains("not available on redis-7.0"), "{e:?}");
        }
    }

    #[test]
    fn os_only_has_clock() {
        let on = ["redis-8.2", "valkey-8.1", "valkey-9.1"];
        let issues = run_on("local now = os.time()\nreturn now\n", &on);
        let e = &errors(&issues)[0];
        assert_eq!(e.message, "`os.time` is not available in Redis scripts");
        assert_eq!((e.line, e.col, e.len), (1, 16, 4));
        assert!(e.help.as_ref().unwrap().contains("redis.call('TIME')"));
        let issues = run_on("return os.getenv('HOME')\n", &on);
        assert_eq!(
            errors(&issues)[0].message,
            "`os.getenv` is not available in Redis scripts"
        );
        assert!(run_on("local t0 = os.clock()\nreturn os.clock() - t0\n", &on).is_empty());
    }

    #[test]
    fn unknown_library_members() {
        let e = only_error("return string.frmat('%d', 1)\n");
        assert_eq!(e.message, "`string.frmat` does not exist in Redis' Lua");
        assert_eq!(e.help.as_deref(), Some("did you mean `string.format`?"));
        assert_eq!((e.line, e.col, e.len), (1, 15, 5));
        // `redis` grows with new servers: a warning.
        let issues = run("return redis.cal('GET', KEYS[1])\n");
        assert!(errors(&issues).is_empty(), "{issues:#?}");
        let w = warnings(&issues);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].help.as_deref(), Some("did you mean `redis.call`?"));
    }

    #[test]
    fn undefined_names_suggest_locals_and_globals() {
        let e = only_error("local user_key = KEYS[1]\nreturn redis.call('GET', user_kye)\n");
        assert_eq!(e.help.as_deref(), Some("did you mean `user_key`?"));
        let e = only_error("return tonumbr(ARGV[1])\n");
        assert_eq!(e.help.as_deref(), Some("did you mean `tonumber`?"));
        let e = only_error("return zzzzzz\n");
        assert_eq!(e.help, None);
    }

    // --- flags -------------------------------------------------------------

    fn flags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn shebang_keeps_line_numbers() {
        let src = "#!lua flags=no-writes\nlocal a = 1\nreturn b\n";
        let issues = check(src, &[], &[], &flags(&["no-writes"]));
        let e = &errors(&issues)[0];
        assert_eq!((e.line, e.col), (3, 8));
        // A shebang without flags.
        let issues = run("#!lua\nreturn 1 +\n");
        assert_eq!(errors(&issues)[0].line, 2);
    }

    #[test]
    fn no_writes_knows_the_write_commands_of_every_server_of_the_matrix() {
        // HSETEX exists from Redis 8.0 (and Valkey 9), which refuse it in a
        // no-writes script: the table is the union over the matrix.
        let f = flags(&["no-writes"]);
        let src =
            "#!lua flags=no-writes\nreturn redis.call('HSETEX', KEYS[1], 'FIELDS', 1, 'f', 'v')\n";
        let issues = check(src, &[], &[], &f);
        let e = &errors(&issues)[0].message;
        assert!(e.contains("`HSETEX` is a write command"), "{e}");
        let read = "#!lua flags=no-writes\nreturn redis.call('HTTL', KEYS[1], 'FIELDS', 1, 'f')\n";
        assert!(errors(&check(read, &[], &[], &f)).is_empty());
    }

    #[test]
    fn a_local_alias_of_redis_call_is_checked_like_it() {
        // `local rcall = redis.call` is common in large scripts (BullMQ's).
        let f = flags(&["no-writes"]);
        let src = "#!lua flags=no-writes
local rcall = redis.call
local pcall_ = redis.pcall
local function bump(k) return rcall('INCR', k) end
local v = rcall('GET', KEYS[1])
pcall_('DEL', KEYS[1])
return bump(KEYS[1])
";
        let issues = check(src, &[], &[], &f);
        let found: Vec<(usize, &str)> = errors(&issues)
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    4,
                    "`INCR` is a write command, but the script has the `no-writes` flag"
                ),
                (
                    6,
                    "`DEL` is a write command, but the script has the `no-writes` flag"
                ),
            ]
        );
        // Literal keys through the alias.
        let src = "local rcall = redis.call\nreturn rcall('GET', 'config')\n";
        assert_eq!(literal_key_warnings(src, &[], &[]), vec![(2, 21, 8)]);
        // Other functions kept in locals are not redis.call.
        let src = "local f = string.format\nlocal g = redis.sha1hex\nreturn f('%s', g('SET'))\n";
        assert!(run(src).is_empty(), "{:#?}", run(src));
        // A field of redis.call's value, or a call of its result: not it.
        let src = "#!lua flags=no-writes\nlocal t = {c = redis.call}\nreturn t.c('GET', KEYS[1])\n";
        assert!(check(src, &[], &[], &f).is_empty());
    }

    #[test]
    fn write_commands_under_no_writes() {
        let f = flags(&["no-writes"]);
        let src = "#!lua flags=no-writes\nlocal v = redis.call('GET', KEYS[1])\nredis.call('SET', KEYS[1], v)\nreturn v\n";
        let issues = check(src, &[], &[], &f);
        assert_eq!(issues.len(), 1, "{issues:#?}");
        let e = &issues[0];
        assert_eq!((e.line, e.col, e.len), (3, 12, 5));
        assert_eq!(
            e.message,
            "`SET` is a write command, but the script has the `no-writes` flag"
        );
        assert_eq!(
            e.help.as_deref(),
            Some("remove `no-writes` from the `#!lua` line, or remove the write")
        );

        let src = "#!lua flags=no-writes\nreturn redis.pcall('hset', KEYS[1], 'f', 'v')\n";
        let issues = check(src, &[], &[], &f);
        assert_eq!(errors(&issues).len(), 1);
        assert!(issues[0].message.starts_with("`hset` is a write command"));

        // Commands Redis counts as writes though COMMAND does not flag them.
        let src = "#!lua flags=no-writes\nredis.call('PUBLISH', 'ch', 'm')\nreturn redis.call('pfcount', KEYS[1])\n";
        assert_eq!(errors(&check(src, &[], &[], &f)).len(), 2);

        // Read-only variants.
        let src = "#!lua flags=no-writes\nreturn redis.call('sort', KEYS[1])\n";
        let issues = check(src, &[], &[], &f);
        assert_eq!(
            issues[0].help.as_deref(),
            Some(
                "use `SORT_RO`, its read-only variant, or remove `no-writes` from the `#!lua` line"
            )
        );

        // Subcommands.
        let src =
            "#!lua flags=no-writes\nreturn redis.call('XGROUP', 'CREATE', KEYS[1], 'g', '$')\n";
        let issues = check(src, &[], &[], &f);
        assert_eq!(
            issues[0].message,
            "`XGROUP CREATE` is a write command, but the script has the `no-writes` flag"
        );
        let src = "#!lua flags=no-writes\nreturn redis.call('XINFO', 'STREAM', KEYS[1])\n";
        assert!(check(src, &[], &[], &f).is_empty());

        // Reads are fine; without the flag writes are fine.
        let src = "#!lua flags=no-writes\nreturn {redis.call('get', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('ZRANGE', KEYS[3], 0, -1)}\n";
        assert!(check(src, &[], &[], &f).is_empty());
        assert!(run("return redis.call('SET', KEYS[1], 'v')\n").is_empty());
        // A computed command name is not checked.
        let src = "#!lua flags=no-writes\nlocal cmd = ARGV[1]\nreturn redis.call(cmd, KEYS[1])\n";
        assert!(check(src, &[], &[], &f).is_empty());
        // A local called `redis` is not the API.
        let src = "#!lua flags=no-writes\nlocal redis = {call = function() end}\nreturn redis.call('SET', 'a', 'b')\n";
        assert!(check(src, &[], &[], &f).is_empty());
    }

    // --- warnings ------------------------------------------------------------

    #[test]
    fn unused_params() {
        let src = "local user = KEYS[1]
local size = tonumber(ARGV[1])
local fields = {} for redlua_i = 2, #ARGV do fields[redlua_i - 1] = ARGV[redlua_i] end
return redis.call('HGET', user, 'x')
";
        let issues = check(src, &["user", "size", "fields"], &["user"], &[]);
        let w = warnings(&issues);
        assert_eq!(w.len(), 2, "{issues:#?}");
        assert_eq!(w[0].message, "`%arg size` is never used");
        assert_eq!((w[0].line, w[0].col, w[0].len), (2, 7, 4));
        assert_eq!(w[1].message, "`%arg fields` is never used");
        assert_eq!((w[1].line, w[1].col, w[1].len), (3, 7, 6));
        assert!(errors(&issues).is_empty());

        let issues = check(
            "local user = KEYS[1]\nreturn 1\n",
            &["user"],
            &["user"],
            &[],
        );
        assert_eq!(warnings(&issues)[0].message, "`%key user` is never used");

        // Used in a nested function, or only assigned to: a read counts, a
        // shadowing local does not.
        let src =
            "local size = tonumber(ARGV[1])\nlocal function f() return size end\nreturn f()\n";
        assert!(check(src, &["size"], &[], &[]).is_empty());
        let src = "local size = tonumber(ARGV[1])\nlocal size = 3\nreturn size\n";
        assert_eq!(warnings(&check(src, &["size"], &[], &[])).len(), 1);
        let src = "local size = tonumber(ARGV[1])\nsize = 3\nreturn 1\n";
        assert_eq!(warnings(&check(src, &["size"], &[], &[])).len(), 1);
    }

    fn literal_key_warnings(
        src: &str,
        params: &[&str],
        keys: &[&str],
    ) -> Vec<(usize, usize, usize)> {
        let issues = check(src, params, keys, &[]);
        assert!(errors(&issues).is_empty(), "{issues:#?}");
        issues
            .iter()
            .filter(|i| i.message.starts_with("key built from"))
            .map(|i| (i.line, i.col, i.len))
            .collect()
    }

    #[test]
    fn literal_key_warnings_say_what_must_hold() {
        // A prefix from an argument (BullMQ's baseKey with a {hash tag}):
        // fine on a cluster when the tag matches, so say that.
        let issues =
            run("local base = ARGV[1]\nreturn redis.call('GET', base .. 'x' .. ':lock')\n");
        let w = warnings(&issues);
        assert_eq!(w.len(), 1, "{issues:#?}");
        assert!(
            w[0].message
                .contains("must hash to the declared keys' slot"),
            "{:?}",
            w[0]
        );
        assert!(!w[0].message.contains("will not work"));
        assert!(w[0].help.as_ref().unwrap().contains("{hash tag}"));
        // Literals plus a redis.call reply (sidekiq-unique-jobs) were missed.
        let src = "local identity = redis.call('GET', KEYS[1])\nreturn redis.call('EXISTS', 'uniquejobs:heartbeat:' .. identity)\n";
        let issues = run(src);
        let w = warnings(&issues);
        assert_eq!(w.len(), 1, "{issues:#?}");
        assert!(w[0].message.contains("`redis.call` reply"), "{:?}", w[0]);
        // A declared key with a suffix is still fine.
        assert!(warnings(&run("return redis.call('GET', KEYS[1] .. ':x')\n")).is_empty());
    }

    #[test]
    fn literal_keys_warn() {
        let w = literal_key_warnings("return redis.call('GET', 'config')\n", &[], &[]);
        assert_eq!(w, vec![(1, 26, 8)]);
        let issues = run("return redis.call('GET', 'config')\n");
        assert_eq!(
            issues[0].message,
            "key built from literals: it will not work on Redis Cluster; declare it with %key"
        );
        assert_eq!(issues[0].severity, Severity::Warning);
        // Concatenations and formats of literals and non-key values.
        let src = "local id = ARGV[1]
redis.call('SET', 'user:' .. id, 1)
redis.call('SET', string.format('user:%s', id), 1)
redis.call('SET', ('user:%s'):format(id), 1)
local k = 'user:' .. id
redis.call('DEL', k)
for _, m in ipairs(cjson.decode(ARGV[2])) do redis.call('SADD', 'set:' .. m, 1) end
return redis.call('HSET', 'h:' .. tostring(id), 'f', 'v')
";
        assert_eq!(
            literal_key_warnings(src, &[], &[]),
            vec![
                (2, 19, 13),
                (3, 19, 28),
                (4, 19, 22),
                (6, 19, 1),
                (7, 65, 11),
                (8, 27, 20)
            ]
        );
        // The key of a subcommand is after the subcommand.
        let w = literal_key_warnings("return redis.call('OBJECT', 'ENCODING', 'k')\n", &[], &[]);
        assert_eq!(w, vec![(1, 41, 3)]);
    }

    #[test]
    fn literal_keys_warn_at_every_key_position() {
        // MSET: keys at 1, 3, 5 (every other argument); values are not keys.
        let src = "local a = KEYS[1]
redis.call('MSET', a, 'v', 'b', 'v', 'c', ARGV[1])
";
        assert_eq!(
            literal_key_warnings(src, &[], &[]),
            vec![(2, 28, 3), (2, 38, 3)]
        );
        // DEL: every argument; RPOPLPUSH: both; BLPOP: all but the timeout.
        let src = "local a = KEYS[1]
redis.call('DEL', a, 'x', 'y')
redis.call('RPOPLPUSH', a, 'dst')
redis.call('BLPOP', a, 'q', 0)
";
        assert_eq!(
            literal_key_warnings(src, &[], &[]),
            vec![(2, 22, 3), (2, 27, 3), (3, 28, 5), (4, 24, 3)]
        );
        // Declared keys everywhere: nothing; a trailing unpack may hold more
        // keys, and only what is written out is judged.
        let src = "local a, b = KEYS[1], KEYS[2]
redis.call('MSET', a, 'v', b, 'v')
redis.call('DEL', a, unpack(KEYS))
return redis.call('SUNIONSTORE', a, b, unpack(ARGV))
";
        assert!(literal_key_warnings(src, &[], &[]).is_empty());
    }

    #[test]
    fn declared_keys_do_not_warn() {
        let src = "local user = KEYS[1]
local all = {} for redlua_i = 2, #KEYS do all[redlua_i - 1] = KEYS[redlua_i] end
redis.call('SET', user, 1)
redis.call('SET', user .. ':n', 1)
redis.call('SET', KEYS[1] .. ':x', 1)
redis.call('SET', string.format('%s:y', user), 1)
for _, k in ipairs(all) do redis.call('DEL', k .. ':z') end
for i = 1, #KEYS do redis.call('DEL', KEYS[i] .. ':w') end
local function touch(key) return redis.call('SET', key .. ':t', 1) end
touch(user)
local derived = user .. ':d'
redis.call('GET', derived .. ':e')
local later = 'tmp'
later = KEYS[1]
redis.call('GET', later .. ':x')
redis.call('GET', ARGV[1])
return redis.call('PUBLISH', 'channel', 'msg')
";
        assert_eq!(
            literal_key_warnings(src, &["user", "all"], &["user", "all"]),
            vec![]
        );
        // A value assigned later in a loop counts for earlier uses.
        let src = "local k = 'start'
for i = 1, 2 do
  redis.call('GET', k .. ':x')
  k = KEYS[i]
end
";
        assert_eq!(literal_key_warnings(src, &[], &[]), vec![]);
        // `no-cluster` scripts never run on a cluster.
        let src = "#!lua flags=no-cluster\nreturn redis.call('GET', 'config')\n";
        assert!(check(src, &[], &[], &flags(&["no-cluster"])).is_empty());
    }

    // --- syntax ------------------------------------------------------------

    #[test]
    fn syntax_error_unclosed_function() {
        let src = "local a = 1\n\nlocal function f()\n  return a\n\nreturn f()\n";
        let e = only_error(src);
        assert_eq!((e.line, e.col, e.len), (3, 7, 8));
        assert_eq!(e.message, "expected `end` to close `function`");
        assert_eq!(e.label.as_deref(), Some("this `function` is never closed"));
    }

    #[test]
    fn syntax_error_blames_the_block_whose_end_was_taken() {
        let src =
            "local function f(x)\n  if x then\n    return 1\n\n  return 2\nend\nreturn f(1)\n";
        let e = only_error(src);
        assert_eq!((e.line, e.col), (2, 3));
        assert_eq!(e.message, "expected `end` to close `if`");
    }

    #[test]
    fn syntax_errors_at_their_position() {
        let e = only_error("local x = 1\nlocal y = = 2\n");
        assert_eq!((e.line, e.col), (2, 9));
        assert_eq!(e.message, "expected an expression");
        let e = only_error("local s = 'abc\nreturn s\n");
        assert_eq!((e.line, e.col), (1, 11));
        assert_eq!(e.message, "unclosed string");
        let e = only_error("if a ~= nil then\nend\nend\n");
        assert_eq!((e.line, e.col, e.len), (3, 1, 3));
        assert_eq!(
            e.message,
            "unexpected `end`: there is no open block to close"
        );
        let e = only_error("local n = 7 // 2\n");
        assert!(e.help.unwrap().contains("math.floor"));
        let e = only_error("if a != b then end\n");
        assert_eq!((e.line, e.col), (1, 6));
        assert!(e.help.unwrap().contains("~="));
        let e = only_error("return 1\nlocal x = 2\n");
        assert_eq!(e.line, 2);
        let e = only_error("repeat\n  local x = 1\nend\n");
        assert_eq!(e.message, "expected `until` to close `repeat`, found `end`");
        let e = only_error("local t = {1, 2\nreturn t\n");
        assert_eq!(e.message, "expected `}` after last field");
        // At the end of the file: the last thing written.
        let e = only_error("local x = 1\nx\n\n");
        assert_eq!((e.line, e.col, e.len), (2, 1, 1));
        let e = only_error("goto done\n");
        assert!(e.help.unwrap().contains("no `goto`"));
    }

    #[test]
    fn code_after_a_top_level_return_is_an_error() {
        // full_moon 3.0.0 drops it without an error.
        let e = only_error("return 1\n-- c\n--[[ long\n]] return 2\n");
        assert_eq!((e.line, e.col, e.len), (4, 4, 6));
        assert_eq!(e.message, "unexpected code after `return` or `break`");
        assert_clean("return 1\n-- trailing comment\n--[==[ long ]==]\n\n");
        assert_clean("local t = {}\nreturn t\n");
    }

    #[test]
    fn break_outside_a_loop() {
        let e = only_error("local x = 1\nif x then break end\n");
        assert_eq!(e.message, "`break` outside a loop");
        assert_eq!((e.line, e.col, e.len), (2, 11, 5));
        let e = only_error("for i = 1, 2 do local f = function() break end end\n");
        assert_eq!(e.message, "`break` outside a loop");
        assert_clean("for i = 1, 2 do if i then break end end\nwhile true do break end\nrepeat break until true\nfor k in pairs({}) do break end\n");
    }

    #[test]
    fn lua_5_2_syntax_is_an_error() {
        assert_eq!(errors(&run("goto done\n")).len(), 1);
        assert_eq!(errors(&run("local x <const> = 1\n")).len(), 1);
        assert_eq!(errors(&run("local x = 1 & 2\n")).len(), 1);
    }

    #[test]
    fn crlf_and_unicode() {
        let issues = run("local a = 'héllo'\r\nreturn a .. b\r\n");
        let e = &errors(&issues)[0];
        assert_eq!((e.line, e.col, e.len), (2, 13, 1));
        let issues = run("local s = '日本' return s .. zz\n");
        assert_eq!((errors(&issues)[0].col, errors(&issues)[0].len), (28, 2));
    }

    #[test]
    fn never_panics() {
        let samples = [
            "",
            "\n",
            "#!",
            "#!lua flags=",
            "\u{0}\u{1}",
            "((((((((((",
            "local",
            "function",
            "return ...",
            "redis.call()",
            "redis.call('')",
            "redis.call('OBJECT')",
            "redis.call('SET')",
            "x.y.z = 1",
            "a:b():c().d[1] = 2",
            "local a, b = f()",
            "return [[unterminated",
            "--[[ c",
            "'\\",
            "local t = {[1] = 2, x = 3, 4}",
        ];
        for s in samples {
            let issues = check(s, &["a", "x"], &["a"], &flags(&["", "no-writes", "x"]));
            assert!(
                !issues.iter().any(|i| i.message.contains("internal error")),
                "{s:?}: {issues:#?}"
            );
            assert!(issues
                .iter()
                .all(|i| i.line >= 1 && i.col >= 1 && i.len >= 1));
        }
        // Every prefix of a real script.
        let chars: Vec<char> = DOCS_MISTAKE.chars().collect();
        for n in 0..chars.len() {
            let s: String = chars[..n].iter().collect();
            let issues = check(&s, &["size", "members"], &[], &[]);
            assert!(
                !issues.iter().any(|i| i.message.contains("internal error")),
                "{s:?}"
            );
        }
    }

    #[test]
    fn command_table_is_sorted_and_complete() {
        assert!(COMMANDS.windows(2).all(|w| w[0].0 < w[1].0));
        let info = |name| command_info(name).map(|c| (c.is_write, c.first_key, c.last_key, c.step));
        assert_eq!(info("set"), Some((true, 1, 1, 1)));
        assert_eq!(info("get"), Some((false, 1, 1, 1)));
        assert_eq!(info("xgroup|create"), Some((true, 2, 2, 1)));
        assert_eq!(info("mset"), Some((true, 1, -1, 2)));
        assert_eq!(info("nope"), None);
        let positions = |name, argc| {
            command_info(name)
                .unwrap()
                .key_positions(argc)
                .collect::<Vec<_>>()
        };
        assert_eq!(positions("mset", 7), vec![1, 3, 5]);
        assert_eq!(positions("blpop", 4), vec![1, 2]);
        assert_eq!(positions("get", 1), Vec::<usize>::new(), "no key written");
        assert_eq!(positions("ping", 2), Vec::<usize>::new(), "no key position");
        assert!(is_container("xgroup"));
        assert!(!is_container("get"));
    }

    /// `cargo test -p redlua-script --lib lua_check::tests::timing -- --nocapture`
    #[test]
    fn timing() {
        let mut src = String::from("#!lua flags=allow-oom\nlocal user = KEYS[1]\nlocal size = tonumber(ARGV[1])\nlocal items = {} for redlua_i = 2, #ARGV do items[redlua_i - 1] = ARGV[redlua_i] end\n");
        let mut n = 0;
        while src.lines().count() < 300 {
            n += 1;
            src.push_str(&format!(
                "local function step{n}(key, count)
  local total = 0
  for i = 1, count do
    local v = tonumber(redis.call('HGET', key, 'f' .. i)) or 0
    if v > size then total = total + v else total = total - 1 end
  end
  redis.call('HSET', user .. ':sum', 'step{n}', total)
  return total
end
local r{n} = step{n}(user, #items)
"
            ));
        }
        src.push_str("return cjson.encode(items)\n");
        let lines = src.lines().count();
        let params = ["user", "size", "items"];
        let issues = check(&src, &params, &["user"], &flags(&["allow-oom"]));
        assert!(issues.is_empty(), "{issues:#?}");
        // Best of a few rounds: the machine may be busy.
        let time = |f: &mut dyn FnMut()| {
            (0..5)
                .map(|_| {
                    let start = std::time::Instant::now();
                    for _ in 0..10 {
                        f();
                    }
                    start.elapsed() / 10
                })
                .min()
                .unwrap()
        };
        let f = flags(&["allow-oom"]);
        let whole = time(&mut || {
            std::hint::black_box(check(&src, &params, &["user"], &f));
        });
        let parse = time(&mut || {
            std::hint::black_box(full_moon::parse_fallible(&src, LuaVersion::lua51()));
        });
        let parsed = full_moon::parse_fallible(&src, LuaVersion::lua51());
        let lines_ = Lines::new(&src);
        let opts = Options {
            params: params.iter().copied().collect(),
            key_params: ["user"].into_iter().collect(),
            no_writes: false,
            no_cluster: false,
            declared: Declared::default(),
            targets: crate::dialect::all().iter().collect(),
        };
        let walk = time(&mut || {
            std::hint::black_box(analyze(parsed.ast(), &lines_, &opts));
        });
        let inline = time(&mut || {
            std::hint::black_box(check_inner(
                &src,
                &params,
                &["user"],
                &f,
                Declared::default(),
            ));
        });
        let depth = time(&mut || {
            std::hint::black_box(too_deep(&src));
        });
        let thread = time(&mut || {
            std::thread::scope(|s| {
                std::thread::Builder::new()
                    .stack_size(STACK_BYTES)
                    .spawn_scoped(s, || std::hint::black_box(1))
                    .unwrap()
                    .join()
                    .unwrap();
            })
        });
        println!(
            "lua_check: {lines}-line script: {whole:?} per check ({parse:?} parsing and dropping the AST, {walk:?} analysis, {depth:?} depth scan, {thread:?} thread; {inline:?} on the calling thread)"
        );
    }
}

/// Inputs that once took time quadratic in their size: each must check in
/// well under a second (measured on the unoptimised test build too).
/// `tools/compile_cost/large.py` times the same inputs through a real
/// `cargo check`.
#[cfg(test)]
mod scaling {
    use super::*;
    use std::time::{Duration, Instant};

    const LOCALS: usize = 5_000;

    /// Checks `src` and fails if it takes a second or more.
    fn timed(what: &str, src: &str, params: &[&str], keys: &[&str]) -> Vec<LuaIssue> {
        let start = Instant::now();
        let issues = check(src, params, keys, &[]);
        let took = start.elapsed();
        println!("{what}: {} KB, {took:?}", src.len() / 1024);
        assert!(took < Duration::from_secs(1), "{what} took {took:?}");
        issues
    }

    /// `LOCALS` locals, each line reading globals and the local before it:
    /// every name lookup used to scan every local in scope.
    pub(crate) fn many_locals() -> String {
        let mut src = String::from("local v0 = 0\n");
        for i in 1..LOCALS {
            src.push_str(&format!(
                "local v{i} = tonumber(v{}) + math.max(#KEYS, 1)\n",
                i - 1
            ));
        }
        src.push_str(&format!("return v{}\n", LOCALS - 1));
        src
    }

    /// `LOCALS` locals and as many misspellings of them: each did-you-mean
    /// used to compare against every local in scope.
    pub(crate) fn many_misspellings() -> String {
        let mut src = String::new();
        for i in 0..LOCALS {
            src.push_str(&format!("local value_{i} = {i}\n"));
        }
        // Innermost first, as the suggestions search.
        for i in (0..LOCALS).rev() {
            src.push_str(&format!("redis.call('SET', KEYS[1], valeu_{i})\n"));
        }
        src
    }

    /// A syntax error after `LOCALS` blocks on as many lines: the block
    /// matcher used to split the text up to each keyword's line to find
    /// its indentation.
    pub(crate) fn blocks_then_syntax_error() -> String {
        let mut src = String::new();
        for i in 0..LOCALS {
            src.push_str(&format!(
                "if #KEYS > {i} then\n  redis.call('GET', KEYS[1])\nend\n"
            ));
        }
        src.push_str("local x = = 1\n");
        src
    }

    /// A 200 KB key expression on one line under a literal-key warning:
    /// its underline used to walk the expression's tokens through one
    /// nested iterator per operator.
    pub(crate) fn long_literal_key() -> String {
        let mut sum = String::from("1");
        while sum.len() < 200 * 1024 {
            sum.push_str(" + 1");
        }
        format!("return redis.call('GET', 'key:' .. ({sum}))\n")
    }

    /// The scaling scripts hold far more live locals than Lua takes: the
    /// one refusal of that (at local 201) is expected; the rest is the
    /// cost being measured.
    fn without_the_locals_limit(mut issues: Vec<LuaIssue>) -> Vec<LuaIssue> {
        let before = issues.len();
        issues.retain(|i| !i.message.contains("local variables live at once"));
        assert_eq!(before - issues.len(), 1, "one refusal of too many locals");
        issues
    }

    #[test]
    fn many_locals_are_linear() {
        let issues = timed("5,000 locals", &many_locals(), &[], &[]);
        let issues = without_the_locals_limit(issues);
        assert!(issues.is_empty(), "{issues:#?}");
    }

    #[test]
    fn many_declared_params_are_linear() {
        let names: Vec<String> = (0..LOCALS).map(|i| format!("k{i}")).collect();
        let params: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut src = String::new();
        for (i, n) in names.iter().enumerate() {
            src.push_str(&format!("local {n} = KEYS[{}]\n", i + 1));
        }
        for n in &names {
            src.push_str(&format!("redis.call('GET', {n})\n"));
        }
        let issues = timed("5,000 %key parameters", &src, &params, &params);
        let issues = without_the_locals_limit(issues);
        assert!(issues.is_empty(), "{:#?}", &issues[..issues.len().min(3)]);
    }

    #[test]
    fn did_you_mean_is_linear() {
        let issues = timed("5,000 misspelt locals", &many_misspellings(), &[], &[]);
        let issues = without_the_locals_limit(issues);
        assert_eq!(issues.len(), LOCALS);
        // The first ones still get their suggestion.
        let last = LOCALS - 1;
        assert_eq!(
            issues[0].help.as_deref(),
            Some(format!("did you mean `value_{last}`?").as_str())
        );
    }

    #[test]
    fn block_matching_is_linear() {
        let issues = timed(
            "5,000 blocks, then a syntax error",
            &blocks_then_syntax_error(),
            &[],
            &[],
        );
        assert_eq!(issues.len(), 1, "{issues:#?}");
        assert_eq!(issues[0].line, 3 * LOCALS + 1);
    }

    #[test]
    fn a_long_literal_key_is_linear() {
        let src = long_literal_key();
        let issues = timed("a 200 KB literal key", &src, &[], &[]);
        assert_eq!(issues.len(), 1, "{issues:#?}");
        assert_eq!(issues[0].severity, Severity::Warning);
        assert_eq!(issues[0].col, "return redis.call('GET', ".len() + 1);
        assert_eq!(
            issues[0].len,
            src.trim_end().len() - "return redis.call('GET', ".len() - 1
        );
    }
}
