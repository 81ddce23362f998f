//! Operators through the whole pipeline (builder -> specialise -> plan -> run), against f64
//! references or exact expectations, plus the error paths. Runs natively, in Node and in
//! headless Chromium.
//!
//! Bounds: elementwise f32 arithmetic is exact against f64-then-round (one rounding either
//! way); products and sums of `k` terms are within `k * 2^-23 * sum |terms|` (asserted as
//! `1e-6 * (k + 1) * sum |terms|`), transcendental functions within the kernels' stated bounds.
mod graph_common;

use graph_common::values;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn::graph::{
    Attr, DType, GraphBuilder, GraphError, Model, Options, Tensor, TensorSpec, TensorType,
};

/// An operand: a graph input (computed at run time) or a constant (folded when possible).
enum In {
    X(Tensor),
    C(Tensor),
}

/// Runs one operator; errors from any stage are returned.
fn run_op(
    op: &str,
    inputs: &[Option<&In>],
    attrs: &[(&str, Attr)],
    opset: i64,
) -> Result<Tensor, GraphError> {
    let mut b = GraphBuilder::new(opset);
    let mut feeds = Vec::new();
    let ids: Vec<Option<usize>> = inputs
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x.map(|x| match x {
                In::X(t) => {
                    feeds.push(t.clone());
                    b.input(&format!("x{i}"), TensorType::fixed(t.dtype(), t.shape()))
                }
                In::C(t) => b.constant(&format!("c{i}"), t.clone()),
            })
        })
        .collect();
    let y = b.node_with_optional(op, &ids, attrs);
    b.output(y);
    let mut m = Model::from_graph(b.build()?)?;
    let views: Vec<_> = feeds.iter().map(Tensor::view).collect();
    Ok(m.run(&views)?.remove(0))
}

/// The model of one operator on graph inputs.
fn build(op: &str, inputs: &[Option<&In>], attrs: &[(&str, Attr)], opset: i64) -> Model {
    let mut b = GraphBuilder::new(opset);
    let ids: Vec<Option<usize>> = inputs
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x.map(|x| match x {
                In::X(t) | In::C(t) => {
                    b.input(&format!("x{i}"), TensorType::fixed(t.dtype(), t.shape()))
                }
            })
        })
        .collect();
    let y = b.node_with_optional(op, &ids, attrs);
    b.output(y);
    Model::from_graph(b.build().unwrap()).unwrap()
}

fn f32t(shape: &[usize], v: Vec<f32>) -> Tensor {
    Tensor::from_f32(shape, v).unwrap()
}
fn i64t(shape: &[usize], v: Vec<i64>) -> Tensor {
    Tensor::from_i64(shape, v).unwrap()
}
fn x(t: Tensor) -> In {
    In::X(t)
}
fn c(t: Tensor) -> In {
    In::C(t)
}
fn run(op: &str, inputs: &[&In], attrs: &[(&str, Attr)]) -> Tensor {
    let ins: Vec<Option<&In>> = inputs.iter().map(|&i| Some(i)).collect();
    run_op(op, &ins, attrs, 17).unwrap()
}

fn runner() -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases: 64,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    )
}

/// Row-major index of `idx` in `shape`, broadcasting size-1 dimensions.
fn bcast_index(shape: &[usize], out_idx: &[usize]) -> usize {
    let pad = out_idx.len() - shape.len();
    shape.iter().enumerate().fold(0, |acc, (d, &n)| {
        acc * n + if n == 1 { 0 } else { out_idx[pad + d] }
    })
}

fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

#[wasm_bindgen_test(unsupported = test)]
fn binary_broadcasting_is_exact() {
    // Two shapes that broadcast: each dimension is shared, or 1 on one side.
    let strategy = (
        0usize..5,
        proptest::collection::vec((1usize..4, 0u8..3), 4),
        0usize..6,
    );
    runner()
        .run(&strategy, |(rank, dims, opi)| {
            let (mut sa, mut sb, mut so) = (vec![], vec![], vec![]);
            for &(n, mode) in &dims[..rank] {
                so.push(n);
                sa.push(if mode == 1 { 1 } else { n });
                sb.push(if mode == 2 { 1 } else { n });
            }
            if rank > 1 && dims[0].1 == 0 {
                sb.remove(0); // lower rank on one side
            }
            let na: usize = sa.iter().product();
            let nb: usize = sb.iter().product();
            let (a, b) = (
                values(na, 1),
                values(nb, 2).iter().map(|v| v + 1.5).collect::<Vec<_>>(),
            );
            let ops = ["Add", "Sub", "Mul", "Div", "Max", "Min"];
            let f = |x: f64, y: f64| match opi {
                0 => x + y,
                1 => x - y,
                2 => x * y,
                3 => x / y,
                4 => x.max(y),
                _ => x.min(y),
            };
            let y = run(
                ops[opi],
                &[&x(f32t(&sa, a.clone())), &x(f32t(&sb, b.clone()))],
                &[],
            );
            assert_eq!(y.shape(), so.as_slice());
            for (i, &got) in y.as_f32().unwrap().iter().enumerate() {
                let idx = unravel(i, &so);
                let want = f(
                    a[bcast_index(&sa, &idx)] as f64,
                    b[bcast_index(&sb, &idx)] as f64,
                ) as f32;
                assert_eq!(got, want, "{} {sa:?} {sb:?} at {idx:?}", ops[opi]);
            }
            Ok(())
        })
        .unwrap();
}

