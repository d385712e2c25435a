//! Phase 1a: parse the directive lines of one `.lua` file (plain `&str`, no syn).
//!
//! CONTRACT (shared with assemble.rs, signature.rs, expand.rs): keep these
//! public types and `parse_file`'s signature.

use crate::diag::{Diagnostic, Span};
use crate::long_bracket;

/// A header type name, aliases folded (`integer` -> `Int`, `number` -> `Float`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Int,
    Float,
    Str,
    Bytes,
    Bool,
    List,
    Dict,
    Json,
    /// `%return` only: decoded by redis-rs's `FromRedisValue`.
    Redis,
}

/// `%key NAME[...]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDecl {
    pub name: String,
    pub name_span: Span,
    pub variadic: bool,
}

/// `%arg NAME [TYPE[...]]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub name_span: Span,
    /// `Str` when no type is written.
    pub ty: Type,
    /// Span of the written type (incl. `...`), or of the name when no type is written.
    pub ty_span: Span,
    pub variadic: bool,
}

/// `%return TYPE[?][[]][?]`: `int?` null allowed; `str[]` native array;
/// `str?[]` array whose elements may be null; `str[]?` array or null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnDecl {
    pub ty: Type,
    pub ty_span: Span,
    pub optional: bool,
    pub array: bool,
    pub elem_optional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    Key(KeyDecl),
    Arg(ArgDecl),
    /// `%keys NAME` *ext*: the script reads `KEYS` itself; `NAME` is the
    /// Rust parameter that passes the (remaining) keys as they are.
    PassKeys(KeyDecl),
    /// `%args NAME [str|bytes]` *ext*: the same for `ARGV`.
    PassArgs(ArgDecl),
    Return(ReturnDecl),
    /// `%include "path"`: `path` as written (no `.lua` suffix), `path_span` inside the quotes.
    Include {
        path: String,
        path_span: Span,
    },
    PragmaOnce,
}

/// A directive and the line it fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number in the file.
    pub number: usize,
    /// The whole line, without its newline.
    pub span: Span,
    pub directive: Directive,
}

/// What one file's header says. `errors` holds every problem found (the
/// parser never stops at the first); lines with errors are left out of `lines`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedFile {
    pub lines: Vec<Line>,
    /// Span of a `#!lua ...` first line, if any (kept verbatim in the script).
    pub shebang: Option<Span>,
    /// The 1-based number of the first line of Lua code, which ends the
    /// header (one past the last line when the file has no code).
    pub code_start: usize,
    pub errors: Vec<Diagnostic>,
}

/// Parses the header of `text`; `file` is the index stamped on diagnostics.
///
/// The header is the leading run of blank lines, comment lines (`--`, and
/// every line of a long comment `--[[ ... ]]` / `--[==[ ... ]==]`) and
/// directive lines (first non-blank character `%`), after an optional
/// `#!lua` first line. The first line of Lua code ends it: from there on a
/// line starting with `%` is Lua (the `%` operator continuing an
/// expression, a line of a long string), never a directive. So no text
/// inside a string or comment can declare a parameter, and a directive
/// written below the code is a Lua syntax error at its line, not a silent
/// change. Inside a long comment in the header, `%` lines are comment text.
pub fn parse_file(file: usize, text: &str) -> ParsedFile {
    let mut cx = Cx {
        file,
        text,
        errors: Vec::new(),
    };
    let mut parsed = ParsedFile::default();
    // The level of the long comment the current line is inside, if any.
    let mut in_comment: Option<usize> = None;
    let lines = split_lines(text);
    parsed.code_start = lines.len() + 1;
    for (index, line) in lines.into_iter().enumerate() {
        let number = index + 1;
        let content = &text[line.start..line.end];
        if number == 1 && is_shebang(content) {
            parsed.shebang = Some(line);
            continue;
        }
        // A line that closes a long comment is comment text up to the close.
        let code_start = match in_comment {
            Some(level) => match long_bracket::close(content, level) {
                Some(after) => {
                    in_comment = None;
                    after
                }
                None => continue,
            },
            None => 0,
        };
        let Some(offset) = content[code_start..].find(|c: char| !is_blank(c)) else {
            continue;
        };
        let offset = code_start + offset;
        if code_start == 0 && content[offset..].starts_with('%') {
            let before = cx.errors.len();
            let directive = cx.directive(line, line.start + offset);
            if let (Some(directive), true) = (directive, cx.errors.len() == before) {
                parsed.lines.push(Line {
                    number,
                    span: line,
                    directive,
                });
            }
            continue;
        }
        match comments_only(&content[offset..]) {
            Comments::Closed => {}
            Comments::Open(level) => in_comment = Some(level),
            Comments::Code => {
                parsed.code_start = number;
                break;
            }
        }
    }
    parsed.errors = cx.errors;
    parsed
}

/// What the rest of a header line holds.
#[derive(Debug, PartialEq, Eq)]
enum Comments {
    /// Only comments (or nothing), all closed on this line.
    Closed,
    /// Comments, the last a long comment of this level left open.
    Open(usize),
    /// Lua code: the header ends here.
    Code,
}

/// Classifies `s` (starting at a non-blank character).
fn comments_only(mut s: &str) -> Comments {
    loop {
        s = s.trim_start_matches(is_blank);
        if s.is_empty() {
            return Comments::Closed;
        }
        let Some(comment) = s.strip_prefix("--") else {
            return Comments::Code;
        };
        let Some(level) = long_bracket::level(comment) else {
            return Comments::Closed;
        };
        let body = &comment[level + 2..];
        match long_bracket::close(body, level) {
            Some(after) => s = &body[after..],
            None => return Comments::Open(level),
        }
    }
}

/// Type names as written, with what they mean.
const TYPES: &[(&str, Type)] = &[
    ("int", Type::Int),
    ("integer", Type::Int),
    ("float", Type::Float),
    ("number", Type::Float),
    ("str", Type::Str),
    ("string", Type::Str),
    ("bytes", Type::Bytes),
    ("bool", Type::Bool),
    ("boolean", Type::Bool),
    ("list", Type::List),
    ("array", Type::List),
    ("dict", Type::Dict),
    ("dictionary", Type::Dict),
    ("json", Type::Json),
    ("redis", Type::Redis),
];

const TYPE_LIST: &str = "int (or integer), float (or number), str (or string), bytes, \
bool (or boolean), list (or array), dict (or dictionary), json, redis (`%return` only)";

/// The directive names (after `%`).
pub const DIRECTIVES: &[&str] = &["key", "arg", "keys", "args", "return", "include", "pragma"];

const DIRECTIVE_LIST: &str =
    "`%key NAME`, `%arg NAME [TYPE]`, `%keys NAME`, `%args NAME`, `%return TYPE`, \
`%include \"PATH\"` and `%pragma once`";

/// Lua 5.1 reserved words.
const KEYWORDS: &[&str] = &[
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in", "local",
    "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
];

