#!/usr/bin/env bash
# Fails when a C++ file differs from clang-format's output (.clang-format at the root).
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files -co --exclude-standard -- '*.h' '*.cc' | grep -v '^build' || true)
bad=0
for f in $files; do
  [ -f "$f" ] || continue
  if ! clang-format --style=file "$f" | cmp -s - "$f"; then
    echo "not formatted: $f (run: clang-format -i $f)"
    bad=1
  fi
done
# ctest runs each doctest case by name, and CMake splits names at ';': such a case would run nothing.
if grep -nE 'TEST_CASE\("[^"]*;' $(git ls-files -co --exclude-standard -- 'tests/*.cc'); then
  echo "a TEST_CASE name above contains ';' (ctest would run nothing for it): use ',' instead"
  bad=1
fi
exit $bad
