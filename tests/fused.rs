//! Fused LayerNorm + MatMul + Add: bit-identical to the unfused composition (LayerNorm, then the
//! packed GEMM with the same epilogue) across row blocks, strides, optional bias / beta /
//! residual; within the propagated error bound of an f64 reference; scratch reuse; bad inputs.
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn::fused::BLOCK_ROWS;
use wasmnn::kernels::layer_norm;
use wasmnn::{
    gemm_packed, layer_norm_matmul_add, EpilogueOp, Error, FusedScratch, LayerNormParams, MatMut,
    MatRef, PackedB,
};

/// SplitMix64 floats in [-1, 1).
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32, offset: f32) -> Vec<f32> {
        (0..n).map(|_| self.unit() * scale + offset).collect()
    }
}

/// One problem: x (`m x k`, row stride `xs`), W, gamma/beta, bias, residual.
struct Case {
    m: usize,
    k: usize,
    n: usize,
    xs: usize,
    x: Vec<f32>,
    w: Vec<f32>,
    gamma: Vec<f32>,
    beta: Option<Vec<f32>>,
    bias: Option<Vec<f32>>,
    residual: Option<Vec<f32>>,
}

impl Case {
    fn new(m: usize, k: usize, n: usize, pad: usize, flags: u32, rng: &mut Rng) -> Case {
        let xs = k + pad;
        Case {
            m,
            k,
            n,
            xs,
            x: rng.vec(m * xs, 2.0, 0.5),
            w: rng.vec(k * n, 1.0, 0.0),
            gamma: rng.vec(k, 1.0, 1.0),
            beta: (flags & 1 != 0).then(|| rng.vec(k, 0.5, 0.0)),
            bias: (flags & 2 != 0).then(|| rng.vec(n, 0.5, 0.0)),
            residual: (flags & 4 != 0).then(|| rng.vec(m * n, 3.0, 0.0)),
        }
    }
    fn x(&self) -> MatRef<'_> {
        MatRef::new(&self.x, self.m, self.k, self.xs, 1).unwrap()
    }
    fn norm(&self) -> LayerNormParams<'_> {
        LayerNormParams {
            gamma: &self.gamma,
            beta: self.beta.as_deref(),
            eps: 1e-5,
        }
    }
    fn residual(&self) -> Option<MatRef<'_>> {
        self.residual
            .as_deref()
            .map(|r| MatRef::row_major(r, self.m, self.n).unwrap())
    }

    fn fused(&self, w: &PackedB, scratch: &mut FusedScratch) -> Vec<f32> {
        let mut y = vec![f32::NAN; self.m * self.n];
        layer_norm_matmul_add(
            self.x(),
            self.norm(),
            w,
            self.bias.as_deref(),
            self.residual(),
            MatMut::row_major(&mut y, self.m, self.n).unwrap(),
            scratch,
        )
        .unwrap();
        y
    }

    /// LayerNorm of every row into a full matrix, then one GEMM with the same epilogue.
    fn unfused(&self, w: &PackedB) -> Vec<f32> {
        let (m, k, n) = (self.m, self.k, self.n);
        let mut h = vec![0.0f32; m * k];
        for i in 0..m {
            let row = &self.x[i * self.xs..i * self.xs + k];
            layer_norm(
                row,
                &mut h[i * k..(i + 1) * k],
                &self.gamma,
                self.beta.as_deref(),
                1e-5,
            )
            .unwrap();
        }
        let mut ops = vec![];
        if let Some(b) = &self.bias {
            ops.push(EpilogueOp::AddColBias(b));
        }
        if let Some(r) = self.residual() {
            ops.push(EpilogueOp::AddMatrix(r));
        }
        let mut y = vec![f32::NAN; m * n];
        gemm_packed(
            1.0,
            MatRef::row_major(&h, m, k).unwrap(),
            w,
            0.0,
            MatMut::row_major(&mut y, m, n).unwrap(),
            &ops,
        )
        .unwrap();
        y
    }

    /// f64 reference and the error bound of each output: the LayerNorm bound of
    /// `wasmnn_kernels::rows` per normalised element, carried through `|W|`, plus the GEMM's
    /// rounding (`(k + 2) u` of `sum |h w|`) and the rounding of the bias and residual adds.
    fn reference(&self) -> (Vec<f64>, Vec<f64>) {
        let (m, k, n) = (self.m, self.k, self.n);
        let u = 1.0 / (1u64 << 24) as f64;
        let chain = k as f64 / 16.0 + 5.0;
        let (mut want, mut bound) = (vec![0.0; m * n], vec![0.0; m * n]);
        for i in 0..m {
            let row: Vec<f64> = (0..k).map(|p| self.x[i * self.xs + p] as f64).collect();
            let mean = row.iter().sum::<f64>() / k as f64;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / k as f64;
            let rstd = 1.0 / (var + 1e-5).sqrt();
            let a = row.iter().map(|v| v.abs()).sum::<f64>() / k as f64;
            let mut h = vec![0.0; k];
            let mut h_err = vec![0.0; k];
            for p in 0..k {
                let xh = (row[p] - mean) * rstd;
                let g = self.gamma[p] as f64;
                let b = self.beta.as_ref().map_or(0.0, |b| b[p] as f64);
                h[p] = xh * g + b;
                h_err[p] = u
                    * (g.abs() * ((chain / 2.0 + 6.0) * xh.abs() + (chain + 2.0) * a * rstd)
                        + b.abs()
                        + h[p].abs());
            }
            for j in 0..n {
                let (mut s, mut sa, mut e) = (0.0, 0.0, 0.0);
                for p in 0..k {
                    let wv = self.w[p * n + j] as f64;
                    s += h[p] * wv;
                    sa += (h[p] * wv).abs();
                    e += h_err[p] * wv.abs();
                }
                let extra = self.bias.as_ref().map_or(0.0, |b| b[j] as f64)
                    + self.residual.as_ref().map_or(0.0, |r| r[i * n + j] as f64);
                want[i * n + j] = s + extra;
                bound[i * n + j] =
                    e + (k as f64 + 2.0) * u * sa + 2.0 * u * (s.abs() + extra.abs()) + 1e-30;
            }
        }
        (want, bound)
    }
}

