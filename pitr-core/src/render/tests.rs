//! Snapshot tests of every rendered file, and render → read round trips.

use super::*;
use crate::conf::{NodeView, RepoView, StanzaView};
use crate::spec::{ClusterSpec, OptionValue};
use crate::target::{ArchiveMode, LinkMap};

const PIGSTY_REPOS: &str = r"
pgbackrest_repo:
  local:
    path: /pg/backup
    retention_full_type: count
    retention_full: 2
  minio:
    type: s3
    s3_endpoint: sss.pigsty
    s3_region: us-east-1
    s3_bucket: pgsql
    s3_key: pgbackrest
    s3_key_secret: S3User.Backup
    s3_uri_style: path
    path: /pgbackrest
    storage_port: 9000
    storage_ca_file: /etc/pki/ca.crt
    block: y
    bundle: y
    bundle_limit: 20MiB
    bundle_size: 128MiB
    cipher_type: aes-256-cbc
    cipher_pass: pgBackRest
    retention_full_type: time
    retention_full: 14
";

fn spec(extra: &str) -> ClusterSpec {
    ClusterSpec::from_yaml_str(&format!(
        "pg_cluster: pg-meta\nnode_cpu: 4\n{extra}\n{PIGSTY_REPOS}"
    ))
    .unwrap()
}

fn secrets_of(spec: &ClusterSpec) -> Vec<String> {
    spec.repos
        .iter()
        .flat_map(|r| r.options.iter())
        .filter(|o| o.value.is_secret())
        .map(|o| o.value.expose().to_owned())
        .collect()
}

#[test]
fn pgbackrest_conf_local() {
    let spec = spec("");
    let file = Renderer::new().pgbackrest_conf(&spec).unwrap();
    assert!(!file.has_secrets());
    insta::assert_snapshot!(file.contents());
}

#[test]
fn pgbackrest_conf_minio_on_245_turns_beta_on() {
    let spec = spec(
        "pgbackrest_method: minio\npgbackrest_version: '2.45'\npitr_allow_weak_cipher_pass: true\npg_socket_dir: /var/run/postgresql",
    );
    let file = Renderer::new().pgbackrest_conf(&spec).unwrap();
    assert!(file.contents().contains("\nbeta=y\n"));
    assert!(file.has_secrets());
    for secret in secrets_of(&spec) {
        let line_end = format!("={secret}\n");
        assert!(file.contents().contains(&line_end));
        assert!(!file.redacted().contains(&line_end), "{secret} leaked");
        assert!(!format!("{file:?}").contains(&line_end));
    }
    insta::assert_snapshot!(file.redacted());
}

#[test]
fn block_on_246_needs_no_beta_and_unknown_version_is_an_error() {
    let spec_246 = spec(
        "pgbackrest_method: minio\npgbackrest_version: '2.46'\npitr_allow_weak_cipher_pass: true",
    );
    let file = Renderer::new().pgbackrest_conf(&spec_246).unwrap();
    assert!(!file.contents().contains("beta=y"));

    let unknown = spec("pgbackrest_method: minio\npitr_allow_weak_cipher_pass: true");
    let e = Renderer::new().pgbackrest_conf(&unknown).unwrap_err();
    assert_eq!(e.code(), "version_required");
    assert!(e.to_string().contains("repo1-block"), "{e}");

    let e = ClusterSpec::from_yaml_str(&format!(
        "pg_cluster: x\npgbackrest_version: '2.44'\npgbackrest_method: minio\npitr_allow_weak_cipher_pass: true\n{PIGSTY_REPOS}"
    ))
    .unwrap_err();
    assert_eq!(e.code(), "option_needs_version", "{e}");
}

