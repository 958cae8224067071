//! [`lower::Program`] → `impl Differentiable`: a forward in single-assignment form, every
//! operation a call into `__private::adjoint` chosen by its operands' types, and a backward
//! closure that runs the statements in reverse, each calling the same operation's pull.
//!
//! Names in the generated code: `__rnn_vK` is value `K`, `__rnn_dK` its adjoint, `__rnn_tK`
//! the witness of its type, `__rnn_sK_i` a clone of node `K`'s operand `i` that its pull reads,
//! `__rnn_rK` a sub-cell's residual, `__rnn_aK` a chosen activation.

use std::collections::HashSet;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::lower::{Act, Arm, Node, Op, Operand, Program};
use super::model::{Cell, Role};

fn value(k: usize) -> syn::Ident {
    format_ident!("__rnn_v{k}")
}
fn adjoint(k: usize) -> syn::Ident {
    format_ident!("__rnn_d{k}")
}
fn witness(k: usize) -> syn::Ident {
    format_ident!("__rnn_t{k}")
}
fn saved(k: usize, i: usize) -> syn::Ident {
    format_ident!("__rnn_s{k}_{i}")
}

struct Emit<'a> {
    cell: &'a Cell,
    rt: TokenStream,
    forward: TokenStream,
    backward: Vec<TokenStream>,
    /// The names the backward closure (or the enclosing arm's residual) captures.
    captures: Vec<syn::Ident>,
    /// The values defined in the block being emitted: their adjoints start at zero there.
    defined: Vec<usize>,
    /// Emitting a helper's adjoint: its parameters are the `Args` tuple's fields, and the
    /// backward keeps clones of those it reads.
    helper: bool,
    /// The helpers the body calls: the alias each call names, and the user's path.
    helpers: Vec<(syn::Ident, syn::Path)>,
    /// The values computed from the step's inputs alone (see [`input_only`]).
    input_only: HashSet<usize>,
}

/// The values of `nodes` computed from the step's inputs and constant expressions alone: their
/// adjoints reach nothing but the input's, so a backward that is not asked for the input's
/// adjoint skips the products that compute them. A value an `if`, a `match` or a loop carries
/// is counted as reaching more, which only skips less.
fn input_only(cell: &Cell, nodes: &[Node]) -> HashSet<usize> {
    fn walk(cell: &Cell, nodes: &[Node], set: &mut HashSet<usize>) {
        for node in nodes {
            let operands: Vec<&Operand> = match &node.op {
                Op::Add(a, b)
                | Op::Sub(a, b)
                | Op::Mul(a, b)
                | Op::Div(a, b)
                | Op::Hadamard(a, b)
                | Op::Dot(a, b)
                | Op::Concat(a, b) => vec![a, b],
                Op::Neg(a)
                | Op::Sum(a)
                | Op::Transpose(a)
                | Op::Reshape(_, a)
                | Op::Activation(_, a)
                | Op::Exp(a)
                | Op::Split(a)
                | Op::Dropout { x: a, .. } => vec![a],
                Op::Tuple(parts) | Op::Call(_, parts) => parts.iter().collect(),
                Op::Project(of, _) => {
                    if set.contains(of) {
                        set.insert(node.out);
                    }
                    continue;
                }
                // Products with the cell's weights and sub-cells' steps reach parameters.
                Op::Forward(..) | Op::Apply(..) | Op::Step { .. } => continue,
                Op::Branch { arms, .. } => {
                    for arm in arms {
                        walk(cell, &arm.nodes, set);
                    }
                    continue;
                }
                Op::Loop { body, .. } => {
                    walk(cell, &body.nodes, set);
                    continue;
                }
            };
            let from_inputs = |o: &&Operand| match o {
                Operand::Value(k) => set.contains(k),
                Operand::Role { param, .. } => cell.params[*param].role == Role::Input,
                Operand::Const(_) => true,
                Operand::Param { .. } => false,
            };
            if operands.iter().all(from_inputs) {
                set.insert(node.out);
            }
        }
    }
    let mut set = HashSet::new();
    walk(cell, nodes, &mut set);
    set
}

/// What one block (the body, an arm, a loop's body) emitted.
struct Block {
    forward: TokenStream,
    backward: Vec<TokenStream>,
    captures: Vec<syn::Ident>,
    defined: Vec<usize>,
}

impl Block {
    /// The adjoints of the block's values, at zero.
    fn zeros(&self) -> TokenStream {
        self.defined
            .iter()
            .map(|&k| {
                let (d, t) = (adjoint(k), witness(k));
                quote!(let mut #d = #t.zero();)
            })
            .collect()
    }

    /// The block's backward statements, last first.
    fn reversed(&self) -> TokenStream {
        self.backward.iter().rev().cloned().collect()
    }
}

impl Emit<'_> {
    /// Emits `nodes` as a block of their own.
    fn block(&mut self, nodes: &[Node]) -> Block {
        let saved = (
            std::mem::take(&mut self.forward),
            std::mem::take(&mut self.backward),
            std::mem::take(&mut self.captures),
            std::mem::take(&mut self.defined),
        );
        for node in nodes {
            self.node(node);
        }
        Block {
            forward: std::mem::replace(&mut self.forward, saved.0),
            backward: std::mem::replace(&mut self.backward, saved.1),
            captures: std::mem::replace(&mut self.captures, saved.2),
            defined: std::mem::replace(&mut self.defined, saved.3),
        }
    }

    fn several(&self, role: Role) -> bool {
        self.cell.params_of(role).count() > 1
    }

