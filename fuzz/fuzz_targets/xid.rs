//! Fuzz target `xid`: see `pitr_core::fuzz::xid`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitr_core::fuzz::xid(data));
