//! CSV files: one sample a row, numeric features and one label column.
//!
//! Fields are comma-separated, may be quoted, and are trimmed. Labels are integers (classes
//! `"0"`, `"1"`, … up to the largest) or, as soon as one label is not an integer, strings
//! (classes are the distinct strings sorted, label `i` the `i`-th). Features are numbers scaled
//! into `[0, 1]` by a [`Scale`]; a row of pixels (MNIST as CSV) takes a per-sample `shape` such
//! as `[1, 28, 28]`, and without one the inputs are `[n, n_features]`.

use std::io::Read;
use std::path::Path;

use stressor_core::{Batch, Dataset};

use crate::DataError;
use crate::idx;
pub use crate::tensor::Scale;
use crate::tensor::{self, Stored, checked_len, numbered_class_names, short_name};

/// Which column holds the label.
///
/// # Examples
/// ```
/// use stressor_data::csv::LabelColumn;
/// let column = LabelColumn::Named("species".to_string());
/// assert_ne!(column, LabelColumn::Last);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum LabelColumn {
    /// The first column (MNIST as CSV).
    First,
    /// The last column.
    #[default]
    Last,
    /// The column with this header; the file must have a header row.
    Named(String),
}

/// Whether the first row is a header.
///
/// # Examples
/// ```
/// assert_eq!(stressor_data::csv::Header::default(), stressor_data::csv::Header::Auto);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Header {
    /// The first row names the columns.
    Present,
    /// Every row is a sample.
    Absent,
    /// The first row is a header when one of its feature fields is not a number, or when the
    /// label column is [`LabelColumn::Named`].
    #[default]
    Auto,
}

/// A data set from a CSV file, named after the file, bounds `[0, 1]`.
///
/// # Errors
/// [`DataError::Read`] when the file cannot be read; [`DataError::Decode`] when it is not
/// UTF-8 CSV; [`DataError::RaggedRow`] (with the line) for a row with another number of fields
/// than the first; [`DataError::Field`] (with line and column) for a feature that is not a number
/// or an integer label that is not a class index; [`DataError::MissingColumn`] for an unknown
/// named label column; [`DataError::Shape`] when `shape` does not hold the number of features;
/// [`DataError::ValueRange`] or [`DataError::NonFinite`] for values outside `[0, 1]` once scaled;
/// [`DataError::Header`] for an empty file.
///
/// # Examples
/// ```no_run
/// use std::path::Path;
/// use stressor_data::csv::{Header, LabelColumn, Scale, load_csv};
/// // mnist_5k.csv: 784 pixel columns (0-255) then the digit, no header.
/// let digits = load_csv(
///     Path::new("mnist_5k.csv"),
///     LabelColumn::Last,
///     Some(vec![1, 28, 28]),
///     Scale::Byte,
///     Header::Absent,
///     Some(1_000),
/// )?;
/// assert_eq!(digits.inputs.sample_shape(), &[1, 28, 28]);
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn load_csv(
    path: &Path,
    label_column: LabelColumn,
    shape: Option<Vec<usize>>,
    scale: Scale,
    header: Header,
    limit: Option<usize>,
) -> Result<Dataset, DataError> {
    let file = path.display().to_string();
    let handle = std::fs::File::open(path)
        .map_err(|source| DataError::Read { file: file.clone(), source })?;
    let (inputs, labels, class_names) = read_csv(
        std::io::BufReader::new(handle),
        &file,
        &label_column,
        shape,
        scale,
        header,
        limit,
    )?;
    idx::to_dataset(&short_name(path), inputs, labels, class_names, &file)
}

