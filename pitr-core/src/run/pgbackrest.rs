//! Asking pgBackRest about a stanza: `info`, `repo-ls`, `repo-get`, `annotate`.
//!
//! [`PgBackRest::snapshot`] gathers everything selection needs in one go: the info report,
//! each repo's archive listing, the timeline history files, and the restore points recorded
//! by `pitr mark`.
//!
//! # Probes of dead or slow repos
//!
//! pgBackRest waits `io-timeout` (60 s by default) for each read or connection to a repo and
//! retries a failed connection a few times, so a dead S3 endpoint surfaces only after about
//! four minutes. pitr's own probes — `info`, `repo-ls`, `repo-get` and `check` — run with
//! `--io-timeout` of at most [`PROBE_IO_TIMEOUT_MS`] (the config's value when it is lower):
//! these commands move small files, and a repo that stays silent that long is unusable for a
//! restore anyway. A repo that does not answer then costs seconds, `info` reports it with
//! status 99 beside the others, and its listing is left out with a warning naming it. Backups
//! and restores keep the configured timeouts: they move large files and a stall there is
//! pgBackRest's to judge.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::exec::run_capture;
use super::user::OsUser;
use crate::archive::{self, ArchiveListing};
use crate::error::Result;
use crate::history::{self, TimelineHistories};
use crate::info::{self, InfoReport};
use crate::marks;
use crate::names::{DEFAULT_SEGMENT_SIZE, RepoIndex, StanzaName};
use crate::snapshot::RepoSnapshot;
use crate::version::{self, Version};

/// The version of the pgBackRest executable `bin`, from `pgbackrest version`.
pub fn installed_version(bin: &Path) -> Result<Version> {
    let mut cmd = Command::new(bin);
    cmd.arg("version");
    let out = run_capture(cmd, "pgbackrest version")?;
    version::parse_version_output(&String::from_utf8_lossy(&out.stdout))
}

/// The longest `--io-timeout` of pitr's probes, in milliseconds (see the module docs).
pub const PROBE_IO_TIMEOUT_MS: u64 = 5_000;

/// A pgBackRest time option's value (`60`, `0.5`, `1500ms`, `2m`) in milliseconds.
fn time_ms(value: &str) -> Option<u64> {
    let unit_at = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(unit_at);
    let scale = match unit.to_ascii_lowercase().as_str() {
        "ms" => 1.0,
        "" | "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        "w" => 604_800_000.0,
        _ => return None,
    };
    let ms = number.parse::<f64>().ok()? * scale;
    #[allow(clippy::cast_sign_loss)]
    (ms.is_finite() && ms >= 1.0).then(|| ms.round() as u64)
}

/// The `--io-timeout` option of a probe for a config whose `io-timeout` is `configured`.
pub fn probe_io_timeout(configured: Option<&str>) -> String {
    let ms = configured
        .and_then(time_ms)
        .map_or(PROBE_IO_TIMEOUT_MS, |c| c.min(PROBE_IO_TIMEOUT_MS));
    if ms % 1_000 == 0 {
        format!("--io-timeout={}", ms / 1_000)
    } else {
        format!("--io-timeout={}.{:03}", ms / 1_000, ms % 1_000)
    }
}

/// pgBackRest, for one stanza and config, run as the database superuser.
#[derive(Debug, Clone)]
pub struct PgBackRest {
    /// The executable.
    pub bin: PathBuf,
    /// The config file.
    pub config: PathBuf,
    /// The stanza.
    pub stanza: StanzaName,
    /// Who runs it.
    pub user: OsUser,
    /// The `--io-timeout` option of probes ([`probe_io_timeout`]).
    pub probe_timeout: String,
}

impl PgBackRest {
    /// pgBackRest `bin` for the node's stanza and config, run as its database superuser.
    pub fn of(node: &crate::node::Node, bin: &Path) -> Result<PgBackRest> {
        // A config that cannot be read here fails pgBackRest itself, with its own message.
        let conf = crate::conf::ConfFile::from_file(&node.config_path).ok();
        let configured = conf
            .as_ref()
            .and_then(|c| c.get(Some(node.stanza.as_str()), "io-timeout"));
        Ok(PgBackRest {
            bin: bin.to_path_buf(),
            config: node.config_path.to_path_buf(),
            stanza: node.stanza.clone(),
            user: OsUser::lookup(&node.dbsu)?,
            probe_timeout: probe_io_timeout(configured),
        })
    }

    /// The argv of a pgBackRest command for this stanza: options, the command, parameters.
    pub fn argv(&self, command: &str, options: &[String], params: &[String]) -> Vec<String> {
        let mut argv = vec![
            self.bin.to_string_lossy().into_owned(),
            format!("--config={}", self.config.display()),
            format!("--stanza={}", self.stanza),
        ];
        argv.extend(options.iter().cloned());
        argv.push(command.to_owned());
        argv.extend(params.iter().cloned());
        argv
    }

