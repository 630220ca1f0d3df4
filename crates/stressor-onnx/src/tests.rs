//! Tests against onnxruntime's outputs (fixtures made by `tests/fixtures/make_fixtures.py`),
//! finite-difference gradient checks of every op, the FashionCnn export round trip and bad
//! inputs.

#![expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, Var};
use rand::Rng as _;
use stressor_core::{Batch, Bounds, Dataset, Seed};
use stressor_model::builtin::{FashionCnn, TrainConfig, train};
use stressor_model::{Differentiable as _, Model as _, ModelError, ScoreKind};

use crate::graph::Graph;
use crate::{InputSpec, Layout, OnnxError, OnnxModel, OutputKind, export_fashion_cnn};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fixture's input, onnxruntime's output and (for model graphs) its input spec.
struct Fixture {
    bytes: Vec<u8>,
    input_shape: Vec<usize>,
    input: Vec<f32>,
    output_shape: Vec<usize>,
    output: Vec<f32>,
    spec: Option<InputSpec>,
}

fn fixture(name: &str) -> Fixture {
    let dir = fixture_dir();
    let bytes = std::fs::read(dir.join(format!("{name}.onnx"))).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap())
            .unwrap();
    let usizes = |key: &str| -> Vec<usize> {
        json[key].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect()
    };
    let floats = |v: &serde_json::Value| -> Vec<f32> {
        v.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()
    };
    let spec = json.get("spec").map(|s| InputSpec {
        layout: if s["layout"] == "nhwc" { Layout::Nhwc } else { Layout::Nchw },
        scale: s["scale"].as_f64().unwrap() as f32,
        mean: floats(&s["mean"]),
        std: floats(&s["std"]),
        output: if s["output"] == "probabilities" {
            OutputKind::Probabilities
        } else {
            OutputKind::Logits
        },
    });
    Fixture {
        bytes,
        input_shape: usizes("input_shape"),
        input: floats(&json["input"]),
        output_shape: usizes("output_shape"),
        output: floats(&json["output"]),
        spec,
    }
}

fn assert_close(got: &[f32], want: &[f32], tolerance: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= tolerance * b.abs().max(1.0), "{what}[{i}]: {a} vs {b}");
    }
}

/// The op graphs: one input, one output, no input spec.
const OP_FIXTURES: [&str; 20] = [
    "conv_basic",
    "conv_strided",
    "conv_group",
    "conv_same",
    "gemm",
    "gemm_plain",
    "matmul",
    "activations",
    "pools",
    "maxpool2x2",
    "maxpool_ceil",
    "global_average_pool",
    "batchnorm",
    "arith",
    "reshape",
    "softmax",
    "softmax_opset11",
    "misc",
    "small_cnn",
    "nhwc_cnn",
];

/// Graphs of the ops and shape arithmetic that exporters emit for vision models (made by
/// `exporter_graphs` in `make_fixtures.py`).
const EXPORTER_FIXTURES: [&str; 11] = [
    "activations_modern",
    "activations_keras",
    "reduce_max_opset18",
    "gelu",
    "layernorm",
    "conv_depthwise",
    "conv_pointwise_strided",
    "reduce_split_opset11",
    "reduce_split_opset18",
    "resize",
    "vit_block",
];

/// The op graphs and the exporter graphs.
fn graph_fixtures() -> impl Iterator<Item = &'static str> {
    OP_FIXTURES[..18].iter().chain(&EXPORTER_FIXTURES).copied()
}

#[test]
fn op_graphs_match_onnxruntime() {
    for name in graph_fixtures() {
        let f = fixture(name);
        let graph = Graph::parse(name, &f.bytes).unwrap();
        let x = Tensor::from_vec(f.input.clone(), f.input_shape.clone(), &Device::Cpu).unwrap();
        let y = graph.run(&x, &graph.output).unwrap();
        assert_eq!(y.dims(), f.output_shape.as_slice(), "{name}");
        let got = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_close(&got, &f.output, 1e-4, name);
    }
}

