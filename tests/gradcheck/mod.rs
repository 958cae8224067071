//! The central-difference check of `tests/gradients.rs`, shared by the driver and layer
//! gradient tests: values flattened to `f64`, a deterministic generator, and the comparison
//! with the same step, tolerance and floor.

#![allow(dead_code)]

use std::cell::RefCell;

use rnn::nalgebra::RealField;
use rnn::parameters::Parameters;
use rnn::{Nested, ScalarOp};

/// The central difference's step.
pub const H: f64 = 1e-6;
/// The largest relative error allowed between the backward and the central difference.
pub const TOLERANCE: f64 = 1e-6;
/// The denominator's floor: a gradient smaller than this is compared in absolute terms (the
/// difference quotient's own rounding error is about `1e-16 · loss / H`, near 1e-9 here).
pub const FLOOR: f64 = 1e-2;

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

pub fn flat<N: Nested>(value: &N) -> Vec<f64> {
    let read = Read(RefCell::new(Vec::new()));
    value.clone().zip_apply(value, &read);
    read.0.into_inner()
}

pub fn unflat<N: Nested>(values: &[f64]) -> N {
    assert_eq!(values.len(), N::SIZE);
    let mut value = N::zeros();
    let zeros = N::zeros();
    value.zip_apply(&zeros, &Write(RefCell::new(values.iter())));
    value
}

/// Every scalar of a sequence of values, in order.
pub fn flat_all<N: Nested>(values: &[N]) -> Vec<f64> {
    values.iter().flat_map(flat).collect()
}

/// The inverse of [`flat_all`].
pub fn unflat_all<N: Nested>(values: &[f64]) -> Vec<N> {
    values.chunks(N::SIZE).map(unflat).collect()
}

pub fn dot<N: Nested>(a: &N, b: &N) -> f64 {
    flat(a).iter().zip(flat(b)).map(|(a, b)| a * b).sum()
}

pub fn parameters<P: Parameters>(p: &P) -> Vec<f64> {
    let mut values = Vec::new();
    p.for_each_parameter(|_, tensor| tensor.read(&mut |v| values.push(v)));
    values
}

pub fn set_parameters<P: Parameters>(p: &mut P, values: &[f64]) {
    let mut values = values.iter();
    p.for_each_parameter_mut(|_, tensor, _| tensor.write(&mut || *values.next().unwrap()));
    assert!(values.next().is_none(), "every value written");
}

/// Where each parameter scalar lives, for the failure messages.
pub fn parameter_names<P: Parameters>(p: &P) -> Vec<String> {
    let mut names = Vec::new();
    p.for_each_parameter(|path, tensor| {
        for i in 0..tensor.len() {
            names.push(format!("{path}[{i}]"));
        }
    });
    names
}

pub fn indices(what: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{what}[{i}]")).collect()
}

/// A small deterministic generator (xorshift), named by the case.
pub struct Rng(u64);

impl Rng {
    pub fn new(name: &str) -> Self {
        Rng(name.bytes().fold(0x9e37_79b9_7f4a_7c15, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        }) | 1)
    }

    /// Uniform in `[-1, 1)`.
    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    pub fn value<N: Nested>(&mut self) -> N {
        unflat(&(0..N::SIZE).map(|_| self.next()).collect::<Vec<_>>())
    }

    pub fn values<N: Nested>(&mut self, n: usize) -> Vec<N> {
        (0..n).map(|_| self.value()).collect()
    }

    /// Every parameter of `p` uniform in `[-scale, scale)`.
    pub fn parameters<P: Parameters>(&mut self, mut p: P, scale: f64) -> P {
        let values: Vec<f64> = (0..p.count_params()).map(|_| scale * self.next()).collect();
        set_parameters(&mut p, &values);
        p
    }
}

/// Compares analytic gradients with central differences of a loss along each coordinate.
pub struct Check<'a> {
    pub case: &'a str,
    pub worst: f64,
}

impl<'a> Check<'a> {
    pub fn new(case: &'a str) -> Self {
        Check { case, worst: 0.0 }
    }

    /// `analytic[i]` against `(loss(v + h e_i) − loss(v − h e_i)) / 2h` around `point`.
    pub fn against(
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

    pub fn report(&self) {
        println!("{:<72} worst relative error {:.1e}", self.case, self.worst);
    }
}

/// Checks one sequence's gradients, of the parameters, the inputs and the initial state,
/// against central differences of `loss(rnn, inputs, initial state)`, and reports.
pub fn check_sequence_gradients<C>(
    case: &str,
    (rnn, xs, initial): (&rnn::Rnn<C>, &[C::Input], &C::State),
    grads: &rnn::train::Gradients<C>,
    loss: impl Fn(&rnn::Rnn<C>, &[C::Input], &C::State) -> f64,
) where
    C: rnn::Cell + Parameters + Clone,
{
    let mut check = Check::new(case);
    check.against(
        "parameter",
        &parameter_names(rnn.cell()),
        &parameters(rnn),
        &parameters(&grads.parameters),
        |p| {
            let mut probe = rnn.clone();
            set_parameters(&mut probe, p);
            loss(&probe, xs, initial)
        },
    );
    check.against(
        "input",
        &indices("x", xs.len() * C::Input::SIZE),
        &flat_all(xs),
        &flat_all(&grads.inputs),
        |v| loss(rnn, &unflat_all(v), initial),
    );
    check.against(
        "initial state",
        &indices("s0", C::State::SIZE),
        &flat(initial),
        &flat(&grads.initial_state),
        |v| loss(rnn, xs, &unflat(v)),
    );
    check.report();
}

/// A batch's point: the layer, every sequence's inputs, the initial states.
type BatchPoint<'a, C> = (
    &'a rnn::Rnn<C>,
    &'a [Vec<<C as rnn::Cell>::Input>],
    &'a [<C as rnn::Cell>::State],
);

/// Checks a batch's gradients, of the parameters, every sequence's inputs and the initial
/// states, against central differences of `loss(rnn, sequences, initial states)`, and reports.
pub fn check_batch_gradients<C>(
    case: &str,
    (rnn, xs, initial): BatchPoint<'_, C>,
    grads: &rnn::train::BatchGradients<C>,
    loss: impl Fn(&rnn::Rnn<C>, &[Vec<C::Input>], &[C::State]) -> f64,
) where
    C: rnn::Cell + Parameters + Clone,
{
    let mut check = Check::new(case);
    check.against(
        "parameter",
        &parameter_names(rnn.cell()),
        &parameters(rnn),
        &parameters(&grads.parameters),
        |p| {
            let mut probe = rnn.clone();
            set_parameters(&mut probe, p);
            loss(&probe, xs, initial)
        },
    );
    let lengths: Vec<usize> = xs.iter().map(Vec::len).collect();
    let names: Vec<String> = lengths
        .iter()
        .enumerate()
        .flat_map(|(b, &t)| (0..t * C::Input::SIZE).map(move |i| format!("x[{b}] scalar {i}")))
        .collect();
    check.against(
        "input",
        &names,
        &flat_all(&xs.concat()),
        &flat_all(&grads.inputs.concat()),
        |v| {
            let mut all = unflat_all::<C::Input>(v).into_iter();
            let xs: Vec<Vec<C::Input>> = lengths
                .iter()
                .map(|&t| all.by_ref().take(t).collect())
                .collect();
            loss(rnn, &xs, initial)
        },
    );
    check.against(
        "initial state",
        &indices("s0", initial.len() * C::State::SIZE),
        &flat_all(initial),
        &flat_all(&grads.initial_states),
        |v| loss(rnn, xs, &unflat_all(v)),
    );
    check.report();
}
