//! How [`Bidirectional`](crate::Bidirectional) combines the two outputs of a step (Keras's
//! `merge_mode`), each mode with the type of its merged output.

use core::marker::PhantomData;
use core::ops::Index;

use nalgebra::{RealField, SVector};

use crate::nested::{ops, Nested};

/// How [`Bidirectional`](crate::Bidirectional) combines the forward output `F` and the backward
/// output `B` of a step (Keras's `merge_mode`).
///
/// The merged type is the mode's [`Output`](Merge::Output), so a run's outputs have a type
/// without annotations: [`Concat`] gives a [`Concatenated`], [`Sum`], [`Mul`] and [`Ave`] the
/// directions' own type, [`NoMerge`] the pair.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot merge a forward output `{F}` with a backward output `{B}`",
    label = "no such merge",
    note = "`Sum`, `Mul` and `Ave` need both directions to output the same type; `Concat`, \
            `NoMerge` or a `MergeFn` take any two outputs"
)]
pub trait Merge<F, B> {
    /// The merged output of one step.
    type Output;

    /// Merges the two outputs of one step.
    fn merge(&self, forward: &F, backward: &B) -> Self::Output;
}

/// `merge_mode="concat"` (Keras's default): the forward output followed by the backward
/// output, a [`Concatenated`].
///
/// ```
/// use rnn::{Concat, Merge};
/// use nalgebra::SVector;
///
/// let y = Concat.merge(&SVector::from([1.0f32, 2.0]), &SVector::from([3.0, 4.0, 5.0]));
/// assert_eq!(y.len(), 5);
/// let y: SVector<f32, 5> = y.into();
/// assert_eq!(y, SVector::from([1.0, 2.0, 3.0, 4.0, 5.0]));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Concat;

/// A forward and a backward output concatenated: one [`Nested`] value of `F::SIZE + B::SIZE`
/// scalars, flattened forward first (Keras's concatenation on the last axis).
///
/// Two vectors concatenated read as one vector: [`len`](Concatenated::len), indexing,
/// [`iter`](Concatenated::iter), and [`to_vector`](Concatenated::to_vector) (or `.into()`) for
/// an `SVector` of the summed width, where the next layer needs one. The width of that vector
/// is written where it is used, as stable Rust cannot write `A + B` in a type; a wrong width
/// does not compile:
///
/// ```compile_fail
/// use rnn::{Concat, Merge};
/// use nalgebra::SVector;
///
/// let y = Concat.merge(&SVector::<f32, 10>::zeros(), &SVector::<f32, 6>::zeros());
/// let v: SVector<f32, 15> = y.to_vector();
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Concatenated<F, B> {
    /// The forward direction's output.
    pub forward: F,
    /// The backward direction's output.
    pub backward: B,
}

impl<T: RealField, const A: usize, const B: usize> Concatenated<SVector<T, A>, SVector<T, B>> {
    /// The concatenated width, `A + B`.
    pub const fn len(&self) -> usize {
        A + B
    }

    /// Whether both vectors are empty.
    pub const fn is_empty(&self) -> bool {
        A + B == 0
    }

    /// The `A + B` scalars, forward first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.forward.iter().chain(self.backward.iter())
    }

    /// The concatenation as one vector, `N = A + B` wide (`N` is checked when the code is
    /// compiled for the actual widths).
    pub fn to_vector<const N: usize>(&self) -> SVector<T, N> {
        const {
            assert!(
                N == A + B,
                "Concatenated::to_vector: the width N must be the forward output's width A \
                 plus the backward output's width B (the widths are in the instantiation noted \
                 below)"
            )
        };
        SVector::from_fn(|i, _| self[i].clone())
    }
}

impl<T: RealField, const A: usize, const B: usize> Index<usize>
    for Concatenated<SVector<T, A>, SVector<T, B>>
{
    type Output = T;

    /// # Panics
    /// When `i >= A + B`, as indexing a vector does.
    fn index(&self, i: usize) -> &T {
        if i < A {
            &self.forward[i]
        } else {
            &self.backward[i - A]
        }
    }
}

impl<T: RealField, const A: usize, const B: usize, const N: usize>
    From<Concatenated<SVector<T, A>, SVector<T, B>>> for SVector<T, N>
{
    fn from(y: Concatenated<SVector<T, A>, SVector<T, B>>) -> Self {
        y.to_vector()
    }
}

/// `merge_mode="sum"`: `forward + backward`. Both outputs must have the same type; different
/// widths do not compile:
///
/// ```compile_fail
/// use rnn::{cell, Bidirectional, Sum};
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
/// let run = Bidirectional::new(Wide, Narrow).merge_mode(Sum).run(&[1.0, 2.0], &());
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
/// let max = MergeFn::new(|f: &f32, b: &f32| f.max(*b));
/// assert_eq!(max.merge(&1.0, &2.0), 2.0);
/// ```
pub struct MergeFn<G, Y> {
    function: G,
    // `Y` names the function's result in the impl of `Merge` (a closure's return type cannot
    // be named otherwise); `fn() -> Y` keeps `MergeFn` `Send` and `Sync` whatever `Y` is.
    output: PhantomData<fn() -> Y>,
}

impl<G, Y> MergeFn<G, Y> {
    /// The merge `function(forward, backward)`.
    pub const fn new(function: G) -> Self {
        MergeFn {
            function,
            output: PhantomData,
        }
    }
}

impl<G: Clone, Y> Clone for MergeFn<G, Y> {
    fn clone(&self) -> Self {
        MergeFn::new(self.function.clone())
    }
}

impl<G: Copy, Y> Copy for MergeFn<G, Y> {}

impl<G, Y> core::fmt::Debug for MergeFn<G, Y> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("MergeFn")
    }
}

impl<F: Clone, B: Clone> Merge<F, B> for Concat {
    type Output = Concatenated<F, B>;

    #[inline]
    fn merge(&self, forward: &F, backward: &B) -> Concatenated<F, B> {
        Concatenated {
            forward: forward.clone(),
            backward: backward.clone(),
        }
    }
}

macro_rules! leafwise_merge {
    ($($mode:ident => $op:expr),*) => {$(
        impl<O: Nested> Merge<O, O> for $mode {
            type Output = O;

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

impl<F: Clone, B: Clone> Merge<F, B> for NoMerge {
    type Output = (F, B);

    #[inline]
    fn merge(&self, forward: &F, backward: &B) -> (F, B) {
        (forward.clone(), backward.clone())
    }
}

impl<F, B, Y, G: Fn(&F, &B) -> Y> Merge<F, B> for MergeFn<G, Y> {
    type Output = Y;

    #[inline]
    fn merge(&self, forward: &F, backward: &B) -> Y {
        (self.function)(forward, backward)
    }
}
