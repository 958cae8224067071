//! The backward passes against central differences in `f64`: every parameter, input and
//! initial-state scalar of each built-in cell (every option), one step and whole sequences
//! through the driver (lengths, step masks with holes, leading padding, both paddings, all
//! three directions); and the training forwards against the inference bits in `f32`.

mod gradcheck;

use gradcheck::{
    dot, flat, indices, parameter_names, parameters, set_parameters, unflat, Check, Rng,
};
use rnn::cells::{Dense, GruCell, LstmCell, SimpleRnnCell};
use rnn::nalgebra;
use rnn::ops::Activation;
use rnn::train::{zeros_like, Differentiable, Tape};
use rnn::{Cell, Direction, Mask, Nested, Padding, Rnn, ShapeError, ShapeErrorKind};

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
        &indices("input", C::Input::SIZE),
        &flat(&x),
        &flat(&dx),
        |v| loss(&cell, &unflat(v), &state),
    );
    check.against(
        "state",
        &indices("state", C::State::SIZE),
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
        &indices("state", C::State::SIZE),
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
