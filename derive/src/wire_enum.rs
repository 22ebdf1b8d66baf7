//! `#[derive(WireEnum)]`: a fieldless enum used as a field type; it travels as its variant's
//! position (explicit discriminants are ignored: positions are what clients index names by).

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

use crate::case;
use crate::errors::Errors;

/// `Coding::Enum` holds 1..=256 variants (`Descriptor::validate`).
const MAX_VARIANTS: usize = 256;

/// `krate`: the protocol crate's path.
pub fn expand(input: &DeriveInput, krate: &TokenStream) -> syn::Result<TokenStream> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "WireEnum derives on a fieldless enum",
        ));
    };
    let mut errors = Errors::default();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            errors.push(syn::Error::new(
                v.ident.span(),
                "WireEnum variants have no fields",
            ));
        }
    }
    let n = data.variants.len();
    if n == 0 || n > MAX_VARIANTS {
        errors.push(syn::Error::new(
            input.ident.span(),
            format!("a WireEnum has 1..={MAX_VARIANTS} variants, not {n}"),
        ));
    }
    errors.finish()?;

    let idents: Vec<_> = data.variants.iter().map(|v| &v.ident).collect();
    let names = idents.iter().map(|v| case::snake(&v.to_string()));
    let indices: Vec<u32> = (0..n as u32).collect();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::declare::WireEnum for #ident #ty_generics #where_clause {
            fn variants() -> ::std::vec::Vec<::std::string::String> {
                ::std::vec![#(::std::string::String::from(#names)),*]
            }
            fn index(&self) -> u32 {
                match *self { #(Self::#idents => #indices,)* }
            }
            fn from_index(i: u32) -> ::std::option::Option<Self> {
                match i {
                    #(#indices => ::std::option::Option::Some(Self::#idents),)*
                    _ => ::std::option::Option::None,
                }
            }
        }
    })
}
