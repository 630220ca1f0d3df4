//! Reading tables: CSV with missing values, Parquet written with the parquet crate's own writer
//! (every column type the reader accepts, and those it refuses), and errors that name the file,
//! line or column.

use std::path::Path;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DoubleType, FixedLenByteArray, FixedLenByteArrayType,
    FloatType, Int32Type, Int64Type, Int96, Int96Type,
};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use stressor_tabular::{Column, Table};

/// One column chunk for [`write_parquet`]: the values present, in order.
enum Values {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    I96(usize),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<Vec<u8>>),
    Fixed(Vec<Vec<u8>>),
}

/// A column chunk: its values, and its definition and repetition levels where it has them.
type Chunk = (Values, Option<Vec<i16>>, Option<Vec<i16>>);

/// Writes a Parquet file of the schema `message`, one row group per entry of `groups`, each
/// with a chunk per column.
fn write_parquet(path: &Path, message: &str, props: WriterProperties, groups: Vec<Vec<Chunk>>) {
    let schema = Arc::new(parse_message_type(message).unwrap());
    let file = std::fs::File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, schema, Arc::new(props)).unwrap();
    for group in groups {
        let mut row_group = writer.next_row_group().unwrap();
        for (values, def, rep) in group {
            let mut column = row_group.next_column().unwrap().unwrap();
            let (def, rep) = (def.as_deref(), rep.as_deref());
            let bytes = |v: Vec<Vec<u8>>| v.into_iter().map(ByteArray::from).collect::<Vec<_>>();
            let written = match values {
                Values::Bool(v) => column.typed::<BoolType>().write_batch(&v, def, rep),
                Values::I32(v) => column.typed::<Int32Type>().write_batch(&v, def, rep),
                Values::I64(v) => column.typed::<Int64Type>().write_batch(&v, def, rep),
                Values::I96(n) => {
                    let v = vec![Int96::from(vec![0, 0, 2_440_588]); n];
                    column.typed::<Int96Type>().write_batch(&v, def, rep)
                }
                Values::F32(v) => column.typed::<FloatType>().write_batch(&v, def, rep),
                Values::F64(v) => column.typed::<DoubleType>().write_batch(&v, def, rep),
                Values::Bytes(v) => {
                    column.typed::<ByteArrayType>().write_batch(&bytes(v), def, rep)
                }
                Values::Fixed(v) => {
                    let v: Vec<_> = bytes(v).into_iter().map(FixedLenByteArray::from).collect();
                    column.typed::<FixedLenByteArrayType>().write_batch(&v, def, rep)
                }
            };
            written.unwrap();
            column.close().unwrap();
        }
        row_group.close().unwrap();
    }
    writer.close().unwrap();
}

fn text(values: &[&str]) -> Values {
    Values::Bytes(values.iter().map(|s| s.as_bytes().to_vec()).collect())
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| (*s).to_string()).collect()
}

fn dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("stressor-tabular-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn csv_reads_missing_values_and_names_bad_lines() {
    let d = dir();
    let good = d.join("good.csv");
    std::fs::write(&good, "a,b,c\n1,x,\nNA,y,2\n3,,4\n").unwrap();
    let t = Table::read(&good).unwrap();
    assert_eq!(t.rows, 3);
    match t.column("a").unwrap() {
        Column::Numeric(v) => assert!(v[0] == 1.0 && v[1].is_nan() && v[2] == 3.0),
        Column::Categorical(_) => panic!("`a` should be numeric"),
    }
    assert_eq!(
        t.column("b").unwrap(),
        &Column::Categorical(vec!["x".into(), "y".into(), String::new()])
    );
    assert!((t.column("c").unwrap().missing_share() - 1.0 / 3.0).abs() < 1e-12);
    let ragged = d.join("ragged.csv");
    std::fs::write(&ragged, "a,b\n1,2\n3\n").unwrap();
    let err = Table::read(&ragged).unwrap_err().to_string();
    assert!(err.contains("ragged.csv") && err.contains("line 3"), "{err}");
    let twice = d.join("twice.csv");
    std::fs::write(&twice, "a,a\n1,2\n").unwrap();
    let err = Table::read(&twice).unwrap_err().to_string();
    assert!(err.contains("`a` appears twice"), "{err}");
    let empty = d.join("empty.csv");
    std::fs::write(&empty, "a,b\n").unwrap();
    assert!(Table::read(&empty).unwrap_err().to_string().contains("no data rows"));
}

