//! Planning and parsing at scale: an info document with 5,000 backup sets across 4 repos and a
//! listing of 100,000 archived WAL files, as pgBackRest 2.45 prints them.
//!
//! `cargo bench -p pitr-core --bench planning` — each figure is printed beside a baseline
//! measured in the same run: reading the same JSON into `serde_json::Value` (what any tool
//! must at least do to look at pgBackRest's output).

// Measurement code: a panic is a failed run, and figures are approximate by nature.
#![allow(
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_wrap
)]

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "synthetic/pipeline.rs"]
mod pipeline;
#[path = "synthetic/mod.rs"]
mod synthetic;

fn planning(c: &mut Criterion) {
    let data = synthetic::generate(5_000, 4, 100_000);
    let mut g = c.benchmark_group("planning at scale (5,000 sets, 4 repos, 100,000 WAL files)");
    g.sample_size(20);
    g.bench_function("baseline: serde_json::Value of info + listing", |b| {
        b.iter(|| {
            let i: serde_json::Value = serde_json::from_str(&data.info).unwrap();
            let l: serde_json::Value = serde_json::from_str(&data.listing).unwrap();
            (i, l)
        });
    });
    g.bench_function("parse info + listing", |b| {
        b.iter(|| pipeline::parse(&data.info, &data.listing));
    });
    let parsed = pipeline::parse(&data.info, &data.listing);
    g.bench_function("recoverable windows", |b| {
        b.iter(|| pipeline::windows(&parsed));
    });
    let request = pipeline::request(&data.target_time);
    g.bench_function("select (includes windows)", |b| {
        b.iter(|| pipeline::choose(&parsed, &request));
    });
    let sel = pipeline::choose(&parsed, &request);
    let site = pipeline::site();
    let renderer = pitr_core::render::Renderer::new();
    g.bench_function("plan", |b| {
        b.iter(|| pipeline::plan(&request, &sel, &site, &renderer));
    });
    g.bench_function("all: parse + window + select + plan", |b| {
        b.iter(|| pipeline::all(&data.info, &data.listing, &data.target_time));
    });
    g.finish();
}

criterion_group!(benches, planning);
criterion_main!(benches);
