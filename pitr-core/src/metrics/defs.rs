//! Every metric pitr exports: name, type, help text and label names, in one table.
//!
//! The `pgbackrest_*` families copy `pgbackrest_exporter` v0.23.0: same names, all gauges, same
//! label names and meaning. Where the exporter renamed a metric, both names are listed (and
//! rendered), so dashboards written for either version keep working. The `pitr_*` families are
//! pitr's own. `docs/observability.md` documents every entry; a unit test keeps the two in step.

/// Whether a family is a gauge or a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A value that only goes up (name ends in `_total`).
    Counter,
}

/// One metric family.
#[derive(Debug)]
pub(crate) struct Def {
    /// The metric name.
    pub(crate) name: &'static str,
    /// `# HELP` text.
    pub(crate) help: &'static str,
    /// Label names, alphabetical.
    pub(crate) labels: &'static [&'static str],
    /// Gauge or counter.
    pub(crate) kind: Kind,
}

macro_rules! defs {
    ($($id:ident $kind:ident $name:literal [$($label:literal),*] $help:literal;)*) => {
        $(
            pub(crate) const $id: Def = Def {
                name: $name,
                help: $help,
                labels: &[$($label),*],
                kind: Kind::$kind,
            };
        )*
        /// Every family, in table order.
        pub(crate) const ALL: &[&Def] = &[$(&$id),*];
    };
}

