//! Fuzz target `timeline_history`: see `pitr_core::fuzz::timeline_history`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitr_core::fuzz::timeline_history(data));
