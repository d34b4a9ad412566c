//! Catalogue lookups, validation and the table's contents.

use super::*;
use proptest::prelude::*;

const V244: Version = Version::V2_44;
const V245: Version = Version::V2_45;
const V246: Version = Version::V2_46;

fn def(name: &str) -> &'static OptionDef {
    lookup(name).unwrap_or_else(|| panic!("{name} is not in the catalogue"))
}

#[test]
fn table_has_every_appendix_a_row_plus_beta_and_block_tuning() {
    // 181 user-facing options of Appendix A, `beta`, and five 2.45-only tuning options.
    assert_eq!(all().len(), 187);
    assert_eq!(
        all().iter().filter(|d| d.internal_from.is_some()).count(),
        5
    );
    assert_eq!(
        all()
            .iter()
            .filter(|d| d.section == Section::CommandLine)
            .count(),
        27
    );
    assert_eq!(
        all()
            .iter()
            .filter(|d| d.section == Section::Stanza)
            .count(),
        13
    );
    assert_eq!(all().iter().filter(|d| d.secure).count(), 10);
}

#[test]
fn table_is_sorted_unique_and_consistent() {
    for pair in all().windows(2) {
        assert!(
            pair[0].name < pair[1].name,
            "{} / {}",
            pair[0].name,
            pair[1].name
        );
    }
    for d in all() {
        assert_eq!(d.repo_types.is_some(), d.is_repo_option(), "{}", d.name);
        if let Some(group) = d.group {
            assert!(
                d.name.starts_with(&format!("{}-", group.as_str())),
                "{}",
                d.name
            );
        }
        assert!(d.since >= Version::V2_30, "{}", d.name);
        assert_eq!(
            d.range.is_some(),
            d.kind == OptionKind::Integer,
            "{}",
            d.name
        );
        for alias in d.aliases {
            assert_eq!(lookup(&alias.replace('?', "")), Some(d), "{alias}");
        }
    }
}

#[test]
fn lookup_finds_names_and_deprecated_names() {
    assert_eq!(def("repo-s3-bucket").kind, OptionKind::String);
    assert_eq!(def("retention-full").name, "repo-retention-full");
    assert_eq!(def("db-path").name, "pg-path");
    assert_eq!(def("repo-azure-ca-file").name, "repo-storage-ca-file");
    assert_eq!(def("repo-s3-verify-ssl").name, "repo-storage-verify-tls");
    assert_eq!(def("archive-queue-max").name, "archive-push-queue-max");
    assert_eq!(lookup("repo1-path"), None);
    assert_eq!(lookup("no-such-option"), None);
}

#[test]
fn repo_types_follow_pgbackrest_dependencies() {
    assert_eq!(def("repo-s3-bucket").repo_types, Some(&[RepoType::S3][..]));
    assert_eq!(
        def("repo-storage-host").repo_types,
        Some(&[RepoType::Azure, RepoType::S3][..])
    );
    assert!(!def("repo-storage-port").applies_to(RepoType::Gcs));
    assert!(def("repo-storage-verify-tls").applies_to(RepoType::Gcs));
    assert!(!def("repo-storage-ca-file").applies_to(RepoType::Posix));
    for t in RepoType::ALL {
        assert!(def("repo-path").applies_to(t));
        assert!(def("repo-type").applies_to(t));
        assert!(def("repo-host").applies_to(t));
        assert!(def("repo-block").applies_to(t));
    }
    assert!(def("repo-symlink").applies_to(RepoType::Posix));
    assert!(!def("repo-symlink").applies_to(RepoType::S3));
    assert!(!def("repo-target-time").is_repo_option());
    assert!(!def("start-fast").applies_to(RepoType::Posix));
}

#[test]
fn secure_options_are_flagged() {
    for name in [
        "repo-cipher-pass",
        "repo-s3-key",
        "repo-s3-key-secret",
        "repo-s3-token",
        "repo-s3-sse-customer-key",
        "repo-azure-account",
        "repo-azure-key",
        "repo-azure-endpoint",
        "repo-gcs-key",
        "repo-sftp-private-key-passphrase",
    ] {
        assert!(def(name).secure, "{name}");
    }
    assert!(!def("tls-server-auth").secure);
    assert!(!def("repo-host-key-file").secure);
}

