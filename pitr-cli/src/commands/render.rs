//! `pitr render`: print or write a rendered file.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::process::ExitCode;

use anyhow::Context;
use pitr_core::render::{RenderedFile, Renderer, RestoreConfig};
use pitr_core::spec::ClusterSpec;

use crate::cli::{GlobalArgs, RenderArgs, RenderWhat};
use crate::output;

pub(crate) fn run(global: &GlobalArgs, args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let mut spec = ClusterSpec::from_file(&args.spec)?;
    if spec.pgbackrest_version.is_none() {
        spec.pgbackrest_version = detect_pgbackrest_version();
    }
    let renderer = match &args.templates {
        Some(dir) => Renderer::with_overrides(dir)?,
        None => Renderer::new(),
    };
    let file = match args.what {
        RenderWhat::Pgbackrest => renderer.pgbackrest_conf(&spec)?,
        RenderWhat::Restore => renderer.restore_conf(&RestoreConfig::from_spec(&spec))?,
        RenderWhat::Archive => renderer.archive_settings(&spec)?,
        RenderWhat::Cron => renderer.crontab(&spec)?,
    };
    match &args.output {
        Some(path) => write_private(path, &file)?,
        None if global.json => output::print_json(&serde_json::json!({
            "template": file.id(),
            "contents": file.redacted(),
            "has_secrets": file.has_secrets(),
        }))?,
        None => output::print(file.redacted())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the file with its secrets, readable by its owner only.
fn write_private(path: &std::path::Path, file: &RenderedFile) -> anyhow::Result<()> {
    let tmp = path.with_extension("pitr-tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write '{}'", tmp.display()))?;
    f.write_all(file.contents().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write '{}'", path.display()))?;
    Ok(())
}

/// The installed pgBackRest's version, if `pgbackrest` is on PATH and answers.
fn detect_pgbackrest_version() -> Option<pitr_core::version::Version> {
    let bin = which::which("pgbackrest").ok()?;
    let out = std::process::Command::new(bin)
        .arg("version")
        .output()
        .ok()?;
    pitr_core::version::parse_version_output(&String::from_utf8_lossy(&out.stdout)).ok()
}
