//! DURATION values of the command line and the schedule: 3, 1.5, 250ms, 3s, 2m.

use std::time::Duration;

/// Parses a DURATION: seconds with optional fraction, and an optional suffix ms, s or m.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let (number, scale) = if let Some(n) = trimmed.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = trimmed.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = trimmed.strip_suffix('m') {
        (n, 60.0)
    } else {
        (trimmed, 1.0)
    };
    let invalid = || format!("'{text}' is not a duration: use seconds, e.g. 3, 1.5, 250ms, 3s or 2m");
    let value: f64 = number.trim().parse().map_err(|_| invalid())?;
    if !value.is_finite() {
        return Err(invalid());
    }
    if value < 0.0 {
        return Err(format!("'{text}' is negative: a duration must be 0 or more"));
    }
    Duration::try_from_secs_f64(value * scale).map_err(|_| invalid())
}

/// A DURATION that must be more than zero (intervals and timeouts).
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!("'{text}' is zero: this duration must be more than 0"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_the_documented_forms() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_reject_garbage_negative_and_zero_where_positive() {
        for bad in ["", "s", "abc", "3h", "1e400", "nan", "inf", "5 sec"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_duration("-1").unwrap_err().contains("negative"));
        assert!(parse_positive_duration("0s").unwrap_err().contains("zero"));
        assert!(parse_positive_duration("0.0").is_err());
    }
}
