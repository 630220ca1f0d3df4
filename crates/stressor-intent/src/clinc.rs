//! Intent corpora: the vendored CLINC150 data set and a reader for a user's corpus in its layout.
//!
//! A corpus file is one JSON object (plain, or gzipped when its name ends in `.gz`) with the
//! splits `train`, `val`, `test`, `oos_train`, `oos_val` and `oos_test`, each a list of
//! `[text, intent]` rows — CLINC150's own `data_full.json` layout. `train` is required; a
//! missing split is empty. The in-scope intents are the distinct labels of `train` other than
//! `oos`, sorted; a `val` or `test` row with another label is an error naming it, and a row
//! labelled `oos` (in any split) or any row of an `oos_*` split is out of scope
//! (`intent: None`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::Path;

use serde_json::Value;

use crate::Query;

/// The label CLINC150 gives an out-of-scope query.
pub const OOS_LABEL: &str = "oos";

/// CLINC150's `data_full.json`, gzipped (see `data/clinc150/README.md`; CC BY 3.0).
const CLINC150_GZ: &[u8] = include_bytes!("../data/clinc150/data_full.json.gz");
/// CLINC150's `domains.json`: each domain's intents.
const CLINC150_DOMAINS: &[u8] = include_bytes!("../data/clinc150/domains.json");

/// An intent data set, split as CLINC150 splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corpus {
    /// The in-scope intents, sorted; [`Query::intent`] indexes this list.
    pub intents: Vec<String>,
    /// The domains grouping the intents (empty when the corpus has none).
    pub domains: Vec<Domain>,
    /// In-scope training queries.
    pub train: Vec<Query>,
    /// In-scope validation queries.
    pub val: Vec<Query>,
    /// In-scope test queries.
    pub test: Vec<Query>,
    /// Out-of-scope training queries (`intent: None`).
    pub oos_train: Vec<Query>,
    /// Out-of-scope validation queries.
    pub oos_val: Vec<Query>,
    /// Out-of-scope test queries.
    pub oos_test: Vec<Query>,
}

/// A group of intents (CLINC150's `banking`, `travel`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// The domain's name.
    pub name: String,
    /// Its intents, as indices into [`Corpus::intents`], sorted.
    pub intents: Vec<u32>,
}

/// Why a corpus could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read (or its gzip stream is corrupt).
    #[error("failed to read {file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{file} is not valid JSON: {source}")]
    Json {
        /// The file.
        file: String,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// The JSON does not have the corpus layout; `at` locates the value (`train[12]`).
    #[error("{file}: {at}: {message}")]
    Layout {
        /// The file.
        file: String,
        /// Where in the file (`train`, `test[3]`, `domains.banking[2]`).
        at: String,
        /// What is wrong.
        message: String,
    },
    /// A `val` or `test` row (or a domain) names an intent that `train` does not have.
    #[error("{file}: {at}: unknown intent {intent:?} (not in train)")]
    UnknownIntent {
        /// The file.
        file: String,
        /// Where in the file.
        at: String,
        /// The intent named.
        intent: String,
    },
}

/// The vendored CLINC150 data set (Larson et al., EMNLP 2019; CC BY 3.0): 150 intents in 10
/// domains, 15,000 / 3,000 / 4,500 in-scope train / val / test queries and 100 / 100 / 1,000
/// out-of-scope ones.
///
/// # Errors
/// None in practice: the data is compiled in and checked by the tests; a [`DataError`] would
/// mean the vendored files were damaged.
///
/// # Examples
/// ```
/// let corpus = stressor_intent::clinc150()?;
/// assert_eq!(corpus.intents.len(), 150);
/// assert_eq!(corpus.domains.len(), 10);
/// assert_eq!(corpus.train.len(), 15_000);
/// # Ok::<(), stressor_intent::DataError>(())
/// ```
pub fn clinc150() -> Result<Corpus, DataError> {
    let file = "data_full.json.gz (vendored CLINC150)";
    let json = gunzip(CLINC150_GZ, file)?;
    let mut corpus = parse_corpus(&json, file)?;
    let domains_file = "domains.json (vendored CLINC150)";
    let domains: Value = serde_json::from_slice(CLINC150_DOMAINS)
        .map_err(|source| DataError::Json { file: domains_file.into(), source })?;
    corpus.domains = parse_domains(&domains, &corpus.intents, domains_file)?;
    Ok(corpus)
}

/// Reads a corpus in CLINC150's `data_full.json` layout (see the module docs), gunzipping it
/// when the name ends in `.gz`. The corpus has no domains.
///
/// # Errors
/// A [`DataError`] naming the file and, for a bad row, the row (`train[12]: expected [text,
/// intent]`); an unknown intent in `val` or `test` is [`DataError::UnknownIntent`].
pub fn read_corpus(path: &Path) -> Result<Corpus, DataError> {
    let file = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|source| DataError::Io { file: file.clone(), source })?;
    let json = if path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("gz")) {
        gunzip(&bytes, &file)?
    } else {
        bytes
    };
    parse_corpus(&json, &file)
}

