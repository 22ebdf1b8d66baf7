//! `#[derive(Fields)]`: a struct of named fields (an input, the room state, one entity type).

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput};

use crate::fields::{self, Context};

/// `krate`: the protocol crate's path.
pub fn expand(input: &DeriveInput, krate: &TokenStream) -> syn::Result<TokenStream> {
    let fields = match &input.data {
        Data::Struct(s) => &s.fields,
        _ => {
            return Err(syn::Error::new(
                input.ident.span(),
                "Fields derives on a struct with named fields",
            ));
        }
    };
    if let syn::Fields::Unnamed(u) = fields {
        return Err(syn::Error::new(
            u.span(),
            "Fields needs named fields: a field's name is its wire name",
        ));
    }
    let plan = fields::plan(fields, input.ident.span(), Context::Struct)?;
    let descs = fields::descs(&plan, krate);
    let writes = fields::writes(&plan, false, krate);
    let reads = fields::reads(&plan, krate);
    // Unused parameters would warn in the user's crate when nothing is replicated.
    let (out, values) = if fields::any_wired(&plan) {
        (quote!(out), quote!(values))
    } else {
        (quote!(_), quote!(_))
    };
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::declare::Fields for #ident #ty_generics #where_clause {
            fn fields() -> ::std::vec::Vec<#krate::schema::FieldDesc> {
                #descs
            }
            fn write(&self, #out: &mut #krate::declare::Writer) {
                #writes
            }
            fn read(#values: &[#krate::schema::Value]) -> Self {
                Self { #reads }
            }
        }
    })
}
