//! Fuzz target `restore_request`: see `pitr_core::fuzz::restore_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitr_core::fuzz::restore_request(data));
