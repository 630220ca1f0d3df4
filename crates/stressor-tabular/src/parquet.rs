//! Parquet files as [`Table`]s, read with the `parquet` crate's own column readers, without
//! its Arrow layer (whose arrow-* crates cost ~190 s of CPU in a fresh build).
//!
//! Each top-level column is read by its leaf column reader, row group by row group, a batch of
//! values and definition levels at a time; a null (a definition level below the column's
//! maximum) is NaN in a numeric column and empty in a categorical one. Columns are typed, and
//! their values converted, exactly as the Arrow reader and arrow-cast's casts to `Float64` and
//! `Utf8` did before (checked bit for bit against them when this reader replaced them):
//!
//! - numeric: `INT32` and `INT64`, signed or unsigned (`INT(8/16/32/64, false)`, `UINT_8` …
//!   `UINT_64`: reinterpreted, and narrow ones truncated, as Arrow did), then `as f64`;
//!   `FLOAT`, `DOUBLE` and `FIXED_LEN_BYTE_ARRAY(2)` as `FLOAT16`, widened; `DECIMAL` on
//!   `INT32`, `INT64`, `FIXED_LEN_BYTE_ARRAY(1..=32)` or `BYTE_ARRAY`, the `f64` nearest
//!   unscaled / 10^scale (arrow-cast's rule: one division where both are exact, else the
//!   decimal's text parsed, so rounded once either way);
//! - categorical: `BYTE_ARRAY` as `STRING`/`UTF8` or `JSON`, plain or dictionary-encoded (pandas
//!   categoricals), the text; `BOOLEAN`, `true` or `false`;
//! - anything else is an error naming the column: nested or repeated columns, dates, times,
//!   timestamps, `INT96`, intervals, `UNKNOWN` (all-null) columns, and byte arrays without a
//!   text annotation (binary, `ENUM`, `BSON`, `UUID`: Arrow read them as binary).
//!
//! As the Arrow reader did, the Arrow schema that Arrow writers store in the file (under
//! `ARROW:schema`) overrides the Parquet type where it is more precise: an un-annotated `INT64`
//! written from a duration, a timestamp in seconds or a 64-bit date is refused; a dictionary (a
//! pandas categorical) of numbers is refused, as the Arrow path refused it; plain binary written
//! from text is text. Unlike the Arrow reader, an Arrow schema that does not decode or does not
//! match the file's columns is ignored rather than failing the whole file.

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;

