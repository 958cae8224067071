//! The runtime of the backward that `#[cell]` generates: one small family of operations per
//! file, each a forward that computes exactly what the user's expression computes and a
//! *pull* (the operation's adjoint) chosen by the same operand types.
//!
//! The macro sees tokens, not types. It lowers the step's body into single-assignment form
//! and calls these items with the operands; the trait impls (chosen by the operands' types)
//! decide what each operation is, so the macro never names a type. What one step keeps for
//! its backward (clones of the operands a pull reads, the sub-cells' residuals, a witness of
//! each value's type) is captured by the backward closure, whose environment the compiler
//! generates: that closure is the step's [`Pullback`].
//!
//! Not a public interface: the generated code names it through `__private`.

mod arith;
mod join;
mod product;

pub use arith::{
    dot, product_rhs, pull_add, pull_dot, pull_neg, pull_sub, pull_sum, pull_transpose, reshape,
    sum, transpose, Hadamard, Negate, Product, ProductRhs, Quotient, Summable,
};
pub use join::{concat, pull_concat, pull_split, split};
pub use product::{pull_step, pull_step_without_input, step, Apply, Forward};

use alloc::sync::Arc;
use core::any::Any;
use core::fmt;
use core::marker::PhantomData;

use nalgebra::{RealField, SMatrix, SVector, Scalar};

use crate::cell::Cell;
pub use crate::drivers::dropout::DropoutMasks;
pub use crate::nested::Nested;
use crate::nested::ScalarOp;
use crate::ops::Activation;
use crate::real::Real;

/// One step's backward, as the generated closure computes it: the arguments of
/// [`Differentiable::step_backward`] with the cell passed in (the closure must not borrow the
/// cell it is stored beside), then whether the input's adjoint is wanted (without, the
/// products that compute only it are skipped and what is returned is not it).
///
/// [`Differentiable::step_backward`]: crate::train::Differentiable::step_backward
pub trait PullFn<C: Cell>:
    Fn(
        &C,
        &C::Input,
        &C::Output,
        &mut C::State,
        &C::Constants,
        &mut C::Constants,
        &mut C,
        bool,
    ) -> C::Input
    + Send
    + Sync
    + 'static
{
}

impl<C: Cell, F> PullFn<C> for F where
    F: Fn(
            &C,
            &C::Input,
            &C::Output,
            &mut C::State,
            &C::Constants,
            &mut C::Constants,
            &mut C,
            bool,
        ) -> C::Input
        + Send
        + Sync
        + 'static
{
}

/// A step's backward closure behind the pointer a [`Pullback`] holds, and its type, so that
/// a later step of the same cell can write its own closure in its place.
trait Pull<C: Cell>: Send + Sync + 'static {
    #[allow(clippy::too_many_arguments)]
    fn pull(
        &self,
        cell: &C,
        input: &C::Input,
        d_output: &C::Output,
        d_state: &mut C::State,
        constants: &C::Constants,
        d_constants: &mut C::Constants,
        grads: &mut C,
        input_adjoint: bool,
    ) -> C::Input;

    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// A generated closure as a [`Pull`].
struct Closure<F>(F);

