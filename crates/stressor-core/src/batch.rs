//! Dense batches of samples and labelled data sets.

/// Why a batch could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The data length is not the product of the shape.
    #[error("batch data has {len} values but shape {shape:?} needs {expected}")]
    ShapeMismatch {
        /// The number of values given.
        len: usize,
        /// The shape given.
        shape: Vec<usize>,
        /// The product of the shape.
        expected: usize,
    },
    /// A data set's labels do not match its samples.
    #[error("data set has {n_samples} samples but {n_labels} labels")]
    LabelCount {
        /// Samples in the batch.
        n_samples: usize,
        /// Labels given.
        n_labels: usize,
    },
    /// A label is not below the number of classes.
    #[error("label {label} at sample {index} is not below the class count {n_classes}")]
    LabelRange {
        /// The sample's position.
        index: usize,
        /// The label found.
        label: u32,
        /// The number of classes.
        n_classes: usize,
    },
}

/// A dense row-major `f32` tensor whose first axis is the sample (`[n, ...sample_shape]`).
///
/// Images are `[n, channels, height, width]` with values in the model's [`Bounds`].
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    data: Vec<f32>,
    shape: Vec<usize>,
}

impl Batch {
    /// A batch from its values and shape.
    ///
    /// # Errors
    /// [`BatchError::ShapeMismatch`] when `data.len()` is not the product of `shape`.
    pub fn new(data: Vec<f32>, shape: Vec<usize>) -> Result<Self, BatchError> {
        let expected: usize = shape.iter().product();
        if data.len() != expected || shape.is_empty() {
            return Err(BatchError::ShapeMismatch { len: data.len(), shape, expected });
        }
        Ok(Batch { data, shape })
    }

    /// A batch of `n` samples of `sample_shape`, all zeros.
    pub fn zeros(n: usize, sample_shape: &[usize]) -> Self {
        let mut shape = Vec::with_capacity(sample_shape.len() + 1);
        shape.push(n);
        shape.extend_from_slice(sample_shape);
        let len = shape.iter().product();
        Batch { data: vec![0.0; len], shape }
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.shape[0]
    }

    /// Whether the batch holds no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The full shape, sample axis first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The shape of one sample.
    pub fn sample_shape(&self) -> &[usize] {
        &self.shape[1..]
    }

    /// The number of values in one sample.
    pub fn sample_len(&self) -> usize {
        self.shape[1..].iter().product()
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// All values, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// The values and the shape.
    pub fn into_parts(self) -> (Vec<f32>, Vec<usize>) {
        (self.data, self.shape)
    }

    /// The values of sample `index`.
    ///
    /// # Panics
    /// When `index >= self.len()`.
    pub fn sample(&self, index: usize) -> &[f32] {
        let len = self.sample_len();
        &self.data[index * len..(index + 1) * len]
    }

    /// The values of sample `index`, mutable.
    ///
    /// # Panics
    /// When `index >= self.len()`.
    pub fn sample_mut(&mut self, index: usize) -> &mut [f32] {
        let len = self.sample_len();
        &mut self.data[index * len..(index + 1) * len]
    }

    /// A new batch with the samples at `indices`, in that order.
    ///
    /// # Panics
    /// When an index is out of range.
    pub fn select(&self, indices: &[usize]) -> Batch {
        let len = self.sample_len();
        let mut data = Vec::with_capacity(indices.len() * len);
        for &index in indices {
            data.extend_from_slice(self.sample(index));
        }
        let mut shape = self.shape.clone();
        shape[0] = indices.len();
        Batch { data, shape }
    }

    /// A new batch with samples `start..end`.
    ///
    /// # Panics
    /// When the range is out of bounds.
    pub fn slice(&self, start: usize, end: usize) -> Batch {
        let len = self.sample_len();
        let mut shape = self.shape.clone();
        shape[0] = end - start;
        Batch { data: self.data[start * len..end * len].to_vec(), shape }
    }
}

/// The valid range of input values (for images usually `[0, 1]`).
///
/// Every perturbation is clipped into it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Smallest valid value.
    pub min: f32,
    /// Largest valid value.
    pub max: f32,
}

impl Bounds {
    /// The unit interval.
    pub const UNIT: Bounds = Bounds { min: 0.0, max: 1.0 };

    /// `value` clipped into the bounds.
    pub fn clip(self, value: f32) -> f32 {
        value.clamp(self.min, self.max)
    }

    /// The width of the range.
    pub fn width(self) -> f32 {
        self.max - self.min
    }
}

/// Labelled samples: the inputs, one class label per sample, and the class names.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// A short name shown in reports (`fashion-mnist/test`).
    pub name: String,
    /// The samples.
    pub inputs: Batch,
    /// One label per sample, each below `class_names.len()`.
    pub labels: Vec<u32>,
    /// Human-readable class names, indexed by label.
    pub class_names: Vec<String>,
    /// The valid range of the inputs.
    pub bounds: Bounds,
}

impl Dataset {
    /// A data set, checked for consistent labels.
    ///
    /// # Errors
    /// [`BatchError::LabelCount`] or [`BatchError::LabelRange`] when labels and samples disagree.
    pub fn new(
        name: impl Into<String>,
        inputs: Batch,
        labels: Vec<u32>,
        class_names: Vec<String>,
        bounds: Bounds,
    ) -> Result<Self, BatchError> {
        if inputs.len() != labels.len() {
            return Err(BatchError::LabelCount { n_samples: inputs.len(), n_labels: labels.len() });
        }
        let n_classes = class_names.len();
        if let Some((index, &label)) =
            labels.iter().enumerate().find(|(_, label)| **label as usize >= n_classes)
        {
            return Err(BatchError::LabelRange { index, label, n_classes });
        }
        Ok(Dataset { name: name.into(), inputs, labels, class_names, bounds })
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the data set holds no sample.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The number of classes.
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// A new data set with the samples at `indices`.
    ///
    /// # Panics
    /// When an index is out of range.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        Dataset {
            name: self.name.clone(),
            inputs: self.inputs.select(indices),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            class_names: self.class_names.clone(),
            bounds: self.bounds,
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    #[test]
    fn shape_must_match() {
        assert!(Batch::new(vec![0.0; 6], vec![2, 3]).is_ok());
        let err = Batch::new(vec![0.0; 5], vec![2, 3]).unwrap_err();
        assert!(err.to_string().contains("needs 6"), "{err}");
    }

    #[test]
    fn select_and_slice() {
        let batch = Batch::new((0..6).map(|v| v as f32).collect(), vec![3, 2]).unwrap();
        assert_eq!(batch.select(&[2, 0]).as_slice(), &[4.0, 5.0, 0.0, 1.0]);
        assert_eq!(batch.slice(1, 3).as_slice(), &[2.0, 3.0, 4.0, 5.0]);
        assert_eq!(batch.sample(1), &[2.0, 3.0]);
    }

    #[test]
    fn labels_are_checked() {
        let batch = Batch::zeros(2, &[1]);
        let names = vec!["a".to_string(), "b".to_string()];
        let err = Dataset::new("d", batch.clone(), vec![0, 2], names.clone(), Bounds::UNIT);
        assert_eq!(err.unwrap_err(), BatchError::LabelRange { index: 1, label: 2, n_classes: 2 });
        let err = Dataset::new("d", batch, vec![0], names, Bounds::UNIT);
        assert!(matches!(err, Err(BatchError::LabelCount { .. })));
    }
}
