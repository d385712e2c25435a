//! Which servers a crate's scripts run on, and what each one's Lua sandbox
//! has: the check accepts a global or library member only if every target
//! server has it, and says which of them lack it.
//!
//! The table is generated from the real servers of the test matrix
//! (`tools/gen_dialect.py` records them, `script/tools/gen_redis_commands.py`
//! writes `table`). A crate names its targets in its `Cargo.toml`:
//!
//! ```toml
//! [package.metadata.redlua]
//! servers = ["redis-7.0", "valkey-9.1"]
//! ```
//!
//! Without it, the targets are every server of the matrix, so a script
//! passes only with what all of them have.

use std::path::Path;

mod table;

/// One server's Lua sandbox.
#[derive(Debug)]
pub struct Dialect {
    /// The name a crate's `servers` list uses: `redis-7.0`, `valkey-9.1`.
    pub id: &'static str,
    /// The server and version the table was recorded from: `Redis 7.0.15`.
    pub server: &'static str,
    /// It runs `#!lua flags=...` scripts (Redis 7.0 and later, Valkey).
    pub script_flags: bool,
    /// The names a script can read in `_G`.
    pub globals: &'static [&'static str],
    /// The members of each library table (`string`, `redis`, `os`, ...).
    pub libraries: &'static [(&'static str, &'static [&'static str])],
}

impl Dialect {
    /// Whether the script's global environment has `name`.
    pub fn has_global(&self, name: &str) -> bool {
        self.globals.contains(&name)
    }

    /// The members of library `lib`, if the server has that table.
    pub fn members(&self, lib: &str) -> Option<&'static [&'static str]> {
        self.libraries
            .iter()
            .find(|(l, _)| *l == lib)
            .map(|(_, m)| *m)
    }
}

/// Every server the check knows, oldest first.
pub fn all() -> &'static [Dialect] {
    table::DIALECTS
}

/// The servers a crate targets.
#[derive(Debug, Clone)]
pub struct Targets(Vec<&'static Dialect>);

impl Default for Targets {
    /// Every server of the matrix.
    fn default() -> Self {
        Targets(all().iter().collect())
    }
}

impl Targets {
    /// The servers named in `ids` (`redis-7.0`, ...); an error naming the
    /// unknown ones and the known ones.
    pub fn from_ids<S: AsRef<str>>(ids: &[S]) -> Result<Targets, String> {
        let mut out = Vec::new();
        let mut unknown = Vec::new();
        for id in ids {
            match all().iter().find(|d| d.id == id.as_ref()) {
                Some(d) => out.push(d),
                None => unknown.push(format!("`{}`", id.as_ref())),
            }
        }
        if !unknown.is_empty() || out.is_empty() {
            let known: Vec<&str> = all().iter().map(|d| d.id).collect();
            return Err(format!(
                "unknown target server {}: the servers redlua knows are {}",
                if unknown.is_empty() {
                    "list (empty)".to_string()
                } else {
                    unknown.join(", ")
                },
                known.join(", ")
            ));
        }
        Ok(Targets(out))
    }

    /// The targets a crate's `Cargo.toml` names in
    /// `[package.metadata.redlua] servers`, or every server without it.
    pub fn from_manifest(manifest: &Path) -> Result<Targets, String> {
        let Ok(text) = std::fs::read_to_string(manifest) else {
            return Ok(Targets::default());
        };
        let doc: toml::Table = text
            .parse()
            .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
        let servers = doc
            .get("package")
            .and_then(|p| p.get("metadata"))
            .and_then(|m| m.get("redlua"))
            .and_then(|r| r.get("servers"));
        let Some(servers) = servers else {
            return Ok(Targets::default());
        };
        let ids: Option<Vec<&str>> = servers
            .as_array()
            .and_then(|a| a.iter().map(toml::Value::as_str).collect());
        let ids = ids.ok_or_else(|| {
            format!(
                "{}: `[package.metadata.redlua] servers` must be a list of server names, e.g. \
                 servers = [\"redis-7.0\", \"valkey-9.1\"]",
                manifest.display()
            )
        })?;
        Targets::from_ids(&ids).map_err(|e| format!("{}: {e}", manifest.display()))
    }

    /// The target servers.
    pub fn servers(&self) -> &[&'static Dialect] {
        &self.0
    }

    /// The targets that lack what `has` tests for, by id; empty when every
    /// target has it.
    pub fn lacking(&self, has: impl Fn(&Dialect) -> bool) -> Vec<&'static str> {
        self.0.iter().filter(|d| !has(d)).map(|d| d.id).collect()
    }

    /// The servers of the matrix, targets or not, that have what `has`
    /// tests for.
    pub fn having_anywhere(has: impl Fn(&Dialect) -> bool) -> Vec<&'static str> {
        all().iter().filter(|d| has(d)).map(|d| d.id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_and_its_differences() {
        let ids: Vec<&str> = all().iter().map(|d| d.id).collect();
        assert_eq!(
            ids,
            [
                "redis-6.2",
                "redis-7.0",
                "redis-8.2",
                "valkey-8.1",
                "valkey-9.1"
            ]
        );
        let t = Targets::default();
        assert_eq!(
            t.lacking(|d| d.has_global("os")),
            ["redis-6.2", "redis-7.0"]
        );
        assert_eq!(
            t.lacking(|d| d.has_global("server")),
            ["redis-6.2", "redis-7.0", "redis-8.2"]
        );
        assert_eq!(
            Targets::having_anywhere(|d| d.has_global("getfenv")),
            ["redis-6.2"]
        );
        assert!(t.lacking(|d| d.has_global("redis")).is_empty());
        assert_eq!(all()[1].members("os"), None);
        assert_eq!(all()[4].members("os"), Some(&["clock"][..]));
    }

    #[test]
    fn targets_from_names_and_manifests() {
        let t = Targets::from_ids(&["valkey-9.1", "redis-8.2"]).unwrap();
        assert!(t.lacking(|d| d.has_global("os")).is_empty());
        let e = Targets::from_ids(&["redis-7", "valkey-9.1"]).unwrap_err();
        assert!(
            e.contains("`redis-7`") && e.contains("redis-7.0, redis-8.2"),
            "{e}"
        );
        assert!(Targets::from_ids::<&str>(&[]).is_err());

        let dir = std::env::temp_dir().join(format!("redlua-targets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = dir.join("Cargo.toml");
        std::fs::write(
            &manifest,
            "[package]\nname = \"x\"\n[package.metadata.redlua]\nservers = [\"valkey-8.1\"]\n",
        )
        .unwrap();
        let t = Targets::from_manifest(&manifest).unwrap();
        assert_eq!(t.servers().len(), 1);
        std::fs::write(&manifest, "[package]\nname = \"x\"\n").unwrap();
        assert_eq!(
            Targets::from_manifest(&manifest).unwrap().servers().len(),
            5
        );
        std::fs::write(
            &manifest,
            "[package.metadata.redlua]\nservers = \"redis-7.0\"\n",
        )
        .unwrap();
        assert!(Targets::from_manifest(&manifest)
            .unwrap_err()
            .contains("must be a list"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