use parquet::basic::{ConvertedType, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::DataType;
use parquet::file::reader::{ChunkReader, FileReader, SerializedFileReader};
use parquet::schema::types::{SchemaDescriptor, Type};
use rayon::prelude::*;

use crate::{Column, Table, TableError};

mod hint;

use hint::Arrow;

/// Rows per column batch while reading.
const BATCH_ROWS: usize = 64 * 1024;

/// Reads every column of the Parquet file at `path`, as the module docs describe.
///
/// # Errors
/// [`TableError::Read`] naming the file, and the column for a type that is neither numeric nor
/// text-like, or when the file has no rows.
pub fn read(path: &Path) -> Result<Table, TableError> {
    let error = |message: String| TableError::Read { path: path.to_path_buf(), message };
    // The file whole in memory, so each column chunk is decoded on its own rayon thread from
    // one shared buffer (a `File` would share one offset between the threads' handles).
    let bytes = std::fs::read(path).map_err(|e| error(e.to_string()))?;
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes))
        .map_err(|e| error(format!("not a Parquet file: {e}")))?;
    let schema = reader.metadata().file_metadata().schema_descr();
    let mut wanted = Vec::new();
    for (field, leaf, hint) in top_level(&reader) {
        let (leaf, decode) = decode_of(field, leaf, hint.as_ref()).map_err(|type_name| {
            error(format!(
                "column `{}` has type {type_name}, which is neither numeric nor text",
                field.name()
            ))
        })?;
        wanted.push(Wanted::new(field.name(), leaf, decode, schema));
    }
    let file_rows = usize::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0);
    let mut columns: Vec<Column> = wanted.iter().map(|w| empty(w, file_rows)).collect();
    let mut rows = 0;
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(|e| error(format!("row group {g}: {e}")))?;
        let group_rows = usize::try_from(group.metadata().num_rows())
            .map_err(|_| error(format!("row group {g} has a negative row count")))?;
        // The group's columns decoded in parallel; the first error in column order wins.
        let decoded: Vec<Result<Column, TableError>> = wanted
            .par_iter()
            .map(|w| {
                let group =
                    reader.get_row_group(g).map_err(|e| error(format!("row group {g}: {e}")))?;
                let mut column_reader = group
                    .get_column_reader(w.leaf)
                    .map_err(|e| error(format!("column `{}`, row group {g}: {e}", w.name)))?;
                let mut column = empty(w, group_rows);
                let mut done = 0;
                while done < group_rows {
                    let take = (group_rows - done).min(BATCH_ROWS);
                    let read =
                        read_rows(&mut column_reader, w, take, &mut column).map_err(|e| {
                            error(format!("column `{}` after row {}: {e}", w.name, rows + done))
                        })?;
                    if read != take {
                        return Err(error(format!(
                            "column `{}` ends after row {}, but row group {g} has {} more",
                            w.name,
                            rows + done + read,
                            group_rows - done - read
                        )));
                    }
                    done += take;
                }
                Ok(column)
            })
            .collect();
        for (column, part) in columns.iter_mut().zip(decoded) {
            match (column, part?) {
                (Column::Numeric(all), Column::Numeric(part)) => all.extend_from_slice(&part),
                (Column::Categorical(all), Column::Categorical(part)) => all.extend(part),
                _ => return Err(error("a column changed kind between row groups".into())),
            }
        }
        rows += group_rows;
    }
    if rows == 0 {
        return Err(error("no data rows".into()));
    }
    let named = wanted.into_iter().map(|w| w.name).zip(columns).collect();
    Table::new(path.to_path_buf(), named)
}

/// An empty column of `wanted`'s kind with room for `rows` rows.
fn empty(wanted: &Wanted, rows: usize) -> Column {
    if wanted.decode.numeric() {
        Column::Numeric(Vec::with_capacity(rows))
    } else {
        Column::Categorical(Vec::with_capacity(rows))
    }
}

/// Reads the Parquet file at `path` in chunks of at most `rows` rows, each column named in
/// `kinds` as that kind; see [`crate::table::for_each_chunk`]. Only one chunk, and one page of
/// each named column, is held at a time.
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
    let reader = open(path)?;
    let schema = reader.metadata().file_metadata().schema_descr();
    let fields = top_level(&reader);
    let mut wanted = Vec::with_capacity(kinds.len());
    for (name, kind) in kinds {
        let (field, leaf, hint) = fields
            .iter()
            .find(|(field, ..)| field.name() == name)
            .ok_or_else(|| error(format!("column `{name}` is missing")))?;
        let numeric = *kind == "numeric";
        let (leaf, decode) = match decode_of(field, *leaf, hint.as_ref()) {
            Ok((leaf, decode)) if decode.numeric() == numeric => (leaf, decode),
            Ok(_) => {
                return Err(error(format!(
                    "column `{name}` is {kind} in the reference but has type {} here",
                    describe(field)
                )));
            }
            Err(type_name) => {
                return Err(error(format!(
                    "column `{name}` is {kind} in the reference but has type {type_name} here"
                )));
            }
        };
        wanted.push(Wanted::new(name, leaf, decode, schema));
    }
    let total = stream(path, &reader, &wanted, rows.max(1), |columns, rows| {
        let columns = wanted.iter().map(|w| w.name.clone()).zip(columns).collect();
        f(Table { path: path.to_path_buf(), columns, rows })
    })?;
    if total == 0 {
        return Err(error("no data rows".into()));
    }
    Ok(total)
}

/// Opens the file and reads its footer.
fn open(path: &Path) -> Result<SerializedFileReader<File>, TableError> {
    let error = |message: String| TableError::Read { path: path.to_path_buf(), message };
    let file = File::open(path).map_err(|e| error(e.to_string()))?;
    SerializedFileReader::new(file).map_err(|e| error(format!("not a Parquet file: {e}")))
}