#[test]
fn pgbackrest_conf_multi_repo_with_cluster_substitution() {
    let spec = ClusterSpec::from_yaml_str(
        r"
pg_cluster: pg-test
node_cpu: 16
pgbackrest_method: [local, s3]
pgbackrest_lock_dir: /tmp/pgbackrest-lock
pgbackrest_repo:
  local: { path: '/pg/backup/${pg_cluster}', retention_full: 2 }
  s3:
    type: s3
    s3_endpoint: s3.amazonaws.com
    s3_region: eu-west-1
    s3_bucket: backups
    s3_key: AKIAEXAMPLE
    s3_key_secret: wJalrXUtnFEMI/K7MDENG
    path: '/pgbackrest/${pg_cluster}'
    cipher_type: aes-256-cbc
    cipher_pass: 'correct horse battery staple'
",
    )
    .unwrap();
    let file = Renderer::new().pgbackrest_conf(&spec).unwrap();
    assert!(file.contents().contains("repo1-path=/pg/backup/pg-test\n"));
    assert!(file.contents().contains("repo2-path=/pgbackrest/pg-test\n"));
    insta::assert_snapshot!(file.redacted());
}

#[test]
fn pgbackrest_conf_ivory() {
    let file = Renderer::new()
        .pgbackrest_conf(&spec("pg_mode: ivory"))
        .unwrap();
    insta::assert_snapshot!(file.contents());
}

/// Pigsty's template: IvorySQL turns the WAL header check off and forces `pg_version` (18 when
/// absent) in the stanza section; every other `pg_mode` renders as `pgsql`.
#[test]
fn only_ivory_forces_the_pg_version() {
    let r = Renderer::new();
    let ivory = r
        .pgbackrest_conf(&spec("pg_mode: ivory\npg_version: 17\npg_socket_dir: /tmp"))
        .unwrap();
    assert!(
        ivory.contents().contains(
            "[pg-meta]\npg1-path=/pg/data\npg1-port=5432\npg1-socket-path=/tmp\n\
             # pg_mode ivory: pgBackRest does not recognise its WAL headers and pg_control\n\
             archive-header-check=n\npg-version-force=17\n\n"
        ),
        "{}",
        ivory.contents()
    );
    let default_version = r.pgbackrest_conf(&spec("pg_mode: ivory")).unwrap();
    assert!(
        default_version
            .contents()
            .contains("\npg-version-force=18\n")
    );

    let pgsql = r.pgbackrest_conf(&spec("")).unwrap();
    for mode in crate::names::PgMode::ALL {
        let file = r
            .pgbackrest_conf(&spec(&format!("pg_mode: {mode}\npg_version: 16")))
            .unwrap();
        assert_eq!(
            file.contents() == pgsql.contents(),
            !mode.forces_pg_version(),
            "{mode}"
        );
    }

    let on_244 =
        ClusterSpec::from_yaml_str("pg_cluster: x\npg_mode: ivory\npgbackrest_version: '2.44'")
            .unwrap();
    let e = r.pgbackrest_conf(&on_244).unwrap_err();
    assert_eq!(e.code(), "option_needs_version", "{e}");
    assert!(e.to_string().contains("pg-version-force"), "{e}");
}

#[test]
fn restore_conf_with_pigsty_pitr_options() {
    let spec = spec("pgbackrest_version: '2.45'");
    let mut config = RestoreConfig::from_spec(&spec);
    config.archive_mode = ArchiveMode::Off;
    config.db_include = vec!["app".into(), "meta".into()];
    config.link_map = vec![LinkMap {
        link: "pg_wal".into(),
        destination: "/pg/wal".into(),
    }];
    config.process_max = 2;
    let file = Renderer::new().restore_conf(&config).unwrap();
    insta::assert_snapshot!(file.contents());
}

#[test]
fn restore_conf_default() {
    let spec = spec("");
    let file = Renderer::new()
        .restore_conf(&RestoreConfig::from_spec(&spec))
        .unwrap();
    assert!(file.contents().contains("archive-mode=preserve\n"));
    assert!(!file.contents().contains("db-include"));
    insta::assert_snapshot!(file.contents());
}

#[test]
fn recovery_fetches_wal_ahead_only_where_pgbackrest_does_it_safely() {
    let conf = |extra: &str| {
        Renderer::new()
            .restore_conf(&RestoreConfig::from_spec(&spec(extra)))
            .unwrap()
            .contents()
            .to_owned()
    };
    // pgBackRest 2.59 no longer starts two async archive-get processes at once.
    assert!(conf("pgbackrest_version: '2.59'").contains("\narchive-async=y\n"));
    for older in [
        "pgbackrest_version: '2.45'",
        "pgbackrest_version: '2.58'",
        "",
    ] {
        assert!(conf(older).contains("\narchive-async=n\n"), "{older}");
    }
}

