//! Fuzz target `lsn`: see `pitr_core::fuzz::lsn`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitr_core::fuzz::lsn(data));
