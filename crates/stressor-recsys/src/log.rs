//! A world built from a user's own data: their catalogue and interaction log (CSV or
//! Parquet), for `[recommender.world] log = …`.
//!
//! - The log has one row per interaction: `user`, `item` (ids, text or numbers), optional
//!   `timestamp` (seconds since the epoch, or ISO 8601 such as `2019-11-24 00:00:34.76+00:00`)
//!   and optional `value` (a row with `value ≤ 0` is not a positive; missing counts as 1).
//! - The catalogue, when given, lists every item (`item`, optional `price`); the log may not
//!   name an item outside it. Without one, the catalogue is the log's items.
//!
//! The world's true affinity is then semi-synthetic: BPR factors of `dims` dimensions fitted to
//! the log's positives, rescaled so a random user-item dot product has the spread of the
//! generated world's (standard deviation `1/√dims`, so `affinity_scale` keeps its meaning),
//! plus the popularity term from the log's interaction counts. Simulated users are the log's
//! users, behaving by that fitted truth; the truth is the fit, not the users' real minds, and
//! reports say so. When the log has timestamps its session rate (a session ends after 30
//! minutes without an interaction) is the default arrival rate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use stressor_tabular::{Column, Table};

/// A session ends after this long without an interaction (the web-analytics convention).
pub const SESSION_GAP_S: f64 = 1800.0;

/// Why the log or catalogue cannot be used; the message names the file and the row or column.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct LogError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// A user's catalogue and interaction log, read and indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct InteractionLog {
    /// The log file.
    pub path: PathBuf,
    /// User ids in order of first appearance; a user's index is its position.
    pub users: Vec<String>,
    /// Item ids: the catalogue's order, else order of first appearance in the log.
    pub items: Vec<String>,
    /// `(user, item)` indices of the positive interactions, in file order.
    pub positives: Vec<(u32, u32)>,
    /// Interactions per item (positives only).
    pub counts: Vec<u64>,
    /// Item prices from the catalogue, where it has a `price` column.
    pub prices: Option<Vec<f64>>,
    /// Sessions per second over the log's time span, when it has timestamps.
    pub sessions_per_second: Option<f64>,
    /// Rows read.
    pub rows: usize,
}

impl InteractionLog {
    /// Reads `log` and, when given, `catalogue`.
    ///
    /// # Errors
    /// [`LogError`] naming the file and the line (CSV rows count from line 2) or column.
    pub fn read(log: &Path, catalogue: Option<&Path>) -> Result<InteractionLog, LogError> {
        let fail = |path: &Path, message: String| LogError { path: path.to_path_buf(), message };
        let (mut items, mut index, prices) = match catalogue {
            Some(path) => {
                let table =
                    Table::read(path).map_err(|e| fail(path, strip_path(&e.to_string(), path)))?;
                let ids = ids(&table, "item").map_err(|m| fail(path, m))?;
                let mut index = HashMap::with_capacity(ids.len());
                for (row, id) in ids.iter().enumerate() {
                    if id.is_empty() {
                        return Err(fail(path, format!("line {}: `item` is empty", row + 2)));
                    }
                    if index.insert(id.clone(), row as u32).is_some() {
                        return Err(fail(
                            path,
                            format!("line {}: item `{id}` listed twice", row + 2),
                        ));
                    }
                }
                let prices = match table.column("price") {
                    None => None,
                    Some(Column::Numeric(p)) => {
                        if let Some(row) = p.iter().position(|x| !(x.is_finite() && *x >= 0.0)) {
                            return Err(fail(
                                path,
                                format!(
                                    "line {}: `price` must be a number ≥ 0, found {}",
                                    row + 2,
                                    p[row]
                                ),
                            ));
                        }
                        Some(p.clone())
                    }
                    Some(Column::Categorical(_)) => {
                        return Err(fail(path, "column `price` must be numeric".into()));
                    }
                };
                (ids, Some(index), prices)
            }
            None => (Vec::new(), None, None),
        };
        let closed = index.is_some();
        let mut index = index.take().unwrap_or_default();
        let table = Table::read(log).map_err(|e| fail(log, strip_path(&e.to_string(), log)))?;
        let user_col = ids(&table, "user").map_err(|m| fail(log, m))?;
        let item_col = ids(&table, "item").map_err(|m| fail(log, m))?;
        let values = match table.column("value") {
            None => None,
            Some(Column::Numeric(v)) => Some(v.clone()),
            Some(Column::Categorical(_)) => {
                return Err(fail(log, "column `value` must be numeric".into()));
            }
        };
        let times = match table.column("timestamp") {
            None => None,
            Some(Column::Numeric(t)) => Some(t.clone()),
            Some(Column::Categorical(t)) => Some(
                t.iter()
                    .enumerate()
                    .map(|(row, s)| {
                        parse_time(s)
                            .map(|us| us as f64 / 1e6)
                            .map_err(|m| fail(log, format!("line {}: `timestamp`: {m}", row + 2)))
                    })
                    .collect::<Result<Vec<f64>, LogError>>()?,
            ),
        };
        let mut users = Vec::new();
        let mut user_index: HashMap<String, u32> = HashMap::new();
        let mut positives = Vec::new();
        let mut per_user_times: Vec<Vec<f64>> = Vec::new();
        for row in 0..table.rows {
            let line = row + 2;
            let (user, item) = (&user_col[row], &item_col[row]);
            if user.is_empty() || item.is_empty() {
                let which = if user.is_empty() { "user" } else { "item" };
                return Err(fail(log, format!("line {line}: `{which}` is empty")));
            }
            let u = *user_index.entry(user.clone()).or_insert_with(|| {
                users.push(user.clone());
                per_user_times.push(Vec::new());
                (users.len() - 1) as u32
            });
            let i = match index.get(item) {
                Some(&i) => i,
                None if closed => {
                    return Err(fail(
                        log,
                        format!("line {line}: item `{item}` is not in the catalogue"),
                    ));
                }
                None => {
                    items.push(item.clone());
                    let i = (items.len() - 1) as u32;
                    index.insert(item.clone(), i);
                    i
                }
            };
            if let Some(times) = &times {
                let t = times[row];
                if !t.is_finite() {
                    return Err(fail(log, format!("line {line}: `timestamp` is missing")));
                }
                per_user_times[u as usize].push(t);
            }
            let value = values.as_ref().map_or(1.0, |v| if v[row].is_nan() { 1.0 } else { v[row] });
            if value > 0.0 {
                positives.push((u, i));
            }
        }
        if positives.is_empty() {
            return Err(fail(
                log,
                "no positive interaction (every `value` is ≤ 0, or no rows)".into(),
            ));
        }
        let mut counts = vec![0u64; items.len()];
        for &(_, i) in &positives {
            counts[i as usize] += 1;
        }
        let sessions_per_second = times.as_ref().and_then(|_| session_rate(&mut per_user_times));
        Ok(InteractionLog {
            path: log.to_path_buf(),
            users,
            items,
            positives,
            counts,
            prices,
            sessions_per_second,
            rows: table.rows,
        })
    }
}