/// Parses a corpus from JSON bytes; `file` names them in errors.
///
/// # Errors
/// As [`read_corpus`].
pub fn parse_corpus(json: &[u8], file: &str) -> Result<Corpus, DataError> {
    let value: Value = serde_json::from_slice(json)
        .map_err(|source| DataError::Json { file: file.into(), source })?;
    let layout = |at: &str, message: &str| DataError::Layout {
        file: file.into(),
        at: at.into(),
        message: message.into(),
    };
    let Value::Object(object) = &value else {
        return Err(layout("top level", "expected an object with train, val, test, oos_* splits"));
    };
    const SPLITS: [&str; 6] = ["train", "val", "test", "oos_train", "oos_val", "oos_test"];
    if let Some(key) = object.keys().find(|key| !SPLITS.contains(&key.as_str())) {
        return Err(layout(key, &format!("unknown split (expected one of {})", SPLITS.join(", "))));
    }
    if !object.contains_key("train") {
        return Err(layout("train", "missing: a corpus needs training queries"));
    }
    let mut rows = BTreeMap::new();
    for split in SPLITS {
        rows.insert(split, split_rows(object.get(split), split, file)?);
    }
    let intents: Vec<String> = rows["train"]
        .iter()
        .filter(|(_, label)| *label != OOS_LABEL)
        .map(|(_, label)| (*label).to_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if intents.is_empty() {
        return Err(layout("train", "no in-scope queries"));
    }
    let index: BTreeMap<&str, u32> =
        intents.iter().zip(0u32..).map(|(name, idx)| (name.as_str(), idx)).collect();
    let in_scope = |split: &'static str| -> Result<(Vec<Query>, Vec<Query>), DataError> {
        let mut queries = Vec::new();
        let mut oos = Vec::new();
        for (row_idx, (text, label)) in rows[split].iter().enumerate() {
            if *label == OOS_LABEL {
                oos.push(Query { text: (*text).to_owned(), intent: None });
                continue;
            }
            let Some(&intent) = index.get(label) else {
                return Err(DataError::UnknownIntent {
                    file: file.into(),
                    at: format!("{split}[{row_idx}]"),
                    intent: (*label).to_owned(),
                });
            };
            queries.push(Query { text: (*text).to_owned(), intent: Some(intent) });
        }
        Ok((queries, oos))
    };
    let out_of_scope = |split: &'static str| -> Vec<Query> {
        rows[split]
            .iter()
            .map(|(text, _)| Query { text: (*text).to_owned(), intent: None })
            .collect()
    };
    let (train, mut oos_train) = in_scope("train")?;
    let (val, mut oos_val) = in_scope("val")?;
    let (test, mut oos_test) = in_scope("test")?;
    oos_train.extend(out_of_scope("oos_train"));
    oos_val.extend(out_of_scope("oos_val"));
    oos_test.extend(out_of_scope("oos_test"));
    Ok(Corpus { intents, domains: Vec::new(), train, val, test, oos_train, oos_val, oos_test })
}

impl Corpus {
    /// The index of the intent named `name`, if the corpus has it.
    pub fn intent_index(&self, name: &str) -> Option<u32> {
        let idx = self.intents.binary_search_by(|intent| intent.as_str().cmp(name)).ok()?;
        u32::try_from(idx).ok()
    }
}

/// The `[text, intent]` rows of one split (empty when absent).
fn split_rows<'a>(
    value: Option<&'a Value>,
    split: &str,
    file: &str,
) -> Result<Vec<(&'a str, &'a str)>, DataError> {
    let Some(value) = value else { return Ok(Vec::new()) };
    let Value::Array(items) = value else {
        return Err(DataError::Layout {
            file: file.into(),
            at: split.into(),
            message: "expected a list of [text, intent] rows".into(),
        });
    };
    items
        .iter()
        .enumerate()
        .map(|(row_idx, item)| match item.as_array().map(Vec::as_slice) {
            Some([Value::String(text), Value::String(label)]) => {
                Ok((text.as_str(), label.as_str()))
            }
            _ => Err(DataError::Layout {
                file: file.into(),
                at: format!("{split}[{row_idx}]"),
                message: "expected [text, intent] (two strings)".into(),
            }),
        })
        .collect()
}

/// The domains of a `domains.json` object, their intents resolved against `intents`.
fn parse_domains(value: &Value, intents: &[String], file: &str) -> Result<Vec<Domain>, DataError> {
    let layout = |at: String, message: &str| DataError::Layout {
        file: file.into(),
        at,
        message: message.into(),
    };
    let Value::Object(object) = value else {
        return Err(layout("top level".into(), "expected an object of domain: [intent, ...]"));
    };
    let mut domains = Vec::with_capacity(object.len());
    for (name, members) in object {
        let Value::Array(members) = members else {
            return Err(layout(name.clone(), "expected a list of intents"));
        };
        let mut indices = Vec::with_capacity(members.len());
        for (member_idx, member) in members.iter().enumerate() {
            let at = format!("{name}[{member_idx}]");
            let Value::String(intent) = member else {
                return Err(layout(at, "expected an intent name"));
            };
            let idx = intents.binary_search(intent).map_err(|_| DataError::UnknownIntent {
                file: file.into(),
                at,
                intent: intent.clone(),
            })?;
            indices.push(u32::try_from(idx).unwrap_or(u32::MAX));
        }
        indices.sort_unstable();
        domains.push(Domain { name: name.clone(), intents: indices });
    }
    domains.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(domains)
}

