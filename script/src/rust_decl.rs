//! The Rust declaration that fits a script's header, as `redlua show`
//! prints it: concrete types only (no generics), each one the macro accepts
//! for its directive, so the text compiles when pasted.
//!
//! `list`, `dict` and `json` take any `Serialize`/`DeserializeOwned` type;
//! the declaration names `serde_json::Value` forms because they need no
//! type of the user's and fit every script. Replace them with your own types.

use crate::assemble::{Assembled, Param, ParamKind};
use crate::header::{ReturnDecl, Type};

/// The header's name of a type (`int`, `str`, ...), as the docs write it.
pub fn type_name(t: Type) -> &'static str {
    match t {
        Type::Int => "int",
        Type::Float => "float",
        Type::Str => "str",
        Type::Bytes => "bytes",
        Type::Bool => "bool",
        Type::List => "list",
        Type::Dict => "dict",
        Type::Json => "json",
        Type::Redis => "redis",
    }
}

/// The directive as a header line would write it: `%key user`,
/// `%arg fields str...`, `%keys rest`, `%args rest bytes`.
pub fn directive_text(p: &Param) -> String {
    let dots = if p.variadic && !p.passthrough {
        "..."
    } else {
        ""
    };
    let s = if p.passthrough { "s" } else { "" };
    match p.kind {
        ParamKind::Key => format!("%key{s} {}{dots}", p.name),
        ParamKind::Arg(t) => format!("%arg{s} {} {}{dots}", p.name, type_name(t)),
    }
}

/// The `%return` line of `d`, suffixes included (`%return str?[]`).
pub fn return_text(d: &ReturnDecl) -> String {
    let mut s = format!("%return {}", type_name(d.ty));
    if d.elem_optional {
        s.push('?');
    }
    if d.array {
        s.push_str("[]");
    }
    if d.optional {
        s.push('?');
    }
    s
}

/// The Rust parameter type for `p`: `&str` for a key, the borrowed form of
/// its type for an arg, a slice of that for a variadic or pass-through one.
pub fn param_type(p: &Param) -> String {
    param_type_as(p, Open::Concrete)
}

/// How to write the types the header leaves open (`list`, `dict`, `json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// Types that compile as printed (`&[serde_json::Value]`), for a
    /// declaration to paste.
    Concrete,
    /// The shape only (`&[T]`, `&HashMap<String, T>`, `&T`), for help texts.
    Generic,
}

/// [`param_type`], with the open types written as `open` says.
pub fn param_type_as(p: &Param, open: Open) -> String {
    let concrete = open == Open::Concrete;
    let one = match p.kind {
        ParamKind::Key | ParamKind::Arg(Type::Str) => "&str",
        ParamKind::Arg(Type::Bytes) => "&[u8]",
        ParamKind::Arg(Type::Int) => "i64",
        ParamKind::Arg(Type::Float) => "f64",
        ParamKind::Arg(Type::Bool) => "bool",
        ParamKind::Arg(Type::List) if concrete => "&[serde_json::Value]",
        ParamKind::Arg(Type::List) => "&[T]",
        ParamKind::Arg(Type::Dict) if concrete => {
            "&std::collections::HashMap<String, serde_json::Value>"
        }
        ParamKind::Arg(Type::Dict) => "&HashMap<String, T>",
        // `redis` is refused as a parameter type by the header check; a
        // script with that error has no declaration to print.
        ParamKind::Arg(Type::Json | Type::Redis) if concrete => "&serde_json::Value",
        ParamKind::Arg(Type::Json | Type::Redis) => "&T",
    };
    if p.variadic {
        format!("&[{one}]")
    } else {
        one.to_owned()
    }
}

/// The Rust return type for a script's `%return` (`()` without one).
pub fn return_type(d: Option<&ReturnDecl>) -> String {
    d.map_or_else(|| "()".to_owned(), |d| return_type_as(d, Open::Concrete))
}

/// The Rust type for `%return` `d`, with the open types written as `open` says.
pub fn return_type_as(d: &ReturnDecl, open: Open) -> String {
    let concrete = open == Open::Concrete;
    let mut s = match d.ty {
        Type::Int => "i64",
        Type::Float => "f64",
        Type::Str => "String",
        Type::Bytes => "Vec<u8>",
        Type::Bool => "bool",
        Type::List if concrete => "Vec<serde_json::Value>",
        Type::List => "Vec<T>",
        Type::Dict if concrete => "std::collections::HashMap<String, serde_json::Value>",
        Type::Dict => "HashMap<String, T>",
        Type::Json if concrete => "serde_json::Value",
        // `%return redis` takes no suffixes: redis-rs decodes the whole reply.
        Type::Redis if concrete => return "redis::Value".to_owned(),
        Type::Json | Type::Redis => "T",
    }
    .to_owned();
    if d.elem_optional {
        s = format!("Option<{s}>");
    }
    if d.array {
        s = format!("Vec<{s}>");
    }
    if d.optional {
        s = format!("Option<{s}>");
    }
    s
}

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// A Rust function name for a script file stem: characters other than
/// letters, digits and `_` become `_`, a leading digit gets a `_`, and a
/// keyword gets `r#` (`bump-count` -> `bump_count`, `type` -> `r#type`).
pub fn fn_name(stem: &str) -> String {
    let mut s: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if RUST_KEYWORDS.contains(&s.as_str()) {
        s.insert_str(0, "r#");
    }
    s
}

