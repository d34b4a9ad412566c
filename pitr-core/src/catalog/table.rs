//! The option table, one row per option, sorted by name.

use super::{OptionDef, OptionKind as K, RepoType, Section, Version};
use Section::{CommandLine as Cli, Global, Stanza};

const ALL: &[RepoType] = &RepoType::ALL;
const POSIX: &[RepoType] = &[RepoType::Posix];
const S3: &[RepoType] = &[RepoType::S3];
const AZURE: &[RepoType] = &[RepoType::Azure];
const GCS: &[RepoType] = &[RepoType::Gcs];
const SFTP: &[RepoType] = &[RepoType::Sftp];
const AZURE_S3: &[RepoType] = &[RepoType::Azure, RepoType::S3];
const OBJECT: &[RepoType] = &[RepoType::Azure, RepoType::Gcs, RepoType::S3];

const LOG_LEVELS: K = K::Enum(&["off", "error", "warn", "info", "detail", "debug", "trace"]);
const HOST_TYPES: K = K::Enum(&["ssh", "tls"]);
const URI_STYLES: K = K::Enum(&["host", "path"]);
const REPO_TYPES: K = K::Enum(&["azure", "cifs", "gcs", "posix", "s3", "sftp"]);
const S3_KEY_TYPES: K = K::Enum(&["shared", "auto", "web-id", "pod-id", "process"]);
const SFTP_CHECK_TYPES: K = K::Enum(&["accept-new", "fingerprint", "none", "strict"]);
const PORT: (i64, i64) = (0, 65_535);
const RETENTION: i64 = 9_999_999;

/// pgBackRest 2.`minor`.
const fn v(minor: u16) -> Version {
    Version::new(2, minor, 0)
}

const fn opt(name: &'static str, since: Version, kind: K, section: Section) -> OptionDef {
    OptionDef {
        name,
        since,
        kind,
        section,
        group: None,
        secure: false,
        aliases: &[],
        repo_types: None,
        beta: None,
        internal_from: None,
        range: None,
    }
}

/// A block incremental tuning option: beta in 2.45, internal from 2.46.
const fn block_tuning(name: &'static str, kind: K) -> OptionDef {
    opt(name, v(45), kind, Global)
        .repo(ALL)
        .beta_only(v(45), v(46))
        .internal_from(v(46))
}

