//! Phase 1b: expand `%include`s and render every directive to one Lua line,
//! giving the assembled script, its parameters and a line map.
//!
//! CONTRACT (shared with signature.rs, expand.rs, lua_check.rs): keep these
//! public types and `assemble`'s signature.

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Span};
use crate::header::{ReturnDecl, Type};

/// A file read while assembling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Absolute path, for `include_str!` (rebuild tracking).
    pub abs_path: PathBuf,
    /// Path relative to the crate root, with `/` separators, e.g. `lua/lib/keys.lua`.
    pub display: String,
    pub text: String,
}

/// Where a line of the assembled script came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Index into `Assembled::files`.
    pub file: usize,
    /// 1-based line in that file.
    pub line: usize,
    /// Index into `Assembled::includes` of the `%include` that brought this
    /// file in, `None` for the top-level file.
    pub via: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Key,
    Arg(Type),
}

/// One `%key` or `%arg`, in script order (after includes are expanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    pub variadic: bool,
    /// 1-based index into KEYS (for keys) or ARGV (for args).
    pub index: usize,
    pub file: usize,
    pub name_span: Span,
    /// Span of the type (or of the name for keys and untyped args).
    pub ty_span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Return {
    pub decl: ReturnDecl,
    pub file: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assembled {
    /// The exact script text sent to Redis (its SHA1 is the script's identity).
    pub source: String,
    /// One entry per line of `source`.
    pub lines: Vec<Origin>,
    /// Every file read; index 0 is the top-level file.
    pub files: Vec<SourceFile>,
    /// `includes[i]` is where the i-th `%include` line stands.
    pub includes: Vec<Origin>,
    pub params: Vec<Param>,
    /// The top-level file's `%return`; included files' are ignored.
    pub ret: Option<Return>,
    /// Flags of a `#!lua flags=...` first line of the top-level file.
    pub flags: Vec<String>,
    pub errors: Vec<Diagnostic>,
}

/// Reads files for `assemble`; a trait so tests can use an in-memory tree.
pub trait Loader {
    fn load(&self, path: &Path) -> std::io::Result<String>;
}

/// The real file system.
pub struct Fs;

impl Loader for Fs {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Assembles the script whose top-level file is `root/rel` (`root` is the
/// crate root, `rel` e.g. `lua/create_status.lua`). `Err` only when the
/// top-level file cannot be read: a message for the attribute's literal.
/// Every other problem is a diagnostic in `Assembled::errors`.
pub fn assemble(loader: &dyn Loader, root: &Path, rel: &str) -> Result<Assembled, String> {
    let _ = (loader, root, rel);
    unimplemented!("assembler: being written")
}
