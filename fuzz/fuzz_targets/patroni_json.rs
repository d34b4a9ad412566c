//! Fuzz target `patroni_json`: see `pitr_core::fuzz::patroni_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitr_core::fuzz::patroni_json(data));
