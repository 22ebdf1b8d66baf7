//! Where the generated code finds the protocol crate (`protocol::declare`, `protocol::schema`).
//!
//! A game crate may depend on `protocol` itself, or only on the `ticksync` facade, which
//! re-exports it as `ticksync::protocol`; either may be renamed in its `Cargo.toml`. The path is
//! chosen once per derive, from `#[<derive's attribute>(crate = "...")]` if given, else from the
//! calling crate's manifest (`proc-macro-crate` reads `CARGO_MANIFEST_DIR/Cargo.toml`).

use std::env;

use proc_macro_crate::{FoundCrate, crate_name};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::attrs;

/// The wire crate's package name, and the facade's (which has `pub use protocol;`).
const PROTOCOL: &str = "protocol";
const FACADE: &str = "ticksync";

/// The protocol crate's path for this derive: `#[<attr_name>(crate = "path")]` on the item,
/// else as its crate's manifest finds it (see `protocol_path`). `keys` are the keys that
/// attribute takes (`attrs::item_attrs`).
pub fn resolve(
    input_attrs: &[syn::Attribute],
    attr_name: &str,
    keys: &[&str],
) -> syn::Result<TokenStream> {
    let given = attrs::item_attrs(input_attrs, attr_name, keys)?.krate;
    Ok(given.map_or_else(
        || protocol_path(found(PROTOCOL), found(FACADE)),
        |path| quote!(#path),
    ))
}

/// How the crate being compiled names `package`, if its manifest lists it (a dependency, a
/// dev-dependency, or the package itself).
fn found(package: &str) -> Option<FoundCrate> {
    let found = crate_name(package).ok()?;
    // proc-macro-crate answers `Itself` for every target of the package but its integration
    // tests. A binary, an example and a doctest are other crates, which name the library by its
    // name: cargo sets CARGO_BIN_NAME for the first two, and rustdoc UNSTABLE_RUSTDOC_TEST_PATH
    // when it compiles a doctest on its own (its fallback when a merged 2024-edition doctest
    // build fails, as `crate` there would).
    let other_crate = ["CARGO_BIN_NAME", "UNSTABLE_RUSTDOC_TEST_PATH"]
        .iter()
        .any(|v| env::var_os(v).is_some());
    if found == FoundCrate::Itself && other_crate {
        return Some(FoundCrate::Name(package.replace('-', "_")));
    }
    Some(found)
}

/// The path generated code uses for the protocol crate, given how the calling crate names
/// `protocol` and `ticksync` (`None`: not in its manifest):
///
/// - it depends on `protocol` (perhaps renamed `n`): `::n`;
/// - it is `protocol` (code in `protocol/src`): `crate`;
/// - else it depends on `ticksync` (perhaps renamed `t`): `::t::protocol`; it is `ticksync`:
///   `crate::protocol`;
/// - else `::protocol`, so that the compiler's error names the missing crate.
pub fn protocol_path(
    found_protocol: Option<FoundCrate>,
    found_ticksync: Option<FoundCrate>,
) -> TokenStream {
    let ident = |name: &str| Ident::new(name, Span::call_site());
    match (found_protocol, found_ticksync) {
        (Some(FoundCrate::Name(n)), _) => {
            let n = ident(&n);
            quote!(::#n)
        }
        (Some(FoundCrate::Itself), _) => quote!(crate),
        (None, Some(FoundCrate::Name(t))) => {
            let t = ident(&t);
            quote!(::#t::protocol)
        }
        (None, Some(FoundCrate::Itself)) => quote!(crate::protocol),
        (None, None) => quote!(::protocol),
    }
}
