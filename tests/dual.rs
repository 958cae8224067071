//! The backward passes against forward-mode dual numbers (`num_dual::Dual64`): a built-in
//! run on duals whose parts are a point and a random direction `v` over the parameters, the
//! inputs and the initial state carries `J·v` through its forward; the backward's `vᵀ∇` must
//! match it to 1e-12, relative. One pass checks every coordinate at once, with no step size:
//! the exact oracle to central differences' approximate one. Each built-in cell's step (LSTM,
//! GRU both variants, SimpleRNN, Dense), then a masked sequence through `run_taped`.

mod gradcheck;

use std::any::Any;
use std::cell::RefCell;

use gradcheck::{flat, flat_all, parameters, Rng};
use num_dual::Dual64;
use rnn::cells::{Dense, GruCell, LstmCell, SimpleRnnCell};
use rnn::nalgebra::{RealField, SVector};
use rnn::ops::Activation;
use rnn::parameters::Parameters;
use rnn::train::{zeros_like, Differentiable, Tape};
use rnn::weights::Kernel;
use rnn::{cell, ops, Cell, Direction, Mask, Nested, Padding, Real, Rnn, ScalarOp};

/// The largest relative difference allowed between `J·v` and `vᵀ∇`.
const TOLERANCE: f64 = 1e-12;

/// Sets each scalar's dual part, in `zip_apply`'s order (a test-only downcast: the scalar
/// type of a value of duals is `Dual64`).
struct SetEps<'a>(RefCell<std::slice::Iter<'a, f64>>);

impl ScalarOp for SetEps<'_> {
    fn apply<T: RealField>(&self, mut a: T, _: T) -> T {
        let eps = *self.0.borrow_mut().next().expect("a direction per scalar");
        (&mut a as &mut dyn Any)
            .downcast_mut::<Dual64>()
            .expect("a dual scalar")
            .eps = eps;
        a
    }
}

/// Reads each scalar's dual part.
struct ReadEps(RefCell<Vec<f64>>);

impl ScalarOp for ReadEps {
    fn apply<T: RealField>(&self, a: T, _: T) -> T {
        let dual = (&a as &dyn Any).downcast_ref::<Dual64>().expect("a dual");
        self.0.borrow_mut().push(dual.eps);
        a
    }
}

/// A value of duals: `point + ε·direction`, both given as an `f64` value of the same shape.
fn dual<D: Nested, F: Nested>(point: &F, direction: &F) -> D {
    let mut value: D = gradcheck::unflat(&flat(point));
    let (zeros, eps) = (D::zeros(), flat(direction));
    value.zip_apply(&zeros, &SetEps(RefCell::new(eps.iter())));
    value
}

/// The dual parts of a value of duals.
fn eps<D: Nested>(value: &D) -> Vec<f64> {
    let read = ReadEps(RefCell::new(Vec::new()));
    value.clone().zip_apply(value, &read);
    read.0.into_inner()
}

fn d(re: f64, eps: f64) -> Dual64 {
    Dual64::new(re, eps)
}

fn kernel<const IN: usize, const G: usize, const H: usize>(
    w: &Kernel<f64, IN, G, H>,
    v: &Kernel<f64, IN, G, H>,
) -> Kernel<Dual64, IN, G, H> {
    let mut k = Kernel::zeros();
    for ((row, w), v) in k.rows_mut().iter_mut().zip(w.rows()).zip(v.rows()) {
        for ((gate, w), v) in row.iter_mut().zip(w).zip(v) {
            for ((x, &w), &v) in gate.iter_mut().zip(w).zip(v) {
                *x = d(w, v);
            }
        }
    }
    k
}

fn vector<const H: usize>(w: &SVector<f64, H>, v: &SVector<f64, H>) -> SVector<Dual64, H> {
    SVector::from_fn(|i, _| d(w[i], v[i]))
}