    fn capture(&self, command: &str, options: &[String], params: &[String]) -> Result<String> {
        let argv = self.argv(command, options, params);
        let mut cmd: Command = self.user.command(&argv[0])?;
        cmd.args(&argv[1..]);
        let out = run_capture(cmd, &format!("pgbackrest {command}"))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `pgbackrest info --output=json` for the stanza.
    pub fn info(&self) -> Result<InfoReport> {
        info::parse(&self.capture(
            "info",
            &["--output=json".into(), self.probe_timeout.clone()],
            &[],
        )?)
    }

    /// The archive listing of `repo` for the archive id (e.g. `15-1`).
    pub fn archive_listing(&self, repo: RepoIndex, archive_id: &str) -> Result<ArchiveListing> {
        let text = self.capture(
            "repo-ls",
            &[
                format!("--repo={repo}"),
                "--recurse".into(),
                "--output=json".into(),
                self.probe_timeout.clone(),
            ],
            &[format!("archive/{}/{archive_id}", self.stanza)],
        )?;
        archive::parse_repo_ls(&text, DEFAULT_SEGMENT_SIZE)
    }

    /// A file from a repo, as text.
    pub fn repo_get(&self, repo: RepoIndex, path: &str) -> Result<String> {
        self.capture(
            "repo-get",
            &[format!("--repo={repo}"), self.probe_timeout.clone()],
            &[path.to_owned()],
        )
    }

    /// `pgbackrest check`: archiving works (forces a WAL switch and waits for it).
    pub fn check(&self) -> Result<()> {
        self.capture("check", std::slice::from_ref(&self.probe_timeout), &[])
            .map(drop)
    }

    /// Adds an annotation to a backup set.
    pub fn annotate(&self, repo: RepoIndex, set: &str, annotation: &str) -> Result<()> {
        self.capture(
            "annotate",
            &[
                format!("--repo={repo}"),
                format!("--set={set}"),
                format!("--annotation={annotation}"),
            ],
            &[],
        )?;
        Ok(())
    }

    /// Info, listings, histories and marks for the stanza. Repos whose archive cannot be
    /// listed are left out of `listings` (selection then trusts `info` for them). The repos'
    /// listings are asked for at once, then the history files they name (each from the first
    /// repo that lists it), at once: a remote repo's round trips overlap.
    pub fn snapshot(&self) -> Result<RepoSnapshot> {
        let info = self.info()?;
        let stanza = info.stanza(self.stanza.as_str())?;
        let mut listings = BTreeMap::new();
        let mut histories = TimelineHistories::new();
        let mut warnings = Vec::new();
        for repo in stanza.repo.iter().filter(|r| !r.status.code.is_ok()) {
            warnings.push(format!(
                "repo{}: cannot be read (status {}): {}; its sets and archive are left out",
                repo.key, repo.status.code, repo.status.message
            ));
        }
        let archives: Vec<(RepoIndex, String)> = stanza
            .repo
            .iter()
            .filter(|r| r.status.code.is_ok())
            .filter_map(|repo| {
                let db = stanza.current_db(repo.key)?;
                let archive = stanza.archive_for(db.id, repo.key)?;
                Some((repo.key, archive.id.clone()))
            })
            .collect();
        let listed = all_at_once(&archives, |(repo, id)| self.archive_listing(*repo, id));
        let mut wanted: Vec<(RepoIndex, String, crate::names::TimelineId)> = Vec::new();
        for ((repo, id), listing) in archives.iter().zip(listed) {
            let listing = match listing {
                Ok(l) => l,
                Err(e) => {
                    warnings.push(format!(
                        "repo{repo}: cannot list the archive, so holes in it go unnoticed: {e}"
                    ));
                    continue;
                }
            };
            for tli in listing.history_timelines() {
                if !wanted.iter().any(|(_, _, t)| *t == tli) {
                    let path = format!("archive/{}/{id}/{:08X}.history", self.stanza, tli.get());
                    wanted.push((*repo, path, tli));
                }
            }
            listings.insert(*repo, listing);
        }
        let texts = all_at_once(&wanted, |(repo, path, _)| self.repo_get(*repo, path));
        for ((_, _, tli), text) in wanted.iter().zip(texts) {
            histories.insert(history::parse(*tli, &text?)?);
        }
        let marks = marks::from_info(stanza);
        Ok(RepoSnapshot {
            info,
            histories,
            listings,
            marks,
            warnings,
        })
    }
}

/// `ask` for each item, each in a thread of its own (pgBackRest's probes spend their time
/// waiting: on the process starting, on a repo's round trips); the answers in order.
fn all_at_once<T: Sync, R: Send>(
    items: &[T],
    ask: impl Fn(&T) -> Result<R> + Sync,
) -> Vec<Result<R>> {
    if items.len() < 2 {
        return items.iter().map(&ask).collect();
    }
    let ask = &ask;
    std::thread::scope(|s| {
        let asked: Vec<_> = items.iter().map(|i| s.spawn(move || ask(i))).collect();
        asked
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::{installed_version, probe_io_timeout};

    #[test]
    fn probes_take_the_lower_of_the_configured_io_timeout_and_five_seconds() {
        for (configured, option) in [
            (None, "--io-timeout=5"),
            (Some("60"), "--io-timeout=5"),
            (Some("1"), "--io-timeout=1"),
            (Some("0.5"), "--io-timeout=0.500"),
            (Some("1500ms"), "--io-timeout=1.500"),
            (Some("2m"), "--io-timeout=5"),
            (Some("nonsense"), "--io-timeout=5"),
            (Some("0"), "--io-timeout=5"),
            (Some("1e400"), "--io-timeout=5"),
        ] {
            assert_eq!(probe_io_timeout(configured), option, "{configured:?}");
        }
    }

    #[test]
    fn installed_version_asks_the_executable() {
        let dir = std::env::temp_dir().join(format!("pitr-pgbr-version-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("pgbackrest");
        std::fs::write(
            &fake,
            "#!/bin/sh\n[ \"$1\" = version ] && echo 'pgBackRest 2.45'\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(installed_version(&fake).unwrap().to_string(), "2.45");
        let e = installed_version(&dir.join("missing")).unwrap_err();
        assert_eq!(e.code(), "spawn_failed");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
