//! Which of an item's generic parameters a set of types uses: a generated struct takes only
//! those (an LSTM's state `{ h, c }` needs the scalar and `H`, not `I`).

use std::collections::HashSet;

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{GenericParam, Generics, WherePredicate};

fn idents_in(tokens: TokenStream, out: &mut HashSet<String>) {
    for tree in tokens {
        match tree {
            TokenTree::Ident(ident) => {
                out.insert(ident.to_string());
            }
            TokenTree::Group(group) => idents_in(group.stream(), out),
            _ => {}
        }
    }
}

fn param_name(param: &GenericParam) -> String {
    match param {
        GenericParam::Type(t) => t.ident.to_string(),
        GenericParam::Const(c) => c.ident.to_string(),
        GenericParam::Lifetime(l) => l.lifetime.ident.to_string(),
    }
}

/// The subset of `generics` that `types` mention, with the where-clause predicates that
/// bound only those parameters.
pub fn used_by<'a>(
    generics: &Generics,
    types: impl IntoIterator<Item = &'a syn::Type>,
) -> Generics {
    let mut mentioned = HashSet::new();
    for ty in types {
        idents_in(ty.to_token_stream(), &mut mentioned);
    }
    let kept: Vec<GenericParam> = generics
        .params
        .iter()
        .filter(|p| mentioned.contains(&param_name(p)))
        .cloned()
        .collect();
    let kept_names: HashSet<String> = kept.iter().map(param_name).collect();
    let all_names: HashSet<String> = generics.params.iter().map(param_name).collect();
    let where_clause = generics.where_clause.as_ref().map(|wc| {
        let predicates = wc.predicates.iter().filter(|pred| {
            let mut names = HashSet::new();
            idents_in(pred.to_token_stream(), &mut names);
            let uses_dropped = names
                .iter()
                .any(|n| all_names.contains(n) && !kept_names.contains(n));
            let uses_kept = names.iter().any(|n| kept_names.contains(n));
            uses_kept && !uses_dropped && matches!(pred, WherePredicate::Type(_))
        });
        syn::WhereClause {
            where_token: wc.where_token,
            predicates: predicates.cloned().collect(),
        }
    });
    Generics {
        lt_token: generics.lt_token,
        params: kept.into_iter().collect(),
        gt_token: generics.gt_token,
        where_clause,
    }
}
