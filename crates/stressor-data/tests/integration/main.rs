//! Integration tests of stressor-data: the embedded Fashion-MNIST, IDX files on disk, sampling,
//! users' own formats (CIFAR binary, NPY/NPZ, image folders, CSV).

mod fashion_mnist;
mod idx_files;
mod sampling;
mod user_formats;
