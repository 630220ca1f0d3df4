//! CSV read in parallel: the file read whole, its body cut into chunks at record boundaries,
//! each chunk parsed on a rayon thread with numbers parsed as they are met (no `String` per
//! cell), then the chunks joined in file order.
//!
//! The result is the table the one-pass reader gave (the test module keeps that reader as the
//! oracle): a column is numeric when every cell in every chunk is a finite number or missing and
//! at least one is a number. Only columns that turn out categorical are read a second time, for
//! their text. Errors name the line as the record's position (header = line 1), the first error
//! in file order winning.

use std::path::Path;

use rayon::prelude::*;

use crate::TableError;
use crate::table::{Column, MISSING, Table};

/// The least a chunk holds, in bytes: below it, a thread costs more than it saves.
const MIN_CHUNK_BYTES: usize = 1 << 18;

/// Reads CSV with a header row from `bytes`, in chunks sized for the rayon pool.
pub(crate) fn read(bytes: &[u8], path: &Path) -> Result<Table, TableError> {
    let chunks = (bytes.len() / MIN_CHUNK_BYTES).clamp(1, rayon::current_num_threads() * 4);
    read_in_chunks(bytes, path, bytes.len().div_ceil(chunks))
}

/// [`read`] with chunks of about `chunk_bytes` (cut at the next record boundary).
pub(crate) fn read_in_chunks(
    bytes: &[u8],
    path: &Path,
    chunk_bytes: usize,
) -> Result<Table, TableError> {
    let error = |message: String| TableError::Read { path: path.to_path_buf(), message };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| error(e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if names.is_empty() || names.iter().all(String::is_empty) {
        return Err(error("no header row".into()));
    }
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(error(format!("line 1: column `{name}` appears twice")));
        }
    }
    let start = usize::try_from(reader.position().byte()).unwrap_or(bytes.len()).min(bytes.len());
    let body = &bytes[start..];
    let quoted = body.contains(&b'"');
    let bounds = split(body, chunk_bytes.max(1), quoted);
    let width = names.len();
    let parsed: Vec<Chunk> =
        bounds.par_iter().map(|&(from, to)| Chunk::parse(&body[from..to], width, quoted)).collect();
    let mut rows = 0;
    for chunk in &parsed {
        if let Some((record, message)) = &chunk.error {
            return Err(error(format!("line {}: {message}", rows + record + 2)));
        }
        rows += chunk.rows;
    }
    if rows == 0 {
        return Err(error("no data rows".into()));
    }
    let numeric: Vec<bool> = (0..width)
        .map(|j| {
            parsed.iter().all(|c| c.numbers[j].is_some()) && parsed.iter().any(|c| c.any_number[j])
        })
        .collect();
    let categorical: Vec<usize> = (0..width).filter(|&j| !numeric[j]).collect();
    let mut texts: Vec<Vec<String>> = vec![Vec::new(); categorical.len()];
    if !categorical.is_empty() {
        let per_chunk: Vec<Vec<Vec<String>>> = bounds
            .par_iter()
            .map(|&(from, to)| texts_of(&body[from..to], &categorical, quoted))
            .collect();
        for (k, column) in texts.iter_mut().enumerate() {
            column.reserve_exact(rows);
            for chunk in &per_chunk {
                column.extend(chunk[k].iter().cloned());
            }
        }
    }
    let mut texts = texts.into_iter();
    let columns = names
        .into_iter()
        .enumerate()
        .map(|(j, name)| {
            let column = if numeric[j] {
                let mut values = Vec::with_capacity(rows);
                for chunk in &parsed {
                    values.extend_from_slice(chunk.numbers[j].as_deref().unwrap_or_default());
                }
                Column::Numeric(values)
            } else {
                Column::Categorical(texts.next().unwrap_or_default())
            };
            (name, column)
        })
        .collect();
    Ok(Table { path: path.to_path_buf(), columns, rows })
}

/// Cuts `body` into `(from, to)` ranges of about `chunk_bytes`, each ending at a record
/// boundary. Without a quote character every line break ends a record; with one, a quoted
/// field may hold line breaks, so the boundaries come from the csv reader itself (one
/// sequential pass that only finds record ends).
fn split(body: &[u8], chunk_bytes: usize, quoted: bool) -> Vec<(usize, usize)> {
    let mut bounds = Vec::new();
    let mut from = 0;
    if !quoted {
        while body.len() - from > chunk_bytes {
            let at = from + chunk_bytes;
            let Some(newline) = body[at..].iter().position(|&b| b == b'\n') else { break };
            bounds.push((from, at + newline + 1));
            from = at + newline + 1;
        }
    } else {
        let mut reader =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(body);
        let mut record = csv::ByteRecord::new();
        loop {
            let at = usize::try_from(reader.position().byte()).unwrap_or(body.len());
            if at - from >= chunk_bytes {
                bounds.push((from, at));
                from = at;
            }
            if !reader.read_byte_record(&mut record).unwrap_or(false) {
                break;
            }
        }
    }
    if from < body.len() || bounds.is_empty() {
        bounds.push((from, body.len()));
    }
    bounds
}

