//! Phase 2b: check the Rust declaration against the script's header.
//!
//! Types are checked by their written shape so the common mistakes get an
//! error that points into the `.lua` file. A type the macro cannot judge by
//! its name (an alias, a user type) is left to the runtime's traits, whose
//! `#[diagnostic::on_unimplemented]` notes say what each directive accepts.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, Pat, PathArguments, ReturnType, Type, TypeParamBound};

use redlua_script::assemble::{Assembled, Param, ParamKind};
use redlua_script::header::{ReturnDecl, Type as HType};
use redlua_script::rust_decl::{self, directive_text, return_text, type_name};
use redlua_script::Diagnostic;

/// A Rust parameter matched to its header directive.
pub struct PlannedParam<'a> {
    pub ident: syn::Ident,
    pub ty: Type,
    pub header: &'a Param,
}

/// What expand needs: parameters in header order and the reply decoder.
pub struct Plan<'a> {
    pub params: Vec<PlannedParam<'a>>,
    /// The declared Rust return type (`()` when none is written).
    pub ret_ty: Type,
    /// An expression of type `fn(redis::Value) -> Decoded<ret_ty>`.
    pub decoder: TokenStream,
}

/// The written shape of a Rust type, as far as names tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Str,
    OwnedString,
    Bytes,
    OwnedBytes,
    Int,
    Float,
    Bool,
    Seq,
    Map,
    /// A tuple: redis-rs decodes pairs and nested tuples, serde a JSON array.
    Tuple,
    Option,
    Unit,
    Value,
    Unknown,
}

const INTS: &[&str] = &[
    "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize",
];

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

/// The first generic type argument of a path type (`Vec<T>` -> `T`).
fn generic_arg(ty: &Type) -> Option<&Type> {
    let seg = last_segment(ty)?;
    match &seg.arguments {
        PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

fn is_u8(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == "u8" && s.arguments.is_none())
}

fn strip(ty: &Type) -> &Type {
    match ty {
        Type::Reference(r) => strip(&r.elem),
        Type::Paren(p) => strip(&p.elem),
        Type::Group(g) => strip(&g.elem),
        t => t,
    }
}

fn shape(ty: &Type) -> Shape {
    let owned = !matches!(ty, Type::Reference(_));
    let ty = strip(ty);
    match ty {
        Type::Slice(s) if is_u8(&s.elem) => Shape::Bytes,
        Type::Array(a) if is_u8(&a.elem) => Shape::Bytes,
        Type::Slice(_) | Type::Array(_) => Shape::Seq,
        Type::Tuple(t) if t.elems.is_empty() => Shape::Unit,
        Type::Tuple(_) => Shape::Tuple,
        Type::ImplTrait(t) if t.bounds.iter().any(is_into_iter) => Shape::Seq,
        Type::Path(_) => {
            let Some(seg) = last_segment(ty) else {
                return Shape::Unknown;
            };
            let name = seg.ident.to_string();
            match name.as_str() {
                "str" => Shape::Str,
                "String" if owned => Shape::OwnedString,
                "String" => Shape::Str,
                // `Box<str>`, `Arc<[u8]>`: borrowed as the inner type.
                "Cow" | "Box" | "Arc" | "Rc" => match generic_arg(ty).map(strip) {
                    Some(Type::Slice(s)) if is_u8(&s.elem) => Shape::Bytes,
                    Some(t) if last_segment(t).is_some_and(|s| s.ident == "str") => Shape::Str,
                    _ => Shape::Unknown,
                },
                "Vec" if generic_arg(ty).is_some_and(is_u8) => {
                    if owned {
                        Shape::OwnedBytes
                    } else {
                        Shape::Bytes
                    }
                }
                "Vec" | "VecDeque" | "HashSet" | "BTreeSet" | "LinkedList" => Shape::Seq,
                "HashMap" | "BTreeMap" => Shape::Map,
                "Option" => Shape::Option,
                "Value" => Shape::Value,
                "f32" | "f64" => Shape::Float,
                "bool" => Shape::Bool,
                n if INTS.contains(&n) => Shape::Int,
                _ => Shape::Unknown,
            }
        }
        _ => Shape::Unknown,
    }
}

fn is_into_iter(b: &TypeParamBound) -> bool {
    matches!(b, TypeParamBound::Trait(tb)
        if tb.path.segments.last().is_some_and(|s| s.ident == "IntoIterator" || s.ident == "Iterator"))
}

/// The element type of a variadic parameter: `&[T]`, `Vec<T>`, `[T; N]`,
/// `&Vec<T>`, the std sets and sequences, `Box<[T]>`,
/// `impl IntoIterator<Item = T>`.
fn seq_elem(ty: &Type) -> Option<&Type> {
    match strip(ty) {
        Type::Slice(s) => Some(&s.elem),
        Type::Array(a) => Some(&a.elem),
        t if last_segment(t).is_some_and(|s| ["Box", "Arc", "Rc"].iter().any(|n| s.ident == n)) => {
            match generic_arg(t).map(strip) {
                Some(Type::Slice(s)) => Some(&s.elem),
                _ => None,
            }
        }
        Type::ImplTrait(t) => t.bounds.iter().find_map(|b| match b {
            TypeParamBound::Trait(tb) => {
                let seg = tb.path.segments.last()?;
                match &seg.arguments {
                    PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
                        GenericArgument::AssocType(at) if at.ident == "Item" => Some(&at.ty),
                        _ => None,
                    }),
                    _ => None,
                }
            }
            _ => None,
        }),
        t if last_segment(t).is_some_and(|s| SEQS.iter().any(|n| s.ident == n)) => generic_arg(t),
        _ => None,
    }
}

