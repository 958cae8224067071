//! The generated forward for a block of `N` samples (`Differentiable::step_forward_block`): the
//! statements of the single-sample forward, each computed for every sample of the block into
//! an array, except a kernel's `apply`, which runs once for the block so that each weight is
//! read once for all its samples. Each sample's residual is then its own backward closure,
//! holding that sample's elements of the kept arrays; the closure's body is the
//! single-sample one, so the backward is unchanged.
//!
//! The block form is generated for straight-line steps only (no `if`, `match`, `for`, helper
//! call, sub-cell step or dropout); other cells keep the trait's default, `N` single steps.

use std::collections::HashSet;

use proc_macro2::{Delimiter, Group, Ident, Spacing, TokenStream, TokenTree};
use quote::{format_ident, quote};

use super::lower::{Node, Op, Program};
use super::model::{Cell, Role};

/// The block's size, a const parameter of the generated method.
fn block_size() -> Ident {
    format_ident!("__RNN_N")
}

/// The index of the sample a statement computes, in its closure.
fn sample() -> Ident {
    format_ident!("__rnn_n")
}

/// Whether the step is straight-line code the block form covers.
pub fn covers(program: &Program) -> bool {
    fn straight(nodes: &[Node]) -> bool {
        nodes.iter().all(|n| {
            !matches!(
                n.op,
                Op::Branch { .. }
                    | Op::Loop { .. }
                    | Op::Call(..)
                    | Op::Step { .. }
                    | Op::Dropout { .. }
            )
        })
    }
    straight(&program.nodes)
}

/// What the block form is made of: the single-sample forward's pieces.
pub struct Parts<'a> {
    pub cell: &'a Cell,
    pub rt: &'a TokenStream,
    /// The single-sample forward's statements.
    pub forward: &'a TokenStream,
    /// The single-sample step's output, a reference expression.
    pub output: &'a TokenStream,
    /// The single-sample step's state writes (`(*state).path = value;`).
    pub writes: &'a TokenStream,
    /// The names the backward closure captures.
    pub captures: &'a [Ident],
    /// The backward closure, as `Pullback::new` takes it.
    pub closure: &'a TokenStream,
}

