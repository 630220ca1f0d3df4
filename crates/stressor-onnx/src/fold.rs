//! Load-time folding of the shape arithmetic exporters emit.
//!
//! `torch.onnx.export` and tf2onnx compute shapes inside the graph: `Shape → Gather →
//! Unsqueeze → Concat → Reshape`, `ConstantOfShape`, `Equal`, `Where`, `Expand`, `Range`,
//! `Cast`, and `Identity` or `Constant` nodes in front of weights. [`fold`] evaluates, once at
//! load, every node whose inputs are all known, and replaces it with its outputs as constants.
//!
//! A `Shape` is known when the dimensions it reads do not depend on the batch size. The graph's
//! input has fixed dimensions except (perhaps) the batch, so [`fold`] runs the graph on zeros at
//! batch sizes 1 and 2 and takes a dimension that is the same in both runs as fixed. Shape
//! vectors are tracked element by element (`[batch, 197, 768]` has two known elements), so
//! `Gather`, `Unsqueeze`, `Squeeze`, `Concat` and `Cast` of their known elements fold too;
//! whatever depends on the batch stays in the graph and is evaluated at run time. A graph
//! whose probe run fails is folded without `Shape` knowledge (the failure is reported by the
//! model's own trial run).

use std::collections::{HashMap, HashSet};

use candle_core::{DType, Device, Tensor};

use crate::eval::eval_outputs;
use crate::graph::{Dim, Graph, Ints, Node, Op, Value};

/// An integer tensor of rank 0 or 1 whose elements may be unknown until run time.
#[derive(Debug, Clone)]
struct Partial {
    dims: Vec<usize>,
    data: Vec<Option<i64>>,
}

impl Partial {
    fn known(&self) -> Option<Ints> {
        let data = self.data.iter().copied().collect::<Option<Vec<i64>>>()?;
        Some(Ints { dims: self.dims.clone(), data })
    }
}

/// Folds the known part of the graph into constants and removes nodes nothing reads.
pub(crate) fn fold(graph: &mut Graph) {
    let probes = probe_dims(graph);
    graph.values_per_sample = probes.as_ref().map(|(one, two)| {
        let total = |dims: &ValueDims| -> usize {
            dims.values().map(|d| d.iter().product::<usize>()).sum()
        };
        total(two).saturating_sub(total(one))
    });
    let probes: Option<Probes> = probes.as_ref().map(|(one, two)| (one, two));
    let mut partials: HashMap<String, Partial> = HashMap::new();
    let mut kept = Vec::with_capacity(graph.nodes.len());
    for node in std::mem::take(&mut graph.nodes) {
        if let Some(values) = constant_outputs(&node, &graph.constants) {
            for (name, value) in node.outputs.iter().zip(values) {
                graph.constants.insert(name.clone(), value);
            }
            continue;
        }
        if let Some(partial) = partial_output(&node, graph, probes, &partials) {
            let name = node.outputs[0].clone();
            match partial.known() {
                Some(ints) => {
                    graph.constants.insert(name, Value::Int(ints));
                    continue;
                }
                None => {
                    partials.insert(name, partial);
                }
            }
        }
        kept.push(node);
    }
    graph.nodes = kept;
    transpose_weights(graph);
    remove_dead(graph);
}

/// Stores the constant right operand of each `MatMul` by a matrix transposed and contiguous
/// (`[out, in]`, the linear op's layout), and makes the node a [`Op::MatMulByWeight`].
fn transpose_weights(graph: &mut Graph) {
    for node in &mut graph.nodes {
        if !matches!(node.op, Op::MatMul) {
            continue;
        }
        let Some(Value::Float(weight)) = node.inputs.get(1).and_then(|w| graph.constants.get(w))
        else {
            continue;
        };
        if weight.rank() != 2 {
            continue;
        }
        let Ok(transposed) = weight.t().and_then(|t| t.contiguous()) else {
            continue;
        };
        let name = format!("{}::weight_t", node.inputs[1]);
        graph.constants.insert(name.clone(), Value::Float(transposed));
        node.inputs[1] = name;
        node.op = Op::MatMulByWeight;
    }
}

/// The outputs of a node whose inputs are all constants, evaluated now; `None` when an input is
/// not constant or the evaluation fails (the failure then surfaces at run time, naming the node).
fn constant_outputs(node: &Node, constants: &HashMap<String, Value>) -> Option<Vec<Value>> {
    let mut args = Vec::with_capacity(node.inputs.len());
    for name in &node.inputs {
        if name.is_empty() {
            args.push(None);
        } else {
            args.push(Some(constants.get(name)?));
        }
    }
    let values = eval_outputs(node, &args, DType::F32).ok()?;
    let wanted = node.outputs.iter().filter(|o| !o.is_empty()).count();
    (values.len() >= wanted).then_some(values)
}

