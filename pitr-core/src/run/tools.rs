//! Finding the programs pitr drives: pgBackRest and the PostgreSQL binaries.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where pgBackRest and PostgreSQL's binaries are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// The `pgbackrest` executable.
    pub pgbackrest: PathBuf,
    /// The directory with `pg_ctl`, `postgres`, `pg_waldump`, ...
    pub pg_bin_dir: PathBuf,
}

impl Tools {
    /// Locates the tools: `pgbackrest` on `PATH`; PostgreSQL's binaries in `bin_dir` when given,
    /// else for the major version of `data_dir` (its `PG_VERSION`), else the newest installed.
    pub fn locate(bin_dir: Option<&Path>, data_dir: Option<&Path>) -> Result<Tools> {
        let pgbackrest = pgbackrest()?;
        let pg_bin_dir = match bin_dir {
            Some(dir) => check_pg_bin(dir)?,
            None => find_pg_bin(data_dir)?,
        };
        Ok(Tools {
            pgbackrest,
            pg_bin_dir,
        })
    }

    /// A PostgreSQL program, e.g. `pg_ctl`.
    pub fn pg(&self, program: &str) -> PathBuf {
        self.pg_bin_dir.join(program)
    }
}

/// The `pgbackrest` executable on `PATH`.
pub fn pgbackrest() -> Result<PathBuf> {
    which::which("pgbackrest").map_err(|_| Error::ToolNotFound {
        tool: "pgbackrest".into(),
        hint: "install pgBackRest (Debian: apt-get install pgbackrest) or put it on PATH".into(),
    })
}

fn check_pg_bin(dir: &Path) -> Result<PathBuf> {
    if dir.join("pg_ctl").is_file() {
        Ok(dir.to_path_buf())
    } else {
        Err(Error::ToolNotFound {
            tool: format!("pg_ctl in '{}'", dir.display()),
            hint: "set pg_bin_dir to the directory of the PostgreSQL binaries".into(),
        })
    }
}

/// Directories where distributions install PostgreSQL `major`.
fn candidates(major: &str) -> Vec<PathBuf> {
    vec![
        PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")),
        PathBuf::from(format!("/usr/pgsql-{major}/bin")),
        PathBuf::from(format!("/usr/local/pgsql-{major}/bin")),
    ]
}

fn newest_debian_install() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            Some((
                e.file_name().to_string_lossy().parse::<u32>().ok()?,
                e.path(),
            ))
        })
        .max_by_key(|(v, _)| *v)
        .map(|(_, p)| p.join("bin"))
}

/// The major version in a data directory's `PG_VERSION` (`15`, `9.6`). The file belongs to
/// the database user: anything but digits and dots is ignored rather than put into a path.
fn data_major(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join("PG_VERSION")).ok()?;
    let major = text.trim();
    let ok = major.starts_with(|c: char| c.is_ascii_digit())
        && major.len() <= 8
        && major.chars().all(|c| c.is_ascii_digit() || c == '.');
    ok.then(|| major.to_owned())
}

fn find_pg_bin(data_dir: Option<&Path>) -> Result<PathBuf> {
    let major = data_dir.and_then(data_major);
    // With a known major version only its binaries will do; otherwise Pigsty's /usr/pgsql
    // link, the newest Debian install, or pg_ctl on PATH.
    let dirs: Vec<PathBuf> = match &major {
        Some(m) => candidates(m),
        None => [
            Some(PathBuf::from("/usr/pgsql/bin")),
            newest_debian_install(),
        ]
        .into_iter()
        .flatten()
        .chain(
            which::which("pg_ctl")
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf)),
        )
        .collect(),
    };
    if let Some(dir) = dirs.iter().find(|d| d.join("pg_ctl").is_file()) {
        return Ok(dir.clone());
    }
    Err(Error::ToolNotFound {
        tool: format!(
            "PostgreSQL {}binaries",
            major.map(|m| format!("{m} ")).unwrap_or_default()
        ),
        hint: format!(
            "looked in {}; set pg_bin_dir in the spec or pass --pg-bin-dir",
            dirs.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pg_version_that_is_no_version_is_ignored() {
        let dir = std::env::temp_dir().join(format!("pitr-tools-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (text, major) in [
            ("15\n", Some("15")),
            ("9.6", Some("9.6")),
            ("../../../../tmp/evil", None),
            ("15/../../x", None),
            ("", None),
        ] {
            std::fs::write(dir.join("PG_VERSION"), text).unwrap();
            assert_eq!(data_major(&dir).as_deref(), major, "{text:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
