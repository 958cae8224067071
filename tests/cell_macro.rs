//! `#[cell]` on free functions and impl blocks: roles, generated structs, generics, shapes.

use rnn::prelude::*;

/// `s' = s + x`, `y = 10 s'`: DESIGN.md's canonical cell.
#[cell]
fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
    *s += x;
    *s * 10.0
}

#[test]
fn free_function_becomes_a_cell_named_after_it() {
    let mut s = SVector::zeros();
    let y = Accumulate.step(&SVector::from([2.0]), &mut s, &());
    assert_eq!((y[0], s[0]), (20.0, 2.0));
    // The function itself stays callable.
    let mut s2 = SVector::from([1.0]);
    assert_eq!(accumulate(&SVector::from([1.0]), &mut s2)[0], 20.0);
}

/// Several inputs, states and constants; two outputs.
#[cell]
fn mixer(
    #[input] a: &SVector<f32, 2>,
    #[input] b: &f32,
    #[state] h: &mut SVector<f32, 2>,
    #[state] count: &mut f32,
    #[constant] scale: &f32,
    #[constant] shift: &SVector<f32, 2>,
) -> (SVector<f32, 2>, f32) {
    *h = *h + a * *scale + shift * *b;
    *count += 1.0;
    (*h, *count)
}

#[test]
fn several_roles_get_generated_structs_with_the_parameter_names() {
    let input = MixerInput {
        a: SVector::from([1.0, 2.0]),
        b: 0.5,
    };
    let mut state = Mixer.initial_state(&MixerConstants {
        scale: 2.0,
        shift: SVector::from([2.0, 4.0]),
    });
    assert_eq!(
        state,
        MixerState {
            h: SVector::zeros(),
            count: 0.0
        }
    );
    let constants = MixerConstants {
        scale: 2.0,
        shift: SVector::from([2.0, 4.0]),
    };
    let (y, n) = Mixer.step(&input, &mut state, &constants);
    assert_eq!(y, SVector::from([3.0, 6.0]));
    assert_eq!(n, 1.0);
    assert_eq!(state.count, 1.0);
    assert_eq!(
        Mixer.state_size().to_string(),
        "MixerState { h: [2], count: [] }"
    );
    assert_eq!(Mixer.output_size().to_string(), "([2], [])");
    assert_eq!(<MixerState as Nested>::SIZE, 3);
}

/// A cell with weights: the impl-block form.
struct Affine {
    w: SMatrix<f32, 3, 2>,
}

#[cell]
impl Affine {
    /// Unused helpers in the block stay inherent methods.
    fn doubled(&self) -> SMatrix<f32, 3, 2> {
        self.w * 2.0
    }

    fn step(
        &self,
        #[input] x: &SVector<f32, 2>,
        #[state] h: &mut SVector<f32, 3>,
    ) -> SVector<f32, 3> {
        *h = self.w * x + *h;
        *h
    }
}

#[test]
fn impl_block_step_becomes_the_cell_and_other_items_stay() {
    let cell = Affine {
        w: SMatrix::from_fn(|r, c| (r * 2 + c) as f32),
    };
    let mut h = SVector::zeros();
    let y = cell.step(&SVector::from([1.0, 1.0]), &mut h, &());
    assert_eq!(y, SVector::from([1.0, 5.0, 9.0]));
    assert_eq!(cell.doubled()[(2, 1)], 10.0);
}

/// Generic over the scalar and the sizes.
struct Leaky<T: RealField, const N: usize> {
    decay: T,
}
use rnn::nalgebra::RealField;

#[cell(inference)]
impl<T: RealField + Copy, const N: usize> Leaky<T, N> {
    fn step(&self, #[input] x: &SVector<T, N>, #[state] h: &mut SVector<T, N>) -> SVector<T, N> {
        *h = *h * self.decay + x;
        *h
    }
}