fn biases<const G: usize, const H: usize>(
    w: &Option<[SVector<f64, H>; G]>,
    v: &Option<[SVector<f64, H>; G]>,
) -> Option<[SVector<Dual64, H>; G]> {
    w.as_ref()
        .zip(v.as_ref())
        .map(|(w, v)| std::array::from_fn(|g| vector(&w[g], &v[g])))
}

/// A cell on duals: its parameters `self + ε·direction`.
trait ToDual: Differentiable + Clone {
    type Dual: Cell<Input: Nested, State: Nested, Output: Nested, Constants = ()>;
    fn to_dual(&self, direction: &Self) -> Self::Dual;
}

impl<const I: usize, const H: usize> ToDual for LstmCell<I, H, f64> {
    type Dual = LstmCell<I, H, Dual64>;
    fn to_dual(&self, v: &Self) -> Self::Dual {
        LstmCell {
            kernel: kernel(&self.kernel, &v.kernel),
            recurrent_kernel: kernel(&self.recurrent_kernel, &v.recurrent_kernel),
            bias: biases(&self.bias, &v.bias),
            ..LstmCell::zeros()
                .with_activation(self.activation)
                .with_recurrent_activation(self.recurrent_activation)
        }
    }
}

impl<const I: usize, const H: usize> ToDual for GruCell<I, H, f64> {
    type Dual = GruCell<I, H, Dual64>;
    fn to_dual(&self, v: &Self) -> Self::Dual {
        GruCell {
            kernel: kernel(&self.kernel, &v.kernel),
            recurrent_kernel: kernel(&self.recurrent_kernel, &v.recurrent_kernel),
            bias: biases(&self.bias, &v.bias),
            recurrent_bias: biases(&self.recurrent_bias, &v.recurrent_bias),
            activation: self.activation,
            recurrent_activation: self.recurrent_activation,
            reset_after: self.reset_after,
        }
    }
}

impl<const I: usize, const H: usize> ToDual for SimpleRnnCell<I, H, f64> {
    type Dual = SimpleRnnCell<I, H, Dual64>;
    fn to_dual(&self, v: &Self) -> Self::Dual {
        SimpleRnnCell {
            kernel: kernel(&self.kernel, &v.kernel),
            recurrent_kernel: kernel(&self.recurrent_kernel, &v.recurrent_kernel),
            bias: self
                .bias
                .as_ref()
                .zip(v.bias.as_ref())
                .map(|(w, v)| vector(w, v)),
            activation: self.activation,
        }
    }
}

