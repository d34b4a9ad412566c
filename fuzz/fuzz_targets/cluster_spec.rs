//! Fuzz target `cluster_spec`: see `pitr_core::fuzz::cluster_spec`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitr_core::fuzz::cluster_spec(data));