#[test]
fn restore_conf_refuses_values_that_would_add_lines() {
    let spec = spec("");
    let mut config = RestoreConfig::from_spec(&spec);
    config.db_include = vec!["app\nrepo1-path=/evil".into()];
    let e = Renderer::new().restore_conf(&config).unwrap_err();
    assert_eq!(e.code(), "unsafe_value", "{e}");
}

#[test]
fn archive_settings_and_crontab() {
    let spec = spec(
        "pgbackrest_method: [local, minio]\npitr_allow_weak_cipher_pass: true\npgbackrest_version: '2.46'\n\
         pitr_backup_schedule: [{cron: '00 01 * * *', type: full}, {cron: '00 */4 * * *', type: incr}, {cron: '30 02 * * 0', type: full, repo: 2}]",
    );
    let r = Renderer::new();
    insta::assert_snapshot!("archive", r.archive_settings(&spec).unwrap().contents());
    insta::assert_snapshot!("crontab", r.crontab(&spec).unwrap().contents());
}

#[test]
fn crontab_runs_the_drill_the_spec_schedules() {
    let r = Renderer::new();
    let spec = spec(
        "patroni_port: 8008\npitr_backup_schedule: [{cron: '@daily', type: full}]\n\
         pitr_drill_schedule: '30 03 * * *'",
    );
    insta::assert_snapshot!("crontab_drill", r.crontab(&spec).unwrap().contents());
    let e =
        ClusterSpec::from_yaml_str("pg_cluster: x\npitr_drill_schedule: 'every day'").unwrap_err();
    assert_eq!(e.code(), "invalid_value", "{e}");
}

/// A drill from cron asks the spec's assertions: its line names the spec's file on the node,
/// and a spec with assertions but no known file is refused rather than rendered into a line
/// that would skip them.
#[test]
fn the_drill_line_reads_the_assertions_from_the_spec_file() {
    let r = Renderer::new();
    let with = "pitr_drill_schedule: '30 03 * * *'\n\
                pitr_drill_assertions: [{name: rows, sql: 'SELECT true'}]";
    let spec_file = spec(&format!("{with}\npitr_spec_file: /etc/pitr/pg-meta.yml"));
    insta::assert_snapshot!(
        "crontab_drill_spec",
        r.crontab(&spec_file).unwrap().contents()
    );
    let e = r.crontab(&spec(with)).unwrap_err();
    assert_eq!(e.code(), "invalid_setting", "{e}");
    assert!(e.to_string().contains("pitr_spec_file"), "{e}");
    // Read from a file, the spec lies there; `pitr_spec_file` says otherwise.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spec.yml");
    std::fs::write(&file, format!("pg_cluster: pg-meta\n{with}\n")).unwrap();
    let line = r
        .crontab(&ClusterSpec::from_file(&file).unwrap())
        .unwrap()
        .contents()
        .to_owned();
    assert!(
        line.contains(&format!(" drill --random --spec={}\n", file.display())),
        "{line}"
    );
    std::fs::write(
        &file,
        format!("pg_cluster: pg-meta\n{with}\npitr_spec_file: /etc/pitr/x.yml\n"),
    )
    .unwrap();
    let given = ClusterSpec::from_file(&file).unwrap();
    assert_eq!(given.spec_file.unwrap().as_str(), "/etc/pitr/x.yml");
    // Without assertions, the line needs no spec.
    let without = spec("pitr_drill_schedule: '@daily'\npitr_spec_file: /etc/pitr/pg-meta.yml");
    let line = r.crontab(&without).unwrap().contents().to_owned();
    assert!(line.contains(" drill --random\n"), "{line}");
}

