#!/usr/bin/env bash
# Sets up, builds and runs nextbatch on the shipped example studies of the DFKI pendulum: ingest
# the gravity-compensation run into out/dfki_pendulum/ingest/, calibrate the simulator to it from
# that set (out/dfki_pendulum/calibrate/), simulate swing-up candidates under uncertainty
# (out/pendulum_swingup/simulate/) and plan a first batch from them (out/pendulum_swingup/plan/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh
nb=./build/tools/nextbatch
echo "== nextbatch ingest (the logs a team already has)"
$nb ingest examples/dfki_pendulum/calibrate_gravcomp.json -o out/dfki_pendulum
echo "== nextbatch calibrate (fit the simulator to them, with a posterior)"
$nb calibrate examples/dfki_pendulum/calibrate_gravcomp.json -o out/dfki_pendulum
echo "== nextbatch simulate (candidate scenarios under what is still uncertain)"
$nb simulate examples/pendulum_swingup/study.json -o out/pendulum_swingup
echo "== nextbatch plan (the next batch: reuses the simulate set above)"
$nb plan examples/pendulum_swingup/study.json -o out/pendulum_swingup
