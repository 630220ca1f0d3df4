//! Positions in text that users wrote, for error messages.

/// 1-based line and column (in bytes) of byte `offset` in `text`; an offset past the end is the
/// end.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rposition(|&b| b == b'\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}
