//! The backward passes against central differences in `f64`: every parameter, input and
//! initial-state scalar of each built-in cell (every option), one step and whole sequences
//! through the driver (lengths, step masks with holes, leading padding, both paddings, all
//! three directions); and the training forwards against the inference bits in `f32`.

use std::cell::RefCell;

use rnn::cells::{Dense, GruCell, LstmCell, SimpleRnnCell};
use rnn::nalgebra::{self, RealField};
use rnn::ops::Activation;
use rnn::parameters::Parameters;
use rnn::train::{zeros_like, Differentiable, Tape};
use rnn::{Cell, Direction, Mask, Nested, Padding, Rnn, ScalarOp, ShapeError, ShapeErrorKind};

/// The central difference's step.
const H: f64 = 1e-6;
/// The largest relative error allowed between the backward and the central difference.
const TOLERANCE: f64 = 1e-6;
/// The denominator's floor: a gradient smaller than this is compared in absolute terms (the
/// difference quotient's own rounding error is about `1e-16 · loss / H`, near 1e-9 here).
const FLOOR: f64 = 1e-2;

// ------------------------------------------------------------------------------ flattening

/// Reads every scalar of a value, in `zip_apply`'s order.
struct Read(RefCell<Vec<f64>>);

impl ScalarOp for Read {
    fn apply<T: RealField>(&self, a: T, _: T) -> T {
        self.0
            .borrow_mut()
            .push(a.to_subset().expect("a real scalar"));
        a
    }
}

/// Writes every scalar of a value, in `zip_apply`'s order.
struct Write<'a>(RefCell<std::slice::Iter<'a, f64>>);

impl ScalarOp for Write<'_> {
    fn apply<T: RealField>(&self, _: T, _: T) -> T {
        T::from_subset(self.0.borrow_mut().next().expect("enough values"))
    }
}

fn flat<N: Nested>(value: &N) -> Vec<f64> {
    let read = Read(RefCell::new(Vec::new()));
    value.clone().zip_apply(value, &read);
    read.0.into_inner()
}

fn unflat<N: Nested>(values: &[f64]) -> N {
    assert_eq!(values.len(), N::SIZE);
    let mut value = N::zeros();
    let zeros = N::zeros();
    value.zip_apply(&zeros, &Write(RefCell::new(values.iter())));
    value
}

fn dot<N: Nested>(a: &N, b: &N) -> f64 {
    flat(a).iter().zip(flat(b)).map(|(a, b)| a * b).sum()
}

fn parameters<P: Parameters>(p: &P) -> Vec<f64> {
    let mut values = Vec::new();
    p.for_each_parameter(|_, tensor| tensor.read(&mut |v| values.push(v)));
    values
}

fn set_parameters<P: Parameters>(p: &mut P, values: &[f64]) {
    let mut values = values.iter();
    p.for_each_parameter_mut(|_, tensor, _| tensor.write(&mut || *values.next().unwrap()));
    assert!(values.next().is_none(), "every value written");
}

/// Where each parameter scalar lives, for the failure messages.
fn parameter_names<P: Parameters>(p: &P) -> Vec<String> {
    let mut names = Vec::new();
    p.for_each_parameter(|path, tensor| {
        for i in 0..tensor.len() {
            names.push(format!("{path}[{i}]"));
        }
    });
    names
}

// --------------------------------------------------------------------------------- values

/// A small deterministic generator (xorshift), seeded by the case's name.
struct Rng(u64);

impl Rng {
    fn new(name: &str) -> Self {
        Rng(name.bytes().fold(0x9e37_79b9_7f4a_7c15, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        }) | 1)
    }

    /// Uniform in `[-1, 1)`.
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    fn value<N: Nested>(&mut self) -> N {
        unflat(&(0..N::SIZE).map(|_| self.next()).collect::<Vec<_>>())
    }

    /// Every parameter of `cell` uniform in `[-scale, scale)`.
    fn parameters<P: Parameters>(&mut self, mut cell: P, scale: f64) -> P {
        let values: Vec<f64> = (0..cell.count_params())
            .map(|_| scale * self.next())
            .collect();
        set_parameters(&mut cell, &values);
        cell
    }
}

// ----------------------------------------------------------------------------- comparison

/// Compares analytic gradients with central differences of `loss` along each coordinate.
struct Check<'a> {
    case: &'a str,
    worst: f64,
}

