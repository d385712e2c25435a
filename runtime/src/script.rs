//! A script compiled into the program: its text, SHA1 and line map.

/// Where a line of an assembled script came from. Generated code builds
/// these; not public API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineOrigin {
    /// Index into [`Script::files`].
    pub file: u16,
    /// 1-based line in that file.
    pub line: u32,
    /// Index into the script's include sites of the `%include` that brought
    /// this file in; [`LineOrigin::TOP`] for the top-level file.
    pub via: u16,
}

impl LineOrigin {
    pub const TOP: u16 = u16::MAX;
}

/// A Lua script compiled into the program by `#[redis_script]`.
///
/// Everything here is a compile-time constant: the assembled source (with
/// includes expanded and directives rendered), its SHA1, and the map from
/// lines of the source back to the `.lua` files they came from.
pub struct Script {
    name: &'static str,
    path: &'static str,
    sha: &'static str,
    source: &'static str,
    read_only: bool,
    writes_without_keys: bool,
    files: &'static [&'static str],
    lines: &'static [LineOrigin],
    includes: &'static [LineOrigin],
    /// Coalesces the async callers' reload after a cache miss.
    #[cfg_attr(not(feature = "aio"), allow(dead_code))]
    reload: crate::reload::Reload,
}

// Not derived: the source and the line map would flood every error's
// `{:?}` (a batch error holds one `Script` per entry).
impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("sha1", &self.sha)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl Script {
    /// Used by generated code; not public API.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub const fn __new(
        name: &'static str,
        path: &'static str,
        sha: &'static str,
        source: &'static str,
        read_only: bool,
        files: &'static [&'static str],
        lines: &'static [LineOrigin],
        includes: &'static [LineOrigin],
    ) -> Script {
        Script {
            name,
            path,
            sha,
            source,
            read_only,
            writes_without_keys: false,
            files,
            lines,
            includes,
            reload: crate::reload::Reload::new(),
        }
    }

    #[cfg_attr(not(feature = "aio"), allow(dead_code))]
    pub(crate) fn reload(&self) -> &crate::reload::Reload {
        &self.reload
    }

    /// Marks a script that calls a write command but declares no `%key`:
    /// on a cluster connection its calls are refused before sending.
    /// Generated code chains it onto [`Script::__new`]; not public API.
    #[doc(hidden)]
    pub const fn __writes_without_keys(mut self) -> Script {
        self.writes_without_keys = true;
        self
    }

    /// The name of the Rust function the script was declared with.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The top-level `.lua` file, relative to the crate root (`lua/create_status.lua`).
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// SHA1 of [`Script::source`], lowercase hex: what `EVALSHA` is sent.
    pub fn sha1(&self) -> &'static str {
        self.sha
    }

    /// The assembled script exactly as Redis receives it.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// True for scripts whose first line is `#!lua flags=no-writes` (plus
    /// any other flags): they run with `EVALSHA_RO` and may be sent to
    /// replicas.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// True for a script that calls a write command but declares no
    /// `%key` (and has no `no-cluster` flag): a cluster client would send
    /// it to a random node, so on a cluster connection its calls are
    /// refused ([`ClusterRefusal::KeylessWrite`](crate::ClusterRefusal::KeylessWrite)).
    pub fn writes_without_keys(&self) -> bool {
        self.writes_without_keys
    }

    /// Every `.lua` file the script was assembled from, top-level first.
    pub fn files(&self) -> &'static [&'static str] {
        self.files
    }

    /// The chain of `(file, line)` that produced `line` (1-based) of the
    /// assembled source, outermost include site first, the line itself last.
    /// Empty when `line` is out of range.
    pub fn origin_of(&self, line: usize) -> Vec<(&'static str, u32)> {
        let Some(origin) = line.checked_sub(1).and_then(|i| self.lines.get(i)) else {
            return Vec::new();
        };
        let mut chain = vec![*origin];
        let mut via = origin.via;
        // An include site can only point at an earlier one, but bound the
        // walk anyway so a corrupt table cannot loop.
        while let Some(site) = self.includes.get(usize::from(via)) {
            if chain.len() > self.includes.len() {
                break;
            }
            chain.push(*site);
            via = site.via;
        }
        chain
            .iter()
            .rev()
            .map(|o| {
                (
                    self.files.get(usize::from(o.file)).copied().unwrap_or("?"),
                    o.line,
                )
            })
            .collect()
    }

    /// Line `line` (1-based) of the assembled source, if any.
    pub fn source_line(&self, line: usize) -> Option<&'static str> {
        line.checked_sub(1).and_then(|i| self.source.lines().nth(i))
    }
}
