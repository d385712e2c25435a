//! Phase 3: emit the function. Generated code holds no Redis logic: it
//! encodes arguments and names the decoder, through `::redlua::__private`.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::parse::{Input, Kind};
use crate::validate::Checked;
use redlua_script::assemble::{Origin, ParamKind};
use redlua_script::header::Type as HType;

fn origin(o: &Origin) -> TokenStream {
    let file = o.file as u16;
    let line = o.line as u32;
    let via = o.via.map_or(u16::MAX, |v| v as u16);
    quote!(::redlua::__private::LineOrigin { file: #file, line: #line, via: #via })
}

/// The line map as runs of lines that came from consecutive lines of one
/// file: one `LineRun` per run instead of a `LineOrigin` per line (two
/// copies of a 300-line script's per-line table were most of the tokens
/// rustc type-checked for it).
fn line_runs(lines: &[Origin]) -> Vec<TokenStream> {
    let mut runs: Vec<(usize, usize, &Origin)> = Vec::new();
    for (i, o) in lines.iter().enumerate() {
        match runs.last_mut() {
            Some((_, len, start))
                if start.file == o.file && start.via == o.via && start.line + *len == o.line =>
            {
                *len += 1;
            }
            _ => runs.push((i + 1, 1, o)),
        }
    }
    runs.into_iter()
        .map(|(first, len, o)| {
            let (first, len) = (first as u32, len as u32);
            let file = o.file as u16;
            let line = o.line as u32;
            let via = o.via.map_or(u16::MAX, |v| v as u16);
            quote!(::redlua::__private::LineRun {
                first: #first, len: #len, file: #file, line: #line, via: #via
            })
        })
        .collect()
}

pub fn expand(input: &Input, checked: &Checked<'_>) -> TokenStream {
    let plan = &checked.plan;
    let asm = &input.asm;
    let item = &input.item;
    let attrs = &item.attrs;
    let vis = &item.vis;
    let sig = &item.sig;
    let (ident, generics, inputs) = (&sig.ident, &sig.generics, &sig.inputs);
    let where_clause = &generics.where_clause;
    let ret_ty = &plan.ret_ty;
    let decoder = &plan.decoder;

    let name = ident.unraw().to_string();
    let script_static = script_static(ident);
    let script_doc = script_doc(&name);
    let path = &asm.files[0].display;
    let sha = redlua_script::sha1_hex(&asm.source);
    let source = Literal::string(&asm.source);
    let read_only = asm.flags.iter().any(|f| f == "no-writes");
    let files = asm.files.iter().map(|f| &f.display);
    let tracking = tracking(input);
    let lines = line_runs(&asm.lines);
    let includes = asm.includes.iter().map(origin);

    let b = format_ident!("__redlua_b");
    let mut fixed_keys = 0usize;
    let mut fixed_args = 0usize;
    let mut prep = Vec::new();
    let mut count = Vec::new();
    let mut keys = Vec::new();
    let mut args = Vec::new();
    for p in &plan.params {
        let id = &p.ident;
        let span = p.ty.span();
        let param_name = &p.header.name;
        let encode = |value: TokenStream| match p.header.kind {
            ParamKind::Key => {
                quote_spanned!(span=> ::redlua::__private::encode::key(&mut #b, #value);)
            }
            // `redis` as a parameter is a signature error; never expanded.
            ParamKind::Arg(HType::Str | HType::Redis) => {
                quote_spanned!(span=> ::redlua::__private::encode::str(&mut #b, #value);)
            }
            ParamKind::Arg(HType::Bytes) => {
                quote_spanned!(span=> ::redlua::__private::encode::bytes(&mut #b, #value);)
            }
            ParamKind::Arg(HType::Int) => {
                quote_spanned!(span=> ::redlua::__private::encode::int(&mut #b, #param_name, #value);)
            }
            ParamKind::Arg(HType::Float) => {
                quote_spanned!(span=> ::redlua::__private::encode::float(&mut #b, #value);)
            }
            ParamKind::Arg(HType::Bool) => {
                quote_spanned!(span=> ::redlua::__private::encode::bool(&mut #b, #value);)
            }
            ParamKind::Arg(HType::List | HType::Dict | HType::Json) => {
                quote_spanned!(span=> ::redlua::__private::encode::json(&mut #b, #param_name, #value);)
            }
        };
        let is_key = p.header.kind == ParamKind::Key;
        let code = if p.header.variadic {
            let it = format_ident!("__redlua_{}_iter", p.ident);
            let n = format_ident!("__redlua_{}_len", p.ident);
            if is_key {
                // numkeys precedes the keys, so the count must be known
                // first: `Counted` trusts an exact size hint and collects
                // any other iterator.
                prep.push(quote_spanned!(span=>
                    let mut #it = ::redlua::__private::encode::Counted::new(
                        ::core::iter::IntoIterator::into_iter(#id),
                    );
                    let #n = #it.numkeys();
                ));
            } else {
                prep.push(quote_spanned!(span=>
                    let #it = ::core::iter::IntoIterator::into_iter(#id);
                    let #n = ::core::iter::Iterator::size_hint(&#it).0;
                ));
            }
            count.push(quote!(+ #n));
            let body = encode(quote_spanned!(span=> &__redlua_v));
            // The loop variable is bound with the span it is used with, so
            // a declaration written by a `macro_rules!` (whose tokens carry
            // that macro's hygiene) still sees it.
            if is_key {
                quote_spanned!(span=>
                    for __redlua_v in &mut #it { #body }
                    #it.check(&mut #b, #param_name);
                )
            } else {
                quote_spanned!(span=> for __redlua_v in #it { #body })
            }
        } else {
            if is_key {
                fixed_keys += 1;
            } else {
                fixed_args += 1;
            }
            // Spanned on the parameter's type so a trait error points there.
            encode(quote_spanned!(span=> &#id))
        };
        if is_key {
            keys.push(code);
        } else {
            args.push(code);
        }
    }
    let key_count = plan
        .params
        .iter()
        .filter(|p| p.header.kind == ParamKind::Key && p.header.variadic)
        .map(|p| {
            let n = format_ident!("__redlua_{}_len", p.ident);
            quote!(+ #n)
        });
    let fixed = fixed_keys + fixed_args;
    let warnings = checked.warnings.iter().map(|w| warning(&input.lit, w));
    // Chained only onto scripts it applies to: the others expand as before.
    let keyless_write = checked
        .writes_without_keys
        .then(|| quote!(.__writes_without_keys()));

    // A function's library is generated here, at compile time, from the
    // same assembled text the checks ran on.
    let library = (input.kind == Kind::Function).then(|| {
        // The package, not the crate target: a deploy versions a package,
        // and pruning spares the libraries of other programs by it.
        let package = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
        redlua_script::function::library(&asm.source, &asm.flags, &name, &package, path)
    });
    let as_function = library.as_ref().map(|l| {
        let (lib_name, text) = (&l.name, Literal::string(&l.text));
        let offset = l.line_offset as u32;
        quote!(.__function(#lib_name, #text, #offset))
    });
    let script = quote! {
        ::redlua::__private::Script::__new(
            #name,
            #path,
            #sha,
            #source,
            #read_only,
            &[#(#files),*],
            &[#(#lines),*],
            &[#(#includes),*],
        )
        #keyless_write
        #as_function
    };
    // Appended to the user's own docs, so the rendered page says what runs.
    let runs_doc = match &library {
        None => format!(
            " Runs `{path}` (SHA1 `{sha}`) with `{}`; the script is [`{script_static}`].",
            if read_only { "EVALSHA_RO" } else { "EVALSHA" }
        ),
        Some(l) => format!(
            " Runs `{path}` as the Redis Function `{}` with `{}` (loaded with \
             `FUNCTION LOAD`); the script is [`{script_static}`].",
            l.name,
            if read_only { "FCALL_RO" } else { "FCALL" }
        ),
    };
    // Only a `const` and a `fn` are emitted, the two items both a module
    // and an `impl` block hold, so the function may be an associated one.
    // Siblings in an `impl` see each other only through `Self::`, which a
    // module does not have: so the function owns its own copy of the
    // script (the data is all constants; the linker shares the text), and
    // the public handle, which `load_all` registers, another.
    quote! {
        #[doc = #script_doc]
        #vis const #script_static: &'static ::redlua::Script = {
            #tracking
            static __REDLUA_SCRIPT: ::redlua::Script = #script;
            // Lists the script for redlua::load_all without anyone keeping
            // a list.
            ::redlua::__private::register!(__REDLUA_SCRIPT);
            &__REDLUA_SCRIPT
        };

        #(#attrs)*
        #[doc = ""]
        #[doc = #runs_doc]
        #[must_use = "a script call does nothing until `.invoke(&mut con)` or `.invoke_async(&mut con).await`"]
        #vis fn #ident #generics (#inputs) -> ::redlua::Call<#ret_ty> #where_clause {
            #(#warnings)*
            static __REDLUA_SCRIPT: ::redlua::Script = #script;
            #(#prep)*
            let mut #b = ::redlua::__private::Builder::new(
                &__REDLUA_SCRIPT,
                #fixed_keys #(#key_count)*,
                #fixed #(#count)*,
            );
            #(#keys)*
            #(#args)*
            #b.finish(#decoder)
        }
    }
}

/// `create_status` -> `CREATE_STATUS`, spanned on the function's name so a
/// clash with another item of that name points there.
fn script_static(ident: &syn::Ident) -> syn::Ident {
    syn::Ident::new(&ident.unraw().to_string().to_uppercase(), ident.span())
}

fn script_doc(name: &str) -> String {
    format!(
        "The script behind [`{name}()`]: its source, SHA1 and line map, for \
         `redlua::load(&mut con, &[{}])`.",
        name.to_uppercase()
    )
}

/// Rebuild tracking: every file read is an `include_str!` of its absolute
/// path, and every environment variable the macro reads an `option_env!`,
/// so editing a file (includes too) or toggling the variable rebuilds.
pub fn tracking(input: &Input) -> TokenStream {
    // The manifest too: its `[package.metadata.redlua] servers` choose the
    // checks.
    let manifest = input
        .manifest
        .is_file()
        .then(|| input.manifest.to_string_lossy().into_owned());
    let tracked = input
        .asm
        .files
        .iter()
        .map(|f| f.abs_path.to_string_lossy().into_owned())
        .chain(manifest);
    quote! {
        #(const _: &str = ::core::include_str!(#tracked);)*
        const _: ::core::option::Option<&str> = ::core::option_env!("REDLUA_SKIP_LUA_CHECK");
        const _: ::core::option::Option<&str> = ::core::option_env!("REDLUA_MANIFEST_DIR");
        // A function's library is named after its package.
        const _: ::core::option::Option<&str> = ::core::option_env!("CARGO_PKG_NAME");
    }
}

/// The warnings of a script whose checks failed: shown next to its errors.
pub fn warnings(lit: &syn::LitStr, warnings: &[String]) -> TokenStream {
    warnings.iter().map(|w| warning(lit, w)).collect()
}

/// Stable Rust has no API for a macro's warnings; using a deprecated item
/// makes rustc print one, with our text, at the attribute's literal.
fn warning(lit: &syn::LitStr, text: &str) -> TokenStream {
    let note = format!("redlua: {text}");
    let span = lit.span();
    quote_spanned! {span=>
        {
            #[deprecated(note = #note)]
            #[allow(non_camel_case_types)]
            struct redlua_warning;
            let _ = redlua_warning;
        }
    }
}

/// What is emitted next to the errors when a check fails: the function with
/// its declared signature, so call sites type-check and one mistake does not
/// cascade into errors at every caller. `extra` (rebuild tracking) goes in
/// the handle's block and `body` (warnings) in the function, so this too is
/// only a `const` and a `fn`, as in a module or an `impl`.
pub fn fallback(item: &syn::ForeignItemFn, extra: TokenStream, body: TokenStream) -> TokenStream {
    let attrs = &item.attrs;
    let vis = &item.vis;
    let sig = &item.sig;
    let (ident, generics, inputs) = (&sig.ident, &sig.generics, &sig.inputs);
    let where_clause = &generics.where_clause;
    let ret: TokenStream = match &sig.output {
        syn::ReturnType::Default => quote!(()),
        syn::ReturnType::Type(_, t) => quote!(#t),
    };
    let name = ident.unraw().to_string();
    let script_static = script_static(ident);
    let script_doc = script_doc(&name);
    // A static of its own, not `&Script::__new(..)`: a `Script` holds its
    // reload state (interior mutability), which a borrowed temporary may not.
    quote! {
        // Emitted too, empty, so code naming the script still type-checks.
        #[doc = #script_doc]
        #vis const #script_static: &'static ::redlua::Script = {
            #extra
            static __REDLUA_SCRIPT: ::redlua::Script =
                ::redlua::__private::Script::__new(#name, "", "", "", false, &[], &[], &[]);
            &__REDLUA_SCRIPT
        };

        #(#attrs)*
        #[allow(unused_variables)]
        #vis fn #ident #generics (#inputs) -> ::redlua::Call<#ret> #where_clause {
            #body
            ::core::unimplemented!("the script did not compile")
        }
    }
}
