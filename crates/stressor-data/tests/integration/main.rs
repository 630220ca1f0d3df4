//! Integration tests of stressor-data: the embedded Fashion-MNIST, IDX files on disk, sampling.

mod fashion_mnist;
mod idx_files;
mod sampling;
