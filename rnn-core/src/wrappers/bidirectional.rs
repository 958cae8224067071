//! Keras's `Bidirectional`: a forward and a backward cell over the same sequence, their
//! outputs merged step by step.
//!
//! The backward cell reads the sequence last step first ([`Direction::Reversed`]); its outputs
//! are aligned to the original time axis, so step `t` merges the forward output that has read
//! `x[0..=t]` with the backward output that has read `x[t..]`. With right padding, the backward
//! cell's first step is the last valid one (tf.reverse_sequence) and its padded outputs follow
//! the padding policy. Both final states are returned.

#[cfg(feature = "alloc")]
use core::borrow::Borrow;

use nalgebra::{RealField, SVector};

use crate::cell::Cell;
#[cfg(feature = "alloc")]
use crate::drivers::direction::Direction;
#[cfg(feature = "alloc")]
use crate::drivers::mask::Mask;
use crate::drivers::mask::Padding;
#[cfg(feature = "alloc")]
use crate::drivers::masked::masked_unroll;
use crate::nested::{ops, Nested};
#[cfg(feature = "alloc")]
use crate::{Run, SequenceError};

/// A value for each direction: initial states, constants and final states of a
/// [`Bidirectional`] run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Both<F, B> {
    /// The forward direction's value.
    pub forward: F,
    /// The backward direction's value.
    pub backward: B,
}

impl<F, B> Both<F, B> {
    /// Pairs `forward` with `backward`.
    pub const fn new(forward: F, backward: B) -> Self {
        Both { forward, backward }
    }
}

/// What a [`Bidirectional`] run returns: the merged outputs `Y` of every step and both final
/// states (`run.state.forward`, `run.state.backward`).
#[cfg(feature = "alloc")]
pub type BiRun<Y, F, B> = Run<Y, Both<<F as Cell>::State, <B as Cell>::State>>;

/// How [`Bidirectional`] combines the forward output `F` and the backward output `B` of a step
/// into `Y` (Keras's `merge_mode`).
///
/// `Y` is a parameter rather than an associated type so that [`Concat`] can produce a vector
/// whose width the compiler infers from where the result is used.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot merge a forward output `{F}` with a backward output `{B}`",
    label = "no such merge",
    note = "`Sum`, `Mul` and `Ave` need both directions to output the same type; `Concat` needs \
            two column vectors of the same scalar; `NoMerge` or a `MergeFn` take any two outputs"
)]
pub trait Merge<F, B, Y> {
    /// The merged output of one step.
    fn merge(&self, forward: &F, backward: &B) -> Y;
}

/// `merge_mode="concat"` (Keras's default): `[forward; backward]`, a vector `N = A + B` wide.
///
/// `N` is inferred from the use of the result (or given: `SVector<f32, 16>`); stable Rust cannot
/// write `A + B` in a type, so `N == A + B` is checked when the code is compiled for the actual
/// widths. A wrong width does not compile:
///
/// ```compile_fail
/// use rnn::{Concat, Merge};
/// use nalgebra::SVector;
///
/// let y: SVector<f32, 15> = Concat.merge(&SVector::<f32, 10>::zeros(), &SVector::<f32, 6>::zeros());
/// ```
///
/// ```
/// use rnn::{Concat, Merge};
/// use nalgebra::SVector;
///
/// let y: SVector<f32, 5> = Concat.merge(&SVector::from([1.0, 2.0]), &SVector::from([3.0, 4.0, 5.0]));
/// assert_eq!(y, SVector::from([1.0, 2.0, 3.0, 4.0, 5.0]));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Concat;

impl<T: RealField, const A: usize, const B: usize, const N: usize>
    Merge<SVector<T, A>, SVector<T, B>, SVector<T, N>> for Concat
{
    #[inline]
    fn merge(&self, forward: &SVector<T, A>, backward: &SVector<T, B>) -> SVector<T, N> {
        const {
            assert!(
                N == A + B,
                "Concat: the merged width N must be the forward output's width A plus the \
                 backward output's width B (the widths are in the instantiation noted below)"
            )
        };
        SVector::from_fn(|i, _| {
            if i < A {
                forward[i].clone()
            } else {
                backward[i - A].clone()
            }
        })
    }
}

