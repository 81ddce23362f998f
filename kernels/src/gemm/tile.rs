//! Finishing a register tile: alpha, beta, the epilogue, and the store into C.
//!
//! Runs once per tile after the K loop, so its cost is amortised over `kc` multiply-adds.
//! Full tiles with unit column stride use vector loads and stores; edge tiles (fewer than
//! [`NR`] valid columns) and strided C go through a small stack buffer, so nothing outside the
//! valid `rows x cols` part of C is ever read or written.
use super::kernel::{row_groups, Tile, NR};
use crate::epilogue::{clamp, relu, Activation, EpilogueOp};
use crate::simd::F32x4;

/// A strided destination or source matrix as raw parts (validated by the safe entry points).
#[derive(Clone, Copy)]
pub(crate) struct Strided<P> {
    pub ptr: P,
    pub rs: usize,
    pub cs: usize,
}

/// What to do with a finished tile.
pub(crate) struct Finish<'a> {
    pub alpha: f32,
    pub beta: f32,
    /// First K block: C contributes `beta * C` (and is not read at all when `beta == 0`).
    /// Later K blocks add the partial sum already in C.
    pub first_k_block: bool,
    /// Last K block: apply the epilogue.
    pub last_k_block: bool,
    pub ops: &'a [EpilogueOp<'a>],
}

/// Loads the `rows x cols` part of a tile at `(i0, j0)`; lanes past `cols` and rows past `rows`
/// are zero.
///
/// # Safety
/// Elements `(i0 + r, j0 + c)` for `r < rows`, `c < cols` must be readable through `m`.
#[inline(always)]
unsafe fn load_tile<const R: usize>(
    m: Strided<*const f32>,
    i0: usize,
    j0: usize,
    rows: usize,
    cols: usize,
) -> Tile<R> {
    let mut t = [[F32x4::zero(); 2]; R];
    if R >= 4 && rows == R && m.rs == 1 && m.cs != 1 {
        // Column-major tile (NCHW conv output, transposed C): load 4 rows of each column at a
        // time and transpose back (the last group overlaps the one before when R % 4 != 0).
        for g0 in row_groups::<R>() {
            let mut cols_v = [F32x4::zero(); NR];
            for (c, v) in cols_v.iter_mut().enumerate().take(cols) {
                // SAFETY: rows i0+g0..i0+g0+4 (< i0 + rows) of column j0+c are valid and
                // consecutive (rs == 1).
                *v = unsafe { F32x4::load(m.ptr.wrapping_add(i0 + g0 + (j0 + c) * m.cs)) };
            }
            let lo = F32x4::transpose4([cols_v[0], cols_v[1], cols_v[2], cols_v[3]]);
            let hi = F32x4::transpose4([cols_v[4], cols_v[5], cols_v[6], cols_v[7]]);
            for r in 0..4 {
                t[g0 + r] = [lo[r], hi[r]];
            }
        }
        return t;
    }
    for (r, row) in t.iter_mut().enumerate().take(rows) {
        let p = m.ptr.wrapping_add((i0 + r) * m.rs + j0 * m.cs);
        if cols == NR && m.cs == 1 {
            // SAFETY: 8 consecutive valid elements (caller contract).
            unsafe { *row = [F32x4::load(p), F32x4::load(p.add(4))] };
        } else {
            let mut buf = [0.0f32; NR];
            for (c, v) in buf.iter_mut().enumerate().take(cols) {
                // SAFETY: (i0 + r, j0 + c) is valid (caller contract).
                *v = unsafe { *p.add(c * m.cs) };
            }
            *row = split(buf);
        }
    }
    t
}

#[inline(always)]
fn split(buf: [f32; NR]) -> [F32x4; 2] {
    [
        F32x4::from_array([buf[0], buf[1], buf[2], buf[3]]),
        F32x4::from_array([buf[4], buf[5], buf[6], buf[7]]),
    ]
}

/// Loads `v[j0 .. j0 + cols]` zero-padded to 8 lanes.
///
/// # Safety
/// `v[j0 .. j0 + cols]` must be in bounds.
#[inline(always)]
unsafe fn load_row_vector(v: &[f32], j0: usize, cols: usize) -> [F32x4; 2] {
    if cols == NR {
        let p = v.as_ptr().wrapping_add(j0);
        // SAFETY: 8 in-bounds elements (caller contract).
        unsafe { [F32x4::load(p), F32x4::load(p.add(4))] }
    } else {
        let mut buf = [0.0f32; NR];
        buf[..cols].copy_from_slice(&v[j0..j0 + cols]);
        split(buf)
    }
}

