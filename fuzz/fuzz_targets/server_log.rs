//! Fuzz target `server_log`: see `pitr_core::fuzz::server_log`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitr_core::fuzz::server_log(data));