#[rustfmt::skip]
pub(super) static OPTIONS: &[OptionDef] = &[
    opt("allow-root", v(59), K::Bool, Global),
    opt("annotation", v(41), K::Hash, Global),
    opt("archive-async", v(30), K::Bool, Global),
    opt("archive-check", v(30), K::Bool, Global),
    opt("archive-copy", v(30), K::Bool, Global),
    opt("archive-expire-before", v(59), K::String, Cli),
    opt("archive-get-queue-max", v(30), K::Size, Global),
    opt("archive-header-check", v(33), K::Bool, Global),
    opt("archive-missing-retry", v(38), K::Bool, Global),
    opt("archive-mode", v(30), K::Enum(&["preserve", "off"]), Global),
    opt("archive-mode-check", v(32), K::Bool, Global),
    opt("archive-push-batch-size", v(59), K::Size, Global),
    opt("archive-push-queue-max", v(30), K::Size, Global).aliases(&["archive-queue-max"]),
    opt("archive-timeout", v(30), K::Time, Global),
    opt("backup-standby", v(30), K::Enum(&["n", "prefer", "y"]), Global),
    // Internal in pgBackRest, but written as `beta=y` to enable 2.45's block incremental.
    opt("beta", v(45), K::Bool, Global),
    opt("buffer-size", v(30), K::Size, Global),
    opt("checksum-page", v(30), K::Bool, Global),
    opt("cmd", v(37), K::String, Global),
    opt("cmd-ssh", v(30), K::String, Global),
    opt("compress", v(30), K::Bool, Global),
    // The range depends on compress-type (gz -1..9, zst -7..22, ...): this is the widest.
    opt("compress-level", v(30), K::Integer, Global).range(-7, 22),
    opt("compress-level-network", v(30), K::Integer, Global).range(-5, 12),
    opt("compress-type", v(30), K::Enum(&["none", "bz2", "gz", "lz4", "zst"]), Global),
    opt("config", v(30), K::String, Cli),
    opt("config-include-path", v(30), K::Path, Cli),
    opt("config-path", v(30), K::Path, Cli),
    opt("db-exclude", v(34), K::List, Global),
    opt("db-include", v(30), K::List, Global),
    opt("db-timeout", v(30), K::Time, Global),
    opt("delta", v(30), K::Bool, Global),
    opt("detail-level", v(56), K::Enum(&["full", "progress"]), Cli),
    opt("dry-run", v(30), K::Bool, Cli),
    opt("exclude", v(30), K::List, Global),
    opt("expire-auto", v(30), K::Bool, Global),
    opt("filter", v(30), K::String, Cli),
    opt("force", v(30), K::Bool, Cli),
    opt("help", v(54), K::Bool, Cli),
    opt("ignore-missing", v(30), K::Bool, Cli),
    opt("io-timeout", v(30), K::Time, Global),
    opt("link-all", v(30), K::Bool, Global),
    opt("link-map", v(30), K::Hash, Global),
    opt("lock-path", v(30), K::Path, Global),
    opt("log-level-console", v(30), LOG_LEVELS, Global),
    opt("log-level-file", v(30), LOG_LEVELS, Global),
    opt("log-level-stderr", v(30), LOG_LEVELS, Global),
    opt("log-path", v(30), K::Path, Global),
    opt("log-subprocess", v(30), K::Bool, Global),
    opt("log-timestamp", v(30), K::Bool, Global),
    opt("manifest-save-threshold", v(30), K::Size, Global),
    opt("neutral-umask", v(30), K::Bool, Global),
    opt("oldest", v(58), K::Bool, Cli),
    opt("online", v(30), K::Bool, Cli),
    // text/json for info and friends, none/text for verify, text/num for version (2.55+).
    opt("output", v(30), K::Enum(&["text", "json", "none", "num"]), Cli),
    opt("page-header-check", v(46), K::Bool, Global),
    opt("pg-database", v(31), K::String, Stanza).pg(),
    opt("pg-host", v(30), K::String, Stanza).pg().aliases(&["db-host", "db?-host"]),
    opt("pg-host-ca-file", v(36), K::String, Global).pg(),
    opt("pg-host-ca-path", v(36), K::String, Global).pg(),
    opt("pg-host-cert-file", v(36), K::String, Global).pg(),
    opt("pg-host-cmd", v(30), K::String, Stanza).pg().aliases(&["db-cmd", "db?-cmd"]),
    opt("pg-host-config", v(30), K::Path, Stanza).pg().aliases(&["db-config", "db?-config"]),
    opt("pg-host-config-include-path", v(30), K::Path, Stanza).pg(),
    opt("pg-host-config-path", v(30), K::Path, Stanza).pg(),
    opt("pg-host-key-file", v(36), K::String, Global).pg(),
    opt("pg-host-port", v(30), K::Integer, Stanza).pg()
        .aliases(&["db-ssh-port", "db?-ssh-port"]).range(PORT.0, PORT.1),
    opt("pg-host-type", v(36), HOST_TYPES, Global).pg(),
    opt("pg-host-user", v(30), K::String, Stanza).pg().aliases(&["db-user", "db?-user"]),
    opt("pg-path", v(30), K::Path, Stanza).pg().aliases(&["db-path", "db?-path"]),
    opt("pg-port", v(30), K::Integer, Stanza).pg()
        .aliases(&["db-port", "db?-port"]).range(PORT.0, PORT.1),
    opt("pg-socket-path", v(30), K::String, Stanza).pg()
        .aliases(&["db-socket-path", "db?-socket-path"]),
    opt("pg-user", v(30), K::String, Stanza).pg(),
    // Not a group option: written `pg-version-force`, without index.
    opt("pg-version-force", v(45), K::String, Stanza),
    opt("priority", v(58), K::Integer, Global).range(-20, 19),
    opt("process-max", v(30), K::Integer, Global).range(1, 999),
    opt("protocol-timeout", v(30), K::Time, Global),
    opt("raw", v(30), K::Bool, Cli),
    opt("recovery-option", v(30), K::Hash, Global),
    opt("recurse", v(30), K::Bool, Cli),
    opt("reference", v(46), K::String, Cli),
    opt("repo", v(33), K::Integer, Cli).range(1, 256),
    opt("repo-azure-account", v(30), K::String, Global).repo(AZURE).secure(),
    opt("repo-azure-container", v(30), K::String, Global).repo(AZURE),
    opt("repo-azure-endpoint", v(31), K::String, Global).repo(AZURE).secure(),
    opt("repo-azure-key", v(30), K::String, Global).repo(AZURE).secure(),
    opt("repo-azure-key-type", v(30), K::Enum(&["shared", "sas", "auto"]), Global).repo(AZURE),
    opt("repo-azure-uri-style", v(36), URI_STYLES, Global).repo(AZURE),
    // Internal in 2.44, beta in 2.45, generally available from 2.46. Needs repo-bundle=y.
    opt("repo-block", v(45), K::Bool, Global).repo(ALL).beta_only(v(45), v(46)),
    block_tuning("repo-block-age-map", K::Hash),
    block_tuning("repo-block-checksum-size-map", K::Hash),
    block_tuning("repo-block-size-map", K::Hash),
    block_tuning("repo-block-size-super", K::Size),
    block_tuning("repo-block-size-super-full", K::Size),
    opt("repo-bundle", v(39), K::Bool, Global).repo(ALL),
    opt("repo-bundle-limit", v(39), K::Size, Global).repo(ALL),
    opt("repo-bundle-size", v(39), K::Size, Global).repo(ALL),
    opt("repo-cipher-pass", v(30), K::String, Global).repo(ALL).secure()
        .aliases(&["repo-cipher-pass"]),
    opt("repo-cipher-type", v(30), K::Enum(&["none", "aes-256-cbc"]), Global).repo(ALL)
        .aliases(&["repo-cipher-type"]),
    opt("repo-gcs-bucket", v(33), K::String, Global).repo(GCS),
    opt("repo-gcs-endpoint", v(33), K::String, Global).repo(GCS),
    opt("repo-gcs-key", v(33), K::String, Global).repo(GCS).secure(),
    opt("repo-gcs-key-type", v(33), K::Enum(&["service", "token", "auto"]), Global).repo(GCS),
    opt("repo-gcs-user-project", v(55), K::String, Global).repo(GCS),
    opt("repo-hardlink", v(30), K::Bool, Global).repo(ALL).aliases(&["hardlink"]),
    opt("repo-host", v(30), K::String, Global).repo(ALL).aliases(&["backup-host"]),
    opt("repo-host-ca-file", v(36), K::String, Global).repo(ALL),
    opt("repo-host-ca-path", v(36), K::String, Global).repo(ALL),
    opt("repo-host-cert-file", v(36), K::String, Global).repo(ALL),
    opt("repo-host-cmd", v(30), K::String, Global).repo(ALL).aliases(&["backup-cmd"]),
    opt("repo-host-config", v(30), K::String, Global).repo(ALL).aliases(&["backup-config"]),
    opt("repo-host-config-include-path", v(30), K::Path, Global).repo(ALL),
    opt("repo-host-config-path", v(30), K::Path, Global).repo(ALL),
    opt("repo-host-key-file", v(36), K::String, Global).repo(ALL),
    opt("repo-host-port", v(30), K::Integer, Global).repo(ALL)
        .aliases(&["backup-ssh-port"]).range(PORT.0, PORT.1),
    opt("repo-host-type", v(36), HOST_TYPES, Global).repo(ALL),
    opt("repo-host-user", v(30), K::String, Global).repo(ALL).aliases(&["backup-user"]),
    opt("repo-path", v(30), K::Path, Global).repo(ALL).aliases(&["repo-path"]),
    opt("repo-retention-archive", v(30), K::Integer, Global).repo(ALL)
        .aliases(&["retention-archive"]).range(1, RETENTION),
    opt("repo-retention-archive-type", v(30), K::Enum(&["full", "diff", "incr"]), Global)
        .repo(ALL).aliases(&["retention-archive-type"]),
    opt("repo-retention-diff", v(30), K::Integer, Global).repo(ALL)
        .aliases(&["retention-diff"]).range(1, RETENTION),
    opt("repo-retention-full", v(30), K::Integer, Global).repo(ALL)
        .aliases(&["retention-full"]).range(1, RETENTION),
    opt("repo-retention-full-type", v(30), K::Enum(&["count", "time"]), Global).repo(ALL),
    opt("repo-retention-history", v(34), K::Integer, Global).repo(ALL).range(0, RETENTION),
    opt("repo-s3-bucket", v(30), K::String, Global).repo(S3).aliases(&["repo-s3-bucket"]),
    opt("repo-s3-endpoint", v(30), K::String, Global).repo(S3).aliases(&["repo-s3-endpoint"]),
    opt("repo-s3-key", v(30), K::String, Global).repo(S3).secure().aliases(&["repo-s3-key"]),
    opt("repo-s3-key-secret", v(30), K::String, Global).repo(S3).secure()
        .aliases(&["repo-s3-key-secret"]),
    opt("repo-s3-key-type", v(30), S3_KEY_TYPES, Global).repo(S3),
    opt("repo-s3-kms-key-id", v(38), K::String, Global).repo(S3),
    opt("repo-s3-process-cmd", v(59), K::List, Global).repo(S3),
    opt("repo-s3-region", v(30), K::String, Global).repo(S3).aliases(&["repo-s3-region"]),
    opt("repo-s3-requester-pays", v(55), K::Bool, Global).repo(S3),
    opt("repo-s3-role", v(30), K::String, Global).repo(S3),
    opt("repo-s3-service", v(59), K::String, Global).repo(S3),
    opt("repo-s3-sse-customer-key", v(52), K::String, Global).repo(S3).secure(),
    opt("repo-s3-sts-host", v(59), K::String, Global).repo(S3),
    opt("repo-s3-token", v(30), K::String, Global).repo(S3).secure(),
    opt("repo-s3-uri-style", v(30), URI_STYLES, Global).repo(S3),
    opt("repo-sftp-host", v(46), K::String, Global).repo(SFTP),
    opt("repo-sftp-host-fingerprint", v(46), K::String, Global).repo(SFTP),
    opt("repo-sftp-host-key-check-type", v(48), SFTP_CHECK_TYPES, Global).repo(SFTP),
    opt("repo-sftp-host-key-hash-type", v(46), K::Enum(&["md5", "sha1", "sha256"]), Global)
        .repo(SFTP),
    opt("repo-sftp-host-port", v(46), K::Integer, Global).repo(SFTP).range(1, PORT.1),
    opt("repo-sftp-host-user", v(46), K::String, Global).repo(SFTP),
    opt("repo-sftp-known-host", v(48), K::List, Global).repo(SFTP),
    opt("repo-sftp-private-key-file", v(46), K::String, Global).repo(SFTP),
    opt("repo-sftp-private-key-passphrase", v(46), K::String, Global).repo(SFTP).secure(),
    opt("repo-sftp-public-key-file", v(46), K::String, Global).repo(SFTP),
    opt("repo-storage-ca-file", v(33), K::String, Global).repo(OBJECT)
        .aliases(&["repo-s3-ca-file", "repo?-azure-ca-file", "repo?-s3-ca-file"]),
    opt("repo-storage-ca-path", v(33), K::Path, Global).repo(OBJECT)
        .aliases(&["repo-s3-ca-path", "repo?-azure-ca-path", "repo?-s3-ca-path"]),
    opt("repo-storage-host", v(33), K::String, Global).repo(AZURE_S3)
        .aliases(&["repo-s3-host", "repo?-azure-host", "repo?-s3-host"]),
    // Inherits storage-host's dependency: GCS ignores it.
    opt("repo-storage-port", v(33), K::Integer, Global).repo(AZURE_S3)
        .aliases(&["repo?-azure-port", "repo?-s3-port"]).range(1, PORT.1),
    opt("repo-storage-prefetch", Version::V2_60_DEV, K::Integer, Global).repo(OBJECT)
        .range(0, 1024),
    opt("repo-storage-read-over", Version::V2_60_DEV, K::Size, Global).repo(OBJECT),
    opt("repo-storage-tag", v(48), K::Hash, Global).repo(OBJECT),
    opt("repo-storage-upload-chunk-size", v(41), K::Size, Global).repo(OBJECT),
    opt("repo-storage-verify-tls", v(33), K::Bool, Global).repo(OBJECT).aliases(&[
        "repo-s3-verify-ssl", "repo?-azure-verify-tls", "repo?-s3-verify-ssl",
        "repo?-s3-verify-tls",
    ]),
    opt("repo-symlink", v(57), K::Bool, Global).repo(POSIX),
    // Not a group option: one target time for the command, written without index.
    opt("repo-target-time", v(54), K::String, Global),
    opt("repo-type", v(30), REPO_TYPES, Global).repo(ALL).aliases(&["repo-type"]),
    opt("resume", v(30), K::Bool, Global),
    opt("sck-keep-alive", v(30), K::Bool, Global),
    opt("set", v(30), K::String, Cli),
    opt("sort", v(30), K::Enum(&["none", "asc", "desc"]), Cli),
    opt("spool-path", v(30), K::Path, Global),
    opt("stanza", v(30), K::String, Cli),
    opt("start-fast", v(30), K::Bool, Global),
    opt("tablespace-map", v(30), K::Hash, Global),
    opt("tablespace-map-all", v(30), K::String, Global),
    opt("target", v(30), K::String, Cli),
    opt("target-action", v(30), K::Enum(&["pause", "promote", "shutdown"]), Cli),
    opt("target-exclusive", v(30), K::Bool, Cli),
    opt("target-timeline", v(30), K::String, Cli),
    opt("tcp-keep-alive-count", v(30), K::Integer, Global).range(1, 32),
    opt("tcp-keep-alive-idle", v(30), K::Integer, Global).range(1, 3600),
    opt("tcp-keep-alive-interval", v(30), K::Integer, Global).range(1, 900),
    opt("tls-cipher-12", v(58), K::String, Global),
    opt("tls-cipher-13", v(58), K::String, Global),
    opt("tls-server-address", v(36), K::String, Global),
    opt("tls-server-auth", v(36), K::Hash, Global),
    opt("tls-server-ca-file", v(36), K::Path, Global),
    opt("tls-server-cert-file", v(36), K::Path, Global),
    opt("tls-server-key-file", v(36), K::Path, Global),
    opt("tls-server-port", v(36), K::Integer, Global).range(1, PORT.1),
    // Meaning depends on the command (backup type, restore target type, info filter).
    opt("type", v(30), K::String, Cli),
    opt("verbose", v(39), K::Bool, Cli),
    opt("version", v(54), K::Bool, Cli),
];
