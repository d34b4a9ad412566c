//! `CronSchedule`: the time fields of a cron line, checked the way cron reads them.
//!
//! pitr writes scheduled backups to `/etc/cron.d`, read by Debian's Vixie cron or by cronie on
//! EL. Both skip a line they cannot parse — logging it, not refusing it — so a schedule such as
//! `99 99 * * *` means no backups at all, noticed only when one is needed. A schedule is
//! accepted here only if both daemons read it the same way and it can fire:
//!
//! * five fields — minute `0-59`, hour `0-23`, day of month `1-31`, month `1-12` or
//!   `jan`..`dec`, day of week `0-7` (0 and 7 are Sunday) or `sun`..`sat`; names in any case;
//! * each field a list (`,`) of `*`, a number or name, or a range `a-b` with `a <= b`; `*` and
//!   ranges may take a step (`*/15`, `1-30/5`);
//! * or one of the shorthands `@hourly`, `@daily`, `@midnight`, `@weekly`, `@monthly`,
//!   `@yearly`, `@annually`.
//!
//! Refused, though some cron accepts it: a reversed range (`30-10`: Vixie cron keeps the line
//! and never runs it, cronie drops it), a step on a single value (`5/10`, cronie only),
//! cronie's random `~`, Quartz's `?`, `L`, `W` and `#` (neither daemon), a step of 0, `@reboot`
//! (not a schedule), and a day of month that no chosen month has (`0 0 31 2 *`) when the day of
//! week is `*`. The canonical form joins the fields with one space.
//!
//! ```
//! use pitr_core::names::CronSchedule;
//! let s: CronSchedule = "00  01 * * mon-fri".parse().unwrap();
//! assert_eq!(s.to_string(), "00 01 * * mon-fri");
//! let e = "99 99 * * *".parse::<CronSchedule>().unwrap_err();
//! assert_eq!(e.code(), "invalid_value");
//! assert!(e.to_string().starts_with("invalid cron minute '99'"), "{e}");
//! ```

use std::fmt;
use std::str::FromStr;

use super::serde_as_string;
use crate::error::Error;

/// The `@` shorthands cron accepts that describe a schedule.
const SHORTHANDS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// The last day of each month in a leap year.
const MONTH_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// One of the five time fields.
struct Field {
    /// What errors call it (`cron minute`).
    kind: &'static str,
    /// Lowest and highest value.
    low: u32,
    high: u32,
    /// Names standing for `low`, `low + 1`, ...
    names: &'static [&'static str],
    /// How the hint describes its values.
    values: &'static str,
}

const FIELDS: [Field; 5] = [
    Field {
        kind: "cron minute",
        low: 0,
        high: 59,
        names: &[],
        values: "the minute field takes 0-59",
    },
    Field {
        kind: "cron hour",
        low: 0,
        high: 23,
        names: &[],
        values: "the hour field takes 0-23",
    },
    Field {
        kind: "cron day of month",
        low: 1,
        high: 31,
        names: &[],
        values: "the day-of-month field takes 1-31",
    },
    Field {
        kind: "cron month",
        low: 1,
        high: 12,
        names: &MONTHS,
        values: "the month field takes 1-12 or jan-dec",
    },
    Field {
        kind: "cron day of week",
        low: 0,
        high: 7,
        names: &WEEKDAYS,
        values: "the day-of-week field takes 0-7 (0 and 7 are Sunday) or sun-sat",
    },
];

/// A cron schedule that Vixie cron and cronie both accept and that can fire.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CronSchedule(String);

impl CronSchedule {
    /// The schedule as written into a cron line.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CronSchedule {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fields: Vec<&str> = s.split_whitespace().collect();
        if let [one] = fields.as_slice() {
            if SHORTHANDS.contains(one) {
                return Ok(CronSchedule((*one).to_owned()));
            }
        }
        if fields.len() != 5 {
            return Err(Error::invalid(
                "cron schedule",
                s,
                "expected five fields (minute hour day-of-month month day-of-week) such as \
                 '00 01 * * *', or one of @hourly, @daily, @weekly, @monthly, @yearly",
            ));
        }
        let mut sets = [0u64; 5];
        for ((field, text), set) in FIELDS.iter().zip(&fields).zip(&mut sets) {
            *set = field.parse(text, s)?;
        }
        // Cron runs on the chosen days of the month AND of the week when either field starts
        // with '*', on either otherwise: with the day of week '*', the day of month must exist.
        let [_, _, days, months, _] = sets;
        let day_must_exist = fields[4].starts_with('*') && !fields[2].starts_with('*');
        let some_day_exists = (1..=12u32)
            .filter(|m| months & (1u64 << m) != 0)
            .any(|m| days & (u64::MAX >> (63 - MONTH_DAYS[m as usize - 1])) != 0);
        if day_must_exist && !some_day_exists {
            return Err(Error::invalid(
                "cron day of month",
                fields[2],
                format!(
                    "no month chosen by '{}' has such a day, so cron would never run \
                     '{s}'; pick a day one of them has (February: 1-29, 29 in leap years only)",
                    fields[3]
                ),
            ));
        }
        Ok(CronSchedule(fields.join(" ")))
    }
}

