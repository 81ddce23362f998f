//! Quantize / dequantize / dynamic quantization against references written from the ONNX
//! specification (f32 division, round half to even, saturation), on edge values, every tail
//! length of the 16-wide SIMD loop, strided layouts, per tensor and per column.
mod common;

use common::{dynamic_ref, quantize_ref, rte, Layout, Rng, Strided};
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_kernels::MatRef;
use wasmnn_quant::quantize::{
    dynamic_params, dynamic_quantize, dynamic_quantize_rows, min_max, round_half_even,
    DynamicParams,
};
use wasmnn_quant::{
    dequantize_linear, dynamic_quantize_linear, quantize_linear, QMatMut, QMatRef, QuantParams, Q8,
};

/// Values that exercise rounding ties, saturation, signed zero, infinities and NaN.
fn edge_values(scale: f32) -> Vec<f32> {
    let mut v = vec![
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MAX,
        f32::MIN,
        1e-30,
        -1e-30,
    ];
    for t in -300..=300 {
        v.push(t as f32 * 0.5 * scale); // exact halves: ties to even
    }
    v
}

fn check_quantize<Z: Q8>(scale: f32, zp: i32, x: &[f32], layout: Layout) {
    let cols = 7;
    let rows = x.len().div_ceil(cols);
    let xs = Strided::new(rows, cols, layout, 0.0f32, |i, j| {
        *x.get(i * cols + j).unwrap_or(&0.5)
    });
    let xv = MatRef::new(&xs.data, rows, cols, xs.rs, xs.cs).unwrap();
    let mut q = Strided::new(rows, cols, Layout::RowMajor, Z::default(), |_, _| {
        Z::default()
    });
    quantize_linear(
        xv,
        QuantParams::PerTensor {
            scale,
            zero_point: zp,
        },
        q.view_mut(),
    )
    .unwrap();
    for i in 0..rows {
        for j in 0..cols {
            let want: Z = quantize_ref(xs.at(i, j), scale, zp);
            assert_eq!(
                q.at(i, j),
                want,
                "x={} scale={scale} zp={zp} {layout:?}",
                xs.at(i, j)
            );
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn quantize_per_tensor_matches_spec() {
    for (scale, zp) in [(1.0f32, 0), (0.5, 128), (0.1, 3), (3.7, 255), (1e-3, 77)] {
        for layout in Layout::ALL {
            check_quantize::<u8>(scale, zp, &edge_values(scale), layout);
        }
    }
    for (scale, zp) in [(1.0f32, 0), (0.25, -128), (0.1, 127), (7.5, -3)] {
        for layout in Layout::ALL {
            check_quantize::<i8>(scale, zp, &edge_values(scale), layout);
        }
    }
    // Every tail length around the 16-value SIMD step.
    let mut rng = Rng::new(31);
    for len in 0..=50 {
        let x: Vec<f32> = (0..len).map(|_| rng.unit() * 200.0).collect();
        let mut q = vec![0u8; len];
        quantize_linear(
            MatRef::row_major(&x, 1, len).unwrap(),
            QuantParams::PerTensor {
                scale: 0.75,
                zero_point: 100,
            },
            QMatMut::row_major(&mut q, 1, len).unwrap(),
        )
        .unwrap();
        for (j, &v) in x.iter().enumerate() {
            assert_eq!(
                q[j],
                quantize_ref::<u8>(v, 0.75, 100),
                "len {len} index {j}"
            );
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn quantize_per_column_and_dequantize() {
    let mut rng = Rng::new(32);
    let (rows, cols) = (9, 11);
    let scales: Vec<f32> = (0..cols).map(|j| 0.05 + j as f32 * 0.1).collect();
    let zps: Vec<i32> = (0..cols).map(|j| (j as i32 * 23) % 256).collect();
    let x: Vec<f32> = (0..rows * cols).map(|_| rng.unit() * 30.0).collect();
    let mut q = vec![0u8; rows * cols];
    let params = QuantParams::PerChannel {
        scales: &scales,
        zero_points: &zps,
    };
    quantize_linear(
        MatRef::row_major(&x, rows, cols).unwrap(),
        params,
        QMatMut::row_major(&mut q, rows, cols).unwrap(),
    )
    .unwrap();
    for i in 0..rows {
        for j in 0..cols {
            let want = quantize_ref::<u8>(x[i * cols + j], scales[j], zps[j]);
            assert_eq!(q[i * cols + j], want);
        }
    }
    let mut back = vec![0.0f32; rows * cols];
    dequantize_linear(
        QMatRef::row_major(&q, rows, cols).unwrap(),
        params,
        QMatMut::row_major(&mut back, rows, cols).unwrap(),
    )
    .unwrap();
    for i in 0..rows {
        for j in 0..cols {
            let want = (q[i * cols + j] as i32 - zps[j]) as f32 * scales[j];
            assert_eq!(back[i * cols + j].to_bits(), want.to_bits());
            // Round trip within half a step unless saturated.
            if q[i * cols + j] != 0 && q[i * cols + j] != 255 {
                assert!((back[i * cols + j] - x[i * cols + j]).abs() <= scales[j] * 0.5 + 1e-5);
            }
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn round_half_even_matches_std() {
    let mut rng = Rng::new(33);
    for _ in 0..10_000 {
        let x = rng.unit() * 1e4;
        assert_eq!(round_half_even(x).to_bits(), rte(x).to_bits(), "{x}");
    }
    for t in -50..50 {
        let x = t as f32 + 0.5;
        assert_eq!(round_half_even(x), rte(x));
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn dynamic_quantization_matches_spec() {
    let mut rng = Rng::new(34);
    let mut cases: Vec<Vec<f32>> = vec![
        vec![],
        vec![0.0; 5],
        vec![3.0],
        vec![-2.0],
        vec![-1.0, 0.0, 3.0],
        vec![f32::NAN, 1.0, -1.0],
        vec![1e-40, -1e-40],
    ];
    for len in [1, 15, 16, 17, 33, 100, 1000] {
        let shift = rng.unit() * 3.0;
        cases.push((0..len).map(|_| rng.unit() * 5.0 + shift).collect());
    }
    for x in &cases {
        let (scale, zp) = dynamic_ref::<u8>(x);
        assert_eq!(
            dynamic_params::<u8>(x),
            DynamicParams {
                scale,
                zero_point: zp
            },
            "{x:?}"
        );
        let mut q = vec![0u8; x.len()];
        let p = dynamic_quantize_linear(x, &mut q).unwrap();
        assert_eq!((p.scale, p.zero_point), (scale, zp));
        for (i, &v) in x.iter().enumerate() {
            assert_eq!(q[i], quantize_ref::<u8>(v, scale, zp), "x={v}");
        }
        // i8 variant of the same formula.
        let (scale, zp) = dynamic_ref::<i8>(x);
        let mut q = vec![0i8; x.len()];
        let p = dynamic_quantize::<i8>(x, &mut q).unwrap();
        assert_eq!((p.scale, p.zero_point), (scale, zp));
        for (i, &v) in x.iter().enumerate() {
            assert_eq!(q[i], quantize_ref::<i8>(v, scale, zp));
        }
        // min_max ignores NaN and includes 0.
        let (lo, hi) = min_max(x);
        assert!(lo <= 0.0 && hi >= 0.0);
    }
    assert_eq!(
        dynamic_quantize_linear(&[1.0, 2.0], &mut [0u8; 3]),
        Err(wasmnn_quant::Error::ShapeMismatch {
            what: "length of the quantized output (= input length)",
            expected: 2,
            found: 3
        })
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn dynamic_quantization_per_row() {
    let mut rng = Rng::new(35);
    let (rows, cols) = (6, 37);
    let x = Strided::new(rows, cols, Layout::ColMajor, 0.0f32, |i, _| {
        rng.unit() * (i + 1) as f32
    });
    let mut q = vec![0u8; rows * cols];
    let mut p = vec![
        DynamicParams {
            scale: 0.0,
            zero_point: 0
        };
        rows
    ];
    dynamic_quantize_rows(
        MatRef::new(&x.data, rows, cols, x.rs, x.cs).unwrap(),
        QMatMut::row_major(&mut q, rows, cols).unwrap(),
        &mut p,
    )
    .unwrap();
    for i in 0..rows {
        let row: Vec<f32> = (0..cols).map(|j| x.at(i, j)).collect();
        let (scale, zp) = dynamic_ref::<u8>(&row);
        assert_eq!(
            p[i],
            DynamicParams {
                scale,
                zero_point: zp
            }
        );
        for j in 0..cols {
            assert_eq!(q[i * cols + j], quantize_ref::<u8>(row[j], scale, zp));
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn bad_parameters_are_typed_errors() {
    use wasmnn_quant::Error;
    let x = [1.0f32; 6];
    let xv = MatRef::row_major(&x, 2, 3).unwrap();
    let mut q = [9u8; 6];
    let run = |q: &mut [u8], p: QuantParams<'_>| {
        quantize_linear(xv, p, QMatMut::row_major(q, 2, 3).unwrap())
    };
    for (p, what) in [
        (
            QuantParams::PerTensor {
                scale: 0.0,
                zero_point: 0,
            },
            "scale 0",
        ),
        (
            QuantParams::PerTensor {
                scale: -1.0,
                zero_point: 0,
            },
            "negative scale",
        ),
        (
            QuantParams::PerTensor {
                scale: f32::NAN,
                zero_point: 0,
            },
            "NaN scale",
        ),
        (
            QuantParams::PerTensor {
                scale: f32::INFINITY,
                zero_point: 0,
            },
            "inf scale",
        ),
        (
            QuantParams::PerTensor {
                scale: 1.0,
                zero_point: 256,
            },
            "zero point 256 for u8",
        ),
        (
            QuantParams::PerTensor {
                scale: 1.0,
                zero_point: -1,
            },
            "zero point -1 for u8",
        ),
    ] {
        assert!(
            matches!(run(&mut q, p), Err(Error::InvalidArgument { .. })),
            "{what}"
        );
    }
    for (p, what) in [
        (
            QuantParams::PerChannel {
                scales: &[1.0, 1.0],
                zero_points: &[],
            },
            "2 scales for 3 columns",
        ),
        (
            QuantParams::PerChannel {
                scales: &[1.0; 3],
                zero_points: &[0, 0],
            },
            "2 zero points",
        ),
    ] {
        assert!(
            matches!(run(&mut q, p), Err(Error::ShapeMismatch { .. })),
            "{what}"
        );
    }
    let mut small = [0u8; 4];
    assert!(matches!(
        QMatMut::row_major(&mut small, 2, 3),
        Err(Error::BufferTooSmall {
            needed: 6,
            len: 4,
            ..
        })
    ));
    let mut q3 = [0u8; 9];
    assert!(matches!(
        quantize_linear(
            xv,
            QuantParams::IDENTITY,
            QMatMut::row_major(&mut q3, 3, 3).unwrap()
        ),
        Err(Error::ShapeMismatch { .. })
    ));
    // i8 zero point range.
    let mut qi = [0i8; 6];
    assert!(matches!(
        quantize_linear(
            xv,
            QuantParams::PerTensor {
                scale: 1.0,
                zero_point: 128
            },
            QMatMut::row_major(&mut qi, 2, 3).unwrap()
        ),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(
        q.iter().all(|&v| v == 9) && qi.iter().all(|&v| v == 0),
        "refused calls wrote"
    );
}
