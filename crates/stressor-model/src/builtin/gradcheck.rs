//! Finite-difference checks of every op on the gradient path, and of the whole network.
//!
//! Each check computes `f(x) = Σ r ⊙ op(x)` for a fixed random `r`, differentiates it with
//! candle's backward pass in `f64`, and compares every coordinate with the central difference
//! `(f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h`.

#![expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]

use candle_core::{DType, Device, Tensor, Var};
use rand::Rng as _;
use stressor_core::{Batch, Seed};

use crate::Differentiable as _;
use crate::builtin::network::{FashionCnn, forward};
use crate::builtin::ops::{conv2d, conv2d_max_pool2x2, linear, max_pool2x2};
use crate::builtin::train::initial_params;

const STEP: f64 = 1e-6;
const TOLERANCE: f64 = 1e-6;

fn random(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = Seed::new(seed).rng();
    let len = shape.iter().product();
    let values: Vec<f64> = (0..len).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

fn values(t: &Tensor) -> Vec<f64> {
    t.flatten_all().unwrap().to_dtype(DType::F64).unwrap().to_vec1().unwrap()
}

/// The relative error `‖analytic − numeric‖ / ‖numeric‖` of the gradient of
/// `Σ r ⊙ op(args)` with respect to `args[which]`.
fn relative_error(op: &dyn Fn(&[Tensor]) -> Tensor, args: &[Tensor], which: usize) -> f64 {
    let out_shape = op(args).dims().to_vec();
    let r = random(&out_shape, 99);
    let objective =
        |args: &[Tensor]| op(args).mul(&r).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap();
    let var = Var::from_tensor(&args[which]).unwrap();
    let mut with_var = args.to_vec();
    with_var[which] = var.as_tensor().clone();
    let grads = op(&with_var).mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
    let analytic = values(grads.get(var.as_tensor()).expect("the output depends on the argument"));
    let base = values(&args[which]);
    let mut numeric = Vec::with_capacity(base.len());
    for i in 0..base.len() {
        let shifted = |delta: f64| {
            let mut moved = base.clone();
            moved[i] += delta;
            let mut moved_args = args.to_vec();
            moved_args[which] = Tensor::from_vec(moved, args[which].dims(), &Device::Cpu).unwrap();
            objective(&moved_args)
        };
        numeric.push((shifted(STEP) - shifted(-STEP)) / (2.0 * STEP));
    }
    let diff: f64 = analytic.iter().zip(&numeric).map(|(a, n)| (a - n).powi(2)).sum::<f64>().sqrt();
    let norm: f64 = numeric.iter().map(|n| n * n).sum::<f64>().sqrt();
    assert!(norm > 1e-3, "the gradient is (near) zero, the check would prove nothing");
    diff / norm
}

fn check(op: &dyn Fn(&[Tensor]) -> Tensor, args: &[Tensor], which: usize) {
    let error = relative_error(op, args, which);
    assert!(error < TOLERANCE, "argument {which}: relative error {error:e}");
}

fn conv_args(padding_seed: u64) -> Vec<Tensor> {
    vec![
        random(&[2, 3, 5, 6], padding_seed),
        random(&[4, 3, 3, 3], padding_seed + 1),
        random(&[4], padding_seed + 2),
    ]
}

#[test]
fn conv2d_gradients_match_finite_differences() {
    for padding in [0, 1, 2] {
        let op = move |a: &[Tensor]| conv2d(&a[0], &a[1], &a[2], padding).unwrap();
        let args = conv_args(padding as u64 * 10);
        for which in 0..3 {
            check(&op, &args, which);
        }
    }
}

#[test]
fn fused_conv_pool_gradients_match_finite_differences() {
    for padding in [0, 1] {
        let op = move |a: &[Tensor]| conv2d_max_pool2x2(&a[0], &a[1], &a[2], padding).unwrap();
        let args = conv_args(100 + padding as u64);
        for which in 0..3 {
            check(&op, &args, which);
        }
    }
}

#[test]
fn fused_conv_pool_equals_conv_then_pool() {
    let args = conv_args(7);
    let fused = values(&conv2d_max_pool2x2(&args[0], &args[1], &args[2], 1).unwrap());
    let separate = values(&max_pool2x2(&conv2d(&args[0], &args[1], &args[2], 1).unwrap()).unwrap());
    assert_eq!(fused, separate);
}

#[test]
fn conv2d_forward_equals_candles() {
    for padding in [0, 1, 2] {
        let [x, w, b] = <[Tensor; 3]>::try_from(conv_args(20 + padding as u64)).unwrap();
        let ours = values(&conv2d(&x, &w, &b, padding).unwrap());
        let candles = x
            .conv2d(&w, padding, 1, 1, 1)
            .unwrap()
            .broadcast_add(&b.reshape((1, 4, 1, 1)).unwrap())
            .unwrap();
        let theirs = values(&candles);
        assert_eq!(ours.len(), theirs.len());
        for (a, b) in ours.iter().zip(&theirs) {
            assert!((a - b).abs() < 1e-12, "padding {padding}: {a} vs {b}");
        }
        // And in f32, as the model runs.
        let to32 = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
        let ours32 = values(&conv2d(&to32(&x), &to32(&w), &to32(&b), padding).unwrap());
        for (a, b) in ours32.iter().zip(&theirs) {
            assert!((a - b).abs() < 1e-5, "f32, padding {padding}: {a} vs {b}");
        }
    }
}

#[test]
fn max_pool_gradient_matches_finite_differences() {
    let op = |a: &[Tensor]| max_pool2x2(&a[0]).unwrap();
    // Odd sizes: the last row and column take no part and get zero gradient.
    check(&op, &[random(&[2, 3, 6, 7], 30)], 0);
}

#[test]
fn max_pool_gradient_is_not_a_quarter_of_the_true_one() {
    // candle 0.11's max_pool2d backward returns 1/k² of the gradient; ours must return all of it.
    let x = random(&[1, 2, 4, 4], 31);
    let var = Var::from_tensor(&x).unwrap();
    let grads = max_pool2x2(var.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
    let ours = values(grads.get(var.as_tensor()).unwrap());
    // Each window sends exactly 1 to its maximum.
    assert_eq!(ours.iter().sum::<f64>(), 8.0);
    assert!(ours.iter().all(|g| *g == 0.0 || *g == 1.0), "{ours:?}");
    let op = |a: &[Tensor]| max_pool2x2(&a[0]).unwrap();
    let error = relative_error(&op, std::slice::from_ref(&x), 0);
    assert!(error < TOLERANCE);
    let quarter_error = {
        // The gradient a 1/4 bug would give is 0.75·‖g‖ away from the true one.
        let norm = ours.iter().map(|g| g * g).sum::<f64>().sqrt();
        let quarter: Vec<f64> = ours.iter().map(|g| g / 4.0).collect();
        quarter.iter().zip(&ours).map(|(q, g)| (q - g).powi(2)).sum::<f64>().sqrt() / norm
    };
    assert!(quarter_error > 0.7);
}

#[test]
fn relu_gradient_matches_finite_differences() {
    let op = |a: &[Tensor]| a[0].relu().unwrap();
    check(&op, &[random(&[3, 7], 40)], 0);
}

#[test]
fn linear_gradients_match_finite_differences() {
    let op = |a: &[Tensor]| a[0].matmul(&a[1].t().unwrap()).unwrap().broadcast_add(&a[2]).unwrap();
    let args = [random(&[3, 5], 50), random(&[4, 5], 51), random(&[4], 52)];
    for which in 0..3 {
        check(&op, &args, which);
    }
}

#[test]
fn custom_linear_gradients_match_finite_differences_and_candles_values() {
    let op = |a: &[Tensor]| linear(&a[0], &a[1], &a[2]).unwrap();
    let args = [random(&[3, 5], 53), random(&[4, 5], 54), random(&[4], 55)];
    for which in 0..3 {
        check(&op, &args, which);
    }
    let candles = args[0].matmul(&args[1].t().unwrap()).unwrap().broadcast_add(&args[2]).unwrap();
    for (a, b) in values(&op(&args)).iter().zip(&values(&candles)) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
}

#[test]
fn log_softmax_and_cross_entropy_gradients_match_finite_differences() {
    let op = |a: &[Tensor]| candle_nn::ops::log_softmax(&a[0], 1).unwrap();
    check(&op, &[random(&[3, 10], 60)], 0);
    let targets = Tensor::from_vec(vec![1u32, 7, 3], 3, &Device::Cpu).unwrap();
    let op = move |a: &[Tensor]| candle_nn::loss::cross_entropy(&a[0], &targets).unwrap();
    check(&op, &[random(&[3, 10], 61)], 0);
}

fn network_params_f64() -> Vec<Tensor> {
    initial_params(Seed::new(3)).unwrap().iter().map(|t| t.to_dtype(DType::F64).unwrap()).collect()
}

fn random_images(n: usize, seed: u64) -> Tensor {
    let mut rng = Seed::new(seed).rng();
    let values: Vec<f64> = (0..n * 784).map(|_| rng.random_range(0.0..1.0)).collect();
    Tensor::from_vec(values, (n, 1, 28, 28), &Device::Cpu).unwrap()
}

#[test]
fn network_input_gradient_matches_finite_differences() {
    // All 784 pixels of one image (and a second image in the batch) in f64.
    let params = network_params_f64();
    let op = |a: &[Tensor]| forward(&a[1..], &a[0]).unwrap();
    let mut args = vec![random_images(2, 70)];
    args.extend(params);
    check(&op, &args, 0);
}

#[test]
fn network_weight_gradients_match_finite_differences() {
    // The small parameter tensors in full; the large ones through the same ops, checked above.
    let params = network_params_f64();
    let op = |a: &[Tensor]| {
        let logits = forward(&a[1..], &a[0]).unwrap();
        let targets = Tensor::from_vec(vec![3u32, 8], 2, &Device::Cpu).unwrap();
        candle_nn::loss::cross_entropy(&logits, &targets).unwrap()
    };
    let mut args = vec![random_images(2, 71)];
    args.extend(params);
    for which in [1, 2, 4, 7, 8] {
        check(&op, &args, which);
    }
}

#[test]
fn logits_and_gradient_is_the_vjp_of_the_f32_model() {
    let params = initial_params(Seed::new(4)).unwrap();
    let model = FashionCnn::from_params(params.clone()).unwrap();
    let images = random_images(3, 80);
    let inputs =
        Batch::new(values(&images).iter().map(|v| *v as f32).collect(), vec![3, 1, 28, 28])
            .unwrap();
    let cotangent_values: Vec<f32> = (0..30).map(|i| ((i * 7) % 11) as f32 / 5.0 - 1.0).collect();
    let mut seen = Vec::new();
    let (logits, gradient) = model
        .logits_and_gradient(&inputs, &mut |logits: &[f32]| {
            seen = logits.to_vec();
            cotangent_values.clone()
        })
        .unwrap();
    assert_eq!(seen, logits);
    // The reference: the f64 network's finite differences of Σ c ⊙ logits.
    let params64: Vec<Tensor> = params.iter().map(|t| t.to_dtype(DType::F64).unwrap()).collect();
    let cotangent = Tensor::from_vec(
        cotangent_values.iter().map(|v| f64::from(*v)).collect::<Vec<_>>(),
        (3, 10),
        &Device::Cpu,
    )
    .unwrap();
    let objective = |x: &Tensor| {
        forward(&params64, x)
            .unwrap()
            .mul(&cotangent)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let base = values(&images);
    let mut diff = 0.0;
    let mut norm = 0.0;
    for i in (0..base.len()).step_by(3) {
        let shifted = |delta: f64| {
            let mut moved = base.clone();
            moved[i] += delta;
            objective(&Tensor::from_vec(moved, (3, 1, 28, 28), &Device::Cpu).unwrap())
        };
        let numeric = (shifted(STEP) - shifted(-STEP)) / (2.0 * STEP);
        diff += (f64::from(gradient.as_slice()[i]) - numeric).powi(2);
        norm += numeric * numeric;
    }
    let error = (diff / norm).sqrt();
    assert!(norm > 1e-6 && error < 1e-4, "relative error {error:e}");
}
