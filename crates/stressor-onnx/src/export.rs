//! ONNX export of the built-in Fashion-MNIST CNN.

use prost::Message as _;
use stressor_model::builtin::FashionCnn;

use crate::error::OnnxError;
use crate::proto::{self, attribute_type};

/// The opset the export targets.
pub const EXPORT_OPSET: i64 = 13;

/// The parameters of [`FashionCnn`], in the order of its safetensors file (PyTorch's names).
const PARAMS: [&str; 8] = [
    "conv1.weight",
    "conv1.bias",
    "conv2.weight",
    "conv2.bias",
    "fc1.weight",
    "fc1.bias",
    "fc2.weight",
    "fc2.bias",
];

/// The built-in CNN as ONNX bytes (opset 13, IR version 8), so it runs elsewhere (onnxruntime,
/// PyTorch via `onnx2torch`, …) and through [`OnnxModel`](crate::OnnxModel).
///
/// The graph takes `input` `[batch, 1, 28, 28]` (values in `[0, 1]`, symbolic batch) and
/// returns `logits` `[batch, 10]`: `Conv`–`Relu`–`MaxPool` twice, `Flatten`, `Gemm`–`Relu`,
/// `Gemm`, with the weights as initializers under their PyTorch names.
///
/// # Errors
/// [`OnnxError::Export`] when the model's parameters cannot be read back.
///
/// # Examples
/// ```
/// use stressor_core::{Batch, Bounds, Dataset, Seed};
/// use stressor_model::builtin::{TrainConfig, train};
///
/// // A model trained for one step on blank images: any trained CNN exports the same way.
/// let names = (0..10).map(|c| c.to_string()).collect();
/// let data = Dataset::new("blank", Batch::zeros(2, &[1, 28, 28]), vec![0, 1], names, Bounds::UNIT).unwrap();
/// let mut config = TrainConfig::default();
/// config.epochs = 1;
/// let model = train(&data, &config, Seed::new(1), &mut |_| {}).unwrap();
/// let bytes = stressor_onnx::export_fashion_cnn(&model)?;
/// let path = std::env::temp_dir().join("stressor-doc-fashion-cnn.onnx");
/// std::fs::write(&path, &bytes).expect("writable");
/// assert!(bytes.len() > 100_000, "the weights are in the graph");
/// # Ok::<(), stressor_onnx::OnnxError>(())
/// ```
pub fn export_fashion_cnn(model: &FashionCnn) -> Result<Vec<u8>, OnnxError> {
    let export = |reason: String| OnnxError::Export { reason };
    let bytes = model.to_safetensors_bytes().map_err(|e| export(e.to_string()))?;
    let tensors =
        safetensors::SafeTensors::deserialize(&bytes).map_err(|e| export(e.to_string()))?;
    let mut initializer = Vec::with_capacity(PARAMS.len());
    for name in PARAMS {
        let view = tensors.tensor(name).map_err(|e| export(format!("tensor `{name}`: {e}")))?;
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(export(format!("tensor `{name}` is not f32")));
        }
        initializer.push(proto::TensorProto {
            dims: view.shape().iter().map(|&d| d as i64).collect(),
            data_type: proto::FLOAT,
            name: name.to_string(),
            raw_data: view.data().to_vec(),
            ..Default::default()
        });
    }
    let node = |op: &str,
                name: &str,
                inputs: &[&str],
                output: &str,
                attribute: Vec<proto::AttributeProto>| {
        proto::NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_string()],
            name: name.to_string(),
            op_type: op.to_string(),
            attribute,
            ..Default::default()
        }
    };
    let conv_attrs = || {
        vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1]), ints("strides", &[1, 1])]
    };
    let pool_attrs = || vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])];
    let nodes = vec![
        node("Conv", "conv1", &["input", "conv1.weight", "conv1.bias"], "conv1_out", conv_attrs()),
        node("Relu", "relu1", &["conv1_out"], "relu1_out", vec![]),
        node("MaxPool", "pool1", &["relu1_out"], "pool1_out", pool_attrs()),
        node(
            "Conv",
            "conv2",
            &["pool1_out", "conv2.weight", "conv2.bias"],
            "conv2_out",
            conv_attrs(),
        ),
        node("Relu", "relu2", &["conv2_out"], "relu2_out", vec![]),
        node("MaxPool", "pool2", &["relu2_out"], "pool2_out", pool_attrs()),
        node("Flatten", "flatten", &["pool2_out"], "flat", vec![int("axis", 1)]),
        node("Gemm", "fc1", &["flat", "fc1.weight", "fc1.bias"], "fc1_out", vec![int("transB", 1)]),
        node("Relu", "relu3", &["fc1_out"], "relu3_out", vec![]),
        node(
            "Gemm",
            "fc2",
            &["relu3_out", "fc2.weight", "fc2.bias"],
            "logits",
            vec![int("transB", 1)],
        ),
    ];
    let graph = proto::GraphProto {
        node: nodes,
        name: "fashion-cnn".to_string(),
        initializer,
        input: vec![value_info("input", &[None, Some(1), Some(28), Some(28)])],
        output: vec![value_info("logits", &[None, Some(10)])],
        ..Default::default()
    };
    let model = proto::ModelProto {
        ir_version: 8,
        opset_import: vec![proto::OperatorSetIdProto {
            domain: String::new(),
            version: EXPORT_OPSET,
        }],
        producer_name: "stressor".to_string(),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        graph: Some(graph),
        ..Default::default()
    };
    Ok(model.encode_to_vec())
}

fn ints(name: &str, values: &[i64]) -> proto::AttributeProto {
    proto::AttributeProto {
        name: name.to_string(),
        r#type: attribute_type::INTS,
        ints: values.to_vec(),
        ..Default::default()
    }
}

fn int(name: &str, value: i64) -> proto::AttributeProto {
    proto::AttributeProto {
        name: name.to_string(),
        r#type: attribute_type::INT,
        i: value,
        ..Default::default()
    }
}

/// A float tensor's value info; `None` is the symbolic batch dimension.
fn value_info(name: &str, dims: &[Option<i64>]) -> proto::ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| proto::Dimension {
            value: Some(match d {
                Some(v) => proto::DimensionValue::DimValue(*v),
                None => proto::DimensionValue::DimParam("batch".to_string()),
            }),
            denotation: String::new(),
        })
        .collect();
    proto::ValueInfoProto {
        name: name.to_string(),
        r#type: Some(proto::TypeProto {
            tensor_type: Some(proto::TensorTypeProto {
                elem_type: proto::FLOAT,
                shape: Some(proto::TensorShapeProto { dim }),
            }),
            denotation: String::new(),
        }),
        doc_string: String::new(),
    }
}
