#!/usr/bin/env bash
# The end-to-end load benchmark: a release server and N bots on this machine (loopback only).
# Usage: scripts/load-run.sh BOTS [DURATION] [more bot-client options...]
# Prints the bot report, then the server's CPU (core-seconds per second over the whole run,
# ramp included), peak RSS, and its /rooms line for arena.
set -euo pipefail
cd "$(dirname "$0")/.."
bots=${1:?usage: scripts/load-run.sh BOTS [DURATION] [bot-client options...]}
duration=${2:-20s}
shift $(( $# >= 2 ? 2 : 1 ))
cargo build --release -q -p ticksync-reference -p bot-client

out=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$out"' EXIT
target/release/ticksync --addr 127.0.0.1:0 --log warn ${TICKSYNC_ARGS:-} >"$out/server.out" &
server=$!
for _ in $(seq 100); do grep -q listening "$out/server.out" && break; sleep 0.1; done
addr=$(sed -n 's|.*http://||p' "$out/server.out" | head -1)

cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
hz=$(getconf CLK_TCK)
t0=$(date +%s.%N); c0=$(cpu)
target/release/bot-client --url "ws://$addr/ws" --bots "$bots" --duration "$duration" "$@" || status=$?
t1=$(date +%s.%N); c1=$(cpu)
rooms=$(curl -s "http://$addr/rooms" | tr -d ' \n')
echo "server: cpu $(echo "($c1 - $c0) / $hz / ($t1 - $t0)" | bc -l | cut -c1-5) cores," \
  "peak RSS $(awk '/VmHWM/ {print $2, $3}' "/proc/$server/status"), rooms $rooms"
exit "${status:-0}"