/// The `TapedBlock::forward_block_into` method.
pub fn method(parts: Parts<'_>) -> TokenStream {
    let Parts {
        cell,
        rt,
        forward,
        output,
        writes,
        captures,
        closure,
    } = parts;
    let (n, i) = (block_size(), sample());
    // The step's parameters, as arrays of one reference per sample.
    let mut names = HashSet::new();
    let mut bindings = TokenStream::new();
    let mut state_names = Vec::new();
    for role in Role::ALL {
        let several = cell.params_of(role).count() > 1;
        for p in cell.params_of(role) {
            let name = &p.name;
            names.insert(name.to_string());
            let field = several.then(|| quote!(.#name));
            bindings.extend(match (role, &field) {
                (Role::Input, None) => quote!(let #name = __rnn_inputs;),
                (Role::Input, Some(field)) => {
                    quote!(let #name = __rnn_inputs.map(|__rnn_x| &__rnn_x #field);)
                }
                (Role::Constant, None) => quote!(let #name = __rnn_constants;),
                (Role::Constant, Some(field)) => {
                    quote!(let #name = __rnn_constants.map(|__rnn_k| &__rnn_k #field);)
                }
                (Role::State, _) => {
                    state_names.push((name.clone(), field.clone()));
                    quote! {
                        let #name: [_; #n] = ::core::array::from_fn(|#i| &__rnn_state_view[#i] #field);
                    }
                }
            });
        }
    }
    let statements = per_sample(forward, &mut names);
    let output = index(output.clone(), &names);
    // The writes see the sample's state as the single step sees its own: by its name.
    let mut write_names = names.clone();
    for (name, _) in &state_names {
        write_names.remove(&name.to_string());
    }
    let writes = index(writes.clone(), &write_names);
    let state_refs = state_names.iter().map(|(name, field)| match field {
        Some(field) => quote!(let #name = &mut __rnn_state #field;),
        None => quote!(let #name = &mut *__rnn_state;),
    });
    quote! {
        #[allow(
            unused_variables, unused_mut, unused_braces, non_snake_case,
            clippy::all, clippy::pedantic
        )]
        #[inline(always)]
        fn forward_block_into<const #n: usize>(
            &self,
            __rnn_inputs: [&Self::Input; #n],
            __rnn_states: &mut [Self::State; #n],
            __rnn_constants: [&Self::Constants; #n],
            mut __rnn_residuals: [&mut #rt::Pullback<Self>; #n],
        ) -> [Self::Output; #n] {
            use #rt::{AtSame as _, AtShape as _, ByNested as _, ByReal as _};
            let __rnn_masks: ::core::option::Option<#rt::DropoutMasks> = ::core::option::Option::None;
            let __rnn_state_view: &[Self::State; #n] = &*__rnn_states;
            #bindings
            #statements
            let __rnn_output: [_; #n] = ::core::array::from_fn(
                #[inline(always)]
                |#i| ::core::clone::Clone::clone(#output),
            );
            for (#i, __rnn_state) in __rnn_states.iter_mut().enumerate() {
                #(#state_refs)*
                #writes
            }
            ::core::array::from_fn(
                #[inline(always)]
                |#i| {
                    #(let #captures = ::core::clone::Clone::clone(&#captures[#i]);)*
                    __rnn_residuals[#i].refill(#closure);
                    ::core::clone::Clone::clone(&__rnn_output[#i])
                },
            )
        }
    }
}

/// The forward's statements, each for every sample: `let v = e;` becomes an array of `e` per
/// sample (an `apply` one call for the block), and any other statement runs per sample. The
/// names the statements define join `names`.
fn per_sample(forward: &TokenStream, names: &mut HashSet<String>) -> TokenStream {
    let (n, i) = (block_size(), sample());
    let mut out = TokenStream::new();
    for statement in statements(forward) {
        match binding(&statement) {
            Some((name, ty, init)) => {
                let ty = match ty {
                    Some(ty) => quote!([#ty; #n]),
                    None => quote!([_; #n]),
                };
                let value = match apply_call(&init) {
                    Some((path, kernel, x)) => {
                        let x = index(x, names);
                        quote! {
                            #path::apply_block(
                                #kernel,
                                ::core::array::from_fn(#[inline(always)] |#i| #x),
                            )
                        }
                    }
                    None => {
                        let init = index(init, names);
                        quote!(::core::array::from_fn(#[inline(always)] |#i| #init))
                    }
                };
                names.insert(name.to_string());
                out.extend(quote!(let #name: #ty = #value;));
            }
            None => {
                let statement = index(statement, names);
                out.extend(quote!(for #i in 0..#n { #statement; }));
            }
        }
    }
    out
}

/// The top-level statements of `tokens`, without their `;`.
fn statements(tokens: &TokenStream) -> Vec<TokenStream> {
    let mut out = Vec::new();
    let mut current = TokenStream::new();
    for tt in tokens.clone() {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == ';' => {
                out.push(std::mem::take(&mut current));
            }
            _ => current.extend([tt]),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `let name (: ty)? = init`: its parts, or `None` for another statement.
fn binding(statement: &TokenStream) -> Option<(Ident, Option<TokenStream>, TokenStream)> {
    let tokens: Vec<TokenTree> = statement.clone().into_iter().collect();
    let mut at = match tokens.first() {
        Some(TokenTree::Ident(id)) if id == "let" => 1,
        _ => return None,
    };
    if matches!(tokens.get(at), Some(TokenTree::Ident(id)) if id == "mut") {
        at += 1;
    }
    let name = match tokens.get(at) {
        Some(TokenTree::Ident(id)) => id.clone(),
        _ => return None,
    };
    at += 1;
    let equals = (at..tokens.len()).find(|&k| is_assignment(&tokens, k))?;
    let ty = match tokens.get(at) {
        Some(TokenTree::Punct(p)) if p.as_char() == ':' => {
            Some(tokens[at + 1..equals].iter().cloned().collect())
        }
        _ => None,
    };
    Some((name, ty, tokens[equals + 1..].iter().cloned().collect()))
}

/// Whether token `k` is a lone `=` (not part of `==`, `<=`, `=>`, ...).
fn is_assignment(tokens: &[TokenTree], k: usize) -> bool {
    let joint_before = matches!(
        k.checked_sub(1).and_then(|j| tokens.get(j)),
        Some(TokenTree::Punct(p)) if p.spacing() == Spacing::Joint
    );
    matches!(&tokens[k], TokenTree::Punct(p) if p.as_char() == '=' && p.spacing() == Spacing::Alone)
        && !joint_before
}

/// `path::Apply::apply(kernel, x)`: the path up to `Apply`, the kernel and `x`.
fn apply_call(init: &TokenStream) -> Option<(TokenStream, TokenStream, TokenStream)> {
    let tokens: Vec<TokenTree> = init.clone().into_iter().collect();
    let [.., TokenTree::Ident(apply), TokenTree::Group(args)] = tokens.as_slice() else {
        return None;
    };
    let len = tokens.len();
    let is_apply_path = apply == "apply"
        && args.delimiter() == Delimiter::Parenthesis
        && len >= 5
        && matches!(&tokens[len - 5], TokenTree::Ident(t) if t == "Apply")
        && matches!(&tokens[len - 4], TokenTree::Punct(p) if p.as_char() == ':')
        && matches!(&tokens[len - 3], TokenTree::Punct(p) if p.as_char() == ':');
    if !is_apply_path {
        return None;
    }
    let mut parts = vec![TokenStream::new()];
    for tt in args.stream() {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == ',' => parts.push(TokenStream::new()),
            _ => parts.last_mut().expect("one part at least").extend([tt]),
        }
    }
    parts.retain(|p| !p.is_empty());
    let [kernel, x] = <[TokenStream; 2]>::try_from(parts).ok()?;
    // The path up to `Apply`: the call names `apply_block` under the same trait.
    let trait_path: TokenStream = tokens[..len - 4].iter().cloned().collect();
    Some((trait_path, kernel, x))
}

/// `tokens` with every use of a name in `names` (not a field, not a path segment) indexed by
/// the sample: `v` becomes `v[__rnn_n]`.
fn index(tokens: TokenStream, names: &HashSet<String>) -> TokenStream {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = TokenStream::new();
    for (k, tt) in tokens.iter().enumerate() {
        match tt {
            TokenTree::Group(g) => {
                let mut group = Group::new(g.delimiter(), index(g.stream(), names));
                group.set_span(g.span());
                out.extend([TokenTree::Group(group)]);
            }
            TokenTree::Ident(id) if names.contains(&id.to_string()) => {
                let punct = |j: Option<usize>| match j.and_then(|j| tokens.get(j)) {
                    Some(TokenTree::Punct(p)) => Some(p.as_char()),
                    _ => None,
                };
                // A field (`a.name`) or a path's segment (`a::name`), but not a range's end.
                let after_dot_or_colon = match punct(k.checked_sub(1)) {
                    Some(':') => true,
                    Some('.') => punct(k.checked_sub(2)) != Some('.'),
                    _ => false,
                };
                let before_colon = matches!(
                    tokens.get(k + 1),
                    Some(TokenTree::Punct(p)) if p.as_char() == ':'
                );
                out.extend([tt.clone()]);
                if !after_dot_or_colon && !before_colon {
                    let mut at = Group::new(Delimiter::Bracket, quote!(__rnn_n));
                    at.set_span(id.span());
                    out.extend([TokenTree::Group(at)]);
                }
            }
            _ => out.extend([tt.clone()]),
        }
    }
    out
}
