//! Small validated identifiers: `TimelineId`, `Xid` and `RestorePointName`.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use super::{has_control, serde_as_string};
use crate::error::Error;

/// A PostgreSQL timeline id (1 or more).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimelineId(NonZeroU32);

impl TimelineId {
    /// Timeline 1, where every cluster starts.
    pub const FIRST: TimelineId = TimelineId(NonZeroU32::MIN);

    /// Validates a timeline number.
    pub fn new(n: u32) -> Result<Self, Error> {
        NonZeroU32::new(n)
            .map(TimelineId)
            .ok_or_else(|| Error::invalid("timeline", "0", "timelines start at 1"))
    }

    /// The timeline number.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl FromStr for TimelineId {
    type Err = Error;

    /// Parses a decimal timeline number, as PostgreSQL's `recovery_target_timeline` takes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n = s
            .parse::<u32>()
            .ok()
            .filter(|_| s.bytes().all(|b| b.is_ascii_digit()));
        match n.and_then(NonZeroU32::new) {
            Some(n) => Ok(TimelineId(n)),
            None => Err(Error::invalid(
                "timeline",
                s,
                "expected a decimal number from 1 to 4294967295, e.g. 2",
            )),
        }
    }
}

impl fmt::Display for TimelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for TimelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimelineId({})", self.0)
    }
}

serde_as_string!(TimelineId);

/// A transaction id usable as a recovery target: 1 to 4294967295.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Xid(NonZeroU32);

impl Xid {
    /// The transaction id as a number.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl TryFrom<u64> for Xid {
    type Error = Error;

    fn try_from(n: u64) -> Result<Self, Error> {
        u32::try_from(n)
            .ok()
            .and_then(NonZeroU32::new)
            .map(Xid)
            .ok_or_else(|| Error::invalid("xid", n.to_string(), XID_HINT))
    }
}

const XID_HINT: &str = "expected a positive 32-bit transaction id (1 to 4294967295)";

impl FromStr for Xid {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid("xid", s, XID_HINT));
        }
        let n: u64 = s.parse().map_err(|_| Error::invalid("xid", s, XID_HINT))?;
        Xid::try_from(n).map_err(|_| Error::invalid("xid", s, XID_HINT))
    }
}

impl fmt::Display for Xid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Xid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Xid({})", self.0)
    }
}

serde_as_string!(Xid);

/// The name of a restore point (`pg_create_restore_point`): non-empty, under 64 bytes, no
/// control characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RestorePointName(String);

impl RestorePointName {
    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RestorePointName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            Err(Error::invalid(
                "restore point name",
                s.escape_debug().to_string(),
                format!("{why}; PostgreSQL takes a non-empty name under 64 bytes"),
            ))
        };
        if s.is_empty() {
            return bad("it is empty");
        }
        if s.len() >= 64 {
            return bad(&format!("it is {} bytes long", s.len()));
        }
        if has_control(s) {
            return bad("it contains a control character");
        }
        Ok(RestorePointName(s.to_owned()))
    }
}

impl fmt::Display for RestorePointName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RestorePointName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RestorePointName({:?})", self.0)
    }
}

serde_as_string!(RestorePointName);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn xid_range() {
        assert_eq!("1".parse::<Xid>().unwrap().get(), 1);
        assert_eq!("4294967295".parse::<Xid>().unwrap().get(), u32::MAX);
        for s in ["0", "4294967296", "-1", "", "12a", "99999999999", "+5"] {
            let e = s.parse::<Xid>().unwrap_err();
            assert!(e.to_string().contains("4294967295"), "{s}: {e}");
        }
    }

    #[test]
    fn timelines() {
        assert_eq!("2".parse::<TimelineId>().unwrap().get(), 2);
        assert!("0".parse::<TimelineId>().is_err());
        assert!("latest".parse::<TimelineId>().is_err());
        assert!("+2".parse::<TimelineId>().is_err());
    }

    #[test]
    fn restore_point_names() {
        assert_eq!(
            "before-upgrade"
                .parse::<RestorePointName>()
                .unwrap()
                .as_str(),
            "before-upgrade"
        );
        assert!("".parse::<RestorePointName>().is_err());
        assert!("x".repeat(64).parse::<RestorePointName>().is_err());
        assert!("x".repeat(63).parse::<RestorePointName>().is_ok());
        let e = "a\nb".parse::<RestorePointName>().unwrap_err();
        assert!(e.to_string().contains("a\\nb"), "{e}");
    }

    proptest! {
        #[test]
        fn never_panic(s in "\\PC*") {
            let _ = s.parse::<Xid>();
            let _ = s.parse::<TimelineId>();
            let _ = s.parse::<RestorePointName>();
        }
    }
}
