//! Current data in chunks, with memory bounded by the reference: the two-sample KS statistic
//! is exact from counts of the current values at and between the reference's distinct values
//! (`2·U + 1` counters for `U` distinct reference values), so the current sample is never
//! held or sorted.
//!
//! Between two consecutive reference values the reference ECDF is flat and the current ECDF
//! rises, so `|F_ref − F_cur|` is largest at the interval's ends: at the reference value
//! itself, or at the last current value before the next one. Those are exactly the points
//! [`crate::ks_2samp`] evaluates, with the same arithmetic, so the statistic is identical.

use crate::{DriftError, KsResult, SortedSample, ks_result};

/// A KS test against a fixed reference, fed the current sample in chunks.
#[derive(Debug, Clone)]
pub struct StreamingKs {
    /// The reference's distinct values, increasing.
    distinct: Vec<f64>,
    /// How many reference values are ≤ each distinct value.
    reference_at_or_below: Vec<u64>,
    reference_len: u64,
    /// Current values equal to each distinct value.
    equal: Vec<u64>,
    /// Current values strictly between distinct value `k − 1` and `k` (index 0: below the
    /// first; the last: above the last).
    between: Vec<u64>,
    current_len: u64,
}

impl StreamingKs {
    /// A test against `reference`.
    pub fn new(reference: &SortedSample) -> StreamingKs {
        let values = reference.values();
        let mut distinct = Vec::new();
        let mut reference_at_or_below = Vec::new();
        for (i, &v) in values.iter().enumerate() {
            if distinct.last() == Some(&v) {
                if let Some(last) = reference_at_or_below.last_mut() {
                    *last = i as u64 + 1;
                }
            } else {
                distinct.push(v);
                reference_at_or_below.push(i as u64 + 1);
            }
        }
        let u = distinct.len();
        StreamingKs {
            distinct,
            reference_at_or_below,
            reference_len: values.len() as u64,
            equal: vec![0; u],
            between: vec![0; u + 1],
            current_len: 0,
        }
    }

    /// Adds a chunk of current values.
    ///
    /// # Errors
    /// [`DriftError::NotFinite`] for a NaN or infinite value (leave missing values out).
    pub fn push(&mut self, chunk: &[f64]) -> Result<(), DriftError> {
        if chunk.iter().any(|v| !v.is_finite()) {
            return Err(DriftError::NotFinite("current"));
        }
        for &v in chunk {
            let k = self.distinct.partition_point(|&d| d < v);
            if self.distinct.get(k) == Some(&v) {
                self.equal[k] += 1;
            } else {
                self.between[k] += 1;
            }
        }
        self.current_len += chunk.len() as u64;
        Ok(())
    }

    /// Current values seen.
    pub fn current_len(&self) -> u64 {
        self.current_len
    }

    /// The test over everything pushed: the statistic equals [`crate::ks_2samp`]'s on the
    /// whole current sample, and so does the p-value.
    ///
    /// # Errors
    /// [`DriftError::Empty`] when nothing was pushed.
    pub fn finish(&self) -> Result<KsResult, DriftError> {
        if self.current_len == 0 {
            return Err(DriftError::Empty("current"));
        }
        let (n, m) = (self.reference_len as f64, self.current_len as f64);
        let gap = |i: u64, j: u64| (i as f64 / n - j as f64 / m).abs();
        // Below the first reference value: the reference ECDF is 0.
        let mut current = self.between[0];
        let mut d = gap(0, current);
        for k in 0..self.distinct.len() {
            current += self.equal[k];
            let reference = self.reference_at_or_below[k];
            d = d.max(gap(reference, current));
            current += self.between[k + 1];
            d = d.max(gap(reference, current));
        }
        Ok(ks_result(d, self.reference_len as usize, self.current_len as usize))
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::StreamingKs;
    use crate::{SortedSample, ks_2samp};

    #[test]
    fn chunks_give_the_whole_sample_statistic_exactly() {
        let mut state = 7u64;
        let mut draw = |scale: f64| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((state >> 33) as f64 / f64::from(1u32 << 31) * scale).round() / 4.0
        };
        // Rounded values so both samples tie with each other and among themselves.
        let reference: Vec<f64> = (0..3000).map(|_| draw(40.0)).collect();
        let current: Vec<f64> = (0..4100).map(|_| draw(44.0) - 0.5).collect();
        let mut streaming = StreamingKs::new(&SortedSample::new(&reference, "reference").unwrap());
        for chunk in current.chunks(333) {
            streaming.push(chunk).unwrap();
        }
        let whole = ks_2samp(&reference, &current).unwrap();
        let chunked = streaming.finish().unwrap();
        assert_eq!(chunked.statistic.to_bits(), whole.statistic.to_bits());
        assert_eq!(chunked.pvalue.to_bits(), whole.pvalue.to_bits());
        assert!(whole.statistic > 0.0);
        assert!(streaming.push(&[f64::NAN]).is_err());
        let empty = StreamingKs::new(&SortedSample::new(&reference, "reference").unwrap());
        assert!(empty.finish().is_err());
    }
}