impl<C: Cell, F: PullFn<C>> Pull<C> for Closure<F> {
    /// Called through a pointer, the closure's body is compiled apart from the driver's
    /// vectorized loop, so it enters that copy itself, once a step (the generated closure is
    /// `#[inline(always)]`, so its body is compiled there).
    #[inline]
    fn pull(
        &self,
        cell: &C,
        input: &C::Input,
        d_output: &C::Output,
        d_state: &mut C::State,
        constants: &C::Constants,
        d_constants: &mut C::Constants,
        grads: &mut C,
        input_adjoint: bool,
    ) -> C::Input {
        crate::vectorized(
            #[inline(always)]
            || {
                (self.0)(
                    cell,
                    input,
                    d_output,
                    d_state,
                    constants,
                    d_constants,
                    grads,
                    input_adjoint,
                )
            },
        )
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// The residual of a generated backward: the backward closure of one step, holding what the
/// step kept (JAX's `vjp` returns the same kind of closure). The compiler generates its type,
/// which no code can name; behind a pointer, it is one type for every step.
///
/// Empty only inside the generated forward, before it puts the step's closure.
pub struct Pullback<C: Cell + 'static>(Option<Arc<dyn Pull<C>>>);

impl<C: Cell + 'static> Pullback<C> {
    /// Holds one step's backward closure.
    pub fn new(f: impl PullFn<C>) -> Self {
        Pullback(Some(Arc::new(Closure(f))))
    }

    /// No closure yet, and no memory: where the generated forward puts its step's (it always
    /// does, before it returns the pullback; pulling an empty one panics).
    pub fn empty() -> Self {
        Pullback(None)
    }

    /// Holds `f` instead, in the memory of the closure held now when that is a closure of
    /// the same type that nothing else shares (an earlier step of the same cell, on a tape
    /// that is refilled): a training loop that keeps its tapes then allocates nothing here.
    #[inline]
    pub fn refill<F: PullFn<C>>(&mut self, f: F) {
        let held = self
            .0
            .as_mut()
            .and_then(Arc::get_mut)
            .and_then(|p| p.as_any_mut().downcast_mut::<Closure<F>>());
        match held {
            Some(Closure(slot)) => *slot = f,
            None => *self = Pullback::new(f),
        }
    }

    /// Runs the step's backward (the arguments of `step_backward`, in its order, then whether
    /// the input's adjoint is wanted: without, what is returned is not it).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn pull(
        &self,
        cell: &C,
        input: &C::Input,
        d_output: &C::Output,
        d_state: &mut C::State,
        constants: &C::Constants,
        d_constants: &mut C::Constants,
        grads: &mut C,
        input_adjoint: bool,
    ) -> C::Input {
        match &self.0 {
            Some(pull) => pull.pull(
                cell,
                input,
                d_output,
                d_state,
                constants,
                d_constants,
                grads,
                input_adjoint,
            ),
            // Never a silent zero: only the generated forward makes an empty pullback, and it
            // fills it before returning it.
            None => unreachable!("an empty pullback: the generated forward fills each one"),
        }
    }
}

/// The forward a `#[cell]` step generates, refilling `residual` with its backward closure
/// (see [`Pullback::refill`]).
pub trait Taped: Cell + Sized + 'static {
    /// The step with dropout `masks` (see `Differentiable::step_forward_with_dropout`).
    fn forward_into(
        &self,
        input: &Self::Input,
        state: &mut Self::State,
        constants: &Self::Constants,
        masks: Option<&DropoutMasks>,
        residual: &mut Pullback<Self>,
    ) -> Self::Output;
}

/// The forward of a block of samples a straight-line `#[cell]` step generates (see
/// `Differentiable::step_forward_block`), refilling each sample's residual.
pub trait TapedBlock: Cell + Sized + 'static {
    /// `N` steps, each kernel applied once for the block.
    fn forward_block_into<const N: usize>(
        &self,
        inputs: [&Self::Input; N],
        states: &mut [Self::State; N],
        constants: [&Self::Constants; N],
        residuals: [&mut Pullback<Self>; N],
    ) -> [Self::Output; N];
}

/// [`TapedBlock::forward_block_into`] into new residuals.
#[inline(always)]
pub fn forward_block<C: TapedBlock, const N: usize>(
    cell: &C,
    inputs: [&C::Input; N],
    states: &mut [C::State; N],
    constants: [&C::Constants; N],
) -> [(C::Output, Pullback<C>); N] {
    let mut residuals: [Pullback<C>; N] = core::array::from_fn(|_| Pullback::empty());
    let outputs = cell.forward_block_into(inputs, states, constants, residuals.each_mut());
    let mut residuals = residuals.into_iter();
    outputs.map(|output| (output, residuals.next().unwrap_or_else(Pullback::empty)))
}

impl<C: Cell + 'static> Clone for Pullback<C> {
    fn clone(&self) -> Self {
        Pullback(self.0.clone())
    }
}

