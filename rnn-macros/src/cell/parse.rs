//! Tokens → [`model::Cell`]. Each parameter's mistakes are recorded on its tokens and parsing
//! goes on with the best reading of it, so every mistake of an item is reported at once.

use proc_macro2::TokenStream;
use quote::{format_ident, ToTokens};
use syn::{FnArg, ImplItem, Item, Pat, Type};

use super::model::{Cell, Origin, Param, Role};
use crate::errors::{default_crate, parse_crate_arg, tidy, Errors};

/// Attributes a parameter may carry besides its role.
const PASS_THROUGH_ATTRS: [&str; 6] = ["allow", "warn", "deny", "expect", "forbid", "cfg"];

pub fn parse(args: TokenStream, item: TokenStream, errors: &mut Errors) -> Option<Cell> {
    let (krate, differentiable) = parse_args(args, errors);
    let item: Item = match syn::parse2(item) {
        Ok(item) => item,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let cell = match item {
        Item::Fn(f) => Some(from_fn(krate, f, errors)),
        Item::Impl(i) => from_impl(krate, i, errors),
        other => {
            errors.at(
                other,
                "`#[cell]` goes on a step function or on an `impl` block with a `step` method",
            );
            None
        }
    };
    cell.map(|cell| Cell {
        differentiable,
        ..cell
    })
}

/// `crate = path`, and `inference` (generate no backward).
fn parse_args(args: TokenStream, errors: &mut Errors) -> (syn::Path, bool) {
    let mut krate = default_crate();
    let mut differentiable = true;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("inference") {
            differentiable = false;
            return Ok(());
        }
        match parse_crate_arg(&meta)? {
            Some(path) => {
                krate = path;
                Ok(())
            }
            None => Err(meta.error(
                "unknown `#[cell]` argument: the arguments are `crate = path` and `inference`",
            )),
        }
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        errors.push(e);
    }
    (krate, differentiable)
}

fn from_fn(krate: syn::Path, mut f: syn::ItemFn, errors: &mut Errors) -> Cell {
    let declared = declared_lifetimes(&f.sig.generics);
    let (params, roles_unread) = parse_params(&mut f.sig, &declared, errors);
    let cell_ident = format_ident!(
        "{}",
        camel_case(&f.sig.ident.to_string()),
        span = f.sig.ident.span()
    );
    let (_, ty_generics, _) = f.sig.generics.split_for_impl();
    let cell_ty: Type = syn::parse_quote!(#cell_ident #ty_generics);
    Cell {
        krate,
        cell_ident,
        cell_ty,
        generics: f.sig.generics.clone(),
        vis: f.vis.clone(),
        params,
        roles_unread,
        output: output_type(&f.sig),
        body: (*f.block).clone(),
        sig: f.sig.clone(),
        origin: Origin::Fn(f),
        differentiable: true,
    }
}

/// The provided methods of `Cell` that a `#[cell]` impl block may write beside `step`:
/// `step_block` (a step over a block of samples that shares the weight reads), `step_chunk`
/// (consecutive steps of one sequence that share the input weights' reads) with
/// `runs_in_chunks` (whether the drivers use it), and the built-in cells' `batched_kernel`.
const OVERRIDES: [&str; 4] = [
    "step_block",
    "step_chunk",
    "runs_in_chunks",
    "batched_kernel",
];

fn from_impl(krate: syn::Path, mut item: syn::ItemImpl, errors: &mut Errors) -> Option<Cell> {
    if let Some((_, path, _)) = &item.trait_ {
        errors.at(
            path,
            "`#[cell]` goes on an inherent `impl` block (it writes the `Cell` impl itself)",
        );
        return None;
    }
    let Some(index) = item
        .items
        .iter()
        .position(|i| matches!(i, ImplItem::Fn(m) if m.sig.ident == "step"))
    else {
        errors.at(&item.self_ty, "this `#[cell]` impl block has no `fn step`");
        return None;
    };
    let ImplItem::Fn(mut method) = item.items.remove(index) else {
        unreachable!("position matched a fn")
    };
    let declared = declared_lifetimes(&item.generics);
    let (params, roles_unread) = parse_params(&mut method.sig, &declared, errors);
    // The `Cell` methods written beside `step` move into the generated impl.
    let (overrides, rest) = core::mem::take(&mut item.items)
        .into_iter()
        .partition(|i| matches!(i, ImplItem::Fn(m) if OVERRIDES.iter().any(|o| m.sig.ident == o)));
    item.items = rest;
    let overrides = overrides
        .into_iter()
        .filter_map(|i| match i {
            ImplItem::Fn(f) => Some(f),
            _ => None,
        })
        .collect();
    let cell_ident = match &*item.self_ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.clone()),
        _ => None,
    }
    .unwrap_or_else(|| {
        errors.at(
            &item.self_ty,
            "`#[cell]` needs a named type here (a struct)",
        );
        format_ident!("Cell")
    });
    Some(Cell {
        krate,
        cell_ident,
        cell_ty: (*item.self_ty).clone(),
        generics: item.generics.clone(),
        vis: syn::parse_quote!(pub),
        params,
        roles_unread,
        output: output_type(&method.sig),
        body: method.block.clone(),
        sig: method.sig.clone(),
        differentiable: true,
        origin: Origin::Impl {
            step_attrs: method.attrs.clone(),
            item,
            overrides,
        },
    })
}

