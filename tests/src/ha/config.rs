//! What a member runs with: its directories, the `archive_command` gate, its cluster spec, the
//! pgbackrest.conf and archive settings `pitr render` makes of it, and `patroni.yml`.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use pitr_core::patroni::PatroniAuth;
use pitr_core::render::patroni::{PatroniMember, PatroniTiming};
use serde_json::Value;

use super::member::{Member, path_str};
use super::{LOOP_WAIT, RETRY_TIMEOUT, TTL};
use crate::tools::{pg_bin_dir, pgbackrest_bin};
use crate::user::{DbUser, chown_to_postgres, mkdir_as_postgres};

/// Directories of a member, owned by `postgres`.
const SUBDIRS: [&str; 6] = ["sock", "log", "spool", "lock", "pgbackrest-log", "bin"];

/// What every member of a cluster shares, for writing a member's configuration.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    /// Patroni's scope and the pgBackRest stanza.
    pub(crate) scope: String,
    /// `127.0.0.1:<port>` of etcd.
    pub(crate) etcd_endpoint: String,
    /// `pgbackrest_method` (YAML).
    pub(crate) method: String,
    /// `pgbackrest_repo` entries (YAML, indented under the key).
    pub(crate) repos_yaml: String,
    /// `archive_mode` of every member (`on` or `always`).
    pub(crate) archive_mode: String,
    /// Patroni's `failsafe_mode`.
    pub(crate) failsafe_mode: bool,
    /// Whether `postgresql.callbacks.on_role_change` runs `pitr patroni-callback`.
    pub(crate) role_change_callback: bool,
    /// Patroni's `restapi.authentication`, and the spec's `patroni_username`/`patroni_password`.
    pub(crate) rest_auth: Option<PatroniAuth>,
}

impl Member {
    /// Writes the member's directories, `archive_command` gate, cluster spec, pgbackrest.conf
    /// (`pitr render`) and `patroni.yml`.
    pub(crate) fn configure(&self, shared: &Shared) {
        mkdir_as_postgres(self.root(), 0o700);
        for sub in SUBDIRS {
            mkdir_as_postgres(&self.root().join(sub), 0o700);
        }
        self.write_gate();
        let spec = self.spec_path();
        write_text(&spec, &self.spec_text(shared), 0o600);
        let spec_arg = path_str(&spec);
        let conf = self.pgbackrest_conf();
        let conf_arg = path_str(&conf);
        crate::pitr::pitr_ok(&["render", "--spec", spec_arg, "--output", conf_arg]);
        chown_to_postgres(&self.pgbackrest_conf());
        self.write_patroni_yml(shared);
    }

    /// Writes `patroni.yml` from the member's spec: the archive settings (`pitr render --what
    /// archive`) and, when the cluster has it, the `on_role_change` callback (`pitr render
    /// --what patroni-callback`).
    pub(crate) fn write_patroni_yml(&self, shared: &Shared) {
        let spec = self.spec_path();
        let spec_arg = path_str(&spec);
        let archive = crate::pitr::pitr_ok(&["render", "--spec", spec_arg, "--what", "archive"]);
        let archive_command = archive_command_of(&archive).unwrap_or_else(|| {
            panic!("`pitr render --what archive` printed no archive_command:\n{archive}")
        });
        let callback = shared.role_change_callback.then(|| {
            let snippet =
                crate::pitr::pitr_ok(&["render", "--spec", spec_arg, "--what", "patroni-callback"]);
            yaml_value_of(&snippet, "on_role_change").unwrap_or_else(|| {
                panic!(
                    "`pitr render --what patroni-callback` printed no on_role_change:\n{snippet}"
                )
            })
        });
        let config = self.patroni_config(shared, &archive_command, callback.as_deref());
        let text = serde_json::to_string_pretty(&config).expect("JSON serializes");
        write_text(&self.patroni_yml(), &text, 0o600);
    }

    fn spec_text(&self, shared: &Shared) -> String {
        // A spec's paths have no `..` (the target directory is found through one).
        let pitr_bin = crate::pitr::pitr_bin();
        let pitr_bin = fs::canonicalize(&pitr_bin)
            .unwrap_or_else(|e| panic!("cannot resolve {}: {e}", pitr_bin.display()));
        let mut spec = String::new();
        for (key, value) in [
            ("pg_cluster", shared.scope.clone()),
            ("pg_data", path_str(&self.data_dir()).to_owned()),
            ("pg_port", self.pg_port().to_string()),
            ("pg_socket_dir", path_str(&self.socket_dir()).to_owned()),
            ("pg_bin_dir", path_str(&pg_bin_dir()).to_owned()),
            ("pg_dbsu", DbUser::postgres().name.clone()),
            ("node_cpu", "2".to_owned()),
            (
                "pgbackrest_config",
                path_str(&self.pgbackrest_conf()).to_owned(),
            ),
            ("pgbackrest_log_dir", self.path_text("pgbackrest-log")),
            ("pgbackrest_spool_dir", self.path_text("spool")),
            ("pgbackrest_lock_dir", self.path_text("lock")),
            ("pgbackrest_bin", path_str(&self.gate_path()).to_owned()),
            ("pitr_bin", path_str(&pitr_bin).to_owned()),
            ("pgbackrest_method", shared.method.clone()),
            ("patroni_port", self.rest_port().to_string()),
        ] {
            writeln!(spec, "{key}: {value}").expect("write to String");
        }
        if let Some(auth) = &shared.rest_auth {
            writeln!(spec, "patroni_username: {}", auth.username).expect("write to String");
            writeln!(spec, "patroni_password: {}", auth.password.expose())
                .expect("write to String");
        }
        spec.push_str("pgbackrest_repo:\n");
        spec.push_str(shared.repos_yaml.trim_end());
        spec.push('\n');
        spec
    }