impl<C: Cell + 'static> fmt::Debug for Pullback<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pullback")
    }
}

/// The type of a value of the forward, kept (at no cost: it is zero-sized) so that the
/// backward can start that value's adjoint at zero without the macro naming the type.
pub struct Witness<T>(PhantomData<fn() -> T>);

impl<T> Clone for Witness<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Witness<T> {}

/// The witness of `value`'s type.
#[inline(always)]
pub fn witness<T>(_: &T) -> Witness<T> {
    Witness(PhantomData)
}

/// Adjoints of `Nested` values (vectors, matrices, tuples, structs, `f32`, `f64`): the
/// first choice of the generated code's method calls, which take `&Witness` or `&Slot`.
pub trait ByNested<T> {
    /// A zero adjoint.
    fn zero(self) -> T;
    /// `a += b`, elementwise.
    fn add_to(self, a: &mut T, b: &T);
}

/// Adjoints of a generic cell's scalar `T: Real` (not `Nested`, which is implemented for the
/// concrete `f32` and `f64`): the second choice of the same method calls. Method lookup tries
/// the receiver `&W` (`ByNested`) before `W` (`ByReal`), and a bound that cannot hold rules an
/// impl out, so a value is accumulated as `Nested` whenever it is one.
pub trait ByReal<T> {
    /// A zero adjoint.
    fn zero(self) -> T;
    /// `a += b`.
    fn add_to(self, a: &mut T, b: &T);
}

impl<T: Nested> ByNested<T> for &Witness<T> {
    #[inline(always)]
    fn zero(self) -> T {
        T::zeros()
    }
    #[inline(always)]
    fn add_to(self, a: &mut T, b: &T) {
        a.zip_apply(b, &Plus);
    }
}

impl<T: Real> ByReal<T> for Witness<T> {
    #[inline(always)]
    fn zero(self) -> T {
        T::zero()
    }
    #[inline(always)]
    fn add_to(self, a: &mut T, b: &T) {
        *a += *b;
    }
}

/// The witness of `T`, for a type the generated code names but holds no value of.
#[inline(always)]
pub fn witness_of<T>() -> Witness<T> {
    Witness(PhantomData)
}

/// The witness of a sub-cell's input type.
#[inline(always)]
pub fn input_of<C: Cell>(_: &C) -> Witness<C::Input> {
    Witness(PhantomData)
}

/// The witness of a sub-cell's state type.
#[inline(always)]
pub fn state_of<C: Cell>(_: &C) -> Witness<C::State> {
    Witness(PhantomData)
}

/// The witness of a sub-cell's constants type.
#[inline(always)]
pub fn constants_of<C: Cell>(_: &C) -> Witness<C::Constants> {
    Witness(PhantomData)
}

/// A matrix where the generated code needs the witness's matrix type: the first choice of
/// `(&witness).at(x)`.
///
/// Wherever the generated code calls `at`, the user's own expression needs the two types to
/// be the same, and checks it. Taking a matrix of any size here keeps a size mistake from
/// failing a second time in the generated code: the user's expression reports it once, and
/// the program never compiles, so the assertion below, evaluated only when it does, never
/// fails.
pub trait AtShape<X> {
    /// The witness's type.
    type Target;
    /// `x`, which has the witness's type.
    fn at(self, x: &X) -> &Self::Target;
}

/// Any other value, of the witness's type itself: the second choice of `(&witness).at(x)`
/// (the receiver `&Witness` is tried before `Witness`, as for [`ByNested`] and [`ByReal`]).
pub trait AtSame<T> {
    /// `x` as it is.
    fn at(self, x: &T) -> &T;
}

