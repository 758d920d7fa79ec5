#!/usr/bin/env bash
# Build the fuzz targets with libFuzzer's coverage instrumentation (what cargo-fuzz passes, without
# a sanitizer, so the stable toolchain builds them), seed the corpus from the fixtures, and run one
# target.   usage: fuzz/run.sh TARGET [SECONDS] [more libFuzzer flags]     (fuzz/run.sh build: all)
set -euo pipefail
cd "$(dirname "$0")"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
if [ "${1:-}" = build ]; then
    exec nice -n 10 cargo build --release --locked --target x86_64-unknown-linux-gnu --bins
fi
target=$1
nice -n 10 cargo build --release --locked --target x86_64-unknown-linux-gnu --bin "$target"
[ -d corpus ] || ./seed.sh
mkdir -p "corpus/$target" "artifacts/$target"
# 2 GB of memory (and no single allocation above it) and 10 s per input: beyond that is a finding.
exec nice -n 10 "target/x86_64-unknown-linux-gnu/release/$target" "corpus/$target" -max_total_time="${2:-240}" \
    -rss_limit_mb=2048 -timeout=10 -artifact_prefix="artifacts/$target/" -print_final_stats=1 "${@:3}"
