//! Phase 1b: expand `%include`s and render every directive to one Lua line,
//! giving the assembled script, its parameters and a line map.
//!
//! CONTRACT (shared with signature.rs, expand.rs, lua_check.rs): keep these
//! public types and `assemble`'s signature.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Span};
use crate::header::{self, Directive, ParsedFile, ReturnDecl, Type};

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
    /// `%keys` / `%args`: no Lua binding, the script reads KEYS/ARGV itself.
    pub passthrough: bool,
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
///
/// Rendering: every line of a file gives exactly one line of `source`, so
/// line numbers inside a file are kept. A directive line becomes one Lua line
/// (a `local` binding, or a `-- ` comment holding the directive's text for
/// `%return`, `%pragma once` and lines with errors). An `%include` line
/// becomes a comment line `-- %include "p"` (its `Origin` is the include
/// line itself), immediately followed by every line of the included file
/// (their `via` is that include). An include skipped by `%pragma once`, or
/// one that fails, leaves only the comment line.
pub fn assemble(loader: &dyn Loader, root: &Path, rel: &str) -> Result<Assembled, String> {
    let parts = lenient_parts(rel);
    let abs_path = join(root, &parts);
    let text = loader.load(&abs_path).map_err(|e| {
        format!(
            "cannot read the script `{}` ({e})\n  = help: script paths are relative to the crate's \
             `lua/` folder ({}/lua/) and include the `.lua` suffix",
            rel,
            root.display()
        )
    })?;
    let display = if parts.is_empty() {
        rel.to_string()
    } else {
        parts.join("/")
    };
    let ends_with_newline = text.ends_with('\n');
    let mut asm = Asm {
        loader,
        root,
        out: Assembled::default(),
        rendered: Vec::new(),
        parsed: Vec::new(),
        parts: Vec::new(),
        by_display: HashMap::new(),
        include_spans: Vec::new(),
        once_done: HashSet::new(),
        stack: Vec::new(),
        keys: 0,
        args: 0,
        first_decl: HashMap::new(),
        reported_twice: HashSet::new(),
        first_return: None,
        expansions: 0,
    };
    let top = asm.add_file(abs_path, display, parts, text);
    asm.flags(top);
    asm.expand(top, None);
    asm.check_variadics();
    let mut out = asm.out;
    // A file inlined twice would report its own problems (a cycle, a
    // missing include) once per copy: keep the first.
    let mut seen = HashSet::new();
    out.errors
        .retain(|d| seen.insert((d.file, d.span.start, d.span.end, d.message.clone())));
    out.source = asm.rendered.join("\n");
    if ends_with_newline {
        out.source.push('\n');
    }
    Ok(out)
}

/// Flags Redis accepts in a script's `#!lua flags=...` line.
const FLAGS: &[&str] = &[
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// More inlined files than this is surely a blow-up (files without
/// `%pragma once` including each other several times).
const MAX_EXPANSIONS: usize = 10_000;

/// Deeper include chains than this are refused: no real script needs them,
/// and each level is a frame of the (recursive) assembler.
pub const MAX_INCLUDE_DEPTH: usize = 64;

struct Asm<'a> {
    loader: &'a dyn Loader,
    root: &'a Path,
    out: Assembled,
    /// One entry per line of the script, without newline.
    rendered: Vec<String>,
    /// Parallel to `out.files`.
    parsed: Vec<ParsedFile>,
    /// Parallel to `out.files`: the display path split on `/`.
    parts: Vec<Vec<String>>,
    by_display: HashMap<String, usize>,
    /// Parallel to `out.includes`: the span of each include's path.
    include_spans: Vec<Span>,
    /// Files with `%pragma once` that were inlined already.
    once_done: HashSet<usize>,
    /// Files being inlined, outermost first (to find cycles).
    stack: Vec<usize>,
    keys: usize,
    args: usize,
    /// Name -> index into `out.params` of its first declaration.
    first_decl: HashMap<String, usize>,
    /// Include sites already reported as re-including a file.
    reported_twice: HashSet<usize>,
    /// Line of the top-level file's first `%return`.
    first_return: Option<usize>,
    expansions: usize,
}

/// Splits `rel` on `/`, dropping empty and `.` parts and folding `..` where
/// it can (a leading `..` is kept: such a file lies outside the root).
fn lenient_parts(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for part in rel.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| p != "..") => {
                parts.pop();
            }
            _ => parts.push(part.to_string()),
        }
    }
    parts
}

fn join(root: &Path, parts: &[String]) -> PathBuf {
    let mut path = root.to_path_buf();
    for part in parts {
        path.push(part);
    }
    path
}

/// Why an include path cannot be resolved.
enum Resolve {
    /// `..` climbs above the crate root.
    Escapes,
    /// The last component is `.` or `..`: a folder, not a file.
    Folder,
}

/// The parts of `path` (as written, `/`-separated, no `.lua`) relative to
/// the folder `dir`, with `.lua` appended to the last part.
fn resolve(dir: &[String], path: &str) -> Result<Vec<String>, Resolve> {
    let mut parts: Vec<String> = dir.to_vec();
    if parts.first().is_some_and(|p| p == "..") {
        return Err(Resolve::Escapes);
    }
    let last = path.rsplit('/').next().unwrap_or(path);
    if matches!(last, "" | "." | "..") {
        return Err(Resolve::Folder);
    }
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(Resolve::Escapes);
                }
            }
            _ => parts.push(part.to_string()),
        }
    }
    match parts.last_mut() {
        Some(last) => last.push_str(".lua"),
        None => return Err(Resolve::Folder),
    }
    Ok(parts)
}

/// `expr` (a KEYS/ARGV element, always a string) converted to `ty`.
fn convert(ty: Type, expr: &str) -> String {
    match ty {
        // `redis` is refused for `%arg` by the signature check.
        Type::Str | Type::Bytes | Type::Redis => expr.to_string(),
        Type::Int | Type::Float => format!("tonumber({expr})"),
        Type::Bool => format!("tonumber({expr}) ~= 0"),
        Type::List | Type::Dict | Type::Json => format!("cjson.decode({expr})"),
    }
}

