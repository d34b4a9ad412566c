//! `TargetTime`: a recovery target time that PostgreSQL and pgBackRest read the same way.
//!
//! Accepted input: `YYYY-MM-DD HH:MM:SS[.ffffff]` followed by `Z`, `±HH`, `±HHMM` or
//! `±HH:MM`; a `T` may separate date and time. A time without a zone is refused unless the
//! caller says which zone it is in ([`TargetTime::parse_in_zone`]) — guessing the zone is how a
//! restore lands hours away from where it was meant to.
//!
//! The rendered form ([`TargetTime::to_postgres`], also `Display`) always carries a numeric
//! offset and a space separator: pgBackRest's own time parser rejects a literal `Z` and named
//! zones, and PostgreSQL reads `+00` unambiguously.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

use super::serde_as_string;
use crate::error::Error;

/// A recovery target time with the UTC offset it was given in.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TargetTime {
    timestamp: Timestamp,
    offset: Offset,
}

const HINT: &str = "expected YYYY-MM-DD HH:MM:SS[.ffffff] with a zone such as +00, +08:00 or Z, \
    e.g. '2025-01-01 12:00:00+08'";

struct Parsed {
    datetime: DateTime,
    offset: Option<Offset>,
}

fn digits(s: &str, n: usize) -> Option<(i32, &str)> {
    let (head, rest) = s.split_at_checked(n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, rest))
}

fn expect<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.strip_prefix(prefix)
}

fn parse_parts(s: &str) -> Option<Parsed> {
    let (year, r) = digits(s, 4)?;
    let (month, r) = digits(expect(r, "-")?, 2)?;
    let (day, r) = digits(expect(r, "-")?, 2)?;
    let r = r.strip_prefix(' ').or_else(|| r.strip_prefix('T'))?;
    let (hour, r) = digits(r, 2)?;
    let (minute, r) = digits(expect(r, ":")?, 2)?;
    let (second, mut r) = digits(expect(r, ":")?, 2)?;
    let mut nanos = 0i32;
    if let Some(frac) = r.strip_prefix('.') {
        let len = frac.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=6).contains(&len) {
            return None;
        }
        let (value, rest) = digits(frac, len)?;
        nanos = value * 10i32.pow(9 - len as u32);
        r = rest;
    }
    let offset = match r {
        "" => None,
        "Z" | "z" => Some(Offset::UTC),
        _ => {
            let sign = match r.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, rest) = digits(&r[1..], 2)?;
            let om = if rest.is_empty() {
                0
            } else {
                let rest = rest.strip_prefix(':').unwrap_or(rest);
                let (om, tail) = digits(rest, 2)?;
                if !tail.is_empty() || om >= 60 {
                    return None;
                }
                om
            };
            if oh > 15 {
                return None;
            }
            Some(Offset::from_seconds(sign * (oh * 3600 + om * 60)).ok()?)
        }
    };
    let datetime = DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    Some(Parsed { datetime, offset })
}

impl TargetTime {
    /// Parses a time that may lack a zone, interpreting it in `zone` if it does.
    ///
    /// A local time that is ambiguous or skipped in `zone` (daylight saving changes) is refused.
    pub fn parse_in_zone(s: &str, zone: &TimeZone) -> Result<Self, Error> {
        let parsed = parse_parts(s).ok_or_else(|| Error::invalid("target time", s, HINT))?;
        if let Some(offset) = parsed.offset {
            Self::from_parts(s, parsed.datetime, offset)
        } else {
            {
                let zoned = zone
                    .to_ambiguous_zoned_datetime(parsed.datetime)
                    .unambiguous()
                    .map_err(|_| {
                        Error::invalid(
                            "target time",
                            s,
                            "this local time is ambiguous or does not exist in the given zone \
                             (daylight saving change): add an explicit offset",
                        )
                    })?;
                Ok(TargetTime {
                    timestamp: zoned.timestamp(),
                    offset: zoned.offset(),
                })
            }
        }
    }

    fn from_parts(s: &str, datetime: DateTime, offset: Offset) -> Result<Self, Error> {
        let timestamp = offset
            .to_timestamp(datetime)
            .map_err(|_| Error::invalid("target time", s, "the time is out of range"))?;
        Ok(TargetTime { timestamp, offset })
    }

    /// A target time at an instant, shown in UTC.
    pub fn from_timestamp(timestamp: Timestamp) -> Self {
        TargetTime {
            timestamp,
            offset: Offset::UTC,
        }
    }

    /// The instant this time denotes.
    pub fn timestamp(self) -> Timestamp {
        self.timestamp
    }

    /// Seconds since the Unix epoch (fraction discarded toward negative infinity).
    pub fn unix_seconds(self) -> i64 {
        self.timestamp.as_second() - i64::from(self.timestamp.subsec_nanosecond() < 0)
    }

    /// The form to write to `recovery_target_time` and pgBackRest's `--target`.
    pub fn to_postgres(self) -> String {
        self.to_string()
    }
}

impl FromStr for TargetTime {
    type Err = Error;

    /// Parses a time that must carry its zone.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = parse_parts(s).ok_or_else(|| Error::invalid("target time", s, HINT))?;
        match parsed.offset {
            Some(offset) => Self::from_parts(s, parsed.datetime, offset),
            None => Err(Error::TimeZoneRequired {
                value: s.to_owned(),
            }),
        }
    }
}