/// Globals the rendered bindings (or any Redis script) rely on: a `local`
/// of that name would hide them from every later line.
const RESERVED_GLOBALS: &[&str] = &["KEYS", "ARGV", "redis", "cjson", "tonumber"];

/// Prefix of the names redlua's rendered lines use for their own locals.
const RESERVED_PREFIX: &str = "redlua_";

/// The lines of `text` as spans without their `\n` (nor a `\r` before it).
/// A final newline ends the last line; it does not start an empty one.
pub(crate) fn split_lines(text: &str) -> Vec<Span> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let content_end = if text[start..end].ends_with('\r') {
            end - 1
        } else {
            end
        };
        lines.push(Span::new(start, content_end));
        start = end + 1;
    }
    lines
}

/// `#!lua` alone or followed by blanks (`#!lua flags=no-writes`).
fn is_shebang(line: &str) -> bool {
    line.strip_prefix("#!lua")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(is_blank))
}

/// A did-you-mean for `word`: `diag::closest`, or else a candidate that
/// differs by one swap of neighbouring letters (`kye` -> `key`).
fn suggest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str> + Clone,
) -> Option<&'c str> {
    crate::diag::closest(word, candidates.clone()).or_else(|| {
        let w: Vec<char> = word.chars().collect();
        candidates.into_iter().find(|c| {
            let c: Vec<char> = c.chars().collect();
            c.len() == w.len()
                && (0..w.len().saturating_sub(1)).any(|i| {
                    let mut swapped = w.clone();
                    swapped.swap(i, i + 1);
                    swapped == c
                })
        })
    })
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\x0b' || c == '\x0c' || c == '\r'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A blank-separated word of a directive line, with its span in the file.
#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    text: &'a str,
    span: Span,
}

/// The blank-separated words of `text[span]`.
fn tokens(text: &str, span: Span) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let s = &text[span.start..span.end];
    let mut start = None;
    for (i, c) in s.char_indices().chain(std::iter::once((s.len(), ' '))) {
        match (start, is_blank(c)) {
            (None, false) => start = Some(i),
            (Some(b), true) => {
                out.push(Tok {
                    text: &s[b..i],
                    span: Span::new(span.start + b, span.start + i),
                });
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// One piece of a suffix after a name or type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suffix {
    /// `?`
    Optional,
    /// `[]`
    Array,
    /// `...`
    Variadic,
}

/// A name or type word split into its identifier and its suffix.
struct Word<'a> {
    ident: &'a str,
    ident_span: Span,
    suffix: Vec<(Suffix, Span)>,
}

/// Which directive a word belongs to, for the wording of errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Site {
    Key,
    Arg,
    Return,
}

impl Site {
    fn directive(self) -> &'static str {
        match self {
            Site::Key => "%key",
            Site::Arg => "%arg",
            Site::Return => "%return",
        }
    }
}

struct Cx<'a> {
    file: usize,
    text: &'a str,
    errors: Vec<Diagnostic>,
}

impl<'a> Cx<'a> {
    /// Parses the directive line `line` whose `%` is at byte `percent`.
    /// Problems go to `self.errors`; the caller drops the line if any were added.
    fn directive(&mut self, line: Span, percent: usize) -> Option<Directive> {
        let text = self.text;
        let after = percent + 1;
        let word_end = text[after..line.end]
            .find(is_blank)
            .map_or(line.end, |i| after + i);
        let word = &text[after..word_end];
        let rest = Span::new(word_end, line.end);
        if word.is_empty() {
            let next = tokens(text, rest);
            let help = match next.first() {
                Some(t) if DIRECTIVES.contains(&t.text) => {
                    format!("remove the blank after `%`: `%{}`", t.text)
                }
                _ => format!("the directives are {DIRECTIVE_LIST}"),
            };
            let d = Diagnostic::new(
                self.file,
                Span::new(percent, after),
                "expected a directive name right after `%`",
            )
            .label("no directive name")
            .help(help)
            .note("a line whose first non-blank character is `%` is a redlua directive");
            self.errors.push(d);
            return None;
        }
        let word_span = Span::new(percent, word_end);
        match word {
            "key" => self.key(word_span, rest),
            "arg" => self.arg(word_span, rest),
            "keys" => self.pass_keys(word_span, rest),
            "args" => self.pass_args(word_span, rest),
            "return" => self.ret(word_span, rest),
            "include" => self.include(word_span, rest),
            "pragma" => self.pragma(word_span, rest),
            _ => {
                self.unknown_directive(word, word_span);
                None
            }
        }
    }

    fn unknown_directive(&mut self, word: &str, span: Span) {
        let lower = word.to_ascii_lowercase();
        let glued = word
            .strip_prefix("include")
            .filter(|rest| rest.starts_with(['"', '\'']));
        let help = if DIRECTIVES.contains(&lower.as_str()) {
            format!("directives are lowercase: write `%{lower}`")
        } else if let Some(rest) = glued {
            format!("put a blank after the directive: `%include {rest}`")
        } else if let Some(d) = suggest(word, DIRECTIVES.iter().copied()) {
            format!("did you mean `%{d}`?")
        } else {
            format!("the directives are {DIRECTIVE_LIST}")
        };
        let d = Diagnostic::new(self.file, span, format!("unknown directive `%{word}`"))
            .label("unknown directive")
            .help(help)
            .note("a line whose first non-blank character is `%` is a redlua directive");
        self.errors.push(d);
    }

