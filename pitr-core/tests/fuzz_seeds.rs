//! The fuzz smoke run of `make test`: every seed in `fuzz/seeds/<target>/` goes through its
//! fuzz target's function ([`pitr_core::fuzz`]), so a parser that panics on recorded or
//! once-crashing input fails here, without a nightly toolchain. `make fuzz` runs the same
//! targets under libFuzzer for longer.

use std::path::{Path, PathBuf};

use pitr_core::fuzz::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    out.sort();
    out
}

#[test]
fn every_seed_passes_through_its_target_without_a_panic() {
    for (name, target) in TARGETS {
        let seeds = files(&fuzz_dir().join("seeds").join(name));
        assert!(!seeds.is_empty(), "fuzz/seeds/{name} holds no seed");
        for seed in seeds {
            let data = std::fs::read(&seed).expect("a readable seed");
            target(&data);
            // Every prefix too: truncated input is the commonest hostile input.
            for end in (0..data.len()).step_by(data.len() / 64 + 1) {
                target(&data[..end]);
            }
        }
    }
}

#[test]
fn every_target_has_seeds_and_a_cargo_fuzz_binary() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    for name in &names {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml lacks the target {name}"
        );
        let source = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&source)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", source.display()));
        assert!(
            text.contains(&format!("pitr_core::fuzz::{name}(")),
            "{} does not call pitr_core::fuzz::{name}",
            source.display()
        );
    }
    for dir in files(&fuzz_dir().join("seeds")) {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        assert!(
            names.contains(&name.as_str()),
            "fuzz/seeds/{name} has no target"
        );
    }
}
