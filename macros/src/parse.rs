//! Phase 1: read the attribute, the declaration and the `.lua` files.

use std::path::{Component, Path, PathBuf};

use proc_macro2::TokenStream;
use syn::LitStr;

use crate::assemble::{self, Assembled};

/// Everything the macro was given, with the script assembled.
pub struct Input {
    /// The attribute's path literal: `.lua` diagnostics are spanned on it.
    pub lit: LitStr,
    pub item: syn::ForeignItemFn,
    pub asm: Assembled,
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

/// `lua/<path>` with `.` and `..` folded; `None` if it leaves the crate root.
fn script_path(path: &str) -> Option<String> {
    let mut parts: Vec<String> = vec!["lua".to_owned()];
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?.to_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

pub fn parse_item(item: TokenStream) -> syn::Result<syn::ForeignItemFn> {
    syn::parse2::<syn::ForeignItemFn>(item.clone()).map_err(|_| {
        let hint = "#[redis_script(\"file.lua\")] goes on a declaration without a body, \
                    ending in `;`: `pub fn name(key: &str, n: i64) -> i64;`\n  \
                    = help: the body is generated from the script";
        match syn::parse2::<syn::ItemFn>(item) {
            Ok(f) => syn::Error::new_spanned(f.block, hint),
            Err(e) => syn::Error::new(e.span(), hint),
        }
    })
}

pub fn parse(attr: TokenStream, item: syn::ForeignItemFn) -> syn::Result<Input> {
    let lit: LitStr = syn::parse2(attr).map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected the script's path: #[redis_script(\"create_status.lua\")]\n  = help: the path is relative to the crate's `lua/` folder",
        )
    })?;
    let path = lit.value();
    if Path::new(&path).is_absolute() || path.starts_with('/') || path.starts_with('\\') {
        return Err(syn::Error::new_spanned(
            &lit,
            format!("`{path}` is absolute; script paths are relative to the crate's `lua/` folder\n  = help: write e.g. #[redis_script(\"create_status.lua\")] for lua/create_status.lua"),
        ));
    }
    let Some(rel) = script_path(&path) else {
        return Err(syn::Error::new_spanned(
            &lit,
            format!("`{path}` leaves the crate root; scripts must live inside the crate\n  = help: paths are relative to the crate's `lua/` folder"),
        ));
    };
    let root = crate_root().map_err(|e| syn::Error::new_spanned(&lit, e))?;
    let asm = assemble::assemble(&assemble::Fs, &root, &rel).map_err(|e| {
        let hint = if !rel.ends_with(".lua") {
            format!("\n  = help: did you mean \"{path}.lua\"?")
        } else {
            String::new()
        };
        syn::Error::new_spanned(&lit, format!("{e}{hint}"))
    })?;
    Ok(Input { lit, item, asm })
}
