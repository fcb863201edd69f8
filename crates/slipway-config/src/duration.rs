//! Go-style durations: `90s`, `10m`, `1h30m`, `500ms`, `1.5h`.
//!
//! A duration is one or more `<number><unit>` pairs; the units are `h`, `m`, `s`, `ms`,
//! `us` (or `µs`), and `ns`. The number may have a fraction. `0` alone is allowed;
//! negative durations are not.

use std::time::Duration;

/// Why a duration did not parse. The `Display` form is a complete message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing was given.
    #[error("empty duration")]
    Empty,
    /// A number without a unit, such as `600`.
    #[error("duration `{0}` has no unit")]
    MissingUnit(String),
    /// A unit that is not one of `h`, `m`, `s`, `ms`, `us`, `ns`.
    #[error("unknown unit `{unit}` in duration `{text}`")]
    UnknownUnit {
        /// The whole duration as written.
        text: String,
        /// The unit that was not understood.
        unit: String,
    },
    /// Anything else that is not `<number><unit>...`.
    #[error("invalid duration `{0}`")]
    Invalid(String),
    /// A duration starting with `-`.
    #[error("duration `{0}` is negative")]
    Negative(String),
    /// Larger than `u64::MAX` nanoseconds.
    #[error("duration `{0}` is too large")]
    Overflow(String),
}

impl DurationError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            DurationError::MissingUnit(text) => Some(format!("add a unit, e.g. `{text}s`")),
            DurationError::UnknownUnit { .. } => Some(
                "use `h`, `m`, `s`, `ms`, `us` or `ns`, e.g. `36h` for a day and a half".into(),
            ),
            DurationError::Empty | DurationError::Invalid(_) => {
                Some("write durations like `90s`, `10m`, `1h30m` or `500ms`".into())
            }
            DurationError::Negative(_) | DurationError::Overflow(_) => None,
        }
    }
}

/// Parse a Go-style duration.
///
/// ```
/// use std::time::Duration;
/// use slipway_config::duration::parse_duration;
/// assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
/// assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
/// ```
///
/// # Errors
///
/// Returns a [`DurationError`] that says what is wrong with the text.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s.starts_with('-') {
        return Err(DurationError::Negative(text.into()));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];

        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        if number.is_empty() || (int.is_empty() && frac.is_empty()) || frac.contains('.') {
            return Err(DurationError::Invalid(text.into()));
        }
        if unit.is_empty() {
            return Err(if number == s {
                DurationError::MissingUnit(text.into())
            } else {
                DurationError::Invalid(text.into())
            });
        }
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(DurationError::UnknownUnit {
                    text: text.into(),
                    unit: unit.into(),
                });
            }
        };
        let overflow = || DurationError::Overflow(text.into());
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| overflow())?
        };
        let mut value = int.checked_mul(nanos_per_unit).ok_or_else(overflow)?;
        // Fractions: keep up to 18 digits, which is finer than a nanosecond for every unit.
        let frac = &frac[..frac.len().min(18)];
        if !frac.is_empty() {
            let digits: u128 = frac.parse().map_err(|_| overflow())?;
            let scale = 10u128.pow(frac.len() as u32);
            value += digits * nanos_per_unit / scale;
        }
        total = total.checked_add(value).ok_or_else(overflow)?;
    }
    let nanos = u64::try_from(total).map_err(|_| DurationError::Overflow(text.into()))?;
    Ok(Duration::from_nanos(nanos))
}

/// Format a duration the way it is usually written in `slipway.yaml`: `1h30m`, `90s`
/// becomes `1m30s`, `500ms`, `0s`.
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    let total_ms = d.as_millis();
    if !d.subsec_nanos().is_multiple_of(1_000_000) || total_ms == 0 {
        return format!("{}ns", d.as_nanos());
    }
    let (h, m, s, ms) = (
        total_ms / 3_600_000,
        total_ms / 60_000 % 60,
        total_ms / 1000 % 60,
        total_ms % 1000,
    );
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if s > 0 {
        out += &format!("{s}s");
    }
    if ms > 0 {
        out += &format!("{ms}ms");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_units_parse() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7us"), Ok(Duration::from_micros(7)));
        assert_eq!(parse_duration("7µs"), Ok(Duration::from_micros(7)));
        assert_eq!(parse_duration("3ns"), Ok(Duration::from_nanos(3)));
    }

    #[test]
    fn compound_and_fractional_durations_add_up() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(
            parse_duration("1m30s500ms"),
            Ok(Duration::from_millis(90_500))
        );
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("+5s"), Ok(Duration::from_secs(5)));
    }

    #[test]
    fn zero_alone_needs_no_unit() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn a_number_without_unit_asks_for_one() {
        let err = parse_duration("600").unwrap_err();
        assert_eq!(err.to_string(), "duration `600` has no unit");
        assert_eq!(err.hint().as_deref(), Some("add a unit, e.g. `600s`"));
    }

    #[test]
    fn days_are_an_unknown_unit() {
        let err = parse_duration("2d").unwrap_err();
        assert_eq!(err.to_string(), "unknown unit `d` in duration `2d`");
    }

    #[test]
    fn malformed_durations_are_refused() {
        for text in ["", "s", "1.2.3s", "m5", "1h30", ".s", "ten minutes"] {
            assert!(parse_duration(text).is_err(), "{text:?} parsed");
        }
        assert_eq!(
            parse_duration("-5s"),
            Err(DurationError::Negative("-5s".into()))
        );
        assert!(matches!(
            parse_duration("99999999999999999999h"),
            Err(DurationError::Overflow(_))
        ));
    }

    #[test]
    fn format_round_trips_common_values() {
        for text in ["1h30m", "10m", "1m30s", "500ms", "0s", "2h0m5s"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{text}");
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_nanos(5)), "5ns");
    }
}
