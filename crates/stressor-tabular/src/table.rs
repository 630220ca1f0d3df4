//! Tables of named numeric and categorical columns, read from CSV (and Parquet, see
//! [`crate::parquet`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::TableError;

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers; a missing value is NaN.
    Numeric(Vec<f64>),
    /// Categories as text; a missing value is the empty string.
    Categorical(Vec<String>),
}

impl Column {
    /// `numeric` or `categorical`.
    pub fn kind(&self) -> &'static str {
        match self {
            Column::Numeric(_) => "numeric",
            Column::Categorical(_) => "categorical",
        }
    }

    /// Its length.
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Categorical(v) => v.len(),
        }
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows at `indices`, in that order (indices may repeat).
    pub fn take(&self, indices: &[usize]) -> Column {
        match self {
            Column::Numeric(v) => Column::Numeric(indices.iter().map(|&i| v[i]).collect()),
            Column::Categorical(v) => {
                Column::Categorical(indices.iter().map(|&i| v[i].clone()).collect())
            }
        }
    }

    /// The share of missing values (NaN or empty).
    pub fn missing_share(&self) -> f64 {
        let missing = match self {
            Column::Numeric(v) => v.iter().filter(|x| x.is_nan()).count(),
            Column::Categorical(v) => v.iter().filter(|x| x.is_empty()).count(),
        };
        if self.is_empty() { 0.0 } else { missing as f64 / self.len() as f64 }
    }
}

/// A table of named columns, all the same length.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Where it was read from (a path, or a name such as `german-credit` for embedded data).
    pub path: PathBuf,
    /// Column names and values, in file order.
    pub columns: Vec<(String, Column)>,
    /// Rows.
    pub rows: usize,
}

/// Cells that read as a missing value in a numeric column.
pub(crate) const MISSING: [&str; 5] = ["", "NA", "NaN", "nan", "null"];

