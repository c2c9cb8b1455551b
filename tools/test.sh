#!/usr/bin/env bash
# Sets up, checks formatting, builds and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/check_format.sh
bash tools/build.sh
cd build
ctest --output-on-failure -j "${NEXTBATCH_JOBS:-$(nproc)}"
