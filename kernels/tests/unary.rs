//! Unary elementwise ops and the math they use (`math::exp_nonpositive`, `math::ln`) against
//! f64, with the bounds stated in `elementwise/unary.rs` and `math.rs`. The math functions are
//! swept over their whole range (every `STEP`-th bit pattern); the ops run through the public
//! slice kernels, including every tail length and in place.
mod common;

use common::Rng;
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_kernels::{math, simd::F32x4, unary, unary_inplace, Error, UnaryOp};

/// Distance between swept bit patterns (denser natively than on wasm, which has a time limit).
const STEP: u32 = if cfg!(target_arch = "wasm32") {
    1021
} else {
    127
};

fn eval(f: fn(F32x4) -> F32x4, x: f32) -> f32 {
    f(F32x4::splat(x)).lane(0)
}

/// Bit patterns from `lo` to `hi` (inclusive) in steps of `STEP`.
fn bits(lo: u32, hi: u32) -> impl Iterator<Item = f32> {
    (lo..=hi).step_by(STEP as usize).map(f32::from_bits)
}

#[wasm_bindgen_test(unsupported = test)]
fn exp_nonpositive_whole_range() {
    let mut worst = 0.0f64;
    // -0 down to -inf, then +0 up to 88.3.
    for x in bits(0x8000_0000, 0xff80_0000).chain(bits(0, 88.3f32.to_bits())) {
        let got = eval(math::exp_nonpositive, x) as f64;
        let want = (x as f64).exp();
        if x >= -87.33 {
            let err = (got - want).abs() / want;
            let bound = 3e-7 + 8e-8 * (x as f64).abs();
            assert!(
                err <= bound,
                "exp_nonpositive({x:e}) = {got:e}, want {want:e}, rel {err:e}"
            );
            worst = worst.max(err - 8e-8 * (x as f64).abs());
        } else if x > -87.7 {
            assert!(
                (0.0..=1.2e-38).contains(&got),
                "exp_nonpositive({x:e}) = {got:e}"
            );
        } else {
            assert_eq!(got, 0.0, "exp_nonpositive({x:e})");
        }
    }
    eprintln!("exp_nonpositive: worst relative error beyond the |x| term {worst:e}");
    assert!(
        worst > 1e-8,
        "the sweep did not measure anything: {worst:e}"
    );
    assert_eq!(eval(math::exp_nonpositive, 0.0), 1.0);
    assert_eq!(eval(math::exp_nonpositive, -0.0), 1.0);
    assert_eq!(eval(math::exp_nonpositive, f32::NEG_INFINITY), 0.0);
    assert!(eval(math::exp_nonpositive, f32::NAN).is_nan());
}

#[wasm_bindgen_test(unsupported = test)]
fn ln_whole_range() {
    let mut worst = 0.0f64;
    // Every positive finite float, subnormals included.
    for x in bits(1, f32::MAX.to_bits()).chain([f32::MIN_POSITIVE, 1.0, 2.0, 0.5, f32::MAX]) {
        let got = eval(math::ln, x) as f64;
        let want = (x as f64).ln();
        if want == 0.0 {
            assert_eq!(got, 0.0, "ln({x:e})");
            continue;
        }
        let err = ((got - want) / want).abs();
        assert!(
            err <= 1.5e-7,
            "ln({x:e}) = {got:e}, want {want:e}, rel {err:e}"
        );
        worst = worst.max(err);
    }
    // Near 1 the result is small: check relative accuracy there densely.
    for x in bits(0.99f32.to_bits(), 1.01f32.to_bits()) {
        let (got, want) = (eval(math::ln, x) as f64, (x as f64).ln());
        if want != 0.0 {
            assert!(((got - want) / want).abs() <= 1.5e-7, "ln({x:e}) = {got:e}");
        }
    }
    eprintln!("ln: worst relative error {worst:e}");
    assert!(worst > 3e-8, "{worst:e}");
    assert_eq!(eval(math::ln, 0.0), f32::NEG_INFINITY);
    assert_eq!(eval(math::ln, -0.0), f32::NEG_INFINITY);
    assert_eq!(eval(math::ln, f32::INFINITY), f32::INFINITY);
    for x in [-1.0, -1e-40, f32::NEG_INFINITY, f32::NAN] {
        assert!(eval(math::ln, x).is_nan(), "ln({x})");
    }
}