/// How a column's Parquet values become a [`Column`]'s, as the Arrow reader typed them and
/// arrow-cast converted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decode {
    /// `INT32` narrowed to this width and sign with `as`, as Arrow's `Int8` … `UInt32` arrays.
    Int8,
    UInt8,
    Int16,
    UInt16,
    Int32,
    UInt32,
    /// `INT64`, signed or reinterpreted as unsigned.
    Int64,
    UInt64,
    Float,
    Double,
    /// `FIXED_LEN_BYTE_ARRAY(2)`, an IEEE half float, little-endian.
    Float16,
    /// Unscaled / 10^scale: an `INT32`, an `INT64` or big-endian two's complement bytes.
    Decimal(i8),
    /// UTF-8 bytes.
    Text,
    /// `true` or `false`.
    Bool,
}

impl Decode {
    fn numeric(self) -> bool {
        !matches!(self, Decode::Text | Decode::Bool)
    }
}

/// A top-level column to read.
struct Wanted {
    name: String,
    /// Its leaf column.
    leaf: usize,
    decode: Decode,
    /// The definition level of a present value (0 for a required column).
    max_def: i16,
}

impl Wanted {
    fn new(name: &str, leaf: usize, decode: Decode, schema: &SchemaDescriptor) -> Wanted {
        Wanted {
            name: name.to_string(),
            leaf,
            decode,
            max_def: schema.column(leaf).max_def_level(),
        }
    }
}

/// The file's top-level fields, each with its first leaf column (none for an empty group) and
/// its field in the Arrow schema stored in the file, if there is one that matches (the same
/// number of fields, named alike, as the Arrow reader required).
fn top_level<R: ChunkReader + 'static>(
    reader: &SerializedFileReader<R>,
) -> Vec<(&Type, Option<usize>, Option<hint::Field>)> {
    let metadata = reader.metadata().file_metadata();
    let schema = metadata.schema_descr();
    let fields = schema.root_schema().get_fields();
    let mut first = vec![None; fields.len()];
    for leaf in (0..schema.num_columns()).rev() {
        if let Some(slot) = first.get_mut(schema.get_column_root_idx(leaf)) {
            *slot = Some(leaf);
        }
    }
    let hints = hint::fields(metadata.key_value_metadata())
        .filter(|hints| {
            hints.len() == fields.len()
                && hints.iter().zip(fields).all(|(hint, field)| hint.name == field.name())
        })
        .map_or_else(|| vec![None; fields.len()], |hints| hints.into_iter().map(Some).collect());
    fields
        .iter()
        .map(|field| field.as_ref())
        .zip(first)
        .zip(hints)
        .map(|((f, l), h)| (f, l, h))
        .collect()
}

