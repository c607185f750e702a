//! The written forms of impairment values, one vocabulary for topology files and
//! `umlvnf link set`: shares (`10%`, `0.5%`, or a fraction such as `0.1`), durations (`5ms`,
//! `250us`, `1.5s`) and rates (`100mbit`). Units are case-insensitive, like `tc`'s.
//!
//! Every `format_*` function writes a text that its `parse_*` function reads back to the very
//! same value, so a value can travel as text (in a plan, over the control socket) unchanged.

use std::time::Duration;

/// Longest delay or jitter accepted: one hour.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Fastest rate accepted, in bits per second: 1 tbit/s.
pub const MAX_RATE_BPS: u64 = 1_000_000_000_000;

/// Duration units and their length in nanoseconds, longest first.
const DURATION_UNITS: &[(&str, u64)] = &[
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("µs", 1_000),
    ("ns", 1),
];

/// Rate units and their bits per second, largest first.
const RATE_UNITS: &[(&str, u64)] = &[
    ("tbit", 1_000_000_000_000),
    ("gbit", 1_000_000_000),
    ("mbit", 1_000_000),
    ("kbit", 1_000),
    ("bit", 1),
];

/// Why the text of an impairment value was refused; the message names what would be valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImpairError {
    /// Not a share.
    #[error("`{}` is not a share: write a percentage from 0% to 100%, such as 10% or 0.5%, or a fraction from 0 to 1, such as 0.005", text.escape_debug())]
    Percent {
        /// The text given.
        text: String,
    },
    /// Not a duration.
    #[error("`{}` is not a duration: write a number with ns, us (or µs), ms or s, up to 3600s (one hour), such as 5ms or 250us; 0 alone is also valid", text.escape_debug())]
    Duration {
        /// The text given.
        text: String,
    },
    /// Not a rate.
    #[error("`{}` is not a rate: write a number with bit, kbit, mbit, gbit or tbit (bits per second, powers of 1000), from 1bit to 1tbit, such as 100mbit", text.escape_debug())]
    Rate {
        /// The text given.
        text: String,
    },
}

/// Splits `" 12.5 ms "` into (12.5, "ms"): a plain decimal number (digits and at most one
/// `.`, no sign, no exponent) followed by an optional unit; whitespace around either is
/// allowed.
fn split_number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    if num.is_empty() || num == "." || num.matches('.').count() > 1 {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    v.is_finite().then(|| (v, unit.trim()))
}

/// The factor of `unit` in `units`, ignoring ASCII case.
fn factor(units: &[(&str, u64)], unit: &str) -> Option<u64> {
    units
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(unit))
        .map(|(_, f)| *f)
}

/// Parses a share as a fraction from 0 to 1: `"50%"` → 0.5, `"0.5%"` → 0.005, or a bare
/// fraction `"0"`, `"0.25"`, `"1"`.
pub fn parse_percent(s: &str) -> Result<f64, ImpairError> {
    let err = || ImpairError::Percent { text: s.to_owned() };
    let (v, unit) = split_number(s).ok_or_else(err)?;
    let ratio = match unit {
        "%" => v / 100.0,
        "" => v,
        _ => return Err(err()),
    };
    if (0.0..=1.0).contains(&ratio) {
        Ok(ratio)
    } else {
        Err(err())
    }
}

/// Parses a duration: `"10ms"`, `"1.5s"`, `"250us"` (or `"250µs"`), `"100ns"`, or `"0"`
/// alone; rounded to whole nanoseconds, at most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, ImpairError> {
    let err = || ImpairError::Duration { text: s.to_owned() };
    let (v, unit) = split_number(s).ok_or_else(err)?;
    let nanos_per = match factor(DURATION_UNITS, unit) {
        Some(f) => f as f64,
        None if unit.is_empty() && v == 0.0 => 0.0,
        None => return Err(err()),
    };
    let nanos = (v * nanos_per).round();
    if nanos > MAX_DURATION.as_nanos() as f64 {
        return Err(err());
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// Parses a rate in bits per second: `"100bit"`, `"500kbit"`, `"10mbit"`, `"1.5gbit"`,
/// `"1tbit"` (powers of 1000, like `tc`); rounded to whole bits per second, from 1 to
/// [`MAX_RATE_BPS`].
pub fn parse_rate(s: &str) -> Result<u64, ImpairError> {
    let err = || ImpairError::Rate { text: s.to_owned() };
    let (v, unit) = split_number(s).ok_or_else(err)?;
    let per = factor(RATE_UNITS, unit).ok_or_else(err)?;
    let bps = (v * per as f64).round();
    if !(1.0..=MAX_RATE_BPS as f64).contains(&bps) {
        return Err(err());
    }
    Ok(bps as u64)
}

/// Writes a share (0 to 1) as a percentage (`10%`) when that reads back exactly, else as a
/// fraction (`0.123`).
pub fn format_percent(ratio: f64) -> String {
    let percent = format!("{}%", ratio * 100.0);
    if parse_percent(&percent) == Ok(ratio) {
        percent
    } else {
        ratio.to_string()
    }
}

/// Writes a duration in the longest unit that holds it whole: `5ms`, `250us`, `7ns`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    let (unit, per) = DURATION_UNITS
        .iter()
        .find(|(_, per)| nanos.is_multiple_of(u128::from(*per)))
        .copied()
        .unwrap_or(("ns", 1));
    format!("{}{unit}", nanos / u128::from(per))
}

