//! Fuzz target `info_json`: see `pitr_core::fuzz::info_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitr_core::fuzz::info_json(data));
