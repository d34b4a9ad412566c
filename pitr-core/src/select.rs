//! Choosing the backup set (and repo) for a recovery target.
//!
//! pgBackRest picks a set only for time and lsn targets, and only in the first repo that has
//! any match; for name and xid targets it takes the newest set, which cannot reach a restore
//! point older than that set. pitr chooses itself, for every target, across all repos, and
//! then passes `--set` and `--repo` so pgBackRest restores exactly that choice:
//!
//! * **time** — the newest set whose stop time is before the target;
//! * **lsn** — the newest set whose stop LSN is at or before the target;
//! * **latest / immediate** — the newest set;
//! * **name / xid** — an explicit set; else the newest set before the `before` hint; else the
//!   newest set before the LSN `pitr mark` recorded for that restore point; else the oldest set
//!   from which the archive is continuous to the end of the timeline (with a warning: replay
//!   is longer).
//!
//! "Newest" means the one needing the least WAL replay: the highest stop LSN on the lineage of
//! the timeline recovery follows (sets on other branches are out). That timeline is chosen from
//! the target for each candidate's repo (see [`timeline`]: for a time, the timeline live then)
//! and passed to pgBackRest too; a time or LSN after the point where a requested timeline was
//! handed over to a child is refused. When a repo listing is
//! given, a set whose WAL has a hole before the target is passed over; if every candidate
//! crosses a hole, the error names the missing segments.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::archive::ArchiveListing;
use crate::error::{Error, Result};
use crate::history::TimelineHistories;
use crate::info::{BackupInfo, StanzaInfo};
use crate::marks::MarkRecord;
use crate::names::{BackupLabel, BackupType, Lsn, RepoIndex, TimelineId, WalSegment};
use crate::quiet::QuietLanding;
use crate::target::{RecoveryTarget, RestoreRequest, TimelineTarget};
use crate::window::{self, RecoverableWindow};

mod timeline;

/// What selection looks at.
#[derive(Debug, Clone, Copy)]
pub struct RepoState<'a> {
    /// The stanza as `pgbackrest info` reports it.
    pub stanza: &'a StanzaInfo,
    /// Timeline histories from the archive.
    pub histories: &'a TimelineHistories,
    /// Archive listings by repo key (repos without one are judged from info alone).
    pub listings: &'a BTreeMap<RepoIndex, ArchiveListing>,
    /// Restore points recorded by `pitr mark`.
    pub marks: &'a [MarkRecord],
}

/// The rule that chose the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The request named the set.
    Explicit,
    /// Newest set that stopped before the target time.
    StoppedBeforeTime,
    /// Newest set that stopped at or before the target LSN.
    StoppedAtOrBeforeLsn,
    /// Newest set.
    Newest,
    /// Newest set that stopped before the request's `before` time.
    StoppedBeforeHint,
    /// Newest set that stopped before the restore point `pitr mark` recorded.
    StoppedBeforeMark,
    /// Oldest set with a continuous archive to the end of the timeline.
    OldestContinuous,
}

/// A set in a repo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRef {
    /// The label.
    pub set: BackupLabel,
    /// The repo key.
    pub repo: RepoIndex,
}

/// The chosen set, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// The backup set.
    pub set: BackupLabel,
    /// Its type.
    pub set_type: BackupType,
    /// The repo it is restored from.
    pub repo: RepoIndex,
    /// The timeline recovery follows.
    pub timeline: TimelineId,
    /// The rule that chose it.
    pub rule: Rule,
    /// The rule and the facts, in words.
    pub reason: String,
    /// Things to know (e.g. a long replay).
    pub warnings: Vec<String>,
    /// When the set stopped (epoch seconds); recovery is consistent from here.
    pub set_stop_time: u64,
    /// Where the set's WAL starts (replay begins there).
    pub set_start_lsn: Lsn,
    /// Where the set stopped.
    pub set_stop_lsn: Lsn,
    /// The first WAL segment recovery needs.
    pub first_segment: WalSegment,
    /// Size of the restored database, bytes.
    pub restore_size: u64,
    /// The PostgreSQL major version of the set (`"15"`), when the info report says.
    pub pg_version: Option<String>,
    /// The target as an LSN, when known (lsn targets, recorded restore points).
    pub target_lsn: Option<Lsn>,
    /// WAL to replay from the set's start to the target, bytes, when the target LSN is known.
    pub replay_bytes: Option<u64>,
    /// What pgBackRest alone would restore for this target (no `--set`, no `--repo`).
    pub pgbackrest_choice: Option<SetRef>,
    /// The recoverable windows of the stanza, for messages and the plan.
    pub windows: Vec<RecoverableWindow>,
    /// Where a time target after the last commit lands instead (the archive read by
    /// `run::walscan`), when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landing: Option<QuietLanding>,
}

