//! Strided matrix views: a slice plus rows, columns and element strides.
//!
//! A view is validated once, when it is built: every element it addresses lies inside its slice.
//! Transposes are strides ([`MatRef::t`]), so the GEMM needs no transpose flags.
use crate::error::{Error, Result};

/// Index one past the last element a `rows x cols` view with these strides addresses
/// (0 for an empty view).
fn extent(what: &'static str, rows: usize, cols: usize, rs: usize, cs: usize) -> Result<usize> {
    if rows == 0 || cols == 0 {
        return Ok(0);
    }
    let last = (rows - 1)
        .checked_mul(rs)
        .and_then(|r| (cols - 1).checked_mul(cs).and_then(|c| r.checked_add(c)))
        .and_then(|l| l.checked_add(1))
        .ok_or(Error::Overflow { what })?;
    Ok(last)
}

/// A read-only `rows x cols` matrix: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
///
/// ```
/// use wasmnn_kernels::MatRef;
/// let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let a = MatRef::row_major(&data, 2, 3).unwrap();
/// assert_eq!(a.get(1, 2), Some(6.0));
/// assert_eq!(a.t().get(2, 1), Some(6.0)); // the transpose is a view, nothing is copied
/// assert!(MatRef::row_major(&data, 3, 3).is_err()); // too short: a typed error, not a panic
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> MatRef<'a> {
    /// A view with explicit element strides. Strides may be zero (broadcast) for inputs.
    pub fn new(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        Self::named("matrix", data, rows, cols, row_stride, col_stride)
    }

    pub(crate) fn named(
        what: &'static str,
        data: &'a [f32],
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    ) -> Result<Self> {
        let needed = extent(what, rows, cols, rs, cs)?;
        if needed > data.len() {
            return Err(Error::BufferTooSmall {
                what,
                needed,
                len: data.len(),
            });
        }
        Ok(Self {
            data,
            rows,
            cols,
            rs,
            cs,
        })
    }

    /// A dense row-major view (`row_stride = cols`, `col_stride = 1`).
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        Self::new(data, rows, cols, cols, 1)
    }

    /// A dense column-major view (`row_stride = 1`, `col_stride = rows`).
    pub fn col_major(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        Self::new(data, rows, cols, 1, rows)
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
    pub fn data(&self) -> &'a [f32] {
        self.data
    }
    /// Element `(i, j)`, or `None` outside the view.
    pub fn get(&self, i: usize, j: usize) -> Option<f32> {
        (i < self.rows && j < self.cols).then(|| self.data[i * self.rs + j * self.cs])
    }

    /// Rows `start..start + len` as a view of the same data (for working on a tall matrix in
    /// blocks of rows).
    ///
    /// ```
    /// use wasmnn_kernels::MatRef;
    /// let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    /// let a = MatRef::row_major(&data, 3, 2)?;
    /// assert_eq!(a.row_block(1, 2)?.get(0, 1), Some(4.0));
    /// assert!(a.row_block(2, 2).is_err());
    /// # Ok::<(), wasmnn_kernels::Error>(())
    /// ```
    pub fn row_block(self, start: usize, len: usize) -> Result<MatRef<'a>> {
        let offset = row_block_offset(self.rows, self.rs, start, len)?;
        Ok(Self {
            data: self.data.get(offset..).unwrap_or(&[]),
            rows: len,
            ..self
        })
    }
}

/// Where rows `start..start + len` of a `rows`-row view with row stride `rs` begin, or an error
/// when they are not all inside the view.
fn row_block_offset(rows: usize, rs: usize, start: usize, len: usize) -> Result<usize> {
    if start.checked_add(len).is_none_or(|end| end > rows) {
        return Err(Error::InvalidArgument {
            what: "row block",
            why: "rows start..start + len must lie inside the matrix",
        });
    }
    // start < rows when len > 0, so start * rs stays inside the validated extent; an empty
    // block keeps offset 0.
    Ok(if len == 0 { 0 } else { start * rs })
}

/// A writable `rows x cols` matrix view. Its strides must not make two elements overlap.
///
/// ```
/// use wasmnn_kernels::MatMut;
/// let mut data = [0.0f32; 6];
/// let mut c = MatMut::row_major(&mut data, 2, 3).unwrap();
/// c.set(1, 0, 7.0);
/// assert_eq!(data[3], 7.0);
/// assert!(MatMut::new(&mut [0.0; 6], 2, 3, 0, 1).is_err()); // rows would overlap
/// ```
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> MatMut<'a> {
    /// A writable view with explicit element strides.
    pub fn new(
        data: &'a mut [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        Self::named("matrix", data, rows, cols, row_stride, col_stride)
    }

    pub(crate) fn named(
        what: &'static str,
        data: &'a mut [f32],
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    ) -> Result<Self> {
        let needed = extent(what, rows, cols, rs, cs)?;
        if needed > data.len() {
            return Err(Error::BufferTooSmall {
                what,
                needed,
                len: data.len(),
            });
        }
        // Injective layout: with the smaller stride s (over dimension d) and the larger S,
        // elements never collide iff s >= 1 (when d > 1) and s * (d - 1) < S (when the other
        // dimension > 1). Checked arithmetic cannot overflow here: `extent` succeeded.
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
    pub fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self> {
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
    pub fn as_ref(&self) -> MatRef<'_> {
        MatRef {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }
    /// Sets element `(i, j)`; returns `false` (and writes nothing) outside the view.
    pub fn set(&mut self, i: usize, j: usize, v: f32) -> bool {
        if i < self.rows && j < self.cols {
            self.data[i * self.rs + j * self.cs] = v;
            true
        } else {
            false
        }
    }
    /// Rows `start..start + len` as a writable view of the same data.
    ///
    /// ```
    /// use wasmnn_kernels::MatMut;
    /// let mut data = [0.0f32; 6];
    /// let mut c = MatMut::row_major(&mut data, 3, 2)?;
    /// c.row_block(1, 2)?.set(1, 0, 7.0);
    /// assert_eq!(data[4], 7.0);
    /// # Ok::<(), wasmnn_kernels::Error>(())
    /// ```
    pub fn row_block(&mut self, start: usize, len: usize) -> Result<MatMut<'_>> {
        let offset = row_block_offset(self.rows, self.rs, start, len)?;
        let data = match self.data.get_mut(offset..) {
            Some(d) => d,
            None => &mut [],
        };
        Ok(MatMut {
            data,
            rows: len,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        })
    }
    /// Raw parts for the kernels: base pointer and strides. Validated at construction.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut f32 {
        self.data.as_mut_ptr()
    }
}