impl Field {
    /// The set of values `text` selects, one bit per value; `line` is the whole schedule.
    fn parse(&self, text: &str, line: &str) -> Result<u64, Error> {
        let mut set = 0u64;
        for item in text.split(',') {
            set |= self.parse_item(item).map_err(|hint| {
                Error::invalid(
                    self.kind,
                    item,
                    format!(
                        "{hint}; {} with '*', lists (1,15), ranges (1-5) and steps (*/10, \
                         0-30/5), in '{line}'",
                        self.values
                    ),
                )
            })?;
        }
        Ok(set)
    }

    /// One element of a list: `*`, `*/n`, `a`, `a-b` or `a-b/n`.
    fn parse_item(&self, item: &str) -> Result<u64, String> {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        let (from, to) = if range == "*" {
            (self.low, self.high)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (self.value(a)?, self.value(b)?);
            if a > b {
                return Err(format!(
                    "the range runs backwards, so cron would never run it; write {b}-{a} or a list"
                ));
            }
            (a, b)
        } else {
            let value = self.value(range)?;
            if step.is_some() {
                return Err(format!(
                    "a step needs '*' or a range before it; write {value}-{}/N",
                    self.high
                ));
            }
            (value, value)
        };
        let step = match step {
            None => 1,
            Some(text) => match parse_number(text) {
                Some(n) if n > 0 => n,
                _ => return Err(format!("the step '{text}' is not a number of 1 or more")),
            },
        };
        Ok((from..=to)
            .step_by(step as usize)
            .fold(0, |set, v| set | (1u64 << v)))
    }

    /// A number in range, or a name.
    fn value(&self, text: &str) -> Result<u32, String> {
        if let Some(n) = parse_number(text) {
            return if (self.low..=self.high).contains(&n) {
                Ok(n)
            } else {
                Err(format!("'{text}' is out of range"))
            };
        }
        self.names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(text))
            .map(|i| self.low + i as u32)
            .ok_or_else(|| {
                if text.is_empty() {
                    "a number is missing".to_owned()
                } else {
                    format!("'{text}' is not a number or a name cron knows")
                }
            })
    }
}

/// A decimal number as cron reads it (leading zeros allowed), small enough to mean something.
fn parse_number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronSchedule({:?})", self.0)
    }
}

