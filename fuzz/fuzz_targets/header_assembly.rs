//! Header parsing and include assembly on arbitrary text, over synthetic
//! include trees (cycles, chains deeper than the assembler allows, diamonds).
//!
//! Input: one shape byte, then up to 8 file texts separated by NUL bytes.
//! File i is `lua/f<i>.lua` (every third one in `lua/sub/`); the shape byte
//! adds `%include` lines between them besides any the texts write, and may
//! hang a chain of up to 127 files below the last one.
#![no_main]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use redlua_script::{Assembled, Loader};

struct Mem(HashMap<PathBuf, String>);

impl Loader for Mem {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "not found"))
    }
}

fn name(i: usize) -> String {
    if i % 3 == 2 {
        format!("sub/f{i}.lua")
    } else {
        format!("f{i}.lua")
    }
}

/// What `file` must write to include file `j` (includes are relative to
/// the including file's folder).
fn include(from: usize, j: usize) -> String {
    let target = name(j);
    let up = if name(from).starts_with("sub/") {
        "../"
    } else {
        ""
    };
    format!("%include \"{up}{target}\"\n")
}

/// The assembler's own promises about its output.
fn check_invariants(a: &Assembled) {
    assert_eq!(a.source.lines().count(), a.lines.len(), "{:?}", a.source);
    for o in a.lines.iter().chain(&a.includes) {
        assert!(o.file < a.files.len());
        assert!(o.line >= 1 && o.line <= a.files[o.file].text.lines().count().max(1));
        assert!(o.via.is_none_or(|v| v < a.includes.len()));
    }
    for d in &a.errors {
        let text = &a.files[d.file].text;
        assert!(
            d.span.start <= d.span.end && d.span.end <= text.len(),
            "{d:?}"
        );
        assert!(text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&shape, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let parts: Vec<&str> = text.split('\0').take(8).collect();
    let n = parts.len();
    let mut files = HashMap::new();
    let root = Path::new("/crate");
    for (i, part) in parts.iter().enumerate() {
        let mut body = String::new();
        match shape & 3 {
            // Only the includes the text writes.
            0 => {}
            // A ring: the last file includes the first.
            1 => body.push_str(&include(i, (i + 1) % n)),
            // A chain.
            2 if i + 1 < n => body.push_str(&include(i, i + 1)),
            // A diamond without `%pragma once`: every file twice.
            3 if i + 2 < n => {
                body.push_str(&include(i, i + 1));
                body.push_str(&include(i, i + 2));
            }
            _ => {}
        }
        // Headers first or after the text: both are legal places to fail.
        if shape & 4 != 0 {
            body.insert_str(0, part);
            if !part.ends_with('\n') {
                body.insert(part.len(), '\n');
            }
        } else {
            body.push_str(part);
        }
        files.insert(root.join("lua").join(name(i)), body);
    }
    // A chain of `depth` files below the last one, deeper than the
    // assembler's limit when depth > 64.
    let depth = usize::from(shape >> 3) * 4;
    for d in 0..depth {
        let next = if d + 1 < depth {
            format!("%include \"d{}.lua\"\n", d + 1)
        } else {
            "return 1\n".to_string()
        };
        files.insert(
            root.join(format!("lua/d{d}.lua")),
            format!("%pragma once\n{next}"),
        );
    }
    if depth > 0 {
        let last = root.join("lua").join(name(n - 1));
        let up = if name(n - 1).starts_with("sub/") {
            "../"
        } else {
            ""
        };
        files
            .get_mut(&last)
            .expect("inserted")
            .push_str(&format!("\n%include \"{up}d0.lua\"\n"));
    }
    let loader = Mem(files);
    let Ok(asm) = redlua_script::assemble::assemble(&loader, root, "lua/f0.lua") else {
        return;
    };
    check_invariants(&asm);
    let opts = redlua_script::Options {
        skip_lua: true,
        ..Default::default()
    };
    for f in redlua_script::check(&asm, &opts) {
        let _ = f.render(&asm);
        let _ = f.line_col(&asm);
    }
    let _ = redlua_script::rust_decl::declaration(&asm, "f");
});