/// Ids on the wire: the world's users and items by index, and back.
#[derive(Debug, Clone)]
pub struct Ids {
    /// User ids.
    pub users: Vec<String>,
    /// Item ids.
    pub items: Vec<String>,
    /// Whether the ids are the user's own (from a log), not a generated world's numbers.
    pub from_log: bool,
    user_index: HashMap<String, u32>,
    item_index: HashMap<String, u32>,
}

impl Ids {
    /// From a log's ids.
    pub fn new(users: Vec<String>, items: Vec<String>) -> Ids {
        let index =
            |ids: &[String]| ids.iter().enumerate().map(|(i, id)| (id.clone(), i as u32)).collect();
        Ids { user_index: index(&users), item_index: index(&items), users, items, from_log: true }
    }

    /// A generated world's: indices as decimal text.
    pub fn numbered(users: usize, items: usize) -> Ids {
        Ids {
            from_log: false,
            ..Ids::new(
                (0..users).map(|u| u.to_string()).collect(),
                (0..items).map(|i| i.to_string()).collect(),
            )
        }
    }

    /// The user with id `id`.
    pub fn user(&self, id: &str) -> Option<u32> {
        self.user_index.get(id).copied()
    }

    /// The item with id `id`.
    pub fn item(&self, id: &str) -> Option<u32> {
        self.item_index.get(id).copied()
    }
}

/// The table's error names the path already; keep only the rest.
fn strip_path(message: &str, path: &Path) -> String {
    let prefix = format!("{}: ", path.display());
    message.strip_prefix(&prefix).unwrap_or(message).to_string()
}

/// A column of ids as text (numbers as they print: `17`, not `17.0`).
fn ids(table: &Table, name: &str) -> Result<Vec<String>, String> {
    match table.column(name) {
        None => Err(format!(
            "no column `{name}` (columns: {})",
            table.columns.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
        )),
        Some(Column::Categorical(v)) => Ok(v.clone()),
        Some(Column::Numeric(v)) => {
            Ok(v.iter().map(|x| if x.is_nan() { String::new() } else { format!("{x}") }).collect())
        }
    }
}

/// Sessions (runs of one user's interactions without a gap over [`SESSION_GAP_S`]) per second
/// over the log's span; `None` when the span is empty.
fn session_rate(per_user: &mut [Vec<f64>]) -> Option<f64> {
    let (mut first, mut last) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut sessions = 0u64;
    for times in per_user.iter_mut() {
        times.sort_by(f64::total_cmp);
        for (j, &t) in times.iter().enumerate() {
            if j == 0 || t - times[j - 1] > SESSION_GAP_S {
                sessions += 1;
            }
            first = first.min(t);
            last = last.max(t);
        }
    }
    (last > first).then(|| sessions as f64 / (last - first))
}