impl Table {
    /// Reads a Parquet file (`.parquet`, `.pq`) or else a CSV file.
    ///
    /// # Errors
    /// [`TableError::Read`] naming the file, and the line or column.
    pub fn read(path: &Path) -> Result<Table, TableError> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("parquet" | "pq") => crate::parquet::read(path),
            _ => Table::from_csv(path),
        }
    }

    /// Reads a CSV file with a header row; see [`Table::from_csv_reader`].
    ///
    /// # Errors
    /// [`TableError::Read`] naming the file and line.
    pub fn from_csv(path: &Path) -> Result<Table, TableError> {
        let bytes = std::fs::read(path)
            .map_err(|e| TableError::Read { path: path.to_path_buf(), message: e.to_string() })?;
        crate::csv_parallel::read(&bytes, path)
    }

    /// Reads CSV with a header row from `reader`; `path` names it in errors. A column whose
    /// every value parses as a finite number or is missing (`""`, `NA`, `NaN`, `nan`, `null`),
    /// with at least one number, is numeric and its missing values are NaN; any other column
    /// is categorical. The text is read whole, then parsed in chunks on rayon's threads.
    ///
    /// # Errors
    /// [`TableError::Read`] naming the file and line: unreadable, no header, duplicate column
    /// names, no rows, ragged rows, text that is not UTF-8.
    pub fn from_csv_reader(mut reader: impl Read, path: &Path) -> Result<Table, TableError> {
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| TableError::Read { path: path.to_path_buf(), message: e.to_string() })?;
        crate::csv_parallel::read(&bytes, path)
    }

    /// A table from named columns.
    ///
    /// # Errors
    /// [`TableError::Shape`] when the columns differ in length, a name repeats, or there are
    /// none.
    pub fn new(path: PathBuf, columns: Vec<(String, Column)>) -> Result<Table, TableError> {
        let Some(rows) = columns.first().map(|(_, c)| c.len()) else {
            return Err(TableError::Shape(format!("{}: no columns", path.display())));
        };
        for (i, (name, column)) in columns.iter().enumerate() {
            if column.len() != rows {
                return Err(TableError::Shape(format!(
                    "{}: column `{name}` has {} rows, `{}` has {rows}",
                    path.display(),
                    column.len(),
                    columns[0].0
                )));
            }
            if columns[..i].iter().any(|(n, _)| n == name) {
                return Err(TableError::Shape(format!(
                    "{}: column `{name}` appears twice",
                    path.display()
                )));
            }
        }
        Ok(Table { path, columns, rows })
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }

    /// The column called `name`, or an error naming it and the table.
    ///
    /// # Errors
    /// [`TableError::Shape`] when there is no such column.
    pub fn require(&self, name: &str) -> Result<&Column, TableError> {
        self.column(name).ok_or_else(|| {
            TableError::Shape(format!(
                "{} has no column `{name}` (it has {})",
                self.path.display(),
                self.columns.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// A mutable reference to the column called `name`.
    pub fn column_mut(&mut self, name: &str) -> Option<&mut Column> {
        self.columns.iter_mut().find(|(n, _)| n == name).map(|(_, c)| c)
    }

    /// The rows at `indices`, in that order (indices may repeat).
    pub fn take(&self, indices: &[usize]) -> Table {
        Table {
            path: self.path.clone(),
            columns: self.columns.iter().map(|(n, c)| (n.clone(), c.take(indices))).collect(),
            rows: indices.len(),
        }
    }

    /// This table's rows followed by `other`'s, which must have the same columns and kinds.
    ///
    /// # Errors
    /// [`TableError::Shape`] when the columns differ.
    pub fn concat(&self, other: &Table) -> Result<Table, TableError> {
        let mut columns = Vec::with_capacity(self.columns.len());
        for (name, column) in &self.columns {
            let joined = match (column, other.column(name)) {
                (Column::Numeric(a), Some(Column::Numeric(b))) => {
                    Column::Numeric(a.iter().chain(b).copied().collect())
                }
                (Column::Categorical(a), Some(Column::Categorical(b))) => {
                    Column::Categorical(a.iter().chain(b).cloned().collect())
                }
                _ => {
                    return Err(TableError::Shape(format!(
                        "cannot join {} and {}: column `{name}` is missing or of another kind",
                        self.path.display(),
                        other.path.display()
                    )));
                }
            };
            columns.push((name.clone(), joined));
        }
        Table::new(self.path.clone(), columns)
    }
}

/// Reads the file at `path` (Parquet by extension, else CSV) in chunks of at most `rows` rows,
/// each column read as the kind `kinds` gives it (a column not named there is skipped), and
/// hands each chunk to `f`; only one chunk is held at a time. Returns the rows read.
///
/// # Errors
/// [`TableError::Read`] naming the file and line (CSV) or column: unreadable, a missing
/// column, a value that is not a number in a numeric column, ragged lines, no rows; or what
/// `f` returns.
pub fn for_each_chunk(
    path: &Path,
    rows: usize,
    kinds: &[(String, &'static str)],
    mut f: impl FnMut(Table) -> Result<(), TableError>,
) -> Result<usize, TableError> {
    if matches!(path.extension().and_then(|e| e.to_str()), Some("parquet" | "pq")) {
        return crate::parquet::for_each_chunk(path, rows, kinds, f);
    }
    let error = |message: String| TableError::Read { path: path.to_path_buf(), message };
    let file = std::fs::File::open(path).map_err(|e| error(e.to_string()))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(file);
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| error(e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut wanted = Vec::with_capacity(kinds.len());
    for (name, kind) in kinds {
        let index = names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| error(format!("column `{name}` is missing")))?;
        wanted.push((name.clone(), *kind, index));
    }
    let empty = |wanted: &[(String, &'static str, usize)]| -> Vec<(String, Column)> {
        wanted
            .iter()
            .map(|(name, kind, _)| {
                let column = if *kind == "numeric" {
                    Column::Numeric(Vec::with_capacity(rows))
                } else {
                    Column::Categorical(Vec::with_capacity(rows))
                };
                (name.clone(), column)
            })
            .collect()
    };
    let mut chunk = empty(&wanted);
    let mut in_chunk = 0;
    let mut total = 0;
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| error(format!("line {line}: {e}")))?;
        if record.len() != names.len() {
            return Err(error(format!(
                "line {line}: {} fields, the header has {}",
                record.len(),
                names.len()
            )));
        }
        for ((name, _, index), (_, column)) in wanted.iter().zip(chunk.iter_mut()) {
            let field = record.get(*index).unwrap_or("").trim();
            match column {
                Column::Numeric(values) => {
                    let value = if MISSING.contains(&field) {
                        f64::NAN
                    } else {
                        field.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| {
                            error(format!(
                                "line {line}: column `{name}` is numeric in the reference, but `{field}` is not a number"
                            ))
                        })?
                    };
                    values.push(value);
                }
                Column::Categorical(values) => values.push(field.to_string()),
            }
        }
        in_chunk += 1;
        total += 1;
        if in_chunk == rows {
            let full = std::mem::replace(&mut chunk, empty(&wanted));
            f(Table { path: path.to_path_buf(), columns: full, rows: in_chunk })?;
            in_chunk = 0;
        }
    }
    if in_chunk > 0 {
        f(Table { path: path.to_path_buf(), columns: chunk, rows: in_chunk })?;
    }
    if total == 0 {
        return Err(error("no data rows".into()));
    }
    Ok(total)
}
