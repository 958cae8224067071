//! `#[derive(Parameters)]`: a struct's weights are its fields' weights, each under the
//! field's name. Parse (fields and their `#[parameters(...)]` attributes → a list of items),
//! check (every mistake at once), expand.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Fields, LitStr, Member, Type};

use crate::errors::{crate_arg, Errors};

/// The most dimensions a reported shape may have (`rnn_core::parameters::MAX_RANK`).
const MAX_RANK: usize = 8;

/// What one field's attributes say.
#[derive(Default)]
struct FieldAttrs {
    skip: Option<Span>,
    flatten: Option<Span>,
    rename: Option<LitStr>,
    init: Option<Expr>,
    shape: Option<(Span, Vec<Expr>)>,
    row_of: Option<LitStr>,
}

/// One field as the expansion sees it.
struct Field {
    member: Member,
    ty: Type,
    /// The path segment.
    name: String,
    span: Span,
    attrs: FieldAttrs,
}

/// What the struct's visit does, in order.
enum Item {
    /// Visit the field under `name` (or, flattened, under the struct's own path).
    Field { field: Field, flatten: bool },
    /// Report a leaf under another shape.
    Shaped { field: Field, dims: Vec<Expr> },
    /// Consecutive `row_of` fields: one tensor.
    Rows { name: LitStr, fields: Vec<Field> },
}

pub fn expand(item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let input: DeriveInput = match syn::parse2(item) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let krate = crate_arg(
        &input.attrs,
        "parameters",
        "unknown `#[parameters]` argument on a struct: the only one is `crate = path`",
        &mut errors,
    );
    let fields = match &input.data {
        Data::Struct(s) => &s.fields,
        Data::Enum(e) => {
            errors.at(
                e.enum_token,
                "`Parameters` is derived for structs only: an enum's weights would change with its variant",
            );
            return stub(&input, &krate, errors);
        }
        Data::Union(u) => {
            errors.at(u.union_token, "`Parameters` is derived for structs only");
            return stub(&input, &krate, errors);
        }
    };
    let fields = parse_fields(fields, &mut errors);
    let items = group(fields, &mut errors);
    check_names(&items, &mut errors);
    if !errors.is_empty() {
        return stub(&input, &krate, errors);
    }
    expand_items(&input, &krate, &items)
}

fn parse_fields(fields: &Fields, errors: &mut Errors) -> Vec<Field> {
    let mut out = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let attrs = parse_attrs(&f.attrs, errors);
        let member = match &f.ident {
            Some(ident) => Member::Named(ident.clone()),
            None => Member::Unnamed(i.into()),
        };
        let default_name = f.ident.as_ref().map_or(i.to_string(), |id| {
            let s = id.to_string();
            s.strip_prefix("r#").map(str::to_string).unwrap_or(s)
        });
        let name = attrs
            .rename
            .as_ref()
            .map_or(default_name, |lit| lit.value());
        out.push(Field {
            member,
            ty: f.ty.clone(),
            name,
            span: f.span(),
            attrs,
        });
    }
    out
}

