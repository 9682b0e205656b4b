//! DURATION values of the command line and the schedule: 3, 1.5, 250ms, 3s, 2m.

use std::time::Duration;

/// The longest DURATION taken: a year. Longer ones are typing errors (and would overflow the
/// clock's deadlines); every wait xexit makes is far shorter.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Parses a DURATION: seconds with optional fraction, and an optional suffix ms, s or m.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let (number, unit_nanos) = if let Some(n) = trimmed.strip_suffix("ms") {
        (n, 1_000_000)
    } else if let Some(n) = trimmed.strip_suffix('s') {
        (n, 1_000_000_000)
    } else if let Some(n) = trimmed.strip_suffix('m') {
        (n, 60_000_000_000)
    } else {
        (trimmed, 1_000_000_000)
    };
    let number = number.trim();
    let invalid = || format!("'{text}' is not a duration: use seconds, e.g. 3, 1.5, 250ms, 3s or 2m");
    let value: f64 = number.parse().map_err(|_| invalid())?;
    if !value.is_finite() {
        return Err(invalid());
    }
    if value < 0.0 {
        return Err(format!("'{text}' is negative: a duration must be 0 or more"));
    }
    let too_long = || format!("'{text}' is more than a year: a duration must be at most 365 days (31536000s)");
    if value * (unit_nanos as f64) > MAX_DURATION.as_nanos() as f64 * 1.001 {
        return Err(too_long());
    }
    // Plain decimals are taken exactly (250ms is 250 ms, not 0.25 s in binary); other forms
    // that f64 reads, such as 1e3, go through f64.
    let nanos = exact_nanos(number, unit_nanos).unwrap_or((value * unit_nanos as f64) as u128);
    let duration = Duration::from_nanos_u128(nanos);
    if duration > MAX_DURATION {
        return Err(too_long());
    }
    Ok(duration)
}

/// DIGITS[.DIGITS] times the unit, truncated to nanoseconds; `None` for any other form.
fn exact_nanos(number: &str, unit_nanos: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let fraction = &fraction[..fraction.len().min(18)];
    let scale = 10_u128.pow(fraction.len() as u32);
    let fraction: u128 = if fraction.is_empty() { 0 } else { fraction.parse().ok()? };
    whole.checked_mul(unit_nanos)?.checked_add(fraction * unit_nanos / scale)
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
