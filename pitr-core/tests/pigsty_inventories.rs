//! Pigsty parity: every PostgreSQL cluster of Pigsty's shipped inventories renders with pitr, and
//! every key of the `pgbackrest.conf` Pigsty's own template writes for it is in pitr's, in the
//! same section, with the same value.
//!
//! Fixtures (`tests/fixtures/pigsty/`, see its `README.md`): inventories from Pigsty's `conf/`
//! trimmed to the variables its template reads, the role defaults of those variables, and the
//! template's recorded output for each cluster. The spec of a cluster is what Ansible hands the
//! template: role defaults, then `all.vars`, then the cluster's group vars, then its first host's
//! vars — a shallow merge, as Ansible's default `hash_behaviour: replace` does.
//!
//! With `PITR_PIGSTY_RECORDED=DIR`, the same check also runs over every output that
//! `scripts/pigsty-record` wrote into DIR for all of Pigsty's inventories (`<host>.conf` beside
//! `<host>.json`, the variables Ansible resolved for that host).

// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pitr_core::conf::ConfFile;
use pitr_core::render::Renderer;
use pitr_core::spec::{ClusterSpec, SPEC_KEYS, WEAK_CIPHER_PASSES};
use serde_json::{Map, Value, json};

/// `node_cpu` is a fact Pigsty gathers; the shipped outputs were recorded with this.
const NODE_CPU: u32 = 8;

/// pgBackRest versions to render for: the one tests run on, and one that needs no `beta=y`.
const VERSIONS: [&str; 2] = ["2.45", "2.59"];

/// Keys pitr writes that Pigsty's template does not, with why. Nothing else may be extra.
const PITR_ONLY: &[(&str, &str, &str)] = &[(
    "global",
    "beta",
    "pgBackRest 2.45 refuses repo-block (block incremental) without beta=y ([031]); Pigsty's \
     config is written for the later pgBackRest it ships, where the feature is not beta",
)];

/// Keys whose value pitr deliberately writes differently, with why. None today.
const DIFFERENT_VALUE: &[(&str, &str, &str)] = &[];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pigsty")
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn merge(into: &mut Map<String, Value>, from: Option<&Value>) {
    if let Some(Value::Object(from)) = from {
        into.extend(from.clone());
    }
}

/// The variables of each cluster of an inventory as Ansible resolves them for its first host.
fn clusters(inventory: &Value, defaults: &Value) -> Vec<(String, Map<String, Value>)> {
    let mut out = Vec::new();
    for group in inventory["all"]["children"].as_object().unwrap().values() {
        let mut vars = Map::new();
        merge(&mut vars, Some(defaults));
        merge(&mut vars, inventory["all"].get("vars"));
        merge(&mut vars, group.get("vars"));
        merge(
            &mut vars,
            group["hosts"].as_object().unwrap().values().next(),
        );
        let name = vars["pg_cluster"].as_str().unwrap().to_owned();
        out.push((name, vars));
    }
    out
}

