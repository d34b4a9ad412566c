//! pgBackRest versions.
//!
//! [`Version`] is the version of a pgBackRest binary, as `pgbackrest version` prints it
//! (`pgBackRest 2.45`, `pgBackRest 2.59.1`, `pgBackRest 2.60.0dev`). The option catalogue
//! ([`crate::catalog`]) records the version each option appeared in, and the renderer asks it
//! whether the node's pgBackRest knows an option, or needs `beta=y` for it.
//!
//! A version parses from its usual spellings and prints in one canonical form that parses back:
//! a zero patch level is omitted (`2.55.0` prints as `2.55`), a development build keeps its
//! `dev` suffix (`2.60.0dev` prints as `2.60dev`). Versions order numerically, and a
//! development build sorts before the release it leads to.
//!
//! ```
//! use pitr_core::version::{Version, parse_version_output};
//!
//! let installed = parse_version_output("pgBackRest 2.45\n")?;
//! assert_eq!(installed, Version::V2_45);
//! assert!(installed < "2.45.1".parse()?);
//! assert!("2.60dev".parse::<Version>()? < Version::new(2, 60, 0));
//! assert_eq!(Version::new(2, 59, 1).to_string(), "2.59.1");
//! # Ok::<(), pitr_core::Error>(())
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// What the error messages call a version.
const KIND: &str = "pgBackRest version";

/// What a valid version looks like, for error messages.
const EXAMPLE: &str = "write it as MAJOR.MINOR[.PATCH][dev], e.g. '2.45', '2.59.1' or '2.60dev'";

/// A pgBackRest version: `major.minor[.patch][dev]`.
///
/// Equality and order ignore how the version was spelled: `2.55` and `2.55.0` are the same
/// version. A development build (`dev`) sorts before its release: `2.59.1 < 2.60dev < 2.60`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    major: u16,
    minor: u16,
    patch: u16,
    dev: bool,
}

impl Version {
    /// The oldest version this project knows about; options older than it are recorded as 2.30.
    pub const V2_30: Version = Version::new(2, 30, 0);
    /// Repository storage options (`repo-storage-*`), GCS, and up to four repositories.
    pub const V2_33: Version = Version::new(2, 33, 0);
    /// Up to 256 repositories and `PostgreSQL` hosts; TLS server.
    pub const V2_36: Version = Version::new(2, 36, 0);
    /// `KiB`-style size units.
    pub const V2_37: Version = Version::new(2, 37, 0);
    /// File bundling (`repo-bundle`).
    pub const V2_39: Version = Version::new(2, 39, 0);
    /// The version `repo-block` first appeared in, as an internal option.
    pub const V2_44: Version = Version::new(2, 44, 0);
    /// Block incremental backup as a beta feature (needs `beta=y`); the Debian package used here.
    pub const V2_45: Version = Version::new(2, 45, 0);
    /// Block incremental backup generally available; SFTP repositories.
    pub const V2_46: Version = Version::new(2, 46, 0);
    /// Time options accept units (`1m`, `500ms`) and no longer accept fractions.
    pub const V2_53: Version = Version::new(2, 53, 0);
    /// Async `archive-get` no longer starts two prefetch processes at once during recovery.
    pub const V2_59: Version = Version::new(2, 59, 0);
    /// The development version of the newest snapshot the catalogue was checked against.
    pub const V2_60_DEV: Version = Version::dev(2, 60, 0);

    /// A released version.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Version {
        Version {
            major,
            minor,
            patch,
            dev: false,
        }
    }

    /// A development build (`2.60.0dev`), which sorts before the release `major.minor.patch`.
    pub const fn dev(major: u16, minor: u16, patch: u16) -> Version {
        Version {
            major,
            minor,
            patch,
            dev: true,
        }
    }

    /// The major version (`2`).
    pub const fn major(&self) -> u16 {
        self.major
    }

    /// The minor version (`45` in `2.45`).
    pub const fn minor(&self) -> u16 {
        self.minor
    }

    /// The patch level (`1` in `2.59.1`, `0` when not written).
    pub const fn patch(&self) -> u16 {
        self.patch
    }

    /// Whether this is a development build (`2.60dev`).
    pub const fn is_dev(&self) -> bool {
        self.dev
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            // A development build comes before its release: `true` (dev) sorts first.
            .then_with(|| other.dev.cmp(&self.dev))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        if self.dev {
            f.write_str("dev")?;
        }
        Ok(())
    }
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(s: &str) -> Result<Version> {
        let bad = || Error::invalid(KIND, s, EXAMPLE);
        let (numbers, dev) = match s.strip_suffix("dev") {
            Some(rest) => (rest, true),
            None => (s, false),
        };
        let mut parts = numbers.split('.');
        let major = parts.next().and_then(component).ok_or_else(bad)?;
        let minor = parts.next().and_then(component).ok_or_else(bad)?;
        let patch = match parts.next() {
            Some(p) => component(p).ok_or_else(bad)?,
            None => 0,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Version {
            major,
            minor,
            patch,
            dev,
        })
    }
}