/// The leaf column of `field` and how to decode it, or else a description of its type. This is
/// the Arrow reader's typing, step for step: the Arrow type of the Parquet type alone
/// ([`arrow_type`]), then the Arrow schema's hint ([`apply_hint`]), then the old `kind_of`
/// (numbers and text-like types, a dictionary only of text).
fn decode_of(
    field: &Type,
    leaf: Option<usize>,
    hint: Option<&hint::Field>,
) -> Result<(usize, Decode), String> {
    let Type::PrimitiveType { basic_info: info, physical_type, .. } = field else {
        return Err(describe(field));
    };
    let (Some(leaf), false) =
        (leaf, info.has_repetition() && info.repetition() == Repetition::REPEATED)
    else {
        return Err(describe(field));
    };
    let parquet = arrow_type(field);
    let (arrow, dictionary) = match hint {
        Some(hint) => apply_hint(parquet, hint),
        None => (parquet, false),
    };
    let decode = match (physical_type, arrow) {
        (_, Arrow::Int { .. } | Arrow::Float { .. } | Arrow::Decimal { .. }) if dictionary => None,
        (Physical::INT32, Arrow::Int { bits, signed }) => match (bits, signed) {
            (8, true) => Some(Decode::Int8),
            (8, false) => Some(Decode::UInt8),
            (16, true) => Some(Decode::Int16),
            (16, false) => Some(Decode::UInt16),
            (32, true) => Some(Decode::Int32),
            (32, false) => Some(Decode::UInt32),
            _ => None,
        },
        (Physical::INT64, Arrow::Int { bits: 64, signed }) => {
            Some(if signed { Decode::Int64 } else { Decode::UInt64 })
        }
        (Physical::FLOAT, Arrow::Float { precision: 1 }) => Some(Decode::Float),
        (Physical::DOUBLE, Arrow::Float { precision: 2 }) => Some(Decode::Double),
        (Physical::FIXED_LEN_BYTE_ARRAY, Arrow::Float { precision: 0 }) => Some(Decode::Float16),
        (
            Physical::INT32
            | Physical::INT64
            | Physical::FIXED_LEN_BYTE_ARRAY
            | Physical::BYTE_ARRAY,
            Arrow::Decimal { scale, .. },
        ) => i8::try_from(scale).ok().map(Decode::Decimal),
        (Physical::BYTE_ARRAY, Arrow::Text) => Some(Decode::Text),
        (Physical::BOOLEAN, Arrow::Bool) => Some(Decode::Bool),
        _ => None,
    };
    decode.map(|decode| (leaf, decode)).ok_or_else(|| {
        if (arrow, dictionary) == (parquet, false) {
            describe(field)
        } else {
            format!("{} holding an Arrow {}", describe(field), arrow.name(dictionary))
        }
    })
}

/// The Arrow type of a primitive Parquet column as the Arrow reader derived it from the
/// Parquet schema alone (`parquet::arrow::schema::primitive::from_parquet`), as far as reading
/// needs it; [`Arrow::Other`] for the types it refused or that are neither numbers nor text.
fn arrow_type(field: &Type) -> Arrow {
    let Type::PrimitiveType { basic_info: info, physical_type, type_length, scale, precision } =
        field
    else {
        return Arrow::Other;
    };
    let logical = info.logical_type_ref();
    let converted = info.converted_type();
    let int = |bits, signed| Arrow::Int { bits, signed };
    // INT32 and INT64 decimals are Decimal128; byte arrays Decimal256 past 16 bytes (fixed) or
    // 38 digits (variable).
    let decimal = |precision: i32, scale: i32, wide: bool| Arrow::Decimal {
        precision,
        scale,
        bits: if wide { 256 } else { 128 },
    };
    if logical == Some(&LogicalType::Unknown) {
        return Arrow::Other;
    }
    match physical_type {
        Physical::BOOLEAN => Arrow::Bool,
        Physical::FLOAT => Arrow::Float { precision: 1 },
        Physical::DOUBLE => Arrow::Float { precision: 2 },
        Physical::INT96 => Arrow::Timestamp,
        Physical::INT32 => match (logical, converted) {
            (None, ConvertedType::NONE | ConvertedType::INT_32) => int(32, true),
            (Some(LogicalType::Integer(i)), _) if [8, 16, 32].contains(&i.bit_width) => {
                int(i32::from(i.bit_width), i.is_signed)
            }
            (Some(LogicalType::Decimal(d)), _) => decimal(d.precision, d.scale, false),
            (None, ConvertedType::INT_8) => int(8, true),
            (None, ConvertedType::INT_16) => int(16, true),
            (None, ConvertedType::UINT_8) => int(8, false),
            (None, ConvertedType::UINT_16) => int(16, false),
            (None, ConvertedType::UINT_32) => int(32, false),
            (None, ConvertedType::DECIMAL) => decimal(*precision, *scale, false),
            _ => Arrow::Other,
        },
        Physical::INT64 => match (logical, converted) {
            (None, ConvertedType::NONE | ConvertedType::INT_64) => int(64, true),
            (Some(LogicalType::Integer(i)), _) if i.bit_width == 64 => int(64, i.is_signed),
            (Some(LogicalType::Decimal(d)), _) => decimal(d.precision, d.scale, false),
            (None, ConvertedType::UINT_64) => int(64, false),
            (None, ConvertedType::DECIMAL) => decimal(*precision, *scale, false),
            _ => Arrow::Other,
        },
        Physical::BYTE_ARRAY => match (logical, converted) {
            (Some(LogicalType::String | LogicalType::Json), _)
            | (None, ConvertedType::UTF8 | ConvertedType::JSON) => Arrow::Text,
            (Some(LogicalType::Decimal(d)), _) => decimal(d.precision, d.scale, d.precision > 38),
            (None, ConvertedType::DECIMAL) => decimal(*precision, *scale, *precision > 38),
            (
                Some(
                    LogicalType::Bson
                    | LogicalType::Enum
                    | LogicalType::Geometry(_)
                    | LogicalType::Geography(_)
                    | LogicalType::_Unknown { .. },
                ),
                _,
            )
            | (None, ConvertedType::NONE | ConvertedType::BSON | ConvertedType::ENUM) => {
                Arrow::Binary
            }
            _ => Arrow::Other,
        },
        Physical::FIXED_LEN_BYTE_ARRAY => match (logical, converted) {
            (Some(LogicalType::Decimal(d)), _) if (1..=32).contains(type_length) => {
                decimal(d.precision, d.scale, *type_length > 16)
            }
            (None, ConvertedType::DECIMAL) if (1..=32).contains(type_length) => {
                decimal(*precision, *scale, *type_length > 16)
            }
            (Some(LogicalType::Float16), _) if *type_length == 2 => Arrow::Float { precision: 0 },
            _ => Arrow::Other,
        },
    }
}