fn parse_attrs(attrs: &[syn::Attribute], errors: &mut Errors) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("parameters")) {
        let result = attr.parse_nested_meta(|meta| {
            let path = &meta.path;
            let repeated = |what: &str| meta.error(format!("`{what}` is given twice"));
            if path.is_ident("skip") {
                if out.skip.replace(path.span()).is_some() {
                    return Err(repeated("skip"));
                }
            } else if path.is_ident("flatten") {
                if out.flatten.replace(path.span()).is_some() {
                    return Err(repeated("flatten"));
                }
            } else if path.is_ident("rename") {
                let lit: LitStr = meta.value()?.parse()?;
                let name = lit.value();
                if name.is_empty() || name.contains('/') {
                    return Err(syn::Error::new(
                        lit.span(),
                        "a parameter name is one non-empty path segment, without `/`",
                    ));
                }
                if out.rename.replace(lit).is_some() {
                    return Err(repeated("rename"));
                }
            } else if path.is_ident("init") {
                let expr: Expr = meta.value()?.parse()?;
                if out.init.replace(expr).is_some() {
                    return Err(repeated("init"));
                }
            } else if path.is_ident("shape") {
                let value = meta.value()?;
                let array: syn::ExprArray = value.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "`shape` takes an array of dimensions: `shape = [64, 32, 20, 30]`",
                    )
                })?;
                if array.elems.len() > MAX_RANK {
                    return Err(syn::Error::new_spanned(
                        &array,
                        format!("a shape has at most {MAX_RANK} dimensions"),
                    ));
                }
                let span = array.span();
                if out
                    .shape
                    .replace((span, array.elems.into_iter().collect()))
                    .is_some()
                {
                    return Err(repeated("shape"));
                }
            } else if path.is_ident("row_of") {
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value().is_empty() || lit.value().contains('/') {
                    return Err(syn::Error::new(
                        lit.span(),
                        "a parameter name is one non-empty path segment, without `/`",
                    ));
                }
                if out.row_of.replace(lit).is_some() {
                    return Err(repeated("row_of"));
                }
            } else {
                return Err(meta.error(
                    "unknown `#[parameters]` argument: expected `skip`, `flatten`, `rename = \"..\"`, \
                     `init = expr`, `shape = [..]` or `row_of = \"..\"`",
                ));
            }
            Ok(())
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    if let Some(skip) = out.skip {
        let others = out.flatten.is_some()
            || out.rename.is_some()
            || out.init.is_some()
            || out.shape.is_some()
            || out.row_of.is_some();
        if others {
            errors.push(syn::Error::new(
                skip,
                "a `skip`ped field has no parameters: it takes no other `#[parameters]` argument",
            ));
        }
    }
    if let Some(flatten) = out.flatten {
        if out.rename.is_some() || out.shape.is_some() || out.row_of.is_some() {
            errors.push(syn::Error::new(
                flatten,
                "a `flatten`ed field has no name of its own: it cannot also take `rename`, `shape` or `row_of`",
            ));
        }
    }
    if let (Some((span, _)), Some(_)) = (&out.shape, &out.row_of) {
        errors.push(syn::Error::new(
            *span,
            "`shape` and `row_of` do not combine: a row's shape is its field's",
        ));
    }
    if let (Some(rename), Some(_)) = (&out.rename, &out.row_of) {
        errors.at(
            rename,
            "a `row_of` field is named by its group: drop `rename`",
        );
    }
    out
}

/// Skipped fields dropped, consecutive `row_of` fields joined.
fn group(fields: Vec<Field>, errors: &mut Errors) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    let mut closed: HashMap<String, Span> = HashMap::new();
    for field in fields {
        if field.attrs.skip.is_some() {
            continue;
        }
        if let Some(row_of) = field.attrs.row_of.clone() {
            if let Some(Item::Rows { name, fields }) = items.last_mut() {
                if name.value() == row_of.value() {
                    fields.push(field);
                    continue;
                }
            }
            if closed.contains_key(&row_of.value()) {
                errors.at(
                    &row_of,
                    format!(
                        "the rows of `{}` must be consecutive fields",
                        row_of.value()
                    ),
                );
            }
            if let Some(Item::Rows { name, .. }) = items.last() {
                closed.insert(name.value(), name.span());
            }
            items.push(Item::Rows {
                name: row_of,
                fields: vec![field],
            });
            continue;
        }
        if let Some(Item::Rows { name, .. }) = items.last() {
            closed.insert(name.value(), name.span());
        }
        if let Some((_, dims)) = field.attrs.shape.clone() {
            items.push(Item::Shaped { field, dims });
        } else {
            let flatten = field.attrs.flatten.is_some();
            items.push(Item::Field { field, flatten });
        }
    }
    items
}

fn check_names(items: &[Item], errors: &mut Errors) {
    // name → whether it names a row group.
    let mut seen: HashMap<String, bool> = HashMap::new();
    for item in items {
        let (name, span, rows) = match item {
            Item::Field { flatten: true, .. } => continue,
            Item::Field { field, .. } | Item::Shaped { field, .. } => {
                (field.name.clone(), field.span, false)
            }
            Item::Rows { name, .. } => (name.value(), name.span(), true),
        };
        let previous = seen.insert(name.clone(), rows);
        // Two groups of one name: `group` reported the rows as not consecutive already.
        if rows && previous == Some(true) {
            continue;
        }
        if previous.is_some() {
            errors.push(syn::Error::new(
                span,
                format!(
                    "two parameters are named `{name}`: give one `#[parameters(rename = \"...\")]`"
                ),
            ));
        }
    }
}