/// A candidate set with the values selection compares.
#[derive(Debug, Clone, Copy)]
struct Candidate<'a> {
    info: &'a BackupInfo,
    repo: RepoIndex,
    start: WalSegment,
    start_lsn: Lsn,
    stop_lsn: Lsn,
}

impl<'a> Candidate<'a> {
    fn new(info: &'a BackupInfo) -> Option<Self> {
        let start = info.archive.start?;
        let stop_lsn = match info.lsn {
            Some(l) => l.stop,
            None => info.archive.stop?.end_lsn(),
        };
        Some(Candidate {
            info,
            repo: info.repo_key(),
            start,
            start_lsn: info.lsn.map_or(start.start_lsn(), |l| l.start),
            stop_lsn,
        })
    }

    fn stop_time(&self) -> u64 {
        self.info.timestamp.stop
    }

    fn set_ref(&self) -> SetRef {
        SetRef {
            set: self.info.label.clone(),
            repo: self.repo,
        }
    }
}

struct Selector<'a> {
    state: RepoState<'a>,
    request: &'a RestoreRequest,
    repos: Vec<RepoIndex>,
    windows: Vec<RecoverableWindow>,
    /// The newest `pitr mark` record of a name target.
    mark: Option<&'a MarkRecord>,
}

impl<'a> Selector<'a> {
    /// The timeline recovery follows when restoring a set on `set_timeline` from `repo`.
    fn target_timeline(&self, repo: RepoIndex, set_timeline: TimelineId) -> timeline::Choice {
        let timelines = timeline::Timelines {
            histories: self.state.histories,
            listing: self.state.listings.get(&repo),
        };
        timeline::choose(
            timelines,
            &self.request.target,
            self.request.timeline,
            self.mark,
            set_timeline,
        )
    }

