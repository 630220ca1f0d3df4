//! The built-in Fashion-MNIST CNN on candle.
//!
//! [`FashionCnn`] is a small convolutional classifier for 28 × 28 grey images, trained in-process
//! with [`train`] (seeded and deterministic) or loaded from a safetensors file with PyTorch's
//! parameter names and layouts. It implements [`Model`](crate::Model) and
//! [`Differentiable`](crate::Differentiable), so white-box attacks can run against it.
//!
//! Its convolution and max pooling are custom candle ops (im2col + `gemm`, parallel over the
//! batch with rayon) with hand-written backward passes; ReLU, the linear layers and the
//! cross-entropy are candle's own. Every op on the gradient path is checked against finite
//! differences in the tests.
//!
//! Non-goals: GPUs, other architectures, half precision.
//!
//! ```
//! use stressor_core::{Batch, Bounds, Dataset, Seed};
//! use stressor_model::Model;
//! use stressor_model::builtin::{TrainConfig, train};
//!
//! let inputs = Batch::zeros(8, &[1, 28, 28]);
//! let names = vec!["a".to_string(), "b".to_string()];
//! let data = Dataset::new("toy", inputs, vec![0, 1, 0, 1, 0, 1, 0, 1], names, Bounds::UNIT).unwrap();
//! let mut config = TrainConfig::default();
//! config.epochs = 1;
//! let model = train(&data, &config, Seed::new(7), &mut |_| {}).unwrap();
//! assert_eq!(model.predict(&data.inputs).unwrap().len(), 8);
//! ```

mod kernel;
mod network;
pub mod ops;
mod train;

#[cfg(test)]
mod gradcheck;

pub use network::{CHUNK_SIZE, FashionCnn, INPUT_SHAPE, N_CLASSES};
pub use train::{TrainConfig, TrainProgress, train, train_with};