/// An op, its f64 reference and its bound `|got - want| <= abs + rel |want|` (+ an extra
/// relative term proportional to `|ln want|` for pow).
struct Case {
    op: UnaryOp,
    reference: fn(f64, f64) -> f64,
    abs: f64,
    rel: f64,
    rel_per_log: f64,
}

fn pow_ref(x: f64, p: f64) -> f64 {
    if p == 0.5 {
        return x.sqrt(); // documented: computed as sqrt
    }
    let y = x.powf(p);
    let integer = p.fract() == 0.0;
    let general = ![0.0, 1.0, 2.0, 3.0, -1.0].contains(&p);
    if !integer && x < 0.0 {
        f64::NAN
    } else if general && y.abs() > 88.376_26f64.exp() {
        // exp(p ln|x|) saturates like math::exp (documented).
        y.signum() * f64::INFINITY
    } else {
        y
    }
}

fn cases() -> Vec<Case> {
    let c = |op, reference: fn(f64, f64) -> f64, abs, rel| Case {
        op,
        reference,
        abs,
        rel,
        rel_per_log: 0.0,
    };
    let mut v = vec![
        c(UnaryOp::Neg, |x, _| -x, 0.0, 0.0),
        c(UnaryOp::Abs, |x, _| x.abs(), 0.0, 0.0),
        c(UnaryOp::Sqrt, |x, _| x.sqrt(), 0.0, 0.0),
        c(UnaryOp::Reciprocal, |x, _| 1.0 / x, 0.0, 0.0),
        // math::exp saturates to +inf above 88.376 and flushes to 0 below -87.336 (math.rs).
        c(
            UnaryOp::Exp,
            |x, _| match x {
                x if x > 88.376_26 => f64::INFINITY,
                x if x < -87.336_55 => 0.0,
                x => x.exp(),
            },
            0.0,
            3e-7,
        ),
        c(UnaryOp::Log, |x, _| x.ln(), 0.0, 1.5e-7),
        c(UnaryOp::Erf, |x, _| libm::erf(x), 5e-7, 0.0),
    ];
    for (p, rel) in [
        (0.0, 0.0),
        (1.0, 0.0),
        (2.0, 1.2e-7),
        (3.0, 2.4e-7),
        (-1.0, 0.0),
        (0.5, 0.0),
    ] {
        v.push(c(UnaryOp::Pow(p), pow_ref, 0.0, rel));
    }
    for p in [
        -2.0, 5.0, -3.0, 1.5, -0.5, 0.25, 2.5, 7.3, -1.7, 1e-3, 1e6, 3e7,
    ] {
        v.push(Case {
            op: UnaryOp::Pow(p),
            reference: pow_ref,
            abs: 0.0,
            rel: 4e-7,
            rel_per_log: 3e-7,
        });
    }
    v
}

fn param(op: UnaryOp) -> f64 {
    match op {
        UnaryOp::Pow(p) => p as f64,
        _ => 0.0,
    }
}

/// Compares one output with the reference; results that round to 0, subnormals or infinity in
/// f32 are compared as such.
fn check_one(case: &Case, x: f32, got: f32) {
    let p = param(case.op);
    let want = (case.reference)(x as f64, p);
    let what = || format!("{:?}({x:e}) = {got:e}, want {want:e}", case.op);
    if want.is_nan() {
        assert!(got.is_nan(), "{}", what());
        return;
    }
    let wf = want as f32; // the correctly rounded f32 result
    if wf.is_infinite() || want == 0.0 {
        // Overflow / exact zero: the same infinity or zero (sign included for 0 where exact).
        assert!(got == wf, "{}", what());
        return;
    }
    if want.abs() < f32::MIN_POSITIVE as f64 && case.rel > 0.0 {
        // Results in the subnormal range: flush to 0 or a nearby subnormal is acceptable.
        assert!(
            (got as f64).abs() <= 2.0 * f32::MIN_POSITIVE as f64,
            "{}",
            what()
        );
        return;
    }
    let err = (got as f64 - want).abs();
    let bound = if case.rel == 0.0 && case.abs == 0.0 {
        (wf as f64 - want).abs() // exact ops: the correctly rounded value
    } else {
        case.abs + (case.rel + case.rel_per_log * want.abs().ln().abs()) * want.abs()
    };
    assert!(err <= bound, "{}, err {err:e} > {bound:e}", what());
}

