//! Broadcasting binary ops: exact (correctly rounded) against an f64 reference that indexes the
//! broadcast naively, over hand-picked fast-path shapes and random shapes up to rank 6; in place;
//! shape algebra; bad inputs.
mod common;

use common::Rng;
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_kernels::{binary, binary_inplace, BinaryOp, Error, Shape};

const OPS: [BinaryOp; 4] = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div];

fn apply(op: BinaryOp, a: f64, b: f64) -> f64 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        _ => unreachable!(),
    }
}

/// The broadcast result by brute-force indexing; f64 then rounded to f32, which is the correctly
/// rounded f32 result for + - * / (f64 has more than 2 * 24 + 2 bits).
fn reference(
    op: BinaryOp,
    a: &[f32],
    sa: &[usize],
    b: &[f32],
    sb: &[usize],
) -> (Vec<usize>, Vec<f32>) {
    let rank = sa.len().max(sb.len());
    let pad = |s: &[usize]| {
        let mut v = vec![1; rank - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (pa, pb) = (pad(sa), pad(sb));
    let out: Vec<usize> = pa
        .iter()
        .zip(&pb)
        .map(|(&x, &y)| if x == 1 { y } else { x })
        .collect();
    let n: usize = out.iter().product();
    let mut y = Vec::with_capacity(n);
    for flat in 0..n {
        let (mut ia, mut ib, mut rem) = (0usize, 0usize, flat);
        let (mut ma, mut mb) = (1usize, 1usize);
        for d in (0..rank).rev() {
            let i = rem % out[d];
            rem /= out[d];
            ia += if pa[d] == 1 { 0 } else { i * ma };
            ib += if pb[d] == 1 { 0 } else { i * mb };
            ma *= pa[d];
            mb *= pb[d];
        }
        y.push(apply(op, a[ia] as f64, b[ib] as f64) as f32);
    }
    (out, y)
}

fn same_bits(x: &[f32], y: &[f32]) -> bool {
    x.len() == y.len()
        && x.iter()
            .zip(y)
            .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()))
}

fn values(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| match i % 23 {
            7 => 0.0,
            11 => -0.0,
            13 => f32::INFINITY,
            17 => f32::NAN,
            19 => 1e-42,
            _ => rng.unit() * 1e3,
        })
        .collect()
}

/// Runs `a op b` out of place and (when the result has `a`'s shape) in place, and compares with
/// the reference exactly.
fn check(sa: &[usize], sb: &[usize], rng: &mut Rng) {
    let a = values(rng, sa.iter().product());
    let b = values(rng, sb.iter().product());
    for op in OPS {
        let (so, want) = reference(op, &a, sa, &b, sb);
        assert_eq!(Shape::broadcast(sa, sb).unwrap().dims(), &so[..]);
        let mut y = vec![-7.0f32; want.len()];
        binary(op, &a, sa, &b, sb, &mut y).unwrap();
        assert!(
            same_bits(&y, &want),
            "{op:?} {sa:?} {sb:?}:\n{y:?}\n{want:?}"
        );
        if so == sa {
            let mut z = a.clone();
            binary_inplace(op, &mut z, sa, &b, sb).unwrap();
            assert!(same_bits(&z, &want), "in place {op:?} {sa:?} {sb:?}");
        }
    }
}

/// The fast paths: same shape, scalar, trailing vector (bias), column, outer product, leading
/// broadcast, with lengths around the 16-wide loop.
#[wasm_bindgen_test(unsupported = test)]
fn fast_path_shapes() {
    let mut rng = Rng::new(21);
    for n in [1usize, 3, 4, 15, 16, 17, 33, 1000] {
        check(&[n], &[n], &mut rng); // same shape, one flat loop
        check(&[3, n], &[3, n], &mut rng);
        check(&[n], &[], &mut rng); // scalar (rank 0)
        check(&[], &[n], &mut rng);
        check(&[n], &[1], &mut rng);
        check(&[4, n], &[n], &mut rng); // trailing vector
        check(&[n], &[4, n], &mut rng);
        check(&[2, 3, n], &[1, n], &mut rng);
        check(&[n, 5], &[n, 1], &mut rng); // column
        check(&[n, 1], &[1, 7], &mut rng); // outer product
        check(&[1, n], &[3, 1], &mut rng);
        check(&[5, 2, n], &[5, 1, n], &mut rng); // middle broadcast
    }
    check(&[], &[], &mut rng); // scalar op scalar
    check(&[1, 1], &[1], &mut rng);
    check(&[0, 3], &[3], &mut rng); // empty
    check(&[2, 0], &[2, 1], &mut rng);
}

