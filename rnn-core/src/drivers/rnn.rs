//! [`Rnn`]: a cell wrapped to run over sequences (Keras's `keras.layers.RNN(cell)`).

#[cfg(feature = "alloc")]
use core::borrow::Borrow;

use super::constants::ConstantsOf;
use super::direction::Direction;
#[cfg(feature = "alloc")]
use super::mask::Mask;
use super::mask::Padding;
use super::reset::ResetTo;
use super::unroll::{unrolled, Unrolled};
use crate::cell::Cell;
#[cfg(feature = "alloc")]
use crate::error::SequenceError;

/// A cell ready to run over sequences: Keras's `RNN(cell)`, PyTorch's `nn.RNN` loop.
///
/// [`run`](Rnn::run) loops over a sequence of any length; [`unroll`](Rnn::unroll) runs a
/// const-generic number of steps with no heap; [`stateful`](Rnn::stateful) keeps the state
/// between chunks. All three compute the same bits.
///
/// Configuration, as Keras's layer arguments: [`padding`](Rnn::padding) (what a masked step
/// outputs), [`go_backwards`](Rnn::go_backwards) / [`direction`](Rnn::direction), and, for
/// training, `dropout` (`Rnn::dropout`, with the `alloc` feature); masked runs are
/// [`run_masked`](Rnn::run_masked), batches [`run_batch`](Rnn::run_batch).
///
/// ```
/// use rnn::{cell, Rnn};
/// use nalgebra::SVector;
///
/// /// `s' = s + x`, `y = 10 s'`.
/// #[cell]
/// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
///     *s += x;
///     *s * 10.0
/// }
///
/// let rnn = Rnn::new(Accumulate);
/// let xs = [SVector::from([1.0]), SVector::from([2.0])];
/// let run = rnn.run(&xs, &());
/// assert_eq!(run.outputs[1][0], 30.0);
/// assert_eq!(run.state[0], 3.0);
/// let fixed = rnn.unroll(&xs, &());
/// assert_eq!(fixed.outputs[1], run.outputs[1]);
/// ```
#[derive(Clone, Debug, crate::Parameters)]
#[parameters(crate = crate)]
pub struct Rnn<C> {
    #[parameters(flatten)]
    cell: C,
    #[parameters(skip)]
    pub(crate) padding: Padding,
    #[parameters(skip)]
    pub(crate) direction: Direction,
    /// Whether batches of a built-in cell may run its batched kernel.
    #[parameters(skip)]
    pub(crate) batched_kernel: bool,
    /// What training runs drop (Keras's `dropout`, `recurrent_dropout`, `seed`).
    #[parameters(skip)]
    pub(crate) dropout: super::dropout::Dropout,
}

/// The default cell, wrapped with the default configuration (as [`Rnn::new`]).
impl<C: Default> Default for Rnn<C> {
    fn default() -> Self {
        Rnn {
            cell: C::default(),
            padding: Padding::default(),
            direction: Direction::default(),
            batched_kernel: true,
            dropout: Default::default(),
        }
    }
}

impl<C: Cell> Rnn<C> {
    /// Wraps `cell`.
    pub fn new(cell: C) -> Self {
        Rnn {
            cell,
            padding: Padding::default(),
            direction: Direction::default(),
            batched_kernel: true,
            dropout: Default::default(),
        }
    }

    /// What a masked step outputs (default: [`Padding::CarryLastOutput`], Keras's).
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// Keras's `go_backwards`: read the sequence last step first, outputs in processing order.
    /// `false` returns to [`Direction::Forward`].
    pub fn go_backwards(self, go_backwards: bool) -> Self {
        self.direction(if go_backwards {
            Direction::GoBackwards
        } else {
            Direction::Forward
        })
    }

