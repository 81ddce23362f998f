//! The executor: runs a planned program over one arena (its operators split large work over
//! the threads of [`crate::parallel`], from inside the pool).
//!
//! The arena is allocated once, at the size the plan computed; each run copies the inputs in,
//! runs the steps in order (each reading its inputs and writing its output at fixed offsets),
//! and copies the outputs out. Tensors never move and nothing is allocated for them per run.
use super::error::{GraphError, Result};
use super::plan::{Program, Slot};
use super::tensor::{DataMut, DataRef, Tensor, TensorMut, TensorRef};
use super::typed::TensorSpec;
use std::ops::Range;
use wasmnn_arena::{Align, Arena};

/// Inputs per step kept on the stack; steps with more (a long `Concat`) use a heap vector.
const INLINE_INPUTS: usize = 8;

/// A model specialised to fixed input shapes, with its memory plan: run it many times.
///
/// Made by [`super::Model::session`]. [`Session::run_into`] writes into caller-owned outputs and
/// allocates nothing after the first call.
///
/// ```
/// use wasmnn::graph::{DType, GraphBuilder, Model, Tensor, TensorSpec, TensorType};
/// let mut b = GraphBuilder::new(17);
/// let x = b.input("x", TensorType::new(DType::F32, vec!["n".into()]));
/// let y = b.node("Relu", &[x], &[]);
/// b.output(y);
/// let model = Model::from_graph(b.build()?)?;
/// let mut session = model.session(&[TensorSpec::new(DType::F32, &[3])])?;
/// let mut out = Tensor::zeros(DType::F32, &[3])?;
/// for _ in 0..2 {
///     let x = Tensor::from_f32(&[3], vec![-1.0, 0.5, 2.0])?;
///     session.run_into(&[x.view()], &mut [out.view_mut()])?;
/// }
/// assert_eq!(out.as_f32().unwrap(), &[0.0, 0.5, 2.0]);
/// assert!(session.peak_bytes() >= 2 * 12); // input and output live at once
/// # Ok::<(), wasmnn::graph::GraphError>(())
/// ```
#[derive(Debug)]
pub struct Session {
    program: Program,
    arena: Arena,
    /// Whether some step is big enough to be split over threads (see [`splits_work`]).
    threaded: bool,
}

impl Session {
    pub(crate) fn new(program: Program) -> Result<Self> {
        // One allocation of the planned size (plus the arena's padding tail) per run.
        let arena = Arena::with_capacity(Arena::footprint::<u8>(program.peak_bytes, Align::B64)?)?;
        let threaded = splits_work(&program);
        Ok(Self {
            program,
            arena,
            threaded,
        })
    }

    /// Bytes of the arena that holds every intermediate tensor.
    pub fn peak_bytes(&self) -> usize {
        self.program.peak_bytes
    }

    /// Types of the inputs this session was specialised to.
    pub fn input_specs(&self) -> Vec<TensorSpec> {
        self.program.inputs.iter().map(|(_, s)| s.clone()).collect()
    }

    /// Types of the outputs.
    pub fn output_specs(&self) -> Vec<TensorSpec> {
        self.program
            .outputs
            .iter()
            .map(|s| match s {
                Slot::Arena(_, spec) => spec.clone(),
                Slot::Const(c) => TensorSpec::of(&self.program.consts[*c]),
            })
            .collect()
    }

