//! Phase 1: read the attribute, the declaration and the `.lua` files.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use redlua_script::Assembled;
use syn::LitStr;

/// Which attribute the macro runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `#[redis_script]`: `EVALSHA`.
    Script,
    /// `#[redis_function]`: `FCALL` of a library loaded with `FUNCTION LOAD`.
    Function,
}

impl Kind {
    pub fn attribute(self) -> &'static str {
        match self {
            Kind::Script => "redis_script",
            Kind::Function => "redis_function",
        }
    }
}

/// Everything the macro was given, with the script assembled.
pub struct Input {
    pub kind: Kind,
    /// The attribute's path literal: `.lua` diagnostics are spanned on it.
    pub lit: LitStr,
    pub item: syn::ForeignItemFn,
    pub asm: Assembled,
    /// The crate's `Cargo.toml`: its `[package.metadata.redlua] servers`
    /// are the servers the Lua check targets.
    pub manifest: PathBuf,
}

/// The crate root the `lua/` folder lives in. `REDLUA_MANIFEST_DIR`
/// overrides `CARGO_MANIFEST_DIR` for harnesses that compile code outside
/// its crate (trybuild builds tests in a crate under `target/`).
fn crate_root() -> Result<PathBuf, String> {
    std::env::var_os("REDLUA_MANIFEST_DIR")
        .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR"))
        .map(PathBuf::from)
        .ok_or_else(|| "CARGO_MANIFEST_DIR is not set: build with cargo".to_owned())
}

pub fn parse_item(kind: Kind, item: TokenStream) -> syn::Result<syn::ForeignItemFn> {
    syn::parse2::<syn::ForeignItemFn>(item.clone()).map_err(|_| {
        let hint = format!(
            "#[{}(\"file.lua\")] goes on a declaration without a body, \
             ending in `;`: `pub fn name(key: &str, n: i64) -> i64;`\n  \
             = help: the body is generated from the script",
            kind.attribute()
        );
        match syn::parse2::<syn::ItemFn>(item) {
            Ok(f) => syn::Error::new_spanned(f.block, hint),
            Err(e) => syn::Error::new(e.span(), hint),
        }
    })
}

pub fn parse(kind: Kind, attr: TokenStream, item: syn::ForeignItemFn) -> syn::Result<Input> {
    let lit: LitStr = syn::parse2(attr).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!(
                "expected the script's path: #[{}(\"create_status.lua\")]\n  = help: the path is relative to the crate's `lua/` folder",
                kind.attribute()
            ),
        )
    })?;
    let root = crate_root().map_err(|e| syn::Error::new_spanned(&lit, e))?;
    let asm =
        redlua_script::load(&root, &lit.value()).map_err(|e| syn::Error::new_spanned(&lit, e))?;
    let manifest = root.join("Cargo.toml");
    Ok(Input {
        kind,
        lit,
        item,
        asm,
        manifest,
    })
}
