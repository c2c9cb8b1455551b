#!/usr/bin/env bash
# Sets up, builds and runs nextbatch on the DFKI pendulum's real logs, one study through every
# verb (examples/dfki_pendulum/swingup.json), each stage reading the set the one before it wrote:
# ingest four real runs (out/dfki_pendulum/ingest/), calibrate the simulator to the standard
# energy-shaping swing-up (calibrate/), simulate swing-up candidates under that fit's honest
# posterior (simulate/) and plan the next batch, counting the real swing-ups for coverage and
# judging their outcome on their logs (plan/). Replay scores the fit on the runs it did not see
# (replay/, with plots).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh nextbatch  # the command alone: the tests and benchmarks are tools/test.sh's
nb=./build/tools/nextbatch
study=examples/dfki_pendulum/swingup.json
out=out/dfki_pendulum
echo "== nextbatch ingest (the logs a team already has)"
$nb ingest $study -o $out
echo "== nextbatch calibrate (fit the simulator to them, with a posterior)"
$nb calibrate $study -o $out
echo "== nextbatch simulate (candidate scenarios under what is still uncertain)"
$nb simulate $study -o $out
echo "== nextbatch replay (the fit scored on the runs it was not fitted to)"
$nb replay $study -o $out --episodes gravcomp,energy_1kg,sac
echo "== nextbatch plan (the next batch: reuses the sets above)"
$nb plan $study -o $out