fn output_type(sig: &syn::Signature) -> Option<Type> {
    match &sig.output {
        syn::ReturnType::Default => None,
        syn::ReturnType::Type(_, ty) => Some((**ty).clone()),
    }
}

/// The lifetimes an item declares: a mistake already reported on the declaration, so the
/// references that use them are not reported again.
fn declared_lifetimes(generics: &syn::Generics) -> Vec<syn::Ident> {
    generics
        .lifetimes()
        .map(|l| l.lifetime.ident.clone())
        .collect()
}

/// Reads each typed parameter's role and type, strips the role attributes from `sig`.
/// Also returns whether some parameter's role could not be read (an unknown role attribute,
/// reported), so that checks counting roles stay quiet rather than pile on.
fn parse_params(
    sig: &mut syn::Signature,
    declared_lifetimes: &[syn::Ident],
    errors: &mut Errors,
) -> (Vec<Param>, bool) {
    let mut params = Vec::new();
    let mut roles_unread = false;
    for arg in sig.inputs.iter_mut() {
        let FnArg::Typed(arg) = arg else { continue };
        let (role, unknown) = take_role(&mut arg.attrs, errors);
        let Some(role) = role else {
            if unknown {
                roles_unread = true;
                continue;
            }
            errors.at(
                &arg.pat,
                format!(
                    "parameter `{}` has no role: mark it `#[input]`, `#[state]` or `#[constant]`",
                    tidy(&arg.pat)
                ),
            );
            continue;
        };
        let name = match &*arg.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
            other => {
                errors.at(
                    other,
                    "a cell parameter needs a plain name (`x: &X`), not a pattern",
                );
                format_ident!("__param{}", params.len())
            }
        };
        let ty = referent(role, &arg.ty, declared_lifetimes, errors);
        params.push(Param {
            role,
            name,
            pat: (*arg.pat).clone(),
            full_ty: (*arg.ty).clone(),
            ty,
        });
    }
    (params, roles_unread)
}

