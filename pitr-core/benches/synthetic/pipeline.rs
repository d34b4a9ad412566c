//! The planning pipeline the benchmark times: parse, window, select, plan.

#![allow(dead_code)] // each bench target uses a part

use std::collections::BTreeMap;

use pitr_core::archive::{self, ArchiveListing};
use pitr_core::history::TimelineHistories;
use pitr_core::info::{self, InfoReport};
use pitr_core::names::DEFAULT_SEGMENT_SIZE;
use pitr_core::plan::Plan;
use pitr_core::plan::restore::{DataState, NodeFacts, RestoreSite, plan_restore};
use pitr_core::render::{ProcessMax, Renderer, RestoreConfig};
use pitr_core::select::{RepoState, Selection, select};
use pitr_core::spec::ClusterSpec;
use pitr_core::target::RestoreRequest;
use pitr_core::window::{self, RecoverableWindow};

/// Parsed inputs.
pub(crate) struct Parsed {
    pub(crate) report: InfoReport,
    pub(crate) listings: BTreeMap<pitr_core::names::RepoIndex, ArchiveListing>,
    pub(crate) histories: TimelineHistories,
}

pub(crate) fn parse(info_text: &str, listing_text: &str) -> Parsed {
    Parsed {
        report: info::parse(info_text).expect("synthetic info parses"),
        listings: BTreeMap::from([(
            pitr_core::names::RepoIndex::FIRST,
            archive::parse_repo_ls(listing_text, DEFAULT_SEGMENT_SIZE).expect("listing parses"),
        )]),
        histories: TimelineHistories::new(),
    }
}

pub(crate) fn windows(p: &Parsed) -> Vec<RecoverableWindow> {
    window::windows(&p.report.stanzas[0], &p.histories, &p.listings)
}

pub(crate) fn request(target_time: &str) -> RestoreRequest {
    RestoreRequest::from_pg_pitr(serde_json::json!({ "time": target_time }), None)
        .expect("request is valid")
}

pub(crate) fn choose(p: &Parsed, request: &RestoreRequest) -> Selection {
    select(
        RepoState {
            stanza: &p.report.stanzas[0],
            histories: &p.histories,
            listings: &p.listings,
            marks: &[],
        },
        request,
        None,
    )
    .expect("a set is selected")
}

pub(crate) fn site() -> RestoreSite {
    let spec = ClusterSpec::from_yaml_str("pg_cluster: bench\nnode_cpu: 4\n").expect("spec");
    let processes = ProcessMax::for_cpus(4);
    let mut config = RestoreConfig::from_spec(&spec);
    config.process_max = processes.restore;
    RestoreSite {
        stanza: spec.cluster.clone(),
        data: spec.data.to_path_buf(),
        port: spec.port,
        socket_dir: "/var/run/postgresql".into(),
        dbsu: "postgres".into(),
        pg_bin_dir: "/usr/lib/postgresql/15/bin".into(),
        pgbackrest_bin: "/usr/bin/pgbackrest".into(),
        restore_config_path: "/etc/pgbackrest/pitr-bench-restore.conf".into(),
        restore_config: config,
        log_dir: spec.log_dir.to_path_buf(),
        timeout_secs: 3600,
        patroni_member: false,
    }
}

pub(crate) fn facts() -> NodeFacts {
    NodeFacts {
        data_state: DataState::Cluster,
        postmaster_pid: Some(4242),
        free_bytes: Some(1 << 40),
        safety_copy_exists: false,
    }
}

pub(crate) fn plan(
    request: &RestoreRequest,
    sel: &Selection,
    site: &RestoreSite,
    renderer: &Renderer,
) -> Plan {
    plan_restore(site, request, sel, &facts(), renderer).expect("plan")
}

/// Everything, from text to plan.
pub(crate) fn all(info_text: &str, listing_text: &str, target_time: &str) -> Plan {
    let parsed = parse(info_text, listing_text);
    let request = request(target_time);
    let sel = choose(&parsed, &request);
    plan(&request, &sel, &site(), &Renderer::new())
}
