//! The [`Perturbation`] catalogue: names, dials, sources and dispatch.

use std::fmt;
use std::str::FromStr;

use stressor_core::Rng;

use crate::chars::{self, CharEdit};
use crate::draw::clamp_dial;
use crate::{contractions, punctuation, words};

/// A text perturbation with a dial in `[0, 1]`.
///
/// [`apply`](Perturbation::apply) takes the text, the dial (NaN is 0; values outside `[0, 1]`
/// are clamped) and a [`Rng`]. Every position draws its decision `u` and its details whether or
/// not it changes, and changes when `u < dial`: dial 0 changes nothing, the same seed gives the
/// same output, and with the same seed the edits at a lower dial are a subset of those at a
/// higher one. Names are the snake_case strings of a scenario file ([`Perturbation::name`],
/// [`FromStr`], [`Display`](fmt::Display)).
///
/// Words, where a perturbation works on words, are maximal runs of alphabetic characters
/// (`char::is_alphabetic`) for `char_*` and `synonyms`, whitespace-separated tokens for `casing`
/// and `filler`. Everything works on `char`s, so any `&str` goes in and valid UTF-8 comes out.
///
/// # Example
/// ```
/// use stressor_core::Seed;
/// use stressor_text::Perturbation;
/// let text = "I don't think my card was charged twice, can you check?";
/// for p in Perturbation::ALL {
///     assert_eq!(p.apply(text, 0.0, &mut Seed::new(1).rng()), text);
///     assert_eq!(p.name().parse::<Perturbation>(), Ok(p));
///     let out = p.apply(text, 1.0, &mut Seed::new(1).rng());
///     assert_ne!(out, text, "{p} at dial 1 changes this text");
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Perturbation {
    /// Keyboard typos: insertion, deletion, replacement and transposition.
    ///
    /// # What it does
    /// Each non-whitespace character gets a typo with probability `rate` (so the count has
    /// mean `rate × non-whitespace chars`, Giskard's Poisson mean), of kind insertion 0.2,
    /// deletion 0.2, replacement 0.5, transposition 0.1. Insertion types a QWERTY neighbour
    /// before the character, replacement types one instead, transposition swaps it with the
    /// next character (whatever it is), and then the next character's own typo is skipped.
    /// Neighbours are letters and digits only and keep the letter's case; a character without
    /// neighbours (accented letters, emoji, marks) is duplicated by insertion and left as it is
    /// by replacement, as Giskard's `_random_key_typo` does. Texts under 10 characters are left
    /// alone (Giskard's `min_length`).
    ///
    /// Differences from Giskard, for nesting: Giskard draws a Poisson count and then positions
    /// with repeats (so a character can get two typos, and later positions shift); here one
    /// draw per character decides, so the count is Binomial(n, rate) (same mean, slightly less
    /// variance) and a character gets at most one typo.
    ///
    /// # Dial
    /// `rate`, typos per non-whitespace character; Giskard's default is 0.05.
    Typos,
    /// Two adjacent characters swapped inside a word.
    ///
    /// # What it does
    /// Each word of at least 4 letters, with probability `p`, has one pair of adjacent inner
    /// characters swapped; the first and last characters stay ("flight" → "fligth" cannot
    /// happen, "flight" → "filght" can).
    ///
    /// # Dial
    /// `probability` per eligible word; nlpaug's `aug_word_p` default is 0.3.
    CharSwap,
    /// One inner character dropped from a word.
    ///
    /// # What it does
    /// Each word of at least 4 letters, with probability `p`, loses one character that is
    /// neither its first nor its last.
    ///
    /// # Dial
    /// `probability` per eligible word.
    CharDrop,
    /// One random letter inserted inside a word.
    ///
    /// # What it does
    /// Each word of at least 4 letters, with probability `p`, gets one random letter `a`–`z`
    /// (upper-case in an all-caps word) between its first and last characters.
    ///
    /// # Dial
    /// `probability` per eligible word.
    CharInsert,
    /// Words replaced by WordNet 3.0 synonyms.
    ///
    /// # What it does
    /// Each word that is not a stopword ([`crate::stopwords`]), stands alone (not "don" in
    /// "don't") and has synonyms in the embedded table ([`crate::wordnet`]) is replaced, with
    /// probability `share`, by one of them picked uniformly; the first letter's case is kept
    /// (all caps stay all caps). No part-of-speech filter and no inflection: WordNet holds
    /// base forms, so "flights" stays and "flight" may become "flying".
    ///
    /// # Dial
    /// `share` of eligible words; nlpaug's `SynonymAug` `aug_p` default is 0.3.
    Synonyms,
    /// Contractions expanded ("don't" → "do not") and expansions contracted ("it is" → "it's").
    ///
    /// # What it does
    /// Scans the words left to right for a spot: a word in CheckList's expansion map, "cannot",
    /// or two words separated by one space that are in CheckList's contraction map. Each spot
    /// is changed with probability `share`, keeping the first letter's case. Curly apostrophes
    /// match too; contractions are written with a straight one.
    ///
    /// # Dial
    /// `share` of applicable spots.
    Contractions,
    /// Words re-cased: all upper, all lower or title.
    ///
    /// # What it does
    /// One casing per text (upper, lower or title, equally likely; Giskard's three
    /// `text_uppercase`/`text_lowercase`/`text_titlecase` transformations) is applied to each
    /// whitespace-separated token with probability `share`; at 1 the whole text is re-cased.
    /// Title case upper-cases a token's first character and lower-cases the rest ("don't" →
    /// "Don't", where Python's `str.title` gives "Don'T").
    ///
    /// # Dial
    /// `share` of tokens re-cased.
    Casing,
    /// Punctuation stripped, or a final stop added.
    ///
    /// # What it does
    /// Spots are the runs of punctuation (Giskard's punctuation set) other than an apostrophe
    /// between letters or a point or comma between digits, plus the end of the text when it
    /// does not end in punctuation. With probability `share` a run is removed (replaced by a
    /// space between two word characters, as Giskard does) and the end gets a ".": CheckList's
    /// `strip_punctuation` and `punctuation` (which adds a final stop), spread over the text.
    ///
    /// # Dial
    /// `share` of spots changed.
    Punctuation,
    /// Spoken fillers inserted between words.
    ///
    /// # What it does
    /// Before each whitespace-separated token, with probability `p`, one of "um", "uh", "like",
    /// "you know", "I mean", "well", "so", "actually", "basically", "please" (uniform) and a
    /// space are inserted.
    ///
    /// # Dial
    /// `probability` per word gap.
    Filler,
}