/// The type the Arrow reader gave a column whose Parquet type gives `parquet`, under the Arrow
/// schema's `hint` (`parquet::arrow::schema::primitive::apply_hint`), and whether it stayed a
/// dictionary.
fn apply_hint(parquet: Arrow, hint: &hint::Field) -> (Arrow, bool) {
    let hinted = match (parquet, hint.arrow) {
        (Arrow::Int { bits: 32 | 64, signed: true }, Arrow::Timestamp)
        | (Arrow::Int { bits: 32, signed: true }, Arrow::Time { bits: 32 })
        | (
            Arrow::Int { bits: 64, signed: true },
            Arrow::Time { bits: 64 } | Arrow::Duration | Arrow::Date { millis: true },
        )
        | (Arrow::Binary, Arrow::Text)
        | (Arrow::Decimal { bits: 128, .. }, Arrow::Decimal { bits: 32 | 64 | 256, .. }) => {
            hint.arrow
        }
        _ => parquet,
    };
    (hinted, hint.dictionary && hinted == hint.arrow)
}

/// A column's type for messages: `INT64 (TIMESTAMP(MICROS, UTC))`, `BYTE_ARRAY (binary)`,
/// `nested group (LIST)`.
fn describe(field: &Type) -> String {
    let info = field.get_basic_info();
    let mut annotation = match (info.logical_type_ref(), info.converted_type()) {
        (Some(logical), _) => logical_name(logical),
        (None, ConvertedType::NONE) => String::new(),
        (None, converted) => converted.to_string(),
    };
    let repeated = if info.has_repetition() && info.repetition() == Repetition::REPEATED {
        "repeated "
    } else {
        ""
    };
    let base = match field {
        Type::GroupType { .. } => "nested group".to_string(),
        Type::PrimitiveType {
            physical_type: Physical::FIXED_LEN_BYTE_ARRAY, type_length, ..
        } => {
            format!("FIXED_LEN_BYTE_ARRAY({type_length})")
        }
        Type::PrimitiveType { physical_type, .. } => {
            if annotation.is_empty() {
                annotation = match physical_type {
                    Physical::BYTE_ARRAY => "binary".into(),
                    Physical::INT96 => "a timestamp".into(),
                    _ => String::new(),
                };
            }
            physical_type.to_string()
        }
    };
    if annotation.is_empty() {
        format!("{repeated}{base}")
    } else {
        format!("{repeated}{base} ({annotation})")
    }
}