impl<T: Scalar, const R: usize, const C: usize, const R2: usize, const C2: usize>
    AtShape<SMatrix<T, R2, C2>> for &Witness<SMatrix<T, R, C>>
{
    type Target = SMatrix<T, R, C>;
    #[inline(always)]
    fn at(self, x: &SMatrix<T, R2, C2>) -> &SMatrix<T, R, C> {
        const { assert!(R == R2 && C == C2, "the user's expression checks the sizes") };
        // SAFETY: `R == R2` and `C == C2` (asserted at compile time above), so the two types
        // are one and the same.
        unsafe { &*(x as *const SMatrix<T, R2, C2>).cast::<SMatrix<T, R, C>>() }
    }
}

impl<T> AtSame<T> for Witness<T> {
    #[inline(always)]
    fn at(self, x: &T) -> &T {
        x
    }
}

/// The residual of an `if` or `match`: arm `i` of `n` is `R` `i` times then `L`, the last
/// arm `R` `n − 1` times (a nested pair of variants has one type per arm, and the compiler
/// infers each from the arm that builds it).
#[derive(Clone, Debug)]
pub enum Either<A, B> {
    /// This arm.
    L(A),
    /// One of the arms after it.
    R(B),
}

/// A zero value of `like`'s type.
#[inline(always)]
pub fn zeros_as<T: Nested>(_: &T) -> T {
    T::zeros()
}

struct Plus;

impl ScalarOp for Plus {
    #[inline(always)]
    fn apply<T: RealField>(&self, a: T, b: T) -> T {
        a + b
    }
}

/// `activation.of(x)`: the crate's vectorized activations, one function per name.
#[inline(always)]
pub fn activation<T: Real, const N: usize>(
    activation: Activation,
    x: &SVector<T, N>,
) -> SVector<T, N> {
    activation.of(x)
}

/// The adjoint of `x` in `y = activation.of(x)`, from the output `y`.
#[inline(always)]
pub fn pull_activation<T: Real, const N: usize>(
    activation: Activation,
    y: &SVector<T, N>,
    dy: &SVector<T, N>,
) -> SVector<T, N> {
    crate::train::cells::activation_adjoint(activation, y, dy)
}

/// `ops::exp(x)`.
#[inline(always)]
pub fn exp<T: Real, const N: usize>(x: &SVector<T, N>) -> SVector<T, N> {
    crate::ops::exp(x)
}

/// The adjoint of `x` in `y = exp(x)`: `dy ⊙ y`.
#[inline(always)]
pub fn pull_exp<T: Real, const N: usize>(y: &SVector<T, N>, dy: &SVector<T, N>) -> SVector<T, N> {
    dy.component_mul(y)
}

/// A helper function a differentiated step may call: `#[differentiable]` implements it for a
/// hidden brace-struct of the helper's own name (types and functions have separate
/// namespaces, so the step names both by the path it calls), for the tuple of its arguments'
/// values.
#[diagnostic::on_unimplemented(
    message = "this helper has no adjoint for these arguments",
    label = "called from a differentiated step",
    note = "mark the helper `#[rnn::differentiable]` (its body is differentiated as a step's is), give it a hand-written adjoint with `#[rnn::differentiable(adjoint = path)]`, or mark the cell `#[cell(inference)]` to generate no backward",
    note = "`rnn`'s operations are recognised when called through their module (`ops::tanh(&x)`, `rnn::ops::tanh(&x)`), not by a bare imported name"
)]
pub trait Helper<Args> {
    /// The helper's result.
    type Output;
    /// The helper's result and its pullback.
    fn vjp(args: Args) -> (Self::Output, HelperPullback<Self::Output, Args>);
}

/// The adjoint of one call of a helper: the adjoints of its arguments from its result's.
pub struct HelperPullback<Y, A>(alloc::boxed::Box<dyn Fn(&Y) -> A + Send + Sync>);

impl<Y, A> HelperPullback<Y, A> {
    /// Wraps one call's backward closure, entering the vectorized copy as
    /// [`Pullback::new`] does.
    pub fn new(f: impl Fn(&Y) -> A + Send + Sync + 'static) -> Self {
        HelperPullback(alloc::boxed::Box::new(move |dy: &Y| {
            crate::vectorized(
                #[inline(always)]
                || f(dy),
            )
        }))
    }

