//! Reading a report: its format version first, then the whole report.

use stressor_schema::Report;

/// The major report format version this crate reads.
pub const SUPPORTED_MAJOR: u32 = 1;

/// Why a report's text could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The text is not JSON.
    #[error("not valid JSON at line {line}, column {column}: {message}")]
    Json {
        /// The line of the problem, from 1.
        line: usize,
        /// The column of the problem, from 1.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The JSON has no `format_version` string at its top level.
    #[error("no `format_version` string at the top level: not a stressor report")]
    NoVersion,
    /// The report's major format version is not the one this build reads.
    #[error(
        "report format version {version} is not supported (this stressor reads {SUPPORTED_MAJOR}.x)"
    )]
    UnsupportedVersion {
        /// The version the report declares.
        version: String,
    },
    /// The JSON is not shaped like a report (a missing field, a wrong type).
    #[error("not a valid report at line {line}, column {column}: {message}")]
    Shape {
        /// The line of the problem, from 1.
        line: usize,
        /// The column of the problem, from 1.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// Reads a report from its JSON text: the `format_version` is checked first (a major version
/// other than [`SUPPORTED_MAJOR`] is an error naming it), then the whole report.
///
/// # Errors
///
/// [`ReadError`] for text that is not JSON, a missing or unsupported version, or JSON that is
/// not a report; the JSON errors carry the line and column.
///
/// # Examples
///
/// ```
/// use stressor_compare::{ReadError, read_report};
/// let error = read_report(r#"{"format_version": "2.0"}"#).unwrap_err();
/// assert!(matches!(error, ReadError::UnsupportedVersion { .. }));
/// assert!(matches!(read_report("{\n  \"format_version\": \"1.6\"\n}"), Err(ReadError::Shape { .. })));
/// ```
pub fn read_report(json: &str) -> Result<Report, ReadError> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|error| ReadError::Json {
        line: error.line(),
        column: error.column(),
        message: message_of(&error),
    })?;
    let version = value
        .get("format_version")
        .and_then(serde_json::Value::as_str)
        .ok_or(ReadError::NoVersion)?;
    let major: Option<u32> = version.split('.').next().and_then(|major| major.parse().ok());
    if major != Some(SUPPORTED_MAJOR) {
        return Err(ReadError::UnsupportedVersion { version: version.to_owned() });
    }
    // From the text again rather than from `value`, so that a shape error keeps its position.
    serde_json::from_str(json).map_err(|error| ReadError::Shape {
        line: error.line(),
        column: error.column(),
        message: message_of(&error),
    })
}

/// serde_json's message without its trailing ` at line L column C`, which the variants carry.
fn message_of(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn bad_json_names_line_and_column() {
        let error = read_report("{\n  \"format_version\": \"1.6\",\n  oops\n}").unwrap_err();
        match error {
            ReadError::Json { line, column, .. } => assert_eq!((line, column), (3, 3)),
            other => panic!("expected a JSON error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_major_version_is_named_before_missing_fields() {
        let error = read_report(r#"{"format_version": "2.0", "run": {}}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "report format version 2.0 is not supported (this stressor reads 1.x)"
        );
        let error = read_report(r#"{"format_version": "one"}"#).unwrap_err();
        assert!(matches!(error, ReadError::UnsupportedVersion { version } if version == "one"));
        assert!(matches!(read_report("[1, 2]").unwrap_err(), ReadError::NoVersion));
    }

    #[test]
    fn a_missing_field_is_a_shape_error_naming_it() {
        let error = read_report("{\"format_version\": \"1.6\"}").unwrap_err();
        match &error {
            ReadError::Shape { message, line, .. } => {
                assert!(message.contains("missing field"), "{message}");
                assert_eq!(*line, 1);
            }
            other => panic!("expected a shape error, got {other:?}"),
        }
        assert!(!error.to_string().contains(" at line 1 column"), "{error}");
    }
}
