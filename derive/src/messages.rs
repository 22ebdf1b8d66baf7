//! `#[derive(Messages)]`: an enum of reliable messages (actions or events), each variant unit
//! or with named fields; a message's id is its variant index.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

use crate::errors::Errors;
use crate::fields::{self, Context};
use crate::{attrs, case};

/// `krate`: the protocol crate's path.
pub fn expand(input: &DeriveInput, krate: &TokenStream) -> syn::Result<TokenStream> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "Messages derives on an enum: one variant per message",
        ));
    };
    let mut errors = Errors::default();
    let mut variants = Vec::new();
    for v in &data.variants {
        if let Fields::Unnamed(_) = v.fields {
            errors.push(syn::Error::new(
                v.ident.span(),
                "a message variant is a unit or has named fields: a field's name is its wire name",
            ));
            continue;
        }
        let name = errors.take(attrs::item_attrs(&v.attrs, "message", &["name"]));
        let plan = errors.take(fields::plan(&v.fields, v.ident.span(), Context::Message));
        if let (Some(name), Some(plan)) = (name, plan) {
            let name = name
                .name
                .map_or_else(|| case::snake(&v.ident.to_string()), |l| l.value());
            variants.push((&v.ident, name, plan));
        }
    }
    if data.variants.len() > usize::from(u16::MAX) {
        errors.push(syn::Error::new(input.ident.span(), "too many messages"));
    }
    errors.finish()?;

    let messages = variants.iter().map(|(_, name, plan)| {
        let descs = fields::descs(plan, krate);
        quote!((::std::string::String::from(#name), #descs))
    });
    let ids = variants.iter().enumerate().map(|(i, (v, ..))| {
        let i = i as u16;
        quote!(Self::#v { .. } => #i,)
    });
    let writes = variants.iter().map(|(v, _, plan)| {
        let (bindings, writes) = (fields::bindings(plan), fields::writes(plan, true, krate));
        quote!(Self::#v { #bindings .. } => { #writes })
    });
    let reads = variants.iter().enumerate().map(|(i, (v, _, plan))| {
        let (i, reads) = (i as u16, fields::reads(plan, krate));
        quote!(#i => ::std::option::Option::Some(Self::#v { #reads }),)
    });
    let any_fields = variants.iter().any(|(.., plan)| fields::any_wired(plan));
    // Parameters nothing reads would warn in the user's crate.
    let (out, values) = if any_fields {
        (quote!(out), quote!(values))
    } else {
        (quote!(_), quote!(_))
    };
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::declare::Messages for #ident #ty_generics #where_clause {
            fn messages() -> ::std::vec::Vec<(
                ::std::string::String,
                ::std::vec::Vec<#krate::schema::FieldDesc>,
            )> {
                ::std::vec![#(#messages),*]
            }
            fn id(&self) -> u16 {
                match *self { #(#ids)* }
            }
            fn write(&self, #out: &mut #krate::declare::Writer) {
                match *self { #(#writes)* }
            }
            fn read(id: u16, #values: &[#krate::schema::Value]) -> ::std::option::Option<Self> {
                match id {
                    #(#reads)*
                    _ => ::std::option::Option::None,
                }
            }
        }
    })
}
