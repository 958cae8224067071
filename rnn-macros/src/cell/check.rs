//! Whole-signature mistakes: what a step function as a whole must be.

use syn::{FnArg, GenericParam};

use super::model::{Cell, Origin, Role};
use crate::errors::{tidy, Errors};

pub fn check(cell: &Cell, errors: &mut Errors) {
    let sig = &cell.sig;
    if let Some(token) = &sig.asyncness {
        errors.at(
            token,
            "a cell's step cannot be `async`: it runs once per timestep, to completion",
        );
    }
    if let Some(token) = &sig.constness {
        errors.at(token, "a cell's step cannot be `const`");
    }
    if let Some(token) = &sig.unsafety {
        errors.at(
            token,
            "a cell's step cannot be `unsafe`: drivers call it as a safe function",
        );
    }
    if let Some(abi) = &sig.abi {
        errors.at(abi, "a cell's step cannot declare an ABI");
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic, "a cell's step cannot be variadic");
    }
    let generics = match &cell.origin {
        Origin::Fn(_) => &sig.generics,
        Origin::Impl { item, .. } => {
            if !sig.generics.params.is_empty() {
                errors.at(
                    &sig.generics,
                    "`step` cannot have generic parameters of its own: put them on the impl block",
                );
            }
            &item.generics
        }
    };
    for param in &generics.params {
        if let GenericParam::Lifetime(l) = param {
            errors.at(
                l,
                "lifetime parameters are not supported on a cell: a cell owns its parameters",
            );
        }
    }
    check_receiver(cell, errors);
    if cell.output.is_none() {
        errors.at(
            &sig.ident,
            "a cell's step returns its output: add a return type (`-> Y`; a tuple or a \
             `#[derive(Nested)]` struct for several outputs)",
        );
    }
    if let Some(syn::Type::ImplTrait(t)) = &cell.output {
        errors.at(t, "a cell's output needs a concrete type, not `impl Trait`");
    }
    if cell.params_of(Role::Input).next().is_none() && !cell.roles_unread {
        errors.at(
            &sig.ident,
            "a cell needs at least one `#[input]` parameter (the value read at each timestep)",
        );
    }
}

fn check_receiver(cell: &Cell, errors: &mut Errors) {
    let receiver = cell.sig.inputs.iter().find_map(|arg| match arg {
        FnArg::Receiver(r) => Some(r),
        FnArg::Typed(_) => None,
    });
    match (&cell.origin, receiver) {
        (Origin::Fn(_), Some(r)) => errors.at(r, "a free step function has no `self`"),
        (Origin::Impl { .. }, None) => errors.at(
            &cell.sig.ident,
            "`step` takes `&self` first: the cell's parameters (weights) are read through it",
        ),
        (Origin::Impl { .. }, Some(r)) => {
            let is_ref_self =
                r.reference.is_some() && r.mutability.is_none() && r.colon_token.is_none();
            if !is_ref_self {
                errors.at(
                    r,
                    format!(
                        "`step` takes `&self`, not `{}`: a cell does not change while it runs; \
                         values that change belong in a `#[state]`",
                        tidy(r)
                    ),
                );
            }
            if let Some((_, Some(lifetime))) = &r.reference {
                errors.at(lifetime, "lifetimes are not supported in a cell's step");
            }
        }
        (Origin::Fn(_), None) => {}
    }
}