/// Collections whose `IntoIterator` yields their one type argument.
const SEQS: &[&str] = &[
    "Vec",
    "VecDeque",
    "LinkedList",
    "HashSet",
    "BTreeSet",
    "BinaryHeap",
    "IndexSet",
];

/// What a header type accepts, in words, for help lines.
fn accepts(ty: Option<HType>) -> &'static str {
    match ty {
        None => "a string (`&str`, `String`, `Cow<str>`, `Box<str>`, `Arc<str>`), bytes (`&[u8]`, `Vec<u8>`, `[u8; N]`, `Cow<[u8]>`) or a generic bounded by `redlua::arg::Key`",
        Some(HType::Str) => "`&str`, `String`, `&String`, `Cow<str>`, `Box<str>` or `Arc<str>`",
        Some(HType::Bytes) => "`&[u8]`, `Vec<u8>`, `[u8; N]` or `Cow<[u8]>`",
        Some(HType::Int) => "an integer type such as `i64`",
        Some(HType::Float) => "`f64` or `f32`",
        Some(HType::Bool) => "`bool`",
        Some(HType::List) => "a serializable sequence such as `&[T]` or `Vec<T>`",
        Some(HType::Dict) => "a serializable map such as `&HashMap<String, T>` or a struct",
        Some(HType::Json) => "any `serde::Serialize` type",
        Some(HType::Redis) => "nothing: `redis` is a `%return` type only",
    }
}

/// The Rust type we suggest for a parameter, for the expected-signature help.
fn suggested(p: &Param) -> String {
    rust_decl::param_type_as(p, rust_decl::Open::Generic)
}

/// Does a non-variadic value of `shape` fit header type `ty` (None = key)?
fn fits_param(ty: Option<HType>, shape: Shape) -> bool {
    if shape == Shape::Unknown {
        return true;
    }
    match ty {
        None => matches!(
            shape,
            Shape::Str | Shape::OwnedString | Shape::Bytes | Shape::OwnedBytes
        ),
        Some(HType::Str) => matches!(shape, Shape::Str | Shape::OwnedString),
        Some(HType::Bytes) => matches!(shape, Shape::Bytes | Shape::OwnedBytes),
        Some(HType::Int) => shape == Shape::Int,
        Some(HType::Float) => shape == Shape::Float,
        Some(HType::Bool) => shape == Shape::Bool,
        Some(HType::List) => matches!(shape, Shape::Seq),
        Some(HType::Dict) => matches!(shape, Shape::Map),
        Some(HType::Json) => !matches!(shape, Shape::Option | Shape::Unit),
        Some(HType::Redis) => false,
    }
}

