//! An assembled script as a Redis Functions library (`FUNCTION LOAD`),
//! for `#[redis_function]`: pure text in, text out.
//!
//! The library registers one function whose callback is the assembled
//! script, unchanged, as the body of `function(KEYS, ARGV)`: the body sees
//! `KEYS` and `ARGV` as it does under `EVAL` (as the callback's parameters
//! instead of globals), so the same checked text runs both ways. The
//! script's `#!lua flags=` line becomes the function's `flags`.
//!
//! Names are content-addressed: the library and its function are both
//! named `<rust name>_<16 hex>`, where the hex is the start of the SHA1 of
//! the library text written with a placeholder for the name. Two builds
//! whose script differs in one byte (or in a flag, or in the crate that
//! declares it) load two libraries side by side; a caller can never run
//! another build's body under its own name.

use full_moon::ast::{self, Expression, Index, Prefix, Suffix};
use full_moon::tokenizer::{Symbol, TokenReference, TokenType};
use full_moon::visitors::Visitor;
use full_moon::LuaVersion;

use crate::lua_check::{self, LuaIssue, Severity};

/// A library ready for `FUNCTION LOAD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    /// The library's and its one function's name (`create_status_3f9a1c2e0b4d5a6f`).
    pub name: String,
    /// The whole library, `#!lua name=...` first.
    pub text: String,
    /// How many lines the library has before line 1 of the assembled
    /// script (the script's line `n` is the library's line `n + offset`):
    /// 1 when the script has no `#!lua` line, 0 when it has one (the
    /// library's own `#!lua name=` line takes its place).
    pub line_offset: usize,
}

/// The mark that starts every function description redlua writes; with the
/// crate name after it, it is how pruning recognises a library as one it
/// loaded for a crate of the program.
pub const DESCRIPTION_PREFIX: &str = "redlua ";

/// How many hex digits of the SHA1 a name carries: 64 bits, so two versions
/// of one script practically never share a name.
pub const HASH_DIGITS: usize = 16;

/// What [`library`] puts where the name goes before hashing.
const PLACEHOLDER: &str = "{name}";

/// The library for the assembled script `source` (with its shebang
/// `flags`) declared as `rust_name` in crate `crate_name`, from the file
/// `path` (both shown in the function's description, for people reading
/// `FUNCTION LIST`).
pub fn library(
    source: &str,
    flags: &[String],
    rust_name: &str,
    crate_name: &str,
    path: &str,
) -> Library {
    // The shebang is the library's first line; the script's own (flags
    // only) is dropped, its flags go to `register_function`, and the
    // callback opens on the same line so every later line keeps its number.
    let (body, line_offset) = match source.strip_prefix("#!") {
        Some(_) => (source.split_once('\n').map_or("", |(_, rest)| rest), 0),
        None => (source, 1),
    };
    let flags: Vec<String> = flags.iter().map(|f| lua_string(f)).collect();
    let description = lua_string(&format!("{DESCRIPTION_PREFIX}{crate_name} {path}"));
    // The closing `end` stands on a line of its own: the script's last
    // line may be a comment.
    let newline = if body.is_empty() || body.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    let template = format!(
        "#!lua name={PLACEHOLDER}\n\
         redis.register_function{{function_name='{PLACEHOLDER}', flags={{{}}}, \
         description={description}, callback=function(KEYS, ARGV) {body}{newline}end}}\n",
        flags.join(", ")
    );
    let hash = crate::sha1_hex(&template);
    let name = format!("{}_{}", ident(rust_name), &hash[..HASH_DIGITS]);
    Library {
        // Only the two names above: the script itself may say `{name}`.
        text: template.replacen(PLACEHOLDER, &name, 2),
        name,
        line_offset,
    }
}