fn logical_name(logical: &LogicalType) -> String {
    let unit = |unit: &TimeUnit| match unit {
        TimeUnit::MILLIS => "MILLIS",
        TimeUnit::MICROS => "MICROS",
        TimeUnit::NANOS => "NANOS",
    };
    let utc = |adjusted: bool| if adjusted { ", UTC" } else { "" };
    match logical {
        LogicalType::String => "STRING".into(),
        LogicalType::Map => "MAP".into(),
        LogicalType::List => "LIST".into(),
        LogicalType::Enum => "ENUM".into(),
        LogicalType::Decimal(d) => format!("DECIMAL({}, {})", d.precision, d.scale),
        LogicalType::Date => "DATE".into(),
        LogicalType::Time(t) => format!("TIME({}{})", unit(&t.unit), utc(t.is_adjusted_to_u_t_c)),
        LogicalType::Timestamp(t) => {
            format!("TIMESTAMP({}{})", unit(&t.unit), utc(t.is_adjusted_to_u_t_c))
        }
        LogicalType::Integer(i) => {
            format!("INT({}, {})", i.bit_width, if i.is_signed { "signed" } else { "unsigned" })
        }
        LogicalType::Unknown => "UNKNOWN, always null".into(),
        LogicalType::Json => "JSON".into(),
        LogicalType::Bson => "BSON".into(),
        LogicalType::Uuid => "UUID".into(),
        LogicalType::Float16 => "FLOAT16".into(),
        other => format!("{other:?}"),
    }
}

/// Reads the row groups' `wanted` columns in chunks of `chunk_rows` rows (the last may be
/// shorter; a chunk may span row groups) and hands each to `emit` with its row count. Returns
/// the rows read.
fn stream(
    path: &Path,
    reader: &SerializedFileReader<File>,
    wanted: &[Wanted],
    chunk_rows: usize,
    mut emit: impl FnMut(Vec<Column>, usize) -> Result<(), TableError>,
) -> Result<usize, TableError> {
    let error = |message: String| TableError::Read { path: path.to_path_buf(), message };
    let file_rows = usize::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0);
    let capacity = chunk_rows.min(file_rows).min(BATCH_ROWS * 16);
    let fresh = || -> Vec<Column> {
        wanted
            .iter()
            .map(|w| {
                if w.decode.numeric() {
                    Column::Numeric(Vec::with_capacity(capacity))
                } else {
                    Column::Categorical(Vec::with_capacity(capacity))
                }
            })
            .collect()
    };
    let mut chunk = fresh();
    let mut in_chunk = 0;
    let mut total = 0;
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(|e| error(format!("row group {g}: {e}")))?;
        let mut left = usize::try_from(group.metadata().num_rows())
            .map_err(|_| error(format!("row group {g} has a negative row count")))?;
        let mut readers = Vec::with_capacity(wanted.len());
        for w in wanted {
            readers.push(
                group
                    .get_column_reader(w.leaf)
                    .map_err(|e| error(format!("column `{}`, row group {g}: {e}", w.name)))?,
            );
        }
        while left > 0 {
            let take = (chunk_rows - in_chunk).min(left).min(BATCH_ROWS);
            for ((w, reader), column) in wanted.iter().zip(&mut readers).zip(&mut chunk) {
                let read = read_rows(reader, w, take, column)
                    .map_err(|e| error(format!("column `{}` after row {total}: {e}", w.name)))?;
                if read != take {
                    return Err(error(format!(
                        "column `{}` ends after row {}, but row group {g} has {} more",
                        w.name,
                        total + read,
                        left - read
                    )));
                }
            }
            in_chunk += take;
            total += take;
            left -= take;
            if in_chunk == chunk_rows {
                emit(std::mem::replace(&mut chunk, fresh()), in_chunk)?;
                in_chunk = 0;
            }
        }
    }
    if in_chunk > 0 {
        emit(chunk, in_chunk)?;
    }
    Ok(total)
}