/// Checks `item`'s signature against `asm`; every problem becomes a
/// `syn::Error` spanned on the Rust part at fault, its message pointing
/// into the `.lua` file. Returns all of them together.
pub fn check<'a>(item: &syn::ForeignItemFn, asm: &'a Assembled) -> Result<Plan<'a>, syn::Error> {
    let mut errors: Vec<syn::Error> = qualifiers(&item.sig);
    let render = |d: Diagnostic| -> String {
        let f = &asm.files[d.file.min(asm.files.len().saturating_sub(1))];
        d.render(&f.display, &f.text)
    };
    // Parameters: same names, same order as the header.
    let mut rust: Vec<RustParam> = Vec::new();
    for input in &item.sig.inputs {
        match input {
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(pi) => rust.push(((pi.ident).clone(), (*pt.ty).clone(), pt.span())),
                other => errors.push(syn::Error::new_spanned(
                    other,
                    "a script parameter must be a plain name, e.g. `user: &str`",
                )),
            },
            FnArg::Receiver(r) => errors.push(syn::Error::new_spanned(
                r,
                "a script function takes no `self`: drop it (an associated function is called as `Type::name(...)`), or declare the function at module level",
            )),
        }
    }
    let mut params = Vec::new();
    if !asm.errors.is_empty() {
        // Lines with header errors are missing from `asm.params`: judging
        // names or order now would only repeat those errors. Check the types
        // of the parameters that can be matched, by name.
        for (ident, ty, _) in &rust {
            if let Some(p) = asm.params.iter().find(|p| *ident == p.name) {
                params.push(PlannedParam {
                    ident: ident.clone(),
                    ty: ty.clone(),
                    header: p,
                });
            }
        }
    } else {
        check_names(item, asm, &rust, &mut params, &mut errors, &render);
    }

    // Parameter types.
    for pp in &params {
        let p = pp.header;
        let hty = match p.kind {
            ParamKind::Key => None,
            ParamKind::Arg(t) => Some(t),
        };
        let what = directive_text(p);
        let written = type_text(&pp.ty);
        let problem = if hty == Some(HType::Redis) {
            Some((
                format!("`{what}`: `redis` describes a reply, not a parameter"),
                format!(
                    "`redis` is a `%return` type only; declare `{}` with a parameter type such as `str`, `bytes`, `int` or `json`",
                    p.name
                ),
            ))
        } else if shape(&pp.ty) == Shape::Option {
            Some((
                format!("parameter `{}: {written}` cannot be optional", p.name),
                "send a value; only `%return` can be optional (`TYPE?`)".to_owned(),
            ))
        } else if p.variadic {
            match seq_elem(&pp.ty) {
                Some(elem) if fits_param(hty, shape(elem)) => None,
                Some(elem) => Some((
                    format!(
                        "parameter `{}` is `{written}`, but `{what}` takes elements of {}, not `{}`",
                        p.name,
                        accepts(hty),
                        type_text(elem)
                    ),
                    format!("write `{}: {}`", p.name, suggested(p)),
                )),
                None if shape(&pp.ty) == Shape::Unknown => None,
                None => Some((
                    format!(
                        "parameter `{}` is `{written}`, but `{what}` is variadic",
                        p.name
                    ),
                    format!(
                        "a variadic parameter takes a slice, a `Vec` or `impl IntoIterator`: write `{}: {}`",
                        p.name,
                        suggested(p)
                    ),
                )),
            }
        } else if fits_param(hty, shape(&pp.ty)) {
            None
        } else {
            Some((
                format!(
                    "parameter `{}` is `{written}`, which does not fit `{what}`",
                    p.name
                ),
                format!("`{what}` takes {}", accepts(hty)),
            ))
        };
        if let Some((msg, help)) = problem {
            errors.push(syn::Error::new_spanned(
                &pp.ty,
                render(
                    Diagnostic::new(p.file, p.ty_span, msg)
                        .label("declared here")
                        .help(help),
                ),
            ));
        }
    }

    // Return type.
    let (ret_ty, decoder) = match check_return(item, asm, &render) {
        Ok(r) => r,
        Err(e) => {
            errors.push(e);
            (
                syn::parse_quote!(()),
                quote!(::redlua::__private::decode::unit),
            )
        }
    };

    match errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        Some(e) => Err(e),
        None => Ok(Plan {
            params,
            ret_ty,
            decoder,
        }),
    }
}