impl fmt::Display for TargetTime {
    /// `YYYY-MM-DD HH:MM:SS[.ffffff]+HH[:MM]` in the time's own offset; an offset that is not
    /// a whole number of minutes (local mean time in a zone's early history, e.g. +00:53:28 in
    /// Europe/Berlin before 1893) cannot be written so and is written in UTC instead, the same
    /// instant.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let offset = if self.offset.seconds() % 60 == 0 {
            self.offset
        } else {
            Offset::UTC
        };
        let local = offset.to_datetime(self.timestamp);
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            local.year(),
            local.month(),
            local.day(),
            local.hour(),
            local.minute(),
            local.second()
        )?;
        let micros = local.subsec_nanosecond() / 1000;
        if micros != 0 {
            write!(f, ".{micros:06}")?;
        }
        let secs = offset.seconds();
        let sign = if secs < 0 { '-' } else { '+' };
        let (h, m) = (secs.abs() / 3600, secs.abs() % 3600 / 60);
        if m == 0 {
            write!(f, "{sign}{h:02}")
        } else {
            write!(f, "{sign}{h:02}:{m:02}")
        }
    }
}

impl fmt::Debug for TargetTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TargetTime({self})")
    }
}

serde_as_string!(TargetTime);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> TargetTime {
        s.parse().unwrap()
    }

    #[test]
    fn accepted_forms_render_with_numeric_offset() {
        assert_eq!(
            t("2026-11-23 20:27:46+00").to_postgres(),
            "2026-11-23 20:27:46+00"
        );
        assert_eq!(
            t("2026-11-23T20:27:46Z").to_postgres(),
            "2026-11-23 20:27:46+00"
        );
        assert_eq!(
            t("2026-11-23 20:27:46.5+08:00").to_postgres(),
            "2026-11-23 20:27:46.500000+08"
        );
        assert_eq!(
            t("2026-11-23 20:27:46-0330").to_postgres(),
            "2026-11-23 20:27:46-03:30"
        );
        assert_eq!(
            t("2026-11-23 20:27:46.123456+05:45").to_string(),
            "2026-11-23 20:27:46.123456+05:45"
        );
        assert_eq!(
            t("2026-11-23 20:27:46+08").timestamp(),
            t("2026-11-23 12:27:46Z").timestamp()
        );
        assert_eq!(t("2026-11-23 20:27:46+00").unix_seconds(), 1_795_465_666);
    }

    #[test]
    fn zone_is_required_or_given() {
        let e = "2026-11-23 20:27:46".parse::<TargetTime>().unwrap_err();
        assert_eq!(e.code(), "time_zone_required");
        let tz = TimeZone::get("Asia/Shanghai").unwrap_or(TimeZone::fixed(Offset::constant(8)));
        let got = TargetTime::parse_in_zone("2026-11-23 20:27:46", &tz).unwrap();
        assert_eq!(got.timestamp(), t("2026-11-23 12:27:46+00").timestamp());
    }

    /// Found by the `target_time` fuzz target: in Europe/Berlin before 1893 the offset is local
    /// mean time, +00:53:28; written as +00:53 the target moved by 28 seconds.
    #[test]
    fn an_offset_with_seconds_is_written_in_utc_and_keeps_the_instant() {
        let Ok(berlin) = TimeZone::get("Europe/Berlin") else {
            panic!("the time zone database lacks Europe/Berlin");
        };
        let got = TargetTime::parse_in_zone("1013-03-29 02:30:00", &berlin).unwrap();
        assert_eq!(got.to_postgres(), "1013-03-29 01:36:32+00");
        assert_eq!(t(&got.to_postgres()).timestamp(), got.timestamp());
        let odd = TargetTime {
            timestamp: t("2026-11-23 20:27:46+00").timestamp(),
            offset: Offset::from_seconds(-(3 * 3600 + 30 * 60 + 7)).unwrap(),
        };
        assert_eq!(odd.to_postgres(), "2026-11-23 20:27:46+00");
    }

    #[test]
    fn refuses_malformed() {
        for s in [
            "",
            "yesterday",
            "2026-11-23",
            "2026-13-01 00:00:00+00",
            "2026-11-23 24:00:00+00",
            "2026-11-23 20:27:46 EST",
            "2026-11-23 20:27:46+16",
            "2026-11-23 20:27:46.1234567+00",
            "2026-11-23 20:27:46.+00",
            "2026/11/23 20:27:46+00",
            "2026-11-23  20:27:46+00",
            "2026-11-23 20:27:46+08:60",
            "2026-11-23 20:27:46+0",
        ] {
            let e = s.parse::<TargetTime>().unwrap_err();
            assert_eq!(e.code(), "invalid_value", "{s}");
        }
    }

    proptest! {
        #[test]
        fn display_parses_back(secs in 0i64..4_102_444_800, micros in 0i32..1_000_000, off_min in -959i32..=959) {
            let ts = Timestamp::new(secs, micros * 1000).unwrap();
            let offset = Offset::from_seconds(off_min * 60).unwrap();
            let tt = TargetTime { timestamp: ts, offset };
            prop_assert_eq!(tt.to_string().parse::<TargetTime>().unwrap(), tt);
        }

        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = s.parse::<TargetTime>();
            let _ = TargetTime::parse_in_zone(&s, &TimeZone::UTC);
        }
    }
}