/// One numeric component: ASCII digits only (no sign, no spaces), at most `u16::MAX`.
fn component(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(VersionVisitor)
    }
}

/// Accepts strings; refuses numbers with a hint, because YAML reads `2.50` as the float `2.5`.
struct VersionVisitor;

impl Visitor<'_> for VersionVisitor {
    type Value = Version;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pgBackRest version string such as \"2.45\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Version, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Version, E> {
        Err(number_error(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Version, E> {
        Err(number_error(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Version, E> {
        Err(number_error(v))
    }
}

fn number_error<E: de::Error>(v: impl fmt::Display) -> E {
    E::custom(format!(
        "pgBackRest version {v} is a number: quote it (e.g. '2.50'), \
         because a number loses trailing zeros and 2.50 would read as 2.5"
    ))
}

/// Reads the version from the output of `pgbackrest version` (`"pgBackRest 2.45\n"`).
///
/// The first line that starts with `pgBackRest ` carries the version; anything else around it
/// (warnings printed before it, trailing newlines) is ignored.
pub fn parse_version_output(text: &str) -> Result<Version> {
    for line in text.lines() {
        if let Some(rest) = line.trim().strip_prefix("pgBackRest ") {
            return rest.trim().parse();
        }
    }
    let shown: String = text.trim().chars().take(80).collect();
    Err(Error::invalid(
        "pgbackrest version output",
        shown,
        "expected a line such as 'pgBackRest 2.45'; \
         run `pgbackrest version` to check the installation",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn parses_release_patch_and_dev_spellings() {
        assert_eq!(v("2.45"), Version::new(2, 45, 0));
        assert_eq!(v("2.59.1"), Version::new(2, 59, 1));
        assert_eq!(v("2.60dev"), Version::dev(2, 60, 0));
        assert_eq!(v("2.60.0dev"), Version::dev(2, 60, 0));
        assert_eq!(v("2.55.0"), v("2.55"));
    }

    #[test]
    fn display_is_canonical() {
        assert_eq!(v("2.45").to_string(), "2.45");
        assert_eq!(v("2.55.0").to_string(), "2.55");
        assert_eq!(v("2.59.1").to_string(), "2.59.1");
        assert_eq!(v("2.60.0dev").to_string(), "2.60dev");
        assert_eq!(v("2.60.1dev").to_string(), "2.60.1dev");
    }

    #[test]
    fn orders_numerically_with_dev_before_release() {
        assert!(v("2.45") < v("2.45.1"));
        assert!(v("2.45.1") < v("2.46"));
        assert!(v("2.9") < v("2.10"));
        assert!(v("2.59.1") < v("2.60dev"));
        assert!(v("2.60dev") < v("2.60"));
        assert!(v("2.60") < v("2.60.1dev"));
        assert!(Version::V2_30 < Version::V2_45 && Version::V2_45 < Version::V2_60_DEV);
    }

    #[test]
    fn rejects_malformed_versions_with_an_example() {
        for bad in [
            "", "2", "2.", ".45", "2.45.", "2.45.1.2", "v2.45", " 2.45", "2.45 ", "2.-1", "2.+1",
            "2.45beta", "dev", "2.70000", "2,45",
        ] {
            let err = bad.parse::<Version>().unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(&format!("'{bad}'")), "{msg}");
            assert!(msg.contains("2.59.1"), "{msg}");
            assert_eq!(err.code(), "invalid_value");
        }
    }

    #[test]
    fn reads_pgbackrest_version_output() {
        assert_eq!(
            parse_version_output("pgBackRest 2.45\n").unwrap(),
            Version::V2_45
        );
        assert_eq!(
            parse_version_output("WARN: something\npgBackRest 2.60.0dev\n").unwrap(),
            Version::V2_60_DEV
        );
        let err = parse_version_output("command not found").unwrap_err();
        assert!(err.to_string().contains("pgBackRest 2.45"), "{err}");
        assert!(parse_version_output("pgBackRest two").is_err());
    }

    #[test]
    fn serde_uses_the_string_form() {
        let json = serde_json::to_string(&v("2.60dev")).unwrap();
        assert_eq!(json, "\"2.60dev\"");
        assert_eq!(
            serde_json::from_str::<Version>("\"2.59.1\"").unwrap(),
            v("2.59.1")
        );
        let err = serde_yaml_ng::from_str::<Version>("2.50").unwrap_err();
        assert!(err.to_string().contains("quote it"), "{err}");
        assert!(serde_json::from_str::<Version>("\"2.x\"").is_err());
    }

    proptest! {
        #[test]
        fn display_parses_back(major: u16, minor: u16, patch: u16, dev: bool) {
            let version = Version { major, minor, patch, dev };
            prop_assert_eq!(version.to_string().parse::<Version>().unwrap(), version);
        }

        #[test]
        fn parsing_never_panics(s in "\\PC*") {
            let _ = s.parse::<Version>();
            let _ = parse_version_output(&s);
        }
    }
}