/// Inputs for an op: a sweep over the float range plus specials.
fn inputs() -> Vec<f32> {
    let step = STEP as usize * 8;
    let mut v: Vec<f32> = (0..=u32::MAX).step_by(step).map(f32::from_bits).collect();
    v.extend([
        0.0,
        -0.0,
        1.0,
        -1.0,
        2.0,
        0.5,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MIN_POSITIVE,
        1e-45,
        -1e-45,
        f32::MAX,
        -f32::MAX,
        88.0,
        -87.0,
        3.0,
        -3.0,
    ]);
    v
}

#[wasm_bindgen_test(unsupported = test)]
fn ops_match_f64_over_the_float_range() {
    let x = inputs();
    let mut y = vec![0.0f32; x.len()];
    for case in cases() {
        unary(case.op, &x, &mut y).unwrap();
        for (&xi, &yi) in x.iter().zip(&y) {
            check_one(&case, xi, yi);
        }
    }
}

/// Every tail length and the in-place form (same bits as out of place).
#[wasm_bindgen_test(unsupported = test)]
fn tails_and_in_place() {
    let mut rng = Rng::new(11);
    for case in cases() {
        for n in 0..=40 {
            let x: Vec<f32> = (0..n).map(|_| rng.unit() * 4.0).collect();
            let mut y = vec![f32::NAN; n + 3];
            y[n..].copy_from_slice(&[7.0, 7.0, 7.0]);
            unary(case.op, &x, &mut y[..n]).unwrap();
            assert_eq!(&y[n..], &[7.0, 7.0, 7.0], "wrote past the end");
            let mut z = x.clone();
            unary_inplace(case.op, &mut z).unwrap();
            for i in 0..n {
                assert_eq!(y[i].to_bits(), z[i].to_bits(), "{:?} n={n} [{i}]", case.op);
                check_one(&case, x[i], y[i]);
            }
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn pow_signs_and_special_values() {
    let eval = |p: f32, x: f32| {
        let mut y = [0.0f32];
        unary(UnaryOp::Pow(p), &[x], &mut y).unwrap();
        y[0]
    };
    assert_eq!(eval(3.0, -2.0), -8.0);
    assert_eq!(eval(5.0, -1.0), -1.0);
    assert!((eval(-3.0, -2.0) + 0.125).abs() < 1e-7);
    assert!((eval(4.0, -2.0) - 16.0).abs() < 1e-5);
    assert!(eval(2.5, -2.0).is_nan());
    assert_eq!(eval(-1.0, 0.0), f32::INFINITY);
    assert_eq!(eval(-3.0, -0.0), f32::NEG_INFINITY);
    assert_eq!(eval(-2.0, -0.0), f32::INFINITY);
    assert_eq!(eval(5.0, -0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(eval(1.5, 0.0), 0.0);
    assert_eq!(eval(1.5, f32::INFINITY), f32::INFINITY);
    assert_eq!(eval(-1.5, f32::INFINITY), 0.0);
    assert_eq!(eval(3.0, f32::NEG_INFINITY), f32::NEG_INFINITY);
    assert_eq!(eval(0.0, f32::NAN), 1.0);
    assert_eq!(eval(7.3, 1.0), 1.0);
    assert!(eval(7.3, f32::NAN).is_nan());
}

#[wasm_bindgen_test(unsupported = test)]
fn bad_inputs_are_typed_errors() {
    let x = [1.0f32; 4];
    let mut y = [5.0f32; 3];
    assert!(matches!(
        unary(UnaryOp::Neg, &x, &mut y),
        Err(Error::ShapeMismatch {
            expected: 4,
            found: 3,
            ..
        })
    ));
    let mut y = [5.0f32; 4];
    for p in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        assert!(matches!(
            unary(UnaryOp::Pow(p), &x, &mut y),
            Err(Error::InvalidArgument { .. })
        ));
        let mut z = x;
        assert!(unary_inplace(UnaryOp::Pow(p), &mut z).is_err());
        assert_eq!(z, x);
    }
    assert_eq!(y, [5.0; 4], "a refused call wrote to y");
}
