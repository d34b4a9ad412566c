//! `Lsn`: a PostgreSQL write-ahead log location, written `X/X` in hex.

use std::fmt;
use std::str::FromStr;

use super::serde_as_string;
use crate::error::Error;

/// A WAL location (log sequence number). Ordered; [`Lsn::distance`] gives bytes between two.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

const HINT: &str = "expected X/X with 1-8 hex digits on each side, e.g. 0/7C82CB8";

impl Lsn {
    /// Bytes of WAL from `self` to `later` (0 if `later` is not after `self`).
    pub fn distance(self, later: Lsn) -> u64 {
        later.0.saturating_sub(self.0)
    }

    /// The raw 64-bit position.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

fn parse_half(part: &str) -> Option<u32> {
    if part.is_empty() || part.len() > 8 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(part, 16).ok()
}

impl FromStr for Lsn {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = s
            .split_once('/')
            .and_then(|(hi, lo)| Some((parse_half(hi)?, parse_half(lo)?)));
        match parsed {
            Some((hi, lo)) => Ok(Lsn((u64::from(hi) << 32) | u64::from(lo))),
            None => Err(Error::invalid("LSN", s, HINT)),
        }
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl fmt::Debug for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lsn({self})")
    }
}

serde_as_string!(Lsn);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_case_insensitively_and_orders() {
        let a: Lsn = "0/3027f60".parse().unwrap();
        let b: Lsn = "0/3027F60".parse().unwrap();
        let c: Lsn = "1/0".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "0/3027F60");
        assert!(a < c);
        assert_eq!(
            "0/2000100".parse::<Lsn>().unwrap().distance(c),
            0x1_0000_0000 - 0x200_0100
        );
        assert_eq!(c.distance(a), 0);
    }

    #[test]
    fn refuses_malformed() {
        for s in [
            "",
            "0",
            "/1",
            "1/",
            "0/123456789",
            "g/1",
            "0/1/2",
            " 0/1",
            "0x1/2",
            "+1/2",
        ] {
            let err = s.parse::<Lsn>().unwrap_err();
            assert!(err.to_string().contains("X/X"), "{s}: {err}");
        }
    }

    proptest! {
        #[test]
        fn display_parses_back(v in any::<u64>()) {
            let lsn = Lsn(v);
            prop_assert_eq!(lsn.to_string().parse::<Lsn>().unwrap(), lsn);
        }

        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = s.parse::<Lsn>();
        }
    }
}