serde_as_string!(CronSchedule);

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        s.parse::<CronSchedule>()
            .unwrap_or_else(|e| panic!("{s:?}: {e}"))
            .to_string()
    }

    fn err(s: &str) -> String {
        let e = s.parse::<CronSchedule>().unwrap_err();
        assert_eq!(e.code(), "invalid_value", "{s:?}: {e}");
        e.to_string()
    }

    #[test]
    fn what_cron_reads_is_accepted_and_canonical() {
        for (input, canonical) in [
            ("00 01 * * *", "00 01 * * *"),
            ("  0\t1  * *  *  ", "0 1 * * *"),
            ("*/15 * * * *", "*/15 * * * *"),
            ("0 */4 * * *", "0 */4 * * *"),
            ("0,30 1-5,22 * * *", "0,30 1-5,22 * * *"),
            (
                "0-30/5 0-23/2 1-31/7 1-12/3 0-7/2",
                "0-30/5 0-23/2 1-31/7 1-12/3 0-7/2",
            ),
            ("59 23 31 12 7", "59 23 31 12 7"),
            ("0 0 1 jan,JUL *", "0 0 1 jan,JUL *"),
            ("0 0 * Jan-Mar Mon-Fri", "0 0 * Jan-Mar Mon-Fri"),
            ("0 0 * * sun,sat", "0 0 * * sun,sat"),
            ("0 0 29 2 *", "0 0 29 2 *"),
            ("0 0 31 2,3 *", "0 0 31 2,3 *"),
            // Day of week restricted: cron runs on either day, so Feb 31 alone is harmless.
            ("0 0 31 2 mon", "0 0 31 2 mon"),
            ("*/90 * * * *", "*/90 * * * *"),
            ("@daily", "@daily"),
            (" @hourly ", "@hourly"),
            ("@annually", "@annually"),
            ("@midnight", "@midnight"),
        ] {
            assert_eq!(ok(input), canonical, "{input:?}");
        }
    }

    #[test]
    fn values_out_of_range_name_the_field_and_value() {
        for (input, start) in [
            (
                "99 99 * * *",
                "invalid cron minute '99': '99' is out of range",
            ),
            ("0 24 * * *", "invalid cron hour '24'"),
            ("0 0 0 * *", "invalid cron day of month '0'"),
            ("0 0 32 * *", "invalid cron day of month '32'"),
            ("0 0 * 13 *", "invalid cron month '13'"),
            ("0 0 * 0 *", "invalid cron month '0'"),
            ("0 0 * * 8", "invalid cron day of week '8'"),
            ("60 0 * * *", "invalid cron minute '60'"),
            ("0,75 0 * * *", "invalid cron minute '75'"),
            ("0 1-25 * * *", "invalid cron hour '1-25'"),
            (
                "0 0 * * 99999999999999999999",
                "invalid cron day of week '99999999999999999999'",
            ),
        ] {
            let e = err(input);
            assert!(e.starts_with(start), "{input:?}: {e}");
            assert!(e.contains(&format!("in '{input}'")), "{input:?}: {e}");
        }
        let e = err("0 0 * * 8");
        assert!(e.contains("0-7 (0 and 7 are Sunday) or sun-sat"), "{e}");
    }

    #[test]
    fn syntax_cron_skips_is_refused() {
        for (input, kind, needle) in [
            ("30-10 * * * *", "minute", "runs backwards"),
            ("5/10 * * * *", "minute", "a step needs '*' or a range"),
            ("*/0 * * * *", "minute", "the step '0'"),
            ("*/ * * * *", "minute", "the step ''"),
            ("*/x * * * *", "minute", "the step 'x'"),
            ("0 0 L * *", "day of month", "'L' is not a number or a name"),
            ("0 0 15W * *", "day of month", "'15W'"),
            ("0 0 * * 5#2", "day of week", "'5#2'"),
            ("0 0 ? * mon", "day of month", "'?'"),
            ("~ 0 * * *", "minute", "'~'"),
            ("0 0 * * monday", "day of week", "'monday'"),
            ("0 0 mon * *", "day of month", "'mon' is not a number"),
            ("0,,5 0 * * *", "minute", "a number is missing"),
            ("-5 0 * * *", "minute", "a number is missing"),
            ("+5 0 * * *", "minute", "'+5'"),
            ("0 0 31 2 *", "day of month", "never run"),
            ("0 0 30,31 2 *", "day of month", "no month chosen by '2'"),
            ("0 0 31 apr,jun,sep,nov *", "day of month", "never run"),
        ] {
            let e = err(input);
            assert!(
                e.starts_with(&format!("invalid cron {kind} ")),
                "{input:?}: {e}"
            );
            assert!(e.contains(needle), "{input:?}: {e}");
        }
    }

    #[test]
    fn field_count_and_shorthands() {
        for input in [
            "",
            "   ",
            "0 1 * *",
            "0 0 1 * * *",
            "0 0 1 * * * 2026",
            "@reboot",
            "@DAILY",
            "@every 5m",
            "daily",
        ] {
            let e = err(input);
            assert!(e.starts_with("invalid cron schedule"), "{input:?}: {e}");
            assert!(e.contains("five fields"), "{e}");
        }
        let e = err("0 1 * *\n* * * * * root rm -rf /");
        assert!(!e.contains('\n'), "one line: {e}");
    }

    proptest::proptest! {
        #[test]
        fn canonical_forms_parse_back(fields in proptest::collection::vec(
            "(\\*|[0-9]{1,2}(-[0-9]{1,2})?|[a-zA-Z]{3})(/[0-9]{1,2})?(,[0-9]{1,2})?", 5..=5,
        )) {
            if let Ok(s) = fields.join("  ").parse::<CronSchedule>() {
                proptest::prop_assert_eq!(s.as_str(), fields.join(" "));
                proptest::prop_assert_eq!(s.to_string().parse::<CronSchedule>().unwrap(), s);
            }
        }

        #[test]
        fn any_text_is_safe(text in "\\PC*") {
            let _ = text.parse::<CronSchedule>();
        }
    }

    #[test]
    fn serde_round_trip() {
        let s: CronSchedule = serde_json::from_str("\"0  1 * * *\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"0 1 * * *\"");
        assert!(serde_json::from_str::<CronSchedule>("\"61 * * * *\"").is_err());
    }
}