#[test]
fn shape_arithmetic_is_folded_at_load_and_what_depends_on_the_batch_runs_at_run_time() {
    use crate::graph::Op;
    let f = fixture("vit_block");
    let graph = Graph::parse("vit_block", &f.bytes).unwrap();
    let count = |what: fn(&Op) -> bool| graph.nodes.iter().filter(|n| what(&n.op)).count();
    // Only the Shape that reads the batch size is left; the static dimensions (sequence length,
    // width, head size) and everything computed from them alone became constants.
    assert_eq!(count(|op| matches!(op, Op::Shape { .. })), 1, "{:#?}", graph.nodes);
    for (what, folded) in [
        ("Range", count(|op| matches!(op, Op::Range))),
        ("Mod", count(|op| matches!(op, Op::Mod { .. }))),
        ("Sqrt", count(|op| matches!(op, Op::Sqrt))),
        ("ConstantOfShape", count(|op| matches!(op, Op::ConstantOfShape(_)))),
        ("Cast", count(|op| matches!(op, Op::Cast { .. }))),
    ] {
        assert_eq!(folded, 0, "{what} is folded");
    }
    // The batch-dependent part (the Reshape target, the class token's Expand) runs per call:
    // one sample alone gives the first row of the batch of three.
    let sample_len = f.input.len() / f.input_shape[0];
    let mut one_shape = f.input_shape.clone();
    one_shape[0] = 1;
    let x = Tensor::from_vec(f.input[..sample_len].to_vec(), one_shape, &Device::Cpu).unwrap();
    let y = graph.run(&x, &graph.output).unwrap();
    assert_eq!(y.dims(), &[1, f.output_shape[1]]);
    let got = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_close(&got, &f.output[..f.output_shape[1]], 1e-4, "vit_block batch of 1");
}