fn init_tokens(krate: &syn::Path, init: &Option<Expr>) -> TokenStream {
    match init {
        Some(expr) => quote_spanned! {expr.span()=>
            ::core::option::Option::Some(#krate::parameters::__private::init(#expr))
        },
        None => quote!(__init),
    }
}

fn expand_items(input: &DeriveInput, krate: &syn::Path, items: &[Item]) -> TokenStream {
    let params = quote!(#krate::parameters);
    let mut generics = input.generics.clone();
    let mut visit = Vec::new();
    let mut visit_mut = Vec::new();
    {
        let where_clause = generics.make_where_clause();
        let mut bound = |ty: &Type, leaf: bool| {
            let predicate: syn::WherePredicate = if leaf {
                syn::parse_quote!(#ty: #params::Leaf)
            } else {
                syn::parse_quote!(#ty: #params::Parameters)
            };
            where_clause.predicates.push(predicate);
        };
        for item in items {
            match item {
                Item::Field { field, flatten } => {
                    bound(&field.ty, false);
                    let m = &field.member;
                    let name = &field.name;
                    let path = if *flatten {
                        quote!(__path)
                    } else {
                        quote!(&__path.join(#name))
                    };
                    let init = init_tokens(krate, &field.attrs.init);
                    visit.push(quote! {
                        #params::Parameters::visit(&self.#m, #path, __f);
                    });
                    visit_mut.push(quote! {
                        #params::Parameters::visit_mut(&mut self.#m, #path, #init, __f);
                    });
                }
                Item::Shaped { field, dims } => {
                    bound(&field.ty, true);
                    let (m, ty, name) = (&field.member, &field.ty, &field.name);
                    let init = init_tokens(krate, &field.attrs.init);
                    let message = format!(
                        "#[parameters(shape = ...)] on `{name}`: the shape's size is not the field's"
                    );
                    let check = quote_spanned! {field.span=>
                        const {
                            ::core::assert!(
                                #params::__private::same_len(
                                    <#ty as #params::Leaf>::LEN,
                                    #params::__private::product(&[#(#dims),*]),
                                ),
                                #message
                            )
                        };
                    };
                    visit.push(quote! {
                        #check
                        #params::__private::visit_reshaped(
                            &__path.join(#name),
                            #params::Leaf::tensor(&self.#m),
                            &[#(#dims),*],
                            __f,
                        );
                    });
                    visit_mut.push(quote! {
                        #check
                        #params::__private::visit_reshaped_mut(
                            &__path.join(#name),
                            #params::Leaf::tensor_mut(&mut self.#m),
                            &[#(#dims),*],
                            #init,
                            __f,
                        );
                    });
                }
                Item::Rows { name, fields } => {
                    for f in fields {
                        bound(&f.ty, true);
                    }
                    let members: Vec<&Member> = fields.iter().map(|f| &f.member).collect();
                    let first_ty = &fields[0].ty;
                    let checks = fields.iter().skip(1).map(|f| {
                        let ty = &f.ty;
                        let message =
                            format!("the rows of `{}` must have the same size", name.value());
                        quote_spanned! {f.span=>
                            const {
                                ::core::assert!(
                                    #params::__private::same_len(
                                        <#ty as #params::Leaf>::LEN,
                                        <#first_ty as #params::Leaf>::LEN,
                                    ),
                                    #message
                                )
                            };
                        }
                    });
                    let init_expr = fields.iter().find_map(|f| f.attrs.init.clone());
                    let init = init_tokens(krate, &init_expr);
                    visit.push(quote! {
                        #(#checks)*
                        #params::__private::visit_rows(
                            &__path.join(#name),
                            &[#(#params::Leaf::tensor(&self.#members)),*],
                            __f,
                        );
                    });
                    visit_mut.push(quote! {
                        #params::__private::visit_rows_mut(
                            &__path.join(#name),
                            &mut [#(#params::Leaf::tensor_mut(&mut self.#members)),*],
                            #init,
                            __f,
                        );
                    });
                }
            }
        }
    }
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics #params::Parameters for #name #ty_generics #where_clause {
            fn visit(
                &self,
                __path: &#params::Path<'_>,
                __f: &mut #params::Visitor<'_>,
            ) {
                let _ = (&__path, &__f);
                #(#visit)*
            }

            fn visit_mut(
                &mut self,
                __path: &#params::Path<'_>,
                __init: ::core::option::Option<#params::Init>,
                __f: &mut #params::VisitorMut<'_>,
            ) {
                let _ = (&__path, &__init, &__f);
                #(#visit_mut)*
            }
        }
    }
}

/// The errors, and an impl with no parameters so uses of the type still type-check.
fn stub(input: &DeriveInput, krate: &syn::Path, errors: Errors) -> TokenStream {
    let params = quote!(#krate::parameters);
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let errors = errors.to_compile_errors();
    quote! {
        #errors
        impl #impl_generics #params::Parameters for #name #ty_generics #where_clause {
            fn visit(&self, _: &#params::Path<'_>, _: &mut #params::Visitor<'_>) {}
            fn visit_mut(
                &mut self,
                _: &#params::Path<'_>,
                _: ::core::option::Option<#params::Init>,
                _: &mut #params::VisitorMut<'_>,
            ) {}
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    /// The `compile_error!` messages the derive emits for `item`.
    fn errors(item: proc_macro2::TokenStream) -> Vec<String> {
        let out = super::expand(item).to_string();
        out.split("compile_error !")
            .skip(1)
            .map(|rest| {
                let start = rest.find('"').expect("a message") + 1;
                let end = start + rest[start..].find("\" }").expect("its end");
                rest[start..end].replace("\\\"", "\"")
            })
            .collect()
    }

    #[test]
    fn a_valid_struct_expands_without_errors() {
        let out = errors(quote! {
            struct Cell {
                kernel: Weights<f32, 2, 3>,
                #[parameters(row_of = "bias")] b0: SVector<f32, 3>,
                #[parameters(row_of = "bias")] b1: SVector<f32, 3>,
                #[parameters(shape = [1, 2, 3], init = Init::kernel(3))] w: Weights<f32, 2, 3>,
                #[parameters(flatten)] inner: Inner,
                #[parameters(skip)] activation: Activation,
            }
        });
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let out = errors(quote! {
            struct Cell {
                #[parameters(skip, rename = "x")] a: A,
                #[parameters(frobnicate)] b: B,
                #[parameters(flatten, rename = "y")] c: C,
                #[parameters(rename = "kernel")] d: D,
                kernel: E,
                #[parameters(row_of = "bias")] f: F,
                g: G,
                #[parameters(row_of = "bias")] h: H,
                #[parameters(shape = [1, 1, 1, 1, 1, 1, 1, 1, 1])] i: I,
                #[parameters(rename = "a/b")] j: J,
            }
        });
        let expected = [
            "a `skip`ped field has no parameters: it takes no other `#[parameters]` argument",
            "unknown `#[parameters]` argument: expected `skip`, `flatten`, `rename = \"..\"`, `init = expr`, `shape = [..]` or `row_of = \"..\"`",
            "a `flatten`ed field has no name of its own: it cannot also take `rename`, `shape` or `row_of`",
            "a shape has at most 8 dimensions",
            "a parameter name is one non-empty path segment, without `/`",
            "the rows of `bias` must be consecutive fields",
            "two parameters are named `kernel`: give one `#[parameters(rename = \"...\")]`",
        ];
        for e in expected {
            assert!(out.iter().any(|o| o == e), "missing {e:?} in {out:#?}");
        }
        assert_eq!(out.len(), expected.len(), "{out:#?}");
    }

    #[test]
    fn enums_and_unions_are_refused_with_a_stub_impl() {
        let out = super::expand(quote!(
            enum E {
                A,
            }
        ))
        .to_string();
        assert!(out.contains("derived for structs only"));
        // The stub keeps uses of `E: Parameters` compiling: one error, not a cascade.
        assert!(out.contains("Parameters for E"));
    }
}
