//! Fuzz target `target_time`: see `pitr_core::fuzz::target_time`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitr_core::fuzz::target_time(data));