impl Perturbation {
    /// Every perturbation, in catalogue order.
    pub const ALL: [Perturbation; 9] = [
        Perturbation::Typos,
        Perturbation::CharSwap,
        Perturbation::CharDrop,
        Perturbation::CharInsert,
        Perturbation::Synonyms,
        Perturbation::Contractions,
        Perturbation::Casing,
        Perturbation::Punctuation,
        Perturbation::Filler,
    ];

    /// The snake_case name used in scenario files.
    pub const fn name(self) -> &'static str {
        match self {
            Perturbation::Typos => "typos",
            Perturbation::CharSwap => "char_swap",
            Perturbation::CharDrop => "char_drop",
            Perturbation::CharInsert => "char_insert",
            Perturbation::Synonyms => "synonyms",
            Perturbation::Contractions => "contractions",
            Perturbation::Casing => "casing",
            Perturbation::Punctuation => "punctuation",
            Perturbation::Filler => "filler",
        }
    }

    /// The perturbation called `name`, if any.
    pub fn from_name(name: &str) -> Option<Perturbation> {
        Perturbation::ALL.into_iter().find(|p| p.name() == name)
    }

    /// What the dial means: `rate` (per character), `probability` (per word or gap) or `share`
    /// (of eligible words or spots).
    pub const fn dial_name(self) -> &'static str {
        match self {
            Perturbation::Typos => "rate",
            Perturbation::CharSwap
            | Perturbation::CharDrop
            | Perturbation::CharInsert
            | Perturbation::Filler => "probability",
            Perturbation::Synonyms
            | Perturbation::Contractions
            | Perturbation::Casing
            | Perturbation::Punctuation => "share",
        }
    }

    /// Where the method and its defaults come from, in one or two sentences for reports.
    pub const fn source(self) -> &'static str {
        match self {
            Perturbation::Typos => {
                "Giskard TextTypoTransformation: typo kinds insertion/deletion/replacement/transposition \
                 with probabilities 0.2/0.2/0.5/0.1, keyboard-neighbour replacements and insertions, \
                 mean count rate x non-space chars (Giskard's default rate 0.05, min_length 10); \
                 one draw per character instead of a Poisson count, so rates nest. Neighbours from \
                 the US QWERTY layout built in stressor-text (nlpaug's keyboard/en.json is the \
                 comparable resource)."
            }
            Perturbation::CharSwap => {
                "TextAttack WordSwapNeighboringCharacterSwap (in CharSwapAugmenter) and nlpaug \
                 RandomCharAug(action=\"swap\"): one adjacent swap per chosen word; words of >= 4 \
                 letters (nlpaug min_char=4); first and last characters kept (TextAttack's \
                 skip_first_char/skip_last_char options, on here; TextAttack's defaults are off)."
            }
            Perturbation::CharDrop => {
                "TextAttack WordSwapRandomCharacterDeletion (in CharSwapAugmenter) and nlpaug \
                 RandomCharAug(action=\"delete\"): one deletion per chosen word; words of >= 4 letters \
                 (nlpaug min_char=4); first and last characters kept (TextAttack's skip options, on)."
            }
            Perturbation::CharInsert => {
                "TextAttack WordSwapRandomCharacterInsertion (in CharSwapAugmenter) and nlpaug \
                 RandomCharAug(action=\"insert\"): one random letter a-z per chosen word; words of \
                 >= 4 letters (nlpaug min_char=4); first and last characters kept (TextAttack's skip \
                 options, on)."
            }
            Perturbation::Synonyms => {
                "WordNet 3.0 synonyms (Princeton University, WordNet 3.0 licence), as nlpaug \
                 SynonymAug(aug_src=\"wordnet\") and TextAttack WordNetAugmenter use them: first 3 \
                 senses per part of speech, single-word lemmas, no POS filter; NLTK's English \
                 stopwords are never replaced."
            }
            Perturbation::Contractions => {
                "CheckList Perturb.contractions (Ribeiro et al. 2020): its expand_contractions and \
                 contract maps, each applicable spot changed with probability share."
            }
            Perturbation::Casing => {
                "Giskard text_uppercase / text_lowercase / text_titlecase: one of the three per \
                 text, applied to each whitespace-separated token with probability share."
            }
            Perturbation::Punctuation => {
                "CheckList Perturb.punctuation / strip_punctuation (strip, or add a final stop) with \
                 Giskard TextPunctuationRemovalTransformation's punctuation set, each run of \
                 punctuation and the missing final stop a spot changed with probability share."
            }
            Perturbation::Filler => {
                "Filled pauses ('uh', 'um') and discourse markers ('like', 'you know', 'I mean', \
                 'well', 'so', 'actually') as annotated in the Switchboard disfluency stylebook \
                 (Meteer et al. 1995); 'basically' and 'please' are stressor's additions for chat \
                 queries. Uniform choice, inserted before a token with probability p."
            }
        }
    }

    /// `text` perturbed at `dial` (NaN is 0; clamped into `[0, 1]`), drawing from `rng`.
    pub fn apply(self, text: &str, dial: f64, rng: &mut Rng) -> String {
        let dial = clamp_dial(dial);
        match self {
            Perturbation::Typos => chars::typos(text, dial, rng),
            Perturbation::CharSwap => chars::char_edit(text, dial, CharEdit::Swap, rng),
            Perturbation::CharDrop => chars::char_edit(text, dial, CharEdit::Drop, rng),
            Perturbation::CharInsert => chars::char_edit(text, dial, CharEdit::Insert, rng),
            Perturbation::Synonyms => words::synonyms(text, dial, rng),
            Perturbation::Contractions => contractions::contractions(text, dial, rng),
            Perturbation::Casing => words::casing(text, dial, rng),
            Perturbation::Punctuation => punctuation::punctuation(text, dial, rng),
            Perturbation::Filler => words::filler(text, dial, rng),
        }
    }
}

impl fmt::Display for Perturbation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`Perturbation`]; its message lists the known names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown text perturbation `{name}` (known: typos, char_swap, char_drop, char_insert, synonyms, contractions, casing, punctuation, filler)"
)]
pub struct ParsePerturbationError {
    /// The name that did not parse.
    pub name: String,
}

impl FromStr for Perturbation {
    type Err = ParsePerturbationError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Perturbation::from_name(name)
            .ok_or_else(|| ParsePerturbationError { name: name.to_owned() })
    }
}