/// Applies alpha / beta / epilogue to `acc` (the tile at `(i0, j0)` of C, `rows x cols` valid)
/// and stores it.
///
/// # Safety
/// `c` must address a valid, exclusively borrowed C that contains the whole `rows x cols` tile;
/// the epilogue ops must have been validated for C's shape.
#[inline(always)]
pub(crate) unsafe fn finish_tile<const R: usize>(
    mut acc: Tile<R>,
    c: Strided<*mut f32>,
    i0: usize,
    j0: usize,
    rows: usize,
    cols: usize,
    f: &Finish<'_>,
) {
    if f.alpha != 1.0 {
        let alpha = F32x4::splat(f.alpha);
        for row in acc.iter_mut() {
            row[0] = row[0].mul(alpha);
            row[1] = row[1].mul(alpha);
        }
    }
    let c_in = Strided {
        ptr: c.ptr as *const f32,
        rs: c.rs,
        cs: c.cs,
    };
    if !f.first_k_block || f.beta != 0.0 {
        // SAFETY: the tile lies inside C (caller contract).
        let old: Tile<R> = unsafe { load_tile(c_in, i0, j0, rows, cols) };
        let beta = F32x4::splat(if f.first_k_block { f.beta } else { 1.0 });
        for (row, o) in acc.iter_mut().zip(old.iter()) {
            row[0] = o[0].mul_add(beta, row[0]);
            row[1] = o[1].mul_add(beta, row[1]);
        }
    }
    if f.last_k_block {
        for op in f.ops {
            // SAFETY: ops were validated against C's shape, so every index below is in bounds.
            unsafe { apply_op(&mut acc, op, i0, j0, rows, cols) };
        }
    }
    // SAFETY: forwarded contract.
    unsafe { store_tile(&acc, c, i0, j0, rows, cols) };
}

/// The whole finish of most layers' tiles, when it is all there is to do: one K block, alpha 1,
/// beta 0, and the ops a column bias and/or a ReLU or clamp, in that order. Full tiles with it
/// go through [`finish_simple`], small enough to live in the microkernel's own function, where
/// V8 allocates registers well; inside the GEMM driver, V8 keeps the generic finish's values
/// on the stack (about a sixth of a first layer's time, K = 27).
#[derive(Clone, Copy)]
pub(crate) struct SimpleFinish<'a> {
    bias: Option<&'a [f32]>,
    /// `Identity`, `Relu` or `Clamp`.
    act: Activation,
}

impl<'a> SimpleFinish<'a> {
    /// `Some` when `f` is such a finish.
    pub(crate) fn of(f: &Finish<'a>) -> Option<Self> {
        if f.alpha != 1.0 || f.beta != 0.0 || !f.first_k_block || !f.last_k_block {
            return None;
        }
        let mut ops = f.ops;
        let mut bias = None;
        if let [EpilogueOp::AddColBias(b), rest @ ..] = ops {
            bias = Some(*b);
            ops = rest;
        }
        let mut act = Activation::Identity;
        if let [EpilogueOp::Activation(a @ (Activation::Relu | Activation::Clamp { .. })), rest @ ..] =
            ops
        {
            act = *a;
            ops = rest;
        }
        ops.is_empty().then_some(Self { bias, act })
    }
}

/// [`finish_tile`] for a full `R x NR` tile and a [`SimpleFinish`]: the same operations on
/// every element, so the same bits.
///
/// # Safety
/// As [`finish_tile`] with `rows == R`, `cols == NR`, for the `Finish` `s` was made from.
#[inline(always)]
pub(crate) unsafe fn finish_simple<const R: usize>(
    mut acc: Tile<R>,
    c: Strided<*mut f32>,
    i0: usize,
    j0: usize,
    s: &SimpleFinish<'_>,
) {
    if let Some(bias) = s.bias {
        // SAFETY: bias has C's columns (validated), and the tile is inside C.
        unsafe { apply_op(&mut acc, &EpilogueOp::AddColBias(bias), i0, j0, R, NR) };
    }
    // Not `Activation::apply`: the code of every activation, inlined into this small function,
    // slowed ReLU layers by ~5% (Node A/B, fused bias+relu 1.05).
    let act = |x: F32x4| match s.act {
        Activation::Relu => relu(x),
        Activation::Clamp { min, max } => clamp(x, F32x4::splat(min), F32x4::splat(max)),
        _ => x,
    };
    for row in acc.iter_mut() {
        *row = [act(row[0]), act(row[1])];
    }
    // SAFETY: forwarded contract.
    unsafe { store_tile(&acc, c, i0, j0, R, NR) };
}

