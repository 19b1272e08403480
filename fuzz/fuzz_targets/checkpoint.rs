#![no_main]
//! See `teleseg::fuzzing::checkpoint` for what this target checks beyond "no panic".

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| teleseg::fuzzing::checkpoint(data));
