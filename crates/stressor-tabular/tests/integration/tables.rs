//! Reading tables: CSV with missing values, Parquet written by the Arrow writer, and errors that
//! name the file, line or column.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Float32Array, Int64Array, RecordBatch, StringArray,
    types::Int32Type,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use stressor_tabular::{Column, Table};

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
    let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3), Some(4)]));
    let floats: ArrayRef = Arc::new(Float32Array::from(vec![0.5, 1.5, 2.5, 3.5]));
    let text: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), Some("b"), None, Some("a")]));
    let dict: ArrayRef =
        Arc::new(vec!["lo", "hi", "lo", "lo"].into_iter().collect::<DictionaryArray<Int32Type>>());
    let flags: ArrayRef = Arc::new(BooleanArray::from(vec![true, false, true, true]));
    let batch = RecordBatch::try_from_iter([
        ("ints", ints),
        ("floats", floats),
        ("text", text),
        ("dict", dict),
        ("flags", flags),
    ])
    .unwrap();
    for (name, compression) in [
        ("snappy.parquet", Compression::SNAPPY),
        ("zstd.parquet", Compression::ZSTD(Default::default())),
        ("plain.pq", Compression::UNCOMPRESSED),
    ] {
        let path = d.join(name);
        let props = WriterProperties::builder().set_compression(compression).build();
        let mut writer = ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            batch.schema(),
            Some(props),
        )
        .unwrap();
        writer.write(&batch).unwrap();
        writer.write(&batch).unwrap(); // two batches are appended in order
        writer.close().unwrap();
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
        let text: Vec<String> = ["a", "b", "", "a", "a", "b", "", "a"].map(String::from).to_vec();
        assert_eq!(t.column("text").unwrap(), &Column::Categorical(text));
        let dict: Vec<String> =
            ["lo", "hi", "lo", "lo", "lo", "hi", "lo", "lo"].map(String::from).to_vec();
        assert_eq!(t.column("dict").unwrap(), &Column::Categorical(dict));
        assert!(matches!(t.column("flags").unwrap(), Column::Categorical(v) if v[0] == "true"));
        // In chunks of 3 rows, only the named columns, as the given kinds: the same values.
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
        assert!(sizes.iter().all(|&n| n <= 3) && sizes.iter().sum::<usize>() == 8, "{sizes:?}");
        assert_eq!(floats, [0.5, 1.5, 2.5, 3.5].repeat(2));
        let wrong = [("text".to_string(), "numeric")];
        let err = stressor_tabular::for_each_chunk(&path, 3, &wrong, |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("`text` is numeric in the reference"), "{err}");
    }
    let bogus = d.join("bogus.parquet");
    std::fs::write(&bogus, "a,b\n1,2\n").unwrap();
    let err = Table::read(&bogus).unwrap_err().to_string();
    assert!(err.contains("bogus.parquet") && err.contains("not a Parquet file"), "{err}");
}