    /// Patroni's configuration (`pitr_core::render::patroni`): the shared part under
    /// `bootstrap.dcs`, the member's own addresses, paths and archive settings under `restapi`
    /// and `postgresql`.
    fn patroni_config(
        &self,
        shared: &Shared,
        archive_command: &str,
        on_role_change: Option<&str>,
    ) -> Value {
        let (data, bin, pgpass, sock, logs) = (
            self.data_dir(),
            pg_bin_dir(),
            self.root().join("pgpass"),
            self.socket_dir(),
            self.log_dir(),
        );
        let mut config = PatroniMember {
            scope: &shared.scope,
            name: self.name(),
            rest_port: self.rest_port(),
            pg_port: self.pg_port(),
            etcd_endpoint: &shared.etcd_endpoint,
            data_dir: &data,
            bin_dir: &bin,
            pgpass: &pgpass,
            socket_dir: &sock,
            log_dir: &logs,
            password: "pitr-tests",
            archive_mode: &shared.archive_mode,
            archive_command,
            on_role_change,
            failsafe_mode: shared.failsafe_mode,
            timing: PatroniTiming {
                ttl: TTL,
                loop_wait: LOOP_WAIT,
                retry_timeout: RETRY_TIMEOUT,
            },
        }
        .config();
        if let Some(auth) = &shared.rest_auth {
            config["restapi"]["authentication"] = serde_json::json!({
                "username": auth.username,
                "password": auth.password.expose(),
            });
        }
        config
    }

    /// Writes `bin/pgbackrest-gate`, owned by the test's user (root: `postgres` can run it but not
    /// change it), mode 0755: a
    /// script that fails while `archive-blocked` exists and otherwise `exec`s pgBackRest with
    /// its arguments unchanged. Its name holds `pgbackrest`, which pgBackRest requires of an
    /// `archive_command`.
    fn write_gate(&self) {
        let flag = path_str(&self.block_flag()).to_owned();
        let pgbackrest = pgbackrest_bin();
        let pgbackrest = path_str(&pgbackrest);
        for value in [flag.as_str(), pgbackrest, self.name()] {
            assert!(
                !value.contains(['\'', '\n', '\r', '\0']),
                "{value:?} cannot be quoted in a shell script"
            );
        }
        let script = format!(
            "#!/bin/sh\n\
             # Written by pitr-tests for Patroni member {name}: archive_command runs this.\n\
             # While the flag file exists it fails like an unreachable repo; otherwise it is\n\
             # pgBackRest itself, with the same arguments.\n\
             if [ -e '{flag}' ]; then\n\
             \x20   echo 'pitr-tests: WAL archiving of member {name} is blocked ({flag} exists)' >&2\n\
             \x20   exit 1\n\
             fi\n\
             exec '{pgbackrest}' \"$@\"\n",
            name = self.name(),
        );
        let path = self.gate_path();
        fs::write(&path, script).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
    }
}

fn write_text(path: &Path, text: &str, mode: u32) {
    crate::user::write_file_as_postgres(path, text, mode);
}

/// The value of `archive_command = '...'` in `pitr render --what archive` output.
fn archive_command_of(rendered: &str) -> Option<String> {
    rendered.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        if key.trim() != "archive_command" {
            return None;
        }
        let value = value.trim().strip_prefix('\'')?.strip_suffix('\'')?;
        Some(value.replace("''", "'"))
    })
}

/// The value of `key: '...'` (a single-quoted YAML scalar) in rendered YAML.
fn yaml_value_of(rendered: &str, key: &str) -> Option<String> {
    rendered.lines().find_map(|line| {
        let value = line.trim().strip_prefix(key)?.strip_prefix(':')?.trim();
        let value = value.strip_prefix('\'')?.strip_suffix('\'')?;
        Some(value.replace("''", "'"))
    })
}

#[cfg(test)]
mod tests {
    use super::{archive_command_of, yaml_value_of};

    #[test]
    fn callback_is_read_from_the_rendered_snippet() {
        let rendered = "# comment\npostgresql:\n  callbacks:\n    on_role_change: '/x/pitr --config /x/p.conf patroni-callback'\n";
        assert_eq!(
            yaml_value_of(rendered, "on_role_change").as_deref(),
            Some("/x/pitr --config /x/p.conf patroni-callback")
        );
        assert_eq!(
            yaml_value_of("on_role_change: bare", "on_role_change"),
            None
        );
    }

    #[test]
    fn archive_command_is_read_from_rendered_settings() {
        let rendered = "# comment\narchive_mode = on\n\
                        archive_command = '/x/pgbackrest-gate --config=/x/p.conf --stanza=s archive-push %p'\n";
        assert_eq!(
            archive_command_of(rendered).as_deref(),
            Some("/x/pgbackrest-gate --config=/x/p.conf --stanza=s archive-push %p")
        );
        assert_eq!(
            archive_command_of("archive_command = 'it''s'").as_deref(),
            Some("it's")
        );
        assert_eq!(archive_command_of("archive_mode = on"), None);
    }
}
