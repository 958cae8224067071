//! `#[derive(Nested)]`: a struct whose fields are all `Nested` is `Nested`, leaves in field
//! order.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields};

use crate::errors::{crate_arg, Errors};
use crate::generics;

pub fn expand(item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let input: DeriveInput = match syn::parse2(item) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let krate = crate_arg(
        &input.attrs,
        "nested",
        "unknown `#[nested]` argument: the only one is `crate = path`",
        &mut errors,
    );
    let fields = match &input.data {
        Data::Struct(s) => &s.fields,
        Data::Enum(e) => {
            errors.at(
                e.enum_token,
                "`Nested` is derived for structs only: an enum has no fixed shape",
            );
            return stub(&input, &krate, errors);
        }
        Data::Union(u) => {
            // No stub: a union cannot derive the `Clone`, `Debug` and `PartialEq` that a
            // `Nested` impl needs, so one would only add errors.
            errors.at(u.union_token, "`Nested` is derived for structs only");
            return errors.to_compile_errors();
        }
    };
    if !errors.is_empty() {
        return stub(&input, &krate, errors);
    }

    let name = &input.ident;
    let members: Vec<syn::Member> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| match &f.ident {
            Some(ident) => syn::Member::Named(ident.clone()),
            None => syn::Member::Unnamed(i.into()),
        })
        .collect();
    let types: Vec<&syn::Type> = fields.iter().map(|f| &f.ty).collect();
    let labels: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| f.ident.as_ref().map_or(i.to_string(), |id| id.to_string()))
        .collect();

    // Bound each field type rather than each type parameter: `SVector<T, 3>: Nested` holds
    // for any real `T`, which `T: Nested` would not say.
    //
    // A field whose type names no parameter of the struct is checked where it is written
    // instead: an assertion spanned on its type, so a field that is not `Nested` is the one the
    // error points at. Its bound is written `for<'__nested>` so that the compiler does not
    // report the same mistake a second time as a false bound on the impl.
    let mut generics = input.generics.clone();
    let mut field_checks = Vec::new();
    {
        let where_clause = generics.make_where_clause();
        for ty in &types {
            if generics::used_by(&input.generics, [*ty]).params.is_empty() {
                where_clause
                    .predicates
                    .push(syn::parse_quote!(for<'__nested> #ty: #krate::Nested));
                field_checks.push(quote_spanned! {ty.span()=>
                    const _: fn() = __field_is_nested::<#ty>;
                });
            } else {
                where_clause
                    .predicates
                    .push(syn::parse_quote!(#ty: #krate::Nested));
            }
        }
    }
    let field_checks = (!field_checks.is_empty()).then(|| {
        quote! {
            const _: () = {
                fn __field_is_nested<__T: #krate::Nested>() {}
                #(#field_checks)*
            };
        }
    });
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let nested = quote!(#krate::Nested);
    let construct = |values: Vec<TokenStream>| match fields {
        Fields::Named(_) => quote!(#name { #(#members: #values),* }),
        Fields::Unnamed(_) => quote!(#name ( #(#values),* )),
        Fields::Unit => quote!(#name),
    };
    let zeros = construct(
        types
            .iter()
            .map(|ty| quote!(<#ty as #nested>::zeros()))
            .collect(),
    );
    let offsets: Vec<syn::Ident> = (0..types.len()).map(|i| format_ident!("__at{i}")).collect();
    let read = construct(
        types
            .iter()
            .zip(&offsets)
            .map(|(ty, at)| quote!(<#ty as #nested>::read_f32(&src[#at..#at + <#ty as #nested>::SIZE])))
            .collect(),
    );
    let open = match fields {
        Fields::Named(_) => format!("{name} {{ "),
        Fields::Unnamed(_) => format!("{name}("),
        Fields::Unit => name.to_string(),
    };
    let close = match fields {
        Fields::Named(_) => " }",
        Fields::Unnamed(_) => ")",
        Fields::Unit => "",
    };
    let field_fmt = labels
        .iter()
        .zip(&types)
        .enumerate()
        .map(|(i, (label, ty))| {
            let sep = if i == 0 { "" } else { ", " };
            let prefix = match fields {
                Fields::Named(_) => format!("{sep}{label}: "),
                _ => sep.to_string(),
            };
            quote!(f.write_str(#prefix)?; <#ty as #nested>::fmt_shape(f)?;)
        });
    let offsets_decl = offsets
        .iter()
        .zip(&types)
        .scan(quote!(0usize), |prev, (at, ty)| {
            let decl = quote!(let #at: usize = #prev;);
            *prev = quote!(#at + <#ty as #nested>::SIZE);
            Some(decl)
        });
    let offsets_decl: Vec<TokenStream> = offsets_decl.collect();

    quote! {
        #field_checks

        impl #impl_generics #nested for #name #ty_generics #where_clause {
            const SIZE: usize = 0 #(+ <#types as #nested>::SIZE)*;

            fn zeros() -> Self {
                #zeros
            }

            fn for_each_leaf_shape(f: &mut dyn FnMut(&[usize])) {
                #(<#types as #nested>::for_each_leaf_shape(f);)*
            }

            fn fmt_shape(f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(#open)?;
                #(#field_fmt)*
                f.write_str(#close)
            }

            fn zip_apply<__Op: #krate::ScalarOp>(&mut self, other: &Self, op: &__Op) {
                let _ = (&other, &op);
                #(#nested::zip_apply(&mut self.#members, &other.#members, op);)*
            }

            fn write_f32(&self, out: &mut [f32]) {
                ::core::assert_eq!(out.len(), <Self as #nested>::SIZE, "write_f32: buffer length");
                #(#offsets_decl)*
                #(#nested::write_f32(&self.#members, &mut out[#offsets..#offsets + <#types as #nested>::SIZE]);)*
            }

            fn read_f32(src: &[f32]) -> Self {
                ::core::assert_eq!(src.len(), <Self as #nested>::SIZE, "read_f32: buffer length");
                #(#offsets_decl)*
                #read
            }
        }
    }
}

/// The errors, and an impl that is never run, so that uses of the type still type-check and
/// one mistake gives one message.
fn stub(input: &DeriveInput, krate: &syn::Path, errors: Errors) -> TokenStream {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let errors = errors.to_compile_errors();
    let unreachable = quote!(::core::unreachable!(
        "`#[derive(Nested)]` failed to compile"
    ));
    quote! {
        #errors
        impl #impl_generics #krate::Nested for #name #ty_generics #where_clause {
            const SIZE: usize = 0;
            fn zeros() -> Self { #unreachable }
            fn for_each_leaf_shape(_: &mut dyn FnMut(&[usize])) { #unreachable }
            fn fmt_shape(_: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result { #unreachable }
            fn zip_apply<__Op: #krate::ScalarOp>(&mut self, _: &Self, _: &__Op) { #unreachable }
            fn write_f32(&self, _: &mut [f32]) { #unreachable }
            fn read_f32(_: &[f32]) -> Self { #unreachable }
        }
    }
}
