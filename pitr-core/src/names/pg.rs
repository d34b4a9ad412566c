//! `PgMode` and `PgMajor`: which PostgreSQL kernel a cluster runs, as Pigsty names it.
//!
//! Pigsty's `pg_mode` picks the kernel (PostgreSQL, Citus, IvorySQL, Babelfish, ...) and
//! `pg_version` its PostgreSQL major version. For pgBackRest only one kernel differs: IvorySQL
//! writes WAL headers and `pg_control` that pgBackRest does not recognise, so Pigsty's
//! `pgbackrest.conf` turns the WAL header check off and forces the version for it
//! ([`PgMode::forces_pg_version`]). Every other mode renders as plain PostgreSQL does.
//!
//! ```
//! use pitr_core::names::{PgMajor, PgMode};
//! let mode: PgMode = "ivory".parse().unwrap();
//! assert!(mode.forces_pg_version());
//! assert!(!"citus".parse::<PgMode>().unwrap().forces_pg_version());
//! assert_eq!("18".parse::<PgMajor>().unwrap().get(), 18);
//! let e = "ivorysql".parse::<PgMode>().unwrap_err();
//! assert!(e.to_string().contains("did you mean 'ivory'?"), "{e}");
//! ```

use std::fmt;
use std::str::FromStr;

use super::serde_as_string;
use crate::error::{Error, nearest};

/// A PostgreSQL kernel, by Pigsty's `pg_mode` name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PgMode {
    /// PostgreSQL (Pigsty's default).
    #[default]
    Pgsql,
    /// Citus, distributed PostgreSQL.
    Citus,
    /// Babelfish, SQL Server compatible.
    Mssql,
    /// OpenHalo, MySQL compatible.
    Mysql,
    /// IvorySQL, Oracle compatible.
    Ivory,
    /// Percona PostgreSQL with `pg_tde`.
    Pgtde,
    /// PolarDB for PostgreSQL.
    Polar,
    /// Greenplum / Cloudberry.
    Gpsql,
    /// AgensGraph.
    Agens,
    /// OrioleDB.
    Oriole,
    /// pgEdge distributed PostgreSQL.
    Pgedge,
    /// PolarDB in Oracle-compatible mode (Pigsty's Patroni templates know it).
    Oracle,
}

impl PgMode {
    /// Every mode, in the order Pigsty's `pg_mode` documentation lists them.
    pub const ALL: [PgMode; 12] = [
        PgMode::Pgsql,
        PgMode::Citus,
        PgMode::Mssql,
        PgMode::Mysql,
        PgMode::Ivory,
        PgMode::Pgtde,
        PgMode::Polar,
        PgMode::Gpsql,
        PgMode::Agens,
        PgMode::Oriole,
        PgMode::Pgedge,
        PgMode::Oracle,
    ];

    /// The name Pigsty uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            PgMode::Pgsql => "pgsql",
            PgMode::Citus => "citus",
            PgMode::Mssql => "mssql",
            PgMode::Mysql => "mysql",
            PgMode::Ivory => "ivory",
            PgMode::Pgtde => "pgtde",
            PgMode::Polar => "polar",
            PgMode::Gpsql => "gpsql",
            PgMode::Agens => "agens",
            PgMode::Oriole => "oriole",
            PgMode::Pgedge => "pgedge",
            PgMode::Oracle => "oracle",
        }
    }

    /// Whether pgBackRest must be told the PostgreSQL version (`pg-version-force`) and skip
    /// the WAL header check (`archive-header-check=n`): IvorySQL only, as in Pigsty.
    pub const fn forces_pg_version(self) -> bool {
        matches!(self, PgMode::Ivory)
    }
}

impl FromStr for PgMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PgMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let names = PgMode::ALL.map(PgMode::as_str);
                let guess = nearest(s, names)
                    .map(|n| format!("did you mean '{n}'? "))
                    .unwrap_or_default();
                Error::invalid(
                    "pg_mode",
                    s,
                    format!("{guess}Pigsty's modes are {}", names.join(", ")),
                )
            })
    }
}

impl fmt::Display for PgMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

serde_as_string!(PgMode);

/// A PostgreSQL major version from 10 on (`pg_version`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PgMajor(u8);

impl PgMajor {
    /// Pigsty's default `pg_version`.
    pub const PIGSTY_DEFAULT: PgMajor = PgMajor(18);

    /// The major version number.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl FromStr for PgMajor {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<u8>()
            .ok()
            .filter(|n| (10..=99).contains(n) && s.bytes().all(|b| b.is_ascii_digit()))
            .map(PgMajor)
            .ok_or_else(|| {
                Error::invalid(
                    "pg_version",
                    s,
                    "expected a PostgreSQL major version from 10 on, such as 18",
                )
            })
    }
}

impl fmt::Display for PgMajor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

serde_as_string!(PgMajor);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_parses_back() {
        for mode in PgMode::ALL {
            assert_eq!(mode.as_str().parse::<PgMode>().unwrap(), mode);
            assert_eq!(mode.forces_pg_version(), mode == PgMode::Ivory);
        }
        assert_eq!(PgMode::default(), PgMode::Pgsql);
    }

    #[test]
    fn unknown_modes_list_pigstys() {
        let e = "Ivory".parse::<PgMode>().unwrap_err();
        assert_eq!(e.code(), "invalid_value");
        assert_eq!(
            e.to_string(),
            "invalid pg_mode 'Ivory': did you mean 'ivory'? Pigsty's modes are pgsql, citus, \
             mssql, mysql, ivory, pgtde, polar, gpsql, agens, oriole, pgedge, oracle"
        );
        let e = "postgres\n".parse::<PgMode>().unwrap_err();
        assert!(
            e.to_string().starts_with("invalid pg_mode 'postgres\\n'"),
            "{e}"
        );
    }

    #[test]
    fn majors() {
        for ok in ["10", "15", "18", "19", "99"] {
            assert_eq!(ok.parse::<PgMajor>().unwrap().to_string(), ok);
        }
        for bad in ["", "9", "9.6", "18.1", "100", "+18", "018x", "v18", "1e1"] {
            let e = bad.parse::<PgMajor>().unwrap_err();
            assert_eq!(e.code(), "invalid_value", "{bad}");
            assert!(e.to_string().contains("such as 18"), "{e}");
        }
    }
}
