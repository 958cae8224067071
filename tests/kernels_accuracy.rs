//! The vectorized `f32` activations against `f64` libm over a dense sweep of all of `f32`
//! (every 1021st bit pattern of each sign: all magnitudes from subnormal to `f32::MAX`), a
//! fine uniform sweep of the range where the functions bend, and the special values.
//! Errors are measured in ulp of the correctly rounded result and relative to it. Each
//! function is checked with both roundings of its multiply-adds: separate (`exp_f32`, …) and
//! fused (`exp_f32_with::<Fused>`, what the kernels use on a CPU with FMA).

use rnn::kernels::{
    exp_f32, exp_f32_with, sigmoid_f32, sigmoid_f32_with, tanh_f32, tanh_f32_with, Fused,
};

type Activation = fn(f32) -> f32;

/// `(name, exp, sigmoid, tanh)` for each rounding.
const ROUNDINGS: [(&str, Activation, Activation, Activation); 2] = [
    ("separate", exp_f32, sigmoid_f32, tanh_f32),
    (
        "fused",
        exp_f32_with::<Fused>,
        sigmoid_f32_with::<Fused>,
        tanh_f32_with::<Fused>,
    ),
];

/// The ulp of `y` as an `f32` (the spacing of floats at `y`'s magnitude).
fn ulp(y: f64) -> f64 {
    let y = (y.abs() as f32).max(f32::MIN_POSITIVE);
    (f32::from_bits(y.to_bits() + 1) - y) as f64
}

/// Every `stride`-th finite `f32` of both signs, then a fine uniform sweep of [-20, 20].
fn sweep(stride: u32) -> impl Iterator<Item = f32> {
    let finite = (0..0x7f80_0000u32)
        .step_by(stride as usize)
        .flat_map(|b| [f32::from_bits(b), -f32::from_bits(b)]);
    let fine = (-2_000_000..=2_000_000).map(|i| i as f32 * 1e-5);
    finite.chain(fine)
}

#[derive(Default, Debug)]
struct Worst {
    ulps: f64,
    rel: f64,
    abs: f64,
    at: f32,
}

impl Worst {
    fn add(&mut self, x: f32, ours: f32, exact: f64) {
        let err = (ours as f64 - exact).abs();
        let ulps = err / ulp(exact);
        if ulps > self.ulps {
            self.ulps = ulps;
            self.at = x;
        }
        if exact.abs() >= f32::MIN_POSITIVE as f64 {
            self.rel = self.rel.max(err / exact.abs());
        }
        self.abs = self.abs.max(err);
    }
}

fn measure(f: fn(f32) -> f32, exact: fn(f64) -> f64, name: &str) -> Worst {
    let mut worst = Worst::default();
    for x in sweep(1021) {
        let e = exact(x as f64);
        let y = f(x);
        if e > f32::MAX as f64 {
            assert_eq!(y, f32::INFINITY, "{name}({x}) overflows to +inf");
            continue;
        }
        assert!(y.is_finite(), "{name}({x}) = {y}, expected {e}");
        worst.add(x, y, e);
    }
    println!(
        "{name:<8} max {:.2} ulp (at {:e}), rel {:.2e}, abs {:.2e}",
        worst.ulps, worst.at, worst.rel, worst.abs
    );
    worst
}

#[test]
fn exp_is_within_2_ulp_of_f64() {
    for (rounding, exp_f32, _, _) in ROUNDINGS {
        let w = measure(exp_f32, f64::exp, &format!("exp ({rounding})"));
        assert!(w.ulps <= 2.0 && w.rel <= 2.4e-7, "{rounding}: {w:?}");
    }
}

#[test]
fn sigmoid_is_within_3_ulp_of_f64() {
    for (rounding, _, sigmoid_f32, _) in ROUNDINGS {
        let exact = |x: f64| 1.0 / (1.0 + (-x).exp());
        let w = measure(sigmoid_f32, exact, &format!("sigmoid ({rounding})"));
        assert!(w.ulps <= 3.0 && w.rel <= 3e-7, "{rounding}: {w:?}");
    }
}

