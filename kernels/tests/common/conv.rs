//! The direct convolution reference (f64, NCHW) and the exact two-layout check of a layer, shared
//! by the convolution tests and the bounds tests.
use super::Rng;
use wasmnn_kernels::conv::layout::convert;
use wasmnn_kernels::conv::{Conv2d, Conv2dParams, ConvEpilogue, TensorLayout};
use wasmnn_kernels::Activation;

/// The 7-loop reference on NCHW data: y[n][o][oy][ox] = bias[o] + sum x * w.
#[allow(clippy::too_many_arguments)]
pub fn reference(
    x: &[f32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    wt: &[f32],
    o: usize,
    p: &Conv2dParams,
    bias: Option<&[f32]>,
) -> (Vec<f64>, usize, usize) {
    let (ho, wo) = p.output_size(h, w).unwrap();
    let (cg, og) = (c / p.groups, o / p.groups);
    let mut y = vec![0.0f64; n * o * ho * wo];
    for b in 0..n {
        for oc in 0..o {
            let g = oc / og;
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut acc = bias.map_or(0.0, |bb| bb[oc] as f64);
                    for ci in 0..cg {
                        for ky in 0..p.kernel_h {
                            for kx in 0..p.kernel_w {
                                let iy = (oy * p.stride_h + ky * p.dilation_h) as isize
                                    - p.pad_top as isize;
                                let ix = (ox * p.stride_w + kx * p.dilation_w) as isize
                                    - p.pad_left as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let xv = x
                                    [((b * c + g * cg + ci) * h + iy as usize) * w + ix as usize]
                                    as f64;
                                let wv =
                                    wt[((oc * cg + ci) * p.kernel_h + ky) * p.kernel_w + kx] as f64;
                                acc += xv * wv;
                            }
                        }
                    }
                    y[((b * o + oc) * ho + oy) * wo + ox] = acc;
                }
            }
        }
    }
    (y, ho, wo)
}

/// An NHWC tensor in NCHW order.
pub fn from_nhwc(y: &[f32], n: usize, c: usize, h: usize, w: usize) -> Vec<f32> {
    let mut out = vec![0.0; y.len()];
    convert(
        y,
        TensorLayout::Nhwc,
        &mut out,
        TensorLayout::Nchw,
        n,
        c,
        h,
        w,
    )
    .unwrap();
    out
}

pub fn to_nhwc(x: &[f32], n: usize, c: usize, h: usize, w: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    convert(
        x,
        TensorLayout::Nchw,
        &mut out,
        TensorLayout::Nhwc,
        n,
        c,
        h,
        w,
    )
    .unwrap();
    out
}

/// Runs a random integer-valued layer (bias, `act`, optional residual) in both layouts and
/// checks every output exactly against [`reference`].
#[allow(clippy::too_many_arguments)]
pub fn check_conv(
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    p: Conv2dParams,
    act: Activation,
    with_res: bool,
    rng: &mut Rng,
) {
    let cg = c / p.groups;
    let x: Vec<f32> = (0..n * c * h * w).map(|_| rng.int(-3, 3) as f32).collect();
    let wt: Vec<f32> = (0..o * cg * p.kernel_h * p.kernel_w)
        .map(|_| rng.int(-2, 2) as f32)
        .collect();
    let bias: Vec<f32> = (0..o).map(|_| rng.int(-5, 5) as f32).collect();
    let (mut want, ho, wo) = reference(&x, n, c, h, w, &wt, o, &p, Some(&bias));
    let res: Vec<f32> = (0..want.len()).map(|_| rng.int(-4, 4) as f32).collect();
    for (i, v) in want.iter_mut().enumerate() {
        if act == Activation::Relu && *v < 0.0 {
            *v = 0.0;
        }
        if with_res {
            *v += res[i] as f64;
        }
    }
    let conv = Conv2d::new(&wt, o, c, p).unwrap();
    for layout in [TensorLayout::Nchw, TensorLayout::Nhwc] {
        let (xin, res_l) = match layout {
            TensorLayout::Nchw => (x.clone(), res.clone()),
            TensorLayout::Nhwc => (to_nhwc(&x, n, c, h, w), to_nhwc(&res, n, o, ho, wo)),
        };
        let mut y = vec![f32::NAN; want.len()];
        let epi = ConvEpilogue {
            bias: Some(&bias),
            activation: act,
            residual: with_res.then_some(&res_l[..]),
        };
        conv.run(&xin, layout, n, h, w, &mut y, &epi).unwrap();
        let y_nchw = match layout {
            TensorLayout::Nchw => y,
            TensorLayout::Nhwc => from_nhwc(&y, n, o, ho, wo),
        };
        for (i, (&got, &exp)) in y_nchw.iter().zip(&want).enumerate() {
            assert_eq!(
                got as f64, exp,
                "{layout:?} n={n} c={c} {h}x{w} o={o} {p:?} {act:?} res={with_res}: element {i}"
            );
        }
    }
}
