#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    warta::fuzzing::within_cpu_budget(|| warta::fuzzing::pytorch_bin(data));
});