/// Stores the valid `rows x cols` part of a finished tile at `(i0, j0)` of C.
///
/// # Safety
/// `c` must address a valid, exclusively borrowed C that contains the whole `rows x cols` tile.
#[inline(always)]
unsafe fn store_tile<const R: usize>(
    acc: &Tile<R>,
    c: Strided<*mut f32>,
    i0: usize,
    j0: usize,
    rows: usize,
    cols: usize,
) {
    if R >= 4 && rows == R && c.rs == 1 && c.cs != 1 {
        // Column-major C: transpose each group of 4 rows into 8 columns of 4 consecutive rows
        // (an overlapping last group stores the same values twice).
        for g0 in row_groups::<R>() {
            let lo = F32x4::transpose4(core::array::from_fn(|r| acc[g0 + r][0]));
            let hi = F32x4::transpose4(core::array::from_fn(|r| acc[g0 + r][1]));
            for col in 0..cols {
                let v = if col < 4 { lo[col] } else { hi[col - 4] };
                // SAFETY: rows i0+g0..i0+g0+4 (< i0 + rows) of column j0+col are inside C and
                // consecutive (rs == 1).
                unsafe { v.store(c.ptr.wrapping_add(i0 + g0 + (j0 + col) * c.cs)) };
            }
        }
        return;
    }
    for (r, row) in acc.iter().enumerate().take(rows) {
        let p = c.ptr.wrapping_add((i0 + r) * c.rs + j0 * c.cs);
        if cols == NR && c.cs == 1 {
            // SAFETY: 8 consecutive elements of C's row i0 + r are inside C.
            unsafe {
                row[0].store(p);
                row[1].store(p.add(4));
            }
        } else {
            let (lo, hi) = (row[0].to_array(), row[1].to_array());
            for col in 0..cols {
                let v = if col < 4 { lo[col] } else { hi[col - 4] };
                // SAFETY: (i0 + r, j0 + col) is inside C.
                unsafe { *p.add(col * c.cs) = v };
            }
        }
    }
}