/// Removes and returns the parameter's role attribute, recording unknown or repeated ones.
/// A misspelt role (`#[inputs]`, `#[State]`) is reported once and read as the role it is close
/// to; the flag says an attribute was unknown and not close to any role.
fn take_role(attrs: &mut Vec<syn::Attribute>, errors: &mut Errors) -> (Option<Role>, bool) {
    let mut role = None;
    let mut unknown = false;
    attrs.retain(|attr| {
        let Some(ident) = attr.path().get_ident() else {
            return true;
        };
        let name = ident.to_string();
        if PASS_THROUGH_ATTRS.contains(&name.as_str()) {
            return true;
        }
        match Role::from_attr(&name) {
            Some(found) => {
                if !matches!(attr.meta, syn::Meta::Path(_)) {
                    errors.at(attr, format!("`#[{name}]` takes no arguments"));
                }
                match role {
                    None => role = Some(found),
                    Some(first) if first == found => {
                        errors.at(attr, format!("`#[{name}]` is repeated on this parameter"))
                    }
                    Some(first) => errors.at(
                        attr,
                        format!(
                            "a parameter has one role: it is already `#[{}]`, so it cannot also be `#[{name}]`",
                            first.attr_name()
                        ),
                    ),
                }
            }
            None => match closest_role(&name) {
                Some(close) => {
                    errors.at(
                        attr,
                        format!(
                            "unknown role `#[{name}]`: did you mean `#[{}]`?",
                            close.attr_name()
                        ),
                    );
                    role.get_or_insert(close);
                }
                None => {
                    errors.at(
                        attr,
                        format!(
                            "unknown role `#[{name}]`: expected `#[input]`, `#[state]` or `#[constant]`"
                        ),
                    );
                    unknown = true;
                }
            },
        }
        false
    });
    (role, unknown && role.is_none())
}

/// The role a misspelt attribute most likely meant: same letters but for case, a plural, a
/// shortening (`#[const]`), or at most two edits away.
fn closest_role(name: &str) -> Option<Role> {
    let name = name.to_lowercase();
    Role::ALL
        .into_iter()
        .map(|role| {
            let prefix = name.len() >= 3 && role.attr_name().starts_with(&name);
            let distance = if prefix {
                1
            } else {
                edit_distance(&name, role.attr_name())
            };
            (distance, role)
        })
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, role)| role)
}

/// Levenshtein distance (names here are a few letters long).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The value type behind a parameter's reference, recording a reference of the wrong kind.
fn referent(role: Role, ty: &Type, declared_lifetimes: &[syn::Ident], errors: &mut Errors) -> Type {
    let Type::Reference(r) = ty else {
        let message = match role {
            Role::State => format!(
                "a `#[state]` is updated in place: take it as `&mut {}`",
                tidy(ty)
            ),
            _ => format!(
                "take the `#[{}]` by reference: `&{}` (the driver keeps the sequence; a step only reads it)",
                role.attr_name(),
                tidy(ty)
            ),
        };
        errors.at(ty, message);
        return ty.clone();
    };
    if let Some(lifetime) = r
        .lifetime
        .as_ref()
        .filter(|l| !declared_lifetimes.contains(&l.ident))
    {
        errors.at(
            lifetime,
            "lifetimes are not supported in a cell's step: write the reference without one",
        );
    }
    match (role, r.mutability.is_some()) {
        (Role::State, false) => errors.at(
            ty,
            format!(
                "a `#[state]` is updated in place: take it as `&mut {}`",
                tidy(&r.elem)
            ),
        ),
        (Role::Input | Role::Constant, true) => errors.at(
            ty,
            format!(
                "an `#[{}]` is only read: take it as `&{}`, not `&mut` (values that change are `#[state]`)",
                role.attr_name(),
                tidy(&r.elem)
            ),
        ),
        _ => {}
    }
    (*r.elem).clone()
}

fn is_role_attr(attr: &syn::Attribute) -> bool {
    match attr.path().get_ident() {
        Some(ident) => Role::from_attr(&ident.to_string()).is_some(),
        None => false,
    }
}

