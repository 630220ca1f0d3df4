//! Parquet files as [`Table`]s, through the Apache Arrow `parquet` crate.
//!
//! Integer, float and decimal columns become numeric (nulls are NaN); string, dictionary
//! (pandas categoricals) and boolean columns become categorical (nulls are empty). Row groups
//! are read one record batch at a time.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, StringArray};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::{Column, Table, TableError};

/// Rows per record batch while reading.
const BATCH_ROWS: usize = 64 * 1024;

/// Reads every column of the Parquet file at `path`.
///
/// # Errors
/// [`TableError::Read`] naming the file, and the column for a type that is neither numeric nor
/// text-like, or when the file has no rows.
pub fn read(path: &Path) -> Result<Table, TableError> {
    let error = |message: String| TableError::Read { path: path.to_path_buf(), message };
    let file = std::fs::File::open(path).map_err(|e| error(e.to_string()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| error(format!("not a Parquet file: {e}")))?;
    let schema = Arc::clone(builder.schema());
    let mut kinds = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        kinds.push(kind_of(field.data_type()).ok_or_else(|| {
            error(format!(
                "column `{}` has type {}, which is neither numeric nor text",
                field.name(),
                field.data_type()
            ))
        })?);
    }
    let reader = builder.with_batch_size(BATCH_ROWS).build().map_err(|e| error(e.to_string()))?;
    let mut columns: Vec<Column> =
        kinds
            .iter()
            .map(|numeric| {
                if *numeric { Column::Numeric(Vec::new()) } else { Column::Categorical(Vec::new()) }
            })
            .collect();
    let mut rows = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| error(format!("after row {rows}: {e}")))?;
        for ((column, array), field) in columns.iter_mut().zip(batch.columns()).zip(schema.fields())
        {
            append(column, array).map_err(|e| error(format!("column `{}`: {e}", field.name())))?;
        }
        rows += batch.num_rows();
    }
    if rows == 0 {
        return Err(error("no data rows".into()));
    }
    let named = schema.fields().iter().map(|f| f.name().clone()).zip(columns).collect();
    Table::new(path.to_path_buf(), named)
}

/// Reads the Parquet file at `path` in record batches of at most `rows` rows, each column
/// named in `kinds` as that kind; see [`crate::table::for_each_chunk`].
///
/// # Errors
/// [`TableError::Read`] naming the file and column.
pub fn for_each_chunk(
    path: &Path,
    rows: usize,
    kinds: &[(String, &'static str)],
    mut f: impl FnMut(Table) -> Result<(), TableError>,
) -> Result<usize, TableError> {
    let error = |message: String| TableError::Read { path: path.to_path_buf(), message };
    let file = std::fs::File::open(path).map_err(|e| error(e.to_string()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| error(format!("not a Parquet file: {e}")))?;
    let schema = Arc::clone(builder.schema());
    let mut wanted = Vec::with_capacity(kinds.len());
    for (name, kind) in kinds {
        let (index, field) = schema
            .column_with_name(name)
            .ok_or_else(|| error(format!("column `{name}` is missing")))?;
        let numeric = *kind == "numeric";
        if kind_of(field.data_type()) != Some(numeric) {
            return Err(error(format!(
                "column `{name}` is {kind} in the reference but has type {} here",
                field.data_type()
            )));
        }
        wanted.push((name.clone(), numeric, index));
    }
    let reader = builder.with_batch_size(rows.max(1)).build().map_err(|e| error(e.to_string()))?;
    let mut total = 0;
    for batch in reader {
        let batch = batch.map_err(|e| error(format!("after row {total}: {e}")))?;
        let mut columns = Vec::with_capacity(wanted.len());
        for (name, numeric, index) in &wanted {
            let mut column = if *numeric {
                Column::Numeric(Vec::new())
            } else {
                Column::Categorical(Vec::new())
            };
            append(&mut column, batch.column(*index))
                .map_err(|e| error(format!("column `{name}`: {e}")))?;
            columns.push((name.clone(), column));
        }
        total += batch.num_rows();
        f(Table { path: path.to_path_buf(), columns, rows: batch.num_rows() })?;
    }
    if total == 0 {
        return Err(error("no data rows".into()));
    }
    Ok(total)
}

/// `Some(true)` for numeric types, `Some(false)` for text-like ones.
fn kind_of(data_type: &DataType) -> Option<bool> {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Some(true),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean => {
            Some(false)
        }
        DataType::Dictionary(_, value) => kind_of(value).filter(|numeric| !numeric),
        _ => None,
    }
}

fn append(column: &mut Column, array: &ArrayRef) -> Result<(), String> {
    match column {
        Column::Numeric(values) => {
            let cast = arrow_cast::cast(array, &DataType::Float64).map_err(|e| e.to_string())?;
            let floats =
                cast.as_any().downcast_ref::<Float64Array>().ok_or("did not cast to Float64")?;
            values.extend(
                (0..floats.len()).map(
                    |i| {
                        if floats.is_null(i) { f64::NAN } else { floats.value(i) }
                    },
                ),
            );
        }
        Column::Categorical(values) => {
            let cast = arrow_cast::cast(array, &DataType::Utf8).map_err(|e| e.to_string())?;
            let text = cast.as_any().downcast_ref::<StringArray>().ok_or("did not cast to Utf8")?;
            values.extend(
                (0..text.len()).map(|i| {
                    if text.is_null(i) { String::new() } else { text.value(i).to_string() }
                }),
            );
        }
    }
    Ok(())
}
