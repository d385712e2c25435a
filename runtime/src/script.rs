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

/// `len` lines of an assembled script, from line `first` (1-based) on,
/// that came from consecutive lines of one file, starting at `line`: the
/// line map, one entry per run instead of per line (a 300-line script
/// without includes is one run, not 300 entries for rustc to check).
/// Generated code builds these; not public API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRun {
    pub first: u32,
    pub len: u32,
    pub file: u16,
    pub line: u32,
    pub via: u16,
}

impl LineRun {
    /// Lines `first..first + len` of the script, from line `line` of
    /// file `file` on, brought in by include site `via`.
    pub const fn new(first: u32, len: u32, file: u16, line: u32, via: u16) -> LineRun {
        LineRun {
            first,
            len,
            file,
            line,
            via,
        }
    }
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
    lines: &'static [LineRun],
    includes: &'static [LineOrigin],
    /// Coalesces the async callers' reload after a cache miss.
    #[cfg_attr(not(feature = "aio"), allow(dead_code))]
    reload: crate::reload::Reload,
    /// Set for `#[redis_function]`: run with `FCALL`, load with
    /// `FUNCTION LOAD`.
    function: Option<Function>,
}

/// How a `#[redis_function]` script is known to the server.
#[derive(Debug, Clone, Copy)]
struct Function {
    /// The library's and its function's name.
    name: &'static str,
    /// The library text for `FUNCTION LOAD`.
    library: &'static str,
    /// Library lines before line 1 of [`Script::source`].
    line_offset: u32,
}

