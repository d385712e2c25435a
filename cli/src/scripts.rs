//! Finding the crate, its `.lua` files, and which of them are scripts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use redlua_script::{Assembled, SCRIPT_DIR};

/// A crate whose `lua/` folder holds scripts.
pub struct Crate {
    /// Canonical crate root.
    pub root: PathBuf,
    /// Canonical `root/lua`.
    pub lua: PathBuf,
}

/// A script to check.
pub struct Script {
    /// Relative to the crate root, `/`-separated: `lua/create_status.lua`.
    pub display: String,
    pub asm: Result<Assembled, String>,
}

impl Crate {
    /// The crate at `root`, or the nearest folder at or above `cwd` holding
    /// a `Cargo.toml`.
    pub fn find(cwd: &Path, root: Option<&Path>) -> Result<Crate, String> {
        let root = match root {
            Some(r) => cwd.join(r),
            None => cwd
                .ancestors()
                .find(|d| d.join("Cargo.toml").is_file())
                .ok_or_else(|| {
                    format!(
                        "no Cargo.toml in {} or above it\n  = help: run redlua inside a crate, or pass --root DIR",
                        cwd.display()
                    )
                })?
                .to_path_buf(),
        };
        let root = root
            .canonicalize()
            .map_err(|e| format!("cannot open the crate root {} ({e})", root.display()))?;
        let lua = root.join(SCRIPT_DIR);
        let lua = lua.canonicalize().map_err(|e| {
            format!(
                "the crate at {} has no {SCRIPT_DIR}/ folder ({e})\n  = help: scripts live in the crate's {SCRIPT_DIR}/ folder; pass --root DIR for another crate",
                root.display()
            )
        })?;
        Ok(Crate { root, lua })
    }

    /// `p` (relative to `cwd`) as a canonical path inside `lua/`.
    fn inside_lua(&self, cwd: &Path, p: &Path) -> Result<PathBuf, String> {
        let abs = cwd.join(p);
        let canon = abs
            .canonicalize()
            .map_err(|e| format!("cannot open {} ({e})", p.display()))?;
        if !canon.starts_with(&self.lua) {
            return Err(format!(
                "{} is not inside the crate's {SCRIPT_DIR}/ folder ({})\n  = help: scripts are checked where #[redis_script] reads them; pass --root DIR for another crate",
                p.display(),
                self.lua.display()
            ));
        }
        Ok(canon)
    }

    /// `path` relative to `lua/`, `/`-separated, as `#[redis_script]` writes it.
    fn rel(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.lua).unwrap_or(path);
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The script argument of `redlua show`: a file path (relative to the
    /// current folder) inside `lua/`, or else a path relative to `lua/`.
    pub fn script_arg(&self, cwd: &Path, file: &Path) -> Result<String, String> {
        if cwd.join(file).is_file() {
            return Ok(self.rel(&self.inside_lua(cwd, file)?));
        }
        let as_written = file.to_string_lossy().replace('\\', "/");
        if self.lua.join(&as_written).is_file() {
            return Ok(as_written);
        }
        Err(format!(
            "no script {} (looked in {} and in {})",
            file.display(),
            cwd.display(),
            self.lua.display()
        ))
    }

    /// The scripts to check: every script (see `SCRIPT_RULE`) under one of
    /// `paths` (default `lua/`) and under none of `exclude`, in path order;
    /// files named in `paths` are scripts whatever includes them.
    pub fn select(
        &self,
        cwd: &Path,
        paths: &[PathBuf],
        exclude: &[PathBuf],
    ) -> Result<Vec<Script>, String> {
        let wanted: Vec<PathBuf> = if paths.is_empty() {
            vec![self.lua.clone()]
        } else {
            paths
                .iter()
                .map(|p| self.inside_lua(cwd, p))
                .collect::<Result<_, _>>()?
        };
        let named: BTreeSet<PathBuf> = wanted.iter().filter(|p| p.is_file()).cloned().collect();
        let excluded: Vec<PathBuf> = exclude
            .iter()
            .map(|p| self.inside_lua(cwd, p))
            .collect::<Result<_, _>>()?;

        let mut files = Vec::new();
        walk(&self.lua, &mut files)
            .map_err(|e| format!("cannot list {}: {e}", self.lua.display()))?;
        files.sort();
        // Assemble every file once: what each reaches tells which are
        // include-only, and the scripts' assemblies are then checked.
        let mut all: BTreeMap<PathBuf, Result<Assembled, String>> = BTreeMap::new();
        for f in &files {
            all.insert(f.clone(), redlua_script::load(&self.root, &self.rel(f)));
        }
        let is_script = scripts_of(&self.root, &all);

        let mut out = Vec::new();
        for (path, asm) in all {
            let picked = named.contains(&path)
                || (is_script.contains(&path)
                    && wanted.iter().any(|w| path.starts_with(w))
                    && !excluded.iter().any(|x| path.starts_with(x)));
            if picked {
                out.push(Script {
                    display: format!("{SCRIPT_DIR}/{}", self.rel(&path)),
                    asm,
                });
            }
        }
        Ok(out)
    }
}

/// The files that are scripts: those no other file reaches by `%include`,
/// plus, for files that only reach each other (a cycle no script includes),
/// all of them.
fn scripts_of(
    root: &Path,
    all: &BTreeMap<PathBuf, Result<Assembled, String>>,
) -> BTreeSet<PathBuf> {
    let reached = |asm: &Assembled| -> Vec<PathBuf> {
        asm.files
            .iter()
            .skip(1)
            .map(|f| {
                f.abs_path
                    .canonicalize()
                    .unwrap_or_else(|_| root.join(&f.display))
            })
            .collect()
    };
    let mut included = BTreeSet::new();
    for (path, asm) in all {
        for r in asm.iter().flat_map(reached) {
            if &r != path {
                included.insert(r);
            }
        }
    }
    let mut scripts: BTreeSet<PathBuf> = all
        .keys()
        .filter(|p| !included.contains(*p))
        .cloned()
        .collect();
    let covered: BTreeSet<PathBuf> = scripts
        .iter()
        .filter_map(|s| all.get(s)?.as_ref().ok())
        .flat_map(reached)
        .collect();
    scripts.extend(
        included
            .into_iter()
            .filter(|p| all.contains_key(p) && !covered.contains(p)),
    );
    scripts
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "lua") {
            out.push(path);
        }
    }
    Ok(())
}