/// `accumulate_sum` → `AccumulateSum`.
fn camel_case(snake: &str) -> String {
    snake
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// The item with `#[input]`/`#[state]`/`#[constant]` removed from its parameters, for the
/// fallback output when no model could be built.
pub fn strip_role_attrs(item: TokenStream) -> TokenStream {
    let strip = |sig: &mut syn::Signature| {
        for arg in sig.inputs.iter_mut() {
            if let FnArg::Typed(arg) = arg {
                arg.attrs.retain(|a| !is_role_attr(a));
            }
        }
    };
    match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(mut f)) => {
            strip(&mut f.sig);
            f.into_token_stream()
        }
        Ok(Item::Impl(mut i)) => {
            for it in i.items.iter_mut() {
                if let ImplItem::Fn(m) = it {
                    strip(&mut m.sig);
                }
            }
            i.into_token_stream()
        }
        _ => item,
    }
}

/// `#[differentiable]`'s item: the helper as a model whose parameters are all inputs (taken
/// by reference), and its hand-written adjoint if `adjoint = path` names one.
pub fn parse_helper(
    args: TokenStream,
    item: TokenStream,
    errors: &mut Errors,
) -> Option<(Cell, Option<syn::Path>)> {
    let mut krate = default_crate();
    let mut custom = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("adjoint") {
            custom = Some(meta.value()?.parse::<syn::Path>()?);
            return Ok(());
        }
        match parse_crate_arg(&meta)? {
            Some(path) => {
                krate = path;
                Ok(())
            }
            None => Err(meta.error(
                "unknown `#[differentiable]` argument: the arguments are `adjoint = path` and \
                 `crate = path`",
            )),
        }
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        errors.push(e);
    }
    let f: syn::ItemFn = match syn::parse2(item) {
        Ok(f) => f,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    if let Some(receiver) = f.sig.receiver() {
        errors.at(
            receiver,
            "a differentiable helper is a free function: pass what it reads as arguments",
        );
        return None;
    }
    let mut params = Vec::new();
    for arg in &f.sig.inputs {
        let FnArg::Typed(arg) = arg else { continue };
        let name = match &*arg.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
            other => {
                errors.at(
                    other,
                    "a differentiable helper's argument needs a plain name",
                );
                continue;
            }
        };
        let ty = match &*arg.ty {
            Type::Reference(r) if r.mutability.is_none() => (*r.elem).clone(),
            other => {
                errors.at(
                    other,
                    format!(
                        "a differentiable helper takes its arguments by reference: `&{}`",
                        tidy(other)
                    ),
                );
                continue;
            }
        };
        params.push(Param {
            role: Role::Input,
            name,
            pat: (*arg.pat).clone(),
            full_ty: (*arg.ty).clone(),
            ty,
        });
    }
    if !errors.is_empty() {
        return None;
    }
    let ident = f.sig.ident.clone();
    Some((
        Cell {
            krate,
            cell_ident: ident.clone(),
            cell_ty: syn::parse_quote!(#ident),
            generics: f.sig.generics.clone(),
            vis: f.vis.clone(),
            params,
            roles_unread: false,
            output: output_type(&f.sig),
            body: (*f.block).clone(),
            sig: f.sig.clone(),
            origin: Origin::Fn(f),
            differentiable: true,
        },
        custom,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn camel_case_names_the_generated_cell() {
        assert_eq!(super::camel_case("accumulate"), "Accumulate");
        assert_eq!(super::camel_case("my_gru_cell"), "MyGruCell");
        assert_eq!(super::camel_case("_x__y"), "XY");
    }

    #[test]
    fn misspelt_roles_are_read_as_the_closest_role() {
        use super::{closest_role, Role};
        assert_eq!(closest_role("inputs"), Some(Role::Input));
        assert_eq!(closest_role("State"), Some(Role::State));
        assert_eq!(closest_role("constnt"), Some(Role::Constant));
        assert_eq!(closest_role("const"), Some(Role::Constant));
        assert_eq!(closest_role("in"), None);
        assert_eq!(closest_role("weights"), None);
    }
}