    /// Sets of the allowed repos' current clusters, newest (least replay) first.
    fn candidates(&self) -> Vec<Candidate<'a>> {
        let stanza = self.state.stanza;
        let mut out: Vec<Candidate<'a>> = self
            .repos
            .iter()
            .flat_map(|&repo| {
                let db = stanza.current_db(repo).map(|d| d.id);
                stanza
                    .backups_in_repo(repo)
                    .filter(move |b| db.is_none_or(|id| b.database.id == id))
            })
            .filter_map(Candidate::new)
            .collect();
        out.sort_by(|a, b| {
            b.stop_lsn
                .cmp(&a.stop_lsn)
                .then(b.stop_time().cmp(&a.stop_time()))
                .then(a.repo.cmp(&b.repo))
        });
        out
    }

    /// Whether the set lies on the lineage of the timeline recovery follows.
    fn on_lineage(&self, c: &Candidate<'_>, tli: TimelineId) -> bool {
        let on = c.start.timeline();
        self.state.histories.is_ancestor_or_self(on, tli)
            && self.state.histories.contains_point(tli, on, c.stop_lsn)
    }

    /// The last LSN recovery must read for this target from this set, when it can be told.
    ///
    /// Never past the end of the archive: a target beyond it is outside the window, which the
    /// planner reports as such, not as a hole.
    fn needed_until(&self, c: &Candidate<'_>, tli: TimelineId, target_lsn: Option<Lsn>) -> Lsn {
        if matches!(self.request.target, RecoveryTarget::Immediate) {
            return c.stop_lsn;
        }
        // A hole can leave the repo without a window on `tli`: the archive still ends where it
        // ends, and the hole must not hide behind the set's stop point.
        let end = self
            .windows
            .iter()
            .find(|w| w.repo_key == c.repo && w.timeline == tli)
            .and_then(|w| w.end.clone())
            .or_else(|| {
                window::archive_end(
                    self.state.stanza,
                    self.state.histories,
                    self.state.listings.get(&c.repo),
                    c.repo,
                    tli,
                )
            })
            .map(|e| Lsn(e.lsn.as_u64().saturating_sub(1)));
        if let Some(l) = target_lsn {
            return end.map_or(l, |e| l.min(e));
        }
        let end = end.unwrap_or(c.stop_lsn);
        if let (RecoveryTarget::Time(t), Some(listing)) =
            (&self.request.target, self.state.listings.get(&c.repo))
        {
            // The first segment archived after the target time holds the first commit after
            // it (or comes later): recovery reads up to there and no further.
            let t = u64::try_from(t.unix_seconds()).unwrap_or(0);
            let first_after = listing
                .files
                .iter()
                .filter_map(|f| Some((f.segment()?, f.time)))
                .filter(|(s, time)| {
                    *time >= t
                        && s.segno() >= c.start.segno()
                        && self.state.histories.is_ancestor_or_self(s.timeline(), tli)
                })
                .map(|(s, _)| s.end_lsn())
                .min();
            if let Some(lsn) = first_after {
                return Lsn(lsn.as_u64().saturating_sub(1)).min(end);
            }
        }
        end
    }

    /// Missing segments between the set's start and `until`, when the repo has a listing.
    fn gap(&self, c: &Candidate<'_>, tli: TimelineId, until: Lsn) -> Option<Error> {
        let listing = self.state.listings.get(&c.repo)?;
        let missing = listing.missing_segments(c.start, until, tli, self.state.histories);
        if missing.is_empty() {
            return None;
        }
        let shown: Vec<String> = missing.iter().take(10).map(ToString::to_string).collect();
        let more = missing.len().saturating_sub(10);
        Some(Error::WalGap {
            repo: c.repo,
            from: c.start.to_string(),
            to: until.to_string(),
            count: missing.len(),
            missing: if more > 0 {
                format!("{} and {more} more", shown.join(", "))
            } else {
                shown.join(", ")
            },
        })
    }

    /// The first candidate (in the given order) whose WAL reaches the target; the gap of the
    /// first one that crossed a hole when none does. Each set passed over for a hole on the
    /// way is added to `passed_over`, with the missing segments, so the plan can say why.
    fn first_reaching<'c>(
        &self,
        ordered: impl IntoIterator<Item = &'c Candidate<'a>>,
        target_lsn: Option<Lsn>,
        passed_over: &mut Vec<String>,
    ) -> Result<Option<(Candidate<'a>, timeline::Choice)>>
    where
        'a: 'c,
    {
        let mut first_gap = None;
        for c in ordered {
            let choice = self.target_timeline(c.repo, c.start.timeline());
            let tli = choice.timeline;
            if !self.on_lineage(c, tli) {
                continue;
            }
            self.check_fork(c.repo, tli)?;
            let until = self.needed_until(c, tli, target_lsn);
            match self.gap(c, tli, until) {
                None => return Ok(Some((*c, choice))),
                Some(e) => {
                    passed_over.push(format!(
                        "set {} on repo{} was passed over: {e}",
                        c.info.label, c.repo
                    ));
                    first_gap.get_or_insert(e);
                }
            }
        }
        first_gap.map_or(Ok(None), Err)
    }

    /// No set of `candidates` lies on the history of the timeline recovery would follow.
    fn off_lineage(&self, candidates: &[&Candidate<'_>]) -> Error {
        let Some(c) = candidates.first() else {
            return self.no_set("no backup set qualifies");
        };
        let choice = self.target_timeline(c.repo, c.start.timeline());
        self.no_set(format!(
            "recovery would follow timeline {} ({}), and no qualifying set lies on its history \
             before it leaves the set's timeline (nearest: {} on timeline {})",
            choice.timeline,
            choice.why,
            c.info.label,
            c.start.timeline()
        ))
    }

    /// Refuses a time or LSN target after the point where timeline `tli` was handed over to a
    /// child: recovery that follows `tli` cannot go there (only a request names such a
    /// timeline; pitr's own choice follows the hand-over).
    fn check_fork(&self, repo: RepoIndex, tli: TimelineId) -> Result<()> {
        let Some(end) = self
            .windows
            .iter()
            .find(|w| w.repo_key == repo && w.timeline == tli)
            .and_then(|w| w.end.as_ref())
        else {
            return Ok(());
        };
        let Some(child) = end.fork else {
            return Ok(());
        };
        let after = match &self.request.target {
            RecoveryTarget::Time(t) => end
                .time
                .is_some_and(|f| t.unix_seconds() > i64::try_from(f).unwrap_or(i64::MAX)),
            RecoveryTarget::Lsn(l) => *l >= end.lsn,
            _ => false,
        };
        if !after {
            return Ok(());
        }
        let when = end
            .time
            .map_or_else(String::new, |t| format!(" ({})", crate::fmt::epoch(t)));
        Err(Error::TargetOutsideWindow {
            target: self.request.target.to_string(),
            why: format!(
                "timeline {tli} ended at {} where timeline {child} took over{when}; a later \
                 target is not on timeline {tli}'s history (leave out the timeline, or give \
                 {child})",
                end.lsn
            ),
            window: window::describe(&self.windows),
        })
    }

    /// The repos selection looks at, for messages: `1, 2`.
    fn repo_list(&self) -> String {
        self.repos
            .iter()
            .map(RepoIndex::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn no_set(&self, why: impl Into<String>) -> Error {
        Error::NoBackupSet {
            target: self.request.target.to_string(),
            reason: format!(
                "{}; recoverable: {}",
                why.into(),
                crate::window::describe(&self.windows)
            ),
        }
    }

    /// What pgBackRest would restore for this target without `--set` and `--repo`.
    fn pgbackrest_choice(&self, all: &[Candidate<'a>]) -> Option<SetRef> {
        let mut repos = self.repos.clone();
        repos.sort_unstable();
        for repo in repos {
            // pgBackRest walks each repo's backup.info newest to oldest, by label.
            let mut in_repo: Vec<&Candidate<'a>> = all.iter().filter(|c| c.repo == repo).collect();
            in_repo.sort_by(|a, b| b.info.label.cmp(&a.info.label));
            let pick = match &self.request.target {
                RecoveryTarget::Time(t) => in_repo
                    .into_iter()
                    .find(|c| i64::try_from(c.stop_time()).unwrap_or(i64::MAX) < t.unix_seconds()),
                RecoveryTarget::Lsn(l) => in_repo.into_iter().find(|c| c.stop_lsn <= *l),
                _ => in_repo.into_iter().next(),
            };
            if let Some(c) = pick {
                return Some(c.set_ref());
            }
        }
        None
    }
}

/// Chooses the backup set and repo for `request`.
///
/// `repos` limits the repos to choose from (e.g. the request's `repo`); all repos of the stanza
/// with a healthy status when `None`.
pub fn select(
    state: RepoState<'_>,
    request: &RestoreRequest,
    repos: Option<&[RepoIndex]>,
) -> Result<Selection> {
    let windows = window::windows(state.stanza, state.histories, state.listings);
    let healthy: Vec<RepoIndex> = state
        .stanza
        .repo
        .iter()
        .filter(|r| r.status.code.is_ok())
        .map(|r| r.key)
        .collect();
    let repos: Vec<RepoIndex> = match repos {
        Some(r) => r.to_vec(),
        None if state.stanza.repo.is_empty() => state.stanza.repo_keys(),
        None => healthy,
    };
    let mark = match &request.target {
        RecoveryTarget::Name(n) => state
            .marks
            .iter()
            .filter(|m| &m.name == n)
            .max_by_key(|m| m.time),
        _ => None,
    };
    let selector = Selector {
        state,
        request,
        repos,
        windows,
        mark,
    };
    let all = selector.candidates();
    if all.is_empty() {
        return Err(selector.no_set(format!(
            "stanza '{}' has no backup set with archived WAL in repo(s) {}",
            state.stanza.name,
            selector.repo_list()
        )));
    }
    let target_lsn = match &request.target {
        RecoveryTarget::Lsn(l) => Some(*l),
        RecoveryTarget::Name(_) => mark.map(|m| m.lsn),
        _ => None,
    };
    let mut warnings = Vec::new();

    let (rule, chosen) = if let Some(label) = &request.set {
        let matching: Vec<&Candidate<'_>> = all.iter().filter(|c| &c.info.label == label).collect();
        if matching.is_empty() {
            return Err(Error::SetNotFound {
                label: label.to_string(),
                repos: format!("repo(s) {}", selector.repo_list()),
                known: all
                    .iter()
                    .map(|c| format!("{} (repo{})", c.info.label, c.repo))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let found = selector
            .first_reaching(matching.iter().copied(), target_lsn, &mut warnings)?
            .ok_or_else(|| selector.off_lineage(&matching))?;
        (Rule::Explicit, found)
    } else {
        let (rule, filtered): (Rule, Vec<&Candidate<'_>>) = match &request.target {
            RecoveryTarget::Time(t) => (
                Rule::StoppedBeforeTime,
                all.iter()
                    .filter(|c| i64::try_from(c.stop_time()).unwrap_or(i64::MAX) < t.unix_seconds())
                    .collect(),
            ),
            RecoveryTarget::Lsn(l) => (
                Rule::StoppedAtOrBeforeLsn,
                all.iter().filter(|c| c.stop_lsn <= *l).collect(),
            ),
            RecoveryTarget::Latest | RecoveryTarget::Immediate => {
                (Rule::Newest, all.iter().collect())
            }
            RecoveryTarget::Name(_) | RecoveryTarget::Xid(_) => {
                if let Some(before) = &request.before {
                    (
                        Rule::StoppedBeforeHint,
                        all.iter()
                            .filter(|c| {
                                i64::try_from(c.stop_time()).unwrap_or(i64::MAX)
                                    < before.unix_seconds()
                            })
                            .collect(),
                    )
                } else if let Some(m) = mark {
                    (
                        Rule::StoppedBeforeMark,
                        all.iter().filter(|c| c.stop_lsn <= m.lsn).collect(),
                    )
                } else {
                    let mut oldest_first: Vec<&Candidate<'_>> = all.iter().collect();
                    oldest_first.reverse();
                    (Rule::OldestContinuous, oldest_first)
                }
            }
        };
        if filtered.is_empty() {
            let why = match rule {
                Rule::StoppedBeforeTime => {
                    "every backup set stopped at or after the target time".to_owned()
                }
                Rule::StoppedAtOrBeforeLsn => {
                    "every backup set stopped after the target LSN".into()
                }
                Rule::StoppedBeforeHint => {
                    "every backup set stopped after the 'before' time".into()
                }
                Rule::StoppedBeforeMark => {
                    "every backup set stopped after the recorded restore point".into()
                }
                _ => "no backup set qualifies".into(),
            };
            return Err(match &request.target {
                RecoveryTarget::Time(_) | RecoveryTarget::Lsn(_) => Error::TargetOutsideWindow {
                    target: request.target.to_string(),
                    why,
                    window: crate::window::describe(&selector.windows),
                },
                _ => selector.no_set(why),
            });
        }
        let found = selector
            .first_reaching(filtered.iter().copied(), target_lsn, &mut warnings)?
            .ok_or_else(|| selector.off_lineage(&filtered))?;
        (rule, found)
    };
    let (c, choice) = chosen;
    let timeline = choice.timeline;
    if let (Some(TimelineTarget::Id(t)), Some(m)) = (request.timeline, mark) {
        if !state.histories.contains_point(t, m.timeline, m.lsn) {
            return Err(Error::TargetOutsideWindow {
                target: request.target.to_string(),
                why: format!(
                    "`pitr mark` recorded it on timeline {} at {}, which is not on the history \
                     of timeline {t}; leave out the timeline to follow the one that holds it",
                    m.timeline, m.lsn
                ),
                window: window::describe(&selector.windows),
            });
        }
    }
    if rule == Rule::OldestContinuous {
        warnings.push(format!(
            "no set could be placed before {} (give --set, --before, or create restore points \
             with `pitr mark`): restoring the oldest set with a continuous archive, {}, so \
             replay may be long",
            request.target, c.info.label
        ));
    }
    let pgbackrest_choice = selector.pgbackrest_choice(&all);
    let replay_bytes = target_lsn.map(|t| c.start_lsn.distance(t));
    let reason = reason_text(rule, &c, request, &choice, pgbackrest_choice.as_ref(), &all);
    Ok(Selection {
        set: c.info.label.clone(),
        set_type: c.info.backup_type,
        repo: c.repo,
        timeline,
        rule,
        reason,
        warnings,
        set_stop_time: c.stop_time(),
        set_start_lsn: c.start_lsn,
        set_stop_lsn: c.stop_lsn,
        first_segment: c.start,
        restore_size: c.info.info.size,
        pg_version: state
            .stanza
            .pg_version(c.info.database.id, c.repo)
            .map(str::to_owned),
        target_lsn,
        replay_bytes,
        pgbackrest_choice,
        windows: selector.windows,
        landing: None,
    })
}

fn reason_text(
    rule: Rule,
    c: &Candidate<'_>,
    request: &RestoreRequest,
    timeline: &timeline::Choice,
    pgbackrest: Option<&SetRef>,
    all: &[Candidate<'_>],
) -> String {
    let what = match rule {
        Rule::Explicit => "the set the request named".to_owned(),
        Rule::StoppedBeforeTime => format!("the newest set that stopped before {}", request.target),
        Rule::StoppedAtOrBeforeLsn => {
            format!(
                "the newest set that stopped at or before {}",
                request.target
            )
        }
        Rule::Newest => "the newest set".to_owned(),
        Rule::StoppedBeforeHint => format!(
            "the newest set that stopped before the hint {}",
            request.before.map(|b| b.to_string()).unwrap_or_default()
        ),
        Rule::StoppedBeforeMark => format!(
            "the newest set that stopped before the restore point recorded by `pitr mark` for {}",
            request.target
        ),
        Rule::OldestContinuous => {
            "the oldest set whose archive is continuous to the end of the timeline".to_owned()
        }
    };
    let mut text = format!(
        "{} on repo{}: {what} (stopped {} at {}); recovery follows timeline {}: {}",
        c.info.label,
        c.repo,
        crate::fmt::epoch(c.stop_time()),
        c.stop_lsn,
        timeline.timeline,
        timeline.why
    );
    if let Some(p) = pgbackrest {
        if p.set != c.info.label || p.repo != c.repo {
            if let Some(theirs) = all
                .iter()
                .find(|x| x.info.label == p.set && x.repo == p.repo)
            {
                let saved = c
                    .start_lsn
                    .as_u64()
                    .saturating_sub(theirs.start_lsn.as_u64());
                let _ = write!(
                    text,
                    "; pgBackRest alone would restore {} from repo{}",
                    p.set, p.repo
                );
                if saved > 0 {
                    let _ = write!(
                        text,
                        ", which starts {} earlier in WAL",
                        crate::fmt::bytes(saved)
                    );
                }
            }
        }
    }
    text
}

#[cfg(test)]
mod tests;