    /// Reports every token of `extra` (the words after a complete directive).
    fn extra(&mut self, extra: &[Tok<'_>], what: &str, help: &str) {
        let (Some(first), Some(last)) = (extra.first(), extra.last()) else {
            return;
        };
        let span = Span::new(first.span.start, last.span.end);
        let found = &self.text[span.start..span.end];
        let help = if first.text.starts_with("--") {
            "a directive fills its whole line: put the comment on a line of its own".to_string()
        } else if first.text.starts_with('?')
            || first.text.starts_with('[')
            || first.text.starts_with("...")
        {
            "write suffixes right after the type or name, with no blank before them".to_string()
        } else {
            help.to_string()
        };
        let d = Diagnostic::new(
            self.file,
            span,
            format!("unexpected `{found}` after {what}"),
        )
        .label("unexpected")
        .help(help);
        self.errors.push(d);
    }

    /// Splits a name or type word into identifier and suffix, reporting
    /// characters that fit neither. `None` when the word is unusable.
    fn word(&mut self, tok: Tok<'a>, role: &str, site: Site) -> Option<Word<'a>> {
        let ident_len = tok
            .text
            .find(|c: char| !is_ident_char(c))
            .unwrap_or(tok.text.len());
        let ident = &tok.text[..ident_len];
        let tail = &tok.text[ident_len..];
        let ident_span = Span::new(tok.span.start, tok.span.start + ident_len);
        if ident.is_empty() {
            let example = match (site, role) {
                (Site::Key, _) => "`%key user`",
                (Site::Arg, "name") => "`%arg count int`",
                (Site::Arg, _) => "`%arg ids int...`",
                (Site::Return, _) => "`%return str[]`",
            };
            let d = Diagnostic::new(
                self.file,
                tok.span,
                format!("expected a {role}, found `{}`", tok.text),
            )
            .label(format!("not a {role}"))
            .help(format!("write the {role} first, e.g. {example}"));
            self.errors.push(d);
            return None;
        }
        if tail.chars().any(|c| !matches!(c, '?' | '[' | ']' | '.')) {
            let fixed: String = tok
                .text
                .chars()
                .map(|c| if is_ident_char(c) { c } else { '_' })
                .collect();
            let help = if role == "name" {
                format!("names are Lua identifiers (letters, digits and `_`), e.g. `{fixed}`")
            } else {
                format!("the types are {TYPE_LIST}")
            };
            let d = Diagnostic::new(
                self.file,
                tok.span,
                format!("`{}` is not a valid {role}", tok.text),
            )
            .label(format!("not a {role}"))
            .help(help);
            self.errors.push(d);
            return None;
        }
        let mut suffix = Vec::new();
        let mut i = 0;
        let base = ident_span.end;
        while i < tail.len() {
            let rest = &tail[i..];
            let (piece, len) = if rest.starts_with('?') {
                (Some(Suffix::Optional), 1)
            } else if rest.starts_with("[]") {
                (Some(Suffix::Array), 2)
            } else if rest.starts_with("...") {
                (Some(Suffix::Variadic), 3)
            } else {
                (None, rest.len())
            };
            let span = Span::new(base + i, base + i + len);
            match piece {
                Some(p) => suffix.push((p, span)),
                None => {
                    let help = match site {
                        Site::Return => {
                            "a return type may end in `?`, `[]`, `?[]`, `[]?` or `?[]?`"
                        }
                        Site::Key => "write `%key NAME...` for a variadic key",
                        Site::Arg => "write `%arg NAME TYPE...` for a variadic argument",
                    };
                    let d = Diagnostic::new(
                        self.file,
                        span,
                        format!("malformed suffix `{rest}` after `{ident}`"),
                    )
                    .label("malformed suffix")
                    .help(help);
                    self.errors.push(d);
                    return None;
                }
            }
            i += len;
        }
        Some(Word {
            ident,
            ident_span,
            suffix,
        })
    }

    /// Checks a `%key`/`%arg` name: identifier rules, keywords, reserved names.
    fn check_name(&mut self, name: &str, span: Span) -> bool {
        let mut ok = true;
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            let d = Diagnostic::new(
                self.file,
                span,
                format!("`{name}` is not a valid name: it starts with a digit"),
            )
            .label("starts with a digit")
            .help(format!(
                "Lua names start with a letter or `_`, e.g. `_{name}`"
            ));
            self.errors.push(d);
            ok = false;
        } else if KEYWORDS.contains(&name) {
            let d = Diagnostic::new(
                self.file,
                span,
                format!("`{name}` is a Lua keyword and cannot name a variable"),
            )
            .label("Lua keyword")
            .help(format!("rename it, e.g. `{name}_`"));
            self.errors.push(d);
            ok = false;
        } else if RESERVED_GLOBALS.contains(&name) {
            let d = Diagnostic::new(
                self.file,
                span,
                format!("`{name}` would hide the Lua global `{name}`"),
            )
            .label("hides a global")
            .help(format!(
                "rename it, e.g. `{}`: redlua binds each name with `local`, which would hide \
                 the global `{name}` from the rest of the script",
                name.to_ascii_lowercase() + "_"
            ));
            self.errors.push(d);
            ok = false;
        } else if let Some(rest) = name.strip_prefix(RESERVED_PREFIX) {
            let usable = !rest.is_empty()
                && !rest.starts_with(|c: char| c.is_ascii_digit())
                && !KEYWORDS.contains(&rest)
                && !RESERVED_GLOBALS.contains(&rest);
            let d = Diagnostic::new(
                self.file,
                span,
                format!("`{name}` uses the reserved prefix `{RESERVED_PREFIX}`"),
            )
            .label("reserved prefix")
            .help(format!(
                "rename it, e.g. `{}`: redlua's own locals start with `{RESERVED_PREFIX}`",
                if usable { rest } else { "value" }
            ));
            self.errors.push(d);
            ok = false;
        }
        ok
    }

    /// Checks the suffix of a `%key`/`%arg` word: only a final `...` is allowed.
    /// Returns whether it is variadic.
    fn param_suffix(&mut self, word: &Word<'_>, site: Site, example: &str) -> Option<bool> {
        let mut ok = true;
        let n = word.suffix.len();
        for (i, &(piece, span)) in word.suffix.iter().enumerate() {
            match piece {
                Suffix::Optional => {
                    let help = match site {
                        Site::Key => "remove the `?`: every declared key is sent".to_string(),
                        _ => "remove the `?`: every declared argument is sent; to pass \
                              \"nothing\", use a type the script can test (e.g. an empty `str`) \
                              or `json`"
                            .to_string(),
                    };
                    let d = Diagnostic::new(
                        self.file,
                        span,
                        format!("only %return can be optional, not {}", site.directive()),
                    )
                    .label("`?` is not allowed here")
                    .help(help);
                    self.errors.push(d);
                    ok = false;
                }
                Suffix::Array => {
                    let d = Diagnostic::new(
                        self.file,
                        span,
                        format!("only %return can be an array, not {}", site.directive()),
                    )
                    .label("`[]` is not allowed here")
                    .help(format!(
                        "to take any number of values, make it variadic: {example}"
                    ));
                    self.errors.push(d);
                    ok = false;
                }
                Suffix::Variadic if i + 1 != n => {
                    let d = Diagnostic::new(
                        self.file,
                        span,
                        format!(
                            "`...` must end the {}",
                            if site == Site::Key { "name" } else { "word" }
                        ),
                    )
                    .label("`...` must come last")
                    .help(format!("write it as {example}"));
                    self.errors.push(d);
                    ok = false;
                }
                Suffix::Variadic => {}
            }
        }
        let variadic_count = word
            .suffix
            .iter()
            .filter(|(p, _)| *p == Suffix::Variadic)
            .count();
        if variadic_count > 1 {
            // Already reported above (a non-final `...`).
            ok = false;
        }
        ok.then_some(variadic_count == 1)
    }

    /// Resolves a type word's identifier, reporting unknown types.
    fn ty(&mut self, ident: &str, span: Span) -> Option<Type> {
        if let Some((_, ty)) = TYPES.iter().find(|(n, _)| *n == ident) {
            return Some(*ty);
        }
        let lower = ident.to_ascii_lowercase();
        let suggestion = TYPES
            .iter()
            .find(|(n, _)| *n == lower)
            .map(|(n, _)| *n)
            .or_else(|| suggest(ident, TYPES.iter().map(|(n, _)| *n)));
        let help = match suggestion {
            Some(s) => format!("did you mean `{s}`? The types are {TYPE_LIST}"),
            None => format!("the types are {TYPE_LIST}"),
        };
        let d = Diagnostic::new(self.file, span, format!("unknown type `{ident}`"))
            .label("not a type")
            .help(help);
        self.errors.push(d);
        None
    }

    /// `%keys NAME`: parsed as `%key NAME...`, rendered to nothing.
    fn pass_keys(&mut self, word_span: Span, rest: Span) -> Option<Directive> {
        match self.key(word_span, rest)? {
            Directive::Key(k) => Some(Directive::PassKeys(KeyDecl {
                variadic: true,
                ..k
            })),
            _ => None,
        }
    }

    /// `%args NAME [str|bytes]`: ARGV entries are strings, so only the
    /// types that pass them unconverted fit.
    fn pass_args(&mut self, word_span: Span, rest: Span) -> Option<Directive> {
        let a = match self.arg(word_span, rest)? {
            Directive::Arg(a) => a,
            _ => return None,
        };
        if !matches!(a.ty, Type::Str | Type::Bytes) {
            let d = Diagnostic::new(
                self.file,
                a.ty_span,
                "`%args` passes ARGV as it is: its type is `str` or `bytes`",
            )
            .label("converted type")
            .help(format!(
                "write `%args {} str` (or `bytes`) and convert in Lua, or declare each argument \
                 with `%arg NAME TYPE`",
                a.name
            ));
            self.errors.push(d);
            return None;
        }
        Some(Directive::PassArgs(ArgDecl {
            variadic: true,
            ..a
        }))
    }

    fn key(&mut self, word_span: Span, rest: Span) -> Option<Directive> {
        let toks = tokens(self.text, rest);
        let Some(&name_tok) = toks.first() else {
            let d = Diagnostic::new(self.file, word_span, "`%key` needs a name")
                .label("missing name")
                .help(
                    "write `%key NAME`, e.g. `%key user`, or `%key NAME...` for all remaining keys",
                );
            self.errors.push(d);
            return None;
        };
        let word = self.word(name_tok, "name", Site::Key);
        if toks.len() > 1 {
            let extra = &toks[1..];
            let help = if extra.len() == 1 && TYPES.iter().any(|(n, _)| *n == extra[0].text) {
                format!(
                    "keys are always strings and take no type: remove `{}`",
                    extra[0].text
                )
            } else {
                "a %key line holds one name: declare each key on its own line".to_string()
            };
            self.extra(extra, "the key name", &help);
        }
        let word = word?;
        let name_ok = self.check_name(word.ident, word.ident_span);
        let example = format!("`%key {}...`", word.ident);
        let variadic = self.param_suffix(&word, Site::Key, &example)?;
        name_ok.then(|| {
            Directive::Key(KeyDecl {
                name: word.ident.to_string(),
                name_span: word.ident_span,
                variadic,
            })
        })
    }

    fn arg(&mut self, word_span: Span, rest: Span) -> Option<Directive> {
        let toks = tokens(self.text, rest);
        let Some(&name_tok) = toks.first() else {
            let d = Diagnostic::new(self.file, word_span, "`%arg` needs a name")
                .label("missing name")
                .help("write `%arg NAME` (a string) or `%arg NAME TYPE`, e.g. `%arg count int`");
            self.errors.push(d);
            return None;
        };
        if toks.len() > 2 {
            self.extra(
                &toks[2..],
                "the argument's type",
                "a %arg line holds a name and an optional type: declare each argument on its own line",
            );
        }
        let name = self.word(name_tok, "name", Site::Arg);
        let name_ok = name
            .as_ref()
            .is_some_and(|w| self.check_name(w.ident, w.ident_span));
        let shown_name = name.as_ref().map_or(name_tok.text, |w| w.ident);
        let Some(ty_tok) = toks.get(1).copied() else {
            // `%arg NAME` or `%arg NAME...`: a string.
            let name = name?;
            let example = format!("`%arg {shown_name}...` or `%arg {shown_name} TYPE...`");
            let variadic = self.param_suffix(&name, Site::Arg, &example)?;
            return name_ok.then(|| {
                Directive::Arg(ArgDecl {
                    name: name.ident.to_string(),
                    name_span: name.ident_span,
                    ty: Type::Str,
                    ty_span: name_tok.span,
                    variadic,
                })
            });
        };
        let ty_word = self.word(ty_tok, "type", Site::Arg);
        let ty = ty_word
            .as_ref()
            .and_then(|w| self.ty(w.ident, w.ident_span));
        let shown_ty = ty_word.as_ref().map_or(ty_tok.text, |w| w.ident);
        let example = format!("`%arg {shown_name} {shown_ty}...`");
        let variadic = ty_word
            .as_ref()
            .and_then(|w| self.param_suffix(w, Site::Arg, &example));
        let name_suffix_ok = name
            .as_ref()
            .is_some_and(|w| self.name_suffix_before_type(w, &example));
        let name = name?;
        match (name_ok && name_suffix_ok, ty, variadic) {
            (true, Some(ty), Some(variadic)) => Some(Directive::Arg(ArgDecl {
                name: name.ident.to_string(),
                name_span: name.ident_span,
                ty,
                ty_span: ty_tok.span,
                variadic,
            })),
            _ => None,
        }
    }

    /// The suffix of a `%arg` name that is followed by a type: nothing is
    /// allowed (`...` goes after the type).
    fn name_suffix_before_type(&mut self, name: &Word<'_>, example: &str) -> bool {
        let mut ok = true;
        for &(piece, span) in &name.suffix {
            if piece == Suffix::Variadic {
                let d = Diagnostic::new(
                    self.file,
                    span,
                    "`...` goes after the type when a type is written",
                )
                .label("move this after the type")
                .help(format!("write {example}"));
                self.errors.push(d);
                ok = false;
            }
        }
        let rest = Word {
            ident: name.ident,
            ident_span: name.ident_span,
            suffix: name
                .suffix
                .iter()
                .copied()
                .filter(|(p, _)| *p != Suffix::Variadic)
                .collect(),
        };
        self.param_suffix(&rest, Site::Arg, example).is_some() && ok
    }

    fn ret(&mut self, word_span: Span, rest: Span) -> Option<Directive> {
        let toks = tokens(self.text, rest);
        let Some(&ty_tok) = toks.first() else {
            let d = Diagnostic::new(self.file, word_span, "`%return` needs a type")
                .label("missing type")
                .help(format!(
                    "write `%return TYPE`, e.g. `%return int` or `%return str[]?`; the types are {TYPE_LIST}"
                ));
            self.errors.push(d);
            return None;
        };
        if toks.len() > 1 {
            self.extra(
                &toks[1..],
                "the return type",
                "a %return line holds one type",
            );
        }
        let word = self.word(ty_tok, "type", Site::Return)?;
        let ty = self.ty(word.ident, word.ident_span);
        let mut ok = true;
        for &(piece, span) in &word.suffix {
            if piece == Suffix::Variadic {
                let d = Diagnostic::new(
                    self.file,
                    span,
                    "a %return cannot be variadic: variadic is for the last %key/%arg",
                )
                .label("`...` is not allowed here")
                .help(format!(
                    "for a reply that is a list, write `%return {}[]`",
                    word.ident
                ));
                self.errors.push(d);
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let pieces: Vec<Suffix> = word.suffix.iter().map(|(p, _)| *p).collect();
        use Suffix::{Array as A, Optional as Q};
        let (optional, array, elem_optional) = match pieces.as_slice() {
            [] => (false, false, false),
            [Q] => (true, false, false),
            [A] => (false, true, false),
            [Q, A] => (false, true, true),
            [A, Q] => (true, true, false),
            [Q, A, Q] => (true, true, true),
            _ => {
                let (first, last) = match (word.suffix.first(), word.suffix.last()) {
                    (Some(f), Some(l)) => (f.1, l.1),
                    _ => (word.ident_span, word.ident_span),
                };
                let span = Span::new(first.start, last.end);
                let written = &self.text[span.start..span.end];
                let d = Diagnostic::new(
                    self.file,
                    span,
                    format!("malformed return suffix `{written}`"),
                )
                .label("malformed suffix")
                .help(format!(
                    "write `{0}`, `{0}?` (may be null), `{0}[]` (array), `{0}?[]` (elements may be null), \
                     `{0}[]?` (array or null) or `{0}?[]?`; arrays do not nest",
                    word.ident
                ));
                self.errors.push(d);
                return None;
            }
        };
        let ty = ty?;
        Some(Directive::Return(ReturnDecl {
            ty,
            ty_span: ty_tok.span,
            optional,
            array,
            elem_optional,
        }))
    }

    fn include(&mut self, word_span: Span, rest: Span) -> Option<Directive> {
        let text = self.text;
        let raw = &text[rest.start..rest.end];
        let lead = raw.len() - raw.trim_start_matches(is_blank).len();
        let arg_start = rest.start + lead;
        // An all-blank rest has no argument: `arg_end` must not fall before `arg_start`.
        let arg_end = arg_start + raw[lead..].trim_end_matches(is_blank).len();
        let arg = &text[arg_start..arg_end];
        if arg.is_empty() {
            let d = Diagnostic::new(self.file, word_span, "`%include` needs a path")
                .label("missing path")
                .help("write `%include \"PATH\"`, e.g. `%include \"lib/keys\"` for lib/keys.lua next to this file");
            self.errors.push(d);
            return None;
        }
        let arg_span = Span::new(arg_start, arg_end);
        if !arg.starts_with('"') {
            // Single quotes or no quotes: show the right form.
            let inner = arg
                .strip_prefix('\'')
                .map(|s| s.split('\'').next().unwrap_or(s))
                .unwrap_or(arg);
            let inner = inner.strip_suffix(".lua").unwrap_or(inner);
            let message = if arg.starts_with('\'') {
                "include paths take double quotes, not single quotes"
            } else {
                "the include path must be in double quotes"
            };
            let d = Diagnostic::new(self.file, arg_span, message)
                .label("expected `\"`")
                .help(format!("write `%include \"{inner}\"`"));
            self.errors.push(d);
            return None;
        }
        let body = &arg[1..];
        let Some(close) = body.find('"') else {
            let d = Diagnostic::new(self.file, arg_span, "unterminated include path")
                .label("no closing `\"`")
                .help(format!("close the quotes: `%include \"{body}\"`"));
            self.errors.push(d);
            return None;
        };
        let path = &body[..close];
        let path_span = Span::new(arg_start + 1, arg_start + 1 + close);
        let after = Span::new(path_span.end + 1, arg_end);
        let mut ok = true;
        let extra = tokens(text, after);
        if !extra.is_empty() {
            self.extra(
                &extra,
                "the include path",
                "a %include line holds one quoted path: include each file on its own line",
            );
            ok = false;
        }
        if path.is_empty() {
            let d = Diagnostic::new(
                self.file,
                Span::new(arg_start, path_span.end + 1),
                "empty include path",
            )
            .label("empty")
            .help("name the file to include, relative to this file's folder and without `.lua`, e.g. `%include \"lib/keys\"`");
            self.errors.push(d);
            return None;
        }
        if path.contains('\\') {
            let d = Diagnostic::new(self.file, path_span, "include paths use `/`, not `\\`")
                .label("backslash")
                .help(format!("write `%include \"{}\"`", path.replace('\\', "/")));
            self.errors.push(d);
            ok = false;
        }
        if path.starts_with('/') {
            let d = Diagnostic::new(
                self.file,
                path_span,
                format!("include path `{path}` is absolute"),
            )
            .label("absolute path")
            .help("include paths are relative to the including file's folder: drop the leading `/` and use `..` to go up, e.g. `%include \"../lib/keys\"`");
            self.errors.push(d);
            ok = false;
        }
        if let Some(stem) = path.strip_suffix(".lua") {
            let d = Diagnostic::new(
                self.file,
                path_span,
                format!("include path `{path}` ends in `.lua`"),
            )
            .label("`.lua` suffix")
            .help(format!(
                "drop the `.lua` suffix: includes name files without it, `%include \"{stem}\"`"
            ));
            self.errors.push(d);
            ok = false;
        }
        if path.ends_with('/') {
            let d = Diagnostic::new(
                self.file,
                path_span,
                format!("include path `{path}` names a folder"),
            )
            .label("ends in `/`")
            .help("name a file, without its `.lua` suffix, e.g. `%include \"lib/keys\"`");
            self.errors.push(d);
            ok = false;
        }
        ok.then(|| Directive::Include {
            path: path.to_string(),
            path_span,
        })
    }

    fn pragma(&mut self, word_span: Span, rest: Span) -> Option<Directive> {
        let toks = tokens(self.text, rest);
        let Some(first) = toks.first() else {
            let d = Diagnostic::new(self.file, word_span, "`%pragma` needs a pragma name")
                .label("missing pragma")
                .help("write `%pragma once` (the only pragma)");
            self.errors.push(d);
            return None;
        };
        let mut ok = true;
        if first.text != "once" {
            let help = match suggest(first.text, ["once"]) {
                Some(_) => "did you mean `once`? The only pragma is `%pragma once`".to_string(),
                None => {
                    "the only pragma is `%pragma once` (inline this file at most once per script)"
                        .to_string()
                }
            };
            let d = Diagnostic::new(
                self.file,
                first.span,
                format!("unknown pragma `{}`", first.text),
            )
            .label("unknown pragma")
            .help(help);
            self.errors.push(d);
            ok = false;
        }
        if toks.len() > 1 {
            self.extra(&toks[1..], "`%pragma once`", "write just `%pragma once`");
            ok = false;
        }
        ok.then_some(Directive::PragmaOnce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Span of the first occurrence of `needle` at or after byte `from`.
    fn at(text: &str, needle: &str, from: usize) -> Span {
        let i = text[from..].find(needle).expect("needle in text") + from;
        Span::new(i, i + needle.len())
    }

    fn sp(text: &str, needle: &str) -> Span {
        at(text, needle, 0)
    }

    /// Parses `text`, expecting exactly one error; returns it.
    fn one_error(text: &str) -> Diagnostic {
        let p = parse_file(3, text);
        assert_eq!(p.errors.len(), 1, "{:#?}", p.errors);
        assert!(p.lines.is_empty(), "a line with an error is left out");
        let d = p.errors[0].clone();
        assert_eq!(d.file, 3);
        assert!(d.help.is_some(), "every error says how to fix it: {d:?}");
        d
    }

    fn only(text: &str) -> Directive {
        let p = parse_file(0, text);
        assert!(p.errors.is_empty(), "{:#?}", p.errors);
        assert_eq!(p.lines.len(), 1);
        p.lines[0].directive.clone()
    }

    #[test]
    fn keys() {
        let text = "%key user\n  %key  members...  \n";
        let p = parse_file(0, text);
        assert!(p.errors.is_empty(), "{:#?}", p.errors);
        assert_eq!(
            p.lines,
            vec![
                Line {
                    number: 1,
                    span: Span::new(0, 9),
                    directive: Directive::Key(KeyDecl {
                        name: "user".into(),
                        name_span: sp(text, "user"),
                        variadic: false,
                    }),
                },
                Line {
                    number: 2,
                    span: Span::new(10, 30),
                    directive: Directive::Key(KeyDecl {
                        name: "members".into(),
                        name_span: sp(text, "members"),
                        variadic: true,
                    }),
                },
            ]
        );
    }

    #[test]
    fn args_with_and_without_types() {
        let text = "%arg a\n%arg b integer\n%arg c json...\n%arg d...\n\t%arg e number\t\n";
        let p = parse_file(0, text);
        assert!(p.errors.is_empty(), "{:#?}", p.errors);
        let args: Vec<ArgDecl> = p
            .lines
            .iter()
            .map(|l| match &l.directive {
                Directive::Arg(a) => a.clone(),
                d => panic!("{d:?}"),
            })
            .collect();
        assert_eq!(
            args[0],
            ArgDecl {
                name: "a".into(),
                name_span: Span::new(5, 6),
                ty: Type::Str,
                ty_span: Span::new(5, 6),
                variadic: false,
            }
        );
        assert_eq!(args[1].ty, Type::Int);
        assert_eq!(args[1].ty_span, sp(text, "integer"));
        assert_eq!(
            args[1].name_span,
            Span::new(sp(text, "b integer").start, sp(text, "b integer").start + 1)
        );
        assert_eq!(args[2].ty, Type::Json);
        assert!(args[2].variadic);
        assert_eq!(args[2].ty_span, sp(text, "json..."));
        assert_eq!(args[3].ty, Type::Str);
        assert!(args[3].variadic);
        assert_eq!(args[3].name, "d");
        assert_eq!(
            args[3].name_span,
            Span::new(sp(text, "d...").start, sp(text, "d...").start + 1)
        );
        assert_eq!(args[3].ty_span, sp(text, "d..."));
        assert_eq!(args[4].ty, Type::Float);
        assert_eq!(p.lines[4].number, 5);
        assert_eq!(
            p.lines[4].span,
            Span::new(sp(text, "\t%arg e").start, text.len() - 1)
        );
    }

    #[test]
    fn every_type_and_alias() {
        for (name, ty) in TYPES {
            let text = format!("%arg x {name}\n%return {name}");
            let p = parse_file(0, &text);
            assert!(p.errors.is_empty(), "{name}: {:#?}", p.errors);
            match &p.lines[0].directive {
                Directive::Arg(a) => assert_eq!(a.ty, *ty),
                d => panic!("{d:?}"),
            }
            match &p.lines[1].directive {
                Directive::Return(r) => assert_eq!(r.ty, *ty),
                d => panic!("{d:?}"),
            }
        }
    }

    #[test]
    fn return_suffixes() {
        let cases = [
            ("int", false, false, false),
            ("int?", true, false, false),
            ("str[]", false, true, false),
            ("str?[]", false, true, true),
            ("str[]?", true, true, false),
            ("str?[]?", true, true, true),
        ];
        for (written, optional, array, elem_optional) in cases {
            let text = format!("  %return {written} ");
            let Directive::Return(r) = only(&text) else {
                panic!("not a return")
            };
            assert_eq!(
                (r.optional, r.array, r.elem_optional),
                (optional, array, elem_optional),
                "{written}"
            );
            assert_eq!(r.ty_span, Span::new(10, 10 + written.len()), "{written}");
        }
    }

    #[test]
    fn include_and_pragma() {
        let text = "%pragma once\n%include \"../lib/keys\"\n";
        let p = parse_file(0, text);
        assert!(p.errors.is_empty(), "{:#?}", p.errors);
        assert_eq!(p.lines[0].directive, Directive::PragmaOnce);
        assert_eq!(
            p.lines[1].directive,
            Directive::Include {
                path: "../lib/keys".into(),
                path_span: sp(text, "../lib/keys"),
            }
        );
        assert_eq!(p.lines[1].number, 2);
    }

    #[test]
    fn non_directive_lines_are_skipped() {
        let text = "local x = 1 % 2\n-- %key nope\nreturn '%arg'\n\n";
        let p = parse_file(0, text);
        assert_eq!(
            p,
            ParsedFile {
                code_start: 1,
                ..ParsedFile::default()
            }
        );
    }

    /// The names the header of `text` declares, and where its code starts.
    fn header_names(text: &str) -> (Vec<String>, usize) {
        let p = parse_file(0, text);
        assert!(p.errors.is_empty(), "{:#?}", p.errors);
        let names = p
            .lines
            .iter()
            .filter_map(|l| match &l.directive {
                Directive::Key(k) => Some(k.name.clone()),
                Directive::Arg(a) => Some(a.name.clone()),
                _ => None,
            })
            .collect();
        (names, p.code_start)
    }

    #[test]
    fn percent_lines_in_long_strings_are_lua() {
        let (names, start) = header_names("%key k\nlocal t = [[\n%arg x\n]]\nreturn t\n");
        assert_eq!((names, start), (vec!["k".to_string()], 2));
        let (names, _) = header_names("%key k\nlocal t = [==[\n%arg x\n]]\n%arg y\n]==]\n");
        assert_eq!(names, ["k"]);
        // A long string opened on the first code line, even at its end.
        let (names, _) = header_names("local t = { a = [=[\n%key x\n]=] }\n");
        assert!(names.is_empty());
    }

    #[test]
    fn percent_lines_in_long_comments_are_comment_text() {
        let (names, start) = header_names("--[[\n%key old\n]]\n%key new\nreturn new\n");
        assert_eq!((names, start), (vec!["new".to_string()], 5));
        // Levels must match: `]]` does not close `--[==[`.
        let (names, _) = header_names("--[==[\n]]\n%key old\n]==]\n%key k\n");
        assert_eq!(names, ["k"]);
        // Closed on its own line, followed by more comments and directives.
        let (names, _) = header_names("--[[ a ]] --[=[ b ]=] -- c\n%key k\n");
        assert_eq!(names, ["k"]);
        // Indented opener; a line comment mentioning a directive.
        let (names, _) = header_names("  --[[\n  %arg gone\n  ]] -- %key no\n%arg a\n");
        assert_eq!(names, ["a"]);
        // `---[[` is a line comment, not a long one.
        let (names, _) = header_names("---[[\n%key k\n");
        assert_eq!(names, ["k"]);
        // A long comment left open to the end of the file.
        let (names, start) = header_names("%key k\n--[[\n%key x\n");
        assert_eq!((names, start), (vec!["k".to_string()], 4));
    }

    #[test]
    fn percent_operator_continuing_an_expression_is_lua() {
        let (names, start) = header_names("%key a\nlocal r = a\n  % 4\nreturn r\n");
        assert_eq!((names, start), (vec!["a".to_string()], 2));
        // Code after a long comment on the same line ends the header.
        let (names, start) = header_names("--[[ x ]] local r = 1\n%key k\n");
        assert_eq!((names, start), (vec![], 1));
        // So does code after a long comment's close.
        let (names, start) = header_names("--[[\n]] local r = 1\n%arg n\n");
        assert_eq!((names, start), (vec![], 2));
    }

    #[test]
    fn percent_lines_in_short_strings_and_after_code_are_lua() {
        // A short string cannot span lines without `\`: still after code.
        let (names, _) = header_names("local s = 'a\\\n%arg x'\n");
        assert!(names.is_empty());
        let (names, start) =
            header_names("#!lua flags=no-writes\n\n-- doc\n%key k\nreturn 1\n%arg late\n");
        assert_eq!((names, start), (vec!["k".to_string()], 5));
    }

    #[test]
    fn no_directive_argument_panics_and_every_error_says_what_to_do() {
        let words = [
            "key", "arg", "keys", "args", "return", "include", "pragma", "", "kye",
        ];
        let rests = [
            "",
            " ",
            "\t",
            " \t ",
            "\r",
            " x",
            " x ",
            " x...",
            " ...",
            " ?",
            " []",
            " x y z",
            " \"",
            " \"\"",
            " '",
            " x int",
            " x int...",
            " x int?",
            " x é",
            " é",
            " 1x",
            " once",
            " once more",
            " int?[]?",
            " x\u{0}",
            "%",
            " %key",
        ];
        for w in words {
            for r in rests {
                for line_end in ["", "\n", "\r\n"] {
                    let text = format!("%{w}{r}{line_end}");
                    let p = parse_file(0, &text);
                    for d in &p.errors {
                        assert!(d.help.is_some(), "{text:?}: {d:?}");
                        assert!(
                            d.span.end <= text.len() && d.span.start <= d.span.end,
                            "{text:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn include_with_only_blanks_after_it_is_an_error_not_a_panic() {
        for text in [
            "%include ",
            "%include \t  ",
            "%include\t",
            "%include   \r\n",
        ] {
            let d = one_error(text);
            assert_eq!(d.message, "`%include` needs a path", "{text:?}");
        }
    }

    #[test]
    fn shebang_only_on_first_line() {
        let text = "#!lua flags=no-writes\r\n%key k\n#!lua\n";
        let p = parse_file(0, text);
        assert_eq!(p.shebang, Some(Span::new(0, 21)));
        assert!(p.errors.is_empty());
        assert_eq!(p.lines.len(), 1);
        assert_eq!(p.lines[0].number, 2);
        assert_eq!(parse_file(0, "#!lua").shebang, Some(Span::new(0, 5)));
        assert_eq!(parse_file(0, "#!luajit\n").shebang, None);
        assert_eq!(parse_file(0, "\n#!lua\n").shebang, None);
    }

    #[test]
    fn crlf_spans_exclude_the_carriage_return() {
        let text = "%key a\r\n%arg b int\r\n";
        let p = parse_file(0, text);
        assert!(p.errors.is_empty(), "{:#?}", p.errors);
        assert_eq!(p.lines[0].span, Span::new(0, 6));
        assert_eq!(p.lines[1].span, Span::new(8, 18));
        let Directive::Arg(a) = &p.lines[1].directive else {
            panic!()
        };
        assert_eq!(a.ty_span, Span::new(15, 18));
    }

    #[test]
    fn unknown_type_suggests_closest() {
        let text = "%arg size integr\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "integr"));
        assert_eq!(d.message, "unknown type `integr`");
        let help = d.help.unwrap();
        assert!(help.starts_with("did you mean `integer`?"), "{help}");
        assert!(help.contains("bool (or boolean)"), "{help}");
        let d = one_error("%return Int\n");
        assert!(d.help.unwrap().starts_with("did you mean `int`?"));
        let d = one_error("%arg n itn\n");
        assert!(d.help.unwrap().starts_with("did you mean `int`?"));
        let d = one_error("%return zzzzzz\n");
        assert!(d.help.unwrap().starts_with("the types are"));
    }

    #[test]
    fn unknown_type_on_return_with_suffix() {
        let text = "%return strng[]\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "strng"));
        assert!(d.help.unwrap().contains("`string`"));
    }

    #[test]
    fn unknown_directive() {
        let text = "%kye user\n";
        let d = one_error(text);
        assert_eq!(d.span, Span::new(0, 4));
        assert_eq!(d.message, "unknown directive `%kye`");
        assert_eq!(d.help.as_deref(), Some("did you mean `%key`?"));
        assert_eq!(
            one_error("%ARG x").help.as_deref(),
            Some("directives are lowercase: write `%arg`")
        );
        assert_eq!(
            one_error("%include\"x\"").help.as_deref(),
            Some("put a blank after the directive: `%include \"x\"`")
        );
        assert!(one_error("%frobnicate")
            .help
            .unwrap()
            .contains("%pragma once"));
        let text = "-- x = 1\n  % key a\n";
        let d = one_error(text);
        assert_eq!(d.span, Span::new(11, 12));
        assert_eq!(
            d.help.as_deref(),
            Some("remove the blank after `%`: `%key`")
        );
    }

    #[test]
    fn bad_names() {
        let text = "%key end\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "end"));
        assert_eq!(d.help.as_deref(), Some("rename it, e.g. `end_`"));
        let text = "%arg 2fast int\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "2fast"));
        assert!(d.help.unwrap().contains("`_2fast`"));
        let text = "%key user-id\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "user-id"));
        assert!(d.help.unwrap().contains("`user_id`"));
        let text = "%arg ARGV\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "ARGV"));
        let text = "%arg redlua_i int\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "redlua_i"));
        assert!(d.help.unwrap().contains("`i`"));
        let text = "%key héllo\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "héllo"));
    }

    #[test]
    fn missing_parts() {
        for (text, message) in [
            ("%key", "`%key` needs a name"),
            ("%arg   ", "`%arg` needs a name"),
            ("%return", "`%return` needs a type"),
            ("%include", "`%include` needs a path"),
            ("%pragma", "`%pragma` needs a pragma name"),
        ] {
            let d = one_error(text);
            assert_eq!(d.message, message);
            assert_eq!(d.span.start, 0);
            assert_eq!(d.span.end, text.trim_end().len());
        }
    }

    #[test]
    fn extra_tokens() {
        let text = "%key user str\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "str"));
        assert_eq!(
            d.help.as_deref(),
            Some("keys are always strings and take no type: remove `str`")
        );
        let text = "%arg a int extra words\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "extra words"));
        let text = "%return int -- the count\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "-- the count"));
        assert!(d.help.unwrap().contains("line of its own"));
        let text = "%return str []\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "[]"));
        assert!(d.help.unwrap().contains("no blank"));
        let text = "%pragma once twice\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "twice"));
        let text = "%include \"a\" \"b\"\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "\"b\""));
    }

    #[test]
    fn optional_and_array_only_on_return() {
        let text = "%key user?\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "?"));
        assert!(d.message.contains("only %return can be optional"));
        let text = "%arg ids int[]\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "[]"));
        assert!(d.message.contains("only %return can be an array"));
        assert_eq!(
            d.help.as_deref(),
            Some("to take any number of values, make it variadic: `%arg ids int...`")
        );
        let text = "%arg ids? int\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "?"));
        let text = "%key ks[]\n";
        let d = one_error(text);
        assert!(d.help.unwrap().contains("`%key ks...`"));
    }

    #[test]
    fn variadic_misplaced() {
        let text = "%return int...\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "..."));
        assert!(d.message.contains("variadic is for the last %key/%arg"));
        assert_eq!(
            d.help.as_deref(),
            Some("for a reply that is a list, write `%return int[]`")
        );
        let text = "%arg ids... int\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "..."));
        assert_eq!(d.help.as_deref(), Some("write `%arg ids int...`"));
        let text = "%key ks......\n";
        let d = one_error(text);
        assert_eq!(d.span, Span::new(7, 10));
        let text = "%key ks..\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, ".."));
    }

    #[test]
    fn malformed_return_suffixes() {
        for bad in ["??", "[][]", "[]?[]", "?[]?[]", "??[]"] {
            let text = format!("%return str{bad}\n");
            let d = one_error(&text);
            assert_eq!(d.span, Span::new(11, 11 + bad.len()), "{bad}");
            assert!(d.message.starts_with("malformed return suffix"), "{bad}");
        }
        let text = "%return str[\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "["));
        let text = "%return str?]\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "]"));
    }

    #[test]
    fn include_errors() {
        let text = "%include \"lib/keys.lua\"\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "lib/keys.lua"));
        assert!(d
            .help
            .unwrap()
            .starts_with("drop the `.lua` suffix: includes name files without it"));
        let text = "%include \"\"\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "\"\""));
        let text = "%include \"/etc/x\"\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "/etc/x"));
        let text = "%include 'lib/keys.lua'\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "'lib/keys.lua'"));
        assert_eq!(d.help.as_deref(), Some("write `%include \"lib/keys\"`"));
        let text = "%include lib/keys\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "lib/keys"));
        assert_eq!(d.help.as_deref(), Some("write `%include \"lib/keys\"`"));
        let text = "%include \"lib/keys\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "\"lib/keys"));
        let text = "%include \"lib\\keys\"\n";
        let d = one_error(text);
        assert_eq!(d.help.as_deref(), Some("write `%include \"lib/keys\"`"));
        // Several problems with one path are all reported.
        let p = parse_file(0, "%include \"/a.lua\"\n");
        assert_eq!(p.errors.len(), 2);
        assert!(p.lines.is_empty());
    }

    #[test]
    fn pragma_errors() {
        let text = "%pragma onse\n";
        let d = one_error(text);
        assert_eq!(d.span, sp(text, "onse"));
        assert!(d.help.unwrap().starts_with("did you mean `once`?"));
    }

    #[test]
    fn collects_all_errors_and_keeps_good_lines() {
        let text = "%key user\n%kye x\n%arg n integr\n%arg ok int\n%return int...\n%return str\n";
        let p = parse_file(1, text);
        assert_eq!(p.errors.len(), 3, "{:#?}", p.errors);
        assert!(p.errors.iter().all(|d| d.file == 1));
        let numbers: Vec<usize> = p.lines.iter().map(|l| l.number).collect();
        assert_eq!(numbers, vec![1, 4, 6]);
        // Errors are in text order.
        let starts: Vec<usize> = p.errors.iter().map(|d| d.span.start).collect();
        let mut sorted = starts.clone();
        sorted.sort();
        assert_eq!(starts, sorted);
    }

    #[test]
    fn two_problems_on_one_arg_line() {
        let text = "%arg end integr\n";
        let p = parse_file(0, text);
        assert_eq!(p.errors.len(), 2, "{:#?}", p.errors);
        assert_eq!(p.errors[0].span, sp(text, "end"));
        assert_eq!(p.errors[1].span, sp(text, "integr"));
    }

    #[test]
    fn split_lines_handles_endings() {
        assert_eq!(split_lines(""), vec![]);
        assert_eq!(split_lines("a"), vec![Span::new(0, 1)]);
        assert_eq!(split_lines("a\n"), vec![Span::new(0, 1)]);
        assert_eq!(
            split_lines("a\r\n\nb"),
            vec![Span::new(0, 1), Span::new(3, 3), Span::new(4, 5)]
        );
        assert_eq!(split_lines("\n"), vec![Span::new(0, 0)]);
    }

    #[test]
    fn no_panic_on_odd_input() {
        for text in [
            "%",
            "%%",
            "% ",
            "%\u{e9}",
            "%key \u{e9}...",
            "%arg x \u{e9}",
            "%include \"\u{e9}",
            "%include '",
            "%include \"",
            "%return ?",
            "%return ...",
            "%key ...",
            "%arg ... int",
            "%return []",
            "\u{feff}%key a",
            "%key a\u{a0}b",
            "#!lua\u{e9}",
            "%arg a int ?",
        ] {
            let p = parse_file(0, text);
            for d in &p.errors {
                assert!(
                    d.span.start <= d.span.end && d.span.end <= text.len(),
                    "{text}"
                );
                assert!(text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end));
                assert!(d.help.is_some(), "{text}: {d:?}");
            }
        }
    }
}