    /// The arguments' adjoints.
    #[inline]
    pub fn pull(&self, dy: &Y) -> A {
        (self.0)(dy)
    }
}

/// `ops::dropout(x)` (`recurrent` false) or `ops::recurrent_dropout(x)` at dropout call `site`
/// of the step: `x` masked by the sequence's `masks`, or `x` itself without them.
#[inline(always)]
pub fn dropout<T: Real, const R: usize, const C: usize>(
    masks: Option<&DropoutMasks>,
    site: usize,
    recurrent: bool,
    x: &SMatrix<T, R, C>,
) -> SMatrix<T, R, C> {
    match masks {
        Some(masks) => {
            SMatrix::from_fn(|r, c| x[(r, c)] * masks.site_scale(site, recurrent, r + R * c))
        }
        None => *x,
    }
}

/// The adjoint of `x` in `y = dropout(masks, site, recurrent, x)`: `dy` through the same
/// mask.
#[inline(always)]
pub fn pull_dropout<T: Real, const R: usize, const C: usize>(
    masks: Option<&DropoutMasks>,
    site: usize,
    recurrent: bool,
    dy: &SMatrix<T, R, C>,
) -> SMatrix<T, R, C> {
    dropout(masks, site, recurrent, dy)
}

/// The masks of the sub-cell stepped at `site`, from its parent's.
#[inline(always)]
pub fn sub_cell_masks(masks: Option<&DropoutMasks>, site: usize) -> Option<DropoutMasks> {
    masks.map(|masks| masks.sub_cell(site))
}

/// What a step's call of a helper resolves to, in the type namespace, when no
/// `#[differentiable]` marks the helper: the generated code imports it with a glob under the
/// name it gives the call, which the helper's own import shadows where the helper is marked.
/// It has no [`Helper`] impl, so the call is a compile error saying how to mark the helper.
pub struct UnmarkedHelper;

/// One call of the helper `H`: its result and pullback. The result's type is a parameter,
/// not the projection `H::Output`, so that an unmarked helper is one error, not two.
#[inline(always)]
pub fn vjp<H, A, Y>(args: A) -> (Y, HelperPullback<Y, A>)
where
    H: Helper<A, Output = Y>,
{
    H::vjp(args)
}

/// A type no function is: what keeps [`SameFunction`] from having one impl, which the
/// compiler would otherwise use to infer `G` from `Self` before the arguments say what `G` is
/// (and report a mismatched argument instead of the message below).
pub struct NotAFunction<F>(PhantomData<F>);

/// `Self` and `G` are one function: how the generated forward checks that a call read as
/// `rnn`'s operation (`…::ops::NAME(..)`) is that operation, not a function of another module
/// named `ops`.
#[diagnostic::on_unimplemented(
    message = "this `ops::` function is not `rnn`'s, but the generated backward reads it as `rnn`'s",
    label = "called as `rnn::ops`'s operation",
    note = "the backward `#[cell]` generates reads a call through a module named `ops` as `rnn::ops`'s operation of that name; this path names another function: rename its module or `use` it under another name and mark it `#[rnn::differentiable]`, or mark the cell `#[cell(inference)]` to generate no backward"
)]
pub trait SameFunction<G> {}

impl<F> SameFunction<F> for F {}
impl<F> SameFunction<NotAFunction<F>> for F {}

/// A function called with `Args` (a tuple of its arguments) that returns `Y`.
pub trait Callable<Args, Y> {}

impl<F: Fn(A) -> Y, A, Y> Callable<(A,), Y> for F {}
impl<F: Fn(A, B) -> Y, A, B, Y> Callable<(A, B), Y> for F {}

/// Compiles only when `called`, the function the user's path names, is `rnn`'s `expected`
/// (called with `args`, returning `y`'s type, which pins their generic parameters).
#[inline(always)]
pub fn is_rnn_op<F, G, Args, Y>(called: F, expected: G, args: Args, y: &Y)
where
    F: SameFunction<G>,
    G: Callable<Args, Y>,
{
    let _ = (called, expected, args, y);
}
