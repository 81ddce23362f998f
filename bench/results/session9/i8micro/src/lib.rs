#![no_std]
use core::arch::wasm32::*;
#[panic_handler]
fn p(_: &core::panic::PanicInfo) -> ! { loop {} }

const K: usize = 512;
const M: usize = 512;
const N: usize = 512;
static mut A16: [i16; M * K] = [1; M * K];
static mut B16: [i16; K * N] = [1; K * N];
static mut C: [i32; M * N] = [0; M * N];

#[inline(always)]
unsafe fn ld(p: *const i16) -> v128 { v128_load(p as *const v128) }

/// Current scheme: 2x4 tile, K blocks of 8, hsum at the end.
#[no_mangle]
pub unsafe extern "C" fn dot2x4() -> i32 {
    let a0p = core::ptr::addr_of!(A16) as *const i16;
    let b0p = core::ptr::addr_of!(B16) as *const i16;
    let cp = core::ptr::addr_of_mut!(C) as *mut i32;
    let kb = K / 8;
    for p in 0..N / 4 {
        let b = b0p.add(p * K * 4);
        for t in 0..M / 2 {
            let mut a = a0p.add(t * K * 2);
            let mut bb = b;
            let z = i32x4_splat(0);
            let (mut c00, mut c01, mut c02, mut c03, mut c10, mut c11, mut c12, mut c13) = (z, z, z, z, z, z, z, z);
            let end = a.add(kb * 16);
            while a != end {
                let x0 = ld(a); let x1 = ld(a.add(8));
                let y = ld(bb); c00 = i32x4_add(c00, i32x4_dot_i16x8(x0, y)); c10 = i32x4_add(c10, i32x4_dot_i16x8(x1, y));
                let y = ld(bb.add(8)); c01 = i32x4_add(c01, i32x4_dot_i16x8(x0, y)); c11 = i32x4_add(c11, i32x4_dot_i16x8(x1, y));
                let y = ld(bb.add(16)); c02 = i32x4_add(c02, i32x4_dot_i16x8(x0, y)); c12 = i32x4_add(c12, i32x4_dot_i16x8(x1, y));
                let y = ld(bb.add(24)); c03 = i32x4_add(c03, i32x4_dot_i16x8(x0, y)); c13 = i32x4_add(c13, i32x4_dot_i16x8(x1, y));
                a = a.add(16); bb = bb.add(32);
            }
            let h = |a: v128, b: v128, c: v128, d: v128| {
                let ab = i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(a, b), i32x4_shuffle::<2, 6, 3, 7>(a, b));
                let cd = i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(c, d), i32x4_shuffle::<2, 6, 3, 7>(c, d));
                i32x4_add(i32x4_shuffle::<0, 1, 4, 5>(ab, cd), i32x4_shuffle::<2, 3, 6, 7>(ab, cd))
            };
            v128_store(cp.add((2 * t) * N + 4 * p) as *mut v128, h(c00, c01, c02, c03));
            v128_store(cp.add((2 * t + 1) * N + 4 * p) as *mut v128, h(c10, c11, c12, c13));
        }
    }
    *cp
}

/// Broadcast scheme: 4x8 tile; per k pair, B = 8 columns x 2 k (two vectors), A = a 32-bit
/// (k, k+1) pair per row, splatted; acc[r][v] holds columns 4v..4v+4 of row r directly.
#[no_mangle]
pub unsafe extern "C" fn bcast4x8() -> i32 {
    let a0p = core::ptr::addr_of!(A16) as *const i16;
    let b0p = core::ptr::addr_of!(B16) as *const i16;
    let cp = core::ptr::addr_of_mut!(C) as *mut i32;
    let kp = K / 2;
    for p in 0..N / 8 {
        let b = b0p.add(p * K * 8);
        for t in 0..M / 4 {
            let mut a = a0p.add(t * K * 4) as *const u32;
            let mut bb = b;
            let z = i32x4_splat(0);
            let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21, mut c30, mut c31) = (z, z, z, z, z, z, z, z);
            let end = a.add(kp * 4);
            while a != end {
                let y0 = ld(bb); let y1 = ld(bb.add(8));
                let x = v128_load32_splat(a); c00 = i32x4_add(c00, i32x4_dot_i16x8(x, y0)); c01 = i32x4_add(c01, i32x4_dot_i16x8(x, y1));
                let x = v128_load32_splat(a.add(1)); c10 = i32x4_add(c10, i32x4_dot_i16x8(x, y0)); c11 = i32x4_add(c11, i32x4_dot_i16x8(x, y1));
                let x = v128_load32_splat(a.add(2)); c20 = i32x4_add(c20, i32x4_dot_i16x8(x, y0)); c21 = i32x4_add(c21, i32x4_dot_i16x8(x, y1));
                let x = v128_load32_splat(a.add(3)); c30 = i32x4_add(c30, i32x4_dot_i16x8(x, y0)); c31 = i32x4_add(c31, i32x4_dot_i16x8(x, y1));
                a = a.add(4); bb = bb.add(16);
            }
            let c = cp.add(4 * t * N + 8 * p);
            v128_store(c as *mut v128, c00); v128_store(c.add(4) as *mut v128, c01);
            v128_store(c.add(N) as *mut v128, c10); v128_store(c.add(N + 4) as *mut v128, c11);
            v128_store(c.add(2 * N) as *mut v128, c20); v128_store(c.add(2 * N + 4) as *mut v128, c21);
            v128_store(c.add(3 * N) as *mut v128, c30); v128_store(c.add(3 * N + 4) as *mut v128, c31);
        }
    }
    *cp
}
