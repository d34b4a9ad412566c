//! Rendering of every file pitr writes, from handlebars templates.
//!
//! Templates are embedded in the library under named ids ([`TemplateId`]) and compiled once per
//! process, the first time a [`Renderer`] is asked for; [`Renderer::new`] is then a reference to
//! them. A directory of `<id>.hbs` files can override any of them ([`Renderer::with_overrides`],
//! a private copy). Rendering is strict (a missing field is an error) and never HTML-escapes.
//!
//! Each render happens twice from the same view: once with secrets (the file to write, mode
//! 0600) and once with `<redacted>` in their place (what may be shown). Every rendered
//! pgBackRest config is then read back with [`crate::conf`] and each key is checked against the
//! [`catalog`](crate::catalog), so a template — ours or a user's — cannot produce a key
//! pgBackRest would ignore or a value that spans lines.
//!
//! ```
//! use pitr_core::{render::Renderer, spec::ClusterSpec};
//! let spec = ClusterSpec::from_yaml_str("pg_cluster: pg-meta\nnode_cpu: 4").unwrap();
//! let conf = Renderer::new().pgbackrest_conf(&spec).unwrap();
//! assert!(conf.contents().contains("[pg-meta]\npg1-path=/pg/data\n"));
//! ```

pub mod patroni;
mod views;

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::sync::LazyLock;

use handlebars::Handlebars;
use serde::Serialize;

pub use views::{ProcessMax, RestoreConfig};

use crate::catalog;
use crate::conf::ConfFile;
use crate::error::{Error, Result};
use crate::spec::ClusterSpec;
use crate::version::Version;

/// The templates pitr renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum TemplateId {
    /// `pgbackrest.conf`, the node's pgBackRest config.
    PgbackrestConf,
    /// The config used for one point-in-time restore (Pigsty's `pitr.conf`).
    RestoreConf,
    /// PostgreSQL's archive settings (`archive_mode`, `archive_command`).
    ArchiveSettings,
    /// Cron lines for scheduled backups.
    Crontab,
    /// Patroni's `on_role_change` callback (a `patroni.yml` snippet).
    PatroniCallback,
}

impl TemplateId {
    /// Every template id.
    pub const ALL: [TemplateId; 5] = [
        TemplateId::PgbackrestConf,
        TemplateId::RestoreConf,
        TemplateId::ArchiveSettings,
        TemplateId::Crontab,
        TemplateId::PatroniCallback,
    ];

    /// The id, which is also the override file name without `.hbs`.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateId::PgbackrestConf => "pgbackrest.conf",
            TemplateId::RestoreConf => "restore.conf",
            TemplateId::ArchiveSettings => "archive.conf",
            TemplateId::Crontab => "crontab",
            TemplateId::PatroniCallback => "patroni-callback.yml",
        }
    }

    fn embedded(self) -> &'static str {
        match self {
            TemplateId::PgbackrestConf => include_str!("templates/pgbackrest.conf.hbs"),
            TemplateId::RestoreConf => include_str!("templates/restore.conf.hbs"),
            TemplateId::ArchiveSettings => include_str!("templates/archive.conf.hbs"),
            TemplateId::Crontab => include_str!("templates/crontab.hbs"),
            TemplateId::PatroniCallback => include_str!("templates/patroni-callback.yml.hbs"),
        }
    }
}

impl fmt::Display for TemplateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rendered file: the contents to write (may hold secrets) and the contents to show.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedFile {
    id: TemplateId,
    contents: String,
    redacted: String,
}

impl RenderedFile {
    /// Which template produced this file.
    pub fn id(&self) -> TemplateId {
        self.id
    }

    /// The contents to write to disk, secrets included. Write them with mode 0600.
    pub fn contents(&self) -> &str {
        &self.contents
    }

    /// The contents with every secret replaced by `<redacted>`: safe to print or log.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// Whether the file holds a secret (and so must be written with a private mode).
    pub fn has_secrets(&self) -> bool {
        self.contents != self.redacted
    }
}

impl fmt::Debug for RenderedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedFile")
            .field("id", &self.id)
            .field("contents", &self.redacted)
            .finish()
    }
}

/// The embedded templates, compiled on first use and shared by every [`Renderer::new`].
static EMBEDDED: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    for id in TemplateId::ALL {
        // The embedded templates are part of the build; a unit test compiles each.
        hb.register_template_string(id.as_str(), id.embedded())
            .unwrap_or_else(|e| panic!("embedded template {id} does not compile: {e}"));
    }
    hb
});

/// Renders pitr's templates.
#[derive(Debug, Clone)]
pub struct Renderer {
    /// The shared embedded registry, or a copy of it with a user's templates registered.
    hb: Cow<'static, Handlebars<'static>>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    /// A renderer with the embedded templates: after the first call in a process, a reference
    /// to the templates compiled then, costing nothing to make.
    pub fn new() -> Self {
        Renderer {
            hb: Cow::Borrowed(&*EMBEDDED),
        }
    }