/// `merge_mode="sum"`: `forward + backward`. Both outputs must have the same type; different
/// widths do not compile:
///
/// ```compile_fail
/// use rnn::{cell, Bidirectional, Both, Sum};
/// use nalgebra::SVector;
///
/// #[cell]
/// fn wide(#[input] x: &f32, #[state] s: &mut f32) -> SVector<f32, 10> {
///     *s += x;
///     SVector::repeat(*s)
/// }
///
/// #[cell]
/// fn narrow(#[input] x: &f32, #[state] s: &mut f32) -> SVector<f32, 6> {
///     *s += x;
///     SVector::repeat(*s)
/// }
///
/// // error: `Sum` cannot merge a forward output `SVector<f32, 10>` with a backward output
/// // `SVector<f32, 6>`
/// let run = Bidirectional::new(Wide, Narrow).merge_mode(Sum).run(&[1.0, 2.0], Both::new(&(), &()));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sum;

/// `merge_mode="mul"`: `forward * backward`, elementwise. Both outputs must have the same type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Mul;

/// `merge_mode="ave"`: `(forward + backward) / 2`. Both outputs must have the same type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ave;

/// `merge_mode=None`: no merge; each step outputs the pair `(forward, backward)`, and
/// `run.outputs.unzip()` gives the two sequences.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NoMerge;

/// A merge given as a function `|forward, backward| -> Y`.
///
/// ```
/// use rnn::{Merge, MergeFn};
///
/// let max = MergeFn(|f: &f32, b: &f32| f.max(*b));
/// assert_eq!(max.merge(&1.0, &2.0), 2.0);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct MergeFn<G>(pub G);

macro_rules! leafwise_merge {
    ($($mode:ident => $op:expr),*) => {$(
        impl<O: Nested> Merge<O, O, O> for $mode {
            #[inline]
            fn merge(&self, forward: &O, backward: &O) -> O {
                let mut y = forward.clone();
                y.zip_apply(backward, &$op);
                y
            }
        }
    )*};
}
leafwise_merge!(Sum => ops::Add, Mul => ops::Mul, Ave => ops::Average);

impl<F: Clone, B: Clone> Merge<F, B, (F, B)> for NoMerge {
    #[inline]
    fn merge(&self, forward: &F, backward: &B) -> (F, B) {
        (forward.clone(), backward.clone())
    }
}

impl<F, B, Y, G: Fn(&F, &B) -> Y> Merge<F, B, Y> for MergeFn<G> {
    #[inline]
    fn merge(&self, forward: &F, backward: &B) -> Y {
        (self.0)(forward, backward)
    }
}

/// Keras's `Bidirectional(layer, backward_layer=..., merge_mode=...)`: two cells of any types
/// reading the same inputs, one forward and one backward, merged step by step.
///
/// ```
/// use rnn::{cell, Both, Bidirectional, Mask, NoMerge, Sum};
/// use nalgebra::SVector;
///
/// /// `s' = s + x`, `y = 10 s'`.
/// #[cell]
/// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
///     *s += x;
///     *s * 10.0
/// }
///
/// let xs = [1.0, 2.0, 0.0, 0.0].map(|x| SVector::from([x]));
/// let bi = Bidirectional::new(Accumulate, Accumulate).merge_mode(NoMerge);
/// let run = bi.run_masked(&xs, Mask::Length(2), Both::new(&(), &())).unwrap();
/// let (forward, backward) = run.outputs.unzip();
/// assert_eq!(forward.iter().map(|y| y[0]).collect::<Vec<_>>(), [10.0, 30.0, 30.0, 30.0]);
/// assert_eq!(backward.iter().map(|y| y[0]).collect::<Vec<_>>(), [30.0, 20.0, 0.0, 0.0]);
/// assert_eq!((run.state.forward[0], run.state.backward[0]), (3.0, 3.0));
///
/// // Concat (the default): a 1- and a 1-wide output give a 2-wide vector.
/// let run = Bidirectional::new(Accumulate, Accumulate).run(&xs[..2], Both::new(&(), &()));
/// let y: SVector<f32, 2> = run.outputs[0];
/// assert_eq!(y, SVector::from([10.0, 30.0]));
/// ```
#[derive(Clone, Debug, Default, crate::Parameters)]
#[parameters(crate = crate)]
pub struct Bidirectional<F, B, M = Concat> {
    pub(crate) forward: F,
    pub(crate) backward: B,
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    #[parameters(skip)]
    pub(crate) merge: M,
    #[parameters(skip)]
    pub(crate) padding: Padding,
}

