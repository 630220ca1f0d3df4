//! CLINC150's own out-of-scope protocol (Larson et al. 2019, Table 2, "oos-threshold"), shared
//! by `examples/clinc150.rs` and `examples/clinc150_minilm.rs`: each query's prediction,
//! confidence and distance; accuracy with a score threshold flagging out of scope; the
//! threshold with the best validation accuracy over the intents plus out of scope.

use stressor_intent::{Query, Reply};

/// Which score flags a query as out of scope.
#[derive(Debug, Clone, Copy)]
pub enum Score {
    /// Out of scope when the max softmax probability is below the threshold.
    Confidence,
    /// Out of scope when the distance is above the threshold.
    Distance,
}

/// Each query's prediction, confidence, distance and true intent.
pub struct Scored {
    pub rows: Vec<(u32, f32, f32, Option<u32>)>,
}

impl Scored {
    /// Rows from each query's reply: its intent (`u32::MAX` without one), confidence and
    /// distance (1 without scores), and the query's true intent.
    pub fn from_replies(replies: impl IntoIterator<Item = Reply>, queries: &[Query]) -> Scored {
        let rows = replies
            .into_iter()
            .zip(queries)
            .map(|(reply, query)| {
                let (intent, confidence) = reply.intent().unwrap_or((u32::MAX, 0.0));
                let distance = match &reply {
                    Reply::Intent { scores: Some(scores), .. } => scores.distance.unwrap_or(1.0),
                    _ => 1.0,
                };
                (intent, confidence, distance, query.intent)
            })
            .collect();
        Scored { rows }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// The predicted intent, `None` when flagged out of scope.
    pub fn predicted(
        row: &(u32, f32, f32, Option<u32>),
        rule: Option<(Score, f32)>,
    ) -> Option<u32> {
        match rule {
            Some((Score::Confidence, threshold)) if row.1 < threshold => None,
            Some((Score::Distance, threshold)) if row.2 > threshold => None,
            _ => Some(row.0),
        }
    }

    pub fn accuracy(&self, rule: Option<(Score, f32)>) -> f64 {
        self.correct(rule) as f64 / self.rows.len().max(1) as f64
    }

    pub fn correct(&self, rule: Option<(Score, f32)>) -> usize {
        self.rows.iter().filter(|row| Scored::predicted(row, rule) == row.3).count()
    }

    pub fn oos_recall(&self, score: Score, threshold: f32) -> f64 {
        self.accuracy(Some((score, threshold)))
    }
}

pub fn joint_accuracy(in_scope: &Scored, oos: &Scored, score: Score, threshold: f32) -> f64 {
    let rule = Some((score, threshold));
    (in_scope.correct(rule) + oos.correct(rule)) as f64 / (in_scope.len() + oos.len()).max(1) as f64
}

/// The threshold with the best validation accuracy over the intents plus out of scope, among
/// the observed scores (the first one on ties).
pub fn best_threshold(in_scope: &Scored, oos: &Scored, score: Score) -> f32 {
    let mut candidates: Vec<f32> = in_scope
        .rows
        .iter()
        .chain(&oos.rows)
        .map(|row| match score {
            Score::Confidence => row.1,
            Score::Distance => row.2,
        })
        .collect();
    candidates.sort_by(f32::total_cmp);
    candidates.dedup();
    let mut best = (f64::NEG_INFINITY, 0.0);
    for threshold in candidates {
        let accuracy = joint_accuracy(in_scope, oos, score, threshold);
        if accuracy > best.0 {
            best = (accuracy, threshold);
        }
    }
    best.1
}