#[cell(inference)]
fn scaled<T: RealField + Copy, const N: usize>(
    #[input] x: &SVector<T, N>,
    #[state] h: &mut SVector<T, N>,
    #[state] steps: &mut SVector<T, 1>,
) -> SVector<T, N> {
    steps[0] += T::one();
    *h += x;
    *h * steps[0]
}

#[test]
fn generic_cells_work_for_f32_and_f64() {
    let cell = Leaky::<f64, 3> { decay: 0.5 };
    let run = Rnn::new(cell).run([SVector::from([2.0, 4.0, 8.0]); 2], &());
    assert_eq!(run.state, SVector::from([3.0, 6.0, 12.0]));

    let run = Rnn::new(Scaled::<f32, 2>::default()).run([SVector::from([1.0, 2.0]); 3], &());
    assert_eq!(run.state.steps[0], 3.0);
    assert_eq!(run.outputs[2], SVector::from([9.0, 18.0]));
    // The generated state struct only takes the generics its fields use.
    let _: ScaledState<f32, 2> = run.state;
}

/// Const generics only: the cell type is a unit struct usable as a value.
#[cell(inference)]
fn running_max<const N: usize>(
    #[input] x: &SVector<f32, N>,
    #[state] m: &mut SVector<f32, N>,
) -> SVector<f32, N> {
    *m = m.sup(x);
    *m
}

#[test]
fn const_generic_free_function_cell_is_a_value() {
    let run =
        Rnn::new(RunningMax::<2>).run([SVector::from([1.0, 5.0]), SVector::from([3.0, 2.0])], &());
    assert_eq!(run.state, SVector::from([3.0, 5.0]));
}

/// A stateless cell (a Dense applied per step) has state `()`.
#[cell]
fn double(#[input] x: &SVector<f32, 2>) -> SVector<f32, 2> {
    x * 2.0
}

#[test]
fn stateless_cell_has_unit_state() {
    let run = Rnn::new(Double).run([SVector::from([1.0, 2.0])], &());
    assert_eq!(run.outputs[0], SVector::from([2.0, 4.0]));
    assert_eq!(Double.state_size().to_string(), "()");
}

/// Seed 001's nested structures: a derived struct as input, state and output.
#[derive(Clone, Debug, PartialEq, Nested)]
struct NestedInput {
    feature1: SVector<f32, 3>,
    feature2: SMatrix<f32, 2, 3>,
}

#[derive(Clone, Debug, PartialEq, Nested)]
struct NestedState {
    state1: SVector<f32, 2>,
    state2: SMatrix<f32, 2, 2>,
}

struct NestedCell {
    kernel_1: SMatrix<f32, 2, 3>,
}

#[cell]
impl NestedCell {
    fn step(
        &self,
        #[input] x: &NestedInput,
        #[state] s: &mut NestedState,
    ) -> (SVector<f32, 2>, SMatrix<f32, 2, 2>) {
        let out1 = self.kernel_1 * x.feature1;
        let out2 = x.feature2 * x.feature2.transpose();
        s.state1 += out1;
        s.state2 += out2;
        (out1, out2)
    }
}

#[test]
fn derived_nested_structs_flow_through_a_cell() {
    let cell = NestedCell {
        kernel_1: SMatrix::from_element(1.0),
    };
    let x = NestedInput {
        feature1: SVector::from([1.0, 2.0, 3.0]),
        feature2: SMatrix::from_element(1.0),
    };
    let run = Rnn::new(cell).run(&[x.clone(), x], &());
    assert_eq!(run.state.state1, SVector::from([12.0, 12.0]));
    assert_eq!(run.state.state2, SMatrix::<f32, 2, 2>::from_element(6.0));
    assert_eq!(
        ShapeOf::<NestedInput>::new().to_string(),
        "NestedInput { feature1: [3], feature2: [2, 3] }"
    );
    let (o1, o2) = run.outputs.unzip();
    assert_eq!((o1.len(), o2.len()), (2, 2));
}