    /// The order in which steps are read and outputs laid out (default: forward).
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
        self
    }

    /// Whether [`run_batch`](Rnn::run_batch) may run a built-in `f32` cell ([`LstmCell`],
    /// [`GruCell`], [`SimpleRnnCell`]) on its batched kernel, as Keras's `use_cudnn` chooses
    /// cuDNN: `true` by default. The kernel runs a batch at once with one matrix product per
    /// step and agrees with the loop per sequence within 1e-5 (it sums in another order);
    /// `false` keeps the loop, whose results are those of [`run`](Rnn::run) bit for bit. It
    /// applies when each sequence's valid steps are consecutive (no mask, a length, or padding
    /// only before and after them); other masks and cells always take the loop. Training on
    /// batches follows the same choice: [`run_batch_taped`](Rnn::run_batch_taped) and
    /// [`backward_batch`](Rnn::backward_batch) run the fused layer's training forward and
    /// backward where `run_batch` runs its kernel, except with [`dropout`](Rnn::dropout),
    /// which the kernel does not apply: those batches train on the loop.
    ///
    /// [`LstmCell`]: crate::cells::LstmCell
    /// [`GruCell`]: crate::cells::GruCell
    /// [`SimpleRnnCell`]: crate::cells::SimpleRnnCell
    ///
    /// ```
    /// use rnn::cells::LstmCell;
    /// use rnn::{Batch, Rnn};
    /// use nalgebra::SVector;
    ///
    /// let sequences = vec![vec![SVector::<f32, 3>::repeat(0.5); 6]; 8];
    /// let batch = Batch::new(&sequences).lengths(&[6, 5, 4, 6, 1, 0, 3, 2]);
    /// let rnn = Rnn::new(LstmCell::<3, 4>::keras_init(1));
    /// let fast = rnn.run_batch(&batch, &()).unwrap();
    /// let exact = rnn.clone().batched_kernel(false).run_batch(&batch, &()).unwrap();
    /// for (b, sequence) in sequences.iter().enumerate() {
    ///     let one = rnn.run_masked(sequence, rnn::Mask::Length([6, 5, 4, 6, 1, 0, 3, 2][b]), &()).unwrap();
    ///     assert_eq!(exact.outputs[b], one.outputs); // the loop's bits
    ///     for (y, z) in fast.outputs[b].iter().zip(one.outputs.iter()) {
    ///         assert!((y - z).amax() <= 1e-5);
    ///     }
    /// }
    /// ```
    pub fn batched_kernel(mut self, allow: bool) -> Self {
        self.batched_kernel = allow;
        self
    }

    /// The dropout training runs apply (see [`dropout`](Rnn::dropout)); none by default.
    pub fn dropout_config(&self) -> super::dropout::Dropout {
        self.dropout
    }

    /// The wrapped cell.
    pub fn cell(&self) -> &C {
        &self.cell
    }

    /// The wrapped cell, to change (a gradient's, while it is summed).
    #[cfg(feature = "alloc")]
    pub(crate) fn cell_mut(&mut self) -> &mut C {
        &mut self.cell
    }

    /// Unwraps the cell.
    pub fn into_cell(self) -> C {
        self.cell
    }

    /// Runs over `inputs` (any length, including zero) from the cell's initial state, in the
    /// configured [`direction`](Rnn::direction). Forward, this is [`dynamic_unroll`](crate::dynamic_unroll).
    #[cfg(feature = "alloc")]
    pub fn run<X: crate::StepInput<C::Input>, K: ConstantsOf<C::Constants>>(
        &self,
        inputs: impl IntoIterator<Item = X>,
        constants: &K,
    ) -> crate::Run<C::Output, C::State> {
        let constants: &C::Constants = constants.borrow();
        self.run_from(inputs, self.cell.initial_state(constants), constants)
    }

    /// Runs over `inputs` from `initial_state` (Keras's `initial_state=`).
    #[cfg(feature = "alloc")]
    pub fn run_from<X: crate::StepInput<C::Input>, K: ConstantsOf<C::Constants>>(
        &self,
        inputs: impl IntoIterator<Item = X>,
        initial_state: C::State,
        constants: &K,
    ) -> crate::Run<C::Output, C::State> {
        let constants: &C::Constants = constants.borrow();
        if self.direction == Direction::Forward {
            let (outputs, state) = crate::drivers::unroll::dynamic_unroll(
                &self.cell,
                inputs,
                initial_state,
                constants,
            );
            return crate::Run { outputs, state };
        }
        // Reading backwards needs the whole sequence: gather it once (not per step).
        let inputs: alloc::vec::Vec<X> = inputs.into_iter().collect();
        let all = (crate::Mask::All, crate::Resets::None);
        self.run_checked(&inputs, all, initial_state, constants)
    }

    /// Runs exactly `T` steps from the cell's initial state, with no heap allocation, in the
    /// configured [`direction`](Rnn::direction).
    ///
    /// The result lives on the caller's stack: an optimized build needs about
    /// `size_of::<Unrolled<..>>()` of it in every direction (the outputs are written once,
    /// where they are returned); an unoptimized build copies the result a few times. A thread
    /// spawned by `std` has 2 MiB of stack by default, so a result of more than about 1 MiB
    /// (say 4,096 steps of 64 `f32` units) belongs in [`run`](Rnn::run), which keeps the
    /// outputs on the heap.
    pub fn unroll<const T: usize>(
        &self,
        inputs: &[C::Input; T],
        constants: &impl ConstantsOf<C::Constants>,
    ) -> Unrolled<C::Output, C::State, T> {
        let constants: &C::Constants = constants.borrow();
        self.unroll_from(inputs, self.cell.initial_state(constants), constants)
    }

    /// Runs exactly `T` steps from `initial_state`, with no heap allocation.
    pub fn unroll_from<const T: usize>(
        &self,
        inputs: &[C::Input; T],
        initial_state: C::State,
        constants: &impl ConstantsOf<C::Constants>,
    ) -> Unrolled<C::Output, C::State, T> {
        let constants: &C::Constants = constants.borrow();
        unrolled(
            &self.cell,
            inputs,
            initial_state,
            constants,
            (self.direction, None),
        )
    }

    /// Runs exactly `T` steps from `initial_state`, with no heap allocation, returning to
    /// `initial_state` before every step that `resets` flags: the static form of
    /// [`run_with_resets`](Rnn::run_with_resets) with every step valid, and the same bits.
    /// The flags are an array of `T`, so they always fit the sequence.
    ///
    /// ```
    /// use rnn::{cell, Mask, Rnn};
    /// use nalgebra::SVector;
    ///
    /// #[cell]
    /// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
    ///     *s += x;
    ///     *s * 10.0
    /// }
    ///
    /// let rnn = Rnn::new(Accumulate);
    /// let xs = [1.0, 2.0, 3.0, 4.0].map(|x| SVector::from([x]));
    /// let resets = [false, false, true, false];
    /// let fixed = rnn.unroll_with_resets(&xs, &resets, SVector::zeros(), &());
    /// assert_eq!(fixed.outputs.map(|y| y[0]), [10.0, 30.0, 30.0, 70.0]);
    /// let run = rnn.run_with_resets(&xs, Mask::All, &resets, SVector::zeros(), &()).unwrap();
    /// assert_eq!(fixed.outputs.as_slice(), &run.outputs[..]);
    /// assert_eq!(fixed.state, run.state);
    /// ```
    pub fn unroll_with_resets<const T: usize>(
        &self,
        inputs: &[C::Input; T],
        resets: &[bool; T],
        initial_state: C::State,
        constants: &impl ConstantsOf<C::Constants>,
    ) -> Unrolled<C::Output, C::State, T> {
        let constants: &C::Constants = constants.borrow();
        let reset = ResetTo::new(crate::Resets::Steps(resets), &initial_state);
        let reading = (self.direction, reset.as_ref());
        unrolled(&self.cell, inputs, initial_state, constants, reading)
    }

    /// A stepper that keeps its state between calls (Keras's `stateful=True`), starting
    /// from the cell's initial state.
    ///
    /// The stepper keeps this `Rnn`'s padding policy and direction for
    /// [`feed_masked`](crate::Stateful::feed_masked).
    pub fn stateful(self, constants: impl ConstantsOf<C::Constants>) -> crate::Stateful<C> {
        let (padding, direction) = (self.padding, self.direction);
        crate::Stateful::new(self.cell, constants).configured(padding, direction)
    }
}

