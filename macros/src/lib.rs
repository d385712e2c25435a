//! Proc-macro of redlua. Use it through `redlua::redis_script`; the
//! documentation lives there.

mod expand;
mod parse;
mod signature;
mod validate;

use proc_macro::TokenStream;

/// See `redlua::redis_script`.
#[proc_macro_attribute]
pub fn redis_script(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(parse::Kind::Script, attr, item)
}

/// See `redlua::redis_function`.
#[proc_macro_attribute]
pub fn redis_function(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(parse::Kind::Function, attr, item)
}

/// Both attributes take the same path through every phase; only the
/// expansion tells a function from a script.
fn run(kind: parse::Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = match parse::parse_item(kind, item.clone().into()) {
        Ok(item) => item,
        Err(e) => {
            // Still emit the user's item so its callers type-check.
            let item = proc_macro2::TokenStream::from(item);
            let mut out = e.to_compile_error();
            out.extend(quote::quote!(#[allow(unused)] #item));
            return out.into();
        }
    };
    let input = match parse::parse(kind, attr.into(), item.clone()) {
        Ok(input) => input,
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(expand::fallback(&item, quote::quote!(), quote::quote!()));
            return out.into();
        }
    };
    match validate::validate(&input) {
        Ok(checked) => expand::expand(&input, &checked).into(),
        Err(failed) => {
            let mut out = failed.error.to_compile_error();
            out.extend(expand::fallback(
                &item,
                expand::tracking(&input),
                expand::warnings(&input.lit, &failed.warnings),
            ));
            out.into()
        }
    }
}
