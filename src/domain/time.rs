//! Times as stored and shown: RFC 3339 in UTC with milliseconds.

use chrono::{DateTime, SecondsFormat, Utc};

/// A time as stored: RFC 3339, UTC, milliseconds.
pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads a stored time back; a corrupt value is an error, never a made-up time.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_corrupt_ones_are_errors() {
        let t = parse_time("2026-11-23T16:47:39.284Z").unwrap();
        assert_eq!(time_text(t), "2026-11-23T16:47:39.284Z");
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("").is_err());
    }
}