/// proptest: random rank-0..6 shapes where each dimension of each operand is the common size,
/// 1, or missing (shorter rank).
#[wasm_bindgen_test(unsupported = test)]
fn proptest_random_broadcasts() {
    use proptest::collection::vec;
    use proptest::prelude::Strategy;
    let mut runner = common::proptest_runner(256);
    let strategy = (
        vec((1usize..6, 0u8..3, 0u8..3), 0..=6),
        0usize..3,
        0usize..3,
        0u64..u64::MAX,
    )
        .prop_map(|(dims, drop_a, drop_b, seed)| (dims, drop_a, drop_b, seed));
    runner
        .run(&strategy, |(dims, drop_a, drop_b, seed)| {
            // kind 0: full size, 1: size 1, 2: full size (more full dims than 1s).
            let pick = |k: u8, d: usize| if k == 1 { 1 } else { d };
            let sa: Vec<usize> = dims.iter().map(|&(d, ka, _)| pick(ka, d)).collect();
            let sb: Vec<usize> = dims.iter().map(|&(d, _, kb)| pick(kb, d)).collect();
            // Drop leading dimensions (rank broadcasting).
            let sa = &sa[drop_a.min(sa.len())..];
            let sb = &sb[drop_b.min(sb.len())..];
            check(sa, sb, &mut Rng::new(seed));
            Ok(())
        })
        .unwrap();
}

#[wasm_bindgen_test(unsupported = test)]
fn shape_algebra() {
    let s = Shape::new(&[2, 3, 4]).unwrap();
    assert_eq!((s.rank(), s.numel()), (3, 24));
    assert_eq!(Shape::new(&[]).unwrap().numel(), 1);
    assert_eq!(
        Shape::broadcast(&[8, 1, 6, 1], &[7, 1, 5]).unwrap().dims(),
        &[8, 7, 6, 5]
    );
    assert_eq!(Shape::broadcast(&[5, 4], &[1]).unwrap().dims(), &[5, 4]);
    assert_eq!(Shape::broadcast(&[0], &[1]).unwrap().dims(), &[0]);
    assert!(matches!(
        Shape::broadcast(&[2, 3], &[4, 3]),
        Err(Error::ShapeMismatch {
            expected: 2,
            found: 4,
            ..
        })
    ));
    assert!(matches!(
        Shape::broadcast(&[0], &[2]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        Shape::new(&[1; 9]),
        Err(Error::InvalidArgument { what: "shape", .. })
    ));
    assert!(matches!(
        Shape::new(&[usize::MAX, 2]),
        Err(Error::Overflow { .. })
    ));
}

#[wasm_bindgen_test(unsupported = test)]
fn bad_inputs_are_typed_errors() {
    let a = [1.0f32; 6];
    let b = [2.0f32; 3];
    let mut y = [9.0f32; 6];
    let add = BinaryOp::Add;
    // Buffers that do not match their shapes.
    assert!(matches!(
        binary(add, &a[..5], &[2, 3], &b, &[3], &mut y),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        binary(add, &a, &[2, 3], &b[..2], &[3], &mut y),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        binary(add, &a, &[2, 3], &b, &[3], &mut y[..5]),
        Err(Error::ShapeMismatch { .. })
    ));
    // Shapes that do not broadcast.
    assert!(matches!(
        binary(add, &a, &[2, 3], &b, &[3, 1], &mut y),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        binary(add, &a, &[1; 9], &b, &[3], &mut y),
        Err(Error::InvalidArgument { .. })
    ));
    // In place, the result must keep a's shape.
    let mut z = [1.0f32; 3];
    assert!(matches!(
        binary_inplace(add, &mut z, &[3, 1], &b, &[1, 3]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(binary_inplace(add, &mut z, &[3], &b, &[2]).is_err());
    assert!(binary_inplace(add, &mut z[..2], &[3], &b, &[3]).is_err());
    assert_eq!(y, [9.0; 6], "a refused call wrote to out");
    assert_eq!(z, [1.0; 3]);
}
