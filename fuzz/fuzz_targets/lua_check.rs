//! The whole check (header, then the Lua analysis of the assembled text) on
//! arbitrary text, seeded with the project's real scripts
//! (`fuzz/seed.sh`). The input is the top-level file; an `%include` it
//! writes finds no file, which is a diagnostic like any other.
#![no_main]

use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use redlua_script::Loader;

struct One(PathBuf, String);

impl Loader for One {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        if path == self.0 {
            Ok(self.1.clone())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not found",
            ))
        }
    }
}

/// What `check_declared` reports when the checker panicked (it catches the
/// panic so a build fails cleanly): a bug to find here. The whole message,
/// since a finding quotes the script (the fuzzer once wrote this text into
/// a header line). libFuzzer's panic hook aborts on the panic itself too.
const INTERNAL: &str = "redlua could not check this Lua script (internal error in the checker)";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let root = Path::new("/crate");
    let loader = One(root.join("lua/s.lua"), text.to_string());
    let Ok(asm) = redlua_script::assemble::assemble(&loader, root, "lua/s.lua") else {
        return;
    };
    let findings = redlua_script::check(&asm, &Default::default());
    for f in &findings {
        assert!(f.diagnostic.message != INTERNAL, "{}", f.render(&asm));
        let _ = f.render(&asm);
    }
});
