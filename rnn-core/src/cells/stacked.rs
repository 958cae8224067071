//! `Stacked`: several cells run one after the other at each timestep (Keras's
//! `StackedRNNCells`).

use crate::cell::Cell;

/// A stack of cells, itself a cell: at each step, each layer's output is the next layer's
/// input; the stack's state is the tuple of the layers' states (Keras's order: layer 0's
/// states first) and its output the last layer's. Its constants are the tuple of the layers'
/// constants, each layer reading its own (`()` for a layer without any).
///
/// Built from a tuple of two to six cells. When layer `k`'s output is not layer `k+1`'s
/// input type, the stack is not a cell and the program does not compile.
///
/// ```
/// use rnn::cells::{GruCell, LstmCell, Stacked};
/// use rnn::Rnn;
/// use nalgebra::SVector;
///
/// let stack = Stacked((LstmCell::<5, 4>::zeros(), GruCell::<4, 3>::zeros()));
/// let run = Rnn::new(stack).run(&[SVector::<f32, 5>::zeros(); 2], &((), ()));
/// let (lstm_state, gru_h) = run.state;
/// assert_eq!((lstm_state.h.len(), gru_h.len()), (4, 3));
/// ```
///
/// A layer with constants (here an attention over a memory) sits on a layer without:
///
/// ```
/// use rnn::cells::{GruCell, Stacked};
/// use rnn::{cell, ops, Rnn};
/// use nalgebra::{SMatrix, SVector};
///
/// /// The memory rows, weighted by how much each matches the state and input.
/// #[cell]
/// fn attend(
///     #[input] x: &SVector<f32, 3>,
///     #[state] s: &mut SVector<f32, 3>,
///     #[constant] memory: &SMatrix<f32, 2, 3>,
/// ) -> SVector<f32, 3> {
///     let weights = ops::softmax(&(memory * (*s + x)));
///     *s = memory.transpose() * weights;
///     *s
/// }
///
/// let stack = Stacked((GruCell::<4, 3>::keras_init(0), Attend));
/// let memory = SMatrix::<f32, 2, 3>::new(1.0, 0.0, 0.0, 0.0, 1.0, 0.0);
/// let run = Rnn::new(stack).run(&[SVector::<f32, 4>::zeros(); 2], &((), memory));
/// assert!((run.state.1.sum() - 1.0).abs() < 1e-6); // a weighting of the two memory rows
/// ```
#[derive(Clone, Debug, PartialEq, crate::Parameters)]
#[parameters(crate = crate)]
pub struct Stacked<Layers>(#[parameters(flatten)] pub Layers);

/// A cell whose output is the input of `Next`, so that `Next` can be stacked on it.
///
/// Holds exactly when `Next::Input` is `Self::Output`; its own trait so that a stack whose
/// sizes do not chain says so in words, naming the two layers.
#[diagnostic::on_unimplemented(
    message = "cannot stack `{Next}` on `{Self}`: the output of `{Self}` is not the input of `{Next}`",
    label = "in this stack, a layer's output does not fit the next layer's input",
    note = "in a stack, each layer's input size is the previous layer's units"
)]
pub trait FeedsInto<Next: Cell>: Cell {
    /// This cell's output as the next cell's input (the same value).
    fn feed(output: Self::Output) -> Next::Input;
}

#[diagnostic::do_not_recommend]
impl<A: Cell, B: Cell<Input = A::Output>> FeedsInto<B> for A {
    #[inline(always)]
    fn feed(output: A::Output) -> A::Output {
        output
    }
}

macro_rules! stacked {
    ($first:ident $(, $name:ident . $idx:tt after $prev:ident)+ ; last $last:ident) => {
        impl<$first: Cell $(, $name: Cell)+> Cell for Stacked<($first, $($name,)+)>
        where
            $($prev: FeedsInto<$name>,)+
        {
            type Input = $first::Input;
            type State = ($first::State, $($name::State,)+);
            type Constants = ($first::Constants, $($name::Constants,)+);
            type Output = $last::Output;

            #[inline]
            fn step(&self, input: &Self::Input, state: &mut Self::State, constants: &Self::Constants) -> Self::Output {
                let y = (self.0).0.step(input, &mut state.0, &constants.0);
                $(let y = (self.0).$idx.step(&$prev::feed(y), &mut state.$idx, &constants.$idx);)+
                y
            }

            fn initial_state(&self, constants: &Self::Constants) -> Self::State {
                (
                    (self.0).0.initial_state(&constants.0),
                    $((self.0).$idx.initial_state(&constants.$idx),)+
                )
            }
        }
    };
}
stacked!(A, B.1 after A; last B);
stacked!(A, B.1 after A, C.2 after B; last C);
stacked!(A, B.1 after A, C.2 after B, D.3 after C; last D);
stacked!(A, B.1 after A, C.2 after B, D.3 after C, E.4 after D; last E);
stacked!(A, B.1 after A, C.2 after B, D.3 after C, E.4 after D, F.5 after E; last F);
