//! `TimeDistributed`: a layer without state applied at every step (Keras's name).

use core::marker::PhantomData;

use crate::cell::Cell;
use crate::nested::Nested;

/// A layer without state applied to every step of a sequence (Keras's
/// `TimeDistributed(layer)`): [`Dense`], [`BatchNormalization`] at inference, or a function
/// of one step ([`TimeDistributed::from_fn`]).
///
/// It is a cell whose state is `()`, so it goes wherever a cell goes: on its own over a
/// sequence ([`apply`](TimeDistributed::apply), or an [`Rnn`](crate::Rnn) for batches and
/// masks), and in a [`Stacked`](crate::cells::Stacked) after a recurrent layer, where it
/// reads that layer's output at each step (Keras's `LSTM(return_sequences=True)` followed by
/// `TimeDistributed(Dense)`). A layer that trains ([`Dense`]) trains here too: the wrapper's
/// backward is the layer's, step by step.
///
/// A layer with a state cannot be wrapped: that is a recurrent layer, to run with
/// [`Rnn`](crate::Rnn). Keras's `TimeDistributed(Embedding)` is
/// [`Embedding::forward`](crate::cells::Embedding::forward), which already looks up every
/// step of a sequence (a token is not a [`Nested`] value, so an embedding is not a cell).
///
/// [`Dense`]: crate::cells::Dense
/// [`BatchNormalization`]: crate::cells::BatchNormalization
///
/// ```
/// use rnn::cells::{Dense, LstmCell, Stacked};
/// use rnn::{Rnn, TimeDistributed};
/// use nalgebra::SVector;
///
/// // Keras: Sequential([LSTM(4, return_sequences=True), TimeDistributed(Dense(2))]).
/// let lstm = LstmCell::<3, 4>::keras_init(1);
/// let dense = Dense::<4, 2>::keras_init(2);
/// let model = Rnn::new(Stacked((lstm.clone(), TimeDistributed(dense.clone()))));
/// let xs = [SVector::from([0.5, -1.0, 0.25]); 5];
/// let run = model.run(&xs, &((), ())); // each layer's constants: none
/// assert_eq!(run.outputs.len(), 5); // one output of 2 units per step
///
/// // The same as the LSTM's sequence, then the dense layer on each step.
/// let hs = Rnn::new(lstm).run(&xs, &()).outputs;
/// let ys = TimeDistributed(dense).apply(&hs, &());
/// assert_eq!(run.outputs, ys);
///
/// // Any function of one step.
/// let doubled = TimeDistributed::from_fn(|y: &SVector<f32, 2>| y * 2.0).apply(&ys, &());
/// assert_eq!(doubled[4], ys[4] * 2.0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, crate::Parameters)]
#[parameters(crate = crate)]
pub struct TimeDistributed<L>(#[parameters(flatten)] pub L);

/// A layer without state: a [`Cell`] whose state is `()`, which
/// [`TimeDistributed`] applies at each step.
#[diagnostic::on_unimplemented(
    message = "`{Self}` keeps a state from step to step: `TimeDistributed` applies a layer without one",
    label = "a recurrent cell, not a per-step layer",
    note = "run a recurrent cell with `Rnn::new(cell)`, and stack layers on it with `Stacked`"
)]
pub trait Stateless: Cell<State = ()> {}

#[diagnostic::do_not_recommend]
impl<L: Cell<State = ()>> Stateless for L {}

impl<L: Stateless> TimeDistributed<L> {
    /// The layer applied to every step of `inputs`, in order.
    #[cfg(feature = "alloc")]
    pub fn apply<X: core::borrow::Borrow<L::Input>>(
        &self,
        inputs: impl IntoIterator<Item = X>,
        constants: &L::Constants,
    ) -> crate::Sequence<L::Output> {
        let inputs = inputs.into_iter();
        let mut outputs = alloc::vec::Vec::with_capacity(inputs.size_hint().0);
        crate::vectorized(
            #[inline(always)]
            || outputs.extend(inputs.map(|x| self.0.step(x.borrow(), &mut (), constants))),
        );
        crate::Sequence::from(outputs)
    }

    /// The wrapped layer.
    pub fn layer(&self) -> &L {
        &self.0
    }
}

impl<F, X, Y> TimeDistributed<StepFn<F, X, Y>>
where
    F: Fn(&X) -> Y,
    X: Nested,
    Y: Nested,
{
    /// `f` applied at each step (Keras's `TimeDistributed(Lambda(f))`). A function has no
    /// parameters and no backward: it runs at inference.
    pub fn from_fn(f: F) -> Self {
        TimeDistributed(StepFn {
            f,
            step: PhantomData,
        })
    }
}

impl<L: Stateless> Cell for TimeDistributed<L> {
    type Input = L::Input;
    type State = ();
    type Constants = L::Constants;
    type Output = L::Output;

    #[inline(always)]
    fn step(&self, input: &L::Input, state: &mut (), constants: &L::Constants) -> L::Output {
        self.0.step(input, state, constants)
    }

    #[inline(always)]
    fn step_block<const N: usize>(
        &self,
        inputs: [&L::Input; N],
        states: &mut [(); N],
        constants: [&L::Constants; N],
    ) -> [L::Output; N] {
        self.0.step_block(inputs, states, constants)
    }

    #[inline(always)]
    fn step_chunk<const N: usize>(
        &self,
        inputs: [&L::Input; N],
        state: &mut (),
        constants: &L::Constants,
    ) -> [L::Output; N] {
        self.0.step_chunk(inputs, state, constants)
    }

    #[inline(always)]
    fn runs_in_chunks(&self) -> bool {
        self.0.runs_in_chunks()
    }
}

/// A function of one step as a layer without state: what [`TimeDistributed::from_fn`] wraps.
pub struct StepFn<F, X, Y> {
    f: F,
    step: PhantomData<fn(&X) -> Y>,
}

impl<F: Clone, X, Y> Clone for StepFn<F, X, Y> {
    fn clone(&self) -> Self {
        StepFn {
            f: self.f.clone(),
            step: PhantomData,
        }
    }
}

impl<F, X, Y> core::fmt::Debug for StepFn<F, X, Y> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("StepFn")
    }
}

impl<F, X, Y> Cell for StepFn<F, X, Y>
where
    F: Fn(&X) -> Y,
    X: Nested,
    Y: Nested,
{
    type Input = X;
    type State = ();
    type Constants = ();
    type Output = Y;

    #[inline(always)]
    fn step(&self, input: &X, _: &mut (), _: &()) -> Y {
        (self.f)(input)
    }
}
