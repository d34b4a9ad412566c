//! A restore into a new Patroni cluster beside the running one ([`prepare_new_cluster`]; run
//! with [`super::run_cluster_restore`]): the plan of [`crate::plan::cluster::plan_new_cluster`]
//! after a pre-flight that checks, before anything is touched, that nothing of the new cluster
//! collides with the running one: its scope and stanza, its data directory, its ports, the
//! `archive_command` of its Patroni configuration. Before that pre-flight, an interrupted run
//! of the same restore is looked for ([`super::new_resume`]): the re-run undoes it first.

use std::path::Path;

use super::{
    ClusterOptions, PreparedClusterRestore, Redo, cluster_request, invalid, member_api,
    named_specs, new_resume, not_ready,
};
use crate::error::{Error, Result};
use crate::info::StatusCode;
use crate::node::Node;
use crate::ops::restore::{PreparedRestore, RestoreOptions, prepare_restore};
use crate::plan::cluster::{MemberSite, MemberSummary, NewClusterInput, plan_new_cluster};
use crate::run::files;
use crate::run::patroni;
use crate::run::pgbackrest::PgBackRest;
use crate::run::tools::Tools;
use crate::run::user::OsUser;
use crate::spec::ClusterSpec;
use crate::target::RestoreRequest;

fn collides(what: &str, message: &str) -> Error {
    invalid(what, format!("{message}; nothing was changed"))
}

/// Whether one of two paths is the other or inside it.
fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// The `archive_command`s of a Patroni configuration (the member's and `bootstrap.dcs`'s).
fn archive_commands(config: &serde_json::Value) -> Vec<String> {
    [
        &config["postgresql"]["parameters"]["archive_command"],
        &config["bootstrap"]["dcs"]["postgresql"]["parameters"]["archive_command"],
    ]
    .into_iter()
    .filter_map(|v| v.as_str().map(str::to_owned))
    .collect()
}

/// Checks the new member's Patroni configuration (in a directory `owner` may control: read
/// without following a link): its scope is the new cluster's, and no `archive_command` in it
/// archives into the source's stanza.
fn check_patroni_config(
    path: &Path,
    owner: Option<&OsUser>,
    scope: &str,
    source: &str,
) -> Result<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut files::open_read(path, owner)?, &mut text)
        .map_err(|e| Error::io("cannot read", path, e))?;
    // The parser's message may quote the file: only where it stopped is said.
    let config: serde_json::Value = serde_yaml_ng::from_str(&text).map_err(|e| Error::Parse {
        what: format!("Patroni's configuration {}", path.display()),
        message: e.location().map_or_else(
            || "not YAML".to_owned(),
            |l| format!("not YAML (line {}, column {})", l.line(), l.column()),
        ),
    })?;
    let key = "patroni_config";
    match config["scope"].as_str() {
        Some(s) if s == scope => {}
        other => {
            return Err(collides(
                key,
                &format!(
                    "{} has scope {other:?}: the new cluster's Patroni must run under its own \
                     scope '{scope}' (pg_cluster of the new spec)",
                    path.display()
                ),
            ));
        }
    }
    let commands = archive_commands(&config);
    if let Some(c) = commands.iter().find(|c| {
        c.contains(&format!("--stanza={source} ")) || c.ends_with(&format!("--stanza={source}"))
    }) {
        return Err(collides(
            key,
            &format!(
                "{} archives into the running cluster's stanza ({c}): the new cluster must \
                 archive into its own stanza '{scope}'",
                path.display()
            ),
        ));
    }
    Ok(format!(
        "Patroni configuration {} runs scope {scope}{}",
        path.display(),
        if commands.is_empty() {
            String::new()
        } else {
            format!(", archive_command: {}", commands.join(" / "))
        }
    ))
}

