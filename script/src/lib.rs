//! The analysis behind [redlua](https://docs.rs/redlua): everything that can
//! be known about a Redis Lua script without running it.
//!
//! - [`header`]: the directive language (`%key`, `%arg NAME TYPE`,
//!   `%return TYPE`, `%include "file"`, `%pragma once`) parsed from `&str`,
//!   keeping byte spans;
//! - [`assemble`]: includes inlined, each directive rendered to one Lua line,
//!   with a line map back to every file read;
//! - [`check()`]: the header errors and the Lua analysis (syntax, names,
//!   sandbox, flags, writes under `no-writes`, warnings) as [`Finding`]s;
//! - [`diag`]: rustc-style rendering (`--> file:line:col`, the line, a caret);
//! - [`rust_decl`]: the Rust declaration that fits a header, ready to paste.
//! - [`function`]: the assembled script as a Redis Functions library.
//!
//! The proc-macro `#[redis_script]` is glue over this crate; the `redlua`
//! CLI and the fuzz targets use it too, so all three report the same thing.
//! It depends on no proc-macro crate.
//!
//! ```
//! use std::path::Path;
//! let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
//! let asm = redlua_script::load(&root, "hello.lua").unwrap();
//! assert_eq!(asm.params[0].name, "key");
//! assert_eq!(redlua_script::sha1_hex(&asm.source).len(), 40);
//! let findings = redlua_script::check(&asm, &Default::default());
//! assert!(findings.is_empty(), "{}", findings[0].render(&asm));
//! ```

pub mod assemble;
pub mod check;
pub mod diag;
pub mod dialect;
pub mod function;
pub mod header;
mod long_bracket;
pub mod lua_check;
mod redis_commands;
pub mod rust_decl;

use std::path::{Component, Path};

pub use assemble::{Assembled, Fs, Loader, Param, ParamKind};
pub use check::{check, check_function, Finding, Options, Severity};
pub use diag::Diagnostic;

/// The folder under the crate root that script paths are relative to.
pub const SCRIPT_DIR: &str = "lua";

/// `lua/<path>` with `.` and `..` folded, as the file the script `path`
/// names. An error (a message saying what to write instead) for an absolute
/// path or one that leaves the crate root.
pub fn script_path(path: &str) -> Result<String, String> {
    if Path::new(path).is_absolute() || path.starts_with('/') || path.starts_with('\\') {
        return Err(format!(
            "`{path}` is absolute; script paths are relative to the crate's `lua/` folder\n  = help: write e.g. #[redis_script(\"create_status.lua\")] for lua/create_status.lua"
        ));
    }
    let leaves = || {
        format!(
            "`{path}` leaves the crate root; scripts must live inside the crate\n  = help: paths are relative to the crate's `lua/` folder"
        )
    };
    let mut parts: Vec<String> = vec![SCRIPT_DIR.to_owned()];
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str().ok_or_else(leaves)?.to_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop().ok_or_else(leaves)?;
            }
            Component::RootDir | Component::Prefix(_) => return Err(leaves()),
        }
    }
    if parts.is_empty() {
        return Err(leaves());
    }
    Ok(parts.join("/"))
}

/// Reads and assembles the script `path` (relative to `root/lua/`, as in
/// `#[redis_script("path")]`) from the file system. `Err` is a message for
/// a path that cannot be used or a top-level file that cannot be read; every
/// other problem is a diagnostic in [`Assembled::errors`].
pub fn load(root: &Path, path: &str) -> Result<Assembled, String> {
    let rel = script_path(path)?;
    assemble::assemble(&Fs, root, &rel).map_err(|e| {
        if rel.ends_with(".lua") {
            e
        } else {
            format!("{e}\n  = help: did you mean \"{path}.lua\"?")
        }
    })
}

/// The SHA1 Redis names a script by (`EVALSHA`), in lower-case hex.
pub fn sha1_hex(source: &str) -> String {
    sha1_smol::Sha1::from(source.as_bytes())
        .digest()
        .to_string()
}
