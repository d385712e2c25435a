//! Phase 1a: parse the directive lines of one `.lua` file (plain `&str`, no syn).
//!
//! CONTRACT (shared with assemble.rs, signature.rs, expand.rs): keep these
//! public types and `parse_file`'s signature.

use crate::diag::{Diagnostic, Span};

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
    Return(ReturnDecl),
    /// `%include "path"`: `path` as written (no `.lua` suffix), `path_span` inside the quotes.
    Include { path: String, path_span: Span },
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
    pub errors: Vec<Diagnostic>,
}

/// Parses every directive line of `text`; `file` is the index stamped on diagnostics.
pub fn parse_file(file: usize, text: &str) -> ParsedFile {
    let _ = (file, text);
    unimplemented!("header parser: being written")
}