/// What is known of a node's (first) output when it is shape arithmetic over partly known
/// values.
fn partial_output(
    node: &Node,
    graph: &Graph,
    probes: Option<Probes>,
    partials: &HashMap<String, Partial>,
) -> Option<Partial> {
    let input = |index: usize| -> Option<Partial> {
        let name = node.inputs.get(index)?;
        if let Some(p) = partials.get(name) {
            return Some(p.clone());
        }
        match graph.constants.get(name)? {
            Value::Int(ints) if ints.dims.len() <= 1 => Some(Partial {
                dims: ints.dims.clone(),
                data: ints.data.iter().copied().map(Some).collect(),
            }),
            _ => None,
        }
    };
    let constant_ints = |index: usize| -> Option<&Ints> {
        match graph.constants.get(node.inputs.get(index)?)? {
            Value::Int(ints) => Some(ints),
            Value::Float(_) => None,
        }
    };
    match &node.op {
        Op::Shape { start, end } => {
            let (one, two) = probes?;
            let name = node.inputs.first()?;
            let (a, b) = (one.get(name)?, two.get(name)?);
            let rank = a.len() as i64;
            let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
            let (s, e) = (clamp(*start), clamp(end.unwrap_or(rank)));
            let data: Vec<Option<i64>> =
                (s..e.max(s)).map(|i| (a[i] == b[i]).then_some(a[i] as i64)).collect();
            Some(Partial { dims: vec![data.len()], data })
        }
        Op::Gather { axis: 0 } => {
            let data = input(0)?;
            let indices = constant_ints(1)?;
            if data.dims.len() != 1 || indices.dims.len() > 1 {
                return None;
            }
            let len = data.data.len() as i64;
            let picked = indices
                .data
                .iter()
                .map(|&i| {
                    let i = if i < 0 { i + len } else { i };
                    (0..len).contains(&i).then(|| data.data[i as usize])
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Partial { dims: indices.dims.clone(), data: picked })
        }
        Op::Unsqueeze { axes } => {
            let value = input(0)?;
            let axes = match axes {
                Some(a) => a.clone(),
                None => constant_ints(1)?.data.clone(),
            };
            (value.dims.is_empty() && matches!(axes.as_slice(), [0] | [-1]))
                .then(|| Partial { dims: vec![1], data: value.data })
        }
        Op::Squeeze { .. } => {
            let value = input(0)?;
            (value.dims == [1]).then(|| Partial { dims: vec![], data: value.data })
        }
        Op::Identity | Op::Cast { to_float: false, to_bool: false } => input(0),
        Op::Concat { .. } => {
            let mut data = Vec::new();
            for index in 0..node.inputs.len() {
                let part = input(index)?;
                if part.dims.len() != 1 {
                    return None;
                }
                data.extend(part.data);
            }
            Some(Partial { dims: vec![data.len()], data })
        }
        _ => None,
    }
}

/// The dimensions of every value of one run, by name.
type ValueDims = HashMap<String, Vec<usize>>;

/// The dimensions of every value at batch sizes 1 and 2 (the same run twice for a graph with
/// a fixed batch).
type Probes<'a> = (&'a ValueDims, &'a ValueDims);

/// Runs the graph on zeros at batch sizes 1 and 2; `None` when a non-batch dimension of the
/// input is symbolic or a run fails.
fn probe_dims(graph: &Graph) -> Option<(ValueDims, ValueDims)> {
    let run = |batch: usize| -> Option<ValueDims> {
        let dims = graph
            .input_dims
            .iter()
            .enumerate()
            .map(|(i, d)| match d {
                Dim::Fixed(d) => Some(*d),
                Dim::Symbolic if i == 0 => Some(batch),
                Dim::Symbolic => None,
            })
            .collect::<Option<Vec<usize>>>()?;
        let input = Tensor::zeros(dims.clone(), DType::F32, &Device::Cpu).ok()?;
        let mut values = graph.value_dims(&input).ok()?;
        values.insert(graph.input.clone(), dims);
        Some(values)
    };
    let one = run(1)?;
    let two = match graph.input_dims.first() {
        Some(Dim::Symbolic) => run(2)?,
        _ => one.clone(),
    };
    Some((one, two))
}

/// Removes nodes whose outputs nothing reads, and constants no remaining node reads.
fn remove_dead(graph: &mut Graph) {
    let mut used: HashSet<String> = HashSet::from([graph.output.clone()]);
    let mut live = vec![false; graph.nodes.len()];
    for (index, node) in graph.nodes.iter().enumerate().rev() {
        if node.outputs.iter().any(|o| used.contains(o)) {
            live[index] = true;
            used.extend(node.inputs.iter().cloned());
        }
    }
    let mut index = 0;
    graph.nodes.retain(|_| {
        index += 1;
        live[index - 1]
    });
    graph.constants.retain(|name, _| used.contains(name));
}