#[wasm_bindgen_test(unsupported = test)]
fn integer_arithmetic_and_division_by_zero() {
    let a = i64t(&[3], vec![7, -7, i64::MAX]);
    let b = i64t(&[3], vec![2, 2, 1]);
    assert_eq!(
        run("Div", &[&x(a.clone()), &x(b.clone())], &[])
            .as_i64()
            .unwrap(),
        &[3, -3, i64::MAX]
    );
    assert_eq!(
        run("Add", &[&x(a.clone()), &x(b)], &[]).as_i64().unwrap(),
        &[9, -5, i64::MIN]
    ); // MAX + 1 wraps
    let zero = i64t(&[3], vec![1, 0, 1]);
    let err = run_op("Div", &[Some(&x(a)), Some(&x(zero))], &[], 17).unwrap_err();
    assert!(err.to_string().contains("division by zero"), "{err}");
}

/// Naive f64 numpy matmul with broadcasting, and the bound for each output.
fn matmul_ref(a: &[f32], sa: &[usize], b: &[f32], sb: &[usize]) -> (Vec<usize>, Vec<(f64, f64)>) {
    let (m, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let n = sb[sb.len() - 1];
    let (ba, bb) = (&sa[..sa.len() - 2], &sb[..sb.len() - 2]);
    let rank = ba.len().max(bb.len());
    let batch: Vec<usize> = (0..rank)
        .map(|i| {
            let da = if i + ba.len() >= rank {
                ba[i + ba.len() - rank]
            } else {
                1
            };
            let db = if i + bb.len() >= rank {
                bb[i + bb.len() - rank]
            } else {
                1
            };
            da.max(db)
        })
        .collect();
    let nb: usize = batch.iter().product();
    let mut out = Vec::new();
    for bi in 0..nb {
        let idx = unravel(bi, &batch);
        let (ia, ib) = (bcast_index(ba, &idx), bcast_index(bb, &idx));
        for i in 0..m {
            for j in 0..n {
                let (mut s, mut abs) = (0.0f64, 0.0f64);
                for p in 0..k {
                    let t = a[(ia * m + i) * k + p] as f64 * b[(ib * k + p) * n + j] as f64;
                    s += t;
                    abs += t.abs();
                }
                out.push((s, 1e-6 * (k as f64 + 1.0) * abs + 1e-30));
            }
        }
    }
    let mut shape = batch;
    shape.extend([m, n]);
    (shape, out)
}

#[wasm_bindgen_test(unsupported = test)]
fn matmul_batched_and_constant_weights() {
    let strategy = (
        0usize..3,
        1usize..6,
        1usize..40,
        1usize..9,
        0u8..4,
        any_bool(),
    );
    runner()
        .run(&strategy, |(brank, m, k, n, bmode, constant)| {
            let batch = [2usize, 3];
            let mut sa: Vec<usize> = batch[..brank].to_vec();
            let mut sb = sa.clone();
            if brank > 0 && bmode == 1 {
                sb[0] = 1;
            }
            if bmode == 2 || constant {
                sb.clear(); // 2-D right operand (broadcast over all batches)
            }
            sa.extend([m, k]);
            sb.extend([k, n]);
            let a = values(sa.iter().product(), 3);
            let b = values(sb.iter().product(), 4);
            let bt = f32t(&sb, b.clone());
            let bin = if constant { c(bt) } else { x(bt) };
            let y = run("MatMul", &[&x(f32t(&sa, a.clone())), &bin], &[]);
            let (shape, want) = matmul_ref(&a, &sa, &b, &sb);
            assert_eq!(y.shape(), shape.as_slice());
            for (got, (w, bound)) in y.as_f32().unwrap().iter().zip(&want) {
                assert!((*got as f64 - w).abs() <= *bound, "{got} vs {w}");
            }
            Ok(())
        })
        .unwrap();
}

fn any_bool() -> impl Strategy<Value = bool> {
    proptest::bool::ANY
}

#[wasm_bindgen_test(unsupported = test)]
fn matmul_vectors_and_gemm() {
    // 1-D operands: [k] x [k, n] -> [n]; [m, k] x [k] -> [m].
    let v = f32t(&[2], vec![1.0, 2.0]);
    let m = f32t(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(
        run("MatMul", &[&x(v.clone()), &x(m.clone())], &[])
            .as_f32()
            .unwrap(),
        &[7.0, 10.0]
    );
    assert_eq!(
        run("MatMul", &[&x(m.clone()), &x(v)], &[])
            .as_f32()
            .unwrap(),
        &[5.0, 11.0]
    );
    // Gemm: alpha A^T B^T + beta C (C broadcast per column).
    let a = f32t(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]); // A^T is 3x2
    let b = f32t(&[2, 2], vec![1.0, 0.0, 0.0, 1.0]);
    let cc = f32t(&[2], vec![10.0, 20.0]);
    for constant in [false, true] {
        let bin = if constant { c(b.clone()) } else { x(b.clone()) };
        let y = run(
            "Gemm",
            &[&x(a.clone()), &bin, &x(cc.clone())],
            &[
                ("transA", Attr::Int(1)),
                ("transB", Attr::Int(1)),
                ("alpha", Attr::Float(2.0)),
                ("beta", Attr::Float(0.5)),
            ],
        );
        assert_eq!(y.shape(), &[3, 2]);
        assert_eq!(y.as_f32().unwrap(), &[7.0, 18.0, 9.0, 20.0, 11.0, 22.0]);
    }
}

/// Naive f64 NCHW convolution.
#[allow(clippy::too_many_arguments)]
fn conv_ref(
    xv: &[f32],
    xs: [usize; 4],
    w: &[f32],
    ws: [usize; 4],
    bias: &[f32],
    stride: [usize; 2],
    pads: [usize; 4],
    dil: [usize; 2],
    groups: usize,
) -> (Vec<usize>, Vec<f64>) {
    let [n, ci, h, wd] = xs;
    let [co, cg, kh, kw] = ws;
    let ho = (h + pads[0] + pads[2] - (kh - 1) * dil[0] - 1) / stride[0] + 1;
    let wo = (wd + pads[1] + pads[3] - (kw - 1) * dil[1] - 1) / stride[1] + 1;
    let og = co / groups;
    let mut out = vec![0.0f64; n * co * ho * wo];
    for b in 0..n {
        for o in 0..co {
            let g = o / og;
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut s = bias[o] as f64;
                    for c in 0..cg {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * stride[0] + ky * dil[0]) as isize - pads[0] as isize;
                                let ix = (ox * stride[1] + kx * dil[1]) as isize - pads[1] as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let xi =
                                    ((b * ci + g * cg + c) * h + iy as usize) * wd + ix as usize;
                                let wi = ((o * cg + c) * kh + ky) * kw + kx;
                                s += xv[xi] as f64 * w[wi] as f64;
                            }
                        }
                    }
                    out[((b * co + o) * ho + oy) * wo + ox] = s;
                }
            }
        }
    }
    (vec![n, co, ho, wo], out)
}

