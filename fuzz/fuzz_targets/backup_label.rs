//! Fuzz target `backup_label`: see `pitr_core::fuzz::backup_label`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitr_core::fuzz::backup_label(data));
