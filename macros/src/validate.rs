//! Phase 2: every check, errors collected and reported together.

use crate::diag::Diagnostic;
use crate::parse::Input;
use crate::signature::{self, Plan};

/// Spans a `.lua` diagnostic on the attribute's path literal.
pub fn lua_error(input: &Input, d: &Diagnostic) -> syn::Error {
    let f = &input.asm.files[d.file.min(input.asm.files.len().saturating_sub(1))];
    syn::Error::new_spanned(&input.lit, d.render(&f.display, &f.text))
}

pub fn validate(input: &Input) -> syn::Result<Plan<'_>> {
    let mut errors: Vec<syn::Error> = input
        .asm
        .errors
        .iter()
        .map(|d| lua_error(input, d))
        .collect();
    let plan = signature::check(&input.item, &input.asm).map_err(|e| errors.push(e));
    match (plan, errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    })) {
        (Ok(plan), None) => Ok(plan),
        (_, Some(e)) => Err(e),
        (Err(()), None) => unreachable_error(input),
    }
}

// signature::check only fails with an error, which was pushed above; this
// keeps the function total without a panic.
fn unreachable_error(input: &Input) -> syn::Result<Plan<'_>> {
    Err(syn::Error::new_spanned(&input.lit, "internal error: signature check failed without a message"))
}