#[test]
fn crontab_asks_patroni_when_the_spec_configures_it() {
    let r = Renderer::new();
    let spec = spec("patroni_port: 8008\npitr_backup_schedule: [{cron: '@daily', type: full}]");
    insta::assert_snapshot!("crontab_patroni", r.crontab(&spec).unwrap().contents());
    let spec = self::spec(
        "patroni_enabled: true\npatroni_ssl_enabled: true\npatroni_host: '::1'\n\
         pitr_backup_schedule: [{cron: '@daily', type: full}]",
    );
    let text = r.crontab(&spec).unwrap();
    let job = text.contents().lines().last().unwrap();
    assert!(
        job.ends_with(
            " --stanza=pg-meta '--patroni=https://[::1]:8008' \
             --patroni-ca-file=/etc/pki/ca.crt backup full"
        ),
        "{job}"
    );
    let words = shlex::split(job).unwrap();
    assert!(
        words.contains(&"--patroni=https://[::1]:8008".to_owned()),
        "{words:?}"
    );
}

#[test]
fn patroni_callback_snippet() {
    let r = Renderer::new();
    let file = r
        .patroni_callback(&spec(
            "pitr_bin: /opt/pitr/bin/pitr\npgbackrest_config: /pg/conf/pgbackrest.conf",
        ))
        .unwrap();
    insta::assert_snapshot!("patroni_callback", file.contents());
    assert!(!file.has_secrets());
    let other = r.patroni_callback(&spec("pg_dbsu: dba")).unwrap();
    assert!(
        other.contents().contains(
            "    on_role_change: '/usr/local/bin/pitr --config /etc/pgbackrest/pgbackrest.conf \
             patroni-callback --dbsu dba'\n"
        ),
        "{}",
        other.contents()
    );
}

#[test]
fn process_max_follows_pigsty_formulas() {
    for (cpus, backup, restore) in [(1, 2, 1), (4, 2, 4), (12, 3, 8), (64, 4, 8)] {
        let spec = ClusterSpec {
            node_cpu: cpus,
            ..spec("")
        };
        let text = Renderer::new().pgbackrest_conf(&spec).unwrap();
        let conf = ConfFile::parse(text.contents()).unwrap();
        assert_eq!(
            conf.resolve(None, Some("backup"), "process-max"),
            vec![backup.to_string()]
        );
        assert_eq!(
            conf.resolve(None, Some("restore"), "process-max"),
            vec![restore.to_string()]
        );
    }
}

/// The node view a spec should produce once rendered and read back.
fn expected_view(spec: &ClusterSpec) -> NodeView {
    NodeView {
        stanzas: vec![StanzaView {
            name: spec.cluster.clone(),
            pg_path: Some(spec.data.to_path_buf()),
            pg_port: spec.port,
            pg_socket_path: spec.socket_dir.clone().map(Into::into),
        }],
        repos: spec
            .repos
            .iter()
            .map(|r| RepoView {
                index: r.index,
                repo_type: r.repo_type,
                options: r
                    .options
                    .iter()
                    .map(|o| {
                        let v = o
                            .value
                            .expose()
                            .replace("${pg_cluster}", spec.cluster.as_str());
                        let v = if o.value.is_secret() {
                            OptionValue::Secret(crate::names::Secret::new(v))
                        } else {
                            OptionValue::Plain(v)
                        };
                        (o.key.clone(), v)
                    })
                    .collect(),
            })
            .collect(),
        log_path: Some(spec.log_dir.to_path_buf()),
        lock_path: spec.lock_dir.clone().map(Into::into),
        spool_path: Some(spec.spool_dir.to_path_buf()),
    }
}

#[test]
fn render_then_read_round_trips() {
    for extra in [
        "",
        "pg_socket_dir: /tmp\npg_port: 6000\npgbackrest_lock_dir: /tmp/lock",
        "pgbackrest_method: [minio, local]\npgbackrest_version: '2.47'\npitr_allow_weak_cipher_pass: true",
        "pg_mode: ivory\npg_version: 17",
    ] {
        let spec = spec(extra);
        let file = Renderer::new().pgbackrest_conf(&spec).unwrap();
        let view = ConfFile::parse(file.contents())
            .unwrap()
            .node_view()
            .unwrap();
        assert_eq!(view, expected_view(&spec), "{extra}");
    }
}

