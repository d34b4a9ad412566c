//! Rendering pgbackrest.conf the way a front end does for each call (`pitr.render_config`,
//! `pitr render`): get a renderer, render, check every key against the catalogue.
//!
//! `cargo bench -p pitr-core --bench render` — each figure is printed beside a baseline
//! measured in the same run: reading the cluster spec (what every call does before rendering).

// Measurement code: a panic is a failed run.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use pitr_core::render::Renderer;
use pitr_core::spec::ClusterSpec;

/// Pigsty's MinIO repo beside its local one: the largest config Pigsty's inventories render.
const SPEC: &str = r"
pg_cluster: pg-meta
node_cpu: 8
pgbackrest_version: '2.45'
pgbackrest_method: [local, minio]
pgbackrest_repo:
  local: { path: /pg/backup, retention_full_type: count, retention_full: 2 }
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
    cipher_pass: a-unique-passphrase
    retention_full_type: time
    retention_full: 14
";

fn render(c: &mut Criterion) {
    let spec = ClusterSpec::from_yaml_str(SPEC).unwrap();
    let mut g = c.benchmark_group("render pgbackrest.conf (2 repos)");
    g.bench_function("baseline: read the cluster spec", |b| {
        b.iter(|| ClusterSpec::from_yaml_str(SPEC).unwrap());
    });
    g.bench_function("Renderer::new()", |b| b.iter(Renderer::new));
    g.bench_function(
        "Renderer::new() + pgbackrest_conf (one front-end call)",
        |b| {
            b.iter(|| Renderer::new().pgbackrest_conf(&spec).unwrap());
        },
    );
    let renderer = Renderer::new();
    g.bench_function("pgbackrest_conf on a kept renderer", |b| {
        b.iter(|| renderer.pgbackrest_conf(&spec).unwrap());
    });
    g.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
