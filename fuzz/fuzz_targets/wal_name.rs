//! Fuzz target `wal_name`: see `pitr_core::fuzz::wal_name`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitr_core::fuzz::wal_name(data));