/// Appends up to `rows` rows of the column to `column`; returns how many it read (fewer only at
/// the end of the row group).
fn read_rows(
    reader: &mut ColumnReader,
    wanted: &Wanted,
    rows: usize,
    column: &mut Column,
) -> Result<usize, String> {
    let (decode, max_def) = (wanted.decode, wanted.max_def);
    let numbers = |out: &mut Vec<f64>, value: Option<f64>| {
        out.push(value.unwrap_or(f64::NAN));
        Ok(())
    };
    match (reader, column) {
        (ColumnReader::Int32ColumnReader(r), Column::Numeric(out)) => {
            read_levels(r, rows, max_def, |v| numbers(out, v.map(|&x| from_i32(decode, x))))
        }
        (ColumnReader::Int64ColumnReader(r), Column::Numeric(out)) => {
            read_levels(r, rows, max_def, |v| numbers(out, v.map(|&x| from_i64(decode, x))))
        }
        (ColumnReader::FloatColumnReader(r), Column::Numeric(out)) => {
            read_levels(r, rows, max_def, |v| numbers(out, v.map(|&x| f64::from(x))))
        }
        (ColumnReader::DoubleColumnReader(r), Column::Numeric(out)) => {
            read_levels(r, rows, max_def, |v| numbers(out, v.copied()))
        }
        (ColumnReader::FixedLenByteArrayColumnReader(r), Column::Numeric(out)) => {
            read_levels(r, rows, max_def, |v| {
                let value = v.map(|b| from_bytes(decode, b.data())).transpose()?;
                numbers(out, value)
            })
        }
        (ColumnReader::ByteArrayColumnReader(r), Column::Numeric(out)) => {
            read_levels(r, rows, max_def, |v| {
                let value = v.map(|b| from_bytes(decode, b.data())).transpose()?;
                numbers(out, value)
            })
        }
        (ColumnReader::ByteArrayColumnReader(r), Column::Categorical(out)) => {
            read_levels(r, rows, max_def, |v| {
                out.push(match v {
                    Some(b) => std::str::from_utf8(b.data())
                        .map_err(|e| format!("text that is not UTF-8 ({e})"))?
                        .to_string(),
                    None => String::new(),
                });
                Ok(())
            })
        }
        (ColumnReader::BoolColumnReader(r), Column::Categorical(out)) => {
            read_levels(r, rows, max_def, |v| {
                out.push(v.map_or_else(String::new, bool::to_string));
                Ok(())
            })
        }
        _ => Err(format!("cannot decode its physical type as {decode:?}")),
    }
}

/// Reads up to `rows` rows (values and definition levels) and hands each to `push`, `None` for
/// a null. Returns the rows read.
fn read_levels<T: DataType>(
    reader: &mut ColumnReaderImpl<T>,
    rows: usize,
    max_def: i16,
    mut push: impl FnMut(Option<&T::T>) -> Result<(), String>,
) -> Result<usize, String> {
    let mut levels = Vec::new();
    let mut values = Vec::with_capacity(rows);
    let (read, _, _) = reader
        .read_records(rows, Some(&mut levels), None, &mut values)
        .map_err(|e| e.to_string())?;
    if max_def == 0 {
        values.iter().try_for_each(|v| push(Some(v)))?;
    } else {
        let mut values = values.iter();
        for &level in &levels {
            if level == max_def {
                push(Some(values.next().ok_or("fewer values than definition levels")?))?;
            } else {
                push(None)?;
            }
        }
    }
    Ok(read)
}

/// An `INT32` value as Arrow typed it, then cast to `f64`.
fn from_i32(decode: Decode, x: i32) -> f64 {
    match decode {
        Decode::Int8 => f64::from(x as i8),
        Decode::UInt8 => f64::from(x as u8),
        Decode::Int16 => f64::from(x as i16),
        Decode::UInt16 => f64::from(x as u16),
        Decode::UInt32 => f64::from(x as u32),
        Decode::Decimal(scale) => decimal(i128::from(x), scale),
        _ => f64::from(x),
    }
}

/// An `INT64` value as Arrow typed it, then cast to `f64`.
fn from_i64(decode: Decode, x: i64) -> f64 {
    match decode {
        Decode::UInt64 => x as u64 as f64,
        Decode::Decimal(scale) => decimal(i128::from(x), scale),
        _ => x as f64,
    }
}