/// Several row blocks (m > BLOCK_ROWS, m not a multiple of 4), padded rows of x, every
/// combination of beta / bias / residual: bit-identical to the unfused path and within the
/// bound of the f64 reference.
#[wasm_bindgen_test(unsupported = test)]
fn matches_unfused_bit_for_bit_and_f64_within_bound() {
    let mut rng = Rng(42);
    let mut scratch = FusedScratch::new();
    let shapes = [
        (1, 8, 8),
        (3, 17, 5),
        (BLOCK_ROWS, 32, 16),
        (BLOCK_ROWS + 1, 24, 9),
        (2 * BLOCK_ROWS + 7, 40, 33),
        (5, 1, 3),
    ];
    for (idx, &(m, k, n)) in shapes.iter().enumerate() {
        for flags in 0..8 {
            let case = Case::new(m, k, n, (idx + flags as usize) % 3, flags, &mut rng);
            let w = PackedB::from_row_major(&case.w, k, n).unwrap();
            let got = case.fused(&w, &mut scratch);
            let unfused = case.unfused(&w);
            assert!(
                got.iter()
                    .zip(&unfused)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "m={m} k={k} n={n} flags={flags}: fused differs from unfused"
            );
            let (want, bound) = case.reference();
            for (i, (&g, (&w, &b))) in got.iter().zip(want.iter().zip(&bound)).enumerate() {
                let err = (g as f64 - w).abs();
                assert!(
                    err <= b,
                    "m={m} k={k} n={n} flags={flags} [{i}] = {g}, want {w}, err {err:e} > {b:e}"
                );
            }
        }
    }
}