#[test]
fn block_incremental_needs_beta_in_2_45_only() {
    let block = def("repo-block");
    assert!(block.needs_beta(&V245));
    assert!(!block.needs_beta(&V246));
    assert!(!block.needs_beta(&V244));
    assert!(!def("beta").needs_beta(&V245));
    let tuning = def("repo-block-size-super");
    assert!(tuning.needs_beta(&V245));
    assert!(tuning.is_available_in(&V245));
    assert!(!tuning.is_available_in(&V246));
    let err = check_repo_key("block", RepoType::Posix, Some(&V244)).unwrap_err();
    assert_eq!(err.code(), "option_needs_version", "{err}");
    assert!(err.to_string().contains("2.45"), "{err}");
    assert!(check_repo_key("block", RepoType::S3, Some(&V245)).is_ok());
    assert!(check_repo_key("block_size_map", RepoType::S3, Some(&V245)).is_ok());
    let err = check_repo_key("block_size_map", RepoType::S3, Some(&V246)).unwrap_err();
    assert_eq!(err.code(), "invalid_setting", "{err}");
    assert!(err.to_string().contains("internal"), "{err}");
    assert!(check_config_key("beta", Some(&V245)).is_ok());
    assert_eq!(check_value(def("beta"), "beta", "y").unwrap(), "y");
}

#[test]
fn split_index_and_base_name() {
    assert_eq!(
        split_index("repo2-s3-bucket"),
        Some(("repo", 2, "s3-bucket"))
    );
    assert_eq!(split_index("pg256-path"), Some(("pg", 256, "path")));
    assert_eq!(split_index("db1-host"), Some(("db", 1, "host")));
    for key in [
        "repo0-path",
        "repo257-path",
        "repo01-path",
        "repo-path",
        "repo1-",
        "1-x",
    ] {
        assert_eq!(split_index(key), None, "{key}");
    }
    assert_eq!(split_index("tls-cipher-12"), None);
    assert_eq!(base_name("repo2-s3-bucket"), "repo-s3-bucket");
    assert_eq!(base_name("start-fast"), "start-fast");
    assert_eq!(def("repo-s3-bucket").indexed_name(3), "repo3-s3-bucket");
    assert_eq!(def("start-fast").indexed_name(3), "start-fast");
}

#[test]
fn config_keys_are_checked() {
    assert_eq!(
        check_config_key("repo1-path", None).unwrap().name,
        "repo-path"
    );
    assert_eq!(check_config_key("pg2-port", None).unwrap().name, "pg-port");
    assert_eq!(
        check_config_key("start-fast", Some(&V245)).unwrap().name,
        "start-fast"
    );
    assert_eq!(check_config_key("db1-path", None).unwrap().name, "pg-path");
    assert_eq!(
        check_config_key("repo-path", None).unwrap().name,
        "repo-path"
    );
    assert_eq!(
        check_config_key("retention-full", None).unwrap().name,
        "repo-retention-full"
    );
    assert_eq!(
        check_config_key("repo2-s3-port", Some(&V245)).unwrap().name,
        "repo-storage-port"
    );
    assert_eq!(
        check_config_key("pg-version-force", None).unwrap().name,
        "pg-version-force"
    );

    let err = check_config_key("repo1-s3-buket", None).unwrap_err();
    let Error::UnknownOption { suggestion, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(suggestion.as_deref(), Some("repo1-s3-bucket"));
    let err = check_config_key("repo2-s3-buket", None).unwrap_err();
    assert!(
        err.to_string().contains("did you mean 'repo2-s3-bucket'"),
        "{err}"
    );
    let err = check_config_key("start-fats", None).unwrap_err();
    assert!(err.to_string().contains("'start-fast'"), "{err}");

    let err = check_config_key("pg-path", None).unwrap_err();
    assert!(err.to_string().contains("write 'pg1-path'"), "{err}");
    let err = check_config_key("repo1-target-time", None).unwrap_err();
    assert!(err.to_string().contains("takes no index"), "{err}");
    let err = check_config_key("repo300-path", None).unwrap_err();
    assert!(err.to_string().contains("1 to 256"), "{err}");
    let err = check_config_key("repo1-azure-port", None);
    assert!(err.is_ok(), "indexed azure alias is read by pgBackRest");
    let err = check_config_key("repo-azure-port", None).unwrap_err();
    assert_eq!(err.code(), "unknown_option", "{err}");

    let err = check_config_key("type", None).unwrap_err();
    assert!(err.to_string().contains("command line"), "{err}");
    assert_eq!(err.code(), "invalid_setting");

    let err = check_config_key("repo1-sftp-host", Some(&V245)).unwrap_err();
    assert!(
        matches!(&err, Error::OptionNeedsVersion { since, .. } if since == "2.46"),
        "{err}"
    );
    let v233 = Version::V2_33;
    let err = check_config_key("repo5-path", Some(&v233)).unwrap_err();
    assert!(err.to_string().contains("repo1 to repo4"), "{err}");
    assert!(check_config_key("repo5-path", Some(&V245)).is_ok());
}

#[test]
fn repo_keys_are_checked_for_type_and_version() {
    let err = check_repo_key("s3_bucket", RepoType::Posix, None).unwrap_err();
    assert!(
        matches!(&err, Error::OptionNotForRepoType { applies_to, .. } if applies_to == "s3"),
        "{err}"
    );
    let err = check_repo_key("storage_host", RepoType::Gcs, None).unwrap_err();
    assert!(err.to_string().contains("azure, s3"), "{err}");
    let err = check_repo_key("s3_buket", RepoType::S3, None).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownOption { suggestion: Some(s), .. } if s == "s3_bucket"),
        "{err}"
    );
    let err = check_repo_key("retention_ful", RepoType::Posix, None).unwrap_err();
    assert!(
        err.to_string().contains("did you mean 'retention_full'"),
        "{err}"
    );
    assert_eq!(
        check_repo_key("s3_host", RepoType::S3, None).unwrap().name,
        "repo-storage-host"
    );
    let err = check_repo_key("host", RepoType::Sftp, Some(&V245)).unwrap_err();
    assert!(err.to_string().contains("sftp"), "{err}");
    assert!(check_repo_key("sftp_host", RepoType::Sftp, Some(&V246)).is_ok());
    assert_eq!(
        check_repo_key("type", RepoType::Gcs, None).unwrap().name,
        "repo-type"
    );
}