impl<const I: usize, const U: usize> ToDual for Dense<I, U, f64> {
    type Dual = Dense<I, U, Dual64>;
    fn to_dual(&self, v: &Self) -> Self::Dual {
        Dense {
            kernel: kernel(&self.kernel, &v.kernel),
            bias: self
                .bias
                .as_ref()
                .zip(v.bias.as_ref())
                .map(|(w, v)| vector(w, v)),
            activation: self.activation,
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// `J·v` against `vᵀ∇`, relative to the larger of the two; `terms` (the sum of `|∂_i L · v_i|`)
/// must not dwarf them, or a cancelling sum would hide errors in its terms.
fn compare(case: &str, jv: f64, vg: f64, terms: f64) {
    let scale = jv.abs().max(vg.abs());
    assert!(
        scale > 1e-3 * terms,
        "{case}: the terms cancel ({scale:e} of {terms:e})"
    );
    let error = (jv - vg).abs() / scale;
    println!("{case:<48} J·v {jv:+.15e}  vᵀ∇ {vg:+.15e}  relative {error:.1e}");
    assert!(
        error < TOLERANCE,
        "{case}: J·v {jv:e}, vᵀ∇ {vg:e}, relative error {error:e}"
    );
}

/// One step of `cell` at a random point: the loss `w_y·y + w_s·s'`, its directional
/// derivative along a random `v` over parameters, input and state, both ways.
fn check_step<C>(case: &str, cell: C)
where
    C: ToDual<Constants = ()>,
    C::Dual: Cell<Constants = ()>,
{
    let mut rng = Rng::new(case);
    let cell = rng.parameters(cell, 0.5);
    let v_cell = rng.parameters(cell.clone(), 1.0);
    let (x, v_x): (C::Input, C::Input) = (rng.value(), rng.value());
    let (s, v_s): (C::State, C::State) = (rng.value(), rng.value());
    let (w_y, w_s): (C::Output, C::State) = (rng.value(), rng.value());

    let mut state = s.clone();
    let (_, residual) = cell.step_forward(&x, &mut state, &());
    let mut d_state = w_s.clone();
    let mut grads = zeros_like(&cell);
    let dx = cell.step_backward(&x, &residual, &w_y, &mut d_state, &(), &mut (), &mut grads);
    let terms = [
        (parameters(&grads), parameters(&v_cell)),
        (flat(&dx), flat(&v_x)),
        (flat(&d_state), flat(&v_s)),
    ];
    let vg: f64 = terms.iter().map(|(g, v)| dot(g, v)).sum();
    let scale: f64 = terms
        .iter()
        .flat_map(|(g, v)| g.iter().zip(v).map(|(g, v)| (g * v).abs()))
        .sum();

    let dual_cell = cell.to_dual(&v_cell);
    let mut dual_state: <C::Dual as Cell>::State = dual(&s, &v_s);
    let y = dual_cell.step(&dual(&x, &v_x), &mut dual_state, &());
    let jv = dot(&eps(&y), &flat(&w_y)) + dot(&eps(&dual_state), &flat(&w_s));
    compare(case, jv, vg, scale);
}

const GATE_ACTIVATIONS: [(Activation, Activation); 2] = [
    (Activation::Tanh, Activation::Sigmoid),
    (Activation::Relu, Activation::HardSigmoid),
];

#[test]
fn lstm_step() {
    for (act, sigma) in GATE_ACTIVATIONS {
        let cell = LstmCell::<3, 4, f64>::zeros()
            .with_activation(act)
            .with_recurrent_activation(sigma);
        check_step(&format!("lstm step {act:?}/{sigma:?}"), cell);
    }
}

#[test]
fn gru_step_both_variants() {
    for reset_after in [true, false] {
        for (act, sigma) in GATE_ACTIVATIONS {
            let cell = GruCell::<3, 4, f64> {
                reset_after,
                ..GruCell::zeros()
            }
            .with_activation(act)
            .with_recurrent_activation(sigma);
            check_step(
                &format!("gru step reset_after={reset_after} {act:?}/{sigma:?}"),
                cell,
            );
        }
    }
}

#[test]
fn simple_rnn_step() {
    for act in [Activation::Tanh, Activation::Relu] {
        let cell = SimpleRnnCell::<3, 4, f64>::zeros().with_activation(act);
        check_step(&format!("simple_rnn step {act:?}"), cell);
    }
}

#[test]
fn dense_step() {
    for act in [Activation::Linear, Activation::Sigmoid, Activation::Softmax] {
        let cell = Dense::<3, 4, f64>::zeros().with_activation(act);
        check_step(&format!("dense step {act:?}"), cell);
    }
}

/// A custom cell whose backward `#[cell]` generates from its step: a gate over a built-in
/// GRU sub-cell's new state.
#[derive(Clone, Debug, Parameters)]
struct GatedGru<T: Real> {
    gate: Dense<5, 2, T>,
    gru: GruCell<3, 2, T>,
}

#[cell]
impl<T: Real> GatedGru<T> {
    fn step(&self, #[input] x: &SVector<T, 3>, #[state] h: &mut SVector<T, 2>) -> SVector<T, 2> {
        let hx: SVector<T, 5> = ops::concat(h, x);
        let g = ops::sigmoid(&self.gate.forward(&hx));
        let mut s = *h;
        let y = self.gru.step(x, &mut s, &());
        *h = g.component_mul(&s) + (SVector::repeat(T::one()) - g).component_mul(h);
        y.component_mul(&g)
    }
}

impl ToDual for GatedGru<f64> {
    type Dual = GatedGru<Dual64>;
    fn to_dual(&self, v: &Self) -> Self::Dual {
        GatedGru {
            gate: self.gate.to_dual(&v.gate),
            gru: self.gru.to_dual(&v.gru),
        }
    }
}

#[test]
fn a_generated_backward() {
    let cell = GatedGru {
        gate: Dense::zeros().with_activation(Activation::Linear),
        gru: GruCell::zeros(),
    };
    check_step("custom cell step (generated backward)", cell.clone());
    for (direction, padding) in [
        (Direction::Forward, Padding::CarryLastOutput),
        (Direction::Reversed, Padding::Zero),
    ] {
        check_sequence(
            &format!("custom cell sequence {direction:?} {padding:?}"),
            cell.clone(),
            direction,
            padding,
        );
    }
}

/// A masked sequence (a hole, trailing padding) through `run_taped`/`backward`, the loss a
/// weighting of every output and of the final state, against the same run on duals.
fn check_sequence<C>(case: &str, cell: C, direction: Direction, padding: Padding)
where
    C: ToDual<Constants = ()>,
    C::Dual: Cell<Constants = ()>,
{
    const STEPS: usize = 6;
    let mask = Mask::Steps(&[true, false, true, true, false, false]);
    let mut rng = Rng::new(case);
    let rnn = Rnn::new(rng.parameters(cell, 0.5))
        .direction(direction)
        .padding(padding);
    let v_cell = rng.parameters(rnn.cell().clone(), 1.0);
    let (xs, v_xs): (Vec<C::Input>, Vec<C::Input>) = (rng.values(STEPS), rng.values(STEPS));
    let (s0, v_s0): (C::State, C::State) = (rng.value(), rng.value());
    let (w_ys, w_s): (Vec<C::Output>, C::State) = (rng.values(STEPS), rng.value());

    let mut tape = Tape::new();
    rnn.run_taped(&xs, mask, s0.clone(), &(), &mut tape)
        .unwrap();
    let grads = rnn.backward(&tape, &xs, &w_ys, w_s.clone(), &()).unwrap();
    let terms = [
        (parameters(&grads.parameters), parameters(&v_cell)),
        (flat_all(&grads.inputs), flat_all(&v_xs)),
        (flat(&grads.initial_state), flat(&v_s0)),
    ];
    let vg: f64 = terms.iter().map(|(g, v)| dot(g, v)).sum();
    let scale: f64 = terms
        .iter()
        .flat_map(|(g, v)| g.iter().zip(v).map(|(g, v)| (g * v).abs()))
        .sum();

    let dual_rnn = Rnn::new(rnn.cell().to_dual(&v_cell))
        .direction(direction)
        .padding(padding);
    let dual_xs: Vec<<C::Dual as Cell>::Input> =
        xs.iter().zip(&v_xs).map(|(x, v)| dual(x, v)).collect();
    let run = dual_rnn
        .run_masked_from(&dual_xs, mask, dual(&s0, &v_s0), &())
        .unwrap();
    let jv = run
        .outputs
        .iter()
        .zip(&w_ys)
        .map(|(y, w)| dot(&eps(y), &flat(w)))
        .sum::<f64>()
        + dot(&eps(&run.state), &flat(&w_s));
    compare(case, jv, vg, scale);
}

#[test]
fn masked_sequences_through_run_taped() {
    for (direction, padding) in [
        (Direction::Forward, Padding::CarryLastOutput),
        (Direction::GoBackwards, Padding::Zero),
    ] {
        let tag = format!("{direction:?} {padding:?}");
        check_sequence(
            &format!("sequence lstm {tag}"),
            LstmCell::<3, 4, f64>::zeros(),
            direction,
            padding,
        );
        check_sequence(
            &format!("sequence gru {tag}"),
            GruCell::<3, 4, f64>::zeros(),
            direction,
            padding,
        );
        check_sequence(
            &format!("sequence simple_rnn {tag}"),
            SimpleRnnCell::<3, 4, f64>::zeros(),
            direction,
            padding,
        );
    }
}
