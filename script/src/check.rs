//! Runs every check of an assembled script and maps what the Lua check finds
//! back to the `.lua` file and line it came from.

use std::collections::HashMap;

use crate::assemble::{Assembled, ParamKind};
use crate::diag::{line_of, span_in_line, Diagnostic, Span};
use crate::dialect::Targets;
use crate::lua_check::{self, LuaIssue};

pub use crate::lua_check::Severity;

/// One problem found in a script, located in one of the files it was
/// assembled from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub diagnostic: Diagnostic,
}

impl Finding {
    /// The finding as rustc prints a diagnostic: message, `--> file:line:col`,
    /// the source line with a caret, notes and help.
    pub fn render(&self, asm: &Assembled) -> String {
        render(asm, &self.diagnostic)
    }

    /// The file the finding is in, relative to the crate root.
    pub fn path<'a>(&self, asm: &'a Assembled) -> &'a str {
        asm.files
            .get(self.diagnostic.file)
            .map_or("?", |f| f.display.as_str())
    }

    /// 1-based line and column (in characters) of the finding's start.
    pub fn line_col(&self, asm: &Assembled) -> (usize, usize) {
        let Some(f) = asm.files.get(self.diagnostic.file) else {
            return (1, 1);
        };
        let start = self.diagnostic.span.start.min(f.text.len());
        let (line, line_start) = line_of(&f.text, start);
        let col = f
            .text
            .get(line_start..start)
            .map_or(0, |s| s.chars().count())
            + 1;
        (line, col)
    }
}

/// What to run besides the header checks, which always run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Skip the Lua analysis (to measure its cost).
    pub skip_lua: bool,
    /// The servers the scripts run on (default: every server of the matrix).
    pub targets: Targets,
}

/// Every check of `asm`: its header and include errors, then the Lua
/// analysis of the assembled text. Errors first, each group in file order,
/// at most [`MAX_FINDINGS`] of each shown.
pub fn check(asm: &Assembled, opts: &Options) -> Vec<Finding> {
    cap(findings(asm, opts, 0, &mut [0, 0]))
}

/// [`check`] before the cap; `wrapper_locals` as in
/// [`lua_check::Declared`]. `seen` counts findings per severity (errors,
/// warnings) across calls: past [`MAX_FINDINGS`] they are only counted,
/// not mapped (a mapping scans the issue's line: 4,000 issues on one
/// 100 KB line took 0.7 s).
fn findings(
    asm: &Assembled,
    opts: &Options,
    wrapper_locals: usize,
    seen: &mut [usize; 2],
) -> Vec<Finding> {
    let mut out: Vec<Finding> = asm
        .errors
        .iter()
        .map(|d| Finding {
            severity: Severity::Error,
            diagnostic: d.clone(),
        })
        .collect();
    if !opts.skip_lua {
        // Header errors and Lua errors are reported in one build. A
        // directive with an error was not rendered, so the names it meant
        // to declare are not reported as undefined.
        let unrendered = unrendered_names(asm);
        // Pass-through parameters bind no Lua name: the script reads KEYS
        // and ARGV itself, so they are never "unused".
        let bound = || asm.params.iter().filter(|p| !p.passthrough);
        let params: Vec<&str> = bound().map(|p| p.name.as_str()).collect();
        let keys: Vec<&str> = bound()
            .filter(|p| p.kind == ParamKind::Key)
            .map(|p| p.name.as_str())
            .collect();
        // How many KEYS (or ARGV) the call sends; open when a variadic
        // parameter takes whatever the caller passes.
        let count = |keys: bool| {
            let of_kind: Vec<_> = asm
                .params
                .iter()
                .filter(|p| (p.kind == ParamKind::Key) == keys)
                .collect();
            (!of_kind.iter().any(|p| p.variadic)).then_some(of_kind.len())
        };
        // A directive with an error declares nothing: the counts are unknown.
        let declared = match asm.errors.is_empty() {
            true => lua_check::Declared {
                keys: count(true),
                args: count(false),
                returns_int: asm
                    .ret
                    .as_ref()
                    .is_some_and(|r| r.decl.ty == crate::header::Type::Int && !r.decl.array),
                returns_null_as_false: asm.ret.as_ref().is_some_and(|r| {
                    r.decl.optional || (r.decl.ty == crate::header::Type::Bool && !r.decl.array)
                }),
                assumed: &[],
                targets: Some(&opts.targets),
                keyless: !asm.params.iter().any(|p| p.kind == ParamKind::Key)
                    && !asm
                        .flags
                        .iter()
                        .any(|f| f == "no-writes" || f == "no-cluster"),
                wrapper_locals,
            },
            false => lua_check::Declared {
                assumed: &unrendered,
                targets: Some(&opts.targets),
                wrapper_locals,
                ..Default::default()
            },
        };
        let mapper = Mapper::new(asm);
        seen[0] += asm.errors.len();
        for issue in lua_check::check_declared(&asm.source, &params, &keys, &asm.flags, declared) {
            push_mapped(&mut out, &mapper, &issue, seen);
        }
        keyless_write_first(&mut out);
    }
    out
}

