//! Parsing of the human units every tool accepts on its command line and in
//! its input items: durations (`250ms`, `2s`, `1.5s`, `1m`, `3`) and sizes
//! (`512`, `64KiB`, `1MiB`, `10MB`).
//!
//! Both parsers return a plain `String` error so that clap can show it next to
//! the flag, and the input reader can attach the line and field it came from.

use std::time::Duration;

/// The longest duration we accept: a week. Anything longer is almost surely a
/// unit mistake (`3600000` meant as milliseconds), and it keeps `Instant`
/// arithmetic far away from overflow.
const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses `250ms`, `2s`, `1.5s`, `1m`, `1h`, or a bare number of seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let (value, unit) = number_and_unit(text)
        .ok_or_else(|| format!("`{text}` is not a duration (try 250ms, 2s, 1.5s, 1m)"))?;
    let seconds_per_unit = match unit {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "us" | "µs" => 0.000_001,
        "m" | "min" | "mins" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}` (use ms, s, m or h)"
            ));
        }
    };
    duration_from_secs(value * seconds_per_unit, text)
}

/// Converts a number of seconds (as found in JSON items: `"timeout": 2.5`).
pub(crate) fn duration_from_secs(seconds: f64, shown_as: &str) -> Result<Duration, String> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("`{shown_as}` is not a positive duration"));
    }
    // Compared before converting: `from_secs_f64` panics past u64 seconds.
    if seconds > MAX_DURATION.as_secs_f64() {
        return Err(format!("`{shown_as}` is longer than the 7-day maximum"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses a byte size: a bare number of bytes, or a number with `B`, `K`/`KB`
/// (1000), `KiB` (1024), `M`/`MB`, `MiB`, `G`/`GB`, `GiB` (case-insensitive).
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let (value, unit) = number_and_unit(text)
        .ok_or_else(|| format!("`{text}` is not a size (try 65536, 64KiB, 1MiB)"))?;
    let multiplier: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{text}` (use B, KiB, MiB, GiB)"
            ));
        }
    };
    let bytes = value * multiplier;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("`{text}` is not a valid size"));
    }
    Ok(bytes.round() as u64)
}

/// Splits `1.5 KiB` into its number and its unit (`1.5`, `"KiB"`), or `None`
/// when there is no number. The unit starts at the first ASCII letter, so
/// `1e30` is 1 with unit `e30` (no exponents), and `NaN` and `inf` are no
/// numbers at all.
fn number_and_unit(text: &str) -> Option<(f64, &str)> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| c.is_alphabetic())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    Some((number.trim().parse().ok()?, unit.trim()))
}

/// Milliseconds as the JSON shows them: whole, never rounded up to hide a zero.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Renders a duration the way a person writes it back on the command line.
pub(crate) fn format_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms == 0 {
        format!("{}us", duration.as_micros())
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms < 1000 {
        format!("{ms}ms")
    } else {
        let seconds = format!("{:.3}", duration.as_secs_f64());
        format!("{}s", seconds.trim_end_matches('0').trim_end_matches('.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_documented_form() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 10 ms "), Ok(Duration::from_millis(10)));
        assert_eq!(parse_duration("5µs"), Ok(Duration::from_micros(5)));
        assert_eq!(parse_duration("5us"), Ok(Duration::from_micros(5)));
    }

    #[test]
    fn bad_durations_are_errors_not_panics() {
        for bad in [
            "",
            "s",
            "-1s",
            "1x",
            "abc",
            "NaN",
            "inf",
            "1e30",
            "8d",
            "99999999999999999999",
            "18446744073709551616s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn errors_say_whether_the_number_or_the_unit_is_wrong() {
        assert_eq!(
            parse_duration("abc"),
            Err("`abc` is not a duration (try 250ms, 2s, 1.5s, 1m)".to_string())
        );
        assert_eq!(
            parse_duration(" 1 x "),
            Err("unknown duration unit `x` in ` 1 x ` (use ms, s, m or h)".to_string())
        );
        assert_eq!(
            parse_size("KiB"),
            Err("`KiB` is not a size (try 65536, 64KiB, 1MiB)".to_string())
        );
        assert_eq!(
            parse_size("1 Parsec"),
            Err("unknown size unit `parsec` in `1 Parsec` (use B, KiB, MiB, GiB)".to_string())
        );
    }

    #[test]
    fn sizes_binary_and_decimal() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("1mb"), Ok(1_000_000));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert!(parse_size("-1").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(duration_from_secs(1e300, "1e300").is_err());
    }

    #[test]
    fn durations_format_back_readably() {
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }
}