impl<F: Cell, B: Cell<Input = F::Input>> Bidirectional<F, B, Concat> {
    /// `forward` reads the sequence first step first, `backward` last step first; outputs are
    /// concatenated (change it with [`merge_mode`](Bidirectional::merge_mode)).
    pub fn new(forward: F, backward: B) -> Self {
        Bidirectional {
            forward,
            backward,
            merge: Concat,
            padding: Padding::default(),
        }
    }
}

impl<F: Cell, B: Cell<Input = F::Input>, M> Bidirectional<F, B, M> {
    /// How the two outputs of a step are combined: [`Concat`], [`Sum`], [`Mul`], [`Ave`],
    /// [`NoMerge`] or a [`MergeFn`].
    pub fn merge_mode<M2>(self, merge: M2) -> Bidirectional<F, B, M2> {
        Bidirectional {
            forward: self.forward,
            backward: self.backward,
            merge,
            padding: self.padding,
        }
    }

    /// What each direction outputs at a masked step (default: [`Padding::CarryLastOutput`]).
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// The forward cell.
    pub fn forward_cell(&self) -> &F {
        &self.forward
    }

    /// The backward cell.
    pub fn backward_cell(&self) -> &B {
        &self.backward
    }

    /// Runs both directions over every step of `inputs` from their cells' initial states.
    #[cfg(feature = "alloc")]
    pub fn run<Y, X: Borrow<F::Input>>(
        &self,
        inputs: &[X],
        constants: Both<&F::Constants, &B::Constants>,
    ) -> BiRun<Y, F, B>
    where
        M: Merge<F::Output, B::Output, Y>,
    {
        let initial = self.initial_state(constants);
        self.run_checked(inputs, Mask::All, initial, constants)
    }

    /// Runs both directions over `inputs` with `mask`, from their cells' initial states.
    #[cfg(feature = "alloc")]
    pub fn run_masked<'m, Y, X: Borrow<F::Input>>(
        &self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        constants: Both<&F::Constants, &B::Constants>,
    ) -> Result<BiRun<Y, F, B>, SequenceError>
    where
        M: Merge<F::Output, B::Output, Y>,
    {
        let initial = self.initial_state(constants);
        self.run_masked_from(inputs, mask, initial, constants)
    }

    /// Runs both directions over `inputs` with `mask`, each from its given initial state
    /// (Keras's `initial_state=[forward states..., backward states...]`).
    #[cfg(feature = "alloc")]
    pub fn run_masked_from<'m, Y, X: Borrow<F::Input>>(
        &self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        initial_state: Both<F::State, B::State>,
        constants: Both<&F::Constants, &B::Constants>,
    ) -> Result<BiRun<Y, F, B>, SequenceError>
    where
        M: Merge<F::Output, B::Output, Y>,
    {
        let mask = mask.into();
        mask.check(inputs.len())?;
        Ok(self.run_checked(inputs, mask, initial_state, constants))
    }

    #[cfg(feature = "alloc")]
    fn initial_state(
        &self,
        constants: Both<&F::Constants, &B::Constants>,
    ) -> Both<F::State, B::State> {
        Both::new(
            self.forward.initial_state(constants.forward),
            self.backward.initial_state(constants.backward),
        )
    }

    #[cfg(feature = "alloc")]
    fn run_checked<Y, X: Borrow<F::Input>>(
        &self,
        inputs: &[X],
        mask: Mask<'_>,
        initial_state: Both<F::State, B::State>,
        constants: Both<&F::Constants, &B::Constants>,
    ) -> BiRun<Y, F, B>
    where
        M: Merge<F::Output, B::Output, Y>,
    {
        let Both {
            forward: mut forward_state,
            backward: mut backward_state,
        } = initial_state;
        let forward = masked_unroll(
            &self.forward,
            inputs,
            mask,
            Direction::Forward,
            self.padding,
            &mut forward_state,
            &mut None,
            constants.forward,
        );
        let backward = masked_unroll(
            &self.backward,
            inputs,
            mask,
            Direction::Reversed,
            self.padding,
            &mut backward_state,
            &mut None,
            constants.backward,
        );
        let outputs = forward
            .iter()
            .zip(backward.iter())
            .map(|(f, b)| self.merge.merge(f, b))
            .collect();
        Run {
            outputs,
            state: Both::new(forward_state, backward_state),
        }
    }
}