/// One chunk's rows, every column tried as numbers.
struct Chunk {
    rows: usize,
    /// Per column, its numbers (NaN for missing); `None` once a cell is not a number.
    numbers: Vec<Option<Vec<f64>>>,
    /// Per column, whether a cell was a number (not missing).
    any_number: Vec<bool>,
    /// The first bad record: its index in the chunk and what is wrong.
    error: Option<(usize, String)>,
}

impl Chunk {
    /// Parses one chunk. Text without a quote character is cut at line breaks (`\n`, `\r`;
    /// empty lines skipped) and commas, which is what the csv reader does with it; a chunk with
    /// quotes, or one that is not UTF-8 (so that the error names its line), goes through the
    /// csv reader.
    fn parse(bytes: &[u8], width: usize, quoted: bool) -> Chunk {
        let mut chunk = Chunk {
            rows: 0,
            numbers: vec![Some(Vec::new()); width],
            any_number: vec![false; width],
            error: None,
        };
        match std::str::from_utf8(bytes) {
            Ok(text) if !quoted => {
                for line in lines(text) {
                    if chunk.rows == 0 {
                        chunk.reserve(bytes.len() / (line.len() + 1) + 16);
                    }
                    let mut fields = 0;
                    for field in line.split(',') {
                        if fields < width {
                            chunk.cell(fields, field);
                        }
                        fields += 1;
                    }
                    if fields != width {
                        chunk.error =
                            Some((chunk.rows, format!("{fields} fields, the header has {width}")));
                        break;
                    }
                    chunk.rows += 1;
                }
            }
            _ => chunk.parse_csv(bytes, width),
        }
        chunk
    }

    /// [`Chunk::parse`] with the csv reader.
    fn parse_csv(&mut self, bytes: &[u8], width: usize) {
        let mut reader =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
        let mut record = csv::ByteRecord::new();
        'records: loop {
            match reader.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    self.error = Some((self.rows, e.to_string()));
                    break;
                }
            }
            if record.len() != width {
                self.error =
                    Some((self.rows, format!("{} fields, the header has {width}", record.len())));
                break;
            }
            if self.rows == 0 {
                self.reserve(bytes.len() / (record.as_slice().len() + width) + 16);
            }
            for (j, field) in record.iter().enumerate() {
                let Ok(text) = std::str::from_utf8(field) else {
                    self.error = Some((self.rows, format!("field {} is not UTF-8", j + 1)));
                    break 'records;
                };
                self.cell(j, text);
            }
            self.rows += 1;
        }
    }

    /// Room for about `rows` more rows in every column still numeric.
    fn reserve(&mut self, rows: usize) {
        self.numbers.iter_mut().flatten().for_each(|v| v.reserve(rows));
    }

    /// Column `j`'s next cell, untrimmed.
    fn cell(&mut self, j: usize, text: &str) {
        if let Some(values) = &mut self.numbers[j] {
            let text = text.trim();
            if MISSING.contains(&text) {
                values.push(f64::NAN);
            } else if let Some(x) = number(text) {
                self.any_number[j] = true;
                values.push(x);
            } else {
                self.numbers[j] = None;
            }
        }
    }
}

/// The records of text without quotes: its lines, cut at `\n` and `\r`, empty ones skipped.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let cr = text.contains('\r');
    text.split('\n')
        .flat_map(move |line| {
            let (parts, whole) =
                if cr { (Some(line.split('\r')), None) } else { (None, Some(line)) };
            parts.into_iter().flatten().chain(whole)
        })
        .filter(|line| !line.is_empty())
}

/// A cell as a finite number, parsed exactly as `str::parse` does.
fn number(text: &str) -> Option<f64> {
    lexical_core::parse::<f64>(text.as_bytes()).ok().filter(|x| x.is_finite())
}