#[test]
fn tanh_is_within_2_ulp_of_f64() {
    for (rounding, _, _, tanh_f32) in ROUNDINGS {
        let w = measure(tanh_f32, f64::tanh, &format!("tanh ({rounding})"));
        assert!(w.ulps <= 2.0 && w.rel <= 2e-7, "{rounding}: {w:?}");
    }
}

#[test]
fn special_values() {
    for (_, exp_f32, sigmoid_f32, tanh_f32) in ROUNDINGS {
        special_values_of(exp_f32, sigmoid_f32, tanh_f32);
    }
}

fn special_values_of(exp_f32: Activation, sigmoid_f32: Activation, tanh_f32: Activation) {
    let nan = f32::NAN;
    let (inf, ninf) = (f32::INFINITY, f32::NEG_INFINITY);
    for f in [exp_f32, sigmoid_f32, tanh_f32] {
        assert!(f(nan).is_nan());
        assert!(f(-nan).is_nan());
    }
    assert_eq!((exp_f32(inf), exp_f32(ninf)), (inf, 0.0));
    assert_eq!((exp_f32(0.0), exp_f32(-0.0)), (1.0, 1.0));
    assert_eq!(exp_f32(88.8), inf, "past ln(f32::MAX)");
    assert_eq!(exp_f32(-104.0), 0.0);
    assert_eq!(exp_f32(-1e30), 0.0);
    assert_eq!(exp_f32(f32::MAX), inf);
    // The subnormal range underflows gradually: e^-100 = 3.72e-44 is 26.5 × 2^-149.
    assert_eq!(exp_f32(-100.0), f32::from_bits(27));
    assert_eq!((sigmoid_f32(inf), sigmoid_f32(ninf)), (1.0, 0.0));
    assert_eq!(
        (sigmoid_f32(0.0), sigmoid_f32(-1e30), sigmoid_f32(1e30)),
        (0.5, 0.0, 1.0)
    );
    assert_eq!((tanh_f32(inf), tanh_f32(ninf)), (1.0, -1.0));
    assert_eq!((tanh_f32(1e30), tanh_f32(-1e30)), (1.0, -1.0));
    assert_eq!(tanh_f32(0.0).to_bits(), 0.0f32.to_bits());
    assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(tanh_f32(1e-30), 1e-30, "tanh is the identity near 0");
}

#[test]
fn activations_are_monotone_on_a_fine_grid() {
    let all = ROUNDINGS.iter().flat_map(|&(_, e, s, t)| [e, s, t]);
    for f in all {
        let mut prev = f(-30.0);
        for i in -600_000..=600_000 {
            let y = f(i as f32 * 5e-5);
            assert!(y >= prev, "not monotone at {}", i as f32 * 5e-5);
            prev = y;
        }
    }
}

/// The array and slice kernels (what the cells call) compute exactly the scalar functions of
/// this CPU's rounding, whatever the length (vector body and scalar tail alike).
#[test]
fn array_kernels_equal_the_scalar_functions() {
    fn check<const N: usize>() {
        let (_, exp_f32, sigmoid_f32, tanh_f32) =
            ROUNDINGS[usize::from(rnn::kernels::fused_multiply_add())];
        let xs: [f32; N] = std::array::from_fn(|i| (i as f32 - N as f32 / 2.0) * 0.37);
        let (mut e, mut s, mut t) = (xs, xs, xs);
        rnn::kernels::exp(&mut e);
        rnn::kernels::sigmoid(&mut s);
        rnn::kernels::tanh(&mut t);
        let (mut es, mut ss, mut ts) = (xs.to_vec(), xs.to_vec(), xs.to_vec());
        rnn::kernels::exp_slice(&mut es);
        rnn::kernels::sigmoid_slice(&mut ss);
        rnn::kernels::tanh_slice(&mut ts);
        for i in 0..N {
            assert_eq!(e[i].to_bits(), exp_f32(xs[i]).to_bits());
            assert_eq!(s[i].to_bits(), sigmoid_f32(xs[i]).to_bits());
            assert_eq!(t[i].to_bits(), tanh_f32(xs[i]).to_bits());
            assert_eq!((es[i], ss[i], ts[i]), (e[i], s[i], t[i]));
        }
    }
    check::<1>();
    check::<7>();
    check::<8>();
    check::<33>();
    check::<100>();
}
