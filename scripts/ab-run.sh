#!/usr/bin/env bash
# Side by side: the server CPU per delivered client-snapshot of two builds, alternated so that
# both see the same machine (2 shared cores: run them back to back, never alone).
# Usage: scripts/ab-run.sh DIR_A DIR_B BOTS [DURATION] [ROUNDS] [bot-client options...]
#   DIR_A, DIR_B: target directories holding release/ticksync and release/bot-client of each
#   build (e.g. target, and /tmp/base-target built from another commit with
#   `cargo build --release -p ticksync-reference -p bot-client --target-dir /tmp/base-target`).
#   TICKSYNC_ARGS passes options to both servers; TICKSYNC_ARGS_A, TICKSYNC_ARGS_B to one.
# Per run: snapshots/s p50 of the bots, server cores over the bots' measured window, and
# µs per client-snapshot = cores / (bots connected x rate p50) x 1e6. Then the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
a=${1:?usage: scripts/ab-run.sh DIR_A DIR_B BOTS [DURATION] [ROUNDS] [options...]}
b=${2:?usage}
bots=${3:?usage}
duration=${4:-20s}
rounds=${5:-3}
shift $(( $# >= 5 ? 5 : $# ))
extra=("$@")
ramp=5s

out=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$out"' EXIT
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
field() { tail -1 "$1" | sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" | grep . || echo null; }

run() {
  local dir=$1 tag=$2 args=$3
  "$dir/release/ticksync" --addr 127.0.0.1:0 --log warn ${TICKSYNC_ARGS:-} $args >"$out/server.out" &
  server=$!
  for _ in $(seq 100); do grep -q listening "$out/server.out" && break; sleep 0.1; done
  local addr
  addr=$(sed -n 's|.*http://||p' "$out/server.out" | head -1)
  "$dir/release/bot-client" --url "ws://$addr/ws" --bots "$bots" --duration "$duration" \
    --ramp "$ramp" --json ${extra[@]+"${extra[@]}"} >"$out/bots.json" 2>/dev/null &
  local bots_pid=$!
  # The bots measure from the end of the ramp plus their first second: sample the server then.
  sleep "$(echo "${ramp%s} + 1" | bc)"
  local t0 c0 t1 c1
  t0=$(date +%s.%N); c0=$(cpu "$server")
  wait "$bots_pid" || true
  t1=$(date +%s.%N); c1=$(cpu "$server")
  kill "$server"; wait "$server" 2>/dev/null || true; server=
  local rate connected cores us
  rate=$(field "$out/bots.json" snapshots_per_sec_p50)
  connected=$(field "$out/bots.json" bots_connected)
  cores=$(echo "($c1 - $c0) / $hz / ($t1 - $t0)" | bc -l)
  us=$(echo "$cores / ($connected * $rate) * 1000000" | bc -l)
  printf '%s  rate p50 %s  bots %s cores  server %.3f cores  %.2f us per client-snapshot\n' \
    "$tag" "$rate" "$(field "$out/bots.json" client_cpu_cores)" "$cores" "$us"
  echo "$us" >>"$out/$tag.us"
}

for i in $(seq "$rounds"); do
  run "$a" A "${TICKSYNC_ARGS_A:-}"
  run "$b" B "${TICKSYNC_ARGS_B:-}"
done
median() { sort -g "$1" | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
ma=$(median "$out/A.us"); mb=$(median "$out/B.us")
printf 'median us per client-snapshot: A %.2f  B %.2f  B/A %.3f\n' "$ma" "$mb" "$(echo "$mb / $ma" | bc -l)"