type RustParam = (syn::Ident, Type, proc_macro2::Span);

/// Same names, same order as the header.
fn check_names<'a>(
    item: &syn::ForeignItemFn,
    asm: &'a Assembled,
    rust: &[RustParam],
    params: &mut Vec<PlannedParam<'a>>,
    errors: &mut Vec<syn::Error>,
    render: &dyn Fn(Diagnostic) -> String,
) {
    let expected_sig = || {
        let list: Vec<String> = asm
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, suggested(p)))
            .collect();
        format!(
            "the header declares, in order: fn {}({})",
            item.sig.ident,
            list.join(", ")
        )
    };
    let at_param = |p: &Param, msg: String, label: &str, help: String| {
        render(
            Diagnostic::new(p.file, p.name_span, msg)
                .label(label.to_owned())
                .help(help),
        )
    };
    for (i, (ident, ty, span)) in rust.iter().enumerate() {
        let name = ident.to_string();
        match asm.params.get(i) {
            Some(p) if p.name == name => params.push(PlannedParam {
                ident: ident.clone(),
                ty: ty.clone(),
                header: p,
            }),
            Some(p) => {
                let msg = if let Some(q) = asm.params.iter().find(|q| q.name == name) {
                    format!(
                        "parameter `{name}` is out of order: the header declares `{}` here and `{name}` as parameter {}",
                        p.name,
                        asm.params.iter().position(|x| x.name == q.name).unwrap_or(0) + 1
                    )
                } else {
                    format!(
                        "parameter `{name}` does not match the header: expected `{}` (`{}`)",
                        p.name,
                        directive_text(p)
                    )
                };
                errors.push(syn::Error::new(
                    *span,
                    at_param(p, msg, "the header's parameter here", expected_sig()),
                ));
            }
            None => {
                let file = &asm.files[0];
                errors.push(syn::Error::new(
                    *span,
                    format!(
                        "parameter `{name}` has no `%key` or `%arg` in {}\n  = help: {}",
                        file.display,
                        expected_sig()
                    ),
                ));
            }
        }
    }
    for p in asm.params.iter().skip(rust.len()) {
        errors.push(syn::Error::new(
            item.sig.paren_token.span.join(),
            at_param(
                p,
                format!("missing parameter `{}` (`{}`)", p.name, directive_text(p)),
                "declared here",
                expected_sig(),
            ),
        ));
    }
}

