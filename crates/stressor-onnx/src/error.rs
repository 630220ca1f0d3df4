//! Why an ONNX model could not be loaded or exported.

/// Why an ONNX model could not be loaded or exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnnxError {
    /// The model file could not be read.
    #[error("failed to read ONNX model {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not an ONNX model (the protobuf does not decode).
    #[error("{model} is not an ONNX model: {message}")]
    Decode {
        /// The file or the name given to [`OnnxModel::from_bytes`](crate::OnnxModel::from_bytes).
        model: String,
        /// The decoder's message.
        message: String,
    },
    /// The model decodes but has no graph, no input or no output, or uses a feature stressor
    /// does not read (external data, a non-default domain, a non-float input).
    #[error("invalid ONNX model {model}: {reason}")]
    Invalid {
        /// The file or name.
        model: String,
        /// What is wrong.
        reason: String,
    },
    /// A node uses an operator stressor cannot evaluate.
    #[error("unsupported ONNX op `{op}` in node `{node}` of {model}")]
    UnsupportedOp {
        /// The file or name.
        model: String,
        /// The operator (`op_type`, with its domain when not the default one).
        op: String,
        /// The node's name (or its first output when it has no name).
        node: String,
    },
    /// A node has an attribute value stressor does not support or that is malformed.
    #[error("bad attribute `{attribute}` of node `{node}` ({op}) in {model}: {reason}")]
    BadAttribute {
        /// The file or name.
        model: String,
        /// The operator.
        op: String,
        /// The node's name.
        node: String,
        /// The attribute.
        attribute: String,
        /// What is wrong.
        reason: String,
    },
    /// A node's inputs do not fit together (weights that do not match the data, a missing
    /// input, a reshape to an impossible shape), found when the model is first run.
    #[error("node `{node}` ({op}) of {model} failed: {message}")]
    Node {
        /// The file or name.
        model: String,
        /// The operator.
        op: String,
        /// The node's name.
        node: String,
        /// What went wrong.
        message: String,
    },
    /// The graph's input has a shape stressor cannot resolve to `[batch, c, h, w]`: another
    /// rank, or symbolic dimensions other than the batch.
    #[error("cannot resolve the input shape of {model}: {reason}")]
    DynamicShape {
        /// The file or name.
        model: String,
        /// What is wrong.
        reason: String,
    },
    /// The [`InputSpec`](crate::InputSpec) or the class names do not fit the graph.
    #[error("the input spec does not fit {model}: {reason}")]
    Spec {
        /// The file or name.
        model: String,
        /// What is wrong.
        reason: String,
    },
    /// The graph's output is not one row of class scores per sample.
    #[error("the output of {model} is not [batch, classes]: {reason}")]
    Output {
        /// The file or name.
        model: String,
        /// What is wrong.
        reason: String,
    },
    /// Export failed: the model's parameters could not be read.
    #[error("cannot export model: {reason}")]
    Export {
        /// What is wrong.
        reason: String,
    },
}
