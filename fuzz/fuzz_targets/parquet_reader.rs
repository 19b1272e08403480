#![no_main]
//! See `teleseg::fuzzing::parquet_reader` for what this target checks beyond "no panic".

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| teleseg::fuzzing::parquet_reader(data));