/// `async`, `const`, `unsafe`, `extern "C"` and C variadics would be
/// dropped from the generated function, changing what callers get.
fn qualifiers(sig: &syn::Signature) -> Vec<syn::Error> {
    let run = "it returns a `redlua::Call`: run it with `.invoke(&mut con)`, \
               or on an async connection with `.invoke_async(&mut con).await`";
    let mut errors = Vec::new();
    let mut refuse = |span: Span, what: &str, why: &str| {
        errors.push(syn::Error::new(
            span,
            format!("a `#[redis_script]` function cannot be `{what}`: {why}\n  = help: remove `{what}`; {run}"),
        ))
    };
    if let Some(t) = &sig.asyncness {
        refuse(t.span, "async", "the call itself is not a future");
    }
    if let Some(t) = &sig.constness {
        refuse(t.span, "const", "it encodes its arguments at run time");
    }
    if let Some(t) = &sig.unsafety {
        refuse(t.span, "unsafe", "nothing about a script call is unsafe");
    }
    if let Some(abi) = &sig.abi {
        let what = match &abi.name {
            Some(n) => format!("extern {}", n.token()),
            None => "extern".to_owned(),
        };
        refuse(abi.span(), &what, "it is a Rust function");
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            v,
            "a `#[redis_script]` function cannot be C-variadic\n  = help: declare a variadic `%key NAME...` or `%arg NAME TYPE...` and take a slice, a `Vec` or `impl IntoIterator`",
        ));
    }
    errors
}

/// A Rust type as its author wrote it (`&BTreeSet<String>`, `Vec<(String, f64)>`),
/// not as `TokenStream`'s `Display` spaces it.
pub fn type_text(ty: &Type) -> String {
    let mut out = String::new();
    write_tokens(&mut out, quote!(#ty));
    out
}

fn write_tokens(out: &mut String, tokens: TokenStream) {
    // True after a word, where a following word needs a space (`&mut T`,
    // `dyn Trait`, `&'a str`).
    let mut word = false;
    for tt in tokens {
        match tt {
            TokenTree::Ident(_) | TokenTree::Literal(_) => {
                if word {
                    out.push(' ');
                }
                out.push_str(&tt.to_string());
                word = true;
            }
            TokenTree::Punct(p) => {
                match p.as_char() {
                    ',' => out.push_str(", "),
                    ';' => out.push_str("; "),
                    '=' => out.push_str(" = "),
                    '+' => out.push_str(" + "),
                    '-' => out.push_str(" -"),
                    '>' if out.ends_with(" -") => out.push_str("> "),
                    '\'' if word => out.push_str(" '"),
                    c => out.push(c),
                }
                word = false;
            }
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                    proc_macro2::Delimiter::Bracket => ("[", "]"),
                    proc_macro2::Delimiter::Brace => ("{ ", " }"),
                    proc_macro2::Delimiter::None => ("", ""),
                };
                out.push_str(open);
                write_tokens(out, g.stream());
                out.push_str(close);
                word = g.delimiter() == proc_macro2::Delimiter::None;
            }
        }
    }
}

