//! `pitr render`: print or write a rendered file.

use std::process::ExitCode;

use pitr_core::render::{Renderer, RestoreConfig};
use pitr_core::run::files;
use pitr_core::run::user::OsUser;
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
        Some(path) => {
            let owner = OsUser::lookup(args.owner.as_deref().unwrap_or(match args.what {
                RenderWhat::Cron => "root",
                _ => spec.dbsu.as_str(),
            }))?;
            // Not root: the file can only be the current user's.
            let owner = (nix::unistd::geteuid().is_root() || args.owner.is_some()).then_some(owner);
            files::write_atomic(path, file.contents().as_bytes(), 0o600, owner.as_ref())?;
        }
        None if global.json => output::print_json(&serde_json::json!({
            "template": file.id(),
            "contents": file.redacted(),
            "has_secrets": file.has_secrets(),
        }))?,
        None => output::print(file.redacted())?,
    }
    Ok(ExitCode::SUCCESS)
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