/// Maps `issue` to a finding, or past [`MAX_FINDINGS`] of its severity
/// only counts it (as a placeholder [`cap`] counts).
fn push_mapped(
    out: &mut Vec<Finding>,
    mapper: &Mapper<'_>,
    issue: &LuaIssue,
    seen: &mut [usize; 2],
) {
    let seen = &mut seen[usize::from(issue.severity == Severity::Warning)];
    *seen += 1;
    // The keyless-write warning is always mapped: the macro reads it.
    if *seen > MAX_FINDINGS && !issue.message.starts_with(lua_check::KEYLESS_WRITE) {
        out.push(Finding {
            severity: issue.severity,
            diagnostic: Diagnostic::new(0, Default::default(), String::new()),
        });
        return;
    }
    let diagnostic = mapper.map(issue).unwrap_or_else(|| {
        let mut d = Diagnostic::new(0, Default::default(), issue.message.clone());
        d.help = issue.help.clone();
        d.notes
            .push(format!("at line {} of the assembled script", issue.line));
        d
    });
    out.push(Finding {
        severity: issue.severity,
        diagnostic,
    });
}

impl Finding {
    /// True for the warning on a script that calls a write command but
    /// declares no `%key` (and has neither `no-writes` nor `no-cluster`):
    /// the runtime refuses its calls on a cluster connection.
    pub fn is_keyless_write(&self) -> bool {
        self.diagnostic
            .message
            .starts_with(lua_check::KEYLESS_WRITE)
    }
}

/// Puts the keyless-write warning first, so the cap on shown warnings never
/// drops it: the macro reads it to mark the script for the cluster refusal.
/// One cluster warning per script is enough: none when the check already
/// warned that a key is built from literals.
fn keyless_write_first(out: &mut Vec<Finding>) {
    let Some(at) = out.iter().position(Finding::is_keyless_write) else {
        return;
    };
    let keyless = out.remove(at);
    let literal_key = out
        .iter()
        .any(|f| f.diagnostic.message.contains("Redis Cluster"));
    if !literal_key {
        out.insert(0, keyless);
    }
}

/// [`check`] for a script that runs as a Redis Function
/// (`#[redis_function]`): every check of a script, and what only a
/// function body refuses ([`crate::function::issues`]).
pub fn check_function(asm: &Assembled, opts: &Options) -> Vec<Finding> {
    let mut seen = [0, 0];
    // The body runs inside `function(KEYS, ARGV)`: two locals fewer.
    let mut out = findings(asm, opts, 2, &mut seen);
    if !opts.skip_lua {
        let mapper = Mapper::new(asm);
        for issue in crate::function::issues(&asm.source) {
            push_mapped(&mut out, &mapper, &issue, &mut seen);
        }
    }
    cap(out)
}

/// Findings shown per severity: past this, one more says how many were left
/// out (a generated script with thousands of mistakes must not print
/// megabytes or take minutes).
pub const MAX_FINDINGS: usize = 50;

/// Errors first, then warnings, each in the order found and capped at
/// [`MAX_FINDINGS`].
fn cap(findings: Vec<Finding>) -> Vec<Finding> {
    let (errors, warnings): (Vec<_>, Vec<_>) = findings
        .into_iter()
        .partition(|f| f.severity == Severity::Error);
    let mut out = Vec::new();
    for (severity, what, of) in [
        (Severity::Error, "errors", errors),
        (Severity::Warning, "warnings", warnings),
    ] {
        let total = of.len();
        out.extend(of.into_iter().take(MAX_FINDINGS));
        if total > MAX_FINDINGS {
            let file = out.last().map_or(0, |f| f.diagnostic.file);
            let message = format!(
                "{} more {what} in this script are not shown",
                total - MAX_FINDINGS
            );
            let help = format!("fix the first {MAX_FINDINGS} and build again");
            out.push(Finding {
                severity,
                diagnostic: Diagnostic::new(file, Span::default(), message).help(help),
            });
        }
    }
    out
}

