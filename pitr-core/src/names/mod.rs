//! Validated values: newtypes that parse once and cannot be wrong afterwards.
//!
//! Everything that crosses the boundary from users, config files or pgBackRest output into
//! pitr is parsed into one of these types first. Downstream code takes the types, never raw
//! strings, so it never re-validates. Each type implements `FromStr`, `Display` (the canonical
//! form, which parses back to the same value) and serde as that string.
//!
//! ```
//! use pitr_core::names::{Lsn, SafePath, StanzaName};
//! let lsn: Lsn = "0/3027f60".parse().unwrap();
//! assert_eq!(lsn.to_string(), "0/3027F60");
//! assert!("-bad".parse::<StanzaName>().is_err());
//! assert!("/tmp/$(id)".parse::<SafePath>().is_err());
//! ```

mod cron;
mod ids;
mod label;
mod lsn;
mod path;
mod pg;
mod repo;
mod secret;
mod stanza;
mod time;
mod url;
mod wal;

pub use cron::CronSchedule;
pub use ids::{RestorePointName, TimelineId, Xid};
pub use label::{BackupLabel, BackupType};
pub use lsn::Lsn;
pub use path::SafePath;
pub use pg::{PgMajor, PgMode};
pub use repo::{RepoIndex, RepoName};
pub use secret::{REDACTED, Secret};
pub use stanza::StanzaName;
pub use time::TargetTime;
pub use url::{DEFAULT_PATRONI_PORT, HostName, PatroniUrl};
pub use wal::{ArchiveFile, DEFAULT_SEGMENT_SIZE, SegmentSize, WalSegment};

/// Implements serde for a type as its `Display` form, parsed back with `FromStr`.
macro_rules! serde_as_string {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_as_string;

/// Whether `s` contains a character that must never reach a config line: newline, NUL or any
/// other control character.
pub(crate) fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}