defs! {
    // ---- pgbackrest_exporter: stanza --------------------------------------------------------
    STANZA_STATUS Gauge "pgbackrest_stanza_status" ["stanza"]
        "Current stanza status code (0 ok, 1 missing stanza path, 2 no valid backups, 3 missing stanza data, 4 different across repos, 5 database mismatch across repos, 6 requested backup not found, 99 other).";
    STANZA_BACKUP_LOCK Gauge "pgbackrest_stanza_backup_lock_status" ["stanza"]
        "Whether a backup, expire or stanza command holds the stanza lock on this host (1 held).";
    STANZA_LOCK_OLD Gauge "pgbackrest_stanza_lock_status" ["stanza"]
        "Same as pgbackrest_stanza_backup_lock_status (its name before pgbackrest_exporter v0.23.0).";
    STANZA_BACKUP_COMPLETE Gauge "pgbackrest_stanza_backup_complete_bytes" ["stanza"]
        "Bytes a running backup has completed (0 when none runs or pgBackRest is older than 2.48).";
    STANZA_BACKUP_COMPETE_OLD Gauge "pgbackrest_stanza_backup_compete_bytes" ["stanza"]
        "Same as pgbackrest_stanza_backup_complete_bytes (its misspelt name in pgbackrest_exporter v0.16.0 to v0.22.x).";
    STANZA_BACKUP_TOTAL Gauge "pgbackrest_stanza_backup_total_bytes" ["stanza"]
        "Bytes a running backup processes in total (0 when none runs or pgBackRest is older than 2.48).";
    STANZA_RESTORE_LOCK Gauge "pgbackrest_stanza_restore_lock_status" ["stanza"]
        "Whether a restore holds the stanza lock on this host (1 held; always 0 before pgBackRest 2.56).";
    STANZA_RESTORE_COMPLETE Gauge "pgbackrest_stanza_restore_complete_bytes" ["stanza"]
        "Bytes a running restore has completed (0 when none runs).";
    STANZA_RESTORE_TOTAL Gauge "pgbackrest_stanza_restore_total_bytes" ["stanza"]
        "Bytes a running restore processes in total (0 when none runs).";

    // ---- pgbackrest_exporter: repo ----------------------------------------------------------
    REPO_STATUS Gauge "pgbackrest_repo_status" ["cipher", "repo_key", "stanza"]
        "Current repo status code of the stanza (0 ok, 1 missing stanza path, 2 no valid backups, 3 missing stanza data, 6 requested backup not found, 99 other, e.g. repo unreachable).";

    // ---- pgbackrest_exporter: every backup set ----------------------------------------------
    BACKUP_INFO Gauge "pgbackrest_backup_info"
        ["backrest_ver", "backup_name", "backup_type", "block_incr", "database_id", "lsn_start", "lsn_stop", "pg_version", "prior", "repo_key", "stanza", "wal_start", "wal_stop"]
        "Backup set details (always 1).";
    BACKUP_DURATION Gauge "pgbackrest_backup_duration_seconds"
        ["backup_name", "backup_type", "block_incr", "database_id", "repo_key", "stanza", "start_time", "stop_time"]
        "Backup duration in seconds (stop minus start).";
    BACKUP_SIZE Gauge "pgbackrest_backup_size_bytes"
        ["backup_name", "backup_type", "block_incr", "database_id", "repo_key", "stanza"]
        "Full uncompressed size of the database in the backup set.";
    BACKUP_DELTA Gauge "pgbackrest_backup_delta_bytes"
        ["backup_name", "backup_type", "block_incr", "database_id", "repo_key", "stanza"]
        "Uncompressed bytes the backup set actually copied.";
    BACKUP_REPO_SIZE Gauge "pgbackrest_backup_repo_size_bytes"
        ["backup_name", "backup_type", "block_incr", "database_id", "repo_key", "stanza"]
        "Repo bytes of the backup set and the sets it references (0 for block incremental sets).";
    BACKUP_REPO_DELTA Gauge "pgbackrest_backup_repo_delta_bytes"
        ["backup_name", "backup_type", "block_incr", "database_id", "repo_key", "stanza"]
        "Repo bytes of the backup set alone.";
    BACKUP_REPO_SIZE_MAP Gauge "pgbackrest_backup_repo_size_map_bytes"
        ["backup_name", "backup_type", "block_incr", "database_id", "repo_key", "stanza"]
        "Block incremental map size of the backup set (0 when not block incremental).";
    BACKUP_REPO_DELTA_MAP Gauge "pgbackrest_backup_repo_delta_map_bytes"
        ["backup_name", "backup_type", "block_incr", "database_id", "repo_key", "stanza"]
        "Block incremental map delta of the backup set (0 when not block incremental).";
    BACKUP_ERROR Gauge "pgbackrest_backup_error_status"
        ["backup_name", "backup_type", "block_incr", "database_id", "repo_key", "stanza"]
        "Whether the backup set found page checksum or validation errors (1 yes).";
    BACKUP_ANNOTATIONS Gauge "pgbackrest_backup_annotations"
        ["backup_name", "backup_type", "block_incr", "database_id", "repo_key", "stanza"]
        "Number of annotations of the backup set.";
    BACKUP_REFERENCES Gauge "pgbackrest_backup_references"
        ["backup_name", "backup_type", "block_incr", "database_id", "ref_backup", "repo_key", "stanza"]
        "Number of backup sets of type ref_backup the backup set references.";
    BACKUP_DATABASES Gauge "pgbackrest_backup_databases"
        ["backup_name", "backup_type", "block_incr", "database_id", "repo_key", "stanza"]
        "Number of databases in the backup set (only when info was read with --set).";

    // ---- pgbackrest_exporter: newest backup per type ----------------------------------------
    LAST_SINCE Gauge "pgbackrest_backup_since_last_completion_seconds" ["backup_type", "block_incr", "stanza"]
        "Seconds since the newest backup of the type completed (diff counts full too; incr counts every type).";
    LAST_DURATION Gauge "pgbackrest_backup_last_duration_seconds" ["backup_type", "block_incr", "stanza"]
        "Duration of the newest backup of the type.";
    LAST_SIZE Gauge "pgbackrest_backup_last_size_bytes" ["backup_type", "block_incr", "stanza"]
        "Full uncompressed database size in the newest backup of the type.";
    LAST_DELTA Gauge "pgbackrest_backup_last_delta_bytes" ["backup_type", "block_incr", "stanza"]
        "Uncompressed bytes copied by the newest backup of the type.";
    LAST_REPO_SIZE Gauge "pgbackrest_backup_last_repo_size_bytes" ["backup_type", "block_incr", "stanza"]
        "Repo bytes of the newest backup of the type and the sets it references (0 for block incremental).";
    LAST_REPO_DELTA Gauge "pgbackrest_backup_last_repo_delta_bytes" ["backup_type", "block_incr", "stanza"]
        "Repo bytes of the newest backup of the type alone.";
    LAST_REPO_SIZE_MAP Gauge "pgbackrest_backup_last_repo_size_map_bytes" ["backup_type", "block_incr", "stanza"]
        "Block incremental map size of the newest backup of the type.";
    LAST_REPO_DELTA_MAP Gauge "pgbackrest_backup_last_repo_delta_map_bytes" ["backup_type", "block_incr", "stanza"]
        "Block incremental map delta of the newest backup of the type.";
    LAST_ERROR Gauge "pgbackrest_backup_last_error_status" ["backup_type", "block_incr", "stanza"]
        "Whether the newest backup of the type found page checksum or validation errors (1 yes).";
    LAST_ANNOTATIONS Gauge "pgbackrest_backup_last_annotations" ["backup_type", "block_incr", "stanza"]
        "Number of annotations of the newest backup of the type.";
    LAST_REFERENCES Gauge "pgbackrest_backup_last_references" ["backup_type", "block_incr", "ref_backup", "stanza"]
        "Number of backup sets of type ref_backup the newest backup of the type references.";
    LAST_DATABASES Gauge "pgbackrest_backup_last_databases" ["backup_type", "block_incr", "stanza"]
        "Number of databases in the newest backup of the type (only when info was read with --set).";

    // ---- pgbackrest_exporter: WAL archive, versions, exporter -------------------------------
    WAL_ARCHIVE_STATUS Gauge "pgbackrest_wal_archive_status"
        ["database_id", "pg_version", "repo_key", "stanza", "wal_max", "wal_min"]
        "Whether the WAL archive of the cluster history entry holds segments (1 both min and max known).";
    VERSION_INFO Gauge "pgbackrest_version_info" []
        "pgBackRest version as a number (2045000 for 2.45; 0 when unknown).";
    EXPORTER_BUILD_INFO Gauge "pgbackrest_exporter_build_info"
        ["branch", "goarch", "goos", "goversion", "revision", "tags", "version"]
        "Build of the exporter (always 1); version is pitr's, tags is \"pitr\".";
    EXPORTER_STATUS Gauge "pgbackrest_exporter_status" ["stanza"]
        "Whether the last pgbackrest info run succeeded and its output parsed (1 yes).";

    // ---- pitr: recoverable window -----------------------------------------------------------
    WINDOW_START_TIME Gauge "pitr_window_start_timestamp_seconds" ["repo_key", "stanza", "timeline"]
        "Earliest time a restore can reach on the timeline: stop time of the oldest backup set whose WAL is archived (Unix seconds).";
    WINDOW_START_LSN Gauge "pitr_window_start_lsn" ["repo_key", "stanza", "timeline"]
        "Earliest WAL location a restore can reach on the timeline: stop LSN of that backup set, as a number.";
    WINDOW_END_TIME Gauge "pitr_window_end_timestamp_seconds" ["repo_key", "stanza", "timeline"]
        "Latest time the archived WAL of the timeline reaches: modification time of its last segment (Unix seconds; only when the archive was listed).";
    WINDOW_END_LSN Gauge "pitr_window_end_lsn" ["repo_key", "stanza", "timeline"]
        "First WAL location past the archived WAL of the timeline, as a number.";
    WINDOWS Gauge "pitr_recoverable_windows" ["repo_key", "stanza"]
        "Number of timelines the repo can restore to (0: no point-in-time restore possible from this repo).";

    // ---- pitr: WAL archive freshness --------------------------------------------------------
    WAL_NEWEST_TIME Gauge "pitr_wal_newest_archived_timestamp_seconds" ["repo_key", "stanza"]
        "When the newest WAL segment reached the repo (Unix seconds): its file time when the archive was listed, else the stop time of the newest backup set.";
    WAL_NEWEST_AGE Gauge "pitr_wal_newest_archived_age_seconds" ["repo_key", "stanza"]
        "Seconds since the newest WAL segment reached the repo (see pitr_wal_newest_archived_timestamp_seconds).";
    ARCHIVE_LISTED Gauge "pitr_archive_listed" ["repo_key", "stanza"]
        "Whether the repo's archive was listed (1), so holes and file times are known, or judged from pgbackrest info alone (0).";
    ARCHIVE_MISSING Gauge "pitr_archive_missing_segments" ["repo_key", "stanza"]
        "WAL segments missing from the repo's archive along the newest timeline's history, from the oldest backup set's first segment to the newest archived segment (0 whole; absent when the archive was not listed).";

    // ---- pitr: last `pitr check` ------------------------------------------------------------
    CHECK_SUCCESS Gauge "pitr_check_success" ["check", "code", "stanza"]
        "Result of one check in the last pitr check run (1 passed, 0 failed; skipped checks are absent). code is the check's stable failure code.";
    CHECK_LAST_SUCCESS Gauge "pitr_check_last_success" ["code", "stanza"]
        "Result of the last pitr check run (1 every check passed, 0 one failed); code is the first failure's stable code, or ok.";
    CHECK_LAST_RUN Gauge "pitr_check_last_run_timestamp_seconds" ["stanza"]
        "When the last pitr check run finished (Unix seconds).";

    // ---- pitr: last `pitr drill` ------------------------------------------------------------
    DRILL_LAST_SUCCESS Gauge "pitr_drill_last_success" ["code", "stanza"]
        "Result of the last restore drill (1 passed, 0 failed); code is its stable error code, or ok.";
    DRILL_LAST_RUN Gauge "pitr_drill_last_run_timestamp_seconds" ["stanza"]
        "When the last restore drill finished (Unix seconds).";
    DRILL_LAST_SUCCESS_TIME Gauge "pitr_drill_last_success_timestamp_seconds" ["stanza"]
        "When a restore drill last passed (Unix seconds).";
    DRILL_DURATION Gauge "pitr_drill_duration_seconds" ["phase", "stanza"]
        "Seconds the last restore drill spent by phase: restore (pgbackrest restore), replay (start to verified stop), total (the whole restore: the recovery time objective this repo and machine give), checks (amcheck, pg_checksums).";

    // ---- pitr: the exporter itself ----------------------------------------------------------
    EXPORTER_UP Gauge "pitr_exporter_up" ["stanza"]
        "Whether the exporter's last refresh of pgBackRest data succeeded (1 yes).";
    EXPORTER_STALE Gauge "pitr_exporter_stale" ["stanza"]
        "Whether the served data is stale (1): there is none yet, the last refresh failed, no refresh succeeded for over two intervals plus 30 s, or a repo could not be read and its earlier data is served.";
    EXPORTER_INFO_AGE Gauge "pitr_exporter_info_age_seconds" ["stanza"]
        "Seconds since the served pgBackRest data was gathered.";
    EXPORTER_LAST_REFRESH Gauge "pitr_exporter_last_refresh_timestamp_seconds" ["stanza"]
        "When the last refresh finished, successful or not (Unix seconds).";
    EXPORTER_LAST_SUCCESS Gauge "pitr_exporter_last_success_timestamp_seconds" ["stanza"]
        "When the last successful refresh finished (Unix seconds).";
    EXPORTER_REFRESH_DURATION Gauge "pitr_exporter_refresh_duration_seconds" ["stanza"]
        "How long the last refresh took.";
    EXPORTER_REFRESHES Counter "pitr_exporter_refreshes_total" ["result", "stanza"]
        "Refreshes since the exporter started, by result (ok, error).";
    REPO_STALE Gauge "pitr_repo_stale" ["repo_key", "stanza"]
        "Whether the repo could not be read at the last refresh and its backup, archive and window metrics come from an earlier one (1 yes).";
}
