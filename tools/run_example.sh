#!/usr/bin/env bash
# Sets up, builds and runs nextbatch on the shipped example study (the DFKI pendulum logs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh
./build/tools/nextbatch ingest examples/dfki_pendulum/study.json -o out/dfki_pendulum