#[test]
fn pigsty_default_repos_pass() {
    for key in ["path", "retention_full_type", "retention_full"] {
        check_repo_key(key, RepoType::Posix, Some(&V245)).unwrap();
    }
    for key in [
        "type",
        "s3_endpoint",
        "s3_region",
        "s3_bucket",
        "s3_key",
        "s3_key_secret",
        "s3_uri_style",
        "path",
        "storage_port",
        "storage_ca_file",
        "block",
        "bundle",
        "bundle_limit",
        "bundle_size",
        "cipher_type",
        "cipher_pass",
        "retention_full_type",
        "retention_full",
    ] {
        let d = check_repo_key(key, RepoType::S3, Some(&V245)).unwrap();
        assert_eq!(d.snake_name(), key);
    }
    for (key, value, want) in [
        ("path", "/pgbackrest/", "/pgbackrest"),
        ("retention_full_type", "time", "time"),
        ("retention_full", "14", "14"),
        ("s3_uri_style", "path", "path"),
        ("storage_port", "9000", "9000"),
        ("storage_ca_file", "/etc/pki/ca.crt", "/etc/pki/ca.crt"),
        ("block", "y", "y"),
        ("bundle", "true", "y"),
        ("bundle_limit", "20MiB", "20MiB"),
        ("bundle_size", "128MiB", "128MiB"),
        ("cipher_type", "aes-256-cbc", "aes-256-cbc"),
        ("cipher_pass", "pgBackRest", "pgBackRest"),
    ] {
        let d = check_repo_key(key, RepoType::S3, Some(&V245)).unwrap();
        assert_eq!(check_value(d, key, value).unwrap(), want, "{key}");
    }
}