#[cfg(feature = "alloc")]
/// Masked runs (Keras's `rnn(inputs, mask=...)`, tf.nn.dynamic_rnn's `sequence_length`).
impl<C: Cell> Rnn<C> {
    /// Runs over `inputs` with `mask` from the cell's initial state. Masked steps do not call
    /// the cell; their output follows [`Rnn::padding`]. An error, and nothing computed, when
    /// the mask does not fit the sequence.
    ///
    /// ```
    /// use rnn::{cell, Mask, Rnn};
    /// use nalgebra::SVector;
    ///
    /// #[cell]
    /// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
    ///     *s += x;
    ///     *s * 10.0
    /// }
    ///
    /// let xs = [0.0, 1.0, 5.0, 2.0].map(|x| SVector::from([x]));
    /// let run = Rnn::new(Accumulate).run_masked(&xs, &[false, true, false, true], &()).unwrap();
    /// let ys: Vec<f32> = run.outputs.iter().map(|y| y[0]).collect();
    /// assert_eq!(ys, [0.0, 10.0, 10.0, 30.0]); // left padding and a hole
    /// assert_eq!(run.state[0], 3.0);
    /// ```
    pub fn run_masked<'m, X: Borrow<C::Input>, K: ConstantsOf<C::Constants>>(
        &self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        constants: &K,
    ) -> Result<crate::Run<C::Output, C::State>, SequenceError> {
        let constants: &C::Constants = constants.borrow();
        let mask = mask.into();
        mask.check(inputs.len())?;
        Ok(self.run_checked(
            inputs,
            (mask, crate::Resets::None),
            self.cell().initial_state(constants),
            constants,
        ))
    }

    /// Runs over `inputs` with `mask` from `initial_state`. A sequence with no valid step
    /// returns `initial_state`.
    pub fn run_masked_from<'m, X: Borrow<C::Input>, K: ConstantsOf<C::Constants>>(
        &self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        initial_state: C::State,
        constants: &K,
    ) -> Result<crate::Run<C::Output, C::State>, SequenceError> {
        let constants: &C::Constants = constants.borrow();
        let mask = mask.into();
        mask.check(inputs.len())?;
        Ok(self.run_checked(
            inputs,
            (mask, crate::Resets::None),
            initial_state,
            constants,
        ))
    }

    /// Runs over `inputs` with `mask` from `initial_state`, returning to `initial_state`
    /// before every step that `resets` flags (Haiku's `hk.ResetCore`; see [`Resets`]): one
    /// sequence holding several episodes, each run as if it were a sequence of its own.
    ///
    /// The flags are an argument beside the mask rather than part of the cell's input, as
    /// in Haiku, because what they reset to is the run's: any cell resets, with no wrapper
    /// and no change to its input type. Keras has no equivalent; its users split the
    /// sequences at the episode boundaries, which this computes in one run (the same bits).
    /// Batches take resets with [`Batch::resets`](crate::Batch::resets), streams with
    /// [`Stateful::feed_with_resets`](crate::Stateful::feed_with_resets), training runs with
    /// [`run_taped_with_resets`](Rnn::run_taped_with_resets).
    ///
    /// An error, and nothing computed, when the mask or the flags do not fit the sequence.
    ///
    /// [`Resets`]: crate::Resets
    ///
    /// ```
    /// use rnn::{cell, Mask, Rnn};
    /// use nalgebra::SVector;
    ///
    /// #[cell]
    /// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
    ///     *s += x;
    ///     *s * 10.0
    /// }
    ///
    /// let rnn = Rnn::new(Accumulate);
    /// let xs = [1.0, 2.0, 3.0, 4.0, 5.0].map(|x| SVector::from([x]));
    /// let resets = [false, false, true, false, true];
    /// let run = rnn.run_with_resets(&xs, Mask::All, &resets, SVector::zeros(), &()).unwrap();
    /// // The same as the three episodes run one by one.
    /// let pieces = [&xs[..2], &xs[2..4], &xs[4..]].map(|piece| rnn.run(piece, &()));
    /// let outputs: Vec<_> = pieces.iter().flat_map(|p| p.outputs.iter().copied()).collect();
    /// assert_eq!(run.outputs.to_vec(), outputs);
    /// assert_eq!(run.state, pieces[2].state);
    /// ```
    pub fn run_with_resets<'m, 'r, X: Borrow<C::Input>, K: ConstantsOf<C::Constants>>(
        &self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        resets: impl Into<crate::Resets<'r>>,
        initial_state: C::State,
        constants: &K,
    ) -> Result<crate::Run<C::Output, C::State>, SequenceError> {
        let constants: &C::Constants = constants.borrow();
        let (mask, resets) = (mask.into(), resets.into());
        mask.check(inputs.len())?;
        resets.check(inputs.len())?;
        Ok(self.run_checked(inputs, (mask, resets), initial_state, constants))
    }

    /// The masked run once the mask and resets are known to fit.
    pub(crate) fn run_checked<X: Borrow<C::Input>>(
        &self,
        inputs: &[X],
        (mask, resets): (Mask<'_>, crate::Resets<'_>),
        state: C::State,
        constants: &C::Constants,
    ) -> crate::Run<C::Output, C::State> {
        let mut state = crate::kernels::CacheAligned(state);
        let reset = ResetTo::new(resets, &state.0);
        let mut outputs = alloc::vec::Vec::new();
        super::masked::masked_unroll_into(
            self.cell(),
            inputs,
            mask,
            self.direction,
            self.padding,
            (&mut state.0, &mut None, reset),
            constants,
            &mut outputs,
        );
        crate::Run {
            outputs: crate::Sequence::from(outputs),
            state: state.0,
        }
    }
}
