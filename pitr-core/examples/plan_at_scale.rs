//! The planning pipeline at scale, one run, reporting wall time and peak memory (RSS).
//!
//! ```text
//! cargo run --release -p pitr-core --example plan_at_scale -- --write DIR   # generate inputs
//! cargo run --release -p pitr-core --example plan_at_scale -- --read DIR    # measure
//! ```
//!
//! Measuring runs in a fresh process that reads the inputs from files, so the peak RSS is that
//! of reading pgBackRest's output and planning from it, not of generating it. The baseline
//! printed beside it, measured in the same run, is the process's RSS once the input texts are
//! read and before anything is parsed.
// Benchmark inputs are generated into a directory of the caller's choosing.
#![allow(clippy::disallowed_methods)]
// Measurement code: a panic is a failed run, and figures are approximate by nature.
#![allow(
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_wrap
)]

#[path = "../benches/synthetic/pipeline.rs"]
mod pipeline;
#[path = "../benches/synthetic/mod.rs"]
mod synthetic;

use std::time::Instant;

/// Peak resident set size of this process (`VmHWM`), KiB. (`getrusage`'s `ru_maxrss` keeps
/// the high-water mark of the process image before `exec`, e.g. `cargo run`'s.)
fn max_rss_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    if let Some(dir) = arg("--write") {
        let data = synthetic::generate(5_000, 4, 100_000);
        std::fs::create_dir_all(&dir).expect("create the output directory");
        std::fs::write(format!("{dir}/info.json"), &data.info).expect("write info.json");
        std::fs::write(format!("{dir}/listing.json"), &data.listing).expect("write listing.json");
        std::fs::write(format!("{dir}/target_time"), &data.target_time).expect("write target");
        return;
    }
    let dir = arg("--read").expect("usage: plan_at_scale --write DIR | --read DIR");
    let info = std::fs::read_to_string(format!("{dir}/info.json")).expect("read info.json");
    let listing = std::fs::read_to_string(format!("{dir}/listing.json")).expect("read listing");
    let target = std::fs::read_to_string(format!("{dir}/target_time")).expect("read target");
    let baseline = max_rss_kib();
    let t = Instant::now();
    let plan = pipeline::all(&info, &listing, target.trim());
    let elapsed = t.elapsed();
    let peak = max_rss_kib();
    let mib = |kib: i64| kib as f64 / 1024.0;
    println!(
        "inputs: info {:.1} MiB (5000 sets, 4 repos), listing {:.1} MiB (100000 WAL files)",
        info.len() as f64 / 1_048_576.0,
        listing.len() as f64 / 1_048_576.0
    );
    println!(
        "parse + window + select + plan: {:.1} ms (one run)",
        elapsed.as_secs_f64() * 1e3
    );
    println!(
        "peak RSS: {:.1} MiB; baseline (inputs read, nothing parsed): {:.1} MiB; planning added {:.1} MiB",
        mib(peak),
        mib(baseline),
        mib(peak - baseline)
    );
    if let pitr_core::plan::Summary::Restore(r) = &plan.summary {
        println!("chose {}", r.set);
    }
}
