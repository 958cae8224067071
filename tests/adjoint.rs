//! The backward that `#[cell]` generates, against central differences in `f64`: every
//! parameter, input, constant and initial-state scalar of custom cells, one sequence at a
//! time through `run_taped`/`backward` (a length mask, a hole), and the training forward
//! against the inference step's bits.

mod gradcheck;

use gradcheck::{dot, flat, parameter_names, parameters, set_parameters, unflat, Check, Rng};
use rnn::cells::{Dense, GruCell};
use rnn::nalgebra::{SMatrix, SVector};
use rnn::ops::{self, Activation};
use rnn::parameters::Parameters;
use rnn::train::{BatchGradients, BatchTape, Differentiable, Tape};
use rnn::weights::{Kernel, Weights};
use rnn::{cell, Batch, Mask, MatVec, Nested, Real, Rnn};

// ------------------------------------------------------------------------------- the cells

/// A minimal gated unit: `f = σ(W_f [h; x])`, `h' = (1 − f) h + f tanh(W_h [f h; x])`.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Mgu<T: Real> {
    forget: Dense<5, 2, T>,
    candidate: Dense<5, 2, T>,
}

#[cell]
impl<T: Real> Mgu<T> {
    fn step(&self, #[input] x: &SVector<T, 3>, #[state] h: &mut SVector<T, 2>) -> SVector<T, 2> {
        let hx: SVector<T, 5> = ops::concat(h, x);
        let f = ops::sigmoid(&self.forget.forward(&hx));
        let fhx: SVector<T, 5> = ops::concat(&f.component_mul(h), x);
        let candidate = ops::tanh(&self.candidate.forward(&fhx));
        *h = (SVector::repeat(T::one()) - f).component_mul(h) + f.component_mul(&candidate);
        *h
    }
}

/// A custom decoder: a GRU whose state is re-projected from `[h; z_enc]` at each step, `z_enc`
/// a constant, and a second output from another dense layer on the input (the example's
/// decoder with a generic scalar and smaller sizes).
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Decoder<T: Real> {
    gru: GruCell<3, 4, T>,
    dense_proj: Dense<6, 4, T>,
    other_output: Dense<3, 5, T>,
}

#[cell]
impl<T: Real> Decoder<T> {
    fn step(
        &self,
        #[input] x: &SVector<T, 3>,
        #[state] h: &mut SVector<T, 4>,
        #[constant] z_enc: &SVector<T, 2>,
    ) -> (SVector<T, 4>, SVector<T, 5>) {
        let combined: SVector<T, 6> = rnn::ops::concat(h, z_enc);
        let mut special_state = self.dense_proj.forward(&combined);
        let output = self.gru.step(x, &mut special_state, &());
        *h = special_state;
        (output, self.other_output.forward(x))
    }
}

/// A peephole LSTM (Gers & Schmidhuber): the gates also read the cell state, `i` and `f` the
/// old one, `o` the new one; one stacked kernel for the four gates.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Peephole<T: Real> {
    kernel: Kernel<T, 5, 4, 3>,
    bias: SVector<T, 3>,
    peep_i: SVector<T, 3>,
    peep_f: SVector<T, 3>,
    peep_o: SVector<T, 3>,
}

#[derive(Clone, Debug, PartialEq, Nested)]
struct PeepState<T: Real> {
    h: SVector<T, 3>,
    c: SVector<T, 3>,
}

#[cell]
impl<T: Real> Peephole<T> {
    fn step(&self, #[input] x: &SVector<T, 2>, #[state] s: &mut PeepState<T>) -> SVector<T, 3> {
        let xh: SVector<T, 5> = ops::concat(x, &s.h);
        let [zi, zf, zg, zo] = self.kernel.apply(&xh);
        let i = ops::sigmoid(&(zi + self.bias + self.peep_i.component_mul(&s.c)));
        let f = ops::sigmoid(&(zf + self.peep_f.component_mul(&s.c)));
        let g = ops::tanh(&zg);
        let c = f.component_mul(&s.c) + i.component_mul(&g);
        let o = ops::sigmoid(&(zo + self.peep_o.component_mul(&c)));
        s.h = o.component_mul(&ops::tanh(&c));
        s.c = c;
        s.h
    }
}

/// Attention over a constant memory (an encoder's outputs): a query from the state, softmax
/// weights over the memory's rows, the context their weighted sum; two outputs, the new state
/// and the attention weights.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Attention<T: Real> {
    query: Dense<3, 4, T>,
    out: Dense<6, 3, T>,
}

#[cell]
impl<T: Real> Attention<T> {
    fn step(
        &self,
        #[input] x: &SVector<T, 2>,
        #[state] h: &mut SVector<T, 3>,
        #[constant] memory: &SMatrix<T, 5, 4>,
    ) -> (SVector<T, 3>, SVector<T, 5>) {
        let q = self.query.forward(h);
        let scale = rnn::nalgebra::convert::<f64, T>(0.5);
        let weights = ops::softmax(&(memory * q * scale));
        let context = memory.transpose() * weights;
        let cx: SVector<T, 6> = ops::concat(&context, x);
        *h = ops::tanh(&self.out.forward(&cx))
            - h.component_mul(h) / rnn::nalgebra::convert::<f64, T>(4.0);
        (*h, weights)
    }
}

/// An Elman cell generic over its sizes and scalar, its weights plain matrices:
/// `h' = tanh(W x + U h + b)`, `U h` through `MatVec::forward`.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Elman<const I: usize, const H: usize, T: Real> {
    w: SMatrix<T, H, I>,
    u: SMatrix<T, H, H>,
    b: SVector<T, H>,
}

