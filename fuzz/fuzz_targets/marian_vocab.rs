#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    warta::fuzzing::marian_vocab(data, std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/marian/tiny-b/source.spm")), std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/marian/tiny-b/target.spm")));
});
