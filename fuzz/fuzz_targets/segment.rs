#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    warta::fuzzing::segment(&String::from_utf8_lossy(data));
});
