#!/usr/bin/env bash
# Sets up, builds and runs nextbatch on the shipped example studies of the DFKI pendulum:
# ingest its six real runs, calibrate the simulator to the gravity-compensation run, and
# simulate swing-up candidates under uncertainty. Outputs go to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh
nb=./build/tools/nextbatch
echo "== nextbatch ingest (the logs a team already has)"
$nb ingest examples/dfki_pendulum/study.json -o out/dfki_pendulum
echo "== nextbatch calibrate (fit the simulator to one run, with a posterior)"
$nb calibrate examples/dfki_pendulum/calibrate_gravcomp.json -o out/dfki_pendulum
echo "== nextbatch simulate (candidate scenarios under what is still uncertain)"
$nb simulate examples/pendulum_swingup/study.json -o out/pendulum_swingup
