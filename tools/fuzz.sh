#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, AddressSanitizer, UndefinedBehaviorSanitizer)
# into build-fuzz/ and runs each for NEXTBATCH_FUZZ_SECONDS (default 30) on a copy of its seed
# corpus, tests/fuzz/corpus/<target>. Fails when any target crashes, leaks, trips a sanitizer,
# exceeds 2 GB or spends over 10 s on one input; the input that did it is kept under
# build-fuzz/artifacts/ and belongs in the corpus as a regression case once fixed.
#
# Environment: NEXTBATCH_JOBS (targets run at once and build jobs, default: all CPUs);
# NEXTBATCH_FUZZ_SECONDS; NEXTBATCH_FUZZ_TARGETS (a space-separated subset).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${NEXTBATCH_JOBS:-$(nproc)}"
seconds="${NEXTBATCH_FUZZ_SECONDS:-30}"
targets=(${NEXTBATCH_FUZZ_TARGETS:-study episode_json episode_csv importer csv_table})

start=$SECONDS
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DNEXTBATCH_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" >/dev/null
cmake --build build-fuzz -j "$jobs" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
test "${PIPESTATUS[0]}" -eq 0
echo "fuzz: build $((SECONDS - start)) s"

# The targets write their input to a scratch file; on tmpfs that costs microseconds, on ext4
# (which flushes a truncated-and-rewritten file on close) a millisecond or more per input. A
# target that crashes exits without removing its scratch folder: TMPDIR puts it under $work.
base=/tmp
if [ -d /dev/shm ] && [ -w /dev/shm ]; then base=/dev/shm; fi
work=$(mktemp -d -p "$base")
trap 'rm -rf "$work"' EXIT
export TMPDIR="$work/scratch"
mkdir -p "$TMPDIR"
artifacts="$PWD/build-fuzz/artifacts"
mkdir -p "$artifacts"

run() {  # run <target>: fuzz on a copy of the corpus into $work/<target>.log and .rc
  local t=$1 rc=0
  cp -r "tests/fuzz/corpus/$t" "$work/$t"
  build-fuzz/tests/fuzz/"${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$t-" "$work/$t" >"$work/$t.log" 2>&1 ||
    rc=$?
  echo "$rc" >"$work/$t.rc"
}

start=$SECONDS
failed=()
pids=()
for t in "${targets[@]}"; do
  run "$t" &
  pids+=($!)
  if ((${#pids[@]} >= jobs)); then
    wait "${pids[0]}" || true
    pids=("${pids[@]:1}")
  fi
done
wait || true
for t in "${targets[@]}"; do
  # libFuzzer prints "Done N runs" only when the time ran out without a finding.
  if [ "$(cat "$work/$t.rc" 2>/dev/null)" = 0 ] && grep -q "^Done [0-9]* runs" "$work/$t.log"; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
    echo "fuzz: $t: $execs inputs in ${seconds} s, no finding"
  else
    failed+=("$t")
    echo "fuzz: $t FAILED; its log:"
    grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|INITED)' "$work/$t.log" | tail -60
  fi
done
echo "fuzz: run $((SECONDS - start)) s"
if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]} (inputs under $artifacts)"
  exit 1
fi