#[cell]
impl<const I: usize, const H: usize, T: Real> Elman<I, H, T> {
    fn step(&self, #[input] x: &SVector<T, I>, #[state] h: &mut SVector<T, H>) -> SVector<T, H> {
        let mut z = self.w * x;
        z += self.u.forward(h);
        *h = ops::tanh(&(z + self.b));
        -(-*h)
    }
}

/// The Keras guide's `NestedCell` at small sizes: nested inputs and states, `Kernel::apply`,
/// `+=` on the state's fields, a row-major flattening and a reshape.
#[derive(Clone, Debug, PartialEq, Nested)]
struct NestedInput<T: Real> {
    feature1: SVector<T, 3>,
    feature2: SMatrix<T, 4, 3>,
}

#[derive(Clone, Debug, PartialEq, Nested)]
struct NestedState<T: Real> {
    state1: SVector<T, 2>,
    state2: SMatrix<T, 2, 3>,
}

#[derive(Clone, Debug, PartialEq, Parameters)]
struct SmallNestedCell<T: Real> {
    kernel_1: Weights<T, 3, 2>,
    kernel_2_3: Weights<T, 12, 6>,
}

#[cell]
impl<T: Real> SmallNestedCell<T> {
    fn step(
        &self,
        #[input] inputs: &NestedInput<T>,
        #[state] states: &mut NestedState<T>,
    ) -> (SVector<T, 2>, SMatrix<T, 2, 3>) {
        let [output_1] = self.kernel_1.apply(&inputs.feature1);
        let input_2 = SVector::<T, 12>::from_column_slice(inputs.feature2.transpose().as_slice());
        let [flat] = self.kernel_2_3.apply(&input_2);
        let output_2_3 = SMatrix::<T, 3, 2>::from_column_slice(flat.as_slice()).transpose();
        states.state1 += output_1;
        states.state2 += output_2_3;
        (output_1, output_2_3)
    }
}

/// Control flow: a `for` that refines a local three times, an `if` on the input, a `for` that
/// updates the state in place, a `match` on a setting of the cell.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Refine<T: Real> {
    w: SMatrix<T, 3, 3>,
    u: SMatrix<T, 3, 2>,
    #[parameters(skip)]
    mode: u8,
}

#[cell]
impl<T: Real> Refine<T> {
    fn step(&self, #[input] x: &SVector<T, 2>, #[state] h: &mut SVector<T, 3>) -> SVector<T, 3> {
        let half = rnn::nalgebra::convert::<f64, T>(0.5);
        let mut z = self.u * x;
        for _ in 0..3 {
            z = ops::tanh(&(self.w * z + self.u * x));
        }
        let gate = if x[0] > T::zero() {
            ops::sigmoid(&z)
        } else {
            ops::relu(&z) * half
        };
        for _ in 0..2 {
            *h = h.component_mul(&gate) * half + z;
        }
        match self.mode {
            0 => *h,
            1 => h.component_mul(h),
            _ => -z,
        }
    }
}

/// `σ(a) ⊙ tanh(b)`: a helper whose adjoint the macro generates from its body.
#[rnn::differentiable]
fn gated<T: Real, const N: usize>(a: &SVector<T, N>, b: &SVector<T, N>) -> SVector<T, N> {
    ops::sigmoid(a).component_mul(&ops::tanh(b))
}

/// Softsign, `x / (1 + |x|)`: a closure over elements, so the helper gets a hand-written
/// adjoint.
#[rnn::differentiable(adjoint = softsign_adjoint)]
fn softsign<T: Real, const N: usize>(x: &SVector<T, N>) -> SVector<T, N> {
    x.map(|v| v / (T::one() + v.abs()))
}

/// Softsign's adjoint: `dy / (1 + |x|)²`.
fn softsign_adjoint<T: Real, const N: usize>(
    x: &SVector<T, N>,
    _: &SVector<T, N>,
    dy: &SVector<T, N>,
) -> (SVector<T, N>,) {
    (dy.zip_map(x, |d, v| d / ((T::one() + v.abs()) * (T::one() + v.abs()))),)
}

/// A cell calling both helpers.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Helped<T: Real> {
    w: SMatrix<T, 3, 2>,
    u: SMatrix<T, 3, 3>,
}

#[cell]
impl<T: Real> Helped<T> {
    fn step(&self, #[input] x: &SVector<T, 2>, #[state] h: &mut SVector<T, 3>) -> SVector<T, 3> {
        let z = self.w * x + self.u * *h;
        let g = gated(&z, h);
        *h = softsign(&(g + z));
        *h
    }
}

/// A cell whose output is the state before the step (a one-step delay): the output's adjoint
/// belongs to the old state, the new state's to what was written.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Delay<T: Real> {
    w: SMatrix<T, 2, 2>,
}

#[cell]
impl<T: Real> Delay<T> {
    fn step(&self, #[input] x: &SVector<T, 2>, #[state] h: &mut SVector<T, 2>) -> SVector<T, 2> {
        let old = *h;
        *h = ops::tanh(&(self.w * *h + x));
        old
    }
}

/// A built-in cell stepped on the cell's own state as it came (`h`, already `&mut`), then a
/// readout.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Wrapped<T: Real> {
    gru: GruCell<2, 3, T>,
    out: Dense<3, 2, T>,
}

