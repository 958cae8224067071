//! `#[cell]`: parse the step function into a [`model::Cell`], check it, expand it.

mod adjoint;
mod block;
mod check;
mod expand;
mod lower;
mod model;
mod parse;

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;

pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let Some(model) = parse::parse(args, item.clone(), &mut errors) else {
        // Nothing to model (not a fn or impl, or unparsable): the item as it was, minus our
        // role attributes, so the one error shown is ours.
        let item = parse::strip_role_attrs(item);
        let errors = errors.to_compile_errors();
        return quote!(#item #errors);
    };
    check::check(&model, &mut errors);
    if errors.is_empty() {
        let cell = expand::expand(&model, expand::Body::User);
        if !model.differentiable {
            return cell;
        }
        // The backward is a second expansion of the same model: its mistakes (what cannot be
        // differentiated) leave the `Cell` impl as it is.
        let parameters = match model.origin {
            model::Origin::Fn(_) => adjoint::fn_parameters(&model, &model.cell_ty),
            model::Origin::Impl { .. } => TokenStream::new(),
        };
        match lower::lower(&model, &mut errors) {
            Some(program) => {
                let backward = adjoint::expand(&model, &program, &model.cell_ty);
                quote!(#cell #parameters #backward)
            }
            None => {
                let errors = errors.to_compile_errors();
                quote!(#cell #parameters #errors)
            }
        }
    } else {
        // Every mistake at once, plus the generated items with a placeholder body: uses of
        // the cell elsewhere still type-check, so one mistake gives one error.
        let generated = expand::expand(&model, expand::Body::Placeholder);
        let errors = errors.to_compile_errors();
        quote!(#generated #errors)
    }
}

/// `#[differentiable]` on a helper function: the function as it is, and its `Helper` impl.
pub fn helper(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let Some((model, custom)) = parse::parse_helper(args, item.clone(), &mut errors) else {
        let errors = errors.to_compile_errors();
        return quote!(#item #errors);
    };
    let generated = match &custom {
        Some(path) => adjoint::expand_helper(&model, None, Some(path)),
        None => match lower::lower(&model, &mut errors) {
            Some(program) => adjoint::expand_helper(&model, Some(&program), None),
            None => TokenStream::new(),
        },
    };
    let errors = errors.to_compile_errors();
    quote!(#item #generated #errors)
}
