//! Dial values: parsing `8/255`, matching within a tolerance, writing them back.

/// The relative tolerance within which two dial values are the same point: reports store
/// `8/255` as the nearest `f64`, and users write it as a fraction or a rounded decimal.
pub const DIAL_TOLERANCE: f64 = 1e-6;

/// Whether two dial values are the same point, within the relative [`DIAL_TOLERANCE`].
///
/// # Examples
///
/// ```
/// use stressor_compare::dial_matches;
/// assert!(dial_matches(8.0 / 255.0, 0.031_372_55));
/// assert!(!dial_matches(8.0 / 255.0, 0.031));
/// assert!(dial_matches(0.0, 0.0));
/// ```
pub fn dial_matches(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= DIAL_TOLERANCE * a.abs().max(b.abs())
}

/// Whether two optional dial values are the same point (both absent, or both present and
/// matching).
pub(crate) fn same_dial(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => dial_matches(a, b),
        _ => false,
    }
}

/// Parses a finite number written as a decimal (`0.031`, `-2`, `1e-3`) or a fraction (`8/255`).
///
/// # Errors
///
/// A message and the byte offset in `text` where the problem starts.
///
/// # Examples
///
/// ```
/// use stressor_compare::parse_number;
/// assert_eq!(parse_number("8/255"), Ok(8.0 / 255.0));
/// assert_eq!(parse_number("-0.02"), Ok(-0.02));
/// assert!(parse_number("8/0").is_err());
/// ```
pub fn parse_number(text: &str) -> Result<f64, (usize, String)> {
    match text.split_once('/') {
        Some((numerator, denominator)) => {
            let top = parse_decimal(numerator, 0)?;
            let offset = numerator.len() + 1;
            let bottom = parse_decimal(denominator, offset)?;
            if bottom == 0.0 {
                return Err((offset, "the denominator of a fraction must not be 0".to_owned()));
            }
            Ok(top / bottom)
        }
        None => parse_decimal(text, 0),
    }
}

fn parse_decimal(text: &str, offset: usize) -> Result<f64, (usize, String)> {
    if text.is_empty() {
        return Err((offset, "expected a number".to_owned()));
    }
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err((offset, format!("expected a number, found `{text}`"))),
    }
}

/// A dial value for people: `8/255` for multiples of 1/255 (how ε is written), the shortest
/// decimal otherwise, `-` when absent.
///
/// # Examples
///
/// ```
/// use stressor_compare::format_dial;
/// assert_eq!(format_dial(Some(8.0 / 255.0)), "8/255");
/// assert_eq!(format_dial(Some(0.5)), "0.5");
/// assert_eq!(format_dial(Some(3.0)), "3");
/// assert_eq!(format_dial(None), "-");
/// ```
pub fn format_dial(value: Option<f64>) -> String {
    let Some(value) = value else {
        return "-".to_owned();
    };
    let in_255ths = value * 255.0;
    let whole = in_255ths.round();
    if value.fract() != 0.0
        && (1.0..255.0).contains(&whole.abs())
        && (in_255ths - whole).abs() < 1e-6
        // Only where 255ths are the simplest way to write it (not 0.2 = 51/255).
        && format!("{value}").len() > 6
    {
        return format!("{whole}/255");
    }
    format!("{value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_and_decimals_of_the_same_dial_match() {
        let stored = 8.0_f64 / 255.0;
        assert_eq!(parse_number("8/255").map(|v| dial_matches(v, stored)), Ok(true));
        assert_eq!(parse_number("0.03137255").map(|v| dial_matches(v, stored)), Ok(true));
        // Seven significant digits are 1.6e-6 away, relatively: not the same point.
        assert_eq!(parse_number("0.0313725").map(|v| dial_matches(v, stored)), Ok(false));
        assert_eq!(parse_number("0.0314").map(|v| dial_matches(v, stored)), Ok(false));
        assert!(same_dial(None, None));
        assert!(!same_dial(None, Some(0.0)));
    }

    #[test]
    fn bad_numbers_name_their_offset() {
        assert_eq!(parse_number("8/"), Err((2, "expected a number".to_owned())));
        assert_eq!(parse_number("x/255"), Err((0, "expected a number, found `x`".to_owned())));
        assert_eq!(parse_number("1/0").map_err(|(offset, _)| offset), Err(2));
        assert!(parse_number("inf").is_err());
        assert!(parse_number("NaN").is_err());
    }

    #[test]
    fn dials_are_written_as_people_write_them() {
        assert_eq!(format_dial(Some(2.0 / 255.0)), "2/255");
        assert_eq!(format_dial(Some(0.2)), "0.2");
        assert_eq!(format_dial(Some(-2.0)), "-2");
        assert_eq!(format_dial(Some(0.031)), "0.031");
    }
}