/// # Safety
/// `op` validated for C's shape and the tile `(i0, j0, rows, cols)` inside C.
#[inline(always)]
unsafe fn apply_op<const R: usize>(
    acc: &mut Tile<R>,
    op: &EpilogueOp<'_>,
    i0: usize,
    j0: usize,
    rows: usize,
    cols: usize,
) {
    match *op {
        EpilogueOp::AddColBias(bias) => {
            // SAFETY: bias.len() == columns of C >= j0 + cols.
            let b = unsafe { load_row_vector(bias, j0, cols) };
            for row in acc.iter_mut() {
                row[0] = row[0].add(b[0]);
                row[1] = row[1].add(b[1]);
            }
        }
        EpilogueOp::MulColScale(scale) => {
            // SAFETY: scale.len() == columns of C >= j0 + cols.
            let s = unsafe { load_row_vector(scale, j0, cols) };
            for row in acc.iter_mut() {
                row[0] = row[0].mul(s[0]);
                row[1] = row[1].mul(s[1]);
            }
        }
        EpilogueOp::AddRowBias(bias) => {
            for (r, row) in acc.iter_mut().enumerate().take(rows) {
                let b = F32x4::splat(bias[i0 + r]);
                row[0] = row[0].add(b);
                row[1] = row[1].add(b);
            }
        }
        EpilogueOp::Activation(act) => {
            for row in acc.iter_mut().take(rows) {
                row[0] = act.apply(row[0]);
                row[1] = act.apply(row[1]);
            }
        }
        EpilogueOp::AddMatrix(m) => {
            let src = Strided {
                ptr: m.data().as_ptr(),
                rs: m.row_stride(),
                cs: m.col_stride(),
            };
            // SAFETY: m has C's shape (validated), so the tile is inside m.
            let t: Tile<R> = unsafe { load_tile(src, i0, j0, rows, cols) };
            for (row, x) in acc.iter_mut().zip(t.iter()) {
                row[0] = row[0].add(x[0]);
                row[1] = row[1].add(x[1]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::kernel::{GEMM_MR, MR};
    use alloc::vec::Vec;

    /// Deterministic values in [-4, 4).
    fn values(seed: u32) -> impl FnMut() -> f32 {
        let mut seed = seed;
        move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1 << 24) as f32 * 8.0 - 4.0
        }
    }

    fn random_tile<const R: usize>(next: &mut impl FnMut() -> f32) -> Tile<R> {
        core::array::from_fn(|_| {
            [0, 1].map(|_| F32x4::from_array(core::array::from_fn(|_| next())))
        })
    }

    fn bits(x: &[f32]) -> Vec<u32> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    /// The simple finish stores exactly what the generic one stores, into row- and column-major
    /// C, for every epilogue it accepts; and it refuses every other finish.
    #[test]
    fn simple_finish_matches_the_generic_one() {
        simple_finish_matches::<MR>();
        simple_finish_matches::<GEMM_MR>();
    }

    fn simple_finish_matches<const R: usize>() {
        let mut next = values(7);
        let tile: Tile<R> = random_tile(&mut next);
        let bias: [f32; 2 * NR] = core::array::from_fn(|_| next());
        let (relu, clamp) = (
            Activation::Relu,
            Activation::Clamp {
                min: -1.0,
                max: 0.5,
            },
        );
        let bias = EpilogueOp::AddColBias(&bias);
        let simple: [&[EpilogueOp<'_>]; 5] = [
            &[],
            &[bias],
            &[bias, EpilogueOp::Activation(relu)],
            &[bias, EpilogueOp::Activation(clamp)],
            &[EpilogueOp::Activation(relu)],
        ];
        let finish = |ops| Finish {
            alpha: 1.0,
            beta: 0.0,
            first_k_block: true,
            last_k_block: true,
            ops,
        };
        // C: R x 2NR, the tile at column NR; row-major (rs 2NR, cs 1) and column-major.
        for (rs, cs) in [(2 * NR, 1), (1, R)] {
            for ops in simple {
                let f = finish(ops);
                let s = SimpleFinish::of(&f).expect("a simple finish");
                let (mut want, mut got) = (
                    alloc::vec![f32::NAN; R * 2 * NR],
                    alloc::vec![f32::NAN; R * 2 * NR],
                );
                let c = |p: &mut [f32]| Strided {
                    ptr: p.as_mut_ptr(),
                    rs,
                    cs,
                };
                // SAFETY: both buffers hold the whole R x 2NR matrix C.
                unsafe {
                    finish_tile(tile, c(&mut want), 0, NR, R, NR, &f);
                    finish_simple(tile, c(&mut got), 0, NR, &s);
                }
                assert_eq!(bits(&got), bits(&want), "{ops:?}, strides ({rs}, {cs})");
            }
        }
        let gelu = [EpilogueOp::Activation(Activation::GeluErf)];
        let relu_then_bias = [EpilogueOp::Activation(relu), bias];
        let two_biases = [bias, bias];
        for ops in [&gelu[..], &relu_then_bias[..], &two_biases[..]] {
            assert!(SimpleFinish::of(&finish(ops)).is_none(), "{ops:?}");
        }
        for f in [
            Finish {
                alpha: 2.0,
                ..finish(&[])
            },
            Finish {
                beta: 1.0,
                ..finish(&[])
            },
            Finish {
                first_k_block: false,
                ..finish(&[])
            },
            Finish {
                last_k_block: false,
                ..finish(&[])
            },
        ] {
            assert!(SimpleFinish::of(&f).is_none());
        }
    }

    /// Full tiles of every height the kernels use (and 5, 7, 8) go to and from a column-major C
    /// (the vector path with 4x4 transposes, overlapping groups when R % 4 != 0) exactly where
    /// the element-wise path puts them, and touch nothing else.
    #[test]
    fn column_major_tiles_land_where_the_elementwise_path_puts_them() {
        column_major_tile::<4>();
        column_major_tile::<5>();
        column_major_tile::<6>();
        column_major_tile::<7>();
        column_major_tile::<8>();
    }

    fn column_major_tile<const R: usize>() {
        let mut next = values(R as u32);
        let tile: Tile<R> = random_tile(&mut next);
        // C: (R + 3) x (NR + 3), column-major (cs = R + 3), the tile at (1, 2).
        let (m, n, i0, j0) = (R + 3, NR + 3, 1, 2);
        let mut c = alloc::vec![f32::NAN; m * n];
        let at = |r: usize, col: usize| r + col * m;
        let f = Finish {
            alpha: 1.0,
            beta: 0.0,
            first_k_block: true,
            last_k_block: true,
            ops: &[],
        };
        let dst = Strided {
            ptr: c.as_mut_ptr(),
            rs: 1,
            cs: m,
        };
        // SAFETY: the tile's rows 1..R+1 and columns 2..NR+2 lie inside the m x n C.
        unsafe { finish_tile(tile, dst, i0, j0, R, NR, &f) };
        for col in 0..n {
            for r in 0..m {
                let v = c[at(r, col)];
                if (i0..i0 + R).contains(&r) && (j0..j0 + NR).contains(&col) {
                    let want = tile[r - i0][(col - j0) / 4].to_array()[(col - j0) % 4];
                    assert_eq!(v.to_bits(), want.to_bits(), "R {R}: ({r}, {col})");
                } else {
                    assert!(v.is_nan(), "R {R}: ({r}, {col}) written");
                }
            }
        }
        // beta = 1 reads the tile back through the same path: C becomes 2 * tile.
        let f = Finish { beta: 1.0, ..f };
        // SAFETY: as above.
        unsafe { finish_tile(tile, dst, i0, j0, R, NR, &f) };
        for r in 0..R {
            for col in 0..NR {
                let want = 2.0 * tile[r].map(|v| v.to_array())[col / 4][col % 4];
                assert_eq!(c[at(i0 + r, j0 + col)], want, "R {R}: ({r}, {col})");
            }
        }
    }
}
