//! Rendering a spec's files, and writing one safely: `pitr render`, `pitr.render_config()`,
//! the `pgbackrest_config` Ansible module.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::names::SafePath;
use crate::node::Node;
use crate::render::{RenderedFile, Renderer, RestoreConfig};
use crate::run::files;
use crate::run::user::OsUser;
use crate::spec::ClusterSpec;
use crate::target::RestoreRequest;

/// Which file to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RenderWhat {
    /// The node's `pgbackrest.conf`.
    Pgbackrest,
    /// The restore config for the spec's own cluster (Pigsty's `pitr.conf`).
    Restore,
    /// PostgreSQL's `archive_mode` and `archive_command`.
    Archive,
    /// Cron lines for scheduled backups.
    Cron,
    /// Patroni's `on_role_change` callback running `pitr patroni-callback` (a `patroni.yml`
    /// snippet).
    #[serde(rename = "patroni-callback")]
    PatroniCallback,
}

impl RenderWhat {
    /// Every kind of file, as its name.
    pub const NAMES: [&'static str; 5] = [
        "pgbackrest",
        "restore",
        "archive",
        "cron",
        "patroni-callback",
    ];

    /// Who owns the written file unless told otherwise: cron lines belong to root (cron
    /// refuses others'), the rest to the database superuser, who runs pgBackRest and
    /// PostgreSQL.
    pub fn default_owner(self, spec: &ClusterSpec) -> &str {
        match self {
            RenderWhat::Cron => "root",
            _ => &spec.dbsu,
        }
    }
}

impl std::str::FromStr for RenderWhat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pgbackrest" => Ok(RenderWhat::Pgbackrest),
            "restore" => Ok(RenderWhat::Restore),
            "archive" => Ok(RenderWhat::Archive),
            "cron" => Ok(RenderWhat::Cron),
            "patroni-callback" => Ok(RenderWhat::PatroniCallback),
            _ => Err(Error::invalid(
                "file to render",
                s,
                "expected one of: pgbackrest, restore, archive, cron, patroni-callback",
            )),
        }
    }
}

fn renderer(templates: Option<&Path>) -> Result<Renderer> {
    match templates {
        Some(dir) => Renderer::with_overrides(dir),
        None => Ok(Renderer::new()),
    }
}

/// Renders one of the spec's files, with the embedded templates or those in `templates`.
pub fn render(
    spec: &ClusterSpec,
    what: RenderWhat,
    templates: Option<&Path>,
) -> Result<RenderedFile> {
    let renderer = renderer(templates)?;
    match what {
        RenderWhat::Pgbackrest => renderer.pgbackrest_conf(spec),
        RenderWhat::Restore => renderer.restore_conf(&RestoreConfig::from_spec(spec)),
        RenderWhat::Archive => renderer.archive_settings(spec),
        RenderWhat::Cron => renderer.crontab(spec),
        RenderWhat::PatroniCallback => renderer.patroni_callback(spec),
    }
}

/// The restore config a restore of `request` on the spec's node writes to `path` (beside
/// pgbackrest.conf when `None`): the same values the restore planner puts into its
/// `write-restore-config` step.
pub fn restore_config(
    spec: &ClusterSpec,
    request: &RestoreRequest,
    path: Option<SafePath>,
) -> Result<RestoreConfig> {
    let mut node = Node::from_spec(spec);
    if let Some(c) = &request.cluster {
        node.stanza = c.clone();
    }
    // Only the config is used; the binaries and the timeout do not go into it.
    let site = node.restore_site(Path::new(""), Path::new(""), path, 0);
    crate::plan::restore::restore_config_for(&site, request)
}

/// Renders the restore config for `request` (see [`restore_config`]).
pub fn render_restore_config(
    spec: &ClusterSpec,
    request: &RestoreRequest,
    path: Option<SafePath>,
    templates: Option<&Path>,
) -> Result<RenderedFile> {
    renderer(templates)?.restore_conf(&restore_config(spec, request, path)?)
}

/// What [`write()`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    /// The file.
    pub path: std::path::PathBuf,
    /// Its owner.
    pub owner: String,
    /// Whether the contents changed (a file with the same contents is left as it is).
    pub changed: bool,
}

/// Writes a rendered file with its secrets, mode `mode`, owned by `owner` (when pitr runs as
/// root; the current user's otherwise), through [`files::write_atomic`]. A file whose
/// contents are the same already is not rewritten.
pub fn write(path: &Path, file: &RenderedFile, owner: &str, mode: u32) -> Result<Written> {
    let owner = OsUser::lookup(owner)?;
    let owner = if nix::unistd::geteuid().is_root() {
        owner
    } else {
        OsUser::current()?
    };
    let same = files::open_read(path, Some(&owner)).is_ok_and(|mut f| {
        let mut old = String::new();
        let meta = f.metadata();
        f.read_to_string(&mut old).is_ok()
            && old == file.contents()
            && meta.is_ok_and(|m| m.uid() == owner.uid && m.mode() & 0o7777 == mode)
    });
    if !same {
        files::write_atomic(path, file.contents().as_bytes(), mode, Some(&owner))?;
    }
    Ok(Written {
        path: path.to_path_buf(),
        owner: owner.name,
        changed: !same,
    })
}
