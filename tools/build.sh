#!/usr/bin/env bash
# Configures and builds nextbatch into build/ (Release with debug info).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${NEXTBATCH_JOBS:-$(nproc)}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
test "${PIPESTATUS[0]}" -eq 0