/// The attribute and declaration for the script `path` (as written in
/// `#[redis_script("path")]`, relative to `lua/`), named after its file stem:
///
/// ```text
/// #[redis_script("create_status.lua")]
/// pub fn create_status(user: &str, ids: &str, fields: &[&str]) -> Option<i64>;
/// ```
pub fn declaration(asm: &Assembled, path: &str) -> String {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let stem = file.strip_suffix(".lua").unwrap_or(file);
    let params: Vec<String> = asm
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, param_type(p)))
        .collect();
    let ret = return_type(asm.ret.as_ref().map(|r| &r.decl));
    let arrow = if ret == "()" {
        String::new()
    } else {
        format!(" -> {ret}")
    };
    format!(
        "#[redis_script({path:?})]\npub fn {}({}){arrow};",
        fn_name(stem),
        params.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn decl(path: &str) -> String {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let asm = crate::load(&root, path).unwrap();
        assert!(asm.errors.is_empty(), "{path}: {:?}", asm.errors);
        declaration(&asm, path)
    }

    /// Each expected text is pasted in the root package's
    /// tests/declarations.rs, which compiles it against the macro; the CLI's
    /// tests check that `redlua show` prints exactly these lines.
    #[test]
    fn declarations_of_this_repos_scripts() {
        let cases = [
            (
                "create_status.lua",
                "pub fn create_status(user: &str, ids: &str, fields: &[&str]) -> Option<i64>;",
            ),
            (
                "types/list.lua",
                "pub fn list(value: &[serde_json::Value]) -> Vec<serde_json::Value>;",
            ),
            (
                "types/dict.lua",
                "pub fn dict(value: &std::collections::HashMap<String, serde_json::Value>) -> std::collections::HashMap<String, serde_json::Value>;",
            ),
            (
                "types/json.lua",
                "pub fn json(value: &serde_json::Value) -> serde_json::Value;",
            ),
            ("types/nothing.lua", "pub fn nothing(key: &str, value: &str);"),
            (
                "types/variadic.lua",
                "pub fn variadic(first: &str, rest: &[&str], scale: i64, values: &[i64]) -> Vec<String>;",
            ),
            (
                "types/bytes.lua",
                "pub fn bytes(value: &[u8]) -> Vec<u8>;",
            ),
            (
                "types/zrange_scores.lua",
                "pub fn zrange_scores(key: &str) -> redis::Value;",
            ),
            (
                "types/hmget.lua",
                "pub fn hmget(hash: &str, fields: &[&str]) -> Vec<Option<String>>;",
            ),
        ];
        for (path, want) in cases {
            let got = decl(path);
            assert_eq!(got, format!("#[redis_script({path:?})]\n{want}"), "{path}");
        }
    }

    #[test]
    fn return_types_follow_the_suffixes() {
        let d = |ty, optional, array, elem_optional| ReturnDecl {
            ty,
            ty_span: Default::default(),
            optional,
            array,
            elem_optional,
        };
        assert_eq!(return_type(None), "()");
        assert_eq!(
            return_type(Some(&d(Type::Int, true, false, false))),
            "Option<i64>"
        );
        assert_eq!(
            return_type(Some(&d(Type::Str, false, true, false))),
            "Vec<String>"
        );
        assert_eq!(
            return_type(Some(&d(Type::Str, false, true, true))),
            "Vec<Option<String>>"
        );
        assert_eq!(
            return_type(Some(&d(Type::Bytes, true, true, false))),
            "Option<Vec<Vec<u8>>>"
        );
        assert_eq!(
            return_type(Some(&d(Type::Redis, false, false, false))),
            "redis::Value"
        );
        let r = d(Type::Str, true, true, true);
        assert_eq!(return_text(&r), "%return str?[]?");
    }

    #[test]
    fn function_names_are_rust_identifiers() {
        assert_eq!(fn_name("create_status"), "create_status");
        assert_eq!(fn_name("bump-count"), "bump_count");
        assert_eq!(fn_name("2fa"), "_2fa");
        assert_eq!(fn_name("type"), "r#type");
    }
}