#[test]
fn parquet_reads_numbers_text_dictionaries_and_nulls() {
    let d = dir();
    let message = "message m {
        OPTIONAL INT64 ints;
        REQUIRED FLOAT floats;
        OPTIONAL BYTE_ARRAY text (STRING);
        REQUIRED BYTE_ARRAY dict (STRING);
        REQUIRED BOOLEAN flags;
    }";
    // The same four rows in each of two row groups, which are read in order.
    let group = || {
        vec![
            (Values::I64(vec![1, 3, 4]), Some(vec![1, 0, 1, 1]), None),
            (Values::F32(vec![0.5, 1.5, 2.5, 3.5]), None, None),
            (text(&["a", "b", "a"]), Some(vec![1, 1, 0, 1]), None),
            (text(&["lo", "hi", "lo", "lo"]), None, None),
            (Values::Bool(vec![true, false, true, true]), None, None),
        ]
    };
    for (name, compression) in [
        ("snappy.parquet", Compression::SNAPPY),
        ("zstd.parquet", Compression::ZSTD(Default::default())),
        ("plain.pq", Compression::UNCOMPRESSED),
    ] {
        let path = d.join(name);
        // Only `dict` is dictionary-encoded, as pandas writes a categorical.
        let props = WriterProperties::builder()
            .set_compression(compression)
            .set_dictionary_enabled(false)
            .set_column_dictionary_enabled("dict".into(), true)
            .build();
        write_parquet(&path, message, props, vec![group(), group()]);
        let file = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let chunks = file.metadata().row_group(0).columns();
        assert!(chunks[3].dictionary_page_offset().is_some(), "{name}: `dict` has a dictionary");
        assert!(chunks[2].dictionary_page_offset().is_none(), "{name}: `text` has none");
        let t = Table::read(&path).unwrap();
        assert_eq!(t.rows, 8, "{name}");
        match t.column("ints").unwrap() {
            Column::Numeric(v) => {
                assert_eq!(v.len(), 8);
                assert!(v[0] == 1.0 && v[1].is_nan() && v[7] == 4.0);
            }
            Column::Categorical(_) => panic!("ints should be numeric"),
        }
        assert_eq!(t.column("floats").unwrap(), &Column::Numeric([0.5, 1.5, 2.5, 3.5].repeat(2)));
        let text = strings(&["a", "b", "", "a", "a", "b", "", "a"]);
        assert_eq!(t.column("text").unwrap(), &Column::Categorical(text));
        let dict = strings(&["lo", "hi", "lo", "lo", "lo", "hi", "lo", "lo"]);
        assert_eq!(t.column("dict").unwrap(), &Column::Categorical(dict));
        let flags = strings(&["true", "false", "true", "true", "true", "false", "true", "true"]);
        assert_eq!(t.column("flags").unwrap(), &Column::Categorical(flags));
        // The streaming reader, one column after another, in one chunk: the table that `read`
        // decoded column by column in parallel (Debug, so that NaN equals NaN).
        let all: Vec<(String, &'static str)> =
            t.columns.iter().map(|(n, c)| (n.clone(), c.kind())).collect();
        let mut whole = None;
        stressor_tabular::for_each_chunk(&path, usize::MAX, &all, |chunk| {
            whole = Some(chunk);
            Ok(())
        })
        .unwrap();
        assert_eq!(format!("{:?}", whole.unwrap().columns), format!("{:?}", t.columns), "{name}");
        // In chunks of 3 rows, only the named columns, as the given kinds: the same values, the
        // chunks running on across row groups as Arrow's record batches did.
        let kinds = [("floats".to_string(), "numeric"), ("dict".to_string(), "categorical")];
        let mut floats = Vec::new();
        let mut sizes = Vec::new();
        let total = stressor_tabular::for_each_chunk(&path, 3, &kinds, |chunk| {
            sizes.push(chunk.rows);
            assert_eq!(chunk.columns.len(), 2);
            if let Some(Column::Numeric(v)) = chunk.column("floats") {
                floats.extend_from_slice(v);
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(total, 8);
        assert_eq!(sizes, [3, 3, 2]);
        assert_eq!(floats, [0.5, 1.5, 2.5, 3.5].repeat(2));
        let wrong = [("text".to_string(), "numeric")];
        let err = stressor_tabular::for_each_chunk(&path, 3, &wrong, |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("`text` is numeric in the reference"), "{err}");
        let missing = [("nope".to_string(), "numeric")];
        let err = stressor_tabular::for_each_chunk(&path, 3, &missing, |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("column `nope` is missing"), "{err}");
    }
    let bogus = d.join("bogus.parquet");
    std::fs::write(&bogus, "a,b\n1,2\n").unwrap();
    let err = Table::read(&bogus).unwrap_err().to_string();
    assert!(err.contains("bogus.parquet") && err.contains("not a Parquet file"), "{err}");
    let empty = d.join("empty.parquet");
    write_parquet(&empty, "message m { REQUIRED INT32 a; }", WriterProperties::default(), vec![]);
    let err = Table::read(&empty).unwrap_err().to_string();
    assert!(err.contains("empty.parquet") && err.contains("no data rows"), "{err}");
}

/// `value` as a big-endian two's complement integer of `len` bytes.
fn be(value: i128, len: usize) -> Vec<u8> {
    let sign = if value < 0 { 0xff } else { 0 };
    let mut out = vec![sign; len.saturating_sub(16)];
    out.extend_from_slice(&value.to_be_bytes()[16 - len.min(16)..]);
    out
}

/// Every numeric encoding Arrow cast to `Float64`, with the values it gave (checked bit for bit
/// against the Arrow reader when this reader replaced it).
#[test]
fn parquet_reads_unsigned_decimal_and_half_float_columns_as_numbers() {
    let path = dir().join("numbers.parquet");
    let message = "message m {
        REQUIRED INT32 u8 (UINT_8);
        REQUIRED INT32 i8 (INTEGER(8,true));
        REQUIRED INT32 u32 (INTEGER(32,false));
        REQUIRED INT64 u64 (UINT_64);
        REQUIRED DOUBLE f64;
        OPTIONAL INT32 dec32 (DECIMAL(9,2));
        REQUIRED INT64 dec64 (DECIMAL(18,4));
        REQUIRED FIXED_LEN_BYTE_ARRAY (5) flba (DECIMAL(10,3));
        REQUIRED FIXED_LEN_BYTE_ARRAY (20) wide (DECIMAL(45,5));
        OPTIONAL BYTE_ARRAY bytes (DECIMAL(20,4));
        OPTIONAL FIXED_LEN_BYTE_ARRAY (2) half (FLOAT16);
        REQUIRED BYTE_ARRAY json (JSON);
    }";
    let two_130 = 1_i128 << 126; // 2^130 = this × 16, written as 20 bytes below
    let wide = |negative: bool| {
        let mut b = be(if negative { -two_130 } else { two_130 }, 20);
        // Multiply by 16: shift the 20 bytes left by 4 bits.
        let mut carry = 0u8;
        for byte in b.iter_mut().rev() {
            let next = *byte >> 4;
            *byte = (*byte << 4) | carry;
            carry = next;
        }
        b
    };
    write_parquet(
        &path,
        message,
        WriterProperties::default(),
        vec![vec![
            (Values::I32(vec![-1, 300, 7]), None, None),
            (Values::I32(vec![-1, 300, -128]), None, None),
            (Values::I32(vec![-1, 0, i32::MIN]), None, None),
            (Values::I64(vec![-1, 0, i64::MIN]), None, None),
            (Values::F64(vec![0.1, f64::NEG_INFINITY, -0.0]), None, None),
            (Values::I32(vec![12345, -1]), Some(vec![1, 0, 1]), None),
            (Values::I64(vec![-5, 81_764_416_680_803_268, 0]), None, None),
            (Values::Fixed(vec![be(-1_234_567, 5), be(1, 5), be(0, 5)]), None, None),
            (Values::Fixed(vec![wide(false), wide(true), be(-2, 20)]), None, None),
            (Values::Bytes(vec![be(-15, 1), vec![]]), Some(vec![1, 0, 1]), None),
            (Values::Fixed(vec![vec![0x00, 0x3e], vec![0x00, 0x7c]]), Some(vec![1, 1, 0]), None),
            (text(&["{\"a\":1}", "[]", "null"]), None, None),
        ]],
    );
    let t = Table::read(&path).unwrap();
    let numbers = |name: &str| match t.column(name).unwrap() {
        Column::Numeric(v) => v.clone(),
        Column::Categorical(_) => panic!("`{name}` should be numeric"),
    };
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    // Unsigned integers are reinterpreted, narrow ones truncated, as Arrow did.
    assert_eq!(numbers("u8"), [255.0, 44.0, 7.0]);
    assert_eq!(numbers("i8"), [-1.0, 44.0, -128.0]);
    assert_eq!(numbers("u32"), [4_294_967_295.0, 0.0, 2_147_483_648.0]);
    assert_eq!(numbers("u64"), [18_446_744_073_709_551_615.0, 0.0, 9_223_372_036_854_775_808.0]);
    assert_eq!(bits(&numbers("f64")), bits(&[0.1, f64::NEG_INFINITY, -0.0]));
    let dec32 = numbers("dec32");
    assert!(dec32[0] == 123.45 && dec32[1].is_nan() && dec32[2] == -0.01, "{dec32:?}");
    // Past 2^53 the decimal is rounded once, from its exact value, as arrow-cast does: dividing
    // the unscaled value's f64 by 10^4 would round twice and give 8176441668080.326.
    assert_eq!(numbers("dec64"), [-0.0005, 8_176_441_668_080.327, 0.0]);
    assert_eq!(numbers("flba"), [-1234.567, 0.001, 0.0]);
    let exact: f64 = "1361129467683753853853498429727072845824e-5".parse().unwrap();
    assert_eq!(numbers("wide"), [exact, -exact, -0.00002]);
    // An empty byte array is 0, as Arrow read it.
    let bytes = numbers("bytes");
    assert!(bytes[0] == -0.0015 && bytes[1].is_nan() && bytes[2] == 0.0, "{bytes:?}");
    let half = numbers("half");
    assert!(half[0] == 1.5 && half[1] == f64::INFINITY && half[2].is_nan(), "{half:?}");
    assert_eq!(
        t.column("json").unwrap(),
        &Column::Categorical(strings(&["{\"a\":1}", "[]", "null"]))
    );
}

/// Types that are neither numbers nor text are refused by name, as the Arrow reader refused
/// them: binary (and `ENUM`, which Arrow read as binary), dates, timestamps, nested columns.
#[test]
fn parquet_refuses_other_types_naming_the_column() {
    let d = dir();
    let four = || Some(vec![1, 1, 1, 1]);
    for (name, column, values, def, rep) in [
        ("binary", "REQUIRED BYTE_ARRAY e;", text(&["a", "b", "c", "d"]), None, None),
        ("enum", "REQUIRED BYTE_ARRAY e (ENUM);", text(&["a", "b", "c", "d"]), None, None),
        ("int96", "REQUIRED INT96 e;", Values::I96(4), None, None),
        ("date", "OPTIONAL INT32 e (DATE);", Values::I32(vec![1, 2, 3, 4]), four(), None),
        (
            "timestamp",
            "REQUIRED INT64 e (TIMESTAMP(MICROS,true));",
            Values::I64(vec![1; 4]),
            None,
            None,
        ),
        ("time", "REQUIRED INT32 e (TIME(MILLIS,false));", Values::I32(vec![1; 4]), None, None),
        (
            "fixed",
            "REQUIRED FIXED_LEN_BYTE_ARRAY (3) e;",
            Values::Fixed(vec![vec![0; 3]; 4]),
            None,
            None,
        ),
        ("repeated", "REPEATED INT32 e;", Values::I32(vec![1; 4]), four(), Some(vec![0; 4])),
        ("nested", "OPTIONAL group e { REQUIRED INT32 x; }", Values::I32(vec![1; 4]), four(), None),
    ] {
        let path = d.join(format!("{name}.parquet"));
        let message = format!("message m {{ REQUIRED INT32 ok; {column} }}");
        let ok = (Values::I32(vec![1, 2, 3, 4]), None, None);
        write_parquet(
            &path,
            &message,
            WriterProperties::default(),
            vec![vec![ok, (values, def, rep)]],
        );
        let err = Table::read(&path).unwrap_err().to_string();
        assert!(
            err.contains(&format!("{name}.parquet"))
                && err.contains("column `e` has type")
                && err.contains("which is neither numeric nor text"),
            "{err}"
        );
        for kind in ["numeric", "categorical"] {
            let kinds = [("e".to_string(), kind)];
            let err = stressor_tabular::for_each_chunk(&path, 2, &kinds, |_| Ok(())).unwrap_err();
            assert!(err.to_string().contains(&format!("`e` is {kind} in the reference")), "{err}");
        }
        // The other column still reads on its own.
        let kinds = [("ok".to_string(), "numeric")];
        assert_eq!(stressor_tabular::for_each_chunk(&path, 3, &kinds, |_| Ok(())).unwrap(), 4);
    }
}

/// The Arrow schema that Arrow writers store (`ARROW:schema`, base64 of an IPC message) types a
/// column as the Arrow reader did: an `INT64` written from a duration is refused, as is a
/// dictionary of numbers; plain binary written from text is text. (Schemas of `ok: Int32` and
/// an `e` column, as arrow-rs 60 wrote them.)
#[test]
fn parquet_follows_the_arrow_schema_hint() {
    const DURATION: &str = "/////7wAAAAQAAAAAAAKAAwACgAJAAQACgAAABAAAAAAAQQACAAIAAAABAAIAAAABAAAAAI\
        AAABYAAAAFAAAABAAFAAQAA4ADwAEAAAACAAQAAAAHAAAAAwAAAAAAAESGAAAAAAAAAAAAAYACAAGAAYAAAAAAAMAAQ\
        AAAGUAAAAQABQAEAAAAA8ABAAAAAgAEAAAABgAAAAgAAAAAAAAAhwAAAAIAAwABAALAAgAAAAgAAAAAAAAAQAAAAACA\
        AAAb2sAAA==";
    const DICTIONARY_OF_INT64: &str = "/////9AAAAAQAAAAAAAKAAwACgAJAAQACgAAAAgAAAAAAQQAxP///wQAAAAC\
        AAAAdAAAABQAAAAQABgAFAAOAA8ABAAQAAgAEAAAADAAAAA4AAAAAAABAhAAAAAwAAAACAAIAAAABAAIAAAABAAAALj\
        ///8IAAAAAAAAAcT///9AAAAAAAAAAQAAAAABAAAAZQAAABAAFAAQAAAADwAEAAAACAAQAAAAGAAAACAAAAAAAAACHA\
        AAAAgADAAEAAsACAAAACAAAAAAAAABAAAAAAIAAABvawAA";
    const UTF8: &str = "/////7QAAAAQAAAAAAAKAAwACgAJAAQACgAAABAAAAAAAQQACAAIAAAABAAIAAAABAAAAAIAAAB\
        QAAAAFAAAABAAFAAQAA4ADwAEAAAACAAQAAAAGAAAAAwAAAAAAAEFEAAAAAAAAAAEAAQABAAAAAEAAABlAAAAEAAUAB\
        AAAAAPAAQAAAAIABAAAAAYAAAAIAAAAAAAAAIcAAAACAAMAAQACwAIAAAAIAAAAAAAAAEAAAAAAgAAAG9rAAA=";
    let d = dir();
    let write = |name: &str, column: &str, values: Values, schema: Option<&str>| {
        let path = d.join(format!("{name}.parquet"));
        let metadata =
            schema.map(|s| vec![KeyValue::new("ARROW:schema".to_string(), s.to_string())]);
        let props = WriterProperties::builder().set_key_value_metadata(metadata).build();
        let message = format!("message m {{ REQUIRED INT32 ok; {column} }}");
        let ok = (Values::I32(vec![1, 2]), None, None);
        write_parquet(&path, &message, props, vec![vec![ok, (values, None, None)]]);
        Table::read(&path).map_err(|e| e.to_string())
    };
    let int64 = || Values::I64(vec![5, 6]);
    // Without the hint, an INT64 is a number and a byte array binary.
    let plain = write("int64", "REQUIRED INT64 e;", int64(), None).unwrap();
    assert_eq!(plain.column("e").unwrap(), &Column::Numeric(vec![5.0, 6.0]));
    let err = write("binary", "REQUIRED BYTE_ARRAY e;", text(&["x", "y"]), None).unwrap_err();
    assert!(err.contains("has type BYTE_ARRAY (binary), which is neither"), "{err}");
    let err = write("duration", "REQUIRED INT64 e;", int64(), Some(DURATION)).unwrap_err();
    assert!(err.contains("column `e` has type INT64 holding an Arrow Duration"), "{err}");
    let err = write("dictionary", "REQUIRED INT64 e;", int64(), Some(DICTIONARY_OF_INT64));
    let err = err.unwrap_err();
    assert!(err.contains("holding an Arrow Dictionary of Int64, which is neither"), "{err}");
    let hinted = write("utf8", "REQUIRED BYTE_ARRAY e;", text(&["x", "y"]), Some(UTF8)).unwrap();
    assert_eq!(hinted.column("e").unwrap(), &Column::Categorical(strings(&["x", "y"])));
    // A hint that does not decode, or names other columns, is ignored.
    let garbled = write("garbled", "REQUIRED INT64 e;", int64(), Some("not base64!")).unwrap();
    assert_eq!(garbled.column("e").unwrap(), &Column::Numeric(vec![5.0, 6.0]));
    let other = write("other", "REQUIRED INT64 f;", int64(), Some(DURATION)).unwrap();
    assert_eq!(other.column("f").unwrap(), &Column::Numeric(vec![5.0, 6.0]));
}
