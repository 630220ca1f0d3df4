//! The embedded WordNet 3.0 synonym table.
//!
//! `data/wordnet/synonyms.tsv.gz` (0.51 MB) holds 40,869 plain lower-case lemmas of Princeton
//! WordNet 3.0, each with the other plain lower-case words of its first three senses per part
//! of speech, at most twelve; `data/wordnet/make.py` made it from Debian's `wordnet-base` and
//! `data/wordnet/README.md` says how. WordNet 3.0 Copyright 2006 by Princeton University; its
//! licence (`data/wordnet/LICENSE`) allows redistribution with the notice.
//!
//! The table is inflated and indexed once, at first use (a few tens of milliseconds).

use std::collections::HashMap;
use std::io::Read as _;
use std::sync::OnceLock;

const TABLE_GZ: &[u8] = include_bytes!("../data/wordnet/synonyms.tsv.gz");

struct Table {
    synonyms: HashMap<Box<str>, Box<[Box<str>]>>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut text = String::new();
        // The table is part of the crate and checked by a test: a failure here is a broken build.
        flate2::read::GzDecoder::new(TABLE_GZ)
            .read_to_string(&mut text)
            .expect("embedded WordNet table inflates");
        let synonyms = text
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .map(|(lemma, syns)| (lemma.into(), syns.split(' ').map(Box::from).collect()))
            .collect();
        Table { synonyms }
    })
}

/// The WordNet synonyms of `word` (a lower-case base form), most frequent senses first; empty
/// when WordNet has none (or the word is inflected, capitalised or not a plain word).
///
/// ```
/// let synonyms = stressor_text::wordnet::synonyms("book");
/// assert!(synonyms.iter().any(|s| &**s == "reserve"));
/// assert!(stressor_text::wordnet::synonyms("flights").is_empty());
/// ```
pub fn synonyms(word: &str) -> &'static [Box<str>] {
    table().synonyms.get(word).map_or(&[], |s| &s[..])
}

/// The number of lemmas in the table.
pub fn len() -> usize {
    table().synonyms.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_loads_whole() {
        assert_eq!(len(), 40_869);
        assert_eq!(&*synonyms("car")[0], "auto");
        assert!(synonyms("car").len() <= 12);
        assert!(synonyms("the").is_empty());
    }
}