impl Check<'_> {
    /// `analytic[i]` against `(loss(v + h e_i) − loss(v − h e_i)) / 2h` around `point`.
    fn against(
        &mut self,
        what: &str,
        names: &[String],
        point: &[f64],
        analytic: &[f64],
        loss: impl Fn(&[f64]) -> f64,
    ) {
        assert_eq!(point.len(), analytic.len(), "{}: {what} sizes", self.case);
        let mut probe = point.to_vec();
        for i in 0..point.len() {
            probe[i] = point[i] + H;
            let up = loss(&probe);
            probe[i] = point[i] - H;
            let down = loss(&probe);
            probe[i] = point[i];
            let numeric = (up - down) / (2.0 * H);
            let error =
                (analytic[i] - numeric).abs() / analytic[i].abs().max(numeric.abs()).max(FLOOR);
            self.worst = self.worst.max(error);
            assert!(
                error < TOLERANCE,
                "{}: d loss / d {what} {}: backward {:e}, central difference {:e} (relative error {error:e})",
                self.case,
                names.get(i).cloned().unwrap_or_else(|| i.to_string()),
                analytic[i],
                numeric,
            );
        }
    }
}

fn indices(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

// ------------------------------------------------------------------------------- one step

/// One step from a random state, the loss a random weighting of the output and the new state:
/// the backward's parameter, input and state adjoints against central differences.
fn check_step<C>(case: &str, cell: C)
where
    C: Differentiable<Constants = ()> + Clone,
{
    let mut rng = Rng::new(case);
    let cell = rng.parameters(cell, 0.5);
    let x: C::Input = rng.value();
    let state: C::State = rng.value();
    let (w_output, w_state): (C::Output, C::State) = (rng.value(), rng.value());
    let loss = |cell: &C, x: &C::Input, state: &C::State| {
        let mut state = state.clone();
        let y = cell.step(x, &mut state, &());
        dot(&y, &w_output) + dot(&state, &w_state)
    };

    let mut after = state.clone();
    let (_, residual) = cell.step_forward(&x, &mut after, &());
    let mut d_state = w_state.clone();
    let mut grads = zeros_like(&cell);
    let dx = cell.step_backward(
        &x,
        &residual,
        &w_output,
        &mut d_state,
        &(),
        &mut (),
        &mut grads,
    );

    let mut check = Check { case, worst: 0.0 };
    check.against(
        "parameter",
        &parameter_names(&cell),
        &parameters(&cell),
        &parameters(&grads),
        |p| {
            let mut probe = cell.clone();
            set_parameters(&mut probe, p);
            loss(&probe, &x, &state)
        },
    );
    check.against(
        "input",
        &indices(C::Input::SIZE),
        &flat(&x),
        &flat(&dx),
        |v| loss(&cell, &unflat(v), &state),
    );
    check.against(
        "state",
        &indices(C::State::SIZE),
        &flat(&state),
        &flat(&d_state),
        |v| loss(&cell, &x, &unflat(v)),
    );
    println!("{case:<40} worst relative error {:.1e}", check.worst);
}

const ACTIVATIONS: [Activation; 6] = [
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::HardSigmoid,
    Activation::Relu,
    Activation::Linear,
    Activation::Softmax,
];

#[test]
fn simple_rnn_step() {
    for activation in ACTIVATIONS {
        for use_bias in [true, false] {
            let cell = SimpleRnnCell::<3, 4, f64>::zeros()
                .with_activation(activation)
                .with_use_bias(use_bias);
            check_step(&format!("simple_rnn {activation:?} bias={use_bias}"), cell);
        }
    }
}

#[test]
fn dense_step() {
    for activation in ACTIVATIONS {
        for use_bias in [true, false] {
            let cell = Dense::<3, 4, f64>::zeros()
                .with_activation(activation)
                .with_use_bias(use_bias);
            check_step(&format!("dense {activation:?} bias={use_bias}"), cell);
        }
    }
}

/// `(activation, recurrent_activation)` pairs: Keras's defaults, then each other activation in
/// each place.
const GATE_ACTIVATIONS: [(Activation, Activation); 6] = [
    (Activation::Tanh, Activation::Sigmoid),
    (Activation::Relu, Activation::HardSigmoid),
    (Activation::Sigmoid, Activation::Tanh),
    (Activation::Linear, Activation::Sigmoid),
    (Activation::HardSigmoid, Activation::Linear),
    (Activation::Softmax, Activation::Relu),
];

fn grus() -> Vec<(String, GruCell<3, 4, f64>)> {
    let mut cells = Vec::new();
    for reset_after in [true, false] {
        for use_bias in [true, false] {
            for (activation, recurrent) in GATE_ACTIVATIONS {
                let cell = GruCell {
                    reset_after,
                    ..GruCell::zeros()
                }
                .with_use_bias(use_bias)
                .with_activation(activation)
                .with_recurrent_activation(recurrent);
                let name = format!(
                    "gru reset_after={reset_after} bias={use_bias} {activation:?}/{recurrent:?}"
                );
                cells.push((name, cell));
            }
        }
    }
    cells
}

fn lstms() -> Vec<(String, LstmCell<3, 4, f64>)> {
    let mut cells = Vec::new();
    for use_bias in [true, false] {
        for (activation, recurrent) in GATE_ACTIVATIONS {
            let cell = LstmCell::zeros()
                .with_use_bias(use_bias)
                .with_activation(activation)
                .with_recurrent_activation(recurrent);
            cells.push((
                format!("lstm bias={use_bias} {activation:?}/{recurrent:?}"),
                cell,
            ));
        }
    }
    cells
}

#[test]
fn gru_step() {
    for (name, cell) in grus() {
        check_step(&name, cell);
    }
}

#[test]
fn lstm_step() {
    for (name, cell) in lstms() {
        check_step(&name, cell);
    }
}

/// A GRU without `reset_after` ignores a recurrent bias, so its gradient stays zero.
#[test]
fn gru_reset_before_ignores_the_recurrent_bias() {
    let mut rng = Rng::new("gru reset_before recurrent bias");
    let cell = rng.parameters(
        GruCell::<3, 4, f64> {
            reset_after: false,
            ..GruCell::zeros()
        },
        0.5,
    );
    assert!(cell.recurrent_bias.is_some());
    let (x, mut state): (_, _) = (rng.value(), rng.value());
    let (_, residual) = cell.step_forward(&x, &mut state, &());
    let mut grads = zeros_like(&cell);
    let mut d_state = rng.value();
    cell.step_backward(
        &x,
        &residual,
        &rng.value(),
        &mut d_state,
        &(),
        &mut (),
        &mut grads,
    );
    assert_eq!(grads.recurrent_bias, Some([nalgebra::SVector::zeros(); 3]));
    assert_ne!(grads.bias, Some([nalgebra::SVector::zeros(); 3]));
}

// ------------------------------------------------------------------------ bits of the step

fn bits<N: Nested>(value: &N) -> Vec<u32> {
    let mut out = vec![0.0f32; N::SIZE];
    value.to_f32_slice(&mut out).unwrap();
    out.iter().map(|x| x.to_bits()).collect()
}

/// Eight steps of `step_forward` against eight of `step`, bit for bit (`f32`).
fn check_step_bits<C: Differentiable<Constants = ()> + Clone>(case: &str, cell: C) {
    let mut rng = Rng::new(case);
    let cell = rng.parameters(cell, 0.8);
    let (mut inference, mut training): (C::State, C::State) = (rng.value(), C::State::zeros());
    training.clone_from(&inference);
    for step in 0..8 {
        let x: C::Input = rng.value();
        let y = cell.step(&x, &mut inference, &());
        let (y_train, _) = cell.step_forward(&x, &mut training, &());
        assert_eq!(bits(&y_train), bits(&y), "{case}: output of step {step}");
        assert_eq!(
            bits(&training),
            bits(&inference),
            "{case}: state after step {step}"
        );
    }
}

#[test]
fn step_forward_is_the_step_bit_for_bit() {
    for activation in ACTIVATIONS {
        let cell = SimpleRnnCell::<3, 4>::zeros().with_activation(activation);
        check_step_bits(&format!("simple_rnn {activation:?}"), cell);
        let cell = Dense::<3, 4>::zeros().with_activation(activation);
        check_step_bits(&format!("dense {activation:?}"), cell);
    }
    for reset_after in [true, false] {
        for (activation, recurrent) in GATE_ACTIVATIONS {
            let cell = GruCell::<3, 4> {
                reset_after,
                ..GruCell::zeros()
            }
            .with_activation(activation)
            .with_recurrent_activation(recurrent);
            check_step_bits(&format!("gru {reset_after} {activation:?}"), cell);
        }
    }
    for (activation, recurrent) in GATE_ACTIVATIONS {
        let cell = LstmCell::<3, 4>::zeros()
            .with_activation(activation)
            .with_recurrent_activation(recurrent);
        check_step_bits(&format!("lstm {activation:?}/{recurrent:?}"), cell);
    }
}

// ------------------------------------------------------------------------------ sequences

/// The sequences' length.
const STEPS: usize = 5;

/// The masks of the driver checks: none, a length, holes, leading padding, nothing valid.
const MASKS: [Mask<'static>; 6] = [
    Mask::All,
    Mask::Length(3),
    Mask::Steps(&[true, false, true, true, false]),
    Mask::Steps(&[false, false, true, true, true]),
    Mask::Steps(&[false; STEPS]),
    Mask::Length(0),
];

const DIRECTIONS: [Direction; 3] = [
    Direction::Forward,
    Direction::GoBackwards,
    Direction::Reversed,
];
const PADDINGS: [Padding; 2] = [Padding::CarryLastOutput, Padding::Zero];

/// A run of `STEPS` steps from a random state, the loss a random weighting of every output
/// and the final state: the driver's backward against central differences, for every mask,
/// direction and padding. One tape serves every run.
fn check_sequences<C>(name: &str, cell: C)
where
    C: Differentiable<Constants = ()> + Clone,
{
    let mut tape = Tape::new();
    for mask in MASKS {
        for direction in DIRECTIONS {
            for padding in PADDINGS {
                let case = format!("{name} {mask:?} {direction:?} {padding:?}");
                let rnn = Rnn::new(cell.clone()).direction(direction).padding(padding);
                check_sequence(&case, rnn, mask, &mut tape);
            }
        }
    }
}

fn check_sequence<C>(case: &str, rnn: Rnn<C>, mask: Mask<'_>, tape: &mut Tape<C::Residual>)
where
    C: Differentiable<Constants = ()> + Clone,
{
    let mut rng = Rng::new(case);
    let rnn = rng.parameters(rnn, 0.5);
    let xs: Vec<C::Input> = (0..STEPS).map(|_| rng.value()).collect();
    let initial: C::State = rng.value();
    let w_outputs: Vec<C::Output> = (0..STEPS).map(|_| rng.value()).collect();
    let w_state: C::State = rng.value();
    let loss = |rnn: &Rnn<C>, xs: &[C::Input], initial: &C::State| {
        let run = rnn.run_masked_from(xs, mask, initial.clone(), &()).unwrap();
        let outputs: f64 = run
            .outputs
            .iter()
            .zip(&w_outputs)
            .map(|(y, w)| dot(y, w))
            .sum();
        outputs + dot(&run.state, &w_state)
    };

    let run = rnn
        .run_taped(&xs, mask, initial.clone(), &(), tape)
        .unwrap();
    assert_eq!(
        run,
        rnn.run_masked_from(&xs, mask, initial.clone(), &())
            .unwrap(),
        "{case}: forward"
    );
    let grads = rnn
        .backward(tape, &xs, &w_outputs, w_state.clone(), &())
        .unwrap();

    let mut check = Check { case, worst: 0.0 };
    check.against(
        "parameter",
        &parameter_names(rnn.cell()),
        &parameters(&rnn),
        &parameters(&grads.parameters),
        |p| {
            let mut probe = rnn.clone();
            set_parameters(&mut probe, p);
            loss(&probe, &xs, &initial)
        },
    );
    let split =
        |flat: &[f64]| -> Vec<C::Input> { flat.chunks(C::Input::SIZE).map(unflat).collect() };
    let flat_inputs = |xs: &[C::Input]| -> Vec<f64> { xs.iter().flat_map(flat).collect() };
    let names: Vec<String> = (0..STEPS)
        .flat_map(|t| (0..C::Input::SIZE).map(move |i| format!("x[{t}][{i}]")))
        .collect();
    check.against(
        "input",
        &names,
        &flat_inputs(&xs),
        &flat_inputs(&grads.inputs),
        |v| loss(&rnn, &split(v), &initial),
    );
    check.against(
        "initial state",
        &indices(C::State::SIZE),
        &flat(&initial),
        &flat(&grads.initial_state),
        |v| loss(&rnn, &xs, &unflat(v)),
    );
    println!("{case:<72} worst relative error {:.1e}", check.worst);
}

#[test]
fn simple_rnn_sequences() {
    check_sequences("simple_rnn", SimpleRnnCell::<3, 4, f64>::zeros());
    check_sequences(
        "simple_rnn relu",
        SimpleRnnCell::<3, 4, f64>::zeros().with_activation(Activation::Relu),
    );
}

#[test]
fn gru_sequences() {
    for reset_after in [true, false] {
        let cell = GruCell::<3, 4, f64> {
            reset_after,
            ..GruCell::zeros()
        }
        .with_use_bias(true);
        check_sequences(&format!("gru reset_after={reset_after}"), cell);
    }
}

#[test]
fn lstm_sequences() {
    check_sequences("lstm", LstmCell::<3, 4, f64>::zeros());
}

#[test]
fn dense_sequences() {
    check_sequences(
        "dense softmax",
        Dense::<3, 4, f64>::zeros().with_activation(Activation::Softmax),
    );
}

/// The taped forward computes `run_masked_from`'s bits (`f32`), whatever the tape held.
#[test]
fn taped_run_is_the_masked_run_bit_for_bit() {
    fn check<C: Differentiable<Constants = ()> + Clone>(name: &str, cell: C) {
        let mut tape = Tape::new();
        for mask in MASKS {
            for direction in DIRECTIONS {
                for padding in PADDINGS {
                    let case = format!("{name} {mask:?} {direction:?} {padding:?}");
                    let mut rng = Rng::new(&case);
                    let rnn = rng.parameters(Rnn::new(cell.clone()), 0.8);
                    let rnn = rnn.direction(direction).padding(padding);
                    let xs: Vec<C::Input> = (0..STEPS).map(|_| rng.value()).collect();
                    let initial: C::State = rng.value();
                    let taped = rnn
                        .run_taped(&xs, mask, initial.clone(), &(), &mut tape)
                        .unwrap();
                    let run = rnn.run_masked_from(&xs, mask, initial, &()).unwrap();
                    let all = |outputs: &[C::Output]| -> Vec<u32> {
                        outputs.iter().flat_map(bits).collect()
                    };
                    assert_eq!(all(&taped.outputs), all(&run.outputs), "{case}: outputs");
                    assert_eq!(bits(&taped.state), bits(&run.state), "{case}: state");
                    assert_eq!(tape.len(), STEPS, "{case}: steps taped");
                }
            }
        }
    }
    check("simple_rnn", SimpleRnnCell::<3, 4>::zeros());
    check("gru", GruCell::<3, 4>::zeros());
    check(
        "gru reset_before",
        GruCell::<3, 4> {
            reset_after: false,
            ..GruCell::zeros()
        },
    );
    check("lstm", LstmCell::<3, 4>::zeros());
    check(
        "dense",
        Dense::<3, 4>::zeros().with_activation(Activation::Tanh),
    );
}

/// Adjoints that do not match the tape are an error naming both counts.
#[test]
fn backward_checks_its_lengths() {
    let rnn = Rnn::new(LstmCell::<3, 4, f64>::keras_init(1));
    let xs = vec![nalgebra::SVector::<f64, 3>::zeros(); STEPS];
    let mut tape = Tape::new();
    let state = rnn.cell().initial_state(&());
    rnn.run_taped(&xs, Mask::Length(2), state.clone(), &(), &mut tape)
        .unwrap();
    assert_eq!((tape.len(), tape.valid_steps()), (STEPS, 2));
    let d_outputs = vec![nalgebra::SVector::zeros(); STEPS - 1];
    assert_eq!(
        rnn.backward(&tape, &xs, &d_outputs, state.clone(), &())
            .unwrap_err(),
        ShapeError {
            what: "output adjoints",
            expected: STEPS,
            found: STEPS - 1,
            kind: ShapeErrorKind::Steps
        },
    );
    assert_eq!(
        rnn.backward(&tape, &xs[1..], &d_outputs, state, &())
            .unwrap_err(),
        ShapeError {
            what: "inputs",
            expected: STEPS,
            found: STEPS - 1,
            kind: ShapeErrorKind::Steps
        },
    );
    // A mask that does not fit: the run's error, nothing taped.
    let err = rnn.run_taped(
        &xs,
        Mask::Length(STEPS + 1),
        rnn.cell().initial_state(&()),
        &(),
        &mut tape,
    );
    assert!(err.is_err());
}