#[cell]
impl<T: Real> Wrapped<T> {
    fn step(&self, #[input] x: &SVector<T, 2>, #[state] h: &mut SVector<T, 3>) -> SVector<T, 2> {
        let y = self.gru.step(x, h, &());
        self.out.forward(&y)
    }
}

/// The rest of the operation set: `split`, `exp`, `dot`, `sum`, `hard_sigmoid`, an
/// `Activation` chosen at run time, scalar `/` and `*`, a matrix-matrix product, `transpose`,
/// the compound assignments, scalar values of a generic scalar type.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Kitchen<T: Real> {
    w: SMatrix<T, 4, 2>,
    m: SMatrix<T, 2, 2>,
    #[parameters(skip)]
    act: Activation,
}

#[cell]
impl<T: Real> Kitchen<T> {
    fn step(
        &self,
        #[input] x: &SVector<T, 2>,
        #[state] h: &mut SVector<T, 2>,
    ) -> (SVector<T, 2>, SVector<T, 2>) {
        let tenth = rnn::nalgebra::convert::<f64, T>(0.1);
        let z: SVector<T, 4> = self.w * x;
        let (a, b): (SVector<T, 2>, SVector<T, 2>) = ops::split(&z);
        let e = ops::exp(&(a * tenth));
        let s = b.dot(h) / (T::one() + e.sum());
        let mut g = ops::hard_sigmoid(&(e * rnn::nalgebra::convert::<f64, T>(3.0) - b)) * s;
        g += self.act.of(h);
        g -= (self.m * self.m.transpose()) * *h * tenth;
        g *= rnn::nalgebra::convert::<f64, T>(0.9);
        *h = g;
        (g, x * (s * s))
    }
}

/// Kernels of 65,536 values each: large enough that the batch backward keeps their
/// gradients' outer products and adds them in blocks of steps.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Wide<T: Real> {
    spread: Weights<T, 16, 4096>,
    gather: Weights<T, 4096, 16>,
}

#[cell]
impl<T: Real> Wide<T> {
    fn step(&self, #[input] x: &SVector<T, 16>, #[state] h: &mut SVector<T, 16>) -> SVector<T, 16> {
        let v = x + *h;
        let [z] = self.spread.apply(&v);
        let [r] = self.gather.apply(&ops::tanh(&z));
        *h = ops::tanh(&r);
        *h
    }
}

// ------------------------------------------------------------------------------ the check

const STEPS: usize = 4;

