#!/usr/bin/env bash
# What players feel over a network, measured with bots: for each round trip (0, 50, 150 ms,
# simulated on the server with jitter), skirmish bots' hitscan hit rate with lag compensation
# and without (--max-rewind 0ms), and the own-player prediction's corrections and errors.
# Usage: scripts/feel-run.sh [BOTS] [DURATION] [GAME]   (defaults: 20 30s skirmish)
# Prints one line per case. The browser's side: `node client/bench/feel.mjs`.
set -euo pipefail
cd "$(dirname "$0")/.."
bots=${1:-20}
duration=${2:-30s}
game=${3:-skirmish}
cargo build --release -q -p ticksync-reference -p bot-client

field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1" | head -1; }
counter() { sed -n "s/.*\"counters\":{[^}]*\"$2\":\([0-9]*\).*/\1/p" <<<"$1"; }

# One-way latency and jitter: 0 / 50 / 150 ms round trips.
for net in "0ms 0ms" "25ms 5ms" "75ms 10ms"; do
  read -r latency jitter <<<"$net"
  for rewind in 200ms 0ms; do
    report=$(TICKSYNC_ARGS="--game $game --simulate-latency $latency --simulate-jitter $jitter --max-rewind $rewind" \
      scripts/load-run.sh "$bots" "$duration" --ramp 2s --json 2>/dev/null | grep '^{' | tail -1)
    shots=$(counter "$report" hitscan_shots); hits=$(counter "$report" hitscan_hits)
    rate=-
    [ -n "$shots" ] && [ "${shots:-0}" -gt 0 ] && rate=$(echo "scale=3; $hits / $shots" | bc)
    prediction=$(sed -n 's/.*"prediction":{\([^}]*\)}.*/\1/p' <<<"$report")
    printf '%s: latency %s jitter %s each way, max-rewind %s: rtt p50 %s ms, snapshots/s %s, hitscan %s/%s = %s, prediction {%s}\n' \
      "$game" "$latency" "$jitter" "$rewind" "$(field "$report" rtt_ms_p50)" \
      "$(field "$report" snapshots_per_sec_p50)" "${hits:--}" "${shots:--}" "$rate" "$prediction"
    # Rewinding matters only where something is rewound: one run per network for other games.
    [ -z "$shots" ] && break
  done
done