    /// The operand's value in the forward, as a reference.
    fn primal(&self, o: &Operand) -> TokenStream {
        match o {
            Operand::Value(k) => {
                let v = value(*k);
                quote!(&#v)
            }
            Operand::Role { param, path } => {
                let name = &self.cell.params[*param].name;
                quote!(&(*#name) #(#path)*)
            }
            Operand::Param { path } => quote!(&self #(#path)*),
            Operand::Const(e) => quote!(&(#e)),
        }
    }

    /// Where the operand's adjoint adds up in the backward; `None` for a constant.
    fn target(&self, o: &Operand) -> Option<TokenStream> {
        match o {
            Operand::Value(k) => {
                let d = adjoint(*k);
                Some(quote!(&mut #d))
            }
            Operand::Role { param, path } if self.helper => {
                let i = syn::Index::from(*param);
                Some(quote!(&mut __rnn_d_input.#i #(#path)*))
            }
            Operand::Role { param, path } => {
                let p = &self.cell.params[*param];
                let name = &p.name;
                let field = self.several(p.role).then(|| quote!(.#name));
                Some(match p.role {
                    Role::Input => quote!(&mut __rnn_d_input #field #(#path)*),
                    Role::State => quote!(&mut (*__rnn_d_state) #field #(#path)*),
                    Role::Constant => quote!(&mut (*__rnn_d_constants) #field #(#path)*),
                })
            }
            Operand::Param { path } => Some(quote!(&mut __rnn_grads #(#path)*)),
            Operand::Const(_) => None,
        }
    }

    /// Whether the operand's adjoint reaches nothing but the step's input's.
    fn reaches_only_input(&self, o: &Operand) -> bool {
        match o {
            Operand::Value(k) => self.input_only.contains(k),
            Operand::Role { param, .. } => {
                !self.helper && self.cell.params[*param].role == Role::Input
            }
            _ => false,
        }
    }

    /// `pull` for an operand whose adjoint is always wanted; for one that only the input's
    /// adjoint reads, `pull` when the backward is asked for the input's adjoint, else
    /// `without` (which skips it).
    fn unless_unwanted(&self, o: &Operand, pull: TokenStream, without: TokenStream) -> TokenStream {
        if self.reaches_only_input(o) {
            quote!(if __rnn_want_input { #pull } else { #without })
        } else {
            pull
        }
    }

    /// `acc(target, term)` for the operand, nothing for a constant.
    fn acc(&self, o: &Operand, term: TokenStream) -> TokenStream {
        let rt = &self.rt;
        match self.target(o) {
            Some(t) => acc(rt, t, term),
            None => TokenStream::new(),
        }
    }

    /// [`Self::acc`] of a term the user's expression needs to be of the operand's type, taken
    /// at that type (see [`at`]). Elsewhere the plain `acc` is kept: there the target's type
    /// is what the compiler infers the term's from.
    fn acc_at(&self, o: &Operand, term: TokenStream) -> TokenStream {
        self.acc(o, at(quote!(__rnn_t), o, term))
    }

    /// The operand's value in the backward, as a reference: re-read where the backward has
    /// it (an input, a constant, a parameter), else a clone kept by the forward.
    fn keep(&mut self, k: usize, i: usize, o: &Operand) -> TokenStream {
        match o {
            Operand::Role { param, path }
                if !self.helper && self.cell.params[*param].role != Role::State =>
            {
                let p = &self.cell.params[*param];
                let name = &p.name;
                let field = self.several(p.role).then(|| quote!(.#name));
                match p.role {
                    Role::Input => quote!(&(*__rnn_input) #field #(#path)*),
                    _ => quote!(&(*__rnn_constants) #field #(#path)*),
                }
            }
            Operand::Param { path } => quote!(&__rnn_self #(#path)*),
            _ => {
                let s = saved(k, i);
                let primal = self.primal(o);
                self.forward
                    .extend(quote!(let #s = ::core::clone::Clone::clone(#primal);));
                self.captures.push(s.clone());
                quote!(#s)
            }
        }
    }

    fn node(&mut self, node: &Node) {
        let rt = self.rt.clone();
        let k = node.out;
        let (v, d) = (value(k), adjoint(k));
        let ty = node.ty.as_ref().map(|t| quote!(: #t));
        let p = |e: &Self, o: &Operand| e.primal(o);
        // What this node emits into the forward is respanned at the user's expression.
        let start = std::mem::take(&mut self.forward);
        let (forward, backward) = match &node.op {
            Op::Add(a, b) | Op::Sub(a, b) => {
                let (f, pull) = match &node.op {
                    Op::Add(..) => (quote!(add), quote!(pull_add)),
                    _ => (quote!(sub), quote!(pull_sub)),
                };
                let (pa, pb) = (p(self, a), p(self, b));
                let (ga, gb) = (
                    self.acc(a, quote!(&__rnn_g.0)),
                    self.acc_at(b, quote!(&__rnn_g.1)),
                );
                let forward = same_type(
                    &rt,
                    (a, pa),
                    (b, pb),
                    |pa, pb| quote!(#rt::Summable::#f(#pa, #pb)),
                );
                (
                    quote!(let #v #ty = #forward;),
                    quote!({ let __rnn_g = #rt::#pull(&#d); #ga #gb }),
                )
            }
            Op::Neg(a) => {
                let pa = p(self, a);
                let ga = self.acc(a, quote!(&__rnn_g));
                (
                    quote!(let #v #ty = #rt::Negate::neg(#pa);),
                    quote!({ let __rnn_g = #rt::pull_neg(&#d); #ga }),
                )
            }
            Op::Mul(a, b) | Op::Div(a, b) | Op::Hadamard(a, b) | Op::Dot(a, b) => {
                let (f, pull) = match &node.op {
                    Op::Mul(..) => (quote!(#rt::Product::mul), quote!(#rt::Product::pull)),
                    Op::Div(..) => (quote!(#rt::Quotient::div), quote!(#rt::Quotient::pull)),
                    Op::Hadamard(..) => (
                        quote!(#rt::Hadamard::component_mul),
                        quote!(#rt::Hadamard::pull),
                    ),
                    _ => (quote!(#rt::dot), quote!(#rt::pull_dot)),
                };
                let (pa, pb) = (p(self, a), p(self, b));
                let (ka, kb) = (self.keep(k, 0, a), self.keep(k, 1, b));
                // A product's operands have types of their own; a componentwise one's, one.
                let same = matches!(node.op, Op::Hadamard(..) | Op::Dot(..));
                // A product of two values takes its right operand at the left one's inner
                // size (see `ProductRhs`), so that a size mistake is the user's product's
                // error alone; a constant operand's size is inferred from the other's.
                let values = !matches!(a, Operand::Const(_)) && !matches!(b, Operand::Const(_));
                let at_inner = matches!(node.op, Op::Mul(..)) && values;
                let call = |x, y, build: &dyn Fn(TokenStream, TokenStream) -> TokenStream| {
                    if same {
                        same_type(&rt, (a, x), (b, y), build)
                    } else if at_inner {
                        let rhs = quote!((&#rt::product_rhs(__rnn_l, __rnn_r)).at(__rnn_r));
                        let built = build(quote!(__rnn_l), rhs);
                        quote!({ let __rnn_l = #x; let __rnn_r = #y; #built })
                    } else {
                        build(x, y)
                    }
                };
                let forward = call(pa, pb, &|x, y| quote!(#f(#x, #y)));
                let pulled = call(ka, kb, &|x, y| quote!(#pull(#x, #y, &#d)));
                let ga = self.acc(a, quote!(&__rnn_g.0));
                let gb = if same || at_inner {
                    self.acc_at(b, quote!(&__rnn_g.1))
                } else {
                    self.acc(b, quote!(&__rnn_g.1))
                };
                (
                    quote!(let #v #ty = #forward;),
                    quote!({ let __rnn_g = #pulled; #ga #gb }),
                )
            }
            Op::Sum(a) | Op::Transpose(a) | Op::Exp(a) | Op::Split(a) => {
                let (f, pull) = match &node.op {
                    Op::Sum(_) => (quote!(sum), quote!(pull_sum(&#d))),
                    Op::Transpose(_) => (quote!(transpose), quote!(pull_transpose(&#d))),
                    Op::Split(_) => (quote!(split), quote!(pull_split(&#d))),
                    _ => {
                        let y = format_ident!("__rnn_y{k}");
                        (quote!(exp), quote!(pull_exp(#y, &#d)))
                    }
                };
                let pa = p(self, a);
                let ga = self.acc(a, quote!(&__rnn_g));
                let f = quote!(let #v #ty = #rt::#f(#pa););
                let f = if matches!(node.op, Op::Exp(_)) {
                    self.keep_after(k, f);
                    TokenStream::new()
                } else {
                    f
                };
                (f, quote!({ let __rnn_g = #rt::#pull; #ga }))
            }
            Op::Reshape(out_ty, a) => {
                let pa = p(self, a);
                let ga = self.acc(a, quote!(&__rnn_g));
                (
                    quote!(let #v: #out_ty = #rt::reshape(#pa);),
                    quote!({ let __rnn_g = #rt::reshape(&#d); #ga }),
                )
            }
            Op::Activation(act, a) => {
                let pa = p(self, a);
                let krate = &self.cell.krate;
                let chosen = format_ident!("__rnn_a{k}");
                let act = match act {
                    Act::Named(variant) => quote!(#krate::ops::Activation::#variant),
                    Act::Runtime(e) => quote!(#e),
                };
                self.forward.extend(quote!(let #chosen = #act;));
                self.captures.push(chosen.clone());
                let f = quote!(let #v #ty = #rt::activation(#chosen, #pa););
                let y = self.keep_after(k, f);
                let ga = self.acc(a, quote!(&__rnn_g));
                (
                    TokenStream::new(),
                    quote!({ let __rnn_g = #rt::pull_activation(*#chosen, #y, &#d); #ga }),
                )
            }
            Op::Dropout { x, recurrent } => {
                let px = p(self, x);
                let gx = self.acc(x, quote!(&__rnn_g));
                if self.helper {
                    let message = "dropout is drawn per sequence of a training run, which a \
                         helper does not see: call `ops::dropout` in the step and pass its \
                         result to the helper";
                    let error = quote_spanned!(node.span=> ::core::compile_error!(#message););
                    (quote!(#error let #v #ty = *#px;), TokenStream::new())
                } else {
                    (
                        quote!(let #v #ty = #rt::dropout(__rnn_masks.as_ref(), #k, #recurrent, #px);),
                        quote!({
                            let __rnn_g = #rt::pull_dropout(__rnn_masks.as_ref(), #k, #recurrent, &#d);
                            #gx
                        }),
                    )
                }
            }
            Op::Concat(a, b) => {
                let (pa, pb) = (p(self, a), p(self, b));
                let (ga, gb) = (
                    self.acc(a, quote!(&__rnn_g.0)),
                    self.acc(b, quote!(&__rnn_g.1)),
                );
                (
                    quote!(let #v #ty = #rt::concat(#pa, #pb);),
                    quote!({ let __rnn_g = #rt::pull_concat(&#d); #ga #gb }),
                )
            }
            Op::Forward(layer, x) => {
                let px = p(self, x);
                let kx = self.keep(k, 0, x);
                let f = quote!(let #v #ty = #rt::Forward::forward(&self #(#layer)*, #px););
                let y = self.keep_after(k, f);
                let gx = self.acc(x, quote!(&__rnn_g));
                let pull = quote!({
                    let __rnn_g = #rt::Forward::pull(
                        &__rnn_self #(#layer)*, &mut __rnn_grads #(#layer)*, #kx, #y, &#d,
                    );
                    #gx
                });
                let without = quote!(#rt::Forward::pull_parameters(
                    &__rnn_self #(#layer)*, &mut __rnn_grads #(#layer)*, #kx, #y, &#d,
                ););
                (TokenStream::new(), self.unless_unwanted(x, pull, without))
            }
            Op::Apply(kernel, x) => {
                let px = p(self, x);
                let kx = self.keep(k, 0, x);
                let gx = self.acc(x, quote!(&__rnn_g));
                let pull = quote!({
                    let __rnn_g = #rt::Apply::pull(
                        &__rnn_self #(#kernel)*, &mut __rnn_grads #(#kernel)*, #kx, &#d,
                    );
                    #gx
                });
                let without = quote!(#rt::Apply::pull_parameters(
                    &__rnn_self #(#kernel)*, &mut __rnn_grads #(#kernel)*, #kx, &#d,
                ););
                (
                    quote!(let #v #ty = #rt::Apply::apply(&self #(#kernel)*, #px);),
                    self.unless_unwanted(x, pull, without),
                )
            }
            Op::Step {
                cell,
                input,
                state,
                constants,
                new_state,
            } => {
                // Each operand at the sub-cell's own type (see `at`), read from the sub-cell
                // as the forward (`here`) or the backward (`there`) has it.
                let (here, there) = (quote!(&self #(#cell)*), quote!(&__rnn_self #(#cell)*));
                let typed = |of: &str, cell: &TokenStream, o: &Operand, x: TokenStream| {
                    let of = format_ident!("{of}_of");
                    at(quote!(#rt::#of(#cell)), o, x)
                };
                let (pi, ps, pc) = (
                    typed("input", &here, input, p(self, input)),
                    typed("state", &here, state, p(self, state)),
                    typed("constants", &here, constants, p(self, constants)),
                );
                let (ki, kc) = (
                    typed("input", &there, input, self.keep(k, 0, input)),
                    typed("constants", &there, constants, self.keep(k, 1, constants)),
                );
                let (s, ds, r) = (
                    value(*new_state),
                    adjoint(*new_state),
                    format_ident!("__rnn_r{k}"),
                );
                self.captures.push(r.clone());
                let take_ds = take(&rt, quote!(&mut #ds));
                let (gs, gi, gc) = (
                    self.acc_at(state, quote!(&__rnn_ds)),
                    self.acc_at(input, quote!(&__rnn_g.0)),
                    self.acc_at(constants, quote!(&__rnn_g.1)),
                );
                (
                    quote! {
                        let mut #s = ::core::clone::Clone::clone(#ps);
                        let (#v, #r) = #rt::step(
                            &self #(#cell)*, #pi, &mut #s, #pc,
                            #rt::sub_cell_masks(__rnn_masks.as_ref(), #k).as_ref(),
                        );
                        let #v #ty = #v;
                    },
                    self.unless_unwanted(
                        input,
                        quote!({
                            let mut __rnn_ds = #take_ds;
                            let __rnn_g = #rt::pull_step(
                                &__rnn_self #(#cell)*, &mut __rnn_grads #(#cell)*, #ki, #r, &#d,
                                &mut __rnn_ds, #kc,
                            );
                            #gs #gi #gc
                        }),
                        quote!({
                            let mut __rnn_ds = #take_ds;
                            let __rnn_g = ((), #rt::pull_step_without_input(
                                &__rnn_self #(#cell)*, &mut __rnn_grads #(#cell)*, #ki, #r, &#d,
                                &mut __rnn_ds, #kc,
                            ));
                            #gs #gc
                        }),
                    ),
                )
            }
            Op::Tuple(parts) => {
                let primals: Vec<TokenStream> = parts
                    .iter()
                    .map(|o| {
                        let po = p(self, o);
                        quote!(::core::clone::Clone::clone(#po))
                    })
                    .collect();
                let accs: Vec<TokenStream> = parts
                    .iter()
                    .enumerate()
                    .map(|(i, o)| {
                        let i = syn::Index::from(i);
                        self.acc(o, quote!(&#d.#i))
                    })
                    .collect();
                (quote!(let #v #ty = (#(#primals,)*);), quote!({ #(#accs)* }))
            }
            Op::Branch {
                bindings,
                selector,
                arms,
                phis,
            } => {
                self.forward = start;
                self.branch(k, bindings, selector, arms, phis);
                return;
            }
            Op::Loop {
                pat,
                len,
                slots,
                body,
            } => {
                self.forward = start;
                self.for_loop(k, pat, len, slots, body);
                return;
            }
            Op::Call(path, args) => {
                let h = format_ident!("__rnn_h{k}");
                let clones: Vec<TokenStream> = args
                    .iter()
                    .map(|o| {
                        let p = self.primal(o);
                        quote!(::core::clone::Clone::clone(#p))
                    })
                    .collect();
                let alias = format_ident!("__rnn_helper{k}", span = path.span());
                self.helpers.push((alias.clone(), path.clone()));
                let forward = quote! {
                    let (#v, #h) = #rt::vjp::<#alias, _, _>((#(#clones,)*));
                    let #v #ty = #v;
                };
                self.captures.push(h.clone());
                let accs: Vec<TokenStream> = args
                    .iter()
                    .enumerate()
                    .map(|(i, o)| {
                        let i = syn::Index::from(i);
                        self.acc(o, quote!(&__rnn_g.#i))
                    })
                    .collect();
                (forward, quote!({ let __rnn_g = #h.pull(&#d); #(#accs)* }))
            }
            Op::Project(of, member) => {
                let (base, dbase) = (value(*of), adjoint(*of));
                (
                    quote!(let #v #ty = ::core::clone::Clone::clone(&#base #member);),
                    acc(&rt, quote!(&mut #dbase #member), quote!(&#d)),
                )
            }
        };
        self.forward.extend(forward);
        if let Some(path) = &node.ops_path {
            self.check_ops_path(path, &node.op, k);
        }
        self.witness(k);
        if let Op::Step { new_state, .. } = &node.op {
            self.witness(*new_state);
        }
        // A value only the input's adjoint reads passes its adjoint on only when that is wanted.
        let backward = if self.input_only.contains(&k) {
            quote!(if __rnn_want_input { #backward })
        } else {
            backward
        };
        self.backward.push(respan(backward, node.span));
        let emitted = std::mem::take(&mut self.forward);
        self.forward = start;
        self.forward.extend(respan(emitted, node.span));
    }

    /// The imports that name the helpers the body calls, at the top of the function whose
    /// body it is: each helper's path imported under its call's alias, and, through a glob
    /// import that the helper's own import shadows, `UnmarkedHelper` under every alias. A
    /// marked helper's path names, in the type namespace, the item `#[differentiable]`
    /// generates beside it; an unmarked one's names none there, and the alias is then
    /// `UnmarkedHelper`, whose missing `Helper` impl says to mark it (rather than rustc's
    /// "expected type, found function").
    fn helper_imports(&self) -> TokenStream {
        if self.helpers.is_empty() {
            return TokenStream::new();
        }
        let rt = &self.rt;
        let (aliases, paths): (Vec<_>, Vec<_>) = self.helpers.iter().cloned().unzip();
        quote! {
            #[allow(non_camel_case_types, unused_imports)]
            mod __rnn_unmarked {
                #(pub use #rt::UnmarkedHelper as #aliases;)*
            }
            #[allow(unused_imports)]
            use __rnn_unmarked::*;
            #(#[allow(unused_imports)] use #paths as #aliases;)*
        }
    }

    /// A check in the forward that `path`, which the lowering read as `rnn::ops`'s operation
    /// of its last name, names that operation (value `k` is its result).
    fn check_ops_path(&mut self, path: &syn::Path, op: &Op, k: usize) {
        let operands = match op {
            Op::Activation(_, a) | Op::Exp(a) | Op::Split(a) | Op::Dropout { x: a, .. } => {
                vec![a]
            }
            Op::Concat(a, b) => vec![a, b],
            _ => return,
        };
        let args: Vec<TokenStream> = operands.into_iter().map(|o| self.primal(o)).collect();
        let (rt, krate, v) = (&self.rt, &self.cell.krate, value(k));
        let name = &path.segments.last().expect("a call has a name").ident;
        self.forward
            .extend(quote!(#rt::is_rnn_op(#path, #krate::ops::#name, (#(#args,)*), &#v);));
    }

    /// Emits a forward statement defining value `k`, then keeps a clone of it for the pull
    /// (an activation's adjoint is taken from its output).
    fn keep_after(&mut self, k: usize, forward: TokenStream) -> TokenStream {
        self.forward.extend(forward);
        let (v, y) = (value(k), format_ident!("__rnn_y{k}"));
        self.forward
            .extend(quote!(let #y = ::core::clone::Clone::clone(&#v);));
        self.captures.push(y.clone());
        quote!(#y)
    }

    fn witness(&mut self, k: usize) {
        let (rt, v, t) = (&self.rt, value(k), witness(k));
        self.forward.extend(quote!(let #t = #rt::witness(&#v);));
        self.captures.push(t);
        self.defined.push(k);
    }

    /// `if`/`match`: the selector picks an arm; the arm's residual is one variant of a nested
    /// `Either` (arm `i` of `n` is `R` `i` times, then `L`, the last arm `R` `n - 1` times).
    fn branch(
        &mut self,
        k: usize,
        bindings: &[(syn::Ident, Operand)],
        selector: &TokenStream,
        arms: &[Arm],
        phis: &[usize],
    ) {
        let rt = self.rt.clone();
        let (sel, b) = (format_ident!("__rnn_sel{k}"), format_ident!("__rnn_b{k}"));
        let binds: Vec<TokenStream> = bindings
            .iter()
            .map(|(name, o)| {
                let p = self.primal(o);
                quote!(let #name = #p;)
            })
            .collect();
        let phi_values: Vec<syn::Ident> = phis.iter().map(|&p| value(p)).collect();
        let mut forward_arms = Vec::new();
        let mut backward_arms = Vec::new();
        for (i, arm) in arms.iter().enumerate() {
            let block = self.block(&arm.nodes);
            let results: Vec<TokenStream> = arm
                .results
                .iter()
                .map(|o| {
                    let p = self.primal(o);
                    quote!(::core::clone::Clone::clone(#p))
                })
                .collect();
            let caps = &block.captures;
            let mut variant = if i + 1 == arms.len() && i > 0 {
                quote!((#(#caps,)*))
            } else {
                quote!(#rt::Either::L((#(#caps,)*)))
            };
            for _ in 0..i.min(arms.len().saturating_sub(1)) {
                variant = quote!(#rt::Either::R(#variant));
            }
            let forward = &block.forward;
            let pat = if i + 1 == arms.len() {
                quote!(_)
            } else {
                quote!(#i)
            };
            let wrapped = variant.clone();
            forward_arms.push(quote!(#pat => { #forward (#(#results,)* #wrapped) }));
            let accs: Vec<TokenStream> = arm
                .results
                .iter()
                .zip(phis)
                .map(|(o, &p)| {
                    let d = adjoint(p);
                    self.acc(o, quote!(&#d))
                })
                .collect();
            let (zeros, reversed) = (block.zeros(), block.reversed());
            backward_arms.push(quote!(#variant => { #zeros #(#accs)* #reversed }));
        }
        self.forward.extend(quote! {
            let #sel: usize = { #(#binds)* #selector };
            let (#(#phi_values,)* #b) = match #sel { #(#forward_arms)* };
        });
        self.captures.push(b.clone());
        for &p in phis {
            self.witness(p);
        }
        self.backward.push(quote!(match #b { #(#backward_arms)* }));
    }

    /// `for pat in 0..len`: each carried value has a slot; each iteration's residual is one
    /// element of an array of `len`.
    fn for_loop(
        &mut self,
        k: usize,
        pat: &syn::Pat,
        len: &syn::Expr,
        slots: &[(usize, Operand)],
        body: &Arm,
    ) {
        let rt = self.rt.clone();
        let l = format_ident!("__rnn_l{k}");
        for (slot, init) in slots {
            let (v, p) = (value(*slot), self.primal(init));
            self.forward
                .extend(quote!(let mut #v = ::core::clone::Clone::clone(#p);));
            self.witness(*slot);
        }
        let block = self.block(&body.nodes);
        let results: Vec<TokenStream> = body
            .results
            .iter()
            .map(|o| {
                let p = self.primal(o);
                quote!(::core::clone::Clone::clone(#p))
            })
            .collect();
        let assigns = slots.iter().enumerate().map(|(i, (slot, _))| {
            let (v, i) = (value(*slot), syn::Index::from(i));
            quote!(#v = __rnn_next.#i;)
        });
        let caps = &block.captures;
        let forward = &block.forward;
        self.forward.extend(quote! {
            let mut #l: [::core::option::Option<_>; #len] = [(); #len].map(|_| ::core::option::Option::None);
            for (__rnn_iter, #pat) in (0..#len).enumerate() {
                #forward
                let __rnn_next = (#(#results,)*);
                #l[__rnn_iter] = ::core::option::Option::Some((#(#caps,)*));
                #(#assigns)*
            }
        });
        self.captures.push(l.clone());
        let into_results = body.results.iter().zip(slots).map(|(o, (slot, _))| {
            let d = adjoint(*slot);
            let term = self.acc(o, quote!(&__rnn_g));
            let taken = take(&rt, quote!(&mut #d));
            quote!({ let __rnn_g = #taken; #term })
        });
        let into_inits: Vec<TokenStream> = slots
            .iter()
            .map(|(slot, init)| {
                let d = adjoint(*slot);
                let term = self.acc(init, quote!(&__rnn_g));
                let taken = take(&rt, quote!(&mut #d));
                quote!({ let __rnn_g = #taken; #term })
            })
            .collect();
        let (zeros, reversed) = (block.zeros(), block.reversed());
        self.backward.push(quote! {
            for (__rnn_iter, #pat) in (0..#len).enumerate().rev() {
                if let ::core::option::Option::Some((#(#caps,)*)) = &#l[__rnn_iter] {
                    #zeros
                    #(#into_results)*
                    #reversed
                }
            }
            #(#into_inits)*
        });
    }
}

/// `*target += term`, for a `Nested` value or a generic scalar alike (see `ByNested`); the
/// term may name `__rnn_t`, the witness of the target's type.
fn acc(rt: &TokenStream, target: TokenStream, term: TokenStream) -> TokenStream {
    quote!({
        let __rnn_a = #target;
        let __rnn_t = #rt::witness(&*__rnn_a);
        (&__rnn_t).add_to(__rnn_a, #term);
    })
}

/// The adjoint at `target`, leaving zero there (a value overwritten by the step passes no
/// adjoint to the step's start).
fn take(rt: &TokenStream, target: TokenStream) -> TokenStream {
    quote!({
        let __rnn_a = #target;
        let __rnn_zero = (&#rt::witness(&*__rnn_a)).zero();
        ::core::mem::replace(__rnn_a, __rnn_zero)
    })
}

/// `(&witness).at(x)`: `x`, the operand `o`'s value or adjoint, where the generated code
/// needs the witness's type. The user's own expression needs the same type there and checks
/// it; `at` takes a matrix of any size (see the runtime's `AtShape`), so a size mistake is
/// reported once, on the user's tokens. A constant is left as it is: its type may be one the
/// compiler infers from where it is used (`SVector::zeros()`), which `at` would not.
fn at(witness: TokenStream, o: &Operand, x: TokenStream) -> TokenStream {
    match o {
        Operand::Const(_) => x,
        _ => quote!((&#witness).at(#x)),
    }
}

/// `build(a, b)` for two operands the user's expression needs to be of one type: `b` is
/// taken at `a`'s type (see [`at`]), unless either is a constant, whose type the other's
/// decides.
fn same_type(
    rt: &TokenStream,
    (a, pa): (&Operand, TokenStream),
    (b, pb): (&Operand, TokenStream),
    build: impl FnOnce(TokenStream, TokenStream) -> TokenStream,
) -> TokenStream {
    if matches!(a, Operand::Const(_)) {
        return build(pa, pb);
    }
    let pb = at(quote!(#rt::witness(__rnn_l)), b, pb);
    let built = build(quote!(__rnn_l), pb);
    quote!({ let __rnn_l = #pa; #built })
}

/// The tokens with the user's expression's location (their names resolve as before): a type
/// error in the generated forward points at what the user wrote.
fn respan(tokens: TokenStream, span: proc_macro2::Span) -> TokenStream {
    use proc_macro2::{Group, TokenTree};
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Group(g) => {
                let mut group = Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(g.span().located_at(span));
                TokenTree::Group(group)
            }
            mut other => {
                other.set_span(other.span().located_at(span));
                other
            }
        })
        .collect()
}

/// The `Differentiable` impl of the cell, from its body in single-assignment form.
pub fn expand(cell: &Cell, program: &Program, cell_ty: &syn::Type) -> TokenStream {
    let krate = &cell.krate;
    let rt = quote!(#krate::__private::adjoint);
    let mut emit = Emit {
        cell,
        rt: rt.clone(),
        forward: TokenStream::new(),
        backward: Vec::new(),
        captures: Vec::new(),
        defined: Vec::new(),
        helper: false,
        helpers: Vec::new(),
        input_only: input_only(cell, &program.nodes),
    };
    for node in &program.nodes {
        emit.node(node);
    }
    let output = at(
        quote!(#rt::witness_of::<Self::Output>()),
        &program.output,
        emit.primal(&program.output),
    );
    let output_acc = emit.acc_at(&program.output, quote!(__rnn_d_output));
    let mut writes = TokenStream::new();
    let mut write_accs = TokenStream::new();
    for (param, path, operand) in &program.writes {
        let p = &cell.params[*param];
        let name = &p.name;
        let field = emit.several(Role::State).then(|| quote!(.#name));
        let place = quote!((*#name) #(#path)*);
        let primal = at(quote!(#rt::witness(&#place)), operand, emit.primal(operand));
        writes.extend(quote!(#place = ::core::clone::Clone::clone(#primal);));
        let term = emit.acc_at(operand, quote!(&__rnn_g));
        let taken = take(&rt, quote!(&mut (*__rnn_d_state) #field #(#path)*));
        write_accs.extend(quote!({
            let __rnn_g = #taken;
            #term
        }));
    }
    let helpers = emit.helper_imports();
    let block = Block {
        forward: emit.forward,
        backward: emit.backward,
        captures: emit.captures,
        defined: emit.defined,
    };
    let (forward, captures) = (&block.forward, &block.captures);
    let (zeros, backward) = (block.zeros(), block.reversed());
    let bindings = super::expand::bindings(cell);
    let drops = program.drops();
    let (impl_generics, _, _) = cell.generics.split_for_impl();
    // The cell's weights are its `Parameters`, which the macro cannot see: a cell without them
    // is not `Differentiable` (the bound under `for<'a>` is checked where the impl is used, not
    // here), and a use of its backward says `Parameters` is missing.
    let mut generics = cell.generics.clone();
    generics
        .make_where_clause()
        .predicates
        .push(syn::parse_quote!(for<'__rnn> #cell_ty: #krate::__private::Parameters));
    let where_clause = &generics.where_clause;

    let closure = quote! {
        #[inline(always)]
        move |__rnn_self: &Self,
              __rnn_input: &Self::Input,
              __rnn_d_output: &Self::Output,
              __rnn_d_state: &mut Self::State,
              __rnn_constants: &Self::Constants,
              __rnn_d_constants: &mut Self::Constants,
              __rnn_grads: &mut Self,
              __rnn_want_input: bool|
              -> Self::Input {
            #(let #captures = &#captures;)*
            let mut __rnn_d_input = #rt::zeros_as(__rnn_input);
            #zeros
            // First the written states' adjoints move to what was written (the
            // adjoint left in `d_state` is then the old state's), then the output's
            // adds to what it is (possibly the old state).
            #write_accs
            #output_acc
            #backward
            __rnn_d_input
        }
    };
    let blocked = super::block::covers(program);
    let block_method = blocked.then(|| {
        super::block::method(super::block::Parts {
            cell,
            rt: &rt,
            forward,
            output: &output,
            writes: &writes,
            captures,
            closure: &closure,
        })
    });

    let block_impl = block_method.as_ref().map(|method| {
        quote! {
            impl #impl_generics #rt::TapedBlock for #cell_ty #where_clause {
                #method
            }
        }
    });
    let block_forwards = blocked.then(|| {
        quote! {
            #[inline]
            fn step_forward_block<const __RNN_N: usize>(
                &self,
                inputs: [&Self::Input; __RNN_N],
                states: &mut [Self::State; __RNN_N],
                constants: [&Self::Constants; __RNN_N],
            ) -> [(Self::Output, Self::Residual); __RNN_N] {
                #rt::forward_block(self, inputs, states, constants)
            }

            #[inline]
            fn step_forward_block_into<const __RNN_N: usize>(
                &self,
                inputs: [&Self::Input; __RNN_N],
                states: &mut [Self::State; __RNN_N],
                constants: [&Self::Constants; __RNN_N],
                residuals: [&mut Self::Residual; __RNN_N],
            ) -> [Self::Output; __RNN_N] {
                #rt::TapedBlock::forward_block_into(self, inputs, states, constants, residuals)
            }
        }
    });

    quote! { #krate::__private::if_alloc! {
        // One forward refills the residual it is given, so that the backward closure has one
        // type (a closure's type depends on the function it is written in).
        impl #impl_generics #rt::Taped for #cell_ty #where_clause {
            #[allow(
                unused_variables, unused_mut, unused_braces, non_snake_case,
                clippy::all, clippy::pedantic
            )]
            #[inline(always)]
            fn forward_into(
                &self,
                __rnn_input: &Self::Input,
                __rnn_state: &mut Self::State,
                __rnn_constants: &Self::Constants,
                __rnn_dropout: ::core::option::Option<&#rt::DropoutMasks>,
                __rnn_residual: &mut #rt::Pullback<Self>,
            ) -> Self::Output {
                use #rt::{AtSame as _, AtShape as _, ByNested as _, ByReal as _};
                #helpers
                // Copied: the backward drops the adjoints with the same masks.
                let __rnn_masks = __rnn_dropout.copied();
                #bindings
                #forward
                let __rnn_output = ::core::clone::Clone::clone(#output);
                #writes
                __rnn_residual.refill(#closure);
                __rnn_output
            }
        }

        #block_impl

        impl #impl_generics #krate::__private::Differentiable for #cell_ty #where_clause {
            type Residual = #rt::Pullback<Self>;

            const STEP_DROPOUT: bool = #drops;

            const STEP_BLOCK: bool = #blocked;

            #block_forwards

            #[inline]
            fn step_forward(
                &self,
                input: &Self::Input,
                state: &mut Self::State,
                constants: &Self::Constants,
            ) -> (Self::Output, Self::Residual) {
                self.step_forward_with_dropout(input, state, constants, ::core::option::Option::None)
            }

            #[inline]
            fn step_forward_with_dropout(
                &self,
                input: &Self::Input,
                state: &mut Self::State,
                constants: &Self::Constants,
                dropout: ::core::option::Option<&#rt::DropoutMasks>,
            ) -> (Self::Output, Self::Residual) {
                let mut residual = #rt::Pullback::empty();
                let output = #rt::Taped::forward_into(self, input, state, constants, dropout, &mut residual);
                (output, residual)
            }

            #[inline]
            fn step_forward_into(
                &self,
                input: &Self::Input,
                state: &mut Self::State,
                constants: &Self::Constants,
                dropout: ::core::option::Option<&#rt::DropoutMasks>,
                residual: &mut Self::Residual,
            ) -> Self::Output {
                #rt::Taped::forward_into(self, input, state, constants, dropout, residual)
            }

            #[inline]
            fn step_backward(
                &self,
                input: &Self::Input,
                residual: &Self::Residual,
                d_output: &Self::Output,
                d_state: &mut Self::State,
                constants: &Self::Constants,
                d_constants: &mut Self::Constants,
                grads: &mut Self,
            ) -> Self::Input {
                residual.pull(self, input, d_output, d_state, constants, d_constants, grads, true)
            }

            #[inline]
            fn step_backward_without_input(
                &self,
                input: &Self::Input,
                residual: &Self::Residual,
                d_output: &Self::Output,
                d_state: &mut Self::State,
                constants: &Self::Constants,
                d_constants: &mut Self::Constants,
                grads: &mut Self,
            ) {
                residual.pull(self, input, d_output, d_state, constants, d_constants, grads, false);
            }
        }
    }}
}

/// `Parameters` for the unit type generated for a free step function: it has none.
pub fn fn_parameters(cell: &Cell, cell_ty: &syn::Type) -> TokenStream {
    let krate = &cell.krate;
    let (impl_generics, _, where_clause) = cell.generics.split_for_impl();
    let p = quote!(#krate::__private);
    quote! {
        impl #impl_generics #p::Parameters for #cell_ty #where_clause {
            fn visit(&self, _: &#p::Path<'_>, _: &mut #p::Visitor<'_>) {}
            fn visit_mut(&mut self, _: &#p::Path<'_>, _: ::core::option::Option<#p::Init>, _: &mut #p::VisitorMut<'_>) {}
        }
    }
}

/// `Helper` for a function marked `#[differentiable]`: its body in single-assignment form
/// (`program`), or its hand-written adjoint `custom`.
pub fn expand_helper(
    cell: &Cell,
    program: Option<&Program>,
    custom: Option<&syn::Path>,
) -> TokenStream {
    let krate = &cell.krate;
    let rt = quote!(#krate::__private::adjoint);
    let f = &cell.sig.ident;
    let arg_types: Vec<&syn::Type> = cell.params.iter().map(|p| &p.ty).collect();
    let args_ty = quote!((#(#arg_types,)*));
    let output_ty = match &cell.output {
        Some(ty) => quote!(#ty),
        None => quote!(()),
    };
    let names: Vec<&syn::Ident> = cell.params.iter().map(|p| &p.name).collect();
    let indices: Vec<syn::Index> = (0..names.len()).map(syn::Index::from).collect();
    let bind = quote!(#(let #names: &#arg_types = &__rnn_args.#indices;)*);
    let (impl_generics, _, where_clause) = cell.generics.split_for_impl();
    let (_, fn_generics, _) = cell.sig.generics.split_for_impl();
    let turbofish = fn_generics.as_turbofish();
    let body = match (program, custom) {
        (_, Some(adjoint)) => quote! {
            #bind
            let __rnn_output = #f #turbofish (#(#names),*);
            let __rnn_y = ::core::clone::Clone::clone(&__rnn_output);
            let __rnn_pullback = #rt::HelperPullback::new(#[inline(always)] move |__rnn_dy: &#output_ty| {
                let (#(#names,)*) = (#(&__rnn_args.#indices,)*);
                #adjoint(#(#names,)* &__rnn_y, __rnn_dy)
            });
            (__rnn_output, __rnn_pullback)
        },
        (Some(program), None) => {
            let mut emit = Emit {
                cell,
                rt: rt.clone(),
                forward: TokenStream::new(),
                backward: Vec::new(),
                captures: Vec::new(),
                defined: Vec::new(),
                helper: true,
                helpers: Vec::new(),
                input_only: HashSet::new(),
            };
            for node in &program.nodes {
                emit.node(node);
            }
            let output = at(
                quote!(#rt::witness_of::<#output_ty>()),
                &program.output,
                emit.primal(&program.output),
            );
            let output_acc = emit.acc_at(&program.output, quote!(__rnn_d_output));
            let helpers = emit.helper_imports();
            let block = Block {
                forward: emit.forward,
                backward: emit.backward,
                captures: emit.captures,
                defined: emit.defined,
            };
            let (forward, captures) = (&block.forward, &block.captures);
            let (zeros, backward) = (block.zeros(), block.reversed());
            quote! {
                #helpers
                #bind
                #forward
                let __rnn_output = ::core::clone::Clone::clone(#output);
                let __rnn_pullback = #rt::HelperPullback::new(
                    #[inline(always)]
                    move |__rnn_d_output: &#output_ty| -> #args_ty {
                        #(let #captures = &#captures;)*
                        let mut __rnn_d_input: #args_ty = #rt::Nested::zeros();
                        #zeros
                        #output_acc
                        #backward
                        __rnn_d_input
                    },
                );
                (__rnn_output, __rnn_pullback)
            }
        }
        (None, None) => return TokenStream::new(),
    };
    let vis = &cell.vis;
    quote! { #krate::__private::if_alloc! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #f {}

        impl #impl_generics #rt::Helper<#args_ty> for #f #where_clause {
            type Output = #output_ty;
            #[allow(
                unused_variables, unused_mut, unused_braces, non_snake_case,
                clippy::all, clippy::pedantic
            )]
            #[inline]
            fn vjp(__rnn_args: #args_ty) -> (#output_ty, #rt::HelperPullback<#output_ty, #args_ty>) {
                use #rt::{AtSame as _, AtShape as _, ByNested as _, ByReal as _};
                #body
            }
        }
    }}
}