/// A sequence through `run_taped` and the generated backward, its loss a random weighting of
/// every output and of the final state: the gradients of the parameters, inputs, constants
/// and initial state against central differences.
fn check_sequence<C>(case: &str, cell: C, mask: Mask<'_>)
where
    C: Differentiable + Clone,
{
    let mut rng = Rng::new(case);
    let rnn = rng.parameters(Rnn::new(cell), 0.5);
    let xs: Vec<C::Input> = rng.values(STEPS);
    let initial: C::State = rng.value();
    let constants: C::Constants = rng.value();
    let w_outputs: Vec<C::Output> = rng.values(STEPS);
    let w_state: C::State = rng.value();
    let loss = |rnn: &Rnn<C>, xs: &[C::Input], initial: &C::State, constants: &C::Constants| {
        let run = rnn
            .run_masked_from(xs, mask, initial.clone(), constants)
            .unwrap();
        let outputs: f64 = run
            .outputs
            .iter()
            .zip(&w_outputs)
            .map(|(y, w)| dot(y, w))
            .sum();
        outputs + dot(&run.state, &w_state)
    };

    let mut tape = Tape::new();
    let run = rnn
        .run_taped(&xs, mask, initial.clone(), &constants, &mut tape)
        .unwrap();
    assert_eq!(
        run,
        rnn.run_masked_from(&xs, mask, initial.clone(), &constants)
            .unwrap(),
        "{case}: the training forward is the inference step's bits"
    );
    let grads = rnn
        .backward(&tape, &xs, &w_outputs, w_state.clone(), &constants)
        .unwrap();

    let mut check = Check::new(case);
    check.against(
        "parameter",
        &parameter_names(rnn.cell()),
        &parameters(&rnn),
        &parameters(&grads.parameters),
        |p| {
            let mut probe = rnn.clone();
            set_parameters(&mut probe, p);
            loss(&probe, &xs, &initial, &constants)
        },
    );
    let names: Vec<String> = (0..STEPS * C::Input::SIZE)
        .map(|i| format!("x[{}][{}]", i / C::Input::SIZE, i % C::Input::SIZE))
        .collect();
    let flat_xs: Vec<f64> = xs.iter().flat_map(flat).collect();
    let flat_dxs: Vec<f64> = grads.inputs.iter().flat_map(flat).collect();
    check.against("input", &names, &flat_xs, &flat_dxs, |v| {
        let xs: Vec<C::Input> = v.chunks(C::Input::SIZE).map(unflat).collect();
        loss(&rnn, &xs, &initial, &constants)
    });
    check.against(
        "initial state",
        &gradcheck::indices("state", C::State::SIZE),
        &flat(&initial),
        &flat(&grads.initial_state),
        |v| loss(&rnn, &xs, &unflat(v), &constants),
    );
    check.against(
        "constant",
        &gradcheck::indices("constant", C::Constants::SIZE),
        &flat(&constants),
        &flat(&grads.constants),
        |v| loss(&rnn, &xs, &initial, &unflat(v)),
    );
    check.report();
}

const MASKS: [Mask<'static>; 3] = [
    Mask::All,
    Mask::Length(3),
    Mask::Steps(&[true, false, true, true]),
];

fn check_masks<C: Differentiable + Clone>(name: &str, cell: C) {
    for mask in MASKS {
        check_sequence(&format!("{name} {mask:?}"), cell.clone(), mask);
    }
}

fn dense<const I: usize, const U: usize>() -> Dense<I, U, f64> {
    Dense::zeros().with_use_bias(true)
}

#[test]
fn minimal_gated_unit() {
    check_masks(
        "mgu",
        Mgu {
            forget: dense(),
            candidate: dense(),
        },
    );
}

#[test]
fn decoder_with_constant_and_sub_cell() {
    check_masks(
        "decoder",
        Decoder {
            gru: GruCell::zeros(),
            dense_proj: dense(),
            other_output: dense(),
        },
    );
}

#[test]
fn peephole_lstm() {
    check_masks(
        "peephole",
        Peephole::<f64> {
            kernel: Kernel::zeros(),
            bias: SVector::zeros(),
            peep_i: SVector::zeros(),
            peep_f: SVector::zeros(),
            peep_o: SVector::zeros(),
        },
    );
}

#[test]
fn attention_over_a_constant_memory() {
    check_masks(
        "attention",
        Attention {
            query: dense(),
            out: dense(),
        },
    );
}

#[test]
fn generic_sizes() {
    check_masks(
        "elman<3, 4>",
        Elman::<3, 4, f64> {
            w: SMatrix::zeros(),
            u: SMatrix::zeros(),
            b: SVector::zeros(),
        },
    );
    check_masks(
        "elman<1, 2>",
        Elman::<1, 2, f64> {
            w: SMatrix::zeros(),
            u: SMatrix::zeros(),
            b: SVector::zeros(),
        },
    );
}

#[test]
fn nested_cell() {
    check_masks(
        "nested",
        SmallNestedCell::<f64> {
            kernel_1: Weights::zeros(),
            kernel_2_3: Weights::zeros(),
        },
    );
}

#[test]
fn stacked_with_a_built_in() {
    use rnn::cells::Stacked;
    check_masks(
        "stacked elman+gru",
        Stacked((
            Elman::<3, 4, f64> {
                w: SMatrix::zeros(),
                u: SMatrix::zeros(),
                b: SVector::zeros(),
            },
            GruCell::<4, 2, f64>::zeros(),
        )),
    );
    check_masks(
        "stacked gru+mgu",
        Stacked((
            GruCell::<2, 3, f64>::zeros(),
            Mgu {
                forget: dense(),
                candidate: dense(),
            },
        )),
    );
}

#[test]
fn if_match_and_for() {
    for mode in 0..3 {
        check_masks(
            &format!("refine mode {mode}"),
            Refine::<f64> {
                w: SMatrix::zeros(),
                u: SMatrix::zeros(),
                mode,
            },
        );
    }
}

// -------------------------------------------------------------------------------- batches

/// Ragged sequences, a hole and leading padding, through `run_batch_taped`/`backward_batch`
/// (the batch driver over the cores): parameters and initial states against central
/// differences.
fn check_batch<C>(name: &str, cell: C)
where
    C: Differentiable<Constants = ()> + Clone + Send + Sync,
    C::Input: Send + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync,
    C::Residual: Send + Sync,
{
    const LENGTHS: [usize; 4] = [4, 2, 4, 3];
    const BATCH_MASKS: [Mask<'static>; 4] = [
        Mask::All,
        Mask::All,
        Mask::Steps(&[true, false, true, true]),
        Mask::Steps(&[false, true, true]),
    ];
    let case = format!("batch {name}");
    let mut rng = Rng::new(&case);
    let rnn = rng.parameters(Rnn::new(cell), 0.5).batched_kernel(false);
    let xs: Vec<Vec<C::Input>> = LENGTHS.iter().map(|&t| rng.values(t)).collect();
    let initial: Vec<C::State> = rng.values(LENGTHS.len());
    let w_outputs: Vec<Vec<C::Output>> = LENGTHS.iter().map(|&t| rng.values(t)).collect();
    let w_states: Vec<C::State> = rng.values(LENGTHS.len());
    let loss = |rnn: &Rnn<C>, initial: &[C::State]| {
        let batch = Batch::new(&xs).masks(&BATCH_MASKS).initial_states(initial);
        let run = rnn.run_batch(&batch, &()).unwrap();
        let mut loss = 0.0;
        for b in 0..xs.len() {
            loss += run.outputs[b]
                .iter()
                .zip(&w_outputs[b])
                .map(|(y, w)| dot(y, w))
                .sum::<f64>();
            loss += dot(&run.states[b], &w_states[b]);
        }
        loss
    };
    let batch = Batch::new(&xs).masks(&BATCH_MASKS).initial_states(&initial);
    let mut tape = BatchTape::new();
    let run = rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
    assert_eq!(run, rnn.run_batch(&batch, &()).unwrap(), "{case}: forward");
    let grads = rnn
        .backward_batch(&tape, &batch, &w_outputs, &w_states, &())
        .unwrap();
    let mut check = Check::new(&case);
    check.against(
        "parameter",
        &parameter_names(rnn.cell()),
        &parameters(&rnn),
        &parameters(&grads.parameters),
        |p| {
            let mut probe = rnn.clone();
            set_parameters(&mut probe, p);
            loss(&probe, &initial)
        },
    );
    let flat_initial: Vec<f64> = initial.iter().flat_map(flat).collect();
    let flat_grads: Vec<f64> = grads.initial_states.iter().flat_map(flat).collect();
    check.against(
        "initial state",
        &gradcheck::indices("s0", flat_initial.len()),
        &flat_initial,
        &flat_grads,
        |v| {
            let states: Vec<C::State> = v.chunks(C::State::SIZE).map(unflat).collect();
            loss(&rnn, &states)
        },
    );
    check.report();
}

#[test]
fn masked_batches() {
    check_batch(
        "mgu",
        Mgu {
            forget: dense(),
            candidate: dense(),
        },
    );
    check_batch(
        "peephole",
        Peephole::<f64> {
            kernel: Kernel::zeros(),
            bias: SVector::zeros(),
            peep_i: SVector::zeros(),
            peep_f: SVector::zeros(),
            peep_o: SVector::zeros(),
        },
    );
    check_batch(
        "refine",
        Refine::<f64> {
            w: SMatrix::zeros(),
            u: SMatrix::zeros(),
            mode: 1,
        },
    );
    check_batch(
        "nested",
        SmallNestedCell::<f64> {
            kernel_1: Weights::zeros(),
            kernel_2_3: Weights::zeros(),
        },
    );
}

/// A batch of random sequences of `lengths` for `cell` (random parameters, per-sequence
/// constants, initial states and adjoints), run on the loop per sequence.
struct BatchCase<C: Differentiable> {
    rnn: Rnn<C>,
    xs: Vec<Vec<C::Input>>,
    initial: Vec<C::State>,
    d_outputs: Vec<Vec<C::Output>>,
    d_states: Vec<C::State>,
    constants: Vec<C::Constants>,
}

impl<C> BatchCase<C>
where
    C: Differentiable + Clone + Send + Sync,
    C::Input: Send + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync,
    C::Constants: Clone + Send + Sync,
    C::Residual: Send + Sync,
{
    fn new(name: &str, cell: C, constants: C::Constants, lengths: &[usize]) -> Self {
        let mut rng = Rng::new(name);
        let rnn = rng.parameters(Rnn::new(cell), 0.5).batched_kernel(false);
        BatchCase {
            rnn,
            xs: lengths.iter().map(|&t| rng.values(t)).collect(),
            initial: rng.values(lengths.len()),
            d_outputs: lengths.iter().map(|&t| rng.values(t)).collect(),
            d_states: rng.values(lengths.len()),
            constants: vec![constants; lengths.len()],
        }
    }

    /// The run's outputs and final states, and the backward's gradients into `g`, flat:
    /// `(outputs, final states, [parameters, initial states, constants, inputs])`.
    #[allow(clippy::type_complexity)]
    fn run(
        &self,
        masks: Option<&[Mask<'_>]>,
        mut g: BatchGradients<C>,
    ) -> (rnn::Batched<C::Output>, Vec<f64>, [Vec<f64>; 4]) {
        let batch = Batch::new(&self.xs).initial_states(&self.initial);
        let batch = match masks {
            Some(masks) => batch.masks(masks),
            None => batch,
        };
        let ks = &self.constants[..];
        let mut tape = BatchTape::new();
        let run = self.rnn.run_batch_taped(&batch, ks, &mut tape).unwrap();
        let adjoints = (&self.d_outputs[..], &self.d_states[..]);
        self.rnn
            .backward_batch_into(&tape, &batch, adjoints, ks, &mut g)
            .unwrap();
        let states: Vec<f64> = run.states.iter().flat_map(flat).collect();
        let gradients = [
            parameters(&g.parameters),
            g.initial_states.iter().flat_map(flat).collect(),
            g.constants.iter().flat_map(flat).collect(),
            g.inputs.iter().flatten().flat_map(flat).collect(),
        ];
        (run.outputs, states, gradients)
    }
}

/// A batch backward not asked for the inputs' adjoints (`without_input_adjoints`) against one
/// that is: the same bits for the parameters, the initial states and the constants, and no
/// input adjoints. The cells read their input through a kernel's `apply`, a layer's `forward`
/// and a sub-cell's `step` (whose input adjoints it skips), and their state or constants
/// through the same products (whose adjoints it must not skip).
fn check_without_inputs<C>(name: &str, cell: C, constants: C::Constants)
where
    C: Differentiable + Clone + Send + Sync,
    C::Input: Send + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync,
    C::Constants: Clone + Send + Sync,
    C::Residual: Send + Sync,
{
    let masks = [
        Mask::All,
        Mask::Length(1),
        Mask::Steps(&[false, true, true]),
    ];
    let case = BatchCase::new(name, cell, constants, &[4, 2, 3]);
    let new = || BatchGradients::new(case.rnn.cell());
    let (_, _, [parameters, states, constants, inputs]) = case.run(Some(&masks), new());
    let without = new().without_input_adjoints();
    let (_, _, [p, s, c, no_inputs]) = case.run(Some(&masks), without);
    assert_eq!(p, parameters, "{name}: parameters");
    assert_eq!(s, states, "{name}: states");
    assert_eq!(c, constants, "{name}: constants");
    assert!(!inputs.is_empty(), "{name}: the full backward's inputs");
    assert!(no_inputs.is_empty(), "{name}: input adjoints");
}

#[test]
fn no_input_adjoints_same_other_gradients() {
    check_without_inputs(
        "nested",
        SmallNestedCell::<f64> {
            kernel_1: Weights::zeros(),
            kernel_2_3: Weights::zeros(),
        },
        (),
    );
    check_without_inputs(
        "decoder",
        Decoder::<f64> {
            gru: GruCell::zeros(),
            dense_proj: dense(),
            other_output: dense(),
        },
        SVector::from([0.3, -0.7]),
    );
    check_without_inputs(
        "peephole",
        Peephole::<f64> {
            kernel: Kernel::zeros(),
            bias: SVector::zeros(),
            peep_i: SVector::zeros(),
            peep_f: SVector::zeros(),
            peep_o: SVector::zeros(),
        },
        (),
    );
    check_without_inputs(
        "refine",
        Refine::<f64> {
            w: SMatrix::zeros(),
            u: SMatrix::zeros(),
            mode: 1,
        },
        (),
    );
    check_without_inputs(
        "elman",
        Elman::<3, 4, f64> {
            w: SMatrix::zeros(),
            u: SMatrix::zeros(),
            b: SVector::zeros(),
        },
        (),
    );
    check_without_inputs("gru", GruCell::<3, 4, f64>::zeros(), ());
    check_without_inputs(
        "simple rnn",
        rnn::cells::SimpleRnnCell::<3, 4, f64>::zeros(),
        (),
    );
    check_without_inputs(
        "stacked lstm+elman",
        rnn::cells::Stacked((
            rnn::cells::LstmCell::<3, 4, f64>::zeros(),
            Elman::<4, 2, f64> {
                w: SMatrix::zeros(),
                u: SMatrix::zeros(),
                b: SVector::zeros(),
            },
        )),
        ((), ()),
    );
}

/// A batch whose sequences step in blocks (`step_forward_block`, each kernel read once for
/// the block) against the same batch stepped sequence by sequence (a mask of every step, which
/// the blocks do not take): the same outputs, final states, tapes and gradients, bit for bit.
/// Nine sequences of one length: a block of eight and one left over.
fn check_blocks<C>(name: &str, cell: C, constants: C::Constants)
where
    C: Differentiable + Clone + Send + Sync,
    C::Input: Send + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync + PartialEq + std::fmt::Debug,
    C::Constants: Clone + Send + Sync,
    C::Residual: Send + Sync,
{
    const STEPS: usize = 5;
    assert!(C::STEP_BLOCK, "{name}: the macro generates a block step");
    let case = BatchCase::new(name, cell, constants, &[STEPS; 9]);
    let every = [Mask::Steps(&[true; STEPS]); 9];
    let blocked = case.run(None, BatchGradients::new(case.rnn.cell()));
    let single = case.run(Some(&every), BatchGradients::new(case.rnn.cell()));
    assert_eq!(blocked.0, single.0, "{name}: outputs");
    assert_eq!(blocked.1, single.1, "{name}: final states");
    assert_eq!(blocked.2, single.2, "{name}: gradients");
}

#[test]
fn blocks_of_sequences_step_together() {
    check_blocks(
        "nested",
        SmallNestedCell::<f64> {
            kernel_1: Weights::zeros(),
            kernel_2_3: Weights::zeros(),
        },
        (),
    );
    check_blocks(
        "peephole",
        Peephole::<f64> {
            kernel: Kernel::zeros(),
            bias: SVector::zeros(),
            peep_i: SVector::zeros(),
            peep_f: SVector::zeros(),
            peep_o: SVector::zeros(),
        },
        (),
    );
    check_blocks(
        "attention",
        Attention {
            query: dense(),
            out: dense(),
        },
        SMatrix::from_fn(|r, c| (r as f64 - c as f64) / 5.0),
    );
    check_blocks(
        "elman",
        Elman::<3, 4, f64> {
            w: SMatrix::zeros(),
            u: SMatrix::zeros(),
            b: SVector::zeros(),
        },
        (),
    );
    check_blocks(
        "mgu",
        Mgu {
            forget: dense(),
            candidate: dense(),
        },
        (),
    );
}

#[test]
fn differentiable_helpers() {
    check_masks(
        "helpers",
        Helped::<f64> {
            w: SMatrix::zeros(),
            u: SMatrix::zeros(),
        },
    );
}

#[test]
fn output_is_the_old_state() {
    check_masks(
        "delay",
        Delay::<f64> {
            w: SMatrix::zeros(),
        },
    );
}

#[test]
fn sub_cell_on_the_cells_own_state() {
    check_masks(
        "wrapped gru",
        Wrapped::<f64> {
            gru: GruCell::zeros(),
            out: dense(),
        },
    );
}

#[test]
fn the_rest_of_the_operations() {
    for act in [
        Activation::Tanh,
        Activation::Relu,
        Activation::Softmax,
        Activation::Sigmoid,
    ] {
        check_masks(
            &format!("kitchen {act:?}"),
            Kitchen::<f64> {
                w: SMatrix::zeros(),
                m: SMatrix::zeros(),
                act,
            },
        );
    }
    same_bits(
        "kitchen",
        Kitchen::<f32> {
            w: SMatrix::zeros(),
            m: SMatrix::zeros(),
            act: Activation::Tanh,
        },
    );
}

/// The batch backward of a cell with large kernels, whose gradients add their steps' outer
/// products in blocks (each partial of the batch sums more than one block of steps): sampled
/// entries of both kernels and every initial state against central differences.
#[test]
fn batch_with_large_kernels() {
    const LENGTHS: [usize; 4] = [34, 34, 32, 32];
    let case = "batch wide";
    let mut rng = Rng::new(case);
    let rnn = rng.parameters(
        Rnn::new(Wide::<f64> {
            spread: Weights::zeros(),
            gather: Weights::zeros(),
        }),
        0.05,
    );
    let xs: Vec<Vec<SVector<f64, 16>>> = LENGTHS.iter().map(|&t| rng.values(t)).collect();
    let initial: Vec<SVector<f64, 16>> = rng.values(LENGTHS.len());
    let w_outputs: Vec<Vec<SVector<f64, 16>>> = LENGTHS.iter().map(|&t| rng.values(t)).collect();
    let w_states: Vec<SVector<f64, 16>> = rng.values(LENGTHS.len());
    let loss = |rnn: &Rnn<Wide<f64>>, initial: &[SVector<f64, 16>]| {
        let batch = Batch::new(&xs).initial_states(initial);
        let run = rnn.run_batch(&batch, &()).unwrap();
        let mut loss = 0.0;
        for b in 0..xs.len() {
            loss += run.outputs[b]
                .iter()
                .zip(&w_outputs[b])
                .map(|(y, w)| y.dot(w))
                .sum::<f64>();
            loss += run.states[b].dot(&w_states[b]);
        }
        loss
    };
    let batch = Batch::new(&xs).initial_states(&initial);
    let mut tape = BatchTape::new();
    rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
    let grads = rnn
        .backward_batch(&tape, &batch, &w_outputs, &w_states, &())
        .unwrap();
    let names = parameter_names(rnn.cell());
    let (all, all_grads) = (parameters(&rnn), parameters(&grads.parameters));
    // Entries spread over both kernels.
    let sampled: Vec<usize> = (0..12).map(|k| (k * 10_007 + 3) % all.len()).collect();
    let mut check = Check::new(case);
    check.against(
        "parameter",
        &sampled
            .iter()
            .map(|&i| names[i].clone())
            .collect::<Vec<_>>(),
        &sampled.iter().map(|&i| all[i]).collect::<Vec<_>>(),
        &sampled.iter().map(|&i| all_grads[i]).collect::<Vec<_>>(),
        |p| {
            let mut values = all.clone();
            for (&i, &v) in sampled.iter().zip(p) {
                values[i] = v;
            }
            let mut probe = rnn.clone();
            set_parameters(&mut probe, &values);
            loss(&probe, &initial)
        },
    );
    let flat_initial: Vec<f64> = initial.iter().flat_map(flat).collect();
    let flat_grads: Vec<f64> = grads.initial_states.iter().flat_map(flat).collect();
    check.against(
        "initial state",
        &gradcheck::indices("s0", flat_initial.len()),
        &flat_initial,
        &flat_grads,
        |v| {
            let states: Vec<SVector<f64, 16>> = v.chunks(16).map(unflat).collect();
            loss(&rnn, &states)
        },
    );
    check.report();
}

// -------------------------------------------------------------------------- bidirectional

/// A custom cell forward and a built-in backward under `Bidirectional` (concatenated
/// outputs): parameters, inputs and both initial states against central differences.
#[test]
fn bidirectional_with_a_custom_cell() {
    use rnn::train::BidirectionalTape;
    use rnn::{Bidirectional, Both, Concatenated};
    const T: usize = 4;
    for mask in MASKS {
        let case = format!("bidirectional mgu+gru {mask:?}");
        let mut rng = Rng::new(&case);
        let bi = Bidirectional::new(
            Mgu {
                forget: dense(),
                candidate: dense(),
            },
            GruCell::<3, 2, f64>::zeros(),
        );
        let bi = rng.parameters(bi, 0.5);
        let xs: Vec<SVector<f64, 3>> = rng.values(T);
        let initial = Both::new(
            rng.value::<SVector<f64, 2>>(),
            rng.value::<SVector<f64, 2>>(),
        );
        let w_outputs: Vec<Concatenated<SVector<f64, 2>, SVector<f64, 2>>> = rng.values(T);
        let w_state = Both::new(
            rng.value::<SVector<f64, 2>>(),
            rng.value::<SVector<f64, 2>>(),
        );
        let k = &();
        let loss = |bi: &Bidirectional<Mgu<f64>, GruCell<3, 2, f64>>,
                    xs: &[SVector<f64, 3>],
                    initial: &Both<SVector<f64, 2>, SVector<f64, 2>>| {
            let run = bi.run_masked_from(xs, mask, *initial, k).unwrap();
            let outputs: f64 = run
                .outputs
                .iter()
                .zip(&w_outputs)
                .map(|(y, w)| dot(y, w))
                .sum();
            outputs
                + dot(&run.state.forward, &w_state.forward)
                + dot(&run.state.backward, &w_state.backward)
        };
        let mut tape = BidirectionalTape::new();
        let run = bi.run_taped(&xs, mask, initial, k, &mut tape).unwrap();
        assert_eq!(run.outputs[0].len(), 4);
        let grads = bi.backward(&tape, &xs, &w_outputs, w_state, k).unwrap();
        let mut check = Check::new(&case);
        check.against(
            "parameter",
            &parameter_names(&bi),
            &parameters(&bi),
            &parameters(&grads.parameters),
            |p| {
                let mut probe = bi.clone();
                set_parameters(&mut probe, p);
                loss(&probe, &xs, &initial)
            },
        );
        let flat_xs: Vec<f64> = xs.iter().flat_map(flat).collect();
        let flat_dxs: Vec<f64> = grads.inputs.iter().flat_map(flat).collect();
        check.against(
            "input",
            &gradcheck::indices("x", flat_xs.len()),
            &flat_xs,
            &flat_dxs,
            |v| {
                let xs: Vec<SVector<f64, 3>> = v.chunks(3).map(unflat).collect();
                loss(&bi, &xs, &initial)
            },
        );
        let both = |s: &Both<SVector<f64, 2>, SVector<f64, 2>>| {
            [flat(&s.forward), flat(&s.backward)].concat()
        };
        check.against(
            "initial state",
            &gradcheck::indices("s0", 4),
            &both(&initial),
            &both(&grads.initial_state),
            |v| loss(&bi, &xs, &Both::new(unflat(&v[..2]), unflat(&v[2..]))),
        );
        check.report();
    }
}

// ------------------------------------------------------------------------- truncated BPTT

/// A custom cell on a stateful stream, two chunks: the second chunk's backward against
/// central differences of its loss from the carried state (a constant: the cut is real).
#[test]
fn truncated_backpropagation_of_a_custom_cell() {
    let case = "tbptt mgu";
    let mut rng = Rng::new(case);
    let rnn = rng.parameters(
        Rnn::new(Mgu {
            forget: dense(),
            candidate: dense(),
        }),
        0.6,
    );
    let first: Vec<SVector<f64, 3>> = rng.values(4);
    let second: Vec<SVector<f64, 3>> = rng.values(4);
    let w_outputs: Vec<SVector<f64, 2>> = rng.values(4);
    let w_state: SVector<f64, 2> = rng.value();
    let mut stream = rnn.clone().stateful(());
    let mut tape = Tape::new();
    stream.feed_taped(&first, Mask::All, &mut tape).unwrap();
    let carried = *stream.state();
    stream.feed_taped(&second, Mask::All, &mut tape).unwrap();
    let grads = stream
        .backward_chunk(&tape, &second, &w_outputs, w_state)
        .unwrap();
    let truncated = |rnn: &Rnn<Mgu<f64>>, xs: &[SVector<f64, 3>]| {
        let run = rnn.run_masked_from(xs, Mask::All, carried, &()).unwrap();
        run.outputs
            .iter()
            .zip(&w_outputs)
            .map(|(y, w)| dot(y, w))
            .sum::<f64>()
            + dot(&run.state, &w_state)
    };
    let mut check = Check::new(case);
    check.against(
        "parameter",
        &parameter_names(rnn.cell()),
        &parameters(&rnn),
        &parameters(&grads.parameters),
        |p| {
            let mut probe = rnn.clone();
            set_parameters(&mut probe, p);
            truncated(&probe, &second)
        },
    );
    check.against(
        "carried state",
        &gradcheck::indices("s", 2),
        &flat(&carried),
        &flat(&grads.initial_state),
        |v| {
            let start: SVector<f64, 2> = unflat(v);
            let run = rnn.run_masked_from(&second, Mask::All, start, &()).unwrap();
            run.outputs
                .iter()
                .zip(&w_outputs)
                .map(|(y, w)| dot(y, w))
                .sum::<f64>()
                + dot(&run.state, &w_state)
        },
    );
    check.report();
}

/// One step of `cell` and of its training forward from the same random state: the same bits.
fn same_bits<C: Differentiable + Clone>(name: &str, cell: C) {
    let mut rng = Rng::new(name);
    let cell = rng.parameters(cell, 0.7);
    for _ in 0..4 {
        let (x, s, k): (C::Input, C::State, C::Constants) = (rng.value(), rng.value(), rng.value());
        let (mut a, mut b) = (s.clone(), s);
        let y = cell.step(&x, &mut a, &k);
        let (y_taped, _) = cell.step_forward(&x, &mut b, &k);
        assert_eq!(y, y_taped, "{name}: output");
        assert_eq!(a, b, "{name}: state");
    }
}

/// `step_forward` returns exactly `step`'s bits, in `f32`.
#[test]
fn training_forward_is_the_inference_step() {
    let dense = || Dense::<5, 2, f32>::zeros().with_use_bias(true);
    same_bits(
        "decoder",
        Decoder::<f32> {
            gru: GruCell::keras_init(1),
            dense_proj: Dense::keras_init(2),
            other_output: Dense::keras_init(3),
        },
    );
    same_bits(
        "mgu",
        Mgu {
            forget: dense(),
            candidate: dense(),
        },
    );
    same_bits(
        "peephole",
        Peephole::<f32> {
            kernel: Kernel::zeros(),
            bias: SVector::zeros(),
            peep_i: SVector::zeros(),
            peep_f: SVector::zeros(),
            peep_o: SVector::zeros(),
        },
    );
    same_bits(
        "attention",
        Attention::<f32> {
            query: Dense::zeros().with_use_bias(true),
            out: Dense::zeros().with_use_bias(true),
        },
    );
    for mode in 0..3 {
        same_bits(
            "refine",
            Refine::<f32> {
                w: SMatrix::zeros(),
                u: SMatrix::zeros(),
                mode,
            },
        );
    }
    same_bits(
        "helpers",
        Helped::<f32> {
            w: SMatrix::zeros(),
            u: SMatrix::zeros(),
        },
    );
    same_bits(
        "nested",
        SmallNestedCell::<f32> {
            kernel_1: Weights::zeros(),
            kernel_2_3: Weights::zeros(),
        },
    );
    same_bits("seed nested cell", seed_nested::NestedCell::new(1));
}

#[path = "../examples/common/nested_cell.rs"]
mod seed_nested;
