#!/usr/bin/env bash
# The campaign bench (docs/campaigns.md): each shipped campaign study against its hidden world,
# every strategy, the study's campaign section (10 seeds, 2 rounds) unless arguments override it:
#   bash tools/bench_campaign.sh                         # every world
#   NEXTBATCH_WORLDS=dfki_double_pendulum_a0 bash tools/bench_campaign.sh --seeds 3
#   NEXTBATCH_WORLDS=vx300s_tabletop bash tools/bench_campaign.sh   # the contact world: nothing
#                                                  # fitted, failure regions and outcome error only
# Prints the episodes-to-target table of each (the ratio to uniform random is the headline) and
# its wall time; writes out/bench_campaign/<world>/. Rerunning reuses every finished round.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${NEXTBATCH_BIN:-build/tools/nextbatch}"
out="${NEXTBATCH_BENCH_OUT:-out/bench_campaign}"
worlds="${NEXTBATCH_WORLDS:-pendulum_swingup dfki_double_pendulum_a0 vx300s_tabletop}"
for world in $worlds; do
  start=$(date +%s)
  "$bin" campaign "examples/$world/campaign_study.json" \
    --reality "examples/$world/world.json" -o "$out/$world" "$@"
  echo "$world: $(( $(date +%s) - start )) s wall"
done