fn gunzip(bytes: &[u8], file: &str) -> Result<Vec<u8>, DataError> {
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|source| DataError::Io { file: file.into(), source })?;
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_err(json: &str, expect: &str) {
        match parse_corpus(json.as_bytes(), "c.json") {
            Ok(corpus) => panic!("expected an error, got {corpus:?}"),
            Err(err) => assert_eq!(err.to_string(), expect),
        }
    }

    #[test]
    fn clinc150_has_the_published_sizes() {
        let corpus = clinc150().expect("vendored data parses");
        assert_eq!(corpus.intents.len(), 150);
        assert!(corpus.intents.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(corpus.domains.len(), 10);
        let in_domains: BTreeSet<u32> =
            corpus.domains.iter().flat_map(|domain| domain.intents.iter().copied()).collect();
        assert_eq!(in_domains.len(), 150);
        let sizes = [
            corpus.train.len(),
            corpus.val.len(),
            corpus.test.len(),
            corpus.oos_train.len(),
            corpus.oos_val.len(),
            corpus.oos_test.len(),
        ];
        assert_eq!(sizes, [15_000, 3_000, 4_500, 100, 100, 1_000]);
        assert!(corpus.oos_test.iter().all(|query| query.intent.is_none()));
        let translate = corpus.intent_index("translate").expect("CLINC150 has translate");
        assert_eq!(
            corpus.train.iter().filter(|query| query.intent == Some(translate)).count(),
            100
        );
    }

    #[test]
    fn small_corpus_parses() {
        let corpus = parse_corpus(
            br#"{"train": [["hi", "greet"], ["bye", "leave"], ["what", "oos"]],
                 "test": [["hello", "greet"]], "oos_test": [["weather?", "oos"]]}"#,
            "c.json",
        )
        .expect("valid corpus");
        assert_eq!(corpus.intents, ["greet", "leave"]);
        assert_eq!(corpus.train[1], Query { text: "bye".into(), intent: Some(1) });
        assert_eq!(corpus.oos_train.len(), 1);
        assert_eq!(corpus.test, [Query { text: "hello".into(), intent: Some(0) }]);
        assert_eq!(corpus.oos_test.len(), 1);
        assert!(corpus.val.is_empty());
    }

    #[test]
    fn bad_corpora_name_the_file_and_row() {
        check_err(
            r#"{"train": [["a", "x"], ["b"]]}"#,
            "c.json: train[1]: expected [text, intent] (two strings)",
        );
        check_err(
            r#"{"train": [["a", "x"]], "test": [["b", "y"]]}"#,
            r#"c.json: test[0]: unknown intent "y" (not in train)"#,
        );
        check_err(
            r#"{"train": [["a", "x"]], "tset": []}"#,
            "c.json: tset: unknown split (expected one of train, val, test, oos_train, oos_val, oos_test)",
        );
        check_err(r#"{"val": []}"#, "c.json: train: missing: a corpus needs training queries");
        check_err(r#"{"train": [["a", "oos"]]}"#, "c.json: train: no in-scope queries");
        check_err(
            r#"[1, 2]"#,
            "c.json: top level: expected an object with train, val, test, oos_* splits",
        );
        check_err(
            r#"{"train": [["a", 3]]}"#,
            "c.json: train[0]: expected [text, intent] (two strings)",
        );
        assert!(
            parse_corpus(b"{\"train\": [", "c.json")
                .is_err_and(|err| err.to_string().starts_with("c.json is not valid JSON"))
        );
    }

    #[test]
    fn read_corpus_reads_plain_and_gzipped_files() {
        let dir = std::env::temp_dir().join(format!("stressor-intent-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let json = br#"{"train": [["hi", "greet"]]}"#;
        std::fs::write(dir.join("c.json"), json).expect("write");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, json).expect("gzip");
        std::fs::write(dir.join("c.json.gz"), encoder.finish().expect("gzip")).expect("write");
        std::fs::write(dir.join("bad.json.gz"), b"not gzip").expect("write");
        assert_eq!(read_corpus(&dir.join("c.json")).expect("plain").intents, ["greet"]);
        assert_eq!(read_corpus(&dir.join("c.json.gz")).expect("gzipped").intents, ["greet"]);
        let err = read_corpus(&dir.join("bad.json.gz")).expect_err("not gzip");
        assert!(err.to_string().contains("bad.json.gz"), "{err}");
        let err = read_corpus(&dir.join("missing.json")).expect_err("missing");
        assert!(err.to_string().contains("missing.json"), "{err}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