/// Checks the vector–Jacobian product of `f` at `x` (in `f64`) against central differences in
/// every coordinate.
fn check_gradient(what: &str, x: &[f64], shape: &[usize], f: &dyn Fn(&Tensor) -> Tensor) {
    let mut rng = Seed::new(3).rng();
    let input = Var::from_vec(x.to_vec(), shape, &Device::Cpu).unwrap();
    let y = f(input.as_tensor());
    let weights: Vec<f64> = (0..y.elem_count()).map(|_| rng.random_range(-1.0..1.0)).collect();
    let weights = Tensor::from_vec(weights, y.dims(), &Device::Cpu).unwrap();
    let objective =
        |t: &Tensor| f(t).mul(&weights).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap();
    let grads = y.mul(&weights).unwrap().sum_all().unwrap().backward().unwrap();
    let analytic =
        grads.get(input.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let h = 1e-6;
    for (i, &a) in analytic.iter().enumerate() {
        let mut plus = x.to_vec();
        plus[i] += h;
        let mut minus = x.to_vec();
        minus[i] -= h;
        let plus = Tensor::from_vec(plus, shape, &Device::Cpu).unwrap();
        let minus = Tensor::from_vec(minus, shape, &Device::Cpu).unwrap();
        let numeric = (objective(&plus) - objective(&minus)) / (2.0 * h);
        assert!(
            (a - numeric).abs() <= 1e-6 * numeric.abs().max(1.0),
            "{what}: d/dx[{i}] analytic {a} vs numeric {numeric}"
        );
    }
}

#[test]
fn every_op_passes_a_finite_difference_gradient_check() {
    for name in graph_fixtures() {
        let f = fixture(name);
        let graph = Graph::parse(name, &f.bytes).unwrap();
        let x: Vec<f64> = f.input.iter().map(|&v| f64::from(v)).collect();
        check_gradient(name, &x, &f.input_shape, &|t| {
            let y = graph.run(t, &graph.output).unwrap();
            assert_eq!(y.dtype(), DType::F64);
            y
        });
    }
}

fn model_fixture(name: &str) -> (OnnxModel, Fixture) {
    let f = fixture(name);
    let model = OnnxModel::from_bytes(name, &f.bytes, f.spec.clone().unwrap(), None).unwrap();
    (model, f)
}

#[test]
fn model_graphs_match_onnxruntime_through_the_input_spec() {
    for name in ["small_cnn", "nhwc_cnn"] {
        let (model, f) = model_fixture(name);
        assert_eq!(model.info().input_shape, f.input_shape[1..].to_vec(), "{name}");
        assert_eq!(model.info().n_classes, f.output_shape[1], "{name}");
        let inputs = Batch::new(f.input.clone(), f.input_shape.clone()).unwrap();
        let scores = model.predict(&inputs).unwrap();
        assert_close(scores.as_slice(), &f.output, 1e-4, name);
        let want_kind =
            if name == "small_cnn" { ScoreKind::Probabilities } else { ScoreKind::Logits };
        assert_eq!(scores.kind(), want_kind);
        let (logits, _) = model.logits_and_gradient(&inputs, &mut |l| vec![0.0; l.len()]).unwrap();
        if want_kind == ScoreKind::Probabilities {
            // Logits are the softmax's input: their softmax is the graph's output.
            let as_probabilities =
                stressor_model::Scores::new(logits, model.info().n_classes, ScoreKind::Logits)
                    .probabilities();
            assert_close(&as_probabilities, &f.output, 1e-4, name);
        } else {
            assert_close(&logits, &f.output, 1e-4, name);
        }
    }
}

#[test]
fn model_gradients_are_with_respect_to_stressor_inputs() {
    for name in ["small_cnn", "nhwc_cnn"] {
        let (model, f) = model_fixture(name);
        let x: Vec<f64> = f.input.iter().map(|&v| f64::from(v)).collect();
        check_gradient(name, &x, &f.input_shape, &|t| model.logits_tensor(t).unwrap());
        // The f32 path through the trait agrees with the f64 one.
        let inputs = Batch::new(f.input.clone(), f.input_shape.clone()).unwrap();
        let (_, gradient) =
            model.logits_and_gradient(&inputs, &mut |l| vec![1.0; l.len()]).unwrap();
        let input = Var::from_vec(x, f.input_shape.clone(), &Device::Cpu).unwrap();
        let grads =
            model.logits_tensor(input.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
        let want: Vec<f32> = grads
            .get(input.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap()
            .iter()
            .map(|&v| v as f32)
            .collect();
        assert_close(gradient.as_slice(), &want, 1e-4, name);
    }
}

#[test]
fn a_fixed_batch_graph_takes_any_batch_size() {
    // nhwc_cnn fixes its batch at 1: samples run one at a time (the last chunk is padded).
    let (model, f) = model_fixture("nhwc_cnn");
    let one = Batch::new(f.input.clone(), f.input_shape.clone()).unwrap();
    let single = model.predict(&one).unwrap();
    let three = Batch::new(f.input.repeat(3), vec![3, 3, 8, 8]).unwrap();
    let scores = model.predict(&three).unwrap();
    for i in 0..3 {
        assert_close(scores.row(i), single.row(0), 1e-6, "row");
    }
    let (logits, gradient) =
        model.logits_and_gradient(&three, &mut |l| vec![1.0; l.len()]).unwrap();
    assert_eq!(logits.len(), 3 * 4);
    assert_eq!(gradient.shape(), three.shape());
    assert_close(gradient.sample(2), gradient.sample(0), 1e-6, "gradient");
}

fn quick_fashion_cnn() -> FashionCnn {
    let mut rng = Seed::new(1).rng();
    let inputs =
        Batch::new((0..16 * 784).map(|_| rng.random::<f32>()).collect(), vec![16, 1, 28, 28])
            .unwrap();
    let labels = (0..16).map(|i| i % 10).collect();
    let names = (0..10).map(|i| format!("{i}")).collect();
    let data = Dataset::new("quick", inputs, labels, names, Bounds::UNIT).unwrap();
    let mut config = TrainConfig::default();
    config.epochs = 1;
    config.batch_size = 16;
    train(&data, &config, Seed::new(0), &mut |_| {}).unwrap()
}

#[test]
fn exported_fashion_cnn_round_trips_with_the_same_logits_and_gradients() {
    let builtin = quick_fashion_cnn();
    let bytes = export_fashion_cnn(&builtin).unwrap();
    let onnx = OnnxModel::from_bytes("fashion-cnn", &bytes, InputSpec::default(), None).unwrap();
    assert_eq!(onnx.info().input_shape, vec![1, 28, 28]);
    assert_eq!(onnx.info().n_classes, 10);
    let mut rng = Seed::new(2).rng();
    let n = 24;
    let inputs =
        Batch::new((0..n * 784).map(|_| rng.random::<f32>()).collect(), vec![n, 1, 28, 28])
            .unwrap();
    let want = builtin.predict(&inputs).unwrap();
    let got = onnx.predict(&inputs).unwrap();
    assert_close(got.as_slice(), want.as_slice(), 1e-4, "logits");
    let cotangent: Vec<f32> = (0..n * 10).map(|_| rng.random_range(-1.0..1.0)).collect();
    let (_, want_gradient) =
        builtin.logits_and_gradient(&inputs, &mut |_| cotangent.clone()).unwrap();
    let (got_logits, got_gradient) =
        onnx.logits_and_gradient(&inputs, &mut |_| cotangent.clone()).unwrap();
    assert_close(&got_logits, want.as_slice(), 1e-4, "logits");
    let scale = want_gradient.as_slice().iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let relative: Vec<f32> = got_gradient.as_slice().iter().map(|v| v / scale).collect();
    let want_relative: Vec<f32> = want_gradient.as_slice().iter().map(|v| v / scale).collect();
    assert_close(&relative, &want_relative, 1e-4, "gradient");
    // The fused conv + max-pool path is taken for both blocks.
    let fused = Graph::parse("fashion-cnn", &bytes)
        .unwrap()
        .nodes
        .iter()
        .filter(|n| matches!(n.op, crate::graph::Op::ConvPool { relu: true, .. }))
        .count();
    assert_eq!(fused, 2);
}

#[test]
fn bad_files_are_errors_not_panics() {
    let missing = OnnxModel::load(Path::new("/nonexistent/model.onnx"), InputSpec::default(), None)
        .unwrap_err();
    assert!(matches!(missing, OnnxError::Read { .. }), "{missing}");

    let bytes = export_fashion_cnn(&quick_fashion_cnn()).unwrap();
    for cut in [bytes.len() / 2, bytes.len() - 3, 5] {
        let err = OnnxModel::from_bytes("truncated", &bytes[..cut], InputSpec::default(), None)
            .unwrap_err();
        assert!(
            matches!(err, OnnxError::Decode { .. } | OnnxError::Invalid { .. }),
            "cut {cut}: {err}"
        );
    }
    let mut rng = Seed::new(9).rng();
    for len in [0, 1, 17, 1000] {
        let noise: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let err = OnnxModel::from_bytes("noise", &noise, InputSpec::default(), None).unwrap_err();
        assert!(
            matches!(err, OnnxError::Decode { .. } | OnnxError::Invalid { .. }),
            "{len} bytes: {err}"
        );
    }

    let path = fixture_dir().join("unsupported.onnx");
    let err = OnnxModel::load(&path, InputSpec::default(), None).unwrap_err();
    assert!(
        matches!(&err, OnnxError::UnsupportedOp { op, node, .. } if op == "LpNormalization" && node == "my_norm"),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("LpNormalization") && message.contains("my_norm"), "{message}");
}

#[test]
fn inputs_that_do_not_fit_are_errors() {
    let (model, _) = model_fixture("small_cnn");
    let empty = Batch::zeros(0, &[3, 16, 16]);
    assert!(model.predict(&empty).unwrap().is_empty());
    let (logits, gradient) =
        model.logits_and_gradient(&empty, &mut |l| vec![0.0; l.len()]).unwrap();
    assert!(logits.is_empty() && gradient.is_empty());
    let err = model.predict(&Batch::zeros(2, &[3, 16, 15])).unwrap_err();
    assert!(matches!(err, ModelError::InputShape { .. }), "{err}");
    let err = model
        .logits_and_gradient(&Batch::zeros(2, &[1, 16, 16]), &mut |l| vec![0.0; l.len()])
        .unwrap_err();
    assert!(matches!(err, ModelError::InputShape { .. }), "{err}");
    let err = model
        .logits_and_gradient(&Batch::zeros(2, &[3, 16, 16]), &mut |_| vec![0.0; 3])
        .unwrap_err();
    assert!(err.to_string().contains("3 values for 10 logits"), "{err}");

    // The spec must fit the graph.
    let f = fixture("small_cnn");
    let spec = InputSpec { mean: vec![0.5, 0.5], ..InputSpec::default() };
    let err = OnnxModel::from_bytes("small_cnn", &f.bytes, spec, None).unwrap_err();
    assert!(matches!(err, OnnxError::Spec { .. }), "{err}");
    let err = OnnxModel::from_bytes(
        "small_cnn",
        &f.bytes,
        InputSpec::default(),
        Some(vec!["a".to_string()]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("1 class names for 5 classes"), "{err}");
    // Read as NHWC, the NCHW graph's input [batch, 3, 16, 16] is a 16-channel 3×16 image, which
    // the spec's three means do not fit.
    let spec =
        InputSpec { layout: Layout::Nhwc, mean: vec![0.1, 0.2, 0.3], ..InputSpec::default() };
    let err = OnnxModel::from_bytes("small_cnn", &f.bytes, spec, None).unwrap_err();
    assert!(matches!(err, OnnxError::Spec { .. }), "{err}");
}

/// A one-node graph built here, for the errors the fixtures do not cover.
fn one_conv(
    input_dims: &[Option<i64>],
    weight_dims: &[i64],
    attribute: Vec<crate::proto::AttributeProto>,
) -> Vec<u8> {
    use crate::proto;
    use prost::Message as _;
    let count: i64 = weight_dims.iter().product();
    let dim = |d: &Option<i64>| proto::Dimension {
        value: Some(match d {
            Some(v) => proto::DimensionValue::DimValue(*v),
            None => proto::DimensionValue::DimParam("n".to_string()),
        }),
        denotation: String::new(),
    };
    let info = |name: &str, dims: &[Option<i64>]| proto::ValueInfoProto {
        name: name.to_string(),
        r#type: Some(proto::TypeProto {
            tensor_type: Some(proto::TensorTypeProto {
                elem_type: proto::FLOAT,
                shape: Some(proto::TensorShapeProto { dim: dims.iter().map(dim).collect() }),
            }),
            denotation: String::new(),
        }),
        doc_string: String::new(),
    };
    let graph = proto::GraphProto {
        node: vec![
            proto::NodeProto {
                input: vec!["x".to_string(), "w".to_string()],
                output: vec!["c".to_string()],
                name: "the_conv".to_string(),
                op_type: "Conv".to_string(),
                attribute,
                ..Default::default()
            },
            proto::NodeProto {
                input: vec!["c".to_string()],
                output: vec!["y".to_string()],
                name: "flat".to_string(),
                op_type: "Flatten".to_string(),
                ..Default::default()
            },
        ],
        initializer: vec![proto::TensorProto {
            dims: weight_dims.to_vec(),
            data_type: proto::FLOAT,
            name: "w".to_string(),
            float_data: vec![0.5; count as usize],
            ..Default::default()
        }],
        input: vec![info("x", input_dims)],
        output: vec![info("y", &[None, None])],
        ..Default::default()
    };
    proto::ModelProto {
        ir_version: 8,
        opset_import: vec![proto::OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn graphs_that_do_not_fit_are_errors() {
    let load = |bytes: &[u8]| OnnxModel::from_bytes("built", bytes, InputSpec::default(), None);
    // Sanity: the well-formed graph loads.
    let good = load(&one_conv(&[None, Some(2), Some(4), Some(4)], &[3, 2, 3, 3], vec![])).unwrap();
    assert_eq!(good.info().n_classes, 3 * 2 * 2);
    // Weights for 5 channels, data with 2.
    let err =
        load(&one_conv(&[None, Some(2), Some(4), Some(4)], &[3, 5, 3, 3], vec![])).unwrap_err();
    assert!(matches!(&err, OnnxError::Node { node, .. } if node == "the_conv"), "{err}");
    // Symbolic height.
    let err = load(&one_conv(&[None, Some(2), None, Some(4)], &[3, 2, 3, 3], vec![])).unwrap_err();
    assert!(matches!(err, OnnxError::DynamicShape { .. }), "{err}");
    // Not an image.
    let err = load(&one_conv(&[None, Some(2), Some(4)], &[3, 2, 3, 3], vec![])).unwrap_err();
    assert!(matches!(err, OnnxError::DynamicShape { .. }), "{err}");
    // Dilation 2.
    let dilations = crate::proto::AttributeProto {
        name: "dilations".to_string(),
        r#type: crate::proto::attribute_type::INTS,
        ints: vec![2, 2],
        ..Default::default()
    };
    let err = load(&one_conv(&[None, Some(2), Some(8), Some(8)], &[3, 2, 3, 3], vec![dilations]))
        .unwrap_err();
    assert!(
        matches!(&err, OnnxError::BadAttribute { attribute, node, .. } if attribute == "dilations" && node == "the_conv"),
        "{err}"
    );
}

#[test]
fn tabular_graphs_take_rows_of_features_and_have_gradients() {
    let f = fixture("tabular_logistic");
    let spec = InputSpec { output: OutputKind::Probabilities, ..InputSpec::default() };
    let model = OnnxModel::from_bytes("tabular_logistic", &f.bytes, spec, None).unwrap();
    assert_eq!(model.info().input_shape, vec![4]);
    assert_eq!(model.info().n_classes, 2);
    let inputs = Batch::new(f.input.clone(), f.input_shape.clone()).unwrap();
    let scores = model.predict(&inputs).unwrap();
    assert_close(scores.as_slice(), &f.output, 1e-6, "tabular_logistic");
    // The logits are the softmax's input, and their input gradient is the weight row.
    let (logits, gradient) = model
        .logits_and_gradient(&inputs, &mut |l| l.chunks(2).flat_map(|_| [0.0f32, 1.0]).collect())
        .unwrap();
    assert_eq!(logits.len(), 12);
    let w = [0.5f32.sqrt() * 4.0, 0.5f32.sqrt() * 4.0, 0.8, 0.8];
    for row in gradient.as_slice().chunks(4) {
        assert_close(row, &w, 1e-5, "d logit_1 / d x");
    }
    // A batch of the wrong width is an error, not a panic.
    let bad = Batch::new(vec![0.0; 3], vec![1, 3]).unwrap();
    assert!(model.predict(&bad).is_err());
}

#[test]
fn torch_exports_with_a_dynamic_batch_match_onnxruntime_and_have_gradients() {
    // Made by make_torch_fixtures.py: MobileNetV3/EfficientNet blocks and a ViT block as
    // torch.onnx.export writes them (opset 17, dynamic batch; shape arithmetic, Resize,
    // nn.MultiheadAttention).
    for name in ["torch_mobile_block", "torch_vit_block"] {
        let (model, f) = model_fixture(name);
        assert_eq!(model.info().n_classes, f.output_shape[1], "{name}");
        let inputs = Batch::new(f.input.clone(), f.input_shape.clone()).unwrap();
        let scores = model.predict(&inputs).unwrap();
        assert_close(scores.as_slice(), &f.output, 1e-4, name);
        // Another batch size (the shape arithmetic that depends on it runs per call).
        let one = Batch::new(f.input[..f.input.len() / 3].to_vec(), vec![1, 3, 12, 12]).unwrap();
        assert_close(model.predict(&one).unwrap().as_slice(), &f.output[..5], 1e-4, name);
        let x: Vec<f64> = f.input[..f.input.len() / 3].iter().map(|&v| f64::from(v)).collect();
        check_gradient(name, &x, &[1, 3, 12, 12], &|t| model.logits_tensor(t).unwrap());
    }
}
