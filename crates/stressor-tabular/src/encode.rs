//! Feature encoding: numeric columns standardised (missing values become the training mean,
//! so 0), categorical columns one-hot over the training categories (an unseen or missing
//! category is all zeros), and the target column read as 0/1.

use crate::{Column, Table, TableError};

/// A dense row-major matrix of encoded features.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows × cols` values, row after row.
    pub data: Vec<f64>,
}

impl Matrix {
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Encoding {
    Numeric { mean: f64, scale: f64 },
    OneHot { categories: Vec<String> },
}

/// How a table's feature columns become a [`Matrix`], fitted on training rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoder {
    features: Vec<(String, Encoding)>,
    width: usize,
}

impl Encoder {
    /// Fits an encoding for `features` of `table`.
    ///
    /// # Errors
    /// [`TableError::Shape`] naming a missing column or one with no values.
    pub fn fit(table: &Table, features: &[String]) -> Result<Encoder, TableError> {
        let mut out = Vec::with_capacity(features.len());
        let mut width = 0;
        for name in features {
            let encoding = match table.require(name)? {
                Column::Numeric(values) => {
                    let (mean, std) = mean_and_std(values).ok_or_else(|| {
                        TableError::Shape(format!(
                            "{}: column `{name}` has no values",
                            table.path.display()
                        ))
                    })?;
                    width += 1;
                    Encoding::Numeric { mean, scale: if std > 0.0 { std } else { 1.0 } }
                }
                Column::Categorical(values) => {
                    let mut categories: Vec<String> =
                        values.iter().filter(|v| !v.is_empty()).cloned().collect();
                    categories.sort();
                    categories.dedup();
                    width += categories.len();
                    Encoding::OneHot { categories }
                }
            };
            out.push((name.clone(), encoding));
        }
        Ok(Encoder { features: out, width })
    }

    /// The encoded width.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The encoded columns' names: the feature for numeric ones, `feature=category` for
    /// one-hot ones.
    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.width);
        for (name, encoding) in &self.features {
            match encoding {
                Encoding::Numeric { .. } => names.push(name.clone()),
                Encoding::OneHot { categories } => {
                    names.extend(categories.iter().map(|c| format!("{name}={c}")));
                }
            }
        }
        names
    }

    /// Encodes `table`'s rows.
    ///
    /// # Errors
    /// [`TableError::Shape`] naming a feature that is missing or of another kind.
    pub fn transform(&self, table: &Table) -> Result<Matrix, TableError> {
        let mut data = vec![0.0; table.rows * self.width];
        let mut offset = 0;
        for (name, encoding) in &self.features {
            match (encoding, table.require(name)?) {
                (Encoding::Numeric { mean, scale }, Column::Numeric(values)) => {
                    for (i, v) in values.iter().enumerate() {
                        data[i * self.width + offset] =
                            if v.is_nan() { 0.0 } else { (v - mean) / scale };
                    }
                    offset += 1;
                }
                (Encoding::OneHot { categories }, Column::Categorical(values)) => {
                    for (i, v) in values.iter().enumerate() {
                        if let Ok(k) = categories.binary_search(v) {
                            data[i * self.width + offset + k] = 1.0;
                        }
                    }
                    offset += categories.len();
                }
                (_, column) => {
                    return Err(TableError::Shape(format!(
                        "{}: column `{name}` is {}, but the model was trained on {}",
                        table.path.display(),
                        column.kind(),
                        match encoding {
                            Encoding::Numeric { .. } => "numeric",
                            Encoding::OneHot { .. } => "categorical",
                        }
                    )));
                }
            }
        }
        Ok(Matrix { rows: table.rows, cols: self.width, data })
    }
}

impl Encoder {
    /// The feature columns, in order.
    pub fn feature_names(&self) -> Vec<String> {
        self.features.iter().map(|(name, _)| name.clone()).collect()
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        use crate::model::{put_str, put_u64};
        put_u64(out, self.features.len() as u64);
        for (name, encoding) in &self.features {
            put_str(out, name);
            match encoding {
                Encoding::Numeric { mean, scale } => {
                    out.push(0);
                    out.extend(mean.to_le_bytes());
                    out.extend(scale.to_le_bytes());
                }
                Encoding::OneHot { categories } => {
                    out.push(1);
                    put_u64(out, categories.len() as u64);
                    for c in categories {
                        put_str(out, c);
                    }
                }
            }
        }
    }

    pub(crate) fn read(reader: &mut crate::model::Reader<'_>) -> Option<Encoder> {
        let n = usize::try_from(reader.u64()?).ok()?;
        let mut features = Vec::new();
        let mut width = 0usize;
        for _ in 0..n {
            let name = reader.str()?;
            let (kind, rest) = reader.0.split_first()?;
            reader.0 = rest;
            let encoding = match kind {
                0 => {
                    let (mean, scale) = (reader.f64()?, reader.f64()?);
                    if !mean.is_finite() || !scale.is_finite() || scale <= 0.0 {
                        return None;
                    }
                    width += 1;
                    Encoding::Numeric { mean, scale }
                }
                1 => {
                    let k = usize::try_from(reader.u64()?).ok()?;
                    if k > reader.0.len() {
                        return None;
                    }
                    let categories = (0..k).map(|_| reader.str()).collect::<Option<Vec<_>>>()?;
                    if !categories.windows(2).all(|w| w[0] < w[1]) {
                        return None;
                    }
                    width += k;
                    Encoding::OneHot { categories }
                }
                _ => return None,
            };
            features.push((name, encoding));
        }
        Some(Encoder { features, width })
    }
}

/// The mean and population standard deviation of the values that are not missing (NaN);
/// `None` when every value is missing.
pub fn mean_and_std(values: &[f64]) -> Option<(f64, f64)> {
    let present = values.iter().filter(|v| !v.is_nan());
    let n = present.clone().count();
    if n == 0 {
        return None;
    }
    let mean = present.clone().sum::<f64>() / n as f64;
    let var = present.map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
    Some((mean, var.sqrt()))
}

/// The target column as 0/1: 1 where the value equals `positive` (a category, or a number
/// written as text such as `1`).
///
/// # Errors
/// [`TableError::Shape`] when the column is missing, has a missing value, or `positive` never
/// occurs.
pub fn labels(table: &Table, target: &str, positive: &str) -> Result<Vec<u8>, TableError> {
    let labels: Vec<u8> = match table.require(target)? {
        Column::Categorical(values) => {
            if let Some(row) = values.iter().position(String::is_empty) {
                return Err(TableError::Shape(format!(
                    "{}: target `{target}` is missing on data row {}",
                    table.path.display(),
                    row + 1
                )));
            }
            values.iter().map(|v| u8::from(v == positive)).collect()
        }
        Column::Numeric(values) => {
            let positive: f64 = positive.parse().map_err(|_| {
                TableError::Shape(format!(
                    "{}: target `{target}` is numeric, so the positive class must be a number, not `{positive}`",
                    table.path.display()
                ))
            })?;
            if let Some(row) = values.iter().position(|v| v.is_nan()) {
                return Err(TableError::Shape(format!(
                    "{}: target `{target}` is missing on data row {}",
                    table.path.display(),
                    row + 1
                )));
            }
            values.iter().map(|&v| u8::from(v == positive)).collect()
        }
    };
    if !labels.contains(&1) {
        return Err(TableError::Shape(format!(
            "{}: target `{target}` never equals the positive class `{positive}`",
            table.path.display()
        )));
    }
    Ok(labels)
}