#[test]
fn values_are_checked_and_normalised() {
    let block = def("repo-block");
    let err = check_value(def("repo-path"), "repo1-path", "a\nb").unwrap_err();
    assert_eq!(err.code(), "unsafe_value");
    assert_eq!(check_value(block, "block", "FALSE").unwrap(), "n");
    let err = check_value(block, "block", "yes").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("'block'") && msg.contains("'yes'") && msg.contains("use y or n"),
        "{msg}"
    );
    assert!(check_value(block, "block", "").is_err());
    assert!(check_value(block, "block", " y").is_err());
    assert!(check_value(def("repo-path"), "repo1-path", "relative").is_err());
    assert!(check_value(def("repo-path"), "repo1-path", "/a//b").is_err());
    assert_eq!(
        check_value(def("repo-path"), "repo1-path", "/").unwrap(),
        "/"
    );
    let retention = def("repo-retention-full");
    assert!(check_value(retention, "retention_full", "0").is_err());
    assert!(check_value(retention, "retention_full", "2x").is_err());
    assert!(check_value(retention, "retention_full", "+2").is_err());
    assert!(check_value(def("compress-level"), "compress-level", "-1").is_ok());
    let err = check_value(def("repo-cipher-type"), "cipher_type", "aes").unwrap_err();
    assert!(err.to_string().contains("none, aes-256-cbc"), "{err}");
    let size = def("repo-bundle-limit");
    for ok in ["1048576", "2MiB", "2mb", "2M", "8kib", "1b"] {
        assert!(check_value(size, "bundle_limit", ok).is_ok(), "{ok}");
    }
    for bad in ["2.5MB", "MB", "2 MB", "2XB", "-1"] {
        assert!(check_value(size, "bundle_limit", bad).is_err(), "{bad}");
    }
    let time = def("archive-timeout");
    for ok in ["60", "0.5", "1m", "500ms", "1D"] {
        assert!(check_value(time, "archive-timeout", ok).is_ok(), "{ok}");
    }
    for bad in ["1.5m", "m", "60 s", "1y", "1."] {
        assert!(check_value(time, "archive-timeout", bad).is_err(), "{bad}");
    }
    let hash = def("recovery-option");
    assert!(check_value(hash, "recovery-option", "primary_conninfo=host=x user=y").is_ok());
    assert!(check_value(hash, "recovery-option", "novalue").is_err());
    assert!(check_value(hash, "recovery-option", "=x").is_err());
}

#[test]
fn secret_values_never_appear_in_errors() {
    let pass = def("repo-cipher-pass");
    for bad in [" s3cr3t", "s3cr3t\n"] {
        let err = check_value(pass, "cipher_pass", bad).unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }
}

#[test]
fn repo_type_parses_displays_and_serializes() {
    for t in RepoType::ALL {
        assert_eq!(t.as_str().parse::<RepoType>().unwrap(), t);
        assert_eq!(t.to_string(), t.as_str());
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, format!("\"{t}\""));
        assert_eq!(serde_json::from_str::<RepoType>(&json).unwrap(), t);
    }
    let err = "minio".parse::<RepoType>().unwrap_err();
    assert!(
        err.to_string().contains("'minio'") && err.to_string().contains("posix, cifs, s3"),
        "{err}"
    );
    assert!(serde_json::from_str::<RepoType>("\"S3\"").is_err());
    assert_eq!(RepoType::Sftp.since(), V246);
    assert_eq!(RepoType::Azure.since(), Version::new(2, 28, 0));
    assert_eq!(RepoType::Gcs.since(), Version::V2_33);
}

/// What Pigsty writes for IvorySQL clusters, in the stanza section: both options are known,
/// unindexed, and `pg-version-force` is refused where pgBackRest would ignore it.
#[test]
fn ivory_options_are_known_with_their_sections() {
    let header = def("archive-header-check");
    assert_eq!(
        (header.since, header.kind, header.section, header.group),
        (Version::V2_33, OptionKind::Bool, Section::Global, None)
    );
    assert_eq!(
        check_value(header, "archive-header-check", "false").unwrap(),
        "n"
    );
    let force = def("pg-version-force");
    assert_eq!(
        (force.since, force.section, force.group),
        (V245, Section::Stanza, None)
    );
    assert!(check_config_key("pg-version-force", Some(&V245)).is_ok());
    let e = check_config_key("pg-version-force", Some(&V244)).unwrap_err();
    assert_eq!(e.code(), "option_needs_version", "{e}");
    assert!(check_config_key("pg1-version-force", None).is_err());
}

proptest! {
    #[test]
    fn checks_never_panic(key in "\\PC*", value in "\\PC*") {
        let _ = check_config_key(&key, None);
        let _ = check_config_key(&key, Some(&V245));
        let _ = split_index(&key);
        let _ = base_name(&key);
        let _ = lookup(&key);
        for t in RepoType::ALL {
            let _ = check_repo_key(&key, t, Some(&V244));
        }
        for d in all() {
            let _ = check_value(d, &key, &value);
        }
    }

    #[test]
    fn indexed_keys_round_trip(index in 1u16..=256, i in 0usize..187) {
        let d = &all()[i % all().len()];
        if d.group.is_some() && d.section != Section::CommandLine {
            let key = d.indexed_name(index);
            prop_assert_eq!(check_config_key(&key, None).unwrap(), d);
            prop_assert_eq!(base_name(&key), d.name);
        }
    }
}
