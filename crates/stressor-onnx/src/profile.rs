//! Per-op wall time, for finding where a forward pass spends its time: with
//! `STRESSOR_ONNX_PROFILE` set, every node evaluated adds its time to a table keyed by op (and,
//! for convolutions, kernel, stride and kind), which [`op_profile`] returns and clears.
//!
//! Off by default; when off, it costs one relaxed atomic load per node.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::graph::{Node, Op, Value};

/// 0: not read yet, 1: off, 2: on.
static ENABLED: AtomicU8 = AtomicU8::new(0);
static TABLE: Mutex<Option<HashMap<String, (Duration, usize)>>> = Mutex::new(None);

/// Whether `STRESSOR_ONNX_PROFILE` is set (read once).
pub(crate) fn enabled() -> bool {
    match ENABLED.load(Ordering::Relaxed) {
        0 => {
            let on = std::env::var_os("STRESSOR_ONNX_PROFILE").is_some();
            ENABLED.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
        state => state == 2,
    }
}

/// The key a node's time is filed under.
pub(crate) fn key(node: &Node, args: &[Option<&Value>]) -> String {
    match &node.op {
        Op::Conv(attrs) => {
            let dims = match args.get(1) {
                Some(Some(Value::Float(w))) => w.dims().to_vec(),
                _ => vec![],
            };
            let kind = match dims.as_slice() {
                [o, 1, _, _] if attrs.group == *o && attrs.group > 1 => "depthwise",
                _ if attrs.group > 1 => "grouped",
                _ => "dense",
            };
            let kernel = match dims.as_slice() {
                [_, _, kh, kw] => format!("{kh}x{kw}"),
                _ => "?".to_string(),
            };
            format!("Conv {kind} {kernel}/{}", attrs.strides[0])
        }
        Op::MatMulByWeight => "MatMul by a constant".to_string(),
        _ => node.op_type.clone(),
    }
}

/// Adds `elapsed` to `key`'s row.
pub(crate) fn record(key: String, elapsed: Duration) {
    let mut table = TABLE.lock().unwrap_or_else(PoisonError::into_inner);
    let row = table.get_or_insert_with(HashMap::new).entry(key).or_default();
    row.0 += elapsed;
    row.1 += 1;
}

/// The time per op key recorded since the last call (total, calls), longest first, and clears
/// the table. Empty unless `STRESSOR_ONNX_PROFILE` is set.
#[doc(hidden)]
#[must_use]
pub fn op_profile() -> Vec<(String, Duration, usize)> {
    let mut table = TABLE.lock().unwrap_or_else(PoisonError::into_inner);
    let mut rows: Vec<_> =
        table.take().unwrap_or_default().into_iter().map(|(k, (d, n))| (k, d, n)).collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.1));
    rows
}
