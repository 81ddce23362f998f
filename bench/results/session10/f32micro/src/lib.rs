#![no_std]
use core::arch::wasm32::*;
#[panic_handler]
fn p(_: &core::panic::PanicInfo) -> ! { loop {} }

const K: usize = 256;
const M: usize = 480;
const N: usize = 512;
static mut A: [f32; M * K] = [1.0; M * K];
static mut B: [f32; K * N] = [1.0; K * N];
static mut C: [f32; M * N] = [0.0; M * N];

#[inline(always)]
unsafe fn ld(p: *const f32) -> v128 { v128_load(p as *const v128) }
#[inline(always)]
unsafe fn sp(p: *const f32) -> v128 { v128_load32_splat(p as *const u32) }
#[inline(always)]
fn fma(a: v128, b: v128, c: v128) -> v128 { { #[cfg(target_feature = "relaxed-simd")] { f32x4_relaxed_madd(a, b, c) } #[cfg(not(target_feature = "relaxed-simd"))] { f32x4_add(f32x4_mul(a, b), c) } } }

macro_rules! tile {
    ($name:ident, $mr:literal) => {
        #[no_mangle]
        pub unsafe extern "C" fn $name() -> f32 {
            let ap = core::ptr::addr_of!(A) as *const f32;
            let bp = core::ptr::addr_of!(B) as *const f32;
            let cp = core::ptr::addr_of_mut!(C) as *mut f32;
            for p in 0..N / 8 {
                let b0 = bp.add(p * K * 8);
                for t in 0..M / $mr {
                    let mut a = ap.add(t * K * $mr);
                    let mut b = b0;
                    let z = f32x4_splat(0.0);
                    let mut c = [[z; 2]; $mr];
                    let end = a.add(K * $mr);
                    while a != end {
                        let y0 = ld(b);
                        let y1 = ld(b.add(4));
                        let mut r = 0;
                        while r < $mr {
                            let x = sp(a.add(r));
                            c[r][0] = fma(x, y0, c[r][0]);
                            c[r][1] = fma(x, y1, c[r][1]);
                            r += 1;
                        }
                        a = a.add($mr);
                        b = b.add(8);
                    }
                    let mut r = 0;
                    while r < $mr {
                        let o = cp.add((t * $mr + r) * N + p * 8);
                        v128_store(o as *mut v128, c[r][0]);
                        v128_store(o.add(4) as *mut v128, c[r][1]);
                        r += 1;
                    }
                }
            }
            *cp
        }
    };
}
tile!(t4x8, 4);
tile!(t5x8, 5);
tile!(t6x8, 6);
tile!(t3x8, 3);

macro_rules! tile4s {
    ($name:ident, $mode:literal) => {
        #[no_mangle]
        pub unsafe extern "C" fn $name() -> f32 {
            let ap = core::ptr::addr_of!(A) as *const f32;
            let bp = core::ptr::addr_of!(B) as *const f32;
            let cp = core::ptr::addr_of_mut!(C) as *mut f32;
            for p in 0..N / 8 {
                let b0 = bp.add(p * K * 8);
                for t in 0..M / 4 {
                    let mut a = ap.add(t * K * 4);
                    let mut b = b0;
                    let z = f32x4_splat(0.0);
                    let mut c = [[z; 2]; 4];
                    let end = a.add(K * 4);
                    while a != end {
                        let y0 = ld(b);
                        let y1 = ld(b.add(4));
                        let xs: [v128; 4] = if $mode == 0 {
                            let v = ld(a);
                            [i32x4_shuffle::<0, 0, 0, 0>(v, v), i32x4_shuffle::<1, 1, 1, 1>(v, v), i32x4_shuffle::<2, 2, 2, 2>(v, v), i32x4_shuffle::<3, 3, 3, 3>(v, v)]
                        } else {
                            let v = ld(a);
                            [sp(a), sp(a.add(1)), i32x4_shuffle::<2, 2, 2, 2>(v, v), i32x4_shuffle::<3, 3, 3, 3>(v, v)]
                        };
                        let mut r = 0;
                        while r < 4 {
                            c[r][0] = fma(xs[r], y0, c[r][0]);
                            c[r][1] = fma(xs[r], y1, c[r][1]);
                            r += 1;
                        }
                        a = a.add(4);
                        b = b.add(8);
                    }
                    let mut r = 0;
                    while r < 4 {
                        let o = cp.add((t * 4 + r) * N + p * 8);
                        v128_store(o as *mut v128, c[r][0]);
                        v128_store(o.add(4) as *mut v128, c[r][1]);
                        r += 1;
                    }
                }
            }
            *cp
        }
    };
}
tile4s!(t4x8s, 0);
tile4s!(t4x8m, 1);

#[no_mangle]
pub unsafe extern "C" fn w4x8() -> f32 {
    let ap = core::ptr::addr_of!(A) as *const f32;
    let bp = core::ptr::addr_of!(B) as *const f32;
    let cp = core::ptr::addr_of_mut!(C) as *mut f32;
    for p in 0..N / 8 {
        let b0 = bp.add(p * K * 8);
        for t in 0..M / 4 {
            let mut a = ap.add(t * K * 4);
            let mut b = b0;
            let z = f32x4_splat(0.0);
            let (mut c00, mut c01, mut c10, mut c11) = (z, z, z, z);
            let (mut c20, mut c21, mut c30, mut c31) = (z, z, z, z);
            let end = a.add(K * 4);
            while a != end {
                let b0 = ld(b);
                let b1 = ld(b.add(4));
                let x = sp(a);
                c00 = fma(x, b0, c00);
                c01 = fma(x, b1, c01);
                let x = sp(a.add(1));
                c10 = fma(x, b0, c10);
                c11 = fma(x, b1, c11);
                let x = sp(a.add(2));
                c20 = fma(x, b0, c20);
                c21 = fma(x, b1, c21);
                let x = sp(a.add(3));
                c30 = fma(x, b0, c30);
                c31 = fma(x, b1, c31);
                a = a.add(4);
                b = b.add(8);
            }
            let c = [[c00, c01], [c10, c11], [c20, c21], [c30, c31]];
            let mut r = 0;
            while r < 4 {
                let o = cp.add((t * 4 + r) * N + p * 8);
                v128_store(o as *mut v128, c[r][0]);
                v128_store(o.add(4) as *mut v128, c[r][1]);
                r += 1;
            }
        }
    }
    *cp
}
