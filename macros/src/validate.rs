//! Phase 2: every check, errors collected and reported together.

use redlua_script::Severity;

use crate::parse::{Input, Kind};
use crate::signature::{self, Plan};

/// What expand needs once every check passed.
pub struct Checked<'a> {
    pub plan: Plan<'a>,
    /// Rendered diagnostics that do not fail the build.
    pub warnings: Vec<String>,
    /// The script writes without a `%key`: refused on a cluster at run time.
    pub writes_without_keys: bool,
}

/// The errors of a script that failed its checks, and its warnings, which
/// are still shown.
pub struct Failed {
    pub error: syn::Error,
    pub warnings: Vec<String>,
}

pub fn validate(input: &Input) -> Result<Checked<'_>, Failed> {
    let asm = &input.asm;
    let mut errors = Vec::new();
    let targets =
        redlua_script::dialect::Targets::from_manifest(&input.manifest).unwrap_or_else(|e| {
            errors.push(syn::Error::new_spanned(&input.lit, e));
            Default::default()
        });
    // REDLUA_SKIP_LUA_CHECK=1 turns the analysis off, to measure its cost.
    let opts = redlua_script::Options {
        skip_lua: std::env::var_os("REDLUA_SKIP_LUA_CHECK").is_some_and(|v| v == "1"),
        targets,
    };
    let mut warnings = Vec::new();
    let mut writes_without_keys = false;
    let findings = match input.kind {
        Kind::Script => redlua_script::check(asm, &opts),
        Kind::Function => redlua_script::check_function(asm, &opts),
    };
    for finding in findings {
        writes_without_keys |= finding.is_keyless_write();
        // A proc macro can only span Rust tokens: a `.lua` diagnostic is
        // spanned on the attribute's path literal and carries its own
        // `--> file:line:col` block.
        let text = finding.render(asm);
        match finding.severity {
            Severity::Error => errors.push(syn::Error::new_spanned(&input.lit, text)),
            Severity::Warning => warnings.push(text),
        }
    }
    let plan = match signature::check(&input.item, asm) {
        Ok(plan) => Some(plan),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if let Some(error) = errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        return Err(Failed { error, warnings });
    }
    match plan {
        Some(plan) => Ok(Checked {
            plan,
            warnings,
            writes_without_keys,
        }),
        None => Err(Failed {
            error: syn::Error::new_spanned(
                &input.lit,
                "internal error: the signature check failed without a message",
            ),
            warnings,
        }),
    }
}
