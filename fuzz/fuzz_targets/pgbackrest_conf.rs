//! Fuzz target `pgbackrest_conf`: see `pitr_core::fuzz::pgbackrest_conf`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitr_core::fuzz::pgbackrest_conf(data));