#[test]
fn user_templates_override_and_are_checked() {
    let dir = std::env::temp_dir().join(format!("pitr-tpl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("crontab.hbs"),
        "{{#each jobs}}{{cron}} {{command}}\n{{/each}}",
    )
    .unwrap();
    let r = Renderer::with_overrides(&dir).unwrap();
    let text = r.crontab(&spec("")).unwrap();
    assert!(
        text.contents()
            .starts_with("00 01 * * * /usr/local/bin/pitr"),
        "{}",
        text.contents()
    );

    std::fs::write(
        dir.join("pgbackrest.conf.hbs"),
        "[{{stanza}}]\npg1-pat={{pg_path}}\n",
    )
    .unwrap();
    let r = Renderer::with_overrides(&dir).unwrap();
    let e = r.pgbackrest_conf(&spec("")).unwrap_err();
    assert_eq!(e.code(), "unknown_option");
    assert!(e.to_string().contains("pg1-path"), "{e}");

    std::fs::write(
        dir.join("pgbackrest.conf.hbs"),
        "[global]\nrepo1-path={{nosuch}}\n",
    )
    .unwrap();
    let e = Renderer::with_overrides(&dir)
        .unwrap()
        .pgbackrest_conf(&spec(""))
        .unwrap_err();
    assert_eq!(e.code(), "template_error");

    std::fs::write(dir.join("pgbackrest.hbs"), "").unwrap();
    let e = Renderer::with_overrides(&dir).unwrap_err();
    assert!(e.to_string().contains("pgbackrest.conf.hbs"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn embedded_templates_are_compiled_once_and_overrides_stay_private() {
    let (a, b) = (Renderer::new(), Renderer::default());
    for r in [&a, &b] {
        assert!(std::ptr::eq(&raw const *r.hb, &raw const *EMBEDDED));
    }
    for id in TemplateId::ALL {
        assert!(a.hb.has_template(id.as_str()), "{id}");
    }

    let dir = std::env::temp_dir().join(format!("pitr-tpl-private-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("crontab.hbs"), "# mine\n").unwrap();
    let mine = Renderer::with_overrides(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!std::ptr::eq(&raw const *mine.hb, &raw const *EMBEDDED));
    assert_eq!(mine.crontab(&spec("")).unwrap().contents(), "# mine\n");
    let shared = Renderer::new().crontab(&spec("")).unwrap();
    assert!(
        shared
            .contents()
            .starts_with("# Scheduled pgBackRest backups")
    );
}

#[test]
fn an_ivorysql_restore_config_forces_the_version_like_pigstys_pitr_conf() {
    let spec = ClusterSpec::from_yaml_str(
        "pg_cluster: pg-ivory\npg_mode: ivory\npg_version: 17\npgbackrest_version: '2.45'",
    )
    .unwrap();
    let text = Renderer::new()
        .restore_conf(&RestoreConfig::from_spec(&spec))
        .unwrap();
    assert!(
        text.contents()
            .contains("archive-header-check=n\npg-version-force=17\n"),
        "{}",
        text.contents()
    );
    let node = crate::node::Node::from_spec(&spec);
    assert_eq!(
        node.pg_version_force.map(crate::names::PgMajor::get),
        Some(17)
    );
}

#[test]
fn secrets_are_filled_in_after_one_render() {
    let mut held = views::Placeholders::default();
    let text = format!("a={}\nb=\u{1}x\u{1}\nc=\u{1}9\u{1}\n", "\u{1}0\u{1}");
    assert_eq!(
        held.fill(&text),
        (text.clone(), text.clone()),
        "nothing held, nothing replaced"
    );
    let placeholder = held.hold_for_test("s3cr3t".into());
    let (full, shown) = held.fill(&format!("key={placeholder}\nodd=\u{1}9\u{1}\n"));
    assert_eq!(full, "key=s3cr3t\nodd=\u{1}9\u{1}\n");
    assert_eq!(shown, "key=<redacted>\nodd=\u{1}9\u{1}\n");
}