    /// A renderer whose templates are overridden by `<id>.hbs` files in `dir`.
    ///
    /// Files in `dir` that are not named after a template id are refused, so a typo in a file
    /// name cannot silently leave the embedded template in use.
    pub fn with_overrides(dir: &Path) -> Result<Self> {
        let mut renderer = Self::new();
        let entries = std::fs::read_dir(dir)
            .map_err(|e| Error::io("cannot read template directory", dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("cannot read template directory", dir, e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = TemplateId::ALL
                .into_iter()
                .find(|id| name == format!("{}.hbs", id.as_str()))
            else {
                let known: Vec<String> = TemplateId::ALL
                    .iter()
                    .map(|id| format!("{id}.hbs"))
                    .collect();
                return Err(Error::UnknownKey {
                    key: name.clone(),
                    context: format!("template directory '{}'", dir.display()),
                    suggestion: crate::error::nearest(&name, known.iter().map(String::as_str)),
                });
            };
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Error::io("cannot read template", &path, e))?;
            renderer
                .hb
                .to_mut()
                .register_template_string(id.as_str(), text)
                .map_err(|e| Error::Template {
                    id: id.as_str().into(),
                    message: format!("{} does not compile: {e}", path.display()),
                })?;
        }
        Ok(renderer)
    }

    /// Renders template `id` once from the view `view` builds, its secrets held as
    /// placeholders, into the file (secrets in) and what may be shown (secrets redacted).
    fn render_pair<F, V>(&self, id: TemplateId, view: F) -> Result<RenderedFile>
    where
        F: FnOnce(&mut views::Placeholders) -> V,
        V: Serialize,
    {
        let mut held = views::Placeholders::default();
        let view = view(&mut held);
        let text = self
            .hb
            .render(id.as_str(), &view)
            .map_err(|e| Error::Template {
                id: id.as_str().into(),
                message: e.to_string(),
            })?;
        let (contents, redacted) = held.fill(&text);
        Ok(RenderedFile {
            id,
            contents,
            redacted,
        })
    }

    /// Renders `pgbackrest.conf` for the spec's node.
    pub fn pgbackrest_conf(&self, spec: &ClusterSpec) -> Result<RenderedFile> {
        let beta = views::needs_beta(&spec.repos, spec.pgbackrest_version.as_ref())?;
        let file = self.render_pair(TemplateId::PgbackrestConf, |held| {
            views::PgbackrestConfView::new(spec, beta, held)
        })?;
        check_pgbackrest_keys(&file, spec.pgbackrest_version.as_ref())?;
        Ok(file)
    }

    /// Renders the config for one point-in-time restore.
    pub fn restore_conf(&self, config: &RestoreConfig) -> Result<RenderedFile> {
        config.check_values()?;
        let beta = views::needs_beta(&config.repos, config.version.as_ref())?;
        let file = self.render_pair(TemplateId::RestoreConf, |held| {
            views::RestoreConfView::new(config, beta, held)
        })?;
        check_pgbackrest_keys(&file, config.version.as_ref())?;
        Ok(file)
    }

    /// Renders PostgreSQL's archive settings.
    pub fn archive_settings(&self, spec: &ClusterSpec) -> Result<RenderedFile> {
        self.render_pair(TemplateId::ArchiveSettings, |_| {
            views::ArchiveView::new(spec)
        })
    }

    /// Renders cron lines for the spec's backup schedule.
    pub fn crontab(&self, spec: &ClusterSpec) -> Result<RenderedFile> {
        let view = views::CrontabView::new(spec)?;
        self.render_pair(TemplateId::Crontab, |_| view)
    }

    /// The command of Patroni's `on_role_change` callback for `spec` (what the snippet of
    /// [`Renderer::patroni_callback`] holds, unquoted for YAML).
    pub fn on_role_change_command(spec: &ClusterSpec) -> String {
        views::on_role_change_command(spec)
    }

    /// Renders the `patroni.yml` snippet that makes Patroni run `pitr patroni-callback` when
    /// a member's role changes.
    pub fn patroni_callback(&self, spec: &ClusterSpec) -> Result<RenderedFile> {
        self.render_pair(TemplateId::PatroniCallback, |_| {
            views::PatroniCallbackView::new(spec)
        })
    }
}

/// Reads a rendered pgBackRest config back and checks every key and value.
fn check_pgbackrest_keys(file: &RenderedFile, version: Option<&Version>) -> Result<()> {
    let conf = ConfFile::parse(file.contents()).map_err(|e| Error::Template {
        id: file.id().as_str().into(),
        message: format!("the rendered file is not a valid pgBackRest config: {e}"),
    })?;
    for section in conf.sections() {
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in section.entries() {
            let def = catalog::check_config_key(key, version)?;
            let multi = matches!(
                def.kind,
                catalog::OptionKind::List | catalog::OptionKind::Hash
            );
            if !multi && seen.contains(&key.as_str()) {
                return Err(Error::Template {
                    id: file.id().as_str().into(),
                    message: format!(
                        "'{key}' is set twice in section [{}]; pgBackRest refuses that",
                        section.header()
                    ),
                });
            }
            seen.push(key);
            if value.chars().any(char::is_control) {
                return Err(Error::UnsafeValue { key: key.clone() });
            }
            if section.is_global() && def.section == catalog::Section::Stanza {
                return Err(Error::Template {
                    id: file.id().as_str().into(),
                    message: format!(
                        "stanza option '{key}' is in section [{}], where pgBackRest ignores it",
                        section.header()
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