/// Inputs, labels and class names from CSV text; `file` names the source in errors. The
/// arguments are those of [`load_csv`].
///
/// # Errors
/// As [`load_csv`].
///
/// # Examples
/// ```
/// use stressor_data::csv::{Header, LabelColumn, Scale, read_csv};
/// let text = "a,b,kind\n0,255,cat\n255,0,dog\n";
/// let (inputs, labels, classes) =
///     read_csv(text.as_bytes(), "pets.csv", &LabelColumn::Last, None, Scale::Auto, Header::Auto, None)?;
/// assert_eq!(inputs.shape(), &[2, 2]);
/// assert_eq!(inputs.as_slice(), &[0.0, 1.0, 1.0, 0.0]);
/// assert_eq!(labels, vec![0, 1]);
/// assert_eq!(classes, ["cat", "dog"]);
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn read_csv(
    reader: impl Read,
    file: &str,
    label_column: &LabelColumn,
    shape: Option<Vec<usize>>,
    scale: Scale,
    header: Header,
    limit: Option<usize>,
) -> Result<(Batch, Vec<u32>, Vec<String>), DataError> {
    let decode_err = |err: ::csv::Error| DataError::Decode {
        file: file.to_string(),
        format: "CSV file",
        source: Box::new(err),
    };
    let mut csv_reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(::csv::Trim::All)
        // Ending records at `\n` (a `\r` before it is trimmed away) keeps the reader's line
        // numbers right for CRLF files: with the default terminator the `\n` of a CRLF is
        // counted at the start of the next record, one line early.
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_reader(reader);
    let mut records = csv_reader.records();
    let Some(first) = records.next().transpose().map_err(decode_err)? else {
        return Err(DataError::Header {
            file: file.to_string(),
            format: "CSV",
            offset: 0,
            problem: "the file holds no rows".to_string(),
        });
    };
    let n_fields = first.len();
    if n_fields < 2 {
        return Err(DataError::Shape {
            file: file.to_string(),
            role: "CSV rows",
            found: vec![n_fields],
            expected: "at least one feature column and a label column".to_string(),
        });
    }
    let label_at = match label_column {
        LabelColumn::First => 0,
        LabelColumn::Last => n_fields - 1,
        LabelColumn::Named(name) => {
            if header == Header::Absent {
                return Err(DataError::BadOption {
                    file: file.to_string(),
                    problem: format!(
                        "the label column {name:?} is named but the file has no header"
                    ),
                });
            }
            first.iter().position(|field| field == name).ok_or_else(|| {
                DataError::MissingColumn {
                    file: file.to_string(),
                    name: name.clone(),
                    header: first.iter().map(String::from).collect(),
                }
            })?
        }
    };
    let has_header = match header {
        Header::Present => true,
        Header::Absent => false,
        Header::Auto => {
            matches!(label_column, LabelColumn::Named(_))
                || first
                    .iter()
                    .enumerate()
                    .any(|(column, field)| column != label_at && field.parse::<f32>().is_err())
        }
    };
    let column_names: Option<Vec<String>> =
        has_header.then(|| first.iter().map(String::from).collect());
    let n_features = n_fields - 1;
    let sample_shape = shape.unwrap_or_else(|| vec![n_features]);
    if checked_len(&sample_shape) != Some(n_features) {
        return Err(DataError::Shape {
            file: file.to_string(),
            role: "CSV features",
            found: vec![n_features],
            expected: format!(
                "the {n_features} features per row to fill the shape {sample_shape:?}"
            ),
        });
    }

    let limit = limit.unwrap_or(usize::MAX);
    let mut values = Vec::new();
    let mut label_fields: Vec<(String, u64)> = Vec::new();
    let data_rows = (!has_header).then_some(Ok(first)).into_iter().chain(records);
    for record in data_rows.take(limit) {
        let record = record.map_err(decode_err)?;
        let line = record.position().map_or(0, ::csv::Position::line);
        if record.len() != n_fields {
            return Err(DataError::RaggedRow {
                file: file.to_string(),
                line,
                found: record.len(),
                expected: n_fields,
            });
        }
        for (column, field) in record.iter().enumerate() {
            if column == label_at {
                label_fields.push((field.to_string(), line));
                continue;
            }
            let value = field.parse::<f32>().map_err(|_| DataError::Field {
                file: file.to_string(),
                line,
                column: column + 1,
                column_name: column_name(column_names.as_deref(), column),
                problem: format!("{field:?} is not a number"),
            })?;
            values.push(value);
        }
    }
    let (labels, class_names) = to_labels(&label_fields, file, label_at, column_names.as_deref())?;
    tensor::apply_scale(&mut values, Stored::Text, scale, n_features, file)?;
    let mut batch_shape = vec![labels.len()];
    batch_shape.extend(sample_shape);
    let inputs = Batch::new(values, batch_shape).expect("one value per feature per row");
    Ok((inputs, labels, class_names))
}

fn column_name(names: Option<&[String]>, column: usize) -> String {
    names.and_then(|names| names.get(column)).map_or_else(|| "no header".to_string(), Clone::clone)
}