/// The spec pitr gets from those variables: the keys it knows, plus the node's facts.
fn spec_of(vars: &Map<String, Value>, version: &str, allow_weak: bool) -> Value {
    let mut spec: Map<String, Value> = vars
        .iter()
        .filter(|(k, _)| SPEC_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    spec.entry("node_cpu").or_insert(json!(NODE_CPU));
    spec.insert("pgbackrest_version".into(), json!(version));
    if allow_weak {
        spec.insert("pitr_allow_weak_cipher_pass".into(), json!(true));
    }
    Value::Object(spec)
}

/// Whether the repo Pigsty uses is encrypted with a published passphrase.
fn uses_weak_pass(vars: &Map<String, Value>) -> bool {
    let method = vars["pgbackrest_method"].as_str().unwrap();
    let repo = &vars["pgbackrest_repo"][method];
    repo.get("cipher_type").is_some_and(|t| t != "none")
        && repo["cipher_pass"]
            .as_str()
            .is_some_and(|p| WEAK_CIPHER_PASSES.contains(&p))
}

/// `(section, key) -> values`, in file order.
fn entries(text: &str) -> BTreeMap<(String, String), Vec<String>> {
    let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for section in ConfFile::parse(text).unwrap().sections() {
        for (key, value) in section.entries() {
            out.entry((section.header(), key.clone()))
                .or_default()
                .push(value.clone());
        }
    }
    out
}

fn listed(list: &[(&str, &str, &str)], section: &str, key: &str) -> bool {
    list.iter().any(|(s, k, _)| *s == section && *k == key)
}

/// Renders the cluster with pitr and lists every way it differs from Pigsty's output that is
/// not a listed, deliberate difference.
fn check(what: &str, vars: &Map<String, Value>, pigsty: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let weak = uses_weak_pass(vars);
    for version in VERSIONS {
        let spec = match ClusterSpec::from_value(spec_of(vars, version, false)) {
            Ok(spec) if !weak => spec,
            Ok(_) => {
                problems.push(format!(
                    "{what}: Pigsty's published passphrase was accepted"
                ));
                continue;
            }
            Err(e)
                if weak
                    && e.code() == "invalid_setting"
                    && e.to_string().contains("cipher_pass") =>
            {
                ClusterSpec::from_value(spec_of(vars, version, true)).unwrap()
            }
            Err(e) => {
                problems.push(format!("{what} on {version}: spec refused: {e}"));
                continue;
            }
        };
        let ours = match Renderer::new().pgbackrest_conf(&spec) {
            Ok(file) => entries(file.contents()),
            Err(e) => {
                problems.push(format!("{what} on {version}: render failed: {e}"));
                continue;
            }
        };
        let theirs = entries(pigsty);
        for ((section, key), values) in &theirs {
            match ours.get(&(section.clone(), key.clone())) {
                Some(v) if v == values => {}
                _ if listed(DIFFERENT_VALUE, section, key) => {}
                Some(v) => problems.push(format!(
                    "{what} on {version}: [{section}] {key}: Pigsty {values:?}, pitr {v:?}"
                )),
                None => problems.push(format!(
                    "{what} on {version}: [{section}] {key}={values:?} is missing"
                )),
            }
        }
        for (section, key) in ours.keys() {
            if !theirs.contains_key(&(section.clone(), key.clone()))
                && !listed(PITR_ONLY, section, key)
            {
                problems.push(format!("{what} on {version}: pitr adds [{section}] {key}"));
            }
        }
    }
    problems
}

#[test]
fn every_shipped_inventory_renders_like_pigsty() {
    let dir = fixtures();
    let defaults = yaml(&dir.join("defaults.yml"));
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(dir.join("inventories")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        for (cluster, vars) in clusters(&yaml(&path), &defaults) {
            let recorded = dir
                .join("recorded")
                .join(&stem)
                .join(format!("{cluster}.conf"));
            let pigsty = std::fs::read_to_string(&recorded)
                .unwrap_or_else(|e| panic!("{}: {e}", recorded.display()));
            problems.extend(check(&format!("{stem}/{cluster}"), &vars, &pigsty));
            checked.push(format!("{stem}/{cluster}"));
        }
    }
    checked.sort();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(checked.len(), 16, "{checked:?}");
    for must in [
        "meta/pg-meta",
        "ha-full/pg-test",
        "ivory/pg-meta",
        "rich/pg-meta",
    ] {
        assert!(checked.iter().any(|c| c == must), "{must}: {checked:?}");
    }
}

#[test]
fn pigstys_published_passphrase_is_refused_naming_cipher_pass() {
    let dir = fixtures();
    let defaults = yaml(&dir.join("defaults.yml"));
    let inventory = yaml(&dir.join("inventories/rich.yml"));
    let (_, vars) = clusters(&inventory, &defaults).remove(0);
    assert!(uses_weak_pass(&vars));
    let e = ClusterSpec::from_value(spec_of(&vars, "2.59", false)).unwrap_err();
    assert_eq!(e.code(), "invalid_setting");
    let text = e.to_string();
    assert!(text.contains("cipher_pass"), "{text}");
    assert!(text.contains("pgbackrest_repo.minio"), "{text}");
    assert!(text.contains("pitr_allow_weak_cipher_pass: true"), "{text}");
    assert!(!text.contains("S3User.Backup"), "{text}");
    ClusterSpec::from_value(spec_of(&vars, "2.59", true)).unwrap();
}

/// The check over every inventory Pigsty ships, when `scripts/pigsty-record` output is given.
#[test]
fn every_recorded_inventory_renders_like_pigsty() {
    let Some(dir) = std::env::var_os("PITR_PIGSTY_RECORDED") else {
        eprintln!("PITR_PIGSTY_RECORDED is not set: only the shipped inventories were checked");
        return;
    };
    let mut hosts = 0;
    let mut problems = Vec::new();
    let mut stack = vec![PathBuf::from(dir)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json")
                && path.with_extension("conf").exists()
            {
                let Value::Object(vars) =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
                else {
                    panic!("{}: not a mapping", path.display());
                };
                let pigsty = std::fs::read_to_string(path.with_extension("conf")).unwrap();
                problems.extend(check(&path.display().to_string(), &vars, &pigsty));
                hosts += 1;
            }
        }
    }
    eprintln!("{hosts} hosts checked, {} problems", problems.len());
    assert!(hosts > 0, "no <host>.json in PITR_PIGSTY_RECORDED");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
