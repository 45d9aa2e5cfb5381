#!/usr/bin/env bash
# Runs every cargo-fuzz target one after another for SECONDS each (default 60), seeded from and
# growing fuzz/corpus/<target>/. Needs `cargo install cargo-fuzz`. Works on the stable toolchain:
# RUSTC_BOOTSTRAP=1 lets it take the -Z flags cargo-fuzz passes (sancov, -Zsanitizer).
#   scripts/fuzz.sh [SECONDS]                  all targets
#   TARGETS="y4m recipe" scripts/fuzz.sh 300   some of them
#   FUZZ_SANITIZER=none scripts/fuzz.sh        without AddressSanitizer (if its build fails)
# Logs go to fuzz/logs/<target>.log; a crash stops the run with libFuzzer's artifact path.
set -euo pipefail
secs="${1:-60}"
cd "$(dirname "$0")/../fuzz"
targets="${TARGETS:-recipe model_json y4m bdrate_csv}"
sanitizer="${FUZZ_SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1 CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
command -v cargo-fuzz >/dev/null || { echo "fuzz.sh: cargo-fuzz missing: cargo install cargo-fuzz" >&2; exit 2; }
mkdir -p logs
for t in $targets; do
    mkdir -p "corpus/$t"
    echo "== $t: ${secs}s (sanitizer $sanitizer)"
    rc=0
    cargo fuzz run --sanitizer "$sanitizer" "$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 >"logs/$t.log" 2>&1 || rc=$?
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs|SUMMARY|thread .* panicked|.*Test unit written)' \
        "logs/$t.log" || true
    if [ "$rc" -ne 0 ]; then
        echo "fuzz.sh: target $t failed (exit $rc); see fuzz/logs/$t.log" >&2
        exit 1
    fi
done