/// Seconds as a number, or `YYYY-MM-DD[ T]HH:MM:SS[.ffffff][Z|±HH:MM]`, to µs since the
/// epoch (no offset is UTC).
///
/// # Errors
/// A sentence quoting the text and the accepted forms.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let bad = || {
        format!("`{text}` is not a timestamp (seconds, or YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM])")
    };
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() && seconds.abs() < 1e12 {
            return Ok((seconds * 1e6).round() as i64);
        }
        return Err(bad());
    }
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let shape_ok = b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b' ' || b[10] == b'T')
        && b[13] == b':'
        && b[16] == b':';
    if !shape_ok {
        return Err(bad());
    }
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) =
        (digits(0..4), digits(5..7), digits(8..10), digits(11..13), digits(14..16), digits(17..19))
    else {
        return Err(bad());
    };
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    let mut rest = &text[19..];
    let mut micros = 0i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return Err(bad());
        }
        let padded = format!("{:0<6}", &fraction[..n.min(6)]);
        micros = padded.parse().map_err(|_| bad())?;
        rest = &fraction[n..];
    }
    let offset_s = match rest {
        "" | "Z" => 0,
        _ => {
            let r = rest.as_bytes();
            let sign = match r.first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(bad()),
            };
            if r.len() != 6 || r[3] != b':' {
                return Err(bad());
            }
            let h: i64 = rest[1..3].parse().map_err(|_| bad())?;
            let m: i64 = rest[4..6].parse().map_err(|_| bad())?;
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    Ok(seconds * 1_000_000 + micros)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("stressor-log-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn iso_times_match_the_epoch_seconds_by_hand() {
        let s = |t: &str| parse_time(t).map(|us| us as f64 / 1e6);
        assert_eq!(s("1970-01-01 00:00:00"), Ok(0.0));
        // 2019-11-24: 18 224 days after the epoch.
        assert_eq!(s("2019-11-24 00:00:34.5+00:00"), Ok(18_224.0 * 86_400.0 + 34.5));
        assert_eq!(s("2019-11-24T01:00:00+01:00"), Ok(18_224.0 * 86_400.0));
        assert_eq!(s("2019-11-23T23:30:00-00:30"), Ok(18_224.0 * 86_400.0));
        assert_eq!(s("2000-02-29T12:00:00Z"), Ok(11_016.0 * 86_400.0 + 43_200.0));
        assert_eq!(s("1575000000.25"), Ok(1_575_000_000.25));
        assert!(s("2019-13-01 00:00:00").is_err());
        assert!(s("yesterday").unwrap_err().contains("`yesterday`"));
        assert!(s("2019-11-24 25:00:00").is_err());
    }

    #[test]
    fn a_log_is_indexed_with_its_catalogue_sessions_and_values() {
        let dir = tempdir("indexed");
        let catalogue = write(&dir, "items.csv", "item,price\nshoe,50\nhat,20\nsock,5\n");
        // Two users; u1 has two sessions (a gap of an hour), u2 one; one non-positive row.
        let log = write(
            &dir,
            "log.csv",
            "user,item,timestamp,value\n\
             u1,hat,2020-01-01T00:00:00Z,1\n\
             u1,shoe,2020-01-01T00:10:00Z,1\n\
             u2,hat,2020-01-01T00:20:00Z,0\n\
             u1,hat,2020-01-01T01:20:00Z,\n",
        );
        let read = InteractionLog::read(&log, Some(&catalogue)).unwrap();
        assert_eq!(read.users, ["u1", "u2"]);
        assert_eq!(read.items, ["shoe", "hat", "sock"]);
        assert_eq!(read.positives, [(0, 1), (0, 0), (0, 1)]);
        assert_eq!(read.counts, [1, 2, 0]);
        assert_eq!(read.prices, Some(vec![50.0, 20.0, 5.0]));
        // Three sessions over 80 minutes.
        let rate = read.sessions_per_second.unwrap();
        assert!((rate - 3.0 / 4800.0).abs() < 1e-12, "{rate}");
    }

    #[test]
    fn bad_logs_are_named_by_file_and_line() {
        let dir = tempdir("bad");
        let catalogue = write(&dir, "items.csv", "item\n1\n2\n");
        let log = write(&dir, "log.csv", "user,item\n7,1\n8,3\n");
        let e = InteractionLog::read(&log, Some(&catalogue)).unwrap_err().to_string();
        assert!(e.contains("log.csv") && e.contains("line 3") && e.contains("`3`"), "{e}");
        let log = write(&dir, "nouser.csv", "person,item\n7,1\n");
        let e = InteractionLog::read(&log, None).unwrap_err().to_string();
        assert!(e.contains("nouser.csv") && e.contains("no column `user`"), "{e}");
        let log = write(&dir, "time.csv", "user,item,timestamp\n7,1,soon\n");
        let e = InteractionLog::read(&log, None).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("timestamp"), "{e}");
        let e = InteractionLog::read(&dir.join("absent.csv"), None).unwrap_err();
        assert!(e.to_string().contains("absent.csv"), "{e}");
    }
}