/// The names `%key`/`%arg` lines with errors meant to declare: the word
/// after the directive, without its suffix.
fn unrendered_names(asm: &Assembled) -> Vec<&str> {
    if asm.errors.is_empty() {
        return Vec::new();
    }
    asm.source
        .lines()
        .filter_map(|l| {
            let mut words = l.trim_start().strip_prefix("-- %")?.split_whitespace();
            if !matches!(words.next()?, "key" | "arg") {
                return None;
            }
            let word = words.next()?;
            let end = word
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(word.len());
            (end > 0).then(|| &word[..end])
        })
        .collect()
}

fn render(asm: &Assembled, d: &Diagnostic) -> String {
    match asm.files.get(d.file) {
        Some(f) => d.render(&f.display, &f.text),
        None => d.message.clone(),
    }
}

/// Byte offsets where each line of a text starts: a line lookup is a
/// binary search or an index, not a scan from the start of the text (a
/// script with thousands of findings stays linear).
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    /// The 1-based line `n` of `text`, without its line ending, and where it starts.
    fn line<'t>(&self, text: &'t str, n: usize) -> Option<(usize, &'t str)> {
        let start = *self.starts.get(n.checked_sub(1)?)?;
        if start >= text.len() && n > 1 {
            return None;
        }
        let end = self.starts.get(n).map_or(text.len(), |e| e - 1);
        Some((start, text[start..end].trim_end_matches('\r')))
    }

    /// The 1-based line holding byte `pos`.
    fn line_of(&self, pos: usize) -> usize {
        self.starts.partition_point(|&s| s <= pos)
    }
}

/// What mapping issues back needs, computed once per script.
struct Mapper<'a> {
    asm: &'a Assembled,
    source: LineIndex,
    files: Vec<LineIndex>,
    /// The name span of each parameter, by (file, line) of its directive.
    directive_names: HashMap<(usize, usize), Span>,
}

impl<'a> Mapper<'a> {
    fn new(asm: &'a Assembled) -> Self {
        let files: Vec<LineIndex> = asm.files.iter().map(|f| LineIndex::new(&f.text)).collect();
        let mut directive_names = HashMap::new();
        for p in &asm.params {
            if let Some(index) = files.get(p.file) {
                let line = index.line_of(p.name_span.start);
                directive_names.entry((p.file, line)).or_insert(p.name_span);
            }
        }
        Mapper {
            asm,
            source: LineIndex::new(&asm.source),
            files,
            directive_names,
        }
    }

    /// Maps an issue found in the assembled script back to the `.lua` file
    /// and line it came from, with the include chain as notes.
    fn map(&self, issue: &LuaIssue) -> Option<Diagnostic> {
        let asm = self.asm;
        let origin = asm.lines.get(issue.line.checked_sub(1)?)?;
        let file = asm.files.get(origin.file)?;
        let (line_start, line_text) = self.files.get(origin.file)?.line(&file.text, origin.line)?;
        let rendered = self
            .source
            .line(&asm.source, issue.line)
            .map_or("", |(_, l)| l);
        // A directive line was rendered to different Lua text: columns in it
        // do not match the file, so point at the directive's name instead.
        let span = if rendered != line_text {
            self.directive_names
                .get(&(origin.file, origin.line))
                .copied()
                .unwrap_or_else(|| Span::new(line_start, line_start + line_text.len()))
        } else {
            span_in_line(line_start, line_text, issue.col, issue.len)
        };
        let mut d = Diagnostic::new(origin.file, span, issue.message.clone());
        d.label = issue.label.clone();
        d.help = issue.help.clone();
        let directive = line_text
            .trim_start()
            .strip_prefix('%')
            .is_some_and(|rest| {
                crate::header::DIRECTIVES
                    .iter()
                    .any(|d| rest.starts_with(d))
            });
        if directive && rendered == line_text {
            d.notes.push(
                "directives are read only in the header, the lines before the first line of Lua \
                 code; below it this line is Lua"
                    .to_string(),
            );
            d.help = Some("move the directive above the script's first line of code".to_string());
        }
        let mut via = origin.via;
        while let Some(site) = via.and_then(|v| asm.includes.get(v)) {
            let from = asm.files.get(site.file).map_or("?", |f| f.display.as_str());
            d.notes.push(format!("included from {from}:{}", site.line));
            via = site.via;
            if d.notes.len() > asm.includes.len() {
                break;
            }
        }
        Some(d)
    }
}
