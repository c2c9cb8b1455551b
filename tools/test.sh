#!/usr/bin/env bash
# The test command: sets up, checks formatting, builds, runs the unit tests, the sanitizer build
# (tools/sanitize.sh), the fuzz targets (tools/fuzz.sh) and every shipped study end to end
# (ctest label e2e: tests/pipeline/examples_test.cc), in that order, printing each phase's time. Any failing phase fails the script. Budget on a 2-core
# machine: about 10 minutes for build and tests, 20 for the sanitizer phase, 3 for fuzzing and 5
# end to end; 40 in all.
#
# Environment: NEXTBATCH_QUICK=1 skips the slow phases (sanitizer, fuzz, end to end) for local
# iteration; CI leaves it unset and runs everything. NEXTBATCH_JOBS: parallel jobs (default: all
# CPUs).
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXTBATCH_JOBS="${NEXTBATCH_JOBS:-$(nproc)}"
quick="${NEXTBATCH_QUICK:-0}"
times=()
total_start=$SECONDS

phase() {  # phase <name> <slow: 0|1> <command...>
  local name=$1 slow=$2 start=$SECONDS
  shift 2
  if [ "$slow" = 1 ] && [ "$quick" = 1 ]; then
    times+=("$(printf '%-12s skipped (NEXTBATCH_QUICK=1)' "$name")")
    return
  fi
  echo "== $name"
  if ! "$@"; then
    echo "== $name FAILED after $((SECONDS - start)) s"
    ((${#times[@]})) && printf '%s\n' "${times[@]}"
    exit 1
  fi
  times+=("$(printf '%-12s %5d s' "$name" $((SECONDS - start)))")
  echo "== $name: $((SECONDS - start)) s"
}

# The unit tests leave out the label e2e: every shipped study through every verb, real calibrations
# included, is the end-to-end phase.
unit_tests() { (cd build && ctest --output-on-failure -j "$NEXTBATCH_JOBS" -LE e2e); }
end_to_end() { (cd build && ctest --output-on-failure -j "$NEXTBATCH_JOBS" -L e2e); }

phase setup 0 bash tools/setup.sh
phase format 0 bash tools/check_format.sh
phase build 0 bash tools/build.sh
phase tests 0 unit_tests
phase sanitizer 1 bash tools/sanitize.sh
phase fuzz 1 bash tools/fuzz.sh
phase end-to-end 1 end_to_end

echo "== times"
printf '%s\n' "${times[@]}"
printf '%-12s %5d s\n' total $((SECONDS - total_start))
