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

fn find_pg_bin(data_dir: Option<&Path>) -> Result<PathBuf> {
    let major = data_dir
        .and_then(|d| std::fs::read_to_string(d.join("PG_VERSION")).ok())
        .map(|v| v.trim().to_owned());
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
