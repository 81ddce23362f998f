//! Staging buffers: where the functions taking JavaScript typed arrays put their data in wasm
//! memory.
//!
//! A `&[f32]` argument makes wasm-bindgen's glue allocate a wasm buffer, copy the array in and
//! free it on every call; a `&mut [f32]` output is also copied *in* (useless: it is about to be
//! overwritten) and back out. Taking the typed array itself instead, a call copies its input
//! once into a staging buffer, computes from there into an output staging buffer and copies
//! that once into the caller's array: one copy each way, and no allocation once the buffers
//! have grown to the largest call seen. The buffers are per thread and per element type,
//! shared by every exported function and object.
//!
//! Where in a 4 KiB page a buffer starts matters, measured in Chromium. A load waits for an
//! older store whose address has the same low 12 bits, even to a different page ("4K
//! aliasing"); in a copy, or in a kernel that reads `x[i]` and writes `y[i]`, that happens on
//! every load when the destination sits a little past the source modulo 4 KiB. Copying 512 KiB
//! into a destination 8 bytes past the source (mod 4 KiB), where the allocator tends to put a
//! fresh `Vec`, took 0.19 ms instead of 0.01 ms. Large JavaScript arrays start on a page
//! boundary, so the input buffer starts 2 KiB and the output buffer 1 KiB into a page: every
//! destination (input buffer from JS, output buffer from input buffer, JS from output buffer)
//! then sits 2 or 3 KiB past its source modulo 4 KiB, far outside the window of pending stores.
use super::js_err;
use crate::Error;
use js_sys::{Float32Array, Int32Array, Uint8Array};
use std::cell::RefCell;
use std::thread::LocalKey;
use wasm_bindgen::JsError;

/// Bytes of a page, and where in a page the input and the output start (see the module docs).
const PAGE: usize = 4096;
const INPUT_AT: usize = 2048;
const OUTPUT_AT: usize = 1024;

/// A growable buffer handing out a slice that starts at a chosen offset within a page.
#[derive(Debug)]
pub(super) struct Stage<T>(Vec<T>);

impl<T: Copy + Default> Stage<T> {
    const fn new() -> Self {
        Stage(Vec::new())
    }

    /// `len` elements starting `at` bytes past a 4 KiB boundary (contents unspecified).
    fn place(&mut self, len: usize, at: usize) -> &mut [T] {
        let size = std::mem::size_of::<T>();
        let slack = PAGE / size; // room to slide the start anywhere within a page
        let needed = len.saturating_add(slack);
        if self.0.len() < needed {
            self.0.resize(needed, T::default());
        }
        // `at` and the buffer's address are multiples of `size` (the element's alignment).
        let addr = self.0.as_ptr() as usize;
        let start = (at + PAGE - addr % PAGE) % PAGE / size;
        &mut self.0[start..start + len]
    }
}

/// The input and output staging buffers of one element type on one thread.
#[derive(Debug)]
pub(super) struct Stages<T> {
    input: RefCell<Stage<T>>,
    output: RefCell<Stage<T>>,
}

impl<T: Copy + Default> Stages<T> {
    const fn new() -> Self {
        Stages {
            input: RefCell::new(Stage::new()),
            output: RefCell::new(Stage::new()),
        }
    }
}

/// A JavaScript typed array and the Rust element type it holds.
pub(super) trait TypedArray {
    /// The element type (`f32` for `Float32Array`, ...).
    type Elem: Copy + Default + 'static;
    /// Number of elements.
    fn len(&self) -> usize;
    /// Copies the array into `dst` (same length).
    fn read(&self, dst: &mut [Self::Elem]);
    /// Copies `src` (same length) into the array.
    fn write(&self, src: &[Self::Elem]);
    /// This thread's staging buffers for the element type.
    fn stages() -> &'static LocalKey<Stages<Self::Elem>>;
}

macro_rules! typed_array {
    ($array:ty, $elem:ty) => {
        impl TypedArray for $array {
            type Elem = $elem;
            fn len(&self) -> usize {
                self.length() as usize
            }
            fn read(&self, dst: &mut [$elem]) {
                self.copy_to(dst)
            }
            fn write(&self, src: &[$elem]) {
                self.copy_from(src)
            }
            fn stages() -> &'static LocalKey<Stages<$elem>> {
                thread_local! {
                    static STAGES: Stages<$elem> = const { Stages::new() };
                }
                &STAGES
            }
        }
    };
}

typed_array!(Float32Array, f32);
typed_array!(Uint8Array, u8);
typed_array!(Int32Array, i32);

/// Copies `x` into the input staging buffer and runs `f` on the staged copy (which `f` may
/// overwrite, e.g. to compute in place).
pub(super) fn with_staged<A: TypedArray, R>(x: &A, f: impl FnOnce(&mut [A::Elem]) -> R) -> R {
    A::stages().with(|stages| {
        let mut input = stages.input.borrow_mut();
        let buf = input.place(x.len(), INPUT_AT);
        x.read(buf);
        f(buf)
    })
}

/// `out = f(x)`: stages `x`, lets `f` fill an output staging buffer as long as `out`, and on
/// success copies that into `out`. On error `out` is untouched.
///
/// Callers check both lengths before, so that a bad call copies nothing; `f` receives exactly
/// `x.length` and `out.length` elements.
pub(super) fn staged_into<A: TypedArray, B: TypedArray>(
    x: &A,
    out: &B,
    f: impl FnOnce(&[A::Elem], &mut [B::Elem]) -> Result<(), Error>,
) -> Result<(), JsError> {
    with_staged(x, |x| {
        B::stages().with(|stages| {
            let mut output = stages.output.borrow_mut();
            let y = output.place(out.len(), OUTPUT_AT);
            f(x, y).map_err(js_err)?;
            out.write(y);
            Ok(())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn place_starts_at_the_requested_page_offset_and_keeps_its_memory() {
        let mut s = Stage::<f32>::new();
        for (len, at) in [(10, INPUT_AT), (3000, OUTPUT_AT), (5, INPUT_AT), (0, 0)] {
            let buf = s.place(len, at);
            assert_eq!(buf.len(), len);
            assert_eq!(buf.as_ptr() as usize % PAGE, at);
        }
        let cap = s.0.len();
        s.place(2000, INPUT_AT); // smaller than the largest so far: no growth
        assert_eq!(s.0.len(), cap);
        let mut bytes = Stage::<u8>::new();
        assert_eq!(bytes.place(7, 3).as_ptr() as usize % PAGE, 3);
    }
}
