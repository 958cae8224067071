//! The backward that `#[cell]` generates, against central differences in `f64`: every
//! parameter, input, constant and initial-state scalar of custom cells, one sequence at a
//! time through `run_taped`/`backward` (a length mask, a hole), and the training forward
//! against the inference step's bits.

mod gradcheck;

use gradcheck::{dot, flat, parameter_names, parameters, set_parameters, unflat, Check, Rng};
use rnn::cells::{Dense, GruCell};
use rnn::nalgebra::{SMatrix, SVector};
use rnn::ops;
use rnn::parameters::Parameters;
use rnn::train::{Differentiable, Tape};
use rnn::{cell, Cell, Mask, Nested, Real, Rnn};

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

/// `step_forward` returns exactly `step`'s bits, in `f32`.
#[test]
fn training_forward_is_the_inference_step() {
    let mut rng = Rng::new("bits");
    let cell = rng.parameters(
        Decoder::<f32> {
            gru: GruCell::keras_init(1),
            dense_proj: Dense::keras_init(2),
            other_output: Dense::keras_init(3),
        },
        0.7,
    );
    let (x, h, z): (SVector<f32, 3>, SVector<f32, 4>, SVector<f32, 2>) =
        (rng.value(), rng.value(), rng.value());
    let (mut a, mut b) = (h, h);
    let y = cell.step(&x, &mut a, &z);
    let (y_taped, _) = cell.step_forward(&x, &mut b, &z);
    assert_eq!(y, y_taped);
    assert_eq!(a, b);
    let _ = SMatrix::<f32, 1, 1>::zeros();
}
