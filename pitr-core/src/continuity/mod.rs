//! WAL continuity: whether a repo's archive holds every WAL segment along the cluster's
//! history, and which segments a new primary can still push from its `pg_wal`.
//!
//! After a failover the archive can have a hole that nobody notices until a restore needs it:
//! a standby marks the segments it received by streaming as archived (`.done`), so when the
//! old primary dies before its archiver pushed them, no node ever archives them. The new
//! primary still has them in `pg_wal` for a while (`wal_keep_size`).
//!
//! Two questions, both pure:
//!
//! * [`figure`] — *how much is missing?* Per repo, the segments missing along the newest
//!   timeline's lineage, from the oldest backup set's first segment to the newest archived
//!   segment ([`repo_continuity`], [`continuity`]): a [`RepoContinuity`] whose `missing` is 0
//!   when the archive is whole, a count and the first [`FIRST_MISSING`] names when it is not,
//!   and unknown (`None`) when the repo could not be listed. `pitr check`
//!   (`archive_continuity`), `pitr info` and the exporter (`pitr_archive_missing_segments`)
//!   show it.
//! * [`local`] — *what can this node close?* From the files of the local `pg_wal`
//!   ([`LocalEntry`]), the complete segments of the current timeline's ancestors that lie
//!   before each switch point ([`local::candidates`]); with their checksums and the repos'
//!   listings, which to push, which are there already and which differ from the repo's copy
//!   ([`local::judge`], a [`WalJudgement`]). `pitr continuity` plans the pushes from it
//!   ([`crate::plan::continuity`]).
//!
//! ```text
//! info + histories + listings ──figure::continuity──► [RepoContinuity] ──► check, info, metrics
//! pg_wal entries ──local::candidates──► segments ──(sha1, run::pgwal)──► local::judge ──► plan
//! ```
//!
//! ```
//! use pitr_core::archive::parse_repo_ls;
//! use pitr_core::continuity::{self, ContinuityStatus};
//! use pitr_core::history::{self, TimelineHistories};
//! use pitr_core::names::{DEFAULT_SEGMENT_SIZE, RepoIndex, TimelineId};
//!
//! let listing = parse_repo_ls(r#"{
//!   "0000000100000000/000000010000000000000002-2ae15279f4e3ef60fdafb3132557d8c9157d428b.zst":
//!     {"type":"file","size":700,"time":1},
//!   "0000000100000000/000000010000000000000004-c54a14fff00daf34a649bf77c0be837fec21bd9c.zst":
//!     {"type":"file","size":700,"time":2},
//!   "00000002.history": {"type":"file","size":41,"time":3}}"#, DEFAULT_SEGMENT_SIZE)?;
//! let tl2 = TimelineId::new(2)?;
//! let histories: TimelineHistories =
//!     [history::parse(tl2, "1\t0/5000000\tno recovery target specified")?].into_iter().collect();
//! let figure = continuity::figure::measure(RepoIndex::of(1), &[], &histories, &listing);
//! assert_eq!(figure.status, ContinuityStatus::Missing);
//! assert_eq!(figure.missing, Some(1));
//! assert_eq!(figure.first_missing[0].to_string(), "000000010000000000000003");
//! assert_eq!(figure.timeline, Some(tl2));
//! # Ok::<(), pitr_core::Error>(())
//! ```

pub mod figure;
pub mod local;

pub use figure::{ContinuityStatus, FIRST_MISSING, RepoContinuity, continuity, repo_continuity};
pub use local::{Conflict, LocalEntry, LocalSegment, WalFile, WalJudgement};

#[cfg(test)]
mod tests;
