//! `cargo +nightly fuzz run weight_file`: the safetensors loader on arbitrary bytes.
#![no_main]

mod exercise;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    exercise::exercise(bytes);
});