fn check_return(
    item: &syn::ForeignItemFn,
    asm: &Assembled,
    render: &dyn Fn(Diagnostic) -> String,
) -> Result<(Type, TokenStream), syn::Error> {
    let written: Option<&Type> = match &item.sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, t) => Some(t),
    };
    let Some(ret) = &asm.ret else {
        return match written.map(|t| (t, shape(t))) {
            None | Some((_, Shape::Unit)) => Ok((
                syn::parse_quote!(()),
                quote!(::redlua::__private::decode::unit),
            )),
            Some((t, Shape::Value)) => Ok((t.clone(), quote!(::redlua::__private::decode::raw))),
            Some((t, _)) => Err(syn::Error::new_spanned(
                t,
                format!(
                    "{} has no `%return`, so its function returns `()` (reply discarded) or `redis::Value` (the raw reply)\n  = help: add a `%return TYPE` line to the script to decode the reply as `{}`",
                    asm.files[0].display,
                    type_text(t)
                ),
            )),
        };
    };
    let decl = &ret.decl;
    let header = return_text(decl);
    let fail = |span_on: &dyn quote::ToTokens, msg: String, help: String| {
        syn::Error::new_spanned(
            span_on,
            render(
                Diagnostic::new(ret.file, decl.ty_span, msg)
                    .label("declared here")
                    .help(help),
            ),
        )
    };
    let Some(t) = written else {
        return Err(fail(
            &item.sig,
            format!("the script declares `{header}` but the function has no return type"),
            format!("add `-> {}`", suggested_return(decl)),
        ));
    };
    if decl.ty == HType::Redis && (decl.optional || decl.array || decl.elem_optional) {
        // redis-rs decodes `Option<T>` and `Vec<T>` (flat pairs included)
        // itself; a second layer of ours would split its pairs.
        return Err(fail(
            t,
            format!("`{header}`: `redis` takes no `?` or `[]`"),
            "write `%return redis` and say it in the Rust type: `-> Option<T>` for null, `-> Vec<T>` for an array".to_owned(),
        ));
    }
    let help = || {
        let mut h = format!("write `-> {}`", suggested_return(decl));
        let fits = fitting_headers(t);
        if !fits.is_empty() {
            h.push_str(&format!(
                ", or keep `-> {}` and declare {}",
                type_text(t),
                fits.join(" or ")
            ));
            if fits.iter().any(|f| f == "`%return redis`") {
                h.push_str(" (`redis` decodes with redis-rs's `FromRedisValue`)");
            }
        } else if shape(t) == Shape::Str || shape(t) == Shape::Bytes {
            h.push_str(": a reply is owned, so return `String` or `Vec<u8>`");
        }
        h
    };
    // Peel the layers the header declares, checking each against the Rust type.
    let mut cur = t;
    if decl.optional {
        match generic_arg(cur).filter(|_| shape(cur) == Shape::Option) {
            Some(inner) => cur = inner,
            None => {
                return Err(fail(
                    t,
                    format!(
                    "`{header}` may return null, so the Rust type must be an `Option`, not `{}`",
                    type_text(t)
                ),
                    help(),
                ))
            }
        }
    } else if shape(cur) == Shape::Option {
        return Err(fail(
            t,
            format!(
                "`{header}` never returns null, but the function returns `{}`",
                type_text(t)
            ),
            format!(
                "declare `{header}?` in the script if it can return null, or write `-> {}`",
                suggested_return(decl)
            ),
        ));
    }
    if decl.array {
        match generic_arg(cur).filter(|_| last_segment(cur).is_some_and(|s| s.ident == "Vec")) {
            Some(inner) => cur = inner,
            None => {
                return Err(fail(
                    t,
                    format!(
                        "`{header}` returns an array, so the Rust type must be a `Vec`, not `{}`",
                        type_text(cur)
                    ),
                    help(),
                ))
            }
        }
        if decl.elem_optional {
            match generic_arg(cur).filter(|_| shape(cur) == Shape::Option) {
                Some(inner) => cur = inner,
                None => {
                    return Err(fail(
                        t,
                        format!("the elements of `{header}` may be null, so they must be `Option`s, not `{}`", type_text(cur)),
                        help(),
                    ))
                }
            }
        }
    }
    let s = shape(cur);
    if !fits_return(decl.ty, s) {
        return Err(fail(
            t,
            format!(
                "the function returns `{}`, which does not fit `{header}`",
                type_text(t)
            ),
            help(),
        ));
    }
    // Spanned on the return type, so a trait bound the type misses
    // (`FromRedisValue`, `DeserializeOwned`, ...) is reported there.
    let span = t.span();
    let elem_text = type_text(cur);
    let base = match decl.ty {
        HType::Int => quote_spanned!(span=> ::redlua::__private::decode::int),
        HType::Float => quote_spanned!(span=> ::redlua::__private::decode::float),
        HType::Str => quote_spanned!(span=> ::redlua::__private::decode::string),
        HType::Bytes => quote_spanned!(span=> ::redlua::__private::decode::bytes),
        HType::Bool => quote_spanned!(span=> ::redlua::__private::decode::boolean),
        HType::List | HType::Dict | HType::Json => {
            quote_spanned!(span=> |v| ::redlua::__private::decode::json(v, #elem_text))
        }
        HType::Redis => {
            quote_spanned!(span=> |v| ::redlua::__private::decode::redis(v, #elem_text))
        }
    };
    let elem = if decl.elem_optional {
        quote_spanned!(span=> |v| ::redlua::__private::decode::opt(v, #base))
    } else {
        base
    };
    let arr = if decl.array {
        quote_spanned!(span=> |v| ::redlua::__private::decode::array(v, #elem))
    } else {
        elem
    };
    let full = if decl.optional {
        quote_spanned!(span=> |v| ::redlua::__private::decode::opt(v, #arr))
    } else {
        arr
    };
    Ok((t.clone(), full))
}

/// Can a reply declared `ty` decode into a Rust type of shape `s`?
/// `Unknown` (aliases, user types) is left to the decoders' trait bounds.
fn fits_return(ty: HType, s: Shape) -> bool {
    s == Shape::Unknown
        || match ty {
            HType::Int => s == Shape::Int,
            HType::Float => s == Shape::Float,
            HType::Str => s == Shape::OwnedString,
            HType::Bytes => s == Shape::OwnedBytes,
            HType::Bool => s == Shape::Bool,
            HType::List => matches!(s, Shape::Seq | Shape::Tuple),
            HType::Dict => s == Shape::Map,
            HType::Json => !matches!(s, Shape::Str | Shape::Bytes | Shape::Unit | Shape::Option),
            HType::Redis => !matches!(s, Shape::Str | Shape::Bytes | Shape::Unit),
        }
}

const RETURN_TYPES: &[HType] = &[
    HType::Int,
    HType::Float,
    HType::Str,
    HType::Bytes,
    HType::Bool,
    HType::List,
    HType::Dict,
    HType::Json,
    HType::Redis,
];

/// Every `%return` declaration a Rust return type could use, for help
/// lines: `Option<i64>` -> `%return int?`, `%return json`, `%return redis`.
fn fitting_headers(t: &Type) -> Vec<String> {
    let decl = |ty: HType, suffix: &str| format!("`%return {}{suffix}`", type_name(ty));
    let direct = |t: &Type, suffix: &str| -> Vec<String> {
        let s = shape(t);
        if s == Shape::Unknown {
            return Vec::new();
        }
        RETURN_TYPES
            .iter()
            .filter(|ty| fits_return(**ty, s))
            .map(|ty| decl(*ty, suffix))
            .collect()
    };
    // Header layers (`?`, `[]`) over the scalar types; redis-rs and serde
    // take the whole type.
    let scalar = |t: &Type, suffix: &str| -> Vec<String> {
        let s = shape(t);
        [
            HType::Int,
            HType::Float,
            HType::Str,
            HType::Bytes,
            HType::Bool,
        ]
        .into_iter()
        .filter(|ty| s != Shape::Unknown && fits_return(*ty, s))
        .map(|ty| decl(ty, suffix))
        .collect()
    };
    let mut out = Vec::new();
    match (shape(t), generic_arg(t)) {
        (Shape::Option, Some(inner)) => {
            out.extend(scalar(inner, "?"));
            if shape(inner) == Shape::Seq && last_segment(inner).is_some_and(|s| s.ident == "Vec") {
                if let Some(e) = generic_arg(inner) {
                    out.extend(scalar(e, "[]?"));
                }
            }
            out.push(decl(HType::Json, ""));
            out.push(decl(HType::Redis, ""));
        }
        (Shape::Seq, Some(e)) if last_segment(t).is_some_and(|s| s.ident == "Vec") => {
            out.extend(scalar(e, "[]"));
            if let (Shape::Option, Some(e2)) = (shape(e), generic_arg(e)) {
                out.extend(scalar(e2, "?[]"));
            }
            out.extend(direct(t, ""));
        }
        _ => out.extend(direct(t, "")),
    }
    out
}

fn suggested_return(d: &ReturnDecl) -> String {
    rust_decl::return_type_as(d, rust_decl::Open::Generic)
}
