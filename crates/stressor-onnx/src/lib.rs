//! Load a user's ONNX image classifier at run time and give it input gradients.
//!
//! [`OnnxModel`] reads an ONNX file (protobuf, weights inside), checks every node against the
//! supported operator set, and evaluates the graph with candle tensor ops, so candle's autograd
//! gives the input gradients white-box attacks need. It implements
//! [`Model`](stressor_model::Model) and [`Differentiable`](stressor_model::Differentiable);
//! an [`InputSpec`] says how stressor's `[n, c, h, w]` inputs in `[0, 1]` become the graph's
//! input (layout, 0–255 scaling, per-channel mean and std), and gradients are taken through
//! that transform.
//!
//! Supported operators (default domain; fixtures at opsets 11, 13, 17, 18 and 20; the older
//! attribute forms of `Pad`, `Clip`, `Softmax`, `Unsqueeze`, `Squeeze`, `Split`, `Slice`,
//! `ReduceMean`, `ReduceSum` and `ReduceMax` are read too): `Conv` (any group, depthwise
//! included, strides, pads, `auto_pad`; dilation 1), `Gemm`, `MatMul` (batched, broadcasting),
//! `Relu`, `LeakyRelu`, `PRelu`, `Sigmoid`, `HardSigmoid`, `HardSwish`, `Tanh`, `Erf`, `Gelu`,
//! `Sqrt`, `Exp`, `Log`, `Abs`, `Neg`, `Reciprocal`, `Pow`, `Max`, `Min`, `MaxPool`,
//! `AveragePool`, `GlobalAveragePool`, `BatchNormalization` (inference), `LayerNormalization`,
//! `ReduceMean`, `ReduceSum`, `ReduceMax`, `Add`, `Sub`, `Mul`, `Div`, `Mod` (broadcasting),
//! `Flatten`, `Reshape`, `Transpose`, `Concat`, `Split`, `Slice`, `Expand`, `Where`, `Equal`,
//! `Pad` (constant), `Softmax` (any axis), `Clip`, `Dropout`, `Identity`, `Constant`,
//! `ConstantOfShape`, `Range`, `Resize` (nearest and bilinear over `[n, c, h, w]`, opset ≥ 11),
//! `Shape`, `Gather`, `Unsqueeze`, `Squeeze`, `Cast`. Any other
//! node is an [`OnnxError::UnsupportedOp`] naming the op and the node; [`list_ops`] lists a
//! model's operators and the unsupported ones without loading it. Every op on the gradient path
//! is checked against finite differences in the tests.
//!
//! Exported graphs compute shapes inside the graph (`Shape → Gather → Unsqueeze → Concat →
//! Reshape`, `ConstantOfShape`, `Where`, `Expand`, …). At load, every node whose inputs are
//! known is evaluated once and replaced by a constant, including shape dimensions that do not
//! depend on the batch size; what depends on the batch size is evaluated on each call (see
//! `fold`).
//!
//! Convolutions (any stride; 1×1 stride-1 ones without im2col), linear layers and 2×2 max
//! pools run as stressor's own candle ops (`stressor_model::builtin::ops`, im2col + gemm); a
//! strided convolution's im2col takes only the windows at output positions, so it does
//! `1/stride²` of the stride-1 work, and its backward pass is the matching col2im. Depthwise
//! convolutions, other pools, `LayerNormalization` with constant scale and bias, the clamped
//! activations (`Relu`, `Clip`, `HardSigmoid`, `HardSwish`), `Sigmoid`, and `Add`, `Sub`,
//! `Mul`, `Div` of same-shaped operands are this crate's own ops, each one parallel pass
//! forward and one backward (broadcasting arithmetic stays with candle). At load time a
//! `BatchNormalization` after a `Conv` is folded into its weights, and `Conv → [Relu →]
//! MaxPool 2×2` is fused. With `STRESSOR_ONNX_PROFILE` set, each node's wall time is added up
//! per op (see the `onnx_throughput` example).
//!
//! [`export_fashion_cnn`] writes the built-in CNN as ONNX.
//!
//! Non-goals: GPUs, half precision, external-data files, control flow, training.
//!
//! ```no_run
//! use std::path::Path;
//! use stressor_core::Batch;
//! use stressor_model::Model as _;
//! use stressor_onnx::{InputSpec, Layout, OnnxModel, OutputKind};
//!
//! let spec = InputSpec { layout: Layout::Nhwc, scale: 255.0, mean: vec![], std: vec![], output: OutputKind::Logits };
//! let model = OnnxModel::load(Path::new("classifier.onnx"), spec, None)?;
//! let inputs = Batch::zeros(4, &model.info().input_shape);
//! let scores = model.predict(&inputs).expect("runs");
//! assert_eq!(scores.len(), 4);
//! # Ok::<(), stressor_onnx::OnnxError>(())
//! ```

mod activation;
mod binary;
mod depthwise;
mod error;
mod eval;
mod export;
mod fold;
mod graph;
mod indexing;
mod model;
mod norm;
mod pool;
mod profile;
mod proto;
mod slice_op;

#[cfg(test)]
mod tests;

pub use error::OnnxError;
pub use export::{EXPORT_OPSET, export_fashion_cnn};
pub use graph::{OpUse, list_ops};
pub use model::{
    CHUNK_SIZE, CHUNK_VALUES, GRADIENT_CHUNK_VALUES, InputSpec, Layout, OnnxModel, OutputKind,
};
pub use profile::op_profile;