/// Integer labels when every label is an integer, else string labels with sorted class names.
fn to_labels(
    fields: &[(String, u64)],
    file: &str,
    label_at: usize,
    column_names: Option<&[String]>,
) -> Result<(Vec<u32>, Vec<String>), DataError> {
    let field_err = |line: u64, problem: String| DataError::Field {
        file: file.to_string(),
        line,
        column: label_at + 1,
        column_name: column_name(column_names, label_at),
        problem,
    };
    if fields.iter().all(|(field, _)| field.parse::<i64>().is_ok()) {
        let mut labels = Vec::with_capacity(fields.len());
        for (field, line) in fields {
            let label = field
                .parse::<u32>()
                .map_err(|_| field_err(*line, format!("label {field} is not a class index")))?;
            labels.push(label);
        }
        let class_names = numbered_class_names(&labels);
        return Ok((labels, class_names));
    }
    if let Some((_, line)) = fields.iter().find(|(field, _)| field.is_empty()) {
        return Err(field_err(*line, "the label is empty".to_string()));
    }
    let mut class_names: Vec<String> = fields.iter().map(|(field, _)| field.clone()).collect();
    class_names.sort();
    class_names.dedup();
    let labels = fields
        .iter()
        .map(|(field, _)| {
            let index = class_names.binary_search(field).expect("every label is a class name");
            u32::try_from(index).expect("fewer classes than rows, and rows fit in memory")
        })
        .collect();
    Ok((labels, class_names))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn read(
        text: &str,
        label: LabelColumn,
        shape: Option<Vec<usize>>,
    ) -> Result<(Batch, Vec<u32>, Vec<String>), DataError> {
        read_csv(text.as_bytes(), "t.csv", &label, shape, Scale::Auto, Header::Auto, None)
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = read("x,y,label\n0,1,a\n0,oops,b\n", LabelColumn::Last, None).expect_err("oops");
        assert_eq!(err.to_string(), "t.csv:3: column 2 (y): \"oops\" is not a number");
        let err = read("0,1,a\n0,1\n", LabelColumn::Last, None).expect_err("ragged");
        assert_eq!(err.to_string(), "t.csv:2: row has 2 fields, expected 3");
        let err = read("1,0.5\n-1,0.5\n", LabelColumn::First, None).expect_err("-1");
        assert_eq!(err.to_string(), "t.csv:2: column 1 (no header): label -1 is not a class index");
        let err = read("a,b\n1,2\n", LabelColumn::Named("c".into()), None).expect_err("no c");
        assert_eq!(err.to_string(), "t.csv has no column \"c\": its header is [\"a\", \"b\"]");
        let err = read("0,1,2,3\n", LabelColumn::Last, Some(vec![2, 2])).expect_err("3 features");
        assert_eq!(
            err.to_string(),
            "CSV features in t.csv have shape [3], expected the 3 features per row to fill the shape [2, 2]"
        );
    }

    #[test]
    fn named_label_and_shape() {
        let (inputs, labels, classes) = read(
            "label,p0,p1\n2,0,255\n0,255,0\n",
            LabelColumn::Named("label".into()),
            Some(vec![1, 1, 2]),
        )
        .expect("valid");
        assert_eq!(inputs.shape(), &[2, 1, 1, 2]);
        assert_eq!(inputs.as_slice(), &[0.0, 1.0, 1.0, 0.0]);
        assert_eq!(labels, vec![2, 0]);
        assert_eq!(classes, ["0", "1", "2"]);
    }

    proptest! {
        #[test]
        fn no_text_input_panics(
            text in "[0-9a-z,.\"\n -]{0,80}",
            bytes in proptest::collection::vec(any::<u8>(), 0..40),
            first in any::<bool>(),
        ) {
            let label = if first { LabelColumn::First } else { LabelColumn::Named("a".into()) };
            for header in [Header::Present, Header::Absent, Header::Auto] {
                for input in [text.as_bytes(), &bytes[..]] {
                    if let Ok((inputs, labels, classes)) =
                        read_csv(input, "fuzz", &label, None, Scale::Auto, header, Some(5))
                    {
                        prop_assert_eq!(inputs.len(), labels.len());
                        prop_assert!(labels.iter().all(|&l| (l as usize) < classes.len()));
                        prop_assert!(inputs.as_slice().iter().all(|v| (0.0..=1.0).contains(v)));
                    }
                }
            }
        }
    }
}