/// One Lua line binding `name` to element `index` of `table` (`KEYS` or
/// `ARGV`), or to a table of the elements from `index` on when variadic.
fn binding(name: &str, table: &str, index: usize, ty: Type, variadic: bool) -> String {
    if !variadic {
        return format!(
            "local {name} = {}",
            convert(ty, &format!("{table}[{index}]"))
        );
    }
    // A loop, not `{unpack(...)}`: unpack overflows Lua's C stack past
    // about 8000 values.
    let slot = match index - 1 {
        0 => "redlua_i".to_string(),
        offset => format!("redlua_i - {offset}"),
    };
    format!(
        "local {name} = {{}} for redlua_i = {index}, #{table} do {name}[{slot}] = {} end",
        convert(ty, &format!("{table}[redlua_i]"))
    )
}

impl Asm<'_> {
    /// Records a newly read file and its header errors; returns its index.
    fn add_file(
        &mut self,
        abs_path: PathBuf,
        display: String,
        parts: Vec<String>,
        text: String,
    ) -> usize {
        let index = self.out.files.len();
        let parsed = header::parse_file(index, &text);
        self.out.errors.extend(parsed.errors.iter().cloned());
        if let (Some(span), true) = (parsed.shebang, index != 0) {
            let top = self.out.files.first().map_or("", |f| f.display.as_str());
            let d = Diagnostic::new(index, span, "a `#!lua` line in an included file")
                .label("only the top-level script may have one")
                .help(format!(
                    "flags belong in the top-level script: move this line to the first line of {top}"
                ));
            self.out.errors.push(d);
        }
        self.by_display.insert(display.clone(), index);
        self.out.files.push(SourceFile {
            abs_path,
            display,
            text,
        });
        self.parsed.push(parsed);
        self.parts.push(parts);
        index
    }

    /// Reads the `flags=` of the top-level file's shebang.
    fn flags(&mut self, file: usize) {
        let Some(span) = self.parsed[file].shebang else {
            return;
        };
        let text = &self.out.files[file].text;
        let line = &text[span.start..span.end];
        let mut errors = Vec::new();
        let mut flags = Vec::new();
        // `#!lua` then blank-separated options, as Redis splits them.
        let mut pos = "#!lua".len();
        for word in line[pos..].split([' ', '\t']) {
            let start = span.start + pos;
            pos += word.len() + 1;
            if word.is_empty() {
                continue;
            }
            let word_span = Span::new(start, start + word.len());
            let Some(list) = word.strip_prefix("flags=") else {
                errors.push(
                    Diagnostic::new(file, word_span, format!("unknown shebang option `{word}`"))
                        .label("not an option Redis knows")
                        .help(
                            "the only option of a script's `#!lua` line is `flags=`, with the \
                             flags separated by `,` and no blanks, e.g. `#!lua flags=no-writes,allow-stale`",
                        ),
                );
                continue;
            };
            if list.is_empty() {
                continue;
            }
            let mut at = start + "flags=".len();
            for flag in list.split(',') {
                let flag_span = Span::new(at, at + flag.len());
                at += flag.len() + 1;
                let name = flag.trim();
                if name.is_empty() {
                    // Point at the comma before it (after it for a leading one).
                    let list_start = start + "flags=".len();
                    let comma = if flag_span.start > list_start {
                        flag_span.start - 1
                    } else {
                        flag_span.start
                    };
                    let comma = Span::new(comma, comma + 1);
                    errors.push(
                        Diagnostic::new(file, comma, "empty flag in `flags=`")
                            .label("no flag here")
                            .help("remove the extra `,`: Redis refuses empty flags"),
                    );
                    continue;
                }
                if !FLAGS.contains(&name) {
                    let help = match crate::diag::closest(name, FLAGS.iter().copied()) {
                        Some(s) => {
                            format!("did you mean `{s}`? The flags are {}", FLAGS.join(", "))
                        }
                        None => format!("the flags are {}", FLAGS.join(", ")),
                    };
                    errors.push(
                        Diagnostic::new(file, flag_span, format!("unknown script flag `{name}`"))
                            .label("Redis would refuse this script")
                            .help(help),
                    );
                }
                flags.push(name.to_string());
            }
        }
        self.out.flags = flags;
        self.out.errors.extend(errors);
    }

    /// Where `file` stands, for notes: `a.lua is included from b.lua:3, ...`.
    fn chain_note(&self, file: usize, via: Option<usize>) -> Option<String> {
        let mut via = via?;
        let mut note = format!("{} is included", self.out.files[file].display);
        let mut first = true;
        loop {
            let site = self.out.includes[via];
            if !first {
                note.push_str(", which is included");
            }
            first = false;
            note.push_str(&format!(
                " from {}:{}",
                self.out.files[site.file].display, site.line
            ));
            match site.via {
                Some(v) => via = v,
                None => return Some(note),
            }
        }
    }

    fn push_error(&mut self, mut d: Diagnostic, via: Option<usize>) {
        if let Some(note) = self.chain_note(d.file, via) {
            d = d.note(note);
        }
        self.out.errors.push(d);
    }

    /// `display:line` of a span in a file.
    fn place(&self, file: usize, span: Span) -> String {
        let f = &self.out.files[file];
        let (line, _) = crate::diag::line_of(&f.text, span.start);
        format!("{}:{line}", f.display)
    }

    fn emit(&mut self, line: String, origin: Origin) {
        self.rendered.push(line);
        self.out.lines.push(origin);
    }

    /// Renders every line of `file` (brought in by include `via`).
    fn expand(&mut self, file: usize, via: Option<usize>) {
        self.stack.push(file);
        let parsed = &self.parsed[file];
        if parsed
            .lines
            .iter()
            .any(|l| l.directive == Directive::PragmaOnce)
        {
            self.once_done.insert(file);
        }
        let shebang = parsed.shebang;
        let parsed_code_start = parsed.code_start;
        let mut directives: HashMap<usize, header::Line> =
            parsed.lines.iter().map(|l| (l.number, l.clone())).collect();
        let text = self.out.files[file].text.clone();
        for (i, span) in header::split_lines(&text).into_iter().enumerate() {
            let number = i + 1;
            let origin = Origin {
                file,
                line: number,
                via,
            };
            let content = &text[span.start..span.end];
            let trimmed = content.trim_start_matches([' ', '\t', '\x0b', '\x0c']);
            let indent = &content[..content.len() - trimmed.len()];
            let comment = format!("{indent}-- {}", trimmed.trim_end());
            if number == 1 && shebang.is_some() {
                if file == 0 {
                    // Kept verbatim (with its `\r`, if any).
                    let end = if text[span.end..].starts_with('\r') {
                        span.end + 1
                    } else {
                        span.end
                    };
                    self.emit(text[span.start..end].to_string(), origin);
                } else {
                    self.emit(comment, origin);
                }
                continue;
            }
            if let Some(line) = directives.remove(&number) {
                self.directive(line, indent, comment, origin);
            } else if trimmed.starts_with('%') && number < parsed_code_start {
                // A directive line with errors (reported by the header parser).
                self.emit(comment, origin);
            } else {
                let end = if text[span.end..].starts_with('\r') {
                    span.end + 1
                } else {
                    span.end
                };
                self.emit(text[span.start..end].to_string(), origin);
            }
        }
        self.stack.pop();
    }

    fn directive(&mut self, line: header::Line, indent: &str, comment: String, origin: Origin) {
        let file = origin.file;
        match line.directive {
            Directive::Key(k) => {
                self.keys += 1;
                let index = self.keys;
                self.emit(
                    format!(
                        "{indent}{}",
                        binding(&k.name, "KEYS", index, Type::Str, k.variadic)
                    ),
                    origin,
                );
                self.param(
                    Param {
                        name: k.name,
                        kind: ParamKind::Key,
                        variadic: k.variadic,
                        passthrough: false,
                        index,
                        file,
                        name_span: k.name_span,
                        ty_span: k.name_span,
                    },
                    origin.via,
                );
            }
            Directive::Arg(a) => {
                self.args += 1;
                let index = self.args;
                self.emit(
                    format!(
                        "{indent}{}",
                        binding(&a.name, "ARGV", index, a.ty, a.variadic)
                    ),
                    origin,
                );
                self.param(
                    Param {
                        name: a.name,
                        kind: ParamKind::Arg(a.ty),
                        variadic: a.variadic,
                        passthrough: false,
                        index,
                        file,
                        name_span: a.name_span,
                        ty_span: a.ty_span,
                    },
                    origin.via,
                );
            }
            Directive::PassKeys(k) => {
                self.keys += 1;
                self.emit(comment, origin);
                let param = Param {
                    name: k.name,
                    kind: ParamKind::Key,
                    variadic: true,
                    passthrough: true,
                    index: self.keys,
                    file,
                    name_span: k.name_span,
                    ty_span: k.name_span,
                };
                self.param(param, origin.via);
            }
            Directive::PassArgs(a) => {
                self.args += 1;
                self.emit(comment, origin);
                let param = Param {
                    name: a.name,
                    kind: ParamKind::Arg(a.ty),
                    variadic: true,
                    passthrough: true,
                    index: self.args,
                    file,
                    name_span: a.name_span,
                    ty_span: a.ty_span,
                };
                self.param(param, origin.via);
            }
            Directive::Return(decl) => {
                self.emit(comment, origin);
                if file != 0 {
                    return; // Included files' %return is ignored.
                }
                match self.first_return {
                    None => {
                        self.first_return = Some(line.number);
                        self.out.ret = Some(Return { decl, file });
                    }
                    Some(first) => {
                        let display = &self.out.files[file].display;
                        let d = Diagnostic::new(file, line.span, "a second `%return`")
                            .label("second `%return`")
                            .note(format!("the first `%return` is at {display}:{first}"))
                            .help("a script has one return type: keep one of the `%return` lines");
                        self.out.errors.push(d);
                    }
                }
            }
            Directive::PragmaOnce => self.emit(comment, origin),
            Directive::Include { path, path_span } => {
                self.emit(comment, origin);
                self.include(&path, path_span, origin);
            }
        }
    }

    /// Records a parameter and reports a name declared before.
    fn param(&mut self, param: Param, via: Option<usize>) {
        let index = self.out.params.len();
        let Some(&first_index) = self.first_decl.get(&param.name) else {
            self.first_decl.insert(param.name.clone(), index);
            self.out.params.push(param);
            return;
        };
        let first = &self.out.params[first_index];
        let what = |p: &Param| match p.kind {
            ParamKind::Key => "%key",
            ParamKind::Arg(_) => "%arg",
        };
        if first.file == param.file && first.name_span == param.name_span {
            // The same file inlined twice: report once, at the include.
            if let Some(v) = via {
                if self.reported_twice.insert(v) {
                    let site = self.out.includes[v];
                    let span = self.include_spans[v];
                    let display = self.out.files[param.file].display.clone();
                    let first_site = self
                        .out
                        .lines
                        .iter()
                        .find(|o| o.file == param.file)
                        .and_then(|o| o.via)
                        .map(|fv| self.out.includes[fv]);
                    let mut d = Diagnostic::new(
                        site.file,
                        span,
                        format!(
                            "`{display}` is included a second time, so its `{} {}` is declared twice",
                            what(&param),
                            param.name
                        ),
                    )
                    .label("included again here")
                    .help(format!(
                        "add `%pragma once` to {display} so only its first include is inlined, \
                         or remove this `%include`"
                    ));
                    if let Some(fs) = first_site {
                        d = d.note(format!(
                            "first included from {}:{}",
                            self.out.files[fs.file].display, fs.line
                        ));
                    }
                    self.push_error(d, site.via);
                }
            }
        } else {
            let d = Diagnostic::new(
                param.file,
                param.name_span,
                format!("`{}` is declared twice", param.name),
            )
            .label("declared again here")
            .note(format!(
                "first declared as `{} {}` at {}",
                what(first),
                first.name,
                self.place(first.file, first.name_span)
            ))
            .help(format!(
                "keys and args share one name space: rename one of them, e.g. `{}_2`",
                param.name
            ));
            self.push_error(d, via);
        }
        self.out.params.push(param);
    }

    /// Inlines the file named by an `%include` of `origin.file`.
    fn include(&mut self, path: &str, path_span: Span, origin: Origin) {
        let file = origin.file;
        let from = self.out.files[file].display.clone();
        let dir = {
            let parts = &self.parts[file];
            parts[..parts.len().saturating_sub(1)].to_vec()
        };
        let dir_shown = if dir.is_empty() {
            "the crate root".to_string()
        } else {
            format!("`{}/`", dir.join("/"))
        };
        let parts = match resolve(&dir, path) {
            Ok(parts) => parts,
            Err(Resolve::Escapes) => {
                let d = Diagnostic::new(
                    file,
                    path_span,
                    format!("include path `{path}` leads outside the crate root"),
                )
                .label("leaves the crate")
                .help(format!(
                    "include paths are relative to the folder of {from} ({dir_shown}); \
                     keep the included file inside the crate and use fewer `..`"
                ));
                self.push_error(d, origin.via);
                return;
            }
            Err(Resolve::Folder) => {
                let d = Diagnostic::new(
                    file,
                    path_span,
                    format!("include path `{path}` names a folder, not a file"),
                )
                .label("not a file")
                .help("name a file, without its `.lua` suffix, e.g. `%include \"lib/keys\"`");
                self.push_error(d, origin.via);
                return;
            }
        };
        let display = parts.join("/");
        let target = match self.by_display.get(&display) {
            Some(&index) => index,
            None => {
                let abs_path = join(self.root, &parts);
                match self.loader.load(&abs_path) {
                    Ok(text) => self.add_file(abs_path, display.clone(), parts, text),
                    Err(e) => {
                        let (message, label) = if e.kind() == std::io::ErrorKind::NotFound {
                            (
                                format!("cannot find included file `{display}`"),
                                "not found".to_string(),
                            )
                        } else {
                            (
                                format!("cannot read included file `{display}`"),
                                e.to_string(),
                            )
                        };
                        let d = Diagnostic::new(file, path_span, message)
                            .label(label)
                            .note(format!("looked for {}", abs_path.display()))
                            .help(format!(
                                "include paths are relative to the folder of {from} ({dir_shown}), \
                                 without the `.lua` suffix; check the spelling"
                            ));
                        self.push_error(d, origin.via);
                        return;
                    }
                }
            }
        };
        if let Some(pos) = self.stack.iter().position(|&f| f == target) {
            let mut chain: Vec<&str> = self.stack[pos..]
                .iter()
                .map(|&f| self.out.files[f].display.as_str())
                .collect();
            chain.push(&self.out.files[target].display);
            let d = Diagnostic::new(
                file,
                path_span,
                format!("include cycle: {}", chain.join(" -> ")),
            )
            .label("closes the cycle")
            .help(
                "remove this `%include`, or move what both files need into a third file that \
                 each of them includes",
            );
            self.push_error(d, origin.via);
            return;
        }
        if self.once_done.contains(&target) {
            return; // `%pragma once`: inlined already.
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            let d = Diagnostic::new(
                file,
                path_span,
                format!("includes nested more than {MAX_INCLUDE_DEPTH} levels deep"),
            )
            .label("one level too many")
            .note(format!(
                "the chain starts {}",
                self.stack
                    .iter()
                    .take(3)
                    .map(|&f| self.out.files[f].display.as_str())
                    .collect::<Vec<_>>()
                    .join(" -> ")
            ))
            .help(
                "flatten the includes: let the top-level script include the files it needs \
                 directly, with `%pragma once` in files included from several places",
            );
            self.push_error(d, origin.via);
            return;
        }
        self.expansions += 1;
        if self.expansions > MAX_EXPANSIONS {
            if self.expansions == MAX_EXPANSIONS + 1 {
                let d = Diagnostic::new(
                    file,
                    path_span,
                    format!("more than {MAX_EXPANSIONS} files inlined into one script"),
                )
                .label("one include too many")
                .help(
                    "add `%pragma once` to the files that are included from several places, \
                     so each is inlined once",
                );
                self.push_error(d, origin.via);
            }
            return;
        }
        self.out.includes.push(origin);
        self.include_spans.push(path_span);
        let via = self.out.includes.len() - 1;
        self.expand(target, Some(via));
    }

    /// A variadic key (arg) takes all remaining KEYS (ARGV): it must be last.
    fn check_variadics(&mut self) {
        let mut errors = Vec::new();
        for is_key in [true, false] {
            let of_kind: Vec<&Param> = self
                .out
                .params
                .iter()
                .filter(|p| matches!(p.kind, ParamKind::Key) == is_key)
                .collect();
            let directive = if is_key { "%key" } else { "%arg" };
            for (i, p) in of_kind.iter().enumerate() {
                let Some(next) = of_kind.get(i + 1) else {
                    continue;
                };
                if !p.variadic {
                    continue;
                }
                let last = of_kind.last().map_or(*next, |l| *l);
                let d = Diagnostic::new(
                    p.file,
                    p.name_span,
                    format!("variadic `{directive} {}` is not the last {directive}", p.name),
                )
                .label("takes all the remaining values")
                .note(format!(
                    "`{directive} {}` comes after it, at {}",
                    next.name,
                    self.place(next.file, next.name_span)
                ))
                .help(format!(
                    "only the last {directive} can be variadic: move `{directive} {}` below `{directive} {}`, \
                     or make it a single value",
                    p.name, last.name
                ));
                errors.push(d);
            }
        }
        self.out.errors.extend(errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory file tree under `/crate`.
    struct Mem(HashMap<PathBuf, String>);

    impl Loader for Mem {
        fn load(&self, path: &Path) -> std::io::Result<String> {
            self.0.get(path).cloned().ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")
            })
        }
    }

    fn tree(files: &[(&str, &str)]) -> Mem {
        Mem(files
            .iter()
            .map(|(p, t)| (Path::new("/crate").join(p), t.to_string()))
            .collect())
    }

    fn run(files: &[(&str, &str)], top: &str) -> Assembled {
        match assemble(&tree(files), Path::new("/crate"), top) {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        }
    }

    fn ok(files: &[(&str, &str)], top: &str) -> Assembled {
        let a = run(files, top);
        assert!(a.errors.is_empty(), "{:#?}", a.errors);
        check_invariants(&a);
        a
    }

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
            assert!(d.help.is_some(), "{d:?}");
        }
    }

    /// Span of the first `needle` in file `file` of `a`.
    fn span_in(a: &Assembled, file: usize, needle: &str) -> Span {
        let text = &a.files[file].text;
        let i = text.find(needle).expect("needle");
        Span::new(i, i + needle.len())
    }

    fn file_index(a: &Assembled, display: &str) -> usize {
        a.files
            .iter()
            .position(|f| f.display == display)
            .expect("file read")
    }

    #[test]
    fn renders_the_exact_script() {
        let a = ok(
            &[
                (
                    "lua/create_status.lua",
                    "#!lua flags=allow-oom,no-writes\n\
                     %key user\n\
                     %include \"lib/common\"\n\
                     %arg text\n\
                     %arg raw bytes\n\
                     %arg count integer\n\
                     %arg ratio float\n\
                     %arg flag bool\n\
                     %arg tags list\n\
                     %arg meta dict\n\
                     %arg blob json\n\
                     %arg rest int...\n\
                     %return str?[]\n\
                     return {user, text}\n",
                ),
                (
                    "lua/lib/common.lua",
                    "%pragma once\n  %key counter\nlocal function f() return 1 end\n",
                ),
            ],
            "lua/create_status.lua",
        );
        assert_eq!(
            a.source,
            "#!lua flags=allow-oom,no-writes\n\
             local user = KEYS[1]\n\
             -- %include \"lib/common\"\n\
             -- %pragma once\n  \
             local counter = KEYS[2]\n\
             local function f() return 1 end\n\
             local text = ARGV[1]\n\
             local raw = ARGV[2]\n\
             local count = tonumber(ARGV[3])\n\
             local ratio = tonumber(ARGV[4])\n\
             local flag = tonumber(ARGV[5]) ~= 0\n\
             local tags = cjson.decode(ARGV[6])\n\
             local meta = cjson.decode(ARGV[7])\n\
             local blob = cjson.decode(ARGV[8])\n\
             local rest = {} for redlua_i = 9, #ARGV do rest[redlua_i - 8] = tonumber(ARGV[redlua_i]) end\n\
             -- %return str?[]\n\
             return {user, text}\n"
        );
        assert_eq!(a.flags, vec!["allow-oom", "no-writes"]);
        let names: Vec<(&str, usize)> = a
            .params
            .iter()
            .map(|p| (p.name.as_str(), p.index))
            .collect();
        assert_eq!(
            names,
            vec![
                ("user", 1),
                ("counter", 2),
                ("text", 1),
                ("raw", 2),
                ("count", 3),
                ("ratio", 4),
                ("flag", 5),
                ("tags", 6),
                ("meta", 7),
                ("blob", 8),
                ("rest", 9),
            ]
        );
        assert_eq!(a.params[1].kind, ParamKind::Key);
        assert_eq!(a.params[1].file, 1);
        assert_eq!(a.params[1].name_span, span_in(&a, 1, "counter"));
        assert_eq!(a.params[4].kind, ParamKind::Arg(Type::Int));
        assert!(a.params[10].variadic);
        assert_eq!(a.params[10].ty_span, span_in(&a, 0, "int..."));
        let ret = a.ret.as_ref().expect("a return");
        assert_eq!(ret.file, 0);
        assert!(ret.decl.array && ret.decl.elem_optional && !ret.decl.optional);
        assert_eq!(
            a.lines[..7],
            [
                Origin {
                    file: 0,
                    line: 1,
                    via: None
                },
                Origin {
                    file: 0,
                    line: 2,
                    via: None
                },
                Origin {
                    file: 0,
                    line: 3,
                    via: None
                },
                Origin {
                    file: 1,
                    line: 1,
                    via: Some(0)
                },
                Origin {
                    file: 1,
                    line: 2,
                    via: Some(0)
                },
                Origin {
                    file: 1,
                    line: 3,
                    via: Some(0)
                },
                Origin {
                    file: 0,
                    line: 4,
                    via: None
                },
            ]
        );
        assert_eq!(
            a.includes,
            vec![Origin {
                file: 0,
                line: 3,
                via: None
            }]
        );
        assert_eq!(a.files[1].display, "lua/lib/common.lua");
        assert_eq!(a.files[1].abs_path, Path::new("/crate/lua/lib/common.lua"));
        assert_eq!(
            a.files[0].abs_path,
            Path::new("/crate/lua/create_status.lua")
        );
    }

    #[test]
    fn shebang_flags() {
        let a = ok(
            &[("lua/a.lua", "#!lua flags=no-writes,allow-stale\nreturn 1")],
            "lua/a.lua",
        );
        assert_eq!(a.flags, vec!["no-writes", "allow-stale"]);
        assert_eq!(a.source, "#!lua flags=no-writes,allow-stale\nreturn 1");
        let a = ok(&[("lua/a.lua", "#!lua\nreturn 1\n")], "lua/a.lua");
        assert!(a.flags.is_empty());
        let a = ok(&[("lua/a.lua", "#!lua flags=\nreturn 1\n")], "lua/a.lua");
        assert!(a.flags.is_empty());
    }

    #[test]
    fn shebang_flag_errors() {
        let a = run(
            &[(
                "lua/a.lua",
                "#!lua flags=no-write,,allow-oom name=x\nreturn 1\n",
            )],
            "lua/a.lua",
        );
        check_invariants(&a);
        assert_eq!(a.errors.len(), 3, "{:#?}", a.errors);
        assert_eq!(a.errors[0].span, span_in(&a, 0, "no-write"));
        assert_eq!(a.errors[0].message, "unknown script flag `no-write`");
        assert!(a.errors[0]
            .help
            .as_deref()
            .unwrap_or("")
            .starts_with("did you mean `no-writes`?"));
        assert_eq!(a.errors[1].span, Span::new(20, 21));
        assert_eq!(a.errors[1].message, "empty flag in `flags=`");
        assert_eq!(a.errors[2].span, span_in(&a, 0, "name=x"));
        assert_eq!(a.errors[2].message, "unknown shebang option `name=x`");
        assert_eq!(a.flags, vec!["no-write", "allow-oom"]);
    }

    #[test]
    fn variadic_keys_and_conversions() {
        let a = ok(
            &[(
                "lua/v.lua",
                "%key first\n%key others...\n%arg a\n%arg b\n%arg flags bool...\n",
            )],
            "lua/v.lua",
        );
        assert_eq!(
            a.source,
            "local first = KEYS[1]\n\
             local others = {} for redlua_i = 2, #KEYS do others[redlua_i - 1] = KEYS[redlua_i] end\n\
             local a = ARGV[1]\n\
             local b = ARGV[2]\n\
             local flags = {} for redlua_i = 3, #ARGV do flags[redlua_i - 2] = tonumber(ARGV[redlua_i]) ~= 0 end\n"
        );
        let a = ok(
            &[("lua/v.lua", "%key ks...\n%arg docs json...")],
            "lua/v.lua",
        );
        assert_eq!(
            a.source,
            "local ks = {} for redlua_i = 1, #KEYS do ks[redlua_i] = KEYS[redlua_i] end\n\
             local docs = {} for redlua_i = 1, #ARGV do docs[redlua_i] = cjson.decode(ARGV[redlua_i]) end"
        );
        let a = ok(&[("lua/v.lua", "%arg a float\n%arg s...")], "lua/v.lua");
        assert_eq!(
            a.source,
            "local a = tonumber(ARGV[1])\n\
             local s = {} for redlua_i = 2, #ARGV do s[redlua_i - 1] = ARGV[redlua_i] end"
        );
    }

    #[test]
    fn variadic_not_last() {
        let a = run(
            &[
                (
                    "lua/v.lua",
                    "%key ks...\n%include \"more\"\n%arg xs int...\n%arg y\n",
                ),
                ("lua/more.lua", "%key k\n"),
            ],
            "lua/v.lua",
        );
        check_invariants(&a);
        assert_eq!(a.errors.len(), 2, "{:#?}", a.errors);
        assert_eq!(a.errors[0].span, span_in(&a, 0, "ks"));
        assert_eq!(
            a.errors[0].message,
            "variadic `%key ks` is not the last %key"
        );
        assert!(a.errors[0].notes[0].contains("lua/more.lua:1"));
        assert!(a.errors[0]
            .help
            .as_deref()
            .unwrap_or("")
            .starts_with("only the last %key can be variadic"));
        assert_eq!(a.errors[1].span, span_in(&a, 0, "xs"));
        assert!(a.errors[1]
            .help
            .as_deref()
            .unwrap_or("")
            .starts_with("only the last %arg can be variadic"));
    }

    #[test]
    fn includes_in_subfolders_with_dotdot_and_nesting() {
        let a = ok(
            &[
                (
                    "lua/jobs/run.lua",
                    "%key job\n%include \"../lib/keys\"\nreturn 1\n",
                ),
                (
                    "lua/lib/keys.lua",
                    "-- keys\n%include \"./util/./names\"\n%key queue\n",
                ),
                ("lua/lib/util/names.lua", "%arg name\nlocal x = name\n"),
            ],
            "lua/jobs/run.lua",
        );
        let displays: Vec<&str> = a.files.iter().map(|f| f.display.as_str()).collect();
        assert_eq!(
            displays,
            [
                "lua/jobs/run.lua",
                "lua/lib/keys.lua",
                "lua/lib/util/names.lua"
            ]
        );
        assert_eq!(
            a.files[2].abs_path,
            Path::new("/crate/lua/lib/util/names.lua")
        );
        assert_eq!(a.files[2].text, "%arg name\nlocal x = name\n");
        assert_eq!(
            a.source,
            "local job = KEYS[1]\n\
             -- %include \"../lib/keys\"\n\
             -- keys\n\
             -- %include \"./util/./names\"\n\
             local name = ARGV[1]\n\
             local x = name\n\
             local queue = KEYS[2]\n\
             return 1\n"
        );
        assert_eq!(
            a.includes,
            vec![
                Origin {
                    file: 0,
                    line: 2,
                    via: None
                },
                Origin {
                    file: 1,
                    line: 2,
                    via: Some(0)
                },
            ]
        );
        assert_eq!(
            a.lines,
            vec![
                Origin {
                    file: 0,
                    line: 1,
                    via: None
                },
                Origin {
                    file: 0,
                    line: 2,
                    via: None
                },
                Origin {
                    file: 1,
                    line: 1,
                    via: Some(0)
                },
                Origin {
                    file: 1,
                    line: 2,
                    via: Some(0)
                },
                Origin {
                    file: 2,
                    line: 1,
                    via: Some(1)
                },
                Origin {
                    file: 2,
                    line: 2,
                    via: Some(1)
                },
                Origin {
                    file: 1,
                    line: 3,
                    via: Some(0)
                },
                Origin {
                    file: 0,
                    line: 3,
                    via: None
                },
            ]
        );
    }

    #[test]
    fn pragma_once_inlines_a_file_once() {
        let a = ok(
            &[
                (
                    "lua/top.lua",
                    "%include \"lib/a\"\n%include \"lib/b\"\n%include \"lib/a\"\nreturn 0\n",
                ),
                (
                    "lua/lib/a.lua",
                    "%pragma once\n%include \"shared\"\n%key a\n",
                ),
                ("lua/lib/b.lua", "%include \"shared\"\n%arg b\n"),
                ("lua/lib/shared.lua", "%pragma once\n%arg s\n"),
            ],
            "lua/top.lua",
        );
        assert_eq!(
            a.source,
            "-- %include \"lib/a\"\n\
             -- %pragma once\n\
             -- %include \"shared\"\n\
             -- %pragma once\n\
             local s = ARGV[1]\n\
             local a = KEYS[1]\n\
             -- %include \"lib/b\"\n\
             -- %include \"shared\"\n\
             local b = ARGV[2]\n\
             -- %include \"lib/a\"\n\
             return 0\n"
        );
        assert_eq!(a.files.len(), 4);
        assert_eq!(a.includes.len(), 3);
        assert_eq!(
            a.lines[9],
            Origin {
                file: 0,
                line: 3,
                via: None
            }
        );
    }

    #[test]
    fn same_file_twice_without_pragma_once() {
        let a = run(
            &[
                ("lua/top.lua", "%include \"lib\"\n%include \"lib\"\n"),
                ("lua/lib.lua", "%key k\n%arg a\nlocal v = 1\n"),
            ],
            "lua/top.lua",
        );
        check_invariants(&a);
        assert_eq!(a.files.len(), 2, "one entry per file");
        assert_eq!(a.errors.len(), 1, "{:#?}", a.errors);
        let d = &a.errors[0];
        assert_eq!(d.file, 0);
        let second = a.files[0].text.rfind("lib").unwrap_or(0);
        assert_eq!(d.span, Span::new(second, second + 3));
        assert!(
            d.message.contains("included a second time"),
            "{}",
            d.message
        );
        assert!(d.help.as_deref().unwrap_or("").contains("%pragma once"));
        assert_eq!(
            d.notes,
            vec!["first included from lua/top.lua:1".to_string()]
        );
        // Both copies are still rendered, so line numbers stay right.
        assert_eq!(a.lines.len(), 8);
        assert_eq!(
            a.lines[7],
            Origin {
                file: 1,
                line: 3,
                via: Some(1)
            }
        );
    }

    #[test]
    fn cycles_are_reported_with_the_chain() {
        let a = run(
            &[
                ("lua/a.lua", "%include \"b\"\nreturn 1\n"),
                ("lua/b.lua", "%include \"sub/c\"\n"),
                ("lua/sub/c.lua", "%pragma once\n%include \"../a\"\n"),
            ],
            "lua/a.lua",
        );
        check_invariants(&a);
        assert_eq!(a.errors.len(), 1, "{:#?}", a.errors);
        let d = &a.errors[0];
        assert_eq!(
            d.message,
            "include cycle: lua/a.lua -> lua/b.lua -> lua/sub/c.lua -> lua/a.lua"
        );
        let c = file_index(&a, "lua/sub/c.lua");
        assert_eq!(d.file, c);
        assert_eq!(d.span, span_in(&a, c, "../a"));
        assert_eq!(
            d.notes,
            vec![
                "lua/sub/c.lua is included from lua/b.lua:1, which is included from lua/a.lua:1"
                    .to_string()
            ]
        );
        assert_eq!(a.source.lines().count(), 5);
    }

    #[test]
    fn problems_of_a_file_inlined_twice_are_reported_once() {
        let a = run(
            &[
                ("lua/a.lua", "%include \"b\"\n%include \"b\"\n"),
                ("lua/b.lua", "%include \"gone\"\n%include \"a\"\n"),
            ],
            "lua/a.lua",
        );
        check_invariants(&a);
        let got: Vec<&str> = a.errors.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            got,
            [
                "cannot find included file `lua/gone.lua`",
                "include cycle: lua/a.lua -> lua/b.lua -> lua/a.lua",
            ]
        );
    }

    #[test]
    fn self_include_is_a_cycle() {
        let a = run(&[("lua/a.lua", "%include \"a\"\n")], "lua/a.lua");
        assert_eq!(a.errors.len(), 1);
        assert_eq!(a.errors[0].message, "include cycle: lua/a.lua -> lua/a.lua");
        assert_eq!(a.source, "-- %include \"a\"\n");
    }

    #[test]
    fn missing_include() {
        let a = run(
            &[("lua/a.lua", "%key k\n%include \"lib/nope\"\nreturn k\n")],
            "lua/a.lua",
        );
        check_invariants(&a);
        assert_eq!(a.errors.len(), 1, "{:#?}", a.errors);
        let d = &a.errors[0];
        assert_eq!(d.span, span_in(&a, 0, "lib/nope"));
        assert_eq!(d.message, "cannot find included file `lua/lib/nope.lua`");
        assert_eq!(
            d.notes,
            vec!["looked for /crate/lua/lib/nope.lua".to_string()]
        );
        assert!(d.help.as_deref().unwrap_or("").contains("(`lua/`)"));
        assert_eq!(
            a.source,
            "local k = KEYS[1]\n-- %include \"lib/nope\"\nreturn k\n"
        );
    }

    #[test]
    fn include_leaving_the_root() {
        let a = run(
            &[
                (
                    "lua/a.lua",
                    "%include \"../../etc/passwd\"\n%include \"../ok\"\n",
                ),
                ("ok.lua", ""),
            ],
            "lua/a.lua",
        );
        check_invariants(&a);
        assert_eq!(a.errors.len(), 1, "{:#?}", a.errors);
        assert_eq!(a.errors[0].span, span_in(&a, 0, "../../etc/passwd"));
        assert!(a.errors[0].message.contains("outside the crate root"));
        assert_eq!(a.files[1].display, "ok.lua");
        let a = run(&[("lua/a.lua", "%include \"..\"\n")], "lua/a.lua");
        assert_eq!(a.errors.len(), 1);
        assert!(a.errors[0].message.contains("names a folder"));
    }

    #[test]
    fn top_level_file_missing() {
        let err = assemble(&tree(&[]), Path::new("/crate"), "lua/none.lua")
            .err()
            .unwrap_or_default();
        assert!(err.contains("`lua/none.lua`"), "{err}");
        assert!(
            err.contains("relative to the crate's `lua/` folder (/crate/lua/)"),
            "{err}"
        );
    }

    #[test]
    fn shebang_in_included_file() {
        let a = run(
            &[
                ("lua/a.lua", "%include \"b\"\n"),
                ("lua/b.lua", "#!lua flags=no-writes\nreturn 1\n"),
            ],
            "lua/a.lua",
        );
        check_invariants(&a);
        assert_eq!(a.errors.len(), 1, "{:#?}", a.errors);
        assert_eq!(a.errors[0].file, 1);
        assert_eq!(a.errors[0].span, Span::new(0, 21));
        assert!(a.errors[0]
            .help
            .as_deref()
            .unwrap_or("")
            .starts_with("flags belong in the top-level script"));
        assert_eq!(
            a.source,
            "-- %include \"b\"\n-- #!lua flags=no-writes\nreturn 1\n"
        );
        assert!(a.flags.is_empty());
    }

    #[test]
    fn duplicates_across_files() {
        let a = run(
            &[
                (
                    "lua/a.lua",
                    "%key user\n%include \"lib/x\"\n%arg user int\n",
                ),
                ("lua/lib/x.lua", "%arg count\n%key count\n"),
            ],
            "lua/a.lua",
        );
        check_invariants(&a);
        assert_eq!(a.errors.len(), 2, "{:#?}", a.errors);
        let d = &a.errors[0];
        assert_eq!(d.file, 1);
        assert_eq!(d.span, Span::new(16, 21));
        assert_eq!(d.message, "`count` is declared twice");
        assert_eq!(
            d.notes,
            vec![
                "first declared as `%arg count` at lua/lib/x.lua:1".to_string(),
                "lua/lib/x.lua is included from lua/a.lua:2".to_string(),
            ]
        );
        let d = &a.errors[1];
        assert_eq!(d.file, 0);
        assert_eq!(
            d.span,
            Span::new(
                a.files[0].text.rfind("user").unwrap_or(0),
                a.files[0].text.rfind("user").unwrap_or(0) + 4
            )
        );
        assert_eq!(
            d.notes,
            vec!["first declared as `%key user` at lua/a.lua:1".to_string()]
        );
        assert!(d
            .help
            .as_deref()
            .unwrap_or("")
            .contains("share one name space"));
    }

    #[test]
    fn returns() {
        let a = run(
            &[
                ("lua/a.lua", "%include \"b\"\n%return int\n%return str\n"),
                ("lua/b.lua", "%return bool\n"),
            ],
            "lua/a.lua",
        );
        check_invariants(&a);
        assert_eq!(a.errors.len(), 1, "{:#?}", a.errors);
        assert_eq!(a.errors[0].span, span_in(&a, 0, "%return str"));
        assert_eq!(
            a.errors[0].notes,
            vec!["the first `%return` is at lua/a.lua:2".to_string()]
        );
        let ret = a.ret.as_ref().map(|r| (r.decl.ty, r.file));
        assert_eq!(ret, Some((Type::Int, 0)));
        let a = ok(
            &[
                ("lua/a.lua", "%include \"b\"\n"),
                ("lua/b.lua", "%return bool\n"),
            ],
            "lua/a.lua",
        );
        assert_eq!(a.ret, None, "an included file's %return is ignored");
    }

    #[test]
    fn all_errors_are_reported_together() {
        let a = run(
            &[
                (
                    "lua/a.lua",
                    "#!lua flags=bogus\n%key k\n%kye x\n%include \"lib\"\n%include \"gone\"\n%include \"loop\"\n%arg k\n",
                ),
                ("lua/lib.lua", "%arg n integr\n%arg m int\n"),
                ("lua/loop.lua", "%include \"loop\"\n"),
            ],
            "lua/a.lua",
        );
        check_invariants(&a);
        let got: Vec<(usize, &str)> = a
            .errors
            .iter()
            .map(|d| (d.file, d.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, "unknown directive `%kye`"),
                (0, "unknown script flag `bogus`"),
                (1, "unknown type `integr`"),
                (0, "cannot find included file `lua/gone.lua`"),
                (2, "include cycle: lua/loop.lua -> lua/loop.lua"),
                (0, "`k` is declared twice"),
            ]
        );
        // Lines with errors still render to one (comment) line each.
        assert_eq!(
            a.source,
            "#!lua flags=bogus\n\
             local k = KEYS[1]\n\
             -- %kye x\n\
             -- %include \"lib\"\n\
             -- %arg n integr\n\
             local m = tonumber(ARGV[1])\n\
             -- %include \"gone\"\n\
             -- %include \"loop\"\n\
             -- %include \"loop\"\n\
             local k = ARGV[2]\n"
        );
    }

    #[test]
    fn a_thousand_nested_includes_are_an_error_not_a_crash() {
        let files: Vec<(String, String)> = (0..1000)
            .map(|i| {
                (
                    format!("lua/f{i}.lua"),
                    format!("%include \"f{}\"\n", i + 1),
                )
            })
            .chain([("lua/f1000.lua".to_string(), "return 1\n".to_string())])
            .collect();
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let a = run(&refs, "lua/f0.lua");
        assert_eq!(a.errors.len(), 1, "{:#?}", a.errors);
        assert!(a.errors[0].message.contains("nested more than 64"));
        // f0 .. f63 are inlined: 64 files deep; the include in f63 is refused.
        assert_eq!(a.errors[0].file, MAX_INCLUDE_DEPTH - 1);
    }

    #[test]
    fn crlf_and_final_newline() {
        let a = ok(
            &[(
                "lua/a.lua",
                "%key k\r\n-- v\r\n  %arg n int\r\nlocal v = 1\r\nreturn v\r\n",
            )],
            "lua/a.lua",
        );
        assert_eq!(
            a.source,
            "local k = KEYS[1]\n-- v\r\n  local n = tonumber(ARGV[1])\nlocal v = 1\r\nreturn v\r\n"
        );
        let a = ok(&[("lua/a.lua", "%key k\r\nreturn k")], "lua/a.lua");
        assert_eq!(a.source, "local k = KEYS[1]\nreturn k");
        let a = ok(&[("lua/a.lua", "")], "lua/a.lua");
        assert_eq!(a.source, "");
        assert!(a.lines.is_empty());
        let a = ok(&[("lua/a.lua", "\n\n")], "lua/a.lua");
        assert_eq!(a.source, "\n\n");
        assert_eq!(a.lines.len(), 2);
        // An included file without a final newline still ends its last line.
        let a = ok(
            &[
                ("lua/a.lua", "%include \"b\"\nreturn x\n"),
                ("lua/b.lua", "local x = 1"),
            ],
            "lua/a.lua",
        );
        assert_eq!(a.source, "-- %include \"b\"\nlocal x = 1\nreturn x\n");
    }

    #[test]
    fn top_level_in_the_crate_root_and_odd_relative_paths() {
        let a = ok(
            &[
                ("top.lua", "%include \"lua/x\"\n"),
                ("lua/x.lua", "%key k\n"),
            ],
            "./top.lua",
        );
        assert_eq!(a.files[0].display, "top.lua");
        assert_eq!(a.files[1].display, "lua/x.lua");
        let a = run(&[("top.lua", "%include \"../x\"\n")], "top.lua");
        assert_eq!(a.errors.len(), 1);
        assert!(a.errors[0].message.contains("outside the crate root"));
    }
}
