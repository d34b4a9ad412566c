//! Fuzz target `repo_listing`: see `pitr_core::fuzz::repo_listing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitr_core::fuzz::repo_listing(data));
