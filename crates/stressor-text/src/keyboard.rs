//! QWERTY keyboard neighbours, built from the layout.
//!
//! The four character rows of a US QWERTY keyboard, each offset by about half a key from the
//! row above, so the key at row `r`, column `c` touches `(r, c ± 1)`, `(r − 1, c)`,
//! `(r − 1, c + 1)`, `(r + 1, c − 1)` and `(r + 1, c)`: `s` touches `a d w e z x`. Only letters
//! and digits are kept on both sides (the punctuation keys are left out), so a typo in a word
//! stays a letter or a digit. nlpaug's `res/char/keyboard/en.json` is the comparable resource
//! (it also holds the punctuation keys and the shifted symbols).

const ROWS: [&[u8]; 4] = [b"1234567890-=", b"qwertyuiop[]", b"asdfghjkl;'", b"zxcvbnm,./"];

/// The letter-and-digit neighbours of `c` (lower case), at most six, in a fixed order.
/// Empty for a character that is not an ASCII letter or digit.
pub(crate) fn neighbours(c: char) -> Neighbours {
    let mut out = Neighbours { keys: [0; 6], len: 0 };
    if !c.is_ascii_alphanumeric() {
        return out;
    }
    let key = c.to_ascii_lowercase() as u8;
    let Some((r, col)) = ROWS
        .iter()
        .enumerate()
        .find_map(|(r, row)| row.iter().position(|&k| k == key).map(|col| (r, col)))
    else {
        return out;
    };
    let (r, col) = (r as isize, col as isize);
    for (dr, dc) in [(0, -1), (0, 1), (-1, 0), (-1, 1), (1, -1), (1, 0)] {
        let (nr, nc) = (r + dr, col + dc);
        if nr < 0 || nr >= ROWS.len() as isize || nc < 0 {
            continue;
        }
        if let Some(&k) = ROWS[nr as usize].get(nc as usize)
            && k.is_ascii_alphanumeric()
        {
            out.keys[out.len] = k;
            out.len += 1;
        }
    }
    out
}

/// A small fixed-capacity list of neighbour keys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Neighbours {
    keys: [u8; 6],
    len: usize,
}

impl Neighbours {
    pub fn len(&self) -> usize {
        self.len
    }

    /// The `i`-th neighbour, in the case of `like` (upper-case for an upper-case letter).
    pub fn get(&self, i: usize, like: char) -> char {
        let k = char::from(self.keys[i]);
        if like.is_ascii_uppercase() { k.to_ascii_uppercase() } else { k }
    }
}

/// A keyboard neighbour of `c` picked by `pick` (taken modulo the count), or `c` itself when it
/// has none (as Giskard's `_random_key_typo` returns the character it cannot map).
pub(crate) fn typo_for(c: char, pick: usize) -> char {
    let n = neighbours(c);
    if n.len() == 0 { c } else { n.get(pick % n.len(), c) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(c: char) -> String {
        let n = neighbours(c);
        (0..n.len()).map(|i| n.get(i, c)).collect()
    }

    #[test]
    fn neighbours_follow_the_layout() {
        assert_eq!(all('s'), "adwezx");
        assert_eq!(all('q'), "w12a");
        assert_eq!(all('m'), "njk");
        assert_eq!(all('p'), "o0l");
        assert_eq!(all('S'), "ADWEZX");
        assert_eq!(all('5'), "46rt");
        assert_eq!(all('é'), "");
        assert_eq!(typo_for('é', 3), 'é');
    }

    #[test]
    fn neighbourhood_is_symmetric() {
        for c in ('a'..='z').chain('0'..='9') {
            for i in 0..neighbours(c).len() {
                let k = neighbours(c).get(i, c);
                assert!(all(k).contains(c), "{c} -> {k} but not back");
            }
        }
    }
}
