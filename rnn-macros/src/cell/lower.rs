//! The step's body → single-assignment form: a list of operations over numbered values,
//! each operand a value, a place of a parameter (an input, state or constant field, or one of
//! the cell's own parameters through `self`), or an expression that reads none of them (a
//! constant of the computation, which has no adjoint).
//!
//! This is an analysis of the same model the `Cell` impl is expanded from; anything it cannot
//! differentiate is recorded as a mistake on the user's tokens, saying what to write instead.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{BinOp, Expr, Pat, Stmt, Type, UnOp};

use super::model::{Cell, Role};
use crate::errors::Errors;

/// One step of a path into a value: a field (`.c`, `.0`) or a constant index (`[0]`).
#[derive(Clone, Debug, PartialEq)]
pub enum Member {
    Field(syn::Member),
    Index(syn::Expr),
}

impl ToTokens for Member {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Member::Field(m) => tokens.extend(quote!(.#m)),
            Member::Index(i) => tokens.extend(quote!([#i])),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// A value computed by the step.
    Value(usize),
    /// A place of the step's parameter `params[param]` as it was when the step started.
    Role { param: usize, path: Vec<Member> },
    /// One of the cell's parameters (`self.path`): its adjoint is a gradient.
    Param { path: Vec<Member> },
    /// An expression that reads no value of the step: no adjoint.
    Const(Expr),
}

/// How an activation is chosen: by the `ops` function's name, or by an `Activation` value.
#[derive(Clone, Debug)]
pub enum Act {
    Named(syn::Ident),
    Runtime(Expr),
}

#[derive(Clone, Debug)]
pub enum Op {
    Add(Operand, Operand),
    Sub(Operand, Operand),
    Neg(Operand),
    Mul(Operand, Operand),
    Div(Operand, Operand),
    Hadamard(Operand, Operand),
    Dot(Operand, Operand),
    Sum(Operand),
    Transpose(Operand),
    /// `Ty::from_column_slice(a.as_slice())`.
    Reshape(Type, Operand),
    Activation(Act, Operand),
    Exp(Operand),
    Concat(Operand, Operand),
    Split(Operand),
    /// `ops::dropout(x)` (`recurrent` false) or `ops::recurrent_dropout(x)`: the node's value
    /// number is its dropout site.
    Dropout {
        x: Operand,
        recurrent: bool,
    },
    /// `self.path.forward(&x)`.
    Forward(Vec<Member>, Operand),
    /// `self.path.apply(&x)`.
    Apply(Vec<Member>, Operand),
    /// `self.path.step(input, &mut state, constants)`; the new state is value `new_state`.
    Step {
        cell: Vec<Member>,
        input: Operand,
        state: Operand,
        constants: Operand,
        new_state: usize,
    },
    Tuple(Vec<Operand>),
    Project(usize, Member),
    /// A call of a helper function (`#[differentiable]`), by its path.
    Call(syn::Path, Vec<Operand>),
    /// `if`/`match`: `selector` (evaluated with `bindings` in scope) picks an arm; each arm
    /// ends with one result per `phis` value (what the arms assign, and their value).
    Branch {
        bindings: Vec<(syn::Ident, Operand)>,
        selector: TokenStream,
        arms: Vec<Arm>,
        phis: Vec<usize>,
    },
    /// `for pat in 0..len`: the values the body assigns are carried in `slots` (value, initial
    /// operand), the body ends with one result per slot.
    Loop {
        pat: Pat,
        len: Expr,
        slots: Vec<(usize, Operand)>,
        body: Arm,
    },
}

/// A block of a branch or loop: its operations and the results it ends with.
#[derive(Clone, Debug)]
pub struct Arm {
    pub nodes: Vec<Node>,
    pub results: Vec<Operand>,
}

#[derive(Clone, Debug)]
pub struct Node {
    /// The value it defines.
    pub out: usize,
    pub op: Op,
    /// The type the user wrote on the `let` that binds it.
    pub ty: Option<Type>,
    /// The user's expression, where type errors in the generated forward point.
    pub span: Span,
    /// The path of a call read as `rnn::ops`'s operation (`ops::tanh`): the forward checks
    /// that it names that operation.
    pub ops_path: Option<syn::Path>,
}

/// The body in single-assignment form.
pub struct Program {
    pub nodes: Vec<Node>,
    pub output: Operand,
    /// The state places the step writes, with their final values, in the order first written.
    pub writes: Vec<(usize, Vec<Member>, Operand)>,
}

impl Program {
    /// Whether the step calls `ops::dropout` or `ops::recurrent_dropout` (in any arm or loop).
    pub fn drops(&self) -> bool {
        fn any(nodes: &[Node]) -> bool {
            nodes.iter().any(|n| match &n.op {
                Op::Dropout { .. } => true,
                Op::Branch { arms, .. } => arms.iter().any(|a| any(&a.nodes)),
                Op::Loop { body, .. } => any(&body.nodes),
                _ => false,
            })
        }
        any(&self.nodes)
    }
}

const NAMED_ACTIVATIONS: [(&str, &str); 5] = [
    ("sigmoid", "Sigmoid"),
    ("tanh", "Tanh"),
    ("relu", "Relu"),
    ("hard_sigmoid", "HardSigmoid"),
    ("softmax", "Softmax"),
];

const SET: &str = "the operations with an adjoint are `+`, `-`, `*`, `/` by a scalar, \
     `component_mul`, `dot`, `sum`, `transpose`, `rnn::ops` (activations, `exp`, `concat`, \
     `split`, `dropout`, `recurrent_dropout`), `Activation::of`, `Dense::forward`, `Kernel::apply`, `MatVec::forward` and a \
     sub-cell's `step`";

fn opt_out() -> &'static str {
    "or mark the cell `#[cell(inference)]` to generate no backward"
}

struct Lower<'a> {
    cell: &'a Cell,
    errors: &'a mut Errors,
    nodes: Vec<Node>,
    values: usize,
    scopes: Vec<HashMap<String, Operand>>,
    /// State places written so far.
    writes: Vec<(usize, Vec<Member>, Operand)>,
    /// The expression being lowered.
    span: Span,
    /// Names whose value was a reported mistake: what reads them is not reported again.
    poisoned: std::collections::HashSet<String>,
}

pub fn lower(cell: &Cell, errors: &mut Errors) -> Option<Program> {
    let before = errors_len(errors);
    let mut lower = Lower {
        cell,
        errors,
        nodes: Vec::new(),
        values: 0,
        scopes: vec![HashMap::new()],
        writes: Vec::new(),
        span: Span::call_site(),
        poisoned: Default::default(),
    };
    let output = lower.block(&cell.body.stmts);
    if output.is_none() && !matches!(cell.body.stmts.last(), Some(Stmt::Expr(_, None))) {
        lower.errors.at(
            &cell.sig.ident,
            "a differentiated step ends with its output as the last expression",
        );
    }
    let Lower {
        nodes,
        writes,
        errors,
        ..
    } = lower;
    if errors_len(errors) != before {
        return None;
    }
    Some(Program {
        nodes,
        output: output?,
        writes,
    })
}

fn errors_len(errors: &Errors) -> usize {
    errors.len()
}

impl Lower<'_> {
    fn fresh(&mut self) -> usize {
        self.values += 1;
        self.values - 1
    }

    fn push(&mut self, op: Op) -> Operand {
        let out = self.fresh();
        self.nodes.push(Node {
            out,
            op,
            ty: None,
            span: self.span,
            ops_path: None,
        });
        Operand::Value(out)
    }

    fn lookup(&self, name: &str) -> Option<Operand> {
        self.scopes.iter().rev().find_map(|s| s.get(name).cloned())
    }

    fn param_index(&self, name: &str) -> Option<usize> {
        self.cell.params.iter().position(|p| p.name == name)
    }

    /// Whether `e` reads a value of the step (a local, a parameter of the step, `self`).
    fn reads_values(&self, e: &Expr) -> bool {
        struct Reads<'l, 'a>(&'l Lower<'a>, bool);
        impl<'ast> Visit<'ast> for Reads<'_, '_> {
            fn visit_ident(&mut self, i: &'ast syn::Ident) {
                let name = i.to_string();
                if name == "self"
                    || self.0.lookup(&name).is_some()
                    || self.0.param_index(&name).is_some()
                {
                    self.1 = true;
                }
            }
            fn visit_expr_macro(&mut self, _: &'ast syn::ExprMacro) {
                // A macro's tokens may read anything.
                self.1 = true;
            }
        }
        let mut reads = Reads(self, false);
        reads.visit_expr(e);
        reads.1
    }

    fn block(&mut self, stmts: &[Stmt]) -> Option<Operand> {
        let mut output = None;
        for (i, stmt) in stmts.iter().enumerate() {
            let last = i + 1 == stmts.len();
            match stmt {
                Stmt::Local(local) => self.local(local),
                Stmt::Expr(e, None) if last && !is_statement_like(e) => output = self.expr(e),
                Stmt::Expr(e, _) => {
                    self.statement(e);
                }
                Stmt::Item(item) => self.errors.at(
                    item,
                    format!(
                        "an item inside a differentiated step: move it out of the step, {}",
                        opt_out()
                    ),
                ),
                Stmt::Macro(m) => self.errors.at(
                    m,
                    format!(
                        "a macro call in a differentiated step has no adjoint: remove it from the \
                         step, {}",
                        opt_out()
                    ),
                ),
            }
        }
        output
    }

    fn bind(&mut self, name: String, operand: Operand) {
        self.scopes
            .last_mut()
            .expect("a scope")
            .insert(name, operand);
    }

    fn local(&mut self, local: &syn::Local) {
        let Some(init) = &local.init else {
            self.errors.at(
                local,
                "a `let` without a value cannot be differentiated: give it its value where it is \
                 declared",
            );
            self.bind_unknown(&local.pat);
            return;
        };
        if let Some((_, diverge)) = &init.diverge {
            self.errors.at(
                diverge,
                format!("`let .. else` has no adjoint, {}", opt_out()),
            );
            return;
        }
        let (pat, ty) = match &local.pat {
            Pat::Type(t) => (&*t.pat, Some((*t.ty).clone())),
            other => (other, None),
        };
        let Some(value) = self.expr(&init.expr) else {
            // Reported: the names still bind, so their uses add no mistakes of their own.
            self.bind_unknown(pat);
            return;
        };
        let value = match (value, ty) {
            (Operand::Value(v), Some(ty)) => {
                if let Some(node) = self.nodes.iter_mut().find(|n| n.out == v) {
                    if node.ty.is_none() {
                        node.ty = Some(ty);
                    }
                }
                Operand::Value(v)
            }
            (Operand::Const(e), Some(ty)) => {
                Operand::Const(syn::parse_quote!({ let __rnn_c: #ty = #e; __rnn_c }))
            }
            (other, _) => other,
        };
        self.pattern(pat, value);
    }

    /// Binds every name of a pattern whose value was a reported mistake.
    fn bind_unknown(&mut self, pat: &Pat) {
        struct Names(Vec<syn::Ident>);
        impl<'ast> Visit<'ast> for Names {
            fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
                self.0.push(p.ident.clone());
            }
        }
        let mut names = Names(Vec::new());
        names.visit_pat(pat);
        for name in names.0 {
            self.bind(name.to_string(), Operand::Const(syn::parse_quote!(#name)));
            self.poisoned.insert(name.to_string());
        }
    }

    fn pattern(&mut self, pat: &Pat, value: Operand) {
        match pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                self.bind(p.ident.to_string(), value)
            }
            Pat::Wild(_) => {}
            Pat::Tuple(t) => {
                for (i, elem) in t.elems.iter().enumerate() {
                    let member = Member::Field(syn::Member::Unnamed(syn::Index::from(i)));
                    if let Some(part) = self.project(&value, member, elem) {
                        self.pattern(elem, part);
                    }
                }
            }
            Pat::Slice(s) => {
                for (i, elem) in s.elems.iter().enumerate() {
                    let index: syn::Expr = syn::parse_quote!(#i);
                    if let Some(part) = self.project(&value, Member::Index(index), elem) {
                        self.pattern(elem, part);
                    }
                }
            }
            Pat::Paren(p) => self.pattern(&p.pat, value),
            other => self.errors.at(
                other,
                "this pattern cannot be differentiated: bind a name, a tuple or an array of names",
            ),
        }
    }

    /// `value.member`.
    fn project(&mut self, value: &Operand, member: Member, at: impl ToTokens) -> Option<Operand> {
        match value {
            Operand::Value(v) => Some(self.push(Op::Project(*v, member))),
            Operand::Role { param, path } => {
                let mut path = path.clone();
                path.push(member);
                Some(Operand::Role {
                    param: *param,
                    path,
                })
            }
            Operand::Param { path } => {
                let mut path = path.clone();
                path.push(member);
                Some(Operand::Param { path })
            }
            Operand::Const(e) => Some(Operand::Const(syn::parse_quote!((#e)#member))),
        }
        .or_else(|| {
            self.errors.at(at, "cannot take a part of this value");
            None
        })
    }

    /// An expression statement: an assignment, or a call whose result is dropped.
    fn statement(&mut self, e: &Expr) {
        match e {
            Expr::Assign(a) => {
                if let Some(value) = self.expr(&a.right) {
                    self.assign(&a.left, value);
                }
            }
            Expr::Binary(b) if is_compound(&b.op) => {
                let (Some(old), Some(rhs)) = (self.expr(&b.left), self.expr(&b.right)) else {
                    return;
                };
                let op = match b.op {
                    BinOp::AddAssign(_) => Op::Add(old, rhs),
                    BinOp::SubAssign(_) => Op::Sub(old, rhs),
                    BinOp::MulAssign(_) => Op::Mul(old, rhs),
                    BinOp::DivAssign(_) => Op::Div(old, rhs),
                    _ => {
                        self.errors.at(
                            b.op,
                            format!("this compound assignment has no adjoint: {SET}"),
                        );
                        return;
                    }
                };
                let value = self.push(op);
                self.assign(&b.left, value);
            }
            other => {
                self.expr(other);
            }
        }
    }

    /// The selector's bindings: every local in scope, under its name, as it is now. A state
    /// written before the selector would be read as it was: that is a mistake.
    fn selector_bindings(
        &mut self,
        selector: &TokenStream,
        at: &dyn ToTokens,
    ) -> Option<Vec<(syn::Ident, Operand)>> {
        let text = selector.to_string();
        let mentions = |name: &str| {
            text.split(|c: char| !c.is_alphanumeric() && c != '_')
                .any(|w| w == name)
        };
        for (param, _, _) in &self.writes {
            let name = self.cell.params[*param].name.clone();
            if mentions(&name.to_string()) {
                self.errors.at(
                    at,
                    format!(
                        "this reads the state `{name}` after the step wrote it: bind the new \
                         value to a local and read that"
                    ),
                );
                return None;
            }
        }
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for scope in self.scopes.iter().rev() {
            for (name, operand) in scope {
                if seen.insert(name.clone()) && mentions(name) {
                    out.push((syn::Ident::new(name, Span::call_site()), operand.clone()));
                }
            }
        }
        Some(out)
    }

    fn if_expr(&mut self, i: &syn::ExprIf) -> Option<Operand> {
        let cond = &i.cond;
        if let Expr::Let(l) = &**cond {
            self.errors.at(
                l,
                "`if let` is not differentiated: use `match` on a value the step does not \
                 differentiate, or `if` on a condition",
            );
            return None;
        }
        let selector = quote!(if #cond { 0usize } else { 1usize });
        let bindings = self.selector_bindings(&selector, cond)?;
        let else_stmts: Vec<Stmt> = match &i.else_branch {
            None => Vec::new(),
            Some((_, e)) => match &**e {
                Expr::Block(b) => b.block.stmts.clone(),
                other => vec![Stmt::Expr(other.clone(), None)],
            },
        };
        self.branches(
            bindings,
            selector,
            vec![i.then_branch.stmts.clone(), else_stmts],
            i,
        )
    }

    fn match_expr(&mut self, m: &syn::ExprMatch) -> Option<Operand> {
        let scrutinee = &m.expr;
        // The arms run apart from the patterns that chose them: a pattern may not bind.
        for arm in &m.arms {
            if let Some(binding) = binding_in(&arm.pat) {
                self.errors.at(
                    binding,
                    "a differentiated `match` chooses an arm by its pattern but binds no names: \
                     match on the value, and read what the arm needs from the step's values",
                );
                return None;
            }
        }
        let arms = m.arms.iter().enumerate().map(|(k, arm)| {
            let (pat, guard) = (&arm.pat, arm.guard.as_ref().map(|(i, g)| quote!(#i #g)));
            quote!(#pat #guard => #k,)
        });
        let selector = quote!(match #scrutinee { #(#arms)* });
        let bindings = self.selector_bindings(&selector, scrutinee)?;
        let bodies = m
            .arms
            .iter()
            .map(|arm| match &*arm.body {
                Expr::Block(b) if b.label.is_none() => b.block.stmts.clone(),
                other => vec![Stmt::Expr(other.clone(), None)],
            })
            .collect();
        self.branches(bindings, selector, bodies, m)
    }

    /// Lowers each arm from the same starting point, then joins what they assign (and their
    /// values) into new values.
    fn branches(
        &mut self,
        bindings: Vec<(syn::Ident, Operand)>,
        selector: TokenStream,
        bodies: Vec<Vec<Stmt>>,
        at: &dyn ToTokens,
    ) -> Option<Operand> {
        let (scopes, writes) = (self.scopes.clone(), self.writes.clone());
        let outer = std::mem::take(&mut self.nodes);
        let before = self.errors.len();
        let mut lowered = Vec::new();
        for body in &bodies {
            self.scopes = scopes.clone();
            self.writes = writes.clone();
            self.scopes.push(HashMap::new());
            let tail = self.block(body);
            self.scopes.pop();
            lowered.push((
                std::mem::take(&mut self.nodes),
                self.scopes.clone(),
                self.writes.clone(),
                tail,
            ));
        }
        self.nodes = outer;
        self.scopes = scopes.clone();
        self.writes = writes.clone();
        if self.errors.len() != before {
            return None;
        }
        // What some arm changed: locals by name, state places by path.
        let mut locals: Vec<(usize, String)> = Vec::new();
        for (depth, scope) in scopes.iter().enumerate() {
            for name in scope.keys() {
                let changed = lowered
                    .iter()
                    .any(|(_, s, _, _)| s[depth].get(name) != scope.get(name));
                if changed {
                    locals.push((depth, name.clone()));
                }
            }
        }
        let mut places: Vec<(usize, Vec<Member>)> = Vec::new();
        for (_, _, w, _) in &lowered {
            for (param, path, value) in w {
                let old = writes.iter().find(|(p, q, _)| p == param && q == path);
                let changed = old.is_none_or(|(_, _, v)| v != value);
                if changed && !places.iter().any(|(p, q)| p == param && q == path) {
                    places.push((*param, path.clone()));
                }
            }
        }
        let has_value = lowered.iter().all(|(_, _, _, tail)| tail.is_some());
        let current_place = |w: &[(usize, Vec<Member>, Operand)], param: usize, path: &[Member]| {
            w.iter()
                .find(|(p, q, _)| *p == param && q == path)
                .map(|(_, _, v)| v.clone())
                .unwrap_or(Operand::Role {
                    param,
                    path: path.to_vec(),
                })
        };
        let mut arms = Vec::new();
        for (nodes, s, w, tail) in lowered {
            let mut results: Vec<Operand> = locals
                .iter()
                .map(|(depth, name)| s[*depth][name].clone())
                .collect();
            results.extend(places.iter().map(|(p, q)| current_place(&w, *p, q)));
            if has_value {
                results.extend(tail);
            }
            arms.push(Arm { nodes, results });
        }
        let count = locals.len() + places.len() + usize::from(has_value);
        let phis: Vec<usize> = (0..count).map(|_| self.fresh()).collect();
        for ((depth, name), phi) in locals.iter().zip(&phis) {
            self.scopes[*depth].insert(name.clone(), Operand::Value(*phi));
        }
        for ((param, path), phi) in places.iter().zip(&phis[locals.len()..]) {
            let value = Operand::Value(*phi);
            match self
                .writes
                .iter_mut()
                .find(|(p, q, _)| p == param && q == path)
            {
                Some(slot) => slot.2 = value,
                None => self.writes.push((*param, path.clone(), value)),
            }
        }
        let out = self.fresh();
        self.nodes.push(Node {
            out,
            op: Op::Branch {
                bindings,
                selector,
                arms,
                phis: phis.clone(),
            },
            ty: None,
            span: self.span,
            ops_path: None,
        });
        let _ = at;
        if has_value {
            phis.last().map(|v| Operand::Value(*v))
        } else {
            Some(Operand::Const(syn::parse_quote!(())))
        }
    }

    fn for_loop(&mut self, f: &syn::ExprForLoop) -> Option<Operand> {
        let len = match &*f.expr {
            Expr::Range(r) => match (&r.start, &r.limits, &r.end) {
                (Some(start), syn::RangeLimits::HalfOpen(_), Some(end)) if matches!(&**start, Expr::Lit(l) if l.lit.to_token_stream().to_string() == "0") => {
                    (**end).clone()
                }
                _ => {
                    self.errors.at(
                        &f.expr,
                        "a differentiated `for` runs over a constant range from zero: `0..N`",
                    );
                    return None;
                }
            },
            other => {
                self.errors.at(
                    other,
                    "a differentiated `for` runs over a constant range (`0..N`), not over an \
                     iterator",
                );
                return None;
            }
        };
        if !matches!(&*f.pat, Pat::Ident(_) | Pat::Wild(_)) || self.reads_values(&len) {
            self.errors.at(
                &f.pat,
                "a differentiated `for` binds one name to a constant range: `for i in 0..N`",
            );
            return None;
        }
        // The places the body assigns are carried from one iteration to the next.
        let mut slots = Vec::new();
        let mut carried_locals = Vec::new();
        let mut carried_places = Vec::new();
        for (root, path) in assigned_places(&f.body.stmts) {
            let name = root.to_string();
            if let Some(value) = self.lookup(&name) {
                if carried_locals.contains(&name) {
                    continue;
                }
                let slot = self.fresh();
                slots.push((slot, value));
                carried_locals.push(name.clone());
                for scope in self.scopes.iter_mut().rev() {
                    if let Some(v) = scope.get_mut(&name) {
                        *v = Operand::Value(slot);
                        break;
                    }
                }
            } else if let Some(param) = self.param_index(&name) {
                if self.cell.params[param].role != Role::State
                    || carried_places.contains(&(param, path.clone()))
                {
                    continue;
                }
                let current = self
                    .writes
                    .iter()
                    .find(|(p, q, _)| *p == param && *q == path)
                    .map(|(_, _, v)| v.clone())
                    .unwrap_or(Operand::Role {
                        param,
                        path: path.clone(),
                    });
                let slot = self.fresh();
                slots.push((slot, current));
                carried_places.push((param, path.clone()));
                match self
                    .writes
                    .iter_mut()
                    .find(|(p, q, _)| *p == param && *q == path)
                {
                    Some(w) => w.2 = Operand::Value(slot),
                    None => self.writes.push((param, path, Operand::Value(slot))),
                }
            }
        }
        let outer = std::mem::take(&mut self.nodes);
        self.scopes.push(HashMap::new());
        self.block(&f.body.stmts);
        self.scopes.pop();
        let nodes = std::mem::replace(&mut self.nodes, outer);
        let mut results = Vec::new();
        for name in &carried_locals {
            results.push(self.lookup(name).expect("a carried local"));
        }
        for (param, path) in &carried_places {
            let value = self
                .writes
                .iter()
                .find(|(p, q, _)| p == param && q == path)
                .map(|(_, _, v)| v.clone())
                .expect("a carried state");
            results.push(value);
        }
        // After the loop, each carried place is its slot (which holds the last iteration's).
        for (name, (slot, _)) in carried_locals.iter().zip(&slots) {
            for scope in self.scopes.iter_mut().rev() {
                if let Some(v) = scope.get_mut(name) {
                    *v = Operand::Value(*slot);
                    break;
                }
            }
        }
        for ((param, path), (slot, _)) in carried_places.iter().zip(&slots[carried_locals.len()..])
        {
            if let Some(w) = self
                .writes
                .iter_mut()
                .find(|(p, q, _)| p == param && q == path)
            {
                w.2 = Operand::Value(*slot);
            }
        }
        let out = self.fresh();
        self.nodes.push(Node {
            out,
            op: Op::Loop {
                pat: (*f.pat).clone(),
                len,
                slots,
                body: Arm { nodes, results },
            },
            ty: None,
            span: self.span,
            ops_path: None,
        });
        Some(Operand::Const(syn::parse_quote!(())))
    }

    /// `target = value`: a local rebound, or a place of a state written.
    fn assign(&mut self, target: &Expr, value: Operand) {
        if self.poisoned(target) {
            return;
        }
        let Some((root, path)) = place(target) else {
            self.errors.at(
                target,
                "a differentiated step assigns to a local (`x = ..`), a state (`*h = ..`) or a \
                 state's field (`state.c = ..`)",
            );
            return;
        };
        let name = root.to_string();
        if self.lookup(&name).is_some() {
            if !path.is_empty() {
                self.errors.at(
                    target,
                    "assigning to a part of a local cannot be differentiated: build the whole \
                     value (`ops::concat`, a tuple) and bind it",
                );
                return;
            }
            for scope in self.scopes.iter_mut().rev() {
                if let Some(slot) = scope.get_mut(&name) {
                    *slot = value;
                    return;
                }
            }
        }
        match self.param_index(&name) {
            Some(param) if self.cell.params[param].role == Role::State => {
                let clash = self.writes.iter().any(|(p, w, _)| {
                    *p == param && w != &path && (w.starts_with(&path) || path.starts_with(w))
                });
                if clash {
                    self.errors.at(
                        target,
                        "this state is written both whole and by field: write it one way",
                    );
                    return;
                }
                match self
                    .writes
                    .iter_mut()
                    .find(|(p, w, _)| *p == param && *w == path)
                {
                    Some(slot) => slot.2 = value,
                    None => self.writes.push((param, path, value)),
                }
            }
            _ => self.errors.at(
                target,
                "only a `#[state]` or a local can be assigned in a differentiated step",
            ),
        }
    }

    /// A place rooted at a parameter of the step, as it is now.
    fn role_place(&mut self, param: usize, path: Vec<Member>, at: &Expr) -> Option<Operand> {
        let written: Vec<(Vec<Member>, Operand)> = self
            .writes
            .iter()
            .filter(|(p, _, _)| *p == param)
            .map(|(_, w, v)| (w.clone(), v.clone()))
            .collect();
        for (w, v) in &written {
            if path.starts_with(w) {
                let mut value = v.clone();
                for m in &path[w.len()..] {
                    value = self.project(&value, m.clone(), at)?;
                }
                return Some(value);
            }
            if w.starts_with(&path) {
                self.errors.at(
                    at,
                    "this reads a whole state after one of its fields was written: read the \
                     fields",
                );
                return None;
            }
        }
        Some(Operand::Role { param, path })
    }

    /// Whether `e` names a value whose definition was a reported mistake.
    fn poisoned(&self, e: &dyn ToTokens) -> bool {
        !self.poisoned.is_empty()
            && e.to_token_stream()
                .into_iter()
                .any(|tt| self.poisoned_token(tt))
    }

    fn poisoned_token(&self, tt: proc_macro2::TokenTree) -> bool {
        match tt {
            proc_macro2::TokenTree::Ident(i) => self.poisoned.contains(&i.to_string()),
            proc_macro2::TokenTree::Group(g) => {
                g.stream().into_iter().any(|t| self.poisoned_token(t))
            }
            _ => false,
        }
    }

    fn expr(&mut self, e: &Expr) -> Option<Operand> {
        if self.poisoned(e) {
            return None;
        }
        if !self.reads_values(e) {
            return Some(Operand::Const(e.clone()));
        }
        let outer = std::mem::replace(&mut self.span, e.span());
        let out = self.expr_here(e);
        self.span = outer;
        out
    }

    fn expr_here(&mut self, e: &Expr) -> Option<Operand> {
        match e {
            Expr::Paren(p) => self.expr(&p.expr),
            Expr::Group(g) => self.expr(&g.expr),
            Expr::Reference(r) if r.mutability.is_none() => self.expr(&r.expr),
            Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => self.expr(&u.expr),
            Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => {
                let a = self.expr(&u.expr)?;
                Some(self.push(Op::Neg(a)))
            }
            Expr::Path(_) | Expr::Field(_) | Expr::Index(_) => self.read(e),
            Expr::Binary(b) => {
                let (a, c) = (self.expr(&b.left), self.expr(&b.right));
                let (a, c) = (a?, c?);
                let op = match b.op {
                    BinOp::Add(_) => Op::Add(a, c),
                    BinOp::Sub(_) => Op::Sub(a, c),
                    BinOp::Mul(_) => Op::Mul(a, c),
                    BinOp::Div(_) => Op::Div(a, c),
                    _ => {
                        self.errors.at(
                            b.op,
                            format!(
                                "`{}` on the step's values has no adjoint: {SET}; {}",
                                b.op.to_token_stream(),
                                opt_out()
                            ),
                        );
                        return None;
                    }
                };
                Some(self.push(op))
            }
            Expr::MethodCall(m) => self.method(m),
            Expr::Call(c) => self.call(c),
            Expr::Tuple(t) => {
                let parts: Vec<Option<Operand>> = t.elems.iter().map(|e| self.expr(e)).collect();
                let parts: Option<Vec<Operand>> = parts.into_iter().collect();
                Some(self.push(Op::Tuple(parts?)))
            }
            Expr::Block(b) if b.label.is_none() => {
                self.scopes.push(HashMap::new());
                let out = self.block(&b.block.stmts);
                self.scopes.pop();
                out
            }
            Expr::If(i) => self.if_expr(i),
            Expr::Match(m) => self.match_expr(m),
            Expr::ForLoop(f) => self.for_loop(f),
            other => {
                self.errors.at(other, unsupported(other));
                None
            }
        }
    }

    /// A path, field or constant index: a local, a parameter's place, `self`'s parameter.
    fn read(&mut self, e: &Expr) -> Option<Operand> {
        let Some((root, path)) = place(e) else {
            self.errors.at(
                e,
                "indexing by a computed position has no adjoint here: index with a constant, \
                 or use `ops::split`",
            );
            return None;
        };
        let name = root.to_string();
        if name == "self" {
            return Some(Operand::Param { path });
        }
        if let Some(value) = self.lookup(&name) {
            let mut value = value;
            for m in path {
                value = self.project(&value, m, e)?;
            }
            return Some(value);
        }
        match self.param_index(&name) {
            Some(param) => self.role_place(param, path, e),
            None => Some(Operand::Const(e.clone())),
        }
    }

    fn method(&mut self, m: &syn::ExprMethodCall) -> Option<Operand> {
        let name = m.method.to_string();
        let args: Vec<&Expr> = m.args.iter().collect();
        let receiver_param = |l: &mut Self| match l.expr(&m.receiver) {
            Some(Operand::Param { path }) => Some(path),
            Some(_) => {
                l.errors.at(
                    &m.receiver,
                    format!(
                        "`.{name}(..)` is differentiated on the cell's own parameters \
                         (`self.layer.{name}(..)`); for a computed matrix write `m * x`"
                    ),
                );
                None
            }
            None => None,
        };
        match (name.as_str(), args.as_slice()) {
            ("clone", []) => self.expr(&m.receiver),
            ("component_mul", [b]) => {
                let (a, b) = (self.expr(&m.receiver), self.expr(b));
                Some(self.push(Op::Hadamard(a?, b?)))
            }
            ("dot", [b]) => {
                let (a, b) = (self.expr(&m.receiver), self.expr(b));
                Some(self.push(Op::Dot(a?, b?)))
            }
            ("sum", []) => {
                let a = self.expr(&m.receiver)?;
                Some(self.push(Op::Sum(a)))
            }
            ("transpose", []) => {
                let a = self.expr(&m.receiver)?;
                Some(self.push(Op::Transpose(a)))
            }
            ("forward", [x]) => {
                let (layer, x) = (receiver_param(self), self.expr(x));
                Some(self.push(Op::Forward(layer?, x?)))
            }
            ("apply", [x]) => {
                let (kernel, x) = (receiver_param(self), self.expr(x));
                Some(self.push(Op::Apply(kernel?, x?)))
            }
            ("of", [x]) if !self.reads_values(&m.receiver) => {
                let x = self.expr(x)?;
                Some(self.push(Op::Activation(Act::Runtime((*m.receiver).clone()), x)))
            }
            ("of", [_]) if matches!(self.expr_kind(&m.receiver), Some(Operand::Param { .. })) => {
                let x = self.expr(args[0])?;
                Some(self.push(Op::Activation(Act::Runtime((*m.receiver).clone()), x)))
            }
            ("step", [input, state, constants]) => {
                let cell = receiver_param(self);
                let input = self.expr(input);
                let constants = self.expr(constants);
                // `&mut s`, or the step's own state as it came (`h`, already `&mut`).
                let target: &Expr = match state {
                    Expr::Reference(r) if r.mutability.is_some() => &r.expr,
                    Expr::Path(_) | Expr::Field(_) if place(state).is_some() => state,
                    _ => {
                        self.errors
                            .at(state, "a sub-cell's state is passed as `&mut state`");
                        return None;
                    }
                };
                let old = self.expr(target);
                let (cell, input, constants, old) = (cell?, input?, constants?, old?);
                let new_state = self.fresh();
                let out = self.push(Op::Step {
                    cell,
                    input,
                    state: old,
                    constants,
                    new_state,
                });
                self.assign(target, Operand::Value(new_state));
                Some(out)
            }
            _ => {
                self.errors.at(
                    &m.method,
                    format!(
                        "`.{name}(..)` has no adjoint: {SET}; write it with those, or put it in a \
                         helper marked `#[differentiable]` with its adjoint written by hand, {}",
                        opt_out()
                    ),
                );
                None
            }
        }
    }

    /// What `e` is as an operand, without recording anything.
    fn expr_kind(&self, e: &Expr) -> Option<Operand> {
        let (root, path) = place(e)?;
        (root == "self").then_some(Operand::Param { path })
    }

    fn call(&mut self, c: &syn::ExprCall) -> Option<Operand> {
        let Expr::Path(f) = &*c.func else {
            self.errors.at(&c.func, unsupported(&c.func));
            return None;
        };
        let segments: Vec<String> = f
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        let last = segments.last().map(String::as_str).unwrap_or("");
        let in_ops = segments.len() >= 2 && segments[segments.len() - 2] == "ops";
        let args: Vec<&Expr> = c.args.iter().collect();
        if in_ops {
            let op = if let Some((_, variant)) = NAMED_ACTIVATIONS.iter().find(|(n, _)| *n == last)
            {
                match args.as_slice() {
                    [x] => {
                        let x = self.expr(x)?;
                        let variant = syn::Ident::new(variant, f.span());
                        Some(Op::Activation(Act::Named(variant), x))
                    }
                    _ => None,
                }
            } else {
                match (last, args.as_slice()) {
                    ("exp", [x]) => Some(Op::Exp(self.expr(x)?)),
                    ("concat", [a, b]) => {
                        let (a, b) = (self.expr(a), self.expr(b));
                        Some(Op::Concat(a?, b?))
                    }
                    ("split", [v]) => Some(Op::Split(self.expr(v)?)),
                    ("dropout" | "recurrent_dropout", [x]) => {
                        let x = self.expr(x)?;
                        let recurrent = last == "recurrent_dropout";
                        Some(Op::Dropout { x, recurrent })
                    }
                    _ => None,
                }
            };
            if let Some(op) = op {
                let out = self.push(op);
                if let Some(node) = self.nodes.last_mut() {
                    node.ops_path = Some(f.path.clone());
                }
                return Some(out);
            }
        }
        if last == "from_column_slice" {
            if let [Expr::MethodCall(s)] = args.as_slice() {
                if s.method == "as_slice" && s.args.is_empty() {
                    let mut ty = f.path.clone();
                    ty.segments.pop();
                    ty.segments.pop_punct();
                    let ty: Type = syn::parse_quote!(#ty);
                    let x = self.expr(&s.receiver)?;
                    return Some(self.push(Op::Reshape(ty, x)));
                }
            }
        }
        // A function of a module (`squash`, `util::squash`), not an associated one
        // (`SVector::from`): a helper, differentiated if it is marked `#[differentiable]`
        // (else the trait it would implement says so, at this call).
        let is_helper = f.qself.is_none()
            && f.path
                .segments
                .iter()
                .all(|s| s.arguments.is_empty() && !starts_upper(&s.ident));
        if is_helper {
            let args: Vec<Option<Operand>> = args.iter().map(|a| self.expr(a)).collect();
            let args: Option<Vec<Operand>> = args.into_iter().collect();
            return Some(self.push(Op::Call(f.path.clone(), args?)));
        }
        self.errors.at(
            c,
            format!(
                "`{}` has no adjoint the macro knows: use {SET}; or a helper function marked \
                 `#[differentiable]`; {}",
                crate::errors::tidy(&f.path),
                opt_out()
            ),
        );
        None
    }
}

/// A name the pattern binds (`Some(k)`, `k @ ..`, `v`); a capitalised name is read as a
/// unit variant or constant.
fn binding_in(pat: &Pat) -> Option<syn::Ident> {
    struct Bindings(Option<syn::Ident>);
    impl<'ast> Visit<'ast> for Bindings {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            if !starts_upper(&p.ident) && self.0.is_none() {
                self.0 = Some(p.ident.clone());
            }
            syn::visit::visit_pat_ident(self, p);
        }
    }
    let mut bindings = Bindings(None);
    bindings.visit_pat(pat);
    bindings.0
}

fn starts_upper(ident: &syn::Ident) -> bool {
    ident
        .to_string()
        .starts_with(|c: char| c.is_ascii_uppercase())
}

/// Control flow written as the last expression of a block for its effects (`for`, an `if`
/// without `else`): a statement, not the block's value.
fn is_statement_like(e: &Expr) -> bool {
    match e {
        Expr::ForLoop(_) => true,
        Expr::If(i) => i.else_branch.is_none(),
        _ => false,
    }
}

/// The places a block assigns (`x = ..`, `x += ..`, `*h = ..`, `s.c = ..`, `&mut x`).
fn assigned_places(stmts: &[Stmt]) -> Vec<(syn::Ident, Vec<Member>)> {
    struct Assigned(Vec<(syn::Ident, Vec<Member>)>);
    impl<'ast> Visit<'ast> for Assigned {
        fn visit_expr_assign(&mut self, a: &'ast syn::ExprAssign) {
            self.0.extend(place(&a.left));
            syn::visit::visit_expr_assign(self, a);
        }
        fn visit_expr_binary(&mut self, b: &'ast syn::ExprBinary) {
            if is_compound(&b.op) {
                self.0.extend(place(&b.left));
            }
            syn::visit::visit_expr_binary(self, b);
        }
        fn visit_expr_reference(&mut self, r: &'ast syn::ExprReference) {
            if r.mutability.is_some() {
                self.0.extend(place(&r.expr));
            }
            syn::visit::visit_expr_reference(self, r);
        }
    }
    let mut assigned = Assigned(Vec::new());
    for stmt in stmts {
        assigned.visit_stmt(stmt);
    }
    assigned.0
}

fn is_compound(op: &BinOp) -> bool {
    matches!(
        op,
        BinOp::AddAssign(_)
            | BinOp::SubAssign(_)
            | BinOp::MulAssign(_)
            | BinOp::DivAssign(_)
            | BinOp::RemAssign(_)
            | BinOp::BitXorAssign(_)
            | BinOp::BitAndAssign(_)
            | BinOp::BitOrAssign(_)
            | BinOp::ShlAssign(_)
            | BinOp::ShrAssign(_)
    )
}

/// `root.a.b[0]` (through `*`, `&` and parentheses) as its root and members; `None` when an
/// index is not a literal.
fn place(e: &Expr) -> Option<(syn::Ident, Vec<Member>)> {
    match e {
        Expr::Path(p) if p.qself.is_none() => {
            let ident = p.path.get_ident()?.clone();
            Some((ident, Vec::new()))
        }
        Expr::Field(f) => {
            let (root, mut path) = place(&f.base)?;
            path.push(Member::Field(f.member.clone()));
            Some((root, path))
        }
        Expr::Index(i) => {
            let Expr::Lit(_) = &*i.index else {
                return None;
            };
            let (root, mut path) = place(&i.expr)?;
            path.push(Member::Index((*i.index).clone()));
            Some((root, path))
        }
        Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => place(&u.expr),
        Expr::Paren(p) => place(&p.expr),
        Expr::Group(g) => place(&g.expr),
        _ => None,
    }
}

/// What to write instead of an expression the macro cannot differentiate.
fn unsupported(e: &Expr) -> String {
    let what = match e {
        Expr::Closure(_) => {
            "a closure over elements has no adjoint: use the vectorized `rnn::ops` \
             (`ops::tanh(&x)` rather than `x.map(..)`)"
                .to_string()
        }
        Expr::While(_) => "a `while` loop has no fixed number of steps to differentiate: \
             use a `for` over a constant range"
            .to_string(),
        Expr::Loop(_) => "a `loop` has no fixed number of steps to differentiate: use a `for` \
             over a constant range"
            .to_string(),
        Expr::Return(_) => "an early `return` cannot be differentiated: end the step with its \
             output"
            .to_string(),
        Expr::Cast(_) => {
            "an `as` cast has no adjoint: keep the step in one scalar type".to_string()
        }
        Expr::Unsafe(_) => "an `unsafe` block cannot be differentiated".to_string(),
        Expr::Macro(_) => "a macro call has no adjoint: write the expression out".to_string(),
        Expr::Reference(_) => "a `&mut` borrow outside a sub-cell's state cannot be \
             differentiated: bind the new value instead of writing through a reference"
            .to_string(),
        Expr::Array(_) => "an array literal of values has no adjoint: use `ops::concat` or a \
             tuple"
            .to_string(),
        Expr::Struct(_) => {
            "a struct literal of values has no adjoint yet: return a tuple".to_string()
        }
        Expr::Unary(_) => "this operator has no adjoint".to_string(),
        Expr::Try(_) => "`?` cannot be differentiated".to_string(),
        _ => format!("this expression has no adjoint: {SET}"),
    };
    format!("{what}; {}", opt_out())
}