/// The trimmed text of the columns `wanted` (in increasing order) in a chunk that
/// [`Chunk::parse`] found sound, cut into records as it did.
fn texts_of(bytes: &[u8], wanted: &[usize], quoted: bool) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new(); wanted.len()];
    match std::str::from_utf8(bytes) {
        Ok(text) if !quoted => {
            for line in lines(text) {
                let mut next = wanted.iter().zip(out.iter_mut()).peekable();
                for (j, field) in line.split(',').enumerate() {
                    if let Some((_, column)) = next.next_if(|(w, _)| **w == j) {
                        column.push(field.trim().to_string());
                    }
                }
            }
        }
        _ => {
            let mut reader =
                csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
            let mut record = csv::ByteRecord::new();
            while reader.read_byte_record(&mut record).unwrap_or(false) {
                for (column, &j) in out.iter_mut().zip(wanted) {
                    let field = record.get(j).unwrap_or_default();
                    column.push(String::from_utf8_lossy(field).trim().to_string());
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The reader this module replaced: one pass with the csv crate, a `String` per cell, the
    /// kinds inferred at the end. The parallel reader must give the same tables.
    fn sequential(bytes: &[u8], path: &Path) -> Result<Table, TableError> {
        let error = |message: String| TableError::Read { path: path.to_path_buf(), message };
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
        let names: Vec<String> = reader
            .headers()
            .map_err(|e| error(e.to_string()))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let mut cells: Vec<Vec<String>> = vec![Vec::new(); names.len()];
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| error(format!("line {}: {e}", i + 2)))?;
            for (column, field) in cells.iter_mut().zip(record.iter()) {
                column.push(field.trim().to_string());
            }
        }
        let rows = cells.first().map_or(0, Vec::len);
        let columns = names
            .into_iter()
            .zip(cells)
            .map(|(name, values)| {
                let mut any_number = false;
                let numbers: Option<Vec<f64>> = values
                    .iter()
                    .map(|v| {
                        if MISSING.contains(&v.as_str()) {
                            Some(f64::NAN)
                        } else {
                            any_number = true;
                            v.parse::<f64>().ok().filter(|x| x.is_finite())
                        }
                    })
                    .collect();
                let column = match numbers {
                    Some(numbers) if any_number => Column::Numeric(numbers),
                    _ => Column::Categorical(values),
                };
                (name, column)
            })
            .collect();
        Ok(Table { path: path.to_path_buf(), columns, rows })
    }

    /// Equal cell by cell, NaN equal to NaN and zeros compared by sign.
    fn assert_same(a: &Table, b: &Table) {
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.columns.len(), b.columns.len());
        for ((na, ca), (nb, cb)) in a.columns.iter().zip(&b.columns) {
            assert_eq!(na, nb);
            match (ca, cb) {
                (Column::Numeric(x), Column::Numeric(y)) => {
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(x), bits(y), "column `{na}`");
                }
                _ => assert_eq!(ca, cb, "column `{na}`"),
            }
        }
    }

    const TRICKY: &str = "id, price ,city,note,empty,code\n\
        1,1.5,Paris,\"plain\",,007\n\
        2, -0 ,\"New York, NY\",\"says \"\"hi\"\"\",NA,1e-310\n\
        3,NaN,Oslo,\"two\nlines\",null,-1E+3\n\
        \n\
        4,,\"\",\"\",nan,.5\n\
        5,2.2250738585072014e-308,Rome,x,,+5.\r\n\
        6,1e400,Lima,y,,9007199254740993\n";

    #[test]
    fn chunks_of_any_size_give_the_sequential_table() {
        let path = PathBuf::from("tricky.csv");
        let expected = sequential(TRICKY.as_bytes(), &path).unwrap();
        // `price` holds 1e400 (not finite): categorical; `empty` is all missing: categorical.
        assert_eq!(expected.column("price").unwrap().kind(), "categorical");
        assert_eq!(expected.column("code").unwrap().kind(), "numeric");
        for chunk_bytes in [1, 2, 3, 5, 8, 13, 21, 34, 1000] {
            let table = read_in_chunks(TRICKY.as_bytes(), &path, chunk_bytes).unwrap();
            assert_same(&table, &expected);
        }
        assert_same(&read(TRICKY.as_bytes(), &path).unwrap(), &expected);
    }

    #[test]
    fn numbers_missing_values_and_categories_match_over_many_chunks() {
        // Seeded cells of every kind; LF, CRLF and CR lines and blank ones; a file without a
        // quote character (cut at line breaks and commas), one with a few quoted cells and one
        // with every cell quoted (both through the csv reader).
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let cells = [
            "0",
            "-0",
            "+0.0",
            "1e-310",
            "-4.9e-324",
            "1.7976931348623157e308",
            "inf",
            "-inf",
            "NaN",
            "nan",
            "NA",
            "null",
            "",
            " 3.25 ",
            "0.1",
            "123456789012345678901234567890",
            "1_000",
            "0x10",
            "1.",
            ".5",
            "5e",
            "e5",
            "abc",
            "1,5",
        ];
        // The cells above that are numbers or missing.
        const NUMERIC: [usize; 13] = [0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14];
        for quoting in ["none", "some", "all"] {
            let mut text = String::from("a,b,c,d\n");
            for row in 0..3000 {
                let fields: Vec<String> = (0..4)
                    .map(|col| {
                        // Columns a and b only ever hold numbers or missing values.
                        let pick = match col {
                            0 | 1 => NUMERIC[(next() % NUMERIC.len() as u64) as usize],
                            _ => (next() % cells.len() as u64) as usize,
                        };
                        let value = if col == 0 && pick == 0 {
                            format!("{}", f64::from_bits(next() >> 2))
                        } else if col == 1 && pick < 6 {
                            format!("{:e}", (next() as f64) * 1e-300)
                        } else {
                            cells[pick].to_string()
                        };
                        match quoting {
                            "none" => value.replace(',', ";"),
                            "some" if !value.contains(',') => value,
                            _ => format!("\"{value}\""),
                        }
                    })
                    .collect();
                text.push_str(&fields.join(","));
                text.push_str(match row % 13 {
                    0 => "\r\n",
                    5 => "\r",
                    9 => "\n\n\r\n",
                    _ => "\n",
                });
            }
            assert_eq!(text.contains('"'), quoting != "none");
            let path = PathBuf::from("many.csv");
            let expected = sequential(text.as_bytes(), &path).unwrap();
            assert_eq!(expected.column("a").unwrap().kind(), "numeric");
            assert_eq!(expected.column("b").unwrap().kind(), "numeric");
            assert_eq!(expected.column("c").unwrap().kind(), "categorical");
            for chunk_bytes in [64, 1000, 4096, usize::MAX] {
                assert_same(
                    &read_in_chunks(text.as_bytes(), &path, chunk_bytes).unwrap(),
                    &expected,
                );
            }
        }
    }

    /// Cells at the edges of what `str::parse` takes, rounds or refuses.
    const EDGES: &[&str] = &[
        "1e-310",
        "-0",
        "0",
        "inf",
        "-inf",
        "NaN",
        "2.2250738585072011e-308",
        "4.9406564584124654e-324",
        "2.4703282292062327e-324",
        "1.7976931348623158e308",
        "0.1",
        "0.30000000000000004",
        "9007199254740993",
        "+1",
        "1.",
        ".5",
        "1e+5",
        "1E5",
        "-.5",
        "+.5e-3",
        "00001.5",
        "1e400",
        "1e-400",
        "-1e-400",
        "0e99999999999999999999",
        "1e-99999999999999999999",
        "1e99999999999999999999",
        "0.000000000000000000000001e24",
        "1.0000000000000001110223024625156540423631668090820312500000000000000000001",
        "1.00000000000000011102230246251565404236316680908203125",
        "Infinity",
        "-INF",
        "nAn",
        "+",
        "-",
        ".",
        "e",
        "1e",
        "1e+",
        "--1",
        "+-1",
        "1.2.3",
        "1e5.5",
        "0x1p3",
        "1,5",
        "١",
        "1 2",
        "1d5",
        "1f",
        "inf1",
        "1_0",
        "",
        " 1",
    ];

    #[test]
    fn numbers_parse_as_str_parse_does() {
        let mut state = 7_u64;
        let mut values: Vec<String> = EDGES.iter().map(ToString::to_string).collect();
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let x = f64::from_bits(state);
            values.push(format!("{x}"));
            values.push(format!("{x:e}"));
            values.push(format!("{:.6}", (state >> 11) as f64 / 1e9));
            values.push(format!("{x:.25e}"));
            values.push(format!("{:.17}", (state >> 11) as f64 / 9e15));
            values.push(format!("{}{:0>40}", state % 1000, state));
        }
        for v in &values {
            let std = v.parse::<f64>().ok().filter(|x| x.is_finite());
            assert_eq!(number(v).map(f64::to_bits), std.map(f64::to_bits), "`{v}`");
        }
    }

    #[test]
    fn a_bad_line_in_a_later_chunk_is_named() {
        let mut text = String::from("a,b\n");
        for i in 0..500 {
            text.push_str(&format!("{i},{}\n", i * 2));
        }
        text.push_str("7\n8,9\n");
        let path = PathBuf::from("ragged.csv");
        for chunk_bytes in [16, 100, usize::MAX] {
            let err = read_in_chunks(text.as_bytes(), &path, chunk_bytes).unwrap_err().to_string();
            assert_eq!(err, "ragged.csv: line 502: 1 fields, the header has 2", "{chunk_bytes}");
        }
        let mut bad = text.replace("7\n", "7,8\n").into_bytes();
        let at = bad.len() - 2;
        bad[at] = 0xff;
        let err = read_in_chunks(&bad, &path, 16).unwrap_err().to_string();
        assert_eq!(err, "ragged.csv: line 503: field 2 is not UTF-8");
    }

    #[test]
    fn a_header_alone_has_no_rows() {
        let path = PathBuf::from("h.csv");
        for text in ["a,b\n", "a,b", "a,b\n\n\n"] {
            let err = read_in_chunks(text.as_bytes(), &path, 1).unwrap_err().to_string();
            assert!(err.contains("no data rows"), "{err}");
        }
    }
}
