#!/usr/bin/env bash
# Fuzz smoke test (CI): every cargo-fuzz target in fuzz/ runs for a short time, starting from the
# committed seeds (fuzz/seeds/<target>); any crash, panic, failed property or hang fails the script.
#
# Works with the stable toolchain alone: cargo-fuzz needs nightly only for sanitizers, so the
# smoke runs with `--sanitizer none` (libFuzzer's coverage instrumentation is stable). Debug
# assertions and overflow checks are on (`-a`), as in the tests. The long runs documented in
# fuzz/README.md used ASan on nightly; set FUZZ_SANITIZER=address to do that here (needs nightly).
#
#   FUZZ_SECONDS    seconds per target (default 20)
#   FUZZ_TARGETS    space-separated targets (default: all, from `cargo fuzz list`)
#   FUZZ_SANITIZER  none (default) or address (then runs `cargo +nightly fuzz`)
#   CARGO_TARGET_DIR  honoured; otherwise fuzz/target
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-20}"
sanitizer="${FUZZ_SANITIZER:-none}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cargo=(cargo)
if [ "$sanitizer" != none ]; then
    if ! rustup toolchain list | grep -q '^nightly'; then
        echo "FUZZ_SANITIZER=$sanitizer needs a nightly toolchain; none is installed" >&2
        exit 1
    fi
    cargo=(cargo +nightly)
fi

# fuzz/ is its own workspace, so without CARGO_TARGET_DIR cargo builds into fuzz/target.
flags=(--sanitizer "$sanitizer" --debug-assertions)

targets="${FUZZ_TARGETS:-$("${cargo[@]}" fuzz list)}"
"${cargo[@]}" fuzz build "${flags[@]}"

for target in $targets; do
    corpus="fuzz/corpus/$target"   # working corpus (git-ignored); the seeds are only read
    mkdir -p "$corpus"
    echo "== fuzz $target: ${seconds}s from fuzz/seeds/$target"
    "${cargo[@]}" fuzz run "${flags[@]}" "$target" "$corpus" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 ||
        { echo "fuzz target $target FAILED: reproducer in fuzz/artifacts/$target/" >&2; exit 1; }
done
echo "fuzz smoke: all targets ran ${seconds}s without a crash"