/// `name` with every character Redis refuses in a library or function
/// name (anything but ASCII letters, digits and `_`) made `_`.
fn ident(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A single-quoted Lua string literal of `s`.
fn lua_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Members of `redis` that scripts have and function bodies do not (nil on
/// Redis 7.0.15 and 8.2.3 and Valkey 8.1.8 and 9.1.2, measured): calling one
/// from a function fails at run time.
const NOT_IN_FUNCTIONS: &[(&str, &str)] = &[
    (
        "replicate_commands",
        "functions always replicate their effects: remove the call",
    ),
    (
        "breakpoint",
        "the Lua debugger (`redis-cli --ldb`) runs scripts only: remove the call, or debug the \
         script with #[redis_script]",
    ),
    (
        "debug",
        "the Lua debugger (`redis-cli --ldb`) runs scripts only: remove the call, or log with \
         redis.log",
    ),
];

/// What only a function body gets wrong, in the assembled script `source`
/// (the text every other check ran on): `...` in the main chunk (a script
/// is a vararg chunk, the callback `function(KEYS, ARGV)` is not, so
/// `FUNCTION LOAD` refuses it), and the `redis` members functions lack.
/// A script that does not parse gives nothing here: the Lua check reports
/// its syntax error.
pub fn issues(source: &str) -> Vec<LuaIssue> {
    // The same text the Lua check parses (shebang blanked, no backtick for
    // full_moon's lexer to panic on), bounded in depth the same way, and
    // walked on its large stack: deep nesting must not crash rustc here
    // either.
    let text = lua_check::blank_shebang(source).replace('`', "$");
    if lua_check::too_deep(&text).is_some() {
        // The Lua check reports it.
        return Vec::new();
    }
    lua_check::on_checker_stack(|| {
        let parsed = full_moon::parse_fallible(&text, LuaVersion::lua51());
        if !parsed.errors().is_empty() {
            return Vec::new();
        }
        let mut walk = Walk {
            depth: 0,
            issues: Vec::new(),
        };
        walk.visit_ast(parsed.ast());
        walk.issues
    })
    .unwrap_or_else(|| vec![lua_check::internal_error()])
}

struct Walk {
    /// How many function bodies enclose the current node.
    depth: usize,
    issues: Vec<LuaIssue>,
}

impl Walk {
    fn push(&mut self, token: &TokenReference, message: String, label: &str, help: &str) {
        let start = token.token().start_position();
        self.issues.push(LuaIssue {
            severity: Severity::Error,
            line: start.line(),
            col: start.character(),
            len: token.token().to_string().chars().count().max(1),
            message,
            label: Some(label.to_owned()),
            help: Some(help.to_owned()),
        });
    }

    /// `redis.<member>` (or Valkey's `server.<member>`) at the start of a
    /// chain of suffixes.
    fn chain<'a>(&mut self, prefix: &Prefix, mut suffixes: impl Iterator<Item = &'a Suffix>) {
        let Prefix::Name(lib) = prefix else {
            return;
        };
        let lib = lib.token().to_string();
        if lib == "_G" {
            return self.global_table(suffixes.next());
        }
        if lib == "rawget" {
            return self.rawget(suffixes.next());
        }
        if lib != "redis" && lib != "server" {
            return;
        }
        let Some(Suffix::Index(Index::Dot { name, .. })) = suffixes.next() else {
            return;
        };
        let member = name.token().to_string();
        if let Some((_, help)) = NOT_IN_FUNCTIONS.iter().find(|(m, _)| *m == member) {
            self.push(
                name,
                format!("`{lib}.{member}` does not exist in a Redis Function"),
                "nil in a function body",
                help,
            );
        }
    }
}

impl Walk {
    /// `_G.KEYS` / `_G["ARGV"]`: a script's `KEYS` and `ARGV` are globals,
    /// a function's are its parameters, so through `_G` they read nil.
    fn global_table(&mut self, suffix: Option<&Suffix>) {
        let (token, name) = match suffix {
            Some(Suffix::Index(Index::Dot { name, .. })) => (name, name.token().to_string()),
            Some(Suffix::Index(Index::Brackets { expression, .. })) => match &**expression {
                Expression::String(s) => {
                    let text = s.token().to_string();
                    (s, text.trim_matches(|c| c == '"' || c == '\'').to_owned())
                }
                _ => return,
            },
            _ => return,
        };
        if name == "KEYS" || name == "ARGV" {
            self.push(
                token,
                format!("`_G.{name}` is nil in a Redis Function"),
                "a function's `KEYS` and `ARGV` are its parameters, not globals",
                &format!("write `{name}` itself"),
            );
        }
    }
}

impl Walk {
    /// `rawget(_G, 'KEYS')`: the same read of the global table as
    /// [`Walk::global_table`], by another name.
    fn rawget(&mut self, suffix: Option<&Suffix>) {
        let Some(Suffix::Call(ast::Call::AnonymousCall(call_args))) = suffix else {
            return;
        };
        let ast::FunctionArgs::Parentheses { arguments, .. } = &**call_args else {
            return;
        };
        let mut args = arguments.iter();
        let is_global_table = matches!(
            args.next(),
            Some(Expression::Var(ast::Var::Name(t))) if t.token().to_string() == "_G"
        );
        let Some(Expression::String(s)) = args.next() else {
            return;
        };
        let text = s.token().to_string();
        let name = text.trim_matches(|c| c == '"' || c == '\'');
        if is_global_table && (name == "KEYS" || name == "ARGV") {
            self.push(
                s,
                format!("`rawget(_G, '{name}')` is nil in a Redis Function"),
                "a function's `KEYS` and `ARGV` are its parameters, not globals",
                &format!("write `{name}` itself"),
            );
        }
    }
}

impl Visitor for Walk {
    fn visit_function_body(&mut self, _: &ast::FunctionBody) {
        self.depth += 1;
    }

    fn visit_function_body_end(&mut self, _: &ast::FunctionBody) {
        self.depth -= 1;
    }

    fn visit_expression(&mut self, e: &Expression) {
        if let Expression::Symbol(token) = e {
            let ellipsis = matches!(
                token.token_type(),
                TokenType::Symbol { symbol } if *symbol == Symbol::Ellipsis
            );
            if ellipsis && self.depth == 0 {
                self.push(
                    token,
                    "cannot use `...` in the main chunk of a Redis Function".to_owned(),
                    "the function's body is `function(KEYS, ARGV)`, which takes no `...`",
                    "a script's `...` is always empty: use `KEYS` and `ARGV`, or declare \
                     the values with %key and %arg",
                );
            }
        }
    }

    fn visit_function_call(&mut self, call: &ast::FunctionCall) {
        self.chain(call.prefix(), call.suffixes());
    }

    fn visit_var_expression(&mut self, var: &ast::VarExpression) {
        self.chain(var.prefix(), var.suffixes());
    }
}

/// True when `name` has the shape of a name [`library`] gives:
/// `<letters, digits, _>_<16 lowercase hex>`.
pub fn is_library_name(name: &str) -> bool {
    let Some((stem, hash)) = name.rsplit_once('_') else {
        return false;
    };
    hash.len() == HASH_DIGITS
        && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !stem.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_s_own_braces_are_left_alone() {
        let l = lib("return '{name}'\n", &[]);
        assert!(l.text.contains("return '{name}'"), "{}", l.text);
        assert!(l.text.starts_with(&format!("#!lua name={}\n", l.name)));
    }

    #[test]
    fn deep_nesting_does_not_overflow_a_small_stack() {
        // 198 nested blocks (what Redis accepts) and 10,000 (past the
        // limit), on a stack smaller than rustc's.
        for depth in [198, 10_000] {
            let src = format!(
                "{}return 1\n{}",
                "if true then\n".repeat(depth),
                "end\n".repeat(depth)
            );
            let found = std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || issues(&src))
                .unwrap()
                .join()
                .expect("no stack overflow");
            assert!(found.is_empty(), "{depth}: {found:?}");
        }
    }

    #[test]
    fn keys_and_argv_through_the_global_table_are_refused() {
        let found = issues(
            "local a = _G.KEYS[1]\nlocal b = _G['ARGV']\nlocal c = _G.other\n\
             local d = rawget(_G, 'KEYS')\nlocal e = rawget(t, 'KEYS')\nreturn KEYS[1]\n",
        );
        let lines: Vec<(usize, &str)> =
            found.iter().map(|i| (i.line, i.message.as_str())).collect();
        assert_eq!(
            lines,
            vec![
                (1, "`_G.KEYS` is nil in a Redis Function"),
                (2, "`_G.ARGV` is nil in a Redis Function"),
                (4, "`rawget(_G, 'KEYS')` is nil in a Redis Function"),
            ]
        );
    }

    fn lib(source: &str, flags: &[&str]) -> Library {
        let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        library(source, &flags, "count", "app", "lua/count.lua")
    }

    #[test]
    fn a_script_without_flags_opens_the_callback_on_line_two() {
        let l = lib("local n = KEYS[1]\nreturn redis.call('INCR', n)\n", &[]);
        let expected = format!(
            "#!lua name={0}\n\
             redis.register_function{{function_name='{0}', flags={{}}, \
             description='redlua app lua/count.lua', callback=function(KEYS, ARGV) local n = KEYS[1]\n\
             return redis.call('INCR', n)\n\
             end}}\n",
            l.name
        );
        assert_eq!(l.text, expected);
        assert_eq!(l.line_offset, 1);
        // Line 2 of the script is line 3 of the library.
        assert_eq!(
            l.text.lines().nth(2 + l.line_offset - 1),
            Some("return redis.call('INCR', n)")
        );
    }

    #[test]
    fn the_shebang_becomes_flags_and_lines_keep_their_numbers() {
        let src = "#!lua flags=no-writes,allow-stale\nlocal k = KEYS[1]\nreturn redis.call('GET', k) -- last";
        let l = lib(src, &["no-writes", "allow-stale"]);
        assert_eq!(l.line_offset, 0);
        let lines: Vec<&str> = l.text.lines().collect();
        assert_eq!(lines[0], format!("#!lua name={}", l.name));
        assert!(
            lines[1].contains("flags={'no-writes', 'allow-stale'}"),
            "{}",
            lines[1]
        );
        assert!(lines[1].ends_with("callback=function(KEYS, ARGV) local k = KEYS[1]"));
        assert_eq!(lines[2], "return redis.call('GET', k) -- last");
        // A trailing comment cannot swallow the closing `end`.
        assert_eq!(lines[3], "end}");
    }

    #[test]
    fn names_are_content_addressed() {
        let a = lib("return 1\n", &[]);
        assert_eq!(a, lib("return 1\n", &[]));
        assert!(a.name.starts_with("count_"), "{}", a.name);
        assert!(is_library_name(&a.name), "{}", a.name);
        let others = [
            lib("return 2\n", &[]),
            lib("#!lua flags=no-writes\nreturn 1\n", &["no-writes"]),
            library("return 1\n", &[], "count", "other_app", "lua/count.lua"),
            library("return 1\n", &[], "count2", "app", "lua/count.lua"),
        ];
        for b in &others {
            assert_ne!(a.name, b.name);
            assert!(is_library_name(&b.name), "{}", b.name);
        }
    }

    #[test]
    fn names_and_descriptions_are_made_safe() {
        let l = library("return 1", &[], "größe", "app", "lua/it's\\.lua");
        assert!(l.name.starts_with("gr__e_"), "{}", l.name);
        assert!(
            l.text.contains(r"description='redlua app lua/it\'s\\.lua'"),
            "{}",
            l.text
        );
        assert!(l.text.ends_with("return 1\nend}\n"), "{}", l.text);
    }

    #[test]
    fn only_functions_refuse_varargs_in_the_main_chunk_and_the_debugger() {
        let found = issues(
            "#!lua flags=no-writes\n\
             local n = select('#', ...)\n\
             local function f(...) return ... end\n\
             redis.replicate_commands()\n\
             local d = server.debug\n\
             redis.breakpoint()\n\
             return redis.call('GET', KEYS[1])\n",
        );
        let at: Vec<(usize, usize, &str)> = found
            .iter()
            .map(|i| (i.line, i.col, i.message.as_str()))
            .collect();
        assert_eq!(
            at,
            [
                (
                    2,
                    23,
                    "cannot use `...` in the main chunk of a Redis Function"
                ),
                (
                    4,
                    7,
                    "`redis.replicate_commands` does not exist in a Redis Function"
                ),
                (5, 18, "`server.debug` does not exist in a Redis Function"),
                (
                    6,
                    7,
                    "`redis.breakpoint` does not exist in a Redis Function"
                ),
            ]
        );
        assert_eq!(found[1].len, "replicate_commands".len());
        // Nothing to say about an ordinary script, or one that does not parse.
        assert!(issues("local k = KEYS[1]\nreturn redis.call('GET', k)").is_empty());
        assert!(issues("return (").is_empty());
        assert!(issues("#!lua").is_empty());
    }

    #[test]
    fn library_names() {
        assert!(is_library_name("create_status_3f9a1c2e0b4d5a6f"));
        assert!(!is_library_name("create_status_3f9a1c2e"));
        assert!(!is_library_name("_3f9a1c2e0b4d5a6f"));
        assert!(!is_library_name("create_status_3F9A1C2E0B4D5A6F"));
        assert!(!is_library_name("mylib"));
        assert!(!is_library_name("a-b_3f9a1c2e0b4d5a6f"));
    }
}