/// The scratch is sized once (one block of rows) and reused: no growth on later calls.
#[wasm_bindgen_test(unsupported = test)]
fn scratch_is_one_block_and_is_reused() {
    let mut rng = Rng(7);
    let mut scratch = FusedScratch::new();
    let case = Case::new(3 * BLOCK_ROWS, 24, 8, 0, 7, &mut rng);
    let w = PackedB::from_row_major(&case.w, 24, 8).unwrap();
    case.fused(&w, &mut scratch);
    assert_eq!(
        scratch.capacity(),
        BLOCK_ROWS * 24,
        "one block, not the whole matrix"
    );
    let small = Case::new(5, 24, 8, 1, 3, &mut rng);
    small.fused(&w, &mut scratch);
    case.fused(&w, &mut scratch);
    assert_eq!(scratch.capacity(), BLOCK_ROWS * 24);
}

#[wasm_bindgen_test(unsupported = test)]
fn bad_inputs_are_typed_errors() {
    let (m, k, n) = (3, 4, 5);
    let x = vec![1.0f32; m * k];
    let w = PackedB::from_row_major(&vec![1.0; k * n], k, n).unwrap();
    let gamma = vec![1.0f32; k];
    let bias = vec![0.0f32; n];
    let res = vec![0.0f32; m * n];
    let mut y = vec![7.0f32; m * n];
    let mut scratch = FusedScratch::new();
    let norm = LayerNormParams {
        gamma: &gamma,
        beta: None,
        eps: 1e-5,
    };
    let xr = MatRef::row_major(&x, m, k).unwrap();
    let rr = MatRef::row_major(&res, m, n).unwrap();
    let mut run = |x: MatRef<'_>,
                   norm: LayerNormParams<'_>,
                   bias: Option<&[f32]>,
                   r: Option<MatRef<'_>>,
                   rows: usize,
                   cols: usize| {
        layer_norm_matmul_add(
            x,
            norm,
            &w,
            bias,
            r,
            MatMut::row_major(&mut y[..rows * cols], rows, cols).unwrap(),
            &mut scratch,
        )
    };
    let shape = |e: Result<(), Error>| matches!(e, Err(Error::ShapeMismatch { .. }));
    let invalid = |e: Result<(), Error>| matches!(e, Err(Error::InvalidArgument { .. }));
    // x with the wrong width, or with non-contiguous rows.
    assert!(shape(run(
        MatRef::row_major(&x, m, 3).unwrap(),
        norm,
        None,
        None,
        m,
        n
    )));
    assert!(invalid(run(
        MatRef::col_major(&x, m, k).unwrap(),
        norm,
        None,
        None,
        m,
        n
    )));
    // LayerNorm parameters.
    let short = [1.0f32; 3];
    let with = |gamma, beta, eps| LayerNormParams { gamma, beta, eps };
    assert!(shape(run(xr, with(&short, None, 1e-5), None, None, m, n)));
    assert!(shape(run(
        xr,
        with(&gamma, Some(&short), 1e-5),
        None,
        None,
        m,
        n
    )));
    for eps in [-1.0, f32::NAN, f32::INFINITY] {
        assert!(invalid(run(xr, with(&gamma, None, eps), None, None, m, n)));
    }
    // y, bias and residual shapes.
    assert!(shape(run(xr, norm, None, None, m - 1, n)));
    assert!(shape(run(xr, norm, None, None, m, n - 1)));
    assert!(shape(run(xr, norm, Some(&bias[..4]), None, m, n)));
    let bad_res = MatRef::row_major(&res, m - 1, n).unwrap();
    assert!(shape(run(xr, norm, Some(&bias), Some(bad_res), m, n)));
    assert!(run(xr, norm, Some(&bias), Some(rr), m, n).is_ok());
    let wrote = y.iter().any(|&v| v != 7.0);
    assert!(wrote, "the valid call wrote y");
    // A refused call leaves y untouched.
    let before = y.clone();
    let e = layer_norm_matmul_add(
        xr,
        with(&gamma, None, -1.0),
        &w,
        None,
        None,
        MatMut::row_major(&mut y, m, n).unwrap(),
        &mut scratch,
    );
    assert!(e.is_err());
    assert_eq!(y, before);
}
