//! Memory planning: every tensor the program computes gets an offset in one arena, chosen from
//! the tensors' lifetimes (first writer to last reader) by the offset planner of
//! [`wasmnn_arena::Plan`], so tensors that are never alive together share memory. The result is
//! a [`Program`]: steps that read and write fixed byte ranges, plus the constants.
use super::error::{GraphError, Result};
use super::ops::Op;
use super::tensor::Tensor;
use super::typed::{TensorSpec, TypedGraph};
use std::ops::Range;
use std::sync::Arc;
use wasmnn_arena::{Align, Plan, Request};

/// Where a value lives while the program runs.
#[derive(Clone, Debug)]
pub(crate) enum Slot {
    /// Bytes of the arena, with the value's type.
    Arena(Range<usize>, TensorSpec),
    /// A constant (index into [`Program::consts`]).
    Const(usize),
}

/// One operator application.
#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub name: String,
    pub op: Box<dyn Op>,
    pub inputs: Vec<Option<Slot>>,
    pub output: Range<usize>,
    pub spec: TensorSpec,
}

/// A specialised graph with its memory plan, ready to execute.
#[derive(Clone, Debug)]
pub(crate) struct Program {
    pub steps: Vec<Step>,
    pub consts: Vec<Arc<Tensor>>,
    /// Where each graph input is copied.
    pub inputs: Vec<(Range<usize>, TensorSpec)>,
    /// Where each graph output is read.
    pub outputs: Vec<Slot>,
    /// Size of the arena.
    pub peak_bytes: usize,
}

/// Plans memory for `g` (nodes in execution order), refusing an arena over `max_bytes`.
pub(crate) fn plan(mut g: TypedGraph, max_bytes: usize) -> Result<Program> {
    // Steps: 0 = inputs are copied in, k + 1 = node k runs, last = outputs are copied out.
    let last_step = g.nodes.len() + 1;
    let nv = g.values.len();
    let mut first = vec![usize::MAX; nv];
    let mut last = vec![0usize; nv];
    for &i in &g.inputs {
        first[i] = 0;
    }
    for (k, n) in g.nodes.iter().enumerate() {
        first[n.output] = first[n.output].min(k + 1);
        for &i in n.inputs.iter().flatten() {
            last[i] = last[i].max(k + 1);
        }
    }
    for &o in &g.outputs {
        last[o] = last_step;
    }

    // One request per value that lives in the arena (inputs and node outputs).
    let mut request_of = vec![None; nv];
    let mut requests = Vec::new();
    for v in 0..nv {
        if first[v] == usize::MAX || g.values[v].constant.is_some() {
            continue;
        }
        let bytes = g.values[v].spec.bytes()?;
        // i64 needs 8-byte alignment; 16 (the default) also serves SIMD loads.
        requests.push(Request::new(bytes, first[v], last[v].max(first[v])).with_align(Align::B16));
        request_of[v] = Some(requests.len() - 1);
    }
    let plan = Plan::new(&requests)?;
    if plan.peak_bytes() > max_bytes {
        return Err(GraphError::TooLarge {
            what: "memory plan".into(),
            bytes: plan.peak_bytes() as u128,
            limit: max_bytes as u128,
        });
    }

    let nodes = std::mem::take(&mut g.nodes);
    let g = &g;
    let mut consts = Vec::new();
    let mut const_of = vec![None; nv];
    let mut slot = |v: usize| -> Result<Slot> {
        if let Some(c) = &g.values[v].constant {
            let idx = *const_of[v].get_or_insert_with(|| {
                consts.push(c.clone());
                consts.len() - 1
            });
            return Ok(Slot::Const(idx));
        }
        let r = request_of[v].ok_or_else(|| {
            GraphError::invalid(format!(
                "value `{}` is read but never written",
                g.values[v].name
            ))
        })?;
        let range = plan
            .range(r)
            .ok_or_else(|| GraphError::invalid("memory plan is missing a tensor"))?;
        Ok(Slot::Arena(range, g.values[v].spec.clone()))
    };

    let mut steps = Vec::with_capacity(nodes.len());
    for n in nodes {
        let inputs = n
            .inputs
            .iter()
            .map(|i| i.map(&mut slot).transpose())
            .collect::<Result<Vec<_>>>()?;
        let Slot::Arena(output, spec) = slot(n.output)? else {
            return Err(GraphError::invalid("a node writes a constant"));
        };
        steps.push(Step {
            name: n.name,
            op: n.op,
            inputs,
            output,
            spec,
        });
    }
    let inputs = g
        .inputs
        .iter()
        .map(|&i| match slot(i)? {
            Slot::Arena(r, s) => Ok((r, s)),
            Slot::Const(_) => Err(GraphError::invalid("a graph input is a constant")),
        })
        .collect::<Result<Vec<_>>>()?;
    let outputs = g
        .outputs
        .iter()
        .map(|&o| slot(o))
        .collect::<Result<Vec<_>>>()?;
    Ok(Program {
        steps,
        consts,
        inputs,
        outputs,
        peak_bytes: plan.peak_bytes(),
    })
}
