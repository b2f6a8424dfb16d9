#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time.
#   scripts/fuzz.sh [SECONDS_PER_TARGET (default 20)] [BUILD_DIR (default build-fuzz)] [all|build|run] [TARGET]
# Corpora are kept in BUILD_DIR/corpus/<target>, so later runs go deeper. Exit 1 on a finding.
# `build` only builds the targets, `run` only runs them (the test suite does the two as two tests, so
# that a slow build on a loaded machine does not eat the time of the runs; it runs each TARGET as a
# test of its own, side by side under ctest -j). An input that takes
# over 60 s is a finding (libFuzzer -timeout), so a hang ends with its input saved.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
dir=${2:-build-fuzz}
mode=${3:-all}
targets=(fuzz_escape fuzz_decode fuzz_broker_url fuzz_redis_envelope fuzz_id_journal fuzz_spool fuzz_syslog
  fuzz_json_input fuzz_follow_state fuzz_inflate)
[ $# -ge 4 ] && targets=("$4")
command -v clang++ >/dev/null || { echo "fuzz: clang++ is not installed (run scripts/install-deps.sh)" >&2; exit 1; }
if [ "$mode" != run ]; then
cmake -S . -B "$dir" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DLOGSHIP_FUZZ=ON -DBUILD_TESTING=OFF -DLOGSHIP_WERROR=ON >/dev/null
cmake --build "$dir" --target "${targets[@]}" >/dev/null
fi
[ "$mode" = build ] && { echo "fuzz: targets built in $dir"; exit 0; }
for target in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$target" "$dir/artifacts"
  echo "fuzz: $target for ${seconds}s"
  "$dir/bin/$target" -max_total_time="$seconds" -timeout=60 -max_len=4096 -print_final_stats=0 \
    -artifact_prefix="$dir/artifacts/$target-" "$dir/corpus/$target" tests/fuzz/seeds/$target 2>"$dir/$target.log" || {
    echo "fuzz: $target found a crash; see $dir/$target.log and $dir/artifacts/" >&2
    tail -30 "$dir/$target.log" >&2
    exit 1
  }
  grep -E "^#[0-9]+.*DONE" "$dir/$target.log" | tail -1 || true
done
echo "fuzz: no findings"