/// Whether nothing listens on (or holds) `port` on the loopback address.
fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Pre-flight and plan of a restore of the running Patroni cluster of `specs` (the members on
/// this host; one is enough) into a new cluster, whose only member's spec is `new_spec`: its
/// `pg_cluster` is the new scope and stanza, `pg_data` and `pg_port` where the restored data
/// runs, `patroni_port`, `patroni_config` (a Patroni configuration of the new scope, given) and
/// the commands that start and stop its Patroni. Nothing is stopped or changed.
pub fn prepare_new_cluster(
    specs: &[ClusterSpec],
    new_spec: &ClusterSpec,
    request: &RestoreRequest,
    options: &ClusterOptions,
) -> Result<PreparedClusterRestore> {
    let named = named_specs(specs)?;
    let source = named[0].1.cluster.clone();
    let scope = new_spec.cluster.clone();
    let Some(api) = new_spec.patroni.clone() else {
        return Err(invalid(
            "patroni_enabled",
            format!(
                "the spec of the new cluster {scope} does not configure Patroni (patroni_port)"
            ),
        ));
    };
    let Some(seq) = new_spec.seq else {
        return Err(invalid(
            "pg_seq",
            format!(
                "missing in the spec of the new cluster {scope}: its member is <pg_cluster>-<pg_seq>"
            ),
        ));
    };
    if scope == source {
        return Err(collides(
            "pg_cluster",
            &format!(
                "the new cluster's scope and stanza '{scope}' is the running cluster's: give the \
                 new cluster a name of its own"
            ),
        ));
    }
    let asked = request;
    let mut request = cluster_request(request)?;
    let new_node = Node::from_spec(new_spec);
    let identity = new_resume::identity(&request, source.as_str(), new_spec, &new_node);
    let redo = Redo {
        specs: specs.to_vec(),
        new_spec: new_spec.clone(),
        request: asked.clone(),
        options: options.clone(),
    };
    if let Some(rerun) = new_resume::prepare_rerun(
        &new_node,
        new_spec,
        Some(&identity),
        source.as_str(),
        Some(redo),
    )? {
        return Ok(rerun);
    }
    request.data = Some(new_node.data.clone());
    request.port = Some(new_node.port);
    request.safety_copy = false;

    let first_api = named[0]
        .1
        .patroni
        .clone()
        .unwrap_or_else(super::unreachable_api);
    let view = patroni::ask_cluster(&first_api).map_err(|e| {
        not_ready(
            format!(
                "Patroni at {} does not answer GET /cluster: {e}",
                first_api.url
            ),
            "the running cluster's Patroni must answer: its members and ports are checked \
             against the new cluster's",
        )
    })?;
    let leader = view.leader().cloned().ok_or_else(|| {
        not_ready(
            format!("no member of {source} holds the leader key"),
            "let Patroni elect a leader first",
        )
    })?;
    let mut preflight = vec![format!(
        "Patroni at {} lists {} member(s) of {source}; leader {}; none is paused, stopped or \
         changed",
        first_api.url,
        view.members.len(),
        leader.name
    )];

    // The data directory: new, empty, and no member's.
    let data = new_node.data.to_path_buf();
    for (name, spec) in &named {
        if overlaps(&data, &spec.data) {
            return Err(collides(
                "pg_data",
                &format!(
                    "the new cluster's data directory {} overlaps {}'s {}",
                    data.display(),
                    name,
                    spec.data
                ),
            ));
        }
    }
    if std::fs::read_dir(&data).is_ok_and(|mut d| d.next().is_some()) {
        return Err(collides(
            "pg_data",
            &format!(
                "the new cluster's data directory {} exists and is not empty",
                data.display()
            ),
        ));
    }
    // The ports: none of a member of the running cluster, none in use.
    let mut taken = Vec::new();
    for m in &view.members {
        taken.push((m.port, format!("PostgreSQL of {}", m.name)));
        if let Ok(a) = member_api(m, &first_api) {
            taken.push((a.url.port(), format!("the REST API of {}", m.name)));
        }
    }
    for (port, what, key) in [
        (new_node.port, "PostgreSQL", "pg_port"),
        (api.url.port(), "Patroni's REST API", "patroni_port"),
    ] {
        if let Some((_, whose)) = taken.iter().find(|(p, _)| *p == port) {
            return Err(collides(
                key,
                &format!("port {port} of the new cluster's {what} is {whose}'s"),
            ));
        }
        if !port_free(port) {
            return Err(collides(
                key,
                &format!("port {port} of the new cluster's {what} is in use on this host"),
            ));
        }
    }
    preflight.push(format!(
        "the new member's data directory {} is empty and ports {} and {} are free and no \
         member's",
        data.display(),
        new_node.port,
        api.url.port()
    ));
    preflight.push(check_patroni_config(
        new_spec.patroni_control.config.as_path(),
        OsUser::lookup(&new_node.dbsu).ok().as_ref(),
        scope.as_str(),
        source.as_str(),
    )?);

    // The source member the clone is restored from: the leader's spec when given.
    let source_spec = named
        .iter()
        .find(|(n, _)| *n == leader.name)
        .unwrap_or(&named[0])
        .1;
    let source_node = Node::from_spec(source_spec);
    let tools = Tools::locate(source_node.pg_bin_dir.as_deref(), Some(&source_node.data))?;
    // The new stanza: none of that name in the repo yet.
    match PgBackRest::of(&new_node, &tools.pgbackrest)?
        .info()?
        .stanza(scope.as_str())
    {
        Err(Error::StanzaNotFound { .. }) => {}
        Ok(s)
            if matches!(
                s.status.code,
                StatusCode::MissingStanzaPath | StatusCode::MissingStanzaData
            ) => {}
        Ok(s) => {
            return Err(collides(
                "pg_cluster",
                &format!(
                    "stanza {scope} exists in the repo already (status: {}): the new cluster \
                     archives into a stanza of its own",
                    s.status.message
                ),
            ));
        }
        Err(e) => return Err(e),
    }
    preflight.push(format!("stanza {scope} is not in the repo yet"));

    let PreparedRestore {
        mut plan,
        selection,
        ..
    } = prepare_restore(
        &source_node,
        &request,
        &RestoreOptions {
            under_patroni: false,
            ..options.restore.clone()
        },
        None,
    )?;
    // The plan gives archiving back to Patroni itself.
    plan.steps.retain(|s| s.id != "archiving");
    preflight.push(format!(
        "target {} is in the recoverable window: {}",
        request.target, selection.reason
    ));
    let member = MemberSite {
        name: format!("{scope}-{seq}"),
        host: api.url.host().url_form(),
        role: "new".into(),
        local: true,
        api,
        data,
        socket_dir: new_node.socket_dir.to_path_buf(),
        port: new_node.port,
        dbsu: new_node.dbsu.clone(),
        pg_bin_dir: new_spec
            .bin_dir
            .as_ref()
            .map_or_else(|| tools.pg_bin_dir.clone(), |d| d.to_path_buf()),
        control: new_spec.patroni_control.clone(),
        pgbackrest_config: new_node.config_path.to_path_buf(),
    };
    let warnings = plan.warnings.clone();
    let cluster_plan = plan_new_cluster(NewClusterInput {
        source_scope: source.to_string(),
        members: view
            .members
            .iter()
            .map(|m| {
                let spec = named.iter().find(|(n, _)| *n == m.name).map(|(_, s)| *s);
                MemberSummary {
                    name: m.name.clone(),
                    host: m.host.clone(),
                    role: m.role.clone(),
                    local: spec.is_some(),
                    data: spec.map_or_else(Default::default, |s| s.data.to_path_buf()),
                }
            })
            .collect(),
        leader: leader.name.clone(),
        timeline_before: leader.timeline,
        scope: scope.to_string(),
        member,
        restore_socket_dir: source_node.socket_dir.to_path_buf(),
        restore: plan,
        target: request.target.to_string(),
        pgbackrest_bin: tools.pgbackrest.clone(),
        patronictl: super::patronictl()?,
        repos: new_node.repos.iter().map(|r| r.index.get()).collect(),
        backup: !options.no_backup,
        preflight,
        warnings,
    });
    Ok(PreparedClusterRestore {
        plan: cluster_plan,
        selection,
        resumed: None,
        node: new_node,
        request: identity,
        next: None,
        redo: None,
    })
}

/// A cluster restore in place ([`super::prepare_cluster_restore`]), or into the new cluster of
/// `new_cluster` ([`prepare_new_cluster`]): what the CLI and Python ask for.
pub fn prepare_cluster_or_new(
    specs: &[ClusterSpec],
    new_cluster: Option<&ClusterSpec>,
    request: &RestoreRequest,
    options: &ClusterOptions,
) -> Result<PreparedClusterRestore> {
    match new_cluster {
        Some(new) => prepare_new_cluster(specs, new, request, options),
        None => super::prepare_cluster_restore(specs, request, options),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patroni_configuration_of_another_scope_or_the_sources_stanza_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("patroni.yml");
        let write = |text: &str| std::fs::write(&path, text).unwrap();
        write(
            "scope: pg-new\npostgresql:\n  parameters:\n    archive_command: pgbackrest --stanza=pg-new archive-push %p\n",
        );
        let ok = check_patroni_config(&path, None, "pg-new", "pg-meta").unwrap();
        assert!(ok.contains("--stanza=pg-new"), "{ok}");
        write("scope: pg-meta\n");
        let e = check_patroni_config(&path, None, "pg-new", "pg-meta").unwrap_err();
        assert!(e.to_string().contains("own scope 'pg-new'"), "{e}");
        write(
            "scope: pg-new\nbootstrap:\n  dcs:\n    postgresql:\n      parameters:\n        \
             archive_command: pgbackrest --stanza=pg-meta archive-push %p\n",
        );
        let e = check_patroni_config(&path, None, "pg-new", "pg-meta").unwrap_err();
        assert!(e.to_string().contains("running cluster's stanza"), "{e}");
        assert_eq!(e.code(), "invalid_setting");
        assert!(check_patroni_config(&dir.path().join("none.yml"), None, "a", "b").is_err());
        write("secret: [unclosed");
        let e = check_patroni_config(&path, None, "a", "b").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        // A link at the name is not followed.
        let link = dir.path().join("link.yml");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(check_patroni_config(&link, None, "a", "b").is_err());
    }

    #[test]
    fn paths_overlap_when_one_holds_the_other() {
        assert!(overlaps(Path::new("/pg/data"), Path::new("/pg/data")));
        assert!(overlaps(Path::new("/pg/data/new"), Path::new("/pg/data")));
        assert!(!overlaps(Path::new("/pg/data2"), Path::new("/pg/data")));
    }
}