/// Writes a rate in the largest unit that holds it whole: `100mbit`, `1500kbit`, `64bit`.
pub fn format_rate(bits_per_second: u64) -> String {
    let (unit, per) = RATE_UNITS
        .iter()
        .find(|(_, per)| bits_per_second.is_multiple_of(*per))
        .copied()
        .unwrap_or(("bit", 1));
    format!("{}{unit}", bits_per_second / per)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn shares() {
        assert_eq!(parse_percent("50%"), Ok(0.5));
        assert_eq!(parse_percent("0.5%"), Ok(0.005));
        assert_eq!(parse_percent("0"), Ok(0.0));
        assert_eq!(parse_percent(" 100 % "), Ok(1.0));
        assert_eq!(parse_percent("0.25"), Ok(0.25));
        assert_eq!(parse_percent("10%"), parse_percent("0.1"));
        for bad in [
            "101%", "-1%", "", "%", "abc", "1.2.3%", "50%%", "1e2%", "NaN", "2", "inf", ".%",
        ] {
            assert!(
                matches!(parse_percent(bad), Err(ImpairError::Percent { ref text }) if text == bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10ms"), Ok(ms(10)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("250 US"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("5MS"), Ok(ms(5)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("3600s"), Ok(MAX_DURATION));
        let bad_ones = [
            "10",
            "ms",
            "-5ms",
            "10 parsecs",
            "3601s",
            "1e3ms",
            "",
            "5sec",
            "5m",
            "1h",
        ];
        for bad in bad_ones {
            assert!(
                matches!(parse_duration(bad), Err(ImpairError::Duration { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("10mbit"), Ok(10_000_000));
        assert_eq!(parse_rate("1gbit"), Ok(1_000_000_000));
        assert_eq!(parse_rate("500kbit"), Ok(500_000));
        assert_eq!(parse_rate("100bit"), Ok(100));
        assert_eq!(parse_rate("1.5Gbit"), Ok(1_500_000_000));
        assert_eq!(parse_rate("1TBIT"), Ok(MAX_RATE_BPS));
        for bad in [
            "0bit", "10", "10mbps", "fast", "-1kbit", "0.1bit", "1.1tbit", "1e3bit",
        ] {
            assert!(
                matches!(parse_rate(bad), Err(ImpairError::Rate { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn messages_name_the_text_and_what_is_valid() {
        let msg = parse_rate("10mbps").unwrap_err().to_string();
        assert!(msg.contains("`10mbps`") && msg.contains("mbit"), "{msg}");
        let msg = parse_duration("5\n").unwrap_err().to_string();
        assert!(msg.contains("`5\\n`") && msg.contains("3600s"), "{msg}");
        let msg = parse_percent("2").unwrap_err().to_string();
        assert!(msg.contains("`2`") && msg.contains("0% to 100%"), "{msg}");
    }

    #[test]
    fn formats_read_back_to_the_same_value() {
        assert_eq!(format_percent(0.1), "10%");
        assert_eq!(format_percent(0.005), "0.5%");
        assert_eq!(format_duration(ms(5)), "5ms");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1500us");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_rate(100_000_000), "100mbit");
        assert_eq!(format_rate(1_500_000), "1500kbit");
        let mut rng = SplitMix64::new(7);
        for _ in 0..100_000 {
            let ratio = rng.next_f64();
            assert_eq!(parse_percent(&format_percent(ratio)), Ok(ratio));
            let nanos = rng.next_u64() % (MAX_DURATION.as_nanos() as u64 + 1);
            let d = Duration::from_nanos(nanos);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
            let bps = 1 + rng.next_u64() % MAX_RATE_BPS;
            assert_eq!(parse_rate(&format_rate(bps)), Ok(bps));
        }
        for ratio in [0.0, 1.0, f64::MIN_POSITIVE, 1e-300, 0.3, 1.0 / 3.0] {
            assert_eq!(parse_percent(&format_percent(ratio)), Ok(ratio));
        }
    }
}