// Not derived: the source and the line map would flood every error's
// `{:?}` (a batch error holds one `Script` per entry).
impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Script");
        d.field("name", &self.name)
            .field("path", &self.path)
            .field("sha1", &self.sha)
            .field("read_only", &self.read_only);
        if let Some(name) = self.function_name() {
            d.field("function", &name);
        }
        d.finish_non_exhaustive()
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
        lines: &'static [LineRun],
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
            function: None,
        }
    }

    /// Makes the script a Redis Function: `name` is its library's and its
    /// function's name, `library` the text for `FUNCTION LOAD`, in which
    /// line `n` of [`Script::source`] is line `n + line_offset`. Generated
    /// code chains it onto [`Script::__new`]; not public API.
    #[doc(hidden)]
    pub const fn __function(
        mut self,
        name: &'static str,
        library: &'static str,
        line_offset: u32,
    ) -> Script {
        self.function = Some(Function {
            name,
            library,
            line_offset,
        });
        self
    }

    /// True for a script declared with `#[redis_function]`: it runs with
    /// `FCALL` (`FCALL_RO` when read-only) and is loaded with
    /// `FUNCTION LOAD`.
    pub fn is_function(&self) -> bool {
        self.function.is_some()
    }

    /// For a `#[redis_function]` script, the name of its library and of
    /// the one function in it (`create_status_3f9a1c2e0b4d5a6f`): the Rust
    /// name and 16 hex digits of a hash of the library's text, so each
    /// version of the script has its own name.
    pub fn function_name(&self) -> Option<&'static str> {
        self.function.map(|f| f.name)
    }

    /// For a `#[redis_function]` script, the library text `FUNCTION LOAD`
    /// is sent: [`Script::source`] as the body of the registered function.
    pub fn library(&self) -> Option<&'static str> {
        self.function.map(|f| f.library)
    }

    /// The text the server loads: the library of a function, else the
    /// script.
    pub(crate) fn load_text(&self) -> &'static str {
        self.function.map_or(self.source, |f| f.library)
    }

    /// The command a call sends: `EVALSHA`, or `EVALSHA_RO` for a
    /// `no-writes` script; `FCALL`/`FCALL_RO` for a `#[redis_function]`.
    pub(crate) fn call_command(&self) -> &'static str {
        match (self.is_function(), self.is_read_only()) {
            (false, false) => "EVALSHA",
            (false, true) => "EVALSHA_RO",
            (true, false) => "FCALL",
            (true, true) => "FCALL_RO",
        }
    }

    /// What that command names the code by: the function's name, or the
    /// script's SHA1.
    pub(crate) fn call_target(&self) -> &'static str {
        self.function_name().unwrap_or(self.sha)
    }

    /// What the server answers a call whose code it lacks, for messages:
    /// `NOSCRIPT`, or `Function not found`.
    pub(crate) fn miss_code(&self) -> &'static str {
        if self.is_function() {
            "Function not found"
        } else {
            "NOSCRIPT"
        }
    }

    /// `SCRIPT LOAD` or `FUNCTION LOAD`, for messages.
    pub(crate) fn load_command(&self) -> &'static str {
        if self.is_function() {
            "FUNCTION LOAD"
        } else {
            "SCRIPT LOAD"
        }
    }

    /// What the server knows the loaded code by: two scripts with equal
    /// keys need one load. A script and a function of the same text are
    /// two loads.
    pub(crate) fn load_key(&self) -> (&'static str, Option<&'static str>) {
        (self.sha, self.function_name())
    }

    /// The line of [`Script::source`] that line `line` of the library is
    /// (the line a server names in a function's error); `line` itself for
    /// a script.
    pub(crate) fn source_line_of_loaded(&self, line: usize) -> Option<usize> {
        match self.function {
            Some(f) => line.checked_sub(f.line_offset as usize).filter(|&n| n > 0),
            None => Some(line),
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

    /// The assembled script exactly as Redis receives it (for a
    /// `#[redis_function]`, the body of the function in
    /// [`Script::library`]).
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
        let Some(origin) = self.line_origin(line) else {
            return Vec::new();
        };
        let mut chain = vec![origin];
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

    /// Where line `line` (1-based) of the assembled source came from.
    fn line_origin(&self, line: usize) -> Option<LineOrigin> {
        let line = u32::try_from(line).ok()?;
        // The runs are in order: the last one starting at or before `line`.
        let at = self.lines.partition_point(|r| r.first <= line);
        let run = self.lines.get(at.checked_sub(1)?)?;
        let offset = line - run.first;
        (offset < run.len).then(|| LineOrigin {
            file: run.file,
            line: run.line + offset,
            via: run.via,
        })
    }

    /// Line `line` (1-based) of the assembled source, if any.
    pub fn source_line(&self, line: usize) -> Option<&'static str> {
        line.checked_sub(1).and_then(|i| self.source.lines().nth(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Six lines: 1-2 from main.lua, 3-4 from lib.lua (included at main's
    /// line 3), 5-6 from main.lua's lines 4-5.
    static MAPPED: Script = Script::__new(
        "mapped",
        "lua/main.lua",
        "",
        "a\nb\nc\nd\ne\nf\n",
        false,
        &["lua/main.lua", "lua/lib.lua"],
        &[
            LineRun::new(1, 2, 0, 1, LineOrigin::TOP),
            LineRun::new(3, 2, 1, 1, 0),
            LineRun::new(5, 2, 0, 4, LineOrigin::TOP),
        ],
        &[LineOrigin {
            file: 0,
            line: 3,
            via: LineOrigin::TOP,
        }],
    );

    #[test]
    fn each_line_maps_back_through_its_run() {
        let main = |l| vec![("lua/main.lua", l)];
        assert_eq!(MAPPED.origin_of(1), main(1));
        assert_eq!(MAPPED.origin_of(2), main(2));
        assert_eq!(
            MAPPED.origin_of(3),
            vec![("lua/main.lua", 3), ("lua/lib.lua", 1)]
        );
        assert_eq!(
            MAPPED.origin_of(4),
            vec![("lua/main.lua", 3), ("lua/lib.lua", 2)]
        );
        assert_eq!(MAPPED.origin_of(5), main(4));
        assert_eq!(MAPPED.origin_of(6), main(5));
        // Outside the script: nothing.
        assert!(MAPPED.origin_of(0).is_empty());
        assert!(MAPPED.origin_of(7).is_empty());
        assert!(MAPPED.origin_of(usize::MAX).is_empty());
    }
}
