//! What every family's part of the summary uses: aligned tables, step headings that keep to
//! the summary's width, and names made safe for a terminal.

use std::io::{self, Write};

use stressor_core::StepResult;

/// `step <id> (<description>)`, or, when that is longer than [`WIDTH`], `step <id>` and the
/// description wrapped on the lines below.
pub(super) fn write_heading(step: &StepResult, out: &mut impl Write) -> io::Result<()> {
    let (id, description) = (plain(&step.info.id), plain(&step.info.description));
    if description.is_empty() {
        return writeln!(out, "step {id}");
    }
    let line = format!("step {id} ({description})");
    if line.chars().count() <= WIDTH {
        return writeln!(out, "{line}");
    }
    writeln!(out, "step {id}")?;
    let mut wrapped = String::from(" ");
    for word in description.split(' ') {
        if wrapped.chars().count() > 1 && wrapped.chars().count() + 1 + word.chars().count() > WIDTH
        {
            writeln!(out, "{wrapped}")?;
            wrapped = String::from(" ");
        }
        wrapped.push(' ');
        wrapped.push_str(word);
    }
    writeln!(out, "{wrapped}")
}

/// The width the summary's own lines keep to (names from outside may be longer).
const WIDTH: usize = 120;

/// `rows` as aligned columns, each line indented by two spaces.
pub(super) fn write_table(rows: &[Vec<String>], out: &mut impl Write) -> io::Result<()> {
    let n_columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n_columns)
        .map(|column| {
            rows.iter().filter_map(|row| row.get(column)).map(|c| c.chars().count()).max()
        })
        .map(|width| width.unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::from("  ");
        for (column, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if column + 1 < row.len() {
                let width = widths.get(column).copied().unwrap_or(0);
                line.push_str(&" ".repeat(width - cell.chars().count() + 2));
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `text` with control characters escaped, so names from the scenario, the model or the data
/// cannot move the cursor or recolour the terminal.
pub(super) fn plain(text: &str) -> String {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { c.escape_unicode().to_string() } else { c.to_string() })
            .collect()
    } else {
        text.to_owned()
    }
}