    /// The operators that run, in order (fused operators under their own names).
    pub fn op_kinds(&self) -> Vec<&'static str> {
        self.program.steps.iter().map(|s| s.op.kind()).collect()
    }

    /// Runs on `inputs` (in graph order, of the specialised types) and returns the outputs.
    pub fn run(&mut self, inputs: &[TensorRef<'_>]) -> Result<Vec<Tensor>> {
        let mut outputs = self
            .output_specs()
            .iter()
            .map(|s| Tensor::zeros(s.dtype, &s.shape))
            .collect::<Result<Vec<_>>>()?;
        let mut views: Vec<TensorMut<'_>> = outputs.iter_mut().map(Tensor::view_mut).collect();
        self.run_into(inputs, &mut views)?;
        Ok(outputs)
    }

    /// Runs, writing the outputs into caller-owned views of the output types: no allocation.
    /// On error the outputs may hold partial results.
    pub fn run_into(
        &mut self,
        inputs: &[TensorRef<'_>],
        outputs: &mut [TensorMut<'_>],
    ) -> Result<()> {
        let p = &mut self.program;
        if inputs.len() != p.inputs.len() || outputs.len() != p.outputs.len() {
            return Err(GraphError::invalid(format!(
                "the session takes {} inputs and {} outputs, got {} and {}",
                p.inputs.len(),
                p.outputs.len(),
                inputs.len(),
                outputs.len()
            )));
        }
        for (i, (t, (_, spec))) in inputs.iter().zip(&p.inputs).enumerate() {
            if t.dtype() != spec.dtype || t.shape != spec.shape.as_slice() {
                return Err(GraphError::invalid(format!(
                    "input {i} is {} {:?}, the session was made for {} {:?}",
                    t.dtype().name(),
                    t.shape,
                    spec.dtype.name(),
                    spec.shape
                )));
            }
        }
        self.arena.reset();
        let region: &mut [u8] = self.arena.alloc_slice_aligned(p.peak_bytes, Align::B64)?;
        for (t, (range, spec)) in inputs.iter().zip(&p.inputs) {
            DataMut::from_bytes(spec.dtype, &mut region[range.clone()])?.copy_from(t.data)?;
        }
        // All steps from one thread of the pool: the parallel operators then split their work
        // without a cross-thread hand-off each (see `parallel::install`).
        let (steps, consts) = (&mut p.steps, &p.consts);
        if self.threaded {
            crate::parallel::install(|| run_steps(steps, consts, region))?;
        } else {
            run_steps(steps, consts, region)?;
        }
        for (o, slot) in outputs.iter_mut().zip(&p.outputs) {
            let (data, shape) = match slot {
                Slot::Const(c) => (p.consts[*c].view().data, p.consts[*c].shape()),
                Slot::Arena(r, spec) => (
                    DataRef::from_bytes(spec.dtype, &region[r.clone()])?,
                    spec.shape.as_slice(),
                ),
            };
            if o.shape != shape {
                return Err(GraphError::invalid(format!(
                    "output view has shape {:?}, the output is {shape:?}",
                    o.shape
                )));
            }
            o.data.copy_from(data)?;
        }
        Ok(())
    }
}

/// Whether any step of `p` is big enough for its operator to split it over threads (the
/// thresholds of [`crate::parallel`]): only then does a run go through
/// [`crate::parallel::install`], whose hand-off to the pool and back costs more than a model
/// made of small layers gains (MobileNetV3 in Chromium: 1.61 ms on 1 thread, 1.74 ms on 2).
fn splits_work(p: &Program) -> bool {
    use crate::kernels::par::MIN_MACS_PER_TASK;
    use crate::parallel::MIN_PARALLEL_CONV_MACS;
    p.steps.iter().any(|step| {
        let shape = |i: usize| match step.inputs.get(i) {
            Some(Some(Slot::Arena(_, spec))) => spec.shape.as_slice(),
            Some(Some(Slot::Const(c))) => p.consts[*c].shape(),
            _ => &[],
        };
        let out: usize = step.spec.shape.iter().product();
        // Multiply-adds per output element, from the operands' shapes.
        match step.op.kind() {
            "Linear" | "LinearInt8" | "LayerNormLinear" | "MatMul" | "Gemm" => {
                let k = shape(0).last().copied().unwrap_or(0);
                out.saturating_mul(k) >= 2 * MIN_MACS_PER_TASK
            }
            "Attention" => {
                let seq_k = shape(1).get(2).copied().unwrap_or(0);
                out.saturating_mul(2 * seq_k) >= 2 * MIN_MACS_PER_TASK
            }
            "Conv" | "ConvInt8" => {
                let w = shape(1);
                let per_filter = w.iter().skip(1).product::<usize>();
                !w.is_empty() && out.saturating_mul(per_filter) >= MIN_PARALLEL_CONV_MACS
            }
            _ => false,
        }
    })
}

/// Runs the steps in order over the arena `region`.
fn run_steps(
    steps: &mut [super::plan::Step],
    consts: &[std::sync::Arc<Tensor>],
    region: &mut [u8],
) -> Result<()> {
    for step in steps {
        let out = step.output.clone();
        let (left, rest) = region.split_at_mut(out.start);
        let (out_bytes, right) = rest.split_at_mut(out.end - out.start);
        let output = TensorMut {
            shape: &step.spec.shape,
            data: DataMut::from_bytes(step.spec.dtype, out_bytes)?,
        };
        let n = step.inputs.len();
        let result = if n <= INLINE_INPUTS {
            let mut buf: [Option<TensorRef<'_>>; INLINE_INPUTS] = [None; INLINE_INPUTS];
            for (b, s) in buf.iter_mut().zip(&step.inputs) {
                *b = s
                    .as_ref()
                    .map(|s| view(s, consts, left, right, out.clone()))
                    .transpose()?;
            }
            step.op.run(&buf[..n], output)
        } else {
            let buf = step
                .inputs
                .iter()
                .map(|s| {
                    s.as_ref()
                        .map(|s| view(s, consts, left, right, out.clone()))
                        .transpose()
                })
                .collect::<Result<Vec<_>>>()?;
            step.op.run(&buf, output)
        };
        result.map_err(|e| e.at(&step.name, step.op.kind()))?;
    }
    Ok(())
}

/// The tensor in `slot`: a constant, or bytes of the region on either side of the output.
fn view<'a>(
    slot: &'a Slot,
    consts: &'a [std::sync::Arc<Tensor>],
    left: &'a [u8],
    right: &'a [u8],
    out: Range<usize>,
) -> Result<TensorRef<'a>> {
    match slot {
        Slot::Const(c) => Ok(consts[*c].view()),
        Slot::Arena(r, spec) => {
            let bytes = read_around(left, right, out, r.clone())?;
            Ok(TensorRef {
                shape: &spec.shape,
                data: DataRef::from_bytes(spec.dtype, bytes)?,
            })
        }
    }
}

/// The bytes `r` of the region, which the plan guarantees lie entirely before or after the
/// output range `out` (so they can be read while the output is written).
fn read_around<'a>(
    left: &'a [u8],
    right: &'a [u8],
    out: Range<usize>,
    r: Range<usize>,
) -> Result<&'a [u8]> {
    if r.end <= out.start {
        Ok(&left[r])
    } else if r.start >= out.end && r.end - out.end <= right.len() {
        Ok(&right[r.start - out.end..r.end - out.end])
    } else if r.is_empty() {
        Ok(&[])
    } else {
        Err(GraphError::invalid(
            "memory plan error: an input overlaps the output",
        ))
    }
}
