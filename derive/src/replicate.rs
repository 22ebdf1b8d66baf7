//! `#[derive(Replicate)]`: one entity type (a struct, which also gets `Fields`), or the entity
//! types of a world (an enum of `Variant(Struct)`, one type per variant in variant order).

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DataEnum, DeriveInput, Fields};

use crate::errors::Errors;
use crate::fields::{self, Context};
use crate::{attrs, case, fields_derive};

/// `krate`: the protocol crate's path.
pub fn expand(input: &DeriveInput, krate: &TokenStream) -> syn::Result<TokenStream> {
    match &input.data {
        Data::Struct(_) => one_type(input, krate),
        Data::Enum(e) => many_types(input, e, krate),
        Data::Union(_) => Err(syn::Error::new(
            input.ident.span(),
            "Replicate derives on a struct or an enum of structs",
        )),
    }
}

fn one_type(input: &DeriveInput, krate: &TokenStream) -> syn::Result<TokenStream> {
    let fields_impl = fields_derive::expand(input, krate)?;
    let Data::Struct(data) = &input.data else {
        unreachable!("one_type is for structs");
    };
    // `fields_derive::expand` accepted these fields, so planning them again succeeds.
    let fits = fields::fits(
        &fields::plan(&data.fields, input.ident.span(), Context::Struct)?,
        krate,
    );
    let name = match attrs::item_attrs(&input.attrs, "replicate", &["name", "crate"])?.name {
        Some(lit) => lit.value(),
        None => case::snake(&input.ident.to_string()),
    };
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        #fields_impl

        #[automatically_derived]
        impl #impl_generics #krate::declare::Replicate for #ident #ty_generics #where_clause {
            fn types() -> ::std::vec::Vec<(
                ::std::string::String,
                ::std::vec::Vec<#krate::schema::FieldDesc>,
            )> {
                ::std::vec![(
                    ::std::string::String::from(#name),
                    <Self as #krate::declare::Fields>::fields(),
                )]
            }
            fn type_id(&self) -> u16 {
                0
            }
            fn write(&self, out: &mut #krate::declare::Writer) {
                <Self as #krate::declare::Fields>::write(self, out)
            }
            fn read(
                type_id: u16,
                values: &[#krate::schema::Value],
            ) -> ::std::option::Option<Self> {
                if type_id == 0 && #fits {
                    ::std::option::Option::Some(<Self as #krate::declare::Fields>::read(values))
                } else {
                    ::std::option::Option::None
                }
            }
        }
    })
}

fn many_types(
    input: &DeriveInput,
    data: &DataEnum,
    krate: &TokenStream,
) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    // `crate = ".."` is for the enum too (`crate_path`); names are the structs'.
    let name = errors.take(attrs::item_attrs(
        &input.attrs,
        "replicate",
        &["name", "crate"],
    ));
    if let Some(name) = name.and_then(|a| a.name) {
        errors.push(syn::Error::new(
            name.span(),
            "an enum's type names are its variants' structs' names: put #[replicate(name = ..)] \
             on those",
        ));
    }
    let mut inners = Vec::new();
    for v in &data.variants {
        match &v.fields {
            Fields::Unnamed(u) if u.unnamed.len() == 1 => inners.push((&v.ident, &u.unnamed[0].ty)),
            _ => errors.push(syn::Error::new(
                v.ident.span(),
                "each variant of a Replicate enum holds one entity struct: `Variant(Struct)`",
            )),
        }
    }
    if inners.len() > usize::from(u16::MAX) {
        errors.push(syn::Error::new(input.ident.span(), "too many entity types"));
    }
    errors.finish()?;

    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let types = if inners.is_empty() {
        quote!(::std::vec::Vec::new())
    } else {
        let pushes = inners.iter().map(|(v, ty)| {
            let msg = format!(
                "{ident}::{v} must hold one entity type (a struct deriving Replicate): type ids \
                 are variant indices"
            );
            quote! {
                let inner = <#ty as #krate::declare::Replicate>::types();
                // Type ids are variant indices, so a nested multi-type enum would shift them.
                ::std::assert!(inner.len() == 1, #msg);
                types.extend(inner);
            }
        });
        let n = inners.len();
        quote! {
            let mut types = ::std::vec::Vec::with_capacity(#n);
            #(#pushes)*
            types
        }
    };
    let ids = inners.iter().enumerate().map(|(i, (v, _))| {
        let i = i as u16;
        quote!(Self::#v(..) => #i,)
    });
    let writes = inners.iter().map(
        |(v, _)| quote!(Self::#v(ref inner) => #krate::declare::Replicate::write(inner, out),),
    );
    let reads = inners.iter().enumerate().map(|(i, (v, ty))| {
        let i = i as u16;
        // Each variant's struct is type 0 of its own declaration.
        quote! {
            #i => <#ty as #krate::declare::Replicate>::read(0, values).map(Self::#v),
        }
    });
    // Parameters nothing reads would warn in the user's crate.
    let (out, values) = if inners.is_empty() {
        (quote!(_), quote!(_))
    } else {
        (quote!(out), quote!(values))
    };
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::declare::Replicate for #ident #ty_generics #where_clause {
            fn types() -> ::std::vec::Vec<(
                ::std::string::String,
                ::std::vec::Vec<#krate::schema::FieldDesc>,
            )> {
                #types
            }
            fn type_id(&self) -> u16 {
                match *self { #(#ids)* }
            }
            fn write(&self, #out: &mut #krate::declare::Writer) {
                match *self { #(#writes)* }
            }
            fn read(
                type_id: u16,
                #values: &[#krate::schema::Value],
            ) -> ::std::option::Option<Self> {
                match type_id {
                    #(#reads)*
                    _ => ::std::option::Option::None,
                }
            }
        }
    })
}
