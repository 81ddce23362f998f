//! Strided matrix views over any element type (`u8`, `i8`, `i32`, `f32`), validated once when
//! built exactly like `wasmnn_kernels::MatRef` / `MatMut`: every element a view addresses lies
//! inside its slice, and an output view never maps two elements to one location.
use wasmnn_kernels::{Error, Result};

/// Index one past the last element a `rows x cols` view with these strides addresses
/// (0 for an empty view).
fn extent(what: &'static str, rows: usize, cols: usize, rs: usize, cs: usize) -> Result<usize> {
    if rows == 0 || cols == 0 {
        return Ok(0);
    }
    (rows - 1)
        .checked_mul(rs)
        .and_then(|r| (cols - 1).checked_mul(cs).and_then(|c| r.checked_add(c)))
        .and_then(|l| l.checked_add(1))
        .ok_or(Error::Overflow { what })
}

fn check_len(what: &'static str, needed: usize, len: usize) -> Result<()> {
    if needed > len {
        Err(Error::BufferTooSmall { what, needed, len })
    } else {
        Ok(())
    }
}

/// A read-only `rows x cols` matrix: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
///
/// ```
/// use wasmnn_quant::QMatRef;
/// let q: [u8; 6] = [1, 2, 3, 4, 5, 6];
/// let a = QMatRef::row_major(&q, 2, 3)?;
/// assert_eq!(a.get(1, 2), Some(6));
/// assert!(QMatRef::row_major(&q, 3, 3).is_err()); // too short: a typed error
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
#[derive(Debug)]
pub struct QMatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<T> Clone for QMatRef<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for QMatRef<'_, T> {}

impl<'a, T: Copy> QMatRef<'a, T> {
    /// A view with explicit element strides (zero strides broadcast).
    pub fn new(
        data: &'a [T],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        Self::named("matrix", data, rows, cols, row_stride, col_stride)
    }

    pub(crate) fn named(
        what: &'static str,
        data: &'a [T],
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    ) -> Result<Self> {
        check_len(what, extent(what, rows, cols, rs, cs)?, data.len())?;
        Ok(Self {
            data,
            rows,
            cols,
            rs,
            cs,
        })
    }

    /// A dense row-major view.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Result<Self> {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The transpose, as a view of the same data.
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Element stride between rows.
    pub fn row_stride(&self) -> usize {
        self.rs
    }
    /// Element stride between columns.
    pub fn col_stride(&self) -> usize {
        self.cs
    }
    /// The underlying slice.
    pub fn data(&self) -> &'a [T] {
        self.data
    }
    /// Element `(i, j)`, or `None` outside the view.
    pub fn get(&self, i: usize, j: usize) -> Option<T> {
        (i < self.rows && j < self.cols).then(|| self.data[i * self.rs + j * self.cs])
    }
    /// Row `i` as a slice when columns are contiguous (`col_stride == 1`).
    pub(crate) fn row_slice(&self, i: usize) -> Option<&'a [T]> {
        (self.cs == 1 && i < self.rows).then(|| &self.data[i * self.rs..i * self.rs + self.cols])
    }
}

/// A writable `rows x cols` matrix view; its strides never make two elements overlap.
///
/// ```
/// use wasmnn_quant::QMatMut;
/// let mut out = [0i32; 6];
/// let mut c = QMatMut::row_major(&mut out, 2, 3)?;
/// c.set(1, 0, 7);
/// assert_eq!(out[3], 7);
/// assert!(QMatMut::new(&mut [0i32; 6], 2, 3, 0, 1).is_err()); // rows would overlap
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
#[derive(Debug)]
pub struct QMatMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a, T: Copy> QMatMut<'a, T> {
    /// A writable view with explicit element strides.
    pub fn new(
        data: &'a mut [T],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        Self::named("matrix", data, rows, cols, row_stride, col_stride)
    }

    pub(crate) fn named(
        what: &'static str,
        data: &'a mut [T],
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    ) -> Result<Self> {
        check_len(what, extent(what, rows, cols, rs, cs)?, data.len())?;
        // Injective iff, with the smaller stride s over dimension d and the larger S,
        // s >= 1 (when d > 1) and s * (d - 1) < S (when the other dimension > 1).
        let (small, d_small, large, d_large) = if rs <= cs {
            (rs, rows, cs, cols)
        } else {
            (cs, cols, rs, rows)
        };
        let overlap = (d_small > 1 && small == 0)
            || (d_large > 1 && d_small > 0 && small * (d_small - 1) >= large);
        if rows > 0 && cols > 0 && overlap {
            return Err(Error::OverlappingOutput { what });
        }
        Ok(Self {
            data,
            rows,
            cols,
            rs,
            cs,
        })
    }

    /// A dense row-major view.
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Result<Self> {
        Self::new(data, rows, cols, cols, 1)
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Element stride between rows.
    pub fn row_stride(&self) -> usize {
        self.rs
    }
    /// Element stride between columns.
    pub fn col_stride(&self) -> usize {
        self.cs
    }
    /// A read-only view of the same elements.
    pub fn as_ref(&self) -> QMatRef<'_, T> {
        QMatRef {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }
    /// Sets element `(i, j)`; returns `false` (and writes nothing) outside the view.
    pub fn set(&mut self, i: usize, j: usize, v: T) -> bool {
        if i < self.rows && j < self.cols {
            self.data[i * self.rs + j * self.cs] = v;
            true
        } else {
            false
        }
    }
    /// Base pointer for the kernels (every addressed element is inside the borrowed slice).
    pub(crate) fn as_mut_ptr(&mut self) -> *mut T {
        self.data.as_mut_ptr()
    }
}

impl<'a, Z: crate::types::Q8> QMatRef<'a, Z> {
    /// The same view over raw bytes (`Z` is `u8` or `i8`).
    pub(crate) fn as_bytes(self) -> QMatRef<'a, u8> {
        // SAFETY: `Z` is u8 or i8 (a sealed trait): one byte, alignment 1, every bit pattern
        // valid, so the slice reinterpreted as u8 covers exactly the same memory.
        let data = unsafe {
            core::slice::from_raw_parts(self.data.as_ptr().cast::<u8>(), self.data.len())
        };
        QMatRef {
            data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }
}

impl<'a, Z: crate::types::Q8> QMatMut<'a, Z> {
    /// The same view over raw bytes (`Z` is `u8` or `i8`).
    pub(crate) fn into_bytes(self) -> QMatMut<'a, u8> {
        let len = self.data.len();
        // SAFETY: `Z` is u8 or i8 (a sealed trait): one byte, alignment 1, every bit pattern
        // valid; the exclusive borrow moves into the new view.
        let data =
            unsafe { core::slice::from_raw_parts_mut(self.data.as_mut_ptr().cast::<u8>(), len) };
        QMatMut {
            data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }
}

impl<'a> QMatMut<'a, u8> {
    /// The same bytes viewed as i8.
    pub(crate) fn into_i8(self) -> QMatMut<'a, i8> {
        let len = self.data.len();
        // SAFETY: u8 and i8 have the same size, alignment and validity.
        let data =
            unsafe { core::slice::from_raw_parts_mut(self.data.as_mut_ptr().cast::<i8>(), len) };
        QMatMut {
            data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }
}
