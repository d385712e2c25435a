//! Phase 2: every check, errors collected and reported together.

use crate::assemble::Assembled;
use crate::diag::{line_of, span_at, Diagnostic};
use crate::lua_check::{self, LuaIssue, Severity};
use crate::parse::Input;
use crate::signature::{self, Plan};

/// What expand needs once every check passed.
pub struct Checked<'a> {
    pub plan: Plan<'a>,
    /// Rendered diagnostics that do not fail the build.
    pub warnings: Vec<String>,
}

/// Spans a `.lua` diagnostic on the attribute's path literal.
fn lua_error(input: &Input, d: &Diagnostic) -> syn::Error {
    syn::Error::new_spanned(&input.lit, render(&input.asm, d))
}

fn render(asm: &Assembled, d: &Diagnostic) -> String {
    let f = &asm.files[d.file.min(asm.files.len().saturating_sub(1))];
    d.render(&f.display, &f.text)
}

/// Maps an issue found in the assembled script back to the `.lua` file and
/// line it came from, with the include chain as notes.
fn map_issue(asm: &Assembled, issue: &LuaIssue) -> Option<Diagnostic> {
    let origin = asm.lines.get(issue.line.checked_sub(1)?)?;
    let file = asm.files.get(origin.file)?;
    let line_text = file.text.lines().nth(origin.line.checked_sub(1)?)?;
    // A directive line was rendered to different Lua text: columns in it do
    // not match the file, so point at the directive's name instead.
    let span = if line_text.trim_start().starts_with('%') {
        asm.params
            .iter()
            .find(|p| {
                p.file == origin.file && line_of(&file.text, p.name_span.start).0 == origin.line
            })
            .map(|p| p.name_span)
            .unwrap_or_else(|| span_at(&file.text, origin.line, 1, line_text.chars().count()))
    } else {
        span_at(&file.text, origin.line, issue.col, issue.len)
    };
    let mut d = Diagnostic::new(origin.file, span, issue.message.clone());
    d.label = issue.label.clone();
    d.help = issue.help.clone();
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

pub fn validate(input: &Input) -> syn::Result<Checked<'_>> {
    let asm = &input.asm;
    let mut errors: Vec<syn::Error> = asm.errors.iter().map(|d| lua_error(input, d)).collect();
    let mut warnings = Vec::new();
    // With header errors some directives were not rendered, so the Lua
    // check would only report their names as undefined: skip it then.
    // REDLUA_SKIP_LUA_CHECK=1 turns the analysis off, to measure its cost.
    let skip = std::env::var_os("REDLUA_SKIP_LUA_CHECK").is_some_and(|v| v == "1");
    if asm.errors.is_empty() && !skip {
        let params: Vec<&str> = asm.params.iter().map(|p| p.name.as_str()).collect();
        let keys: Vec<&str> = asm
            .params
            .iter()
            .filter(|p| p.kind == crate::assemble::ParamKind::Key)
            .map(|p| p.name.as_str())
            .collect();
        for issue in lua_check::check(&asm.source, &params, &keys, &asm.flags) {
            let text = match map_issue(asm, &issue) {
                Some(d) => render(asm, &d),
                None => issue.message.clone(),
            };
            match issue.severity {
                Severity::Error => errors.push(syn::Error::new_spanned(&input.lit, text)),
                Severity::Warning => warnings.push(text),
            }
        }
    }
    let plan = signature::check(&input.item, asm);
    let plan = match plan {
        Ok(plan) => Some(plan),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if let Some(e) = errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        return Err(e);
    }
    match plan {
        Some(plan) => Ok(Checked { plan, warnings }),
        None => Err(syn::Error::new_spanned(
            &input.lit,
            "internal error: the signature check failed without a message",
        )),
    }
}