/// A fixed- or variable-length byte array value: a half float or a decimal.
fn from_bytes(decode: Decode, bytes: &[u8]) -> Result<f64, String> {
    match decode {
        Decode::Float16 => {
            let bytes: [u8; 2] =
                bytes.try_into().map_err(|_| format!("a FLOAT16 of {} bytes", bytes.len()))?;
            Ok(half::f16::from_le_bytes(bytes).to_f64())
        }
        Decode::Decimal(scale) => Ok(decimal_bytes(bytes, scale)),
        _ => Err(format!("cannot decode bytes as {decode:?}")),
    }
}

/// Integers below 2^53 convert to an `f64` exactly.
const F64_EXACT_INT_LIMIT: f64 = 9_007_199_254_740_992.0;

/// The decimal `unscaled / 10^scale` as arrow-cast's decimal to `Float64` cast gives it
/// (`single_decimal_to_float_lossy`): the nearest `f64`, rounding once. Where the unscaled
/// value and the power of ten are both exact, one division (or multiplication, for a negative
/// scale) does it; otherwise the decimal's text is parsed, as arrow-cast does.
fn decimal(unscaled: i128, scale: i8) -> f64 {
    let float = unscaled as f64;
    if (-22..=22).contains(&scale) && float.abs() < F64_EXACT_INT_LIMIT {
        let pow = 10_f64.powi(i32::from(scale.unsigned_abs()));
        return if scale >= 0 { float / pow } else { float * pow };
    }
    nearest(&unscaled.to_string(), scale).unwrap_or_else(|| float / 10_f64.powi(i32::from(scale)))
}

/// The `f64` nearest `digits` × 10^-scale (Rust's parsing rounds once, to nearest even).
fn nearest(digits: &str, scale: i8) -> Option<f64> {
    format!("{digits}e{}", -i32::from(scale)).parse().ok()
}

/// A decimal stored as big-endian two's complement bytes (an empty value is 0, as in Arrow).
fn decimal_bytes(bytes: &[u8], scale: i8) -> f64 {
    let Some(&first) = bytes.first() else {
        return decimal(0, scale);
    };
    let negative = first & 0x80 != 0;
    let sign = if negative { 0xff } else { 0x00 };
    // Sign extension beyond 16 bytes carries no value.
    let mut bytes = bytes;
    while bytes.len() > 16 && bytes[0] == sign && (bytes[1] & 0x80 != 0) == negative {
        bytes = &bytes[1..];
    }
    if bytes.len() <= 16 {
        let mut wide = [sign; 16];
        wide[16 - bytes.len()..].copy_from_slice(bytes);
        return decimal(i128::from_be_bytes(wide), scale);
    }
    let digits = big_digits(bytes, negative);
    nearest(&digits, scale).unwrap_or(f64::NAN)
}

/// The decimal digits (with a leading `-` if negative) of a big-endian two's complement integer.
fn big_digits(bytes: &[u8], negative: bool) -> String {
    let mut magnitude = bytes.to_vec();
    if negative {
        for byte in &mut magnitude {
            *byte = !*byte;
        }
        for byte in magnitude.iter_mut().rev() {
            let (sum, carry) = byte.overflowing_add(1);
            *byte = sum;
            if !carry {
                break;
            }
        }
    }
    const BASE: u64 = 1_000_000_000;
    // Little-endian limbs of nine decimal digits each.
    let mut limbs: Vec<u64> = Vec::new();
    for &byte in &magnitude {
        let mut carry = u64::from(byte);
        for limb in &mut limbs {
            let value = *limb * 256 + carry;
            *limb = value % BASE;
            carry = value / BASE;
        }
        while carry > 0 {
            limbs.push(carry % BASE);
            carry /= BASE;
        }
    }
    let mut text = String::from(if negative { "-" } else { "" });
    match limbs.split_last() {
        None => text.push('0'),
        Some((top, rest)) => {
            let _ = write!(text, "{top}");
            for limb in rest.iter().rev() {
                let _ = write!(text, "{limb:09}");
            }
        }
    }
    text
}