/// (c_in, c_out, groups, kernel, stride, pads, dilation)
type ConvCase = (
    usize,
    usize,
    usize,
    [usize; 2],
    [usize; 2],
    [usize; 4],
    [usize; 2],
);

#[wasm_bindgen_test(unsupported = test)]
fn conv_matches_reference() {
    // (c_in, c_out, groups, kernel, stride, pads, dilation)
    let cases: [ConvCase; 5] = [
        (3, 4, 1, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1]),
        (4, 4, 4, [3, 3], [2, 1], [1, 1, 1, 1], [1, 1]), // depthwise, (2,1) stride
        (4, 6, 2, [1, 3], [1, 2], [0, 1, 0, 0], [1, 1]), // grouped, asymmetric pads
        (2, 3, 1, [3, 3], [1, 1], [2, 2, 2, 2], [2, 2]), // dilated
        (8, 5, 1, [1, 1], [1, 1], [0, 0, 0, 0], [1, 1]), // pointwise
    ];
    for (ci, co, g, k, s, p, d) in cases {
        let xs = [2, ci, 7, 9];
        let ws = [co, ci / g, k[0], k[1]];
        let xv = values(xs.iter().product(), 5);
        let w = values(ws.iter().product(), 6);
        let bias = values(co, 7);
        let attrs = [
            ("group", Attr::Int(g as i64)),
            ("strides", Attr::Ints(s.iter().map(|&v| v as i64).collect())),
            ("pads", Attr::Ints(p.iter().map(|&v| v as i64).collect())),
            (
                "dilations",
                Attr::Ints(d.iter().map(|&v| v as i64).collect()),
            ),
        ];
        let y = run(
            "Conv",
            &[
                &x(f32t(&xs, xv.clone())),
                &c(f32t(&ws, w.clone())),
                &c(f32t(&[co], bias.clone())),
            ],
            &attrs,
        );
        let (shape, want) = conv_ref(&xv, xs, &w, ws, &bias, s, p, d, g);
        assert_eq!(y.shape(), shape.as_slice());
        let kk = (ci / g * k[0] * k[1]) as f64;
        for (got, w) in y.as_f32().unwrap().iter().zip(&want) {
            assert!(
                (*got as f64 - w).abs() <= 1e-6 * (kk + 1.0) * 4.0,
                "{got} vs {w}"
            );
        }
    }
    // auto_pad SAME_UPPER keeps ceil(in / stride).
    let y = run(
        "Conv",
        &[
            &x(f32t(&[1, 1, 5, 5], vec![1.0; 25])),
            &c(f32t(&[1, 1, 3, 3], vec![1.0; 9])),
        ],
        &[
            ("auto_pad", Attr::String(b"SAME_UPPER".to_vec())),
            ("strides", Attr::Ints(vec![2, 2])),
        ],
    );
    assert_eq!(y.shape(), &[1, 1, 3, 3]);
    assert_eq!(
        y.as_f32().unwrap(),
        &[4.0, 6.0, 4.0, 6.0, 9.0, 6.0, 4.0, 6.0, 4.0]
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn pooling() {
    let xv: Vec<f32> = (0..16).map(|v| v as f32).collect();
    let x4 = || x(f32t(&[1, 1, 4, 4], xv.clone()));
    let y = run(
        "MaxPool",
        &[&x4()],
        &[
            ("kernel_shape", Attr::Ints(vec![3, 3])),
            ("strides", Attr::Ints(vec![2, 2])),
            ("ceil_mode", Attr::Int(1)),
        ],
    );
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    assert_eq!(y.as_f32().unwrap(), &[10.0, 11.0, 14.0, 15.0]);
    let y = run(
        "AveragePool",
        &[&x4()],
        &[
            ("kernel_shape", Attr::Ints(vec![2, 2])),
            ("strides", Attr::Ints(vec![2, 2])),
        ],
    );
    assert_eq!(y.as_f32().unwrap(), &[2.5, 4.5, 10.5, 12.5]);
    let y = run("GlobalAveragePool", &[&x4()], &[]);
    assert_eq!(
        (y.shape(), y.as_f32().unwrap()),
        (&[1usize, 1, 1, 1][..], &[7.5f32][..])
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn softmax_layernorm_reduce() {
    let v = values(2 * 3 * 4, 8);
    let t = || x(f32t(&[2, 3, 4], v.clone()));
    // Opset 13: along axis 1 (strided); opset 11: flattened from axis 1 (12 elements per row).
    for (opset, axis, group) in [(13, 1, "axis"), (11, 1, "flat")] {
        let y = run_op(
            "Softmax",
            &[Some(&t())],
            &[("axis", Attr::Int(axis))],
            opset,
        )
        .unwrap();
        let y = y.as_f32().unwrap();
        for b in 0..2 {
            let lines: Vec<Vec<usize>> = if group == "axis" {
                (0..4)
                    .map(|j| (0..3).map(|i| b * 12 + i * 4 + j).collect())
                    .collect()
            } else {
                vec![(0..12).map(|i| b * 12 + i).collect()]
            };
            for line in lines {
                let max = line.iter().map(|&i| v[i] as f64).fold(f64::MIN, f64::max);
                let sum: f64 = line.iter().map(|&i| (v[i] as f64 - max).exp()).sum();
                for &i in &line {
                    let want = (v[i] as f64 - max).exp() / sum;
                    assert!(
                        (y[i] as f64 - want).abs() < 1e-6,
                        "{opset}: {} vs {want}",
                        y[i]
                    );
                }
            }
        }
    }
    // LayerNormalization over the last two dimensions (axis 1).
    let scale = values(12, 9);
    let bias = values(12, 10);
    let y = run(
        "LayerNormalization",
        &[
            &t(),
            &c(f32t(&[3, 4], scale.clone())),
            &c(f32t(&[3, 4], bias.clone())),
        ],
        &[("axis", Attr::Int(1)), ("epsilon", Attr::Float(1e-5))],
    );
    for b in 0..2 {
        let row: Vec<f64> = v[b * 12..(b + 1) * 12].iter().map(|&x| x as f64).collect();
        let mean = row.iter().sum::<f64>() / 12.0;
        let var = row.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 12.0;
        for j in 0..12 {
            let want = (row[j] - mean) / (var + 1e-5).sqrt() * scale[j] as f64 + bias[j] as f64;
            assert!((y.as_f32().unwrap()[b * 12 + j] as f64 - want).abs() < 2e-6);
        }
    }
    // ReduceSum (axes input, opset 13) and ReduceMean (axes attribute), keepdims both ways.
    let s = run(
        "ReduceSum",
        &[&t(), &c(i64t(&[2], vec![0, -1]))],
        &[("keepdims", Attr::Int(0))],
    );
    assert_eq!(s.shape(), &[3]);
    for i in 0..3 {
        let want: f64 = (0..2)
            .flat_map(|b| (0..4).map(move |j| (b, j)))
            .map(|(b, j)| v[b * 12 + i * 4 + j] as f64)
            .sum();
        assert!((s.as_f32().unwrap()[i] as f64 - want).abs() < 1e-5);
    }
    let m = run("ReduceMean", &[&t()], &[("axes", Attr::Ints(vec![1]))]);
    assert_eq!(m.shape(), &[2, 1, 4]);
    let want = (v[0] as f64 + v[4] as f64 + v[8] as f64) / 3.0;
    assert!((m.as_f32().unwrap()[0] as f64 - want).abs() < 1e-6);
}

/// Special values of the row kernels behind `Softmax`: a line of only `-inf` (a fully masked
/// attention row) gives zeros, on the last axis and along an inner axis; a NaN makes its line
/// NaN and leaves the others alone.
#[wasm_bindgen_test(unsupported = test)]
fn softmax_masked_and_nan_lines() {
    let inf = f32::NEG_INFINITY;
    let v = vec![inf, inf, 0.0, 0.0, f32::NAN, 1.0];
    for (axis, zero, half, nan) in [(-1, [0, 1], [2, 3], [4, 5]), (0, [0, 3], [1, 4], [2, 5])] {
        let shape: &[usize] = if axis == -1 { &[3, 2] } else { &[2, 3] };
        let v: Vec<f32> = if axis == -1 {
            v.clone()
        } else {
            vec![inf, 0.0, f32::NAN, inf, 0.0, 1.0]
        };
        let y = run(
            "Softmax",
            &[&x(f32t(shape, v))],
            &[("axis", Attr::Int(axis))],
        );
        let y = y.as_f32().unwrap();
        assert!(zero.iter().all(|&i| y[i] == 0.0), "{axis}: {y:?}");
        assert!(half.iter().all(|&i| y[i] == 0.5), "{axis}: {y:?}");
        assert!(nan.iter().all(|&i| y[i].is_nan()), "{axis}: {y:?}");
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn unary_functions() {
    let v: Vec<f32> = vec![-3.0, -0.5, 0.0, 0.25, 1.0, 2.0, 4.0];
    let t = || x(f32t(&[7], v.clone()));
    let check = |op: &str, attrs: &[(&str, Attr)], f: &dyn Fn(f64) -> f64, tol: f64| {
        let y = run(op, &[&t()], attrs);
        for (got, &xv) in y.as_f32().unwrap().iter().zip(&v) {
            let want = f(xv as f64);
            assert!(
                (*got as f64 - want).abs() <= tol * want.abs().max(1.0),
                "{op}({xv}) = {got}, want {want}"
            );
        }
    };
    check("Relu", &[], &|x| x.max(0.0), 0.0);
    check("Neg", &[], &|x| -x, 0.0);
    check("Abs", &[], &|x| x.abs(), 0.0);
    check("Sigmoid", &[], &|x| 1.0 / (1.0 + (-x).exp()), 2e-6);
    check("Tanh", &[], &f64::tanh, 3e-6);
    check("Exp", &[], &f64::exp, 1e-6);
    check("Erf", &[], &|x| libm_erf(x), 1e-6);
    check(
        "HardSigmoid",
        &[("alpha", Attr::Float(0.25)), ("beta", Attr::Float(0.5))],
        &|x| (0.25 * x + 0.5).clamp(0.0, 1.0),
        1e-7,
    );
    check(
        "HardSwish",
        &[],
        &|x| x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
        1e-7,
    );
    let y = run(
        "Pow",
        &[
            &x(f32t(&[3], vec![4.0, 2.0, 3.0])),
            &c(f32t(&[], vec![1.5])),
        ],
        &[],
    );
    for (got, want) in
        y.as_f32()
            .unwrap()
            .iter()
            .zip([8.0f64, 2.828_427_124_746_19, 5.196_152_422_706_632])
    {
        assert!((*got as f64 - want).abs() <= 1e-6 * want, "{got} vs {want}");
    }
    let y = run("Sqrt", &[&x(f32t(&[3], vec![4.0, 2.0, 0.0]))], &[]);
    assert_eq!(y.as_f32().unwrap(), &[2.0, 2f32.sqrt(), 0.0]);
    let y = run(
        "Clip",
        &[&t(), &c(f32t(&[], vec![-1.0])), &c(f32t(&[], vec![1.5]))],
        &[],
    );
    assert_eq!(y.as_f32().unwrap(), &[-1.0, -0.5, 0.0, 0.25, 1.0, 1.5, 1.5]);
    // min > max gives max (as ONNX Runtime); a NaN bound is no bound.
    let y = run(
        "Clip",
        &[&t(), &c(f32t(&[], vec![2.0])), &c(f32t(&[], vec![-1.0]))],
        &[],
    );
    assert_eq!(y.as_f32().unwrap(), &[-1.0; 7]);
    let y = run(
        "Clip",
        &[
            &t(),
            &c(f32t(&[], vec![f32::NAN])),
            &c(f32t(&[], vec![1.0])),
        ],
        &[],
    );
    assert_eq!(y.as_f32().unwrap(), &[-3.0, -0.5, 0.0, 0.25, 1.0, 1.0, 1.0]);
    // Cast: f32 -> i64 truncates toward zero; -> bool is != 0; bool -> f32 is 0/1.
    let y = run("Cast", &[&t()], &[("to", Attr::Int(7))]);
    assert_eq!(y.as_i64().unwrap(), &[-3, 0, 0, 0, 1, 2, 4]);
    let b = run("Cast", &[&t()], &[("to", Attr::Int(9))]);
    assert_eq!(b.dtype(), DType::Bool);
    let f = run("Cast", &[&x(b)], &[("to", Attr::Int(1))]);
    assert_eq!(f.as_f32().unwrap(), &[1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
}

/// erf by its Taylor series (|x| <= 4 here; 60 terms is plenty in f64).
fn libm_erf(x: f64) -> f64 {
    if x.abs() > 3.5 {
        return x.signum() * (1.0 - 1e-7);
    }
    let mut term = x;
    let mut sum = x;
    for n in 1..80 {
        term *= -x * x / n as f64;
        sum += term / (2 * n + 1) as f64;
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

#[wasm_bindgen_test(unsupported = test)]
fn data_movement() {
    let v: Vec<f32> = (0..24).map(|i| i as f32).collect();
    let t = || x(f32t(&[2, 3, 4], v.clone()));
    let y = run("Transpose", &[&t()], &[("perm", Attr::Ints(vec![2, 0, 1]))]);
    assert_eq!(y.shape(), &[4, 2, 3]);
    assert_eq!(
        &y.as_f32().unwrap()[..6],
        &[0.0, 4.0, 8.0, 12.0, 16.0, 20.0]
    );
    // Slice with negative step and clamped ends: [:, ::-2, 1:100]
    let y = run(
        "Slice",
        &[
            &t(),
            &c(i64t(&[2], vec![-1, 1])),
            &c(i64t(&[2], vec![i64::MIN, 100])),
            &c(i64t(&[2], vec![1, 2])),
            &c(i64t(&[2], vec![-2, 1])),
        ],
        &[],
    );
    assert_eq!(y.shape(), &[2, 2, 3]);
    assert_eq!(
        y.as_f32().unwrap(),
        &[9.0, 10.0, 11.0, 1.0, 2.0, 3.0, 21.0, 22.0, 23.0, 13.0, 14.0, 15.0]
    );
    let y = run(
        "Gather",
        &[&t(), &x(i64t(&[2], vec![-1, 0]))],
        &[("axis", Attr::Int(1))],
    );
    assert_eq!(y.shape(), &[2, 2, 4]);
    assert_eq!(
        &y.as_f32().unwrap()[..8],
        &[8.0, 9.0, 10.0, 11.0, 0.0, 1.0, 2.0, 3.0]
    );
    let y = run(
        "Concat",
        &[&t(), &x(f32t(&[2, 1, 4], vec![-1.0; 8]))],
        &[("axis", Attr::Int(1))],
    );
    assert_eq!(y.shape(), &[2, 4, 4]);
    assert_eq!(
        &y.as_f32().unwrap()[12..20],
        &[-1.0, -1.0, -1.0, -1.0, 12.0, 13.0, 14.0, 15.0]
    );
    let y = run("Reshape", &[&t(), &c(i64t(&[3], vec![0, -1, 2]))], &[]);
    assert_eq!(y.shape(), &[2, 6, 2]);
    let y = run("Unsqueeze", &[&t(), &c(i64t(&[2], vec![0, -1]))], &[]);
    assert_eq!(y.shape(), &[1, 2, 3, 4, 1]);
    let y = run("Squeeze", &[&x(f32t(&[1, 3, 1], vec![1.0, 2.0, 3.0]))], &[]);
    assert_eq!(y.shape(), &[3]);
    let y = run(
        "Expand",
        &[
            &x(f32t(&[3, 1], vec![1.0, 2.0, 3.0])),
            &c(i64t(&[3], vec![2, 1, 2])),
        ],
        &[],
    );
    assert_eq!(y.shape(), &[2, 3, 2]);
    assert_eq!(&y.as_f32().unwrap()[..6], &[1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
    let y = run("Shape", &[&t()], &[("start", Attr::Int(-2))]);
    assert_eq!(y.as_i64().unwrap(), &[3, 4]);
    let y = run("Flatten", &[&t()], &[("axis", Attr::Int(2))]);
    assert_eq!(y.shape(), &[6, 4]);
    let cond = Tensor::from_bool_bytes(&[3], vec![1, 0, 1]).unwrap();
    let y = run(
        "Where",
        &[
            &x(cond),
            &x(f32t(&[3], vec![1.0, 2.0, 3.0])),
            &x(f32t(&[], vec![0.0])),
        ],
        &[],
    );
    assert_eq!(y.as_f32().unwrap(), &[1.0, 0.0, 3.0]);
}

#[wasm_bindgen_test(unsupported = test)]
fn errors_name_the_node() {
    // Shapes that do not broadcast: refused when the session is built.
    let err = run_op(
        "Add",
        &[
            Some(&x(f32t(&[2, 3], vec![0.0; 6]))),
            Some(&x(f32t(&[4], vec![0.0; 4]))),
        ],
        &[],
        17,
    )
    .unwrap_err();
    assert!(
        matches!(&err, GraphError::Invalid { node, op, .. } if node == "Add_0" && op == "Add"),
        "{err:?}"
    );
    // A Gather index out of range is found at run time (indices are data).
    let err = run_op(
        "Gather",
        &[
            Some(&x(f32t(&[2], vec![0.0; 2]))),
            Some(&x(i64t(&[1], vec![2]))),
        ],
        &[],
        17,
    )
    .unwrap_err();
    assert!(
        matches!(&err, GraphError::Invalid { node, why, .. } if node == "Gather_0" && why.contains("out of range")),
        "{err:?}"
    );
    // Reshape to a different element count.
    let err = run_op(
        "Reshape",
        &[
            Some(&x(f32t(&[6], vec![0.0; 6]))),
            Some(&c(i64t(&[1], vec![4]))),
        ],
        &[],
        17,
    )
    .unwrap_err();
    assert!(matches!(err, GraphError::Invalid { .. }));
    // Unsupported element type, unknown op, missing required attribute.
    let err = run_op("Sqrt", &[Some(&x(i64t(&[1], vec![4])))], &[], 17).unwrap_err();
    assert!(matches!(err, GraphError::Unsupported { .. }), "{err:?}");
    let mut b = GraphBuilder::new(17);
    let i = b.input("x", TensorType::fixed(DType::F32, &[1]));
    let y = b.node("Concat", &[i], &[]);
    b.output(y);
    assert!(Model::from_graph(b.build().unwrap()).is_err());
    // Rank over 8 is refused, not indexed out of bounds.
    let err = run_op("Relu", &[Some(&x(f32t(&[1; 9], vec![1.0])))], &[], 17);
    assert!(err.is_ok(), "elementwise unary ops have no rank limit");
    let err = run_op("Transpose", &[Some(&x(f32t(&[1; 9], vec![1.0])))], &[], 17).unwrap_err();
    assert!(matches!(err, GraphError::Unsupported { .. }), "{err:?}");
}

#[wasm_bindgen_test(unsupported = test)]
fn session_checks_inputs_and_limits() {
    let model = build("Relu", &[Some(&x(f32t(&[2], vec![0.0; 2])))], &[], 17);
    let spec = TensorSpec::new(DType::F32, &[2]);
    let mut s = model.session(std::slice::from_ref(&spec)).unwrap();
    let good = f32t(&[2], vec![-1.0, 1.0]);
    assert_eq!(
        s.run(&[good.view()]).unwrap()[0].as_f32().unwrap(),
        &[0.0, 1.0]
    );
    let wrong = f32t(&[3], vec![0.0; 3]);
    assert!(s.run(&[wrong.view()]).is_err());
    assert!(s.run(&[]).is_err());
    // The declared type is checked when specialising.
    assert!(model.session(&[TensorSpec::new(DType::I64, &[2])]).is_err());
    // Size limits.
    let tiny = Options {
        max_tensor_bytes: 4,
        ..Options::default()
    };
    let model = build("Relu", &[Some(&x(f32t(&[2], vec![0.0; 2])))], &[], 17);
    let model = model.with_options(tiny);
    assert!(matches!(
        model.session(&[spec]),
        Err(GraphError::TooLarge { .. })
    ));
    // run_into writes caller-owned outputs.
    let mut out = Tensor::zeros(DType::F32, &[2]).unwrap();
    s.run_into(&[good.view()], &mut [out.view_mut()]).unwrap();
    assert_eq!(out.as_f32().unwrap(), &[0.0, 1.0]);
}

/// Hand-written GELU and HardSwish subgraphs after a MatMul / Conv fuse into one operator and
/// compute the same values as the unfused graph.
#[wasm_bindgen_test(unsupported = test)]
fn fusions_preserve_results() {
    let mut b = GraphBuilder::new(17);
    let xin = b.input("x", TensorType::fixed(DType::F32, &[3, 8]));
    let w = b.constant("w", f32t(&[8, 5], values(40, 11)));
    let bias = b.constant("b", f32t(&[5], values(5, 12)));
    let half = b.constant("half", f32t(&[], vec![0.5]));
    let rs2 = b.constant("rs2", f32t(&[], vec![std::f32::consts::FRAC_1_SQRT_2]));
    let one = b.constant("one", f32t(&[], vec![1.0]));
    let mm = b.node("MatMul", &[xin, w], &[]);
    let h = b.node("Add", &[mm, bias], &[]);
    let hh = b.node("Mul", &[h, half], &[]);
    let hs = b.node("Mul", &[h, rs2], &[]);
    let e = b.node("Erf", &[hs], &[]);
    let a = b.node("Add", &[e, one], &[]);
    let gelu = b.node("Mul", &[hh, a], &[]);
    let w2 = b.constant("w2", f32t(&[5, 8], values(40, 13)));
    let mm2 = b.node("MatMul", &[gelu, w2], &[]);
    let res = b.node("Add", &[mm2, xin], &[]); // residual
    b.output(res);
    let g = b.build().unwrap();
    let xv = f32t(&[3, 8], values(24, 14));
    let plain = Options {
        fuse: false,
        ..Options::default()
    };
    let mut m0 = Model::from_graph(g.clone()).unwrap().with_options(plain);
    let mut m1 = Model::from_graph(g).unwrap();
    let kinds = m1
        .session(&[TensorSpec::new(DType::F32, &[3, 8])])
        .unwrap()
        .op_kinds();
    assert_eq!(
        kinds,
        ["Linear", "Linear"],
        "GELU and the residual fuse into the Linears"
    );
    let y0 = m0.run(&[xv.view()]).unwrap();
    let y1 = m1.run(&[xv.view()]).unwrap();
    let d = graph_common::max_abs_diff(y0[0].as_f32().unwrap(), y1[0].as_f32().unwrap());
    assert!(d < 1e-5, "{d}");

    // Conv -> BatchNormalization -> x * clip(x + 3, 0, 6) / 6 becomes one Conv.
    let mut b = GraphBuilder::new(13);
    let xin = b.input("x", TensorType::fixed(DType::F32, &[1, 2, 5, 5]));
    let w = b.constant("w", f32t(&[3, 2, 3, 3], values(54, 15)));
    let bn: Vec<usize> = (0..4)
        .map(|i| {
            let mut p = values(3, 16 + i);
            if i == 3 {
                p.iter_mut().for_each(|v| *v = v.abs() + 0.1); // variance
            }
            b.constant(&format!("bn{i}"), f32t(&[3], p))
        })
        .collect();
    let three = b.constant("three", f32t(&[], vec![3.0]));
    let zero = b.constant("zero", f32t(&[], vec![0.0]));
    let six = b.constant("six", f32t(&[], vec![6.0]));
    let cv = b.node("Conv", &[xin, w], &[("pads", Attr::Ints(vec![1, 1, 1, 1]))]);
    let y = b.node("BatchNormalization", &[cv, bn[0], bn[1], bn[2], bn[3]], &[]);
    let p3 = b.node("Add", &[y, three], &[]);
    let cl = b.node("Clip", &[p3, zero, six], &[]);
    let m = b.node("Mul", &[y, cl], &[]);
    let hs = b.node("Div", &[m, six], &[]);
    b.output(hs);
    let g = b.build().unwrap();
    let xv = f32t(
        &[1, 2, 5, 5],
        values(50, 20).iter().map(|v| 4.0 * v).collect(),
    );
    let mut m0 = Model::from_graph(g.clone()).unwrap().with_options(Options {
        fuse: false,
        ..Options::default()
    });
    let mut m1 = Model::from_graph(g).unwrap();
    let kinds = m1
        .session(&[TensorSpec::new(DType::F32, &[1, 2, 5, 5])])
        .unwrap()
        .op_kinds();
    assert_eq!(kinds, ["Conv"]);
    let y0 = m0.run(&[xv.view()]).unwrap();
    let y1 = m1.run(&[xv.view()]).unwrap();
    let d = graph_common::max_abs_diff(y0[0].as_f32().unwrap(), y1[0].as_f32().unwrap());
    assert!(d < 1e-5, "{d}");
}

/// The arena is planned: intermediate tensors share memory, and the reported peak is below the
/// sum of all tensor sizes.
#[wasm_bindgen_test(unsupported = test)]
fn memory_plan_reuses_buffers() {
    let mut b = GraphBuilder::new(17);
    let mut v = b.input("x", TensorType::fixed(DType::F32, &[1024]));
    for _ in 0..10 {
        v = b.node("Relu", &[v], &[]);
        v = b.node("Neg", &[v], &[]);
    }
    b.output(v);
    let model = Model::from_graph(b.build().unwrap()).unwrap();
    let s = model
        .session(&[TensorSpec::new(DType::F32, &[1024])])
        .unwrap();
    assert_eq!(s.op_kinds().len(), 20);
    // Input + 20 outputs of 4 KiB each if nothing were shared; a chain needs two live at once.
    assert!(s.peak_bytes() <= 2 * (4096 + 64), "peak {}", s.peak_bytes());
}
