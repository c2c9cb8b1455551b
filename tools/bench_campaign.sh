#!/usr/bin/env bash
# The campaign bench (docs/campaigns.md): the pendulum swing-up against its hidden world, every
# strategy, the study's campaign section (10 seeds, 2 rounds) unless arguments override it, e.g.
#   bash tools/bench_campaign.sh --seeds 3 --strategies planner,random
# Prints the episodes-to-target table (the ratio to uniform random is the headline) and the
# wall time; writes out/bench_campaign/pendulum_swingup/.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${NEXTBATCH_BIN:-build/tools/nextbatch}"
out="${NEXTBATCH_BENCH_OUT:-out/bench_campaign}"
start=$(date +%s)
"$bin" campaign examples/pendulum_swingup/campaign_study.json \
  --reality examples/pendulum_swingup/world.json -o "$out/pendulum_swingup" "$@"
echo "pendulum_swingup: $(( $(date +%s) - start )) s wall"
