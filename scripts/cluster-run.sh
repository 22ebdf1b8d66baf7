#!/usr/bin/env bash
# The cluster load benchmark: a redis-server, three release nodes and BOTS bots that get their
# seats from node 1's matchmaker, all on this machine (loopback only).
# Usage: scripts/cluster-run.sh MODE BOTS [DURATION] [more bot-client options...]
#   MODE steady:  the bots play for DURATION.
#   MODE kill:    5 s into the measured time, node 2 is killed (kill -9).
#   MODE rolling: 3 s into the measured time, each node in turn gets SIGTERM (it drains: its
#                 rooms go on on the others), is started again on the same port, and the next
#                 goes 3 s after it is back.
# Prints the bot report, then every room with its node (GET /rooms).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: scripts/cluster-run.sh steady|kill|rolling BOTS [DURATION] [bot options...]}
bots=${2:?usage: scripts/cluster-run.sh MODE BOTS [DURATION] [bot options...]}
duration=${3:-20s}
shift $(( $# >= 3 ? 3 : 2 ))
cargo build --release -q -p ticksync-reference -p bot-client

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
out=$(mktemp -d)
declare -a pids ports
cleanup() {
  for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done
  kill "${redis:-}" 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$out/redis.out" &
redis=$!
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

start_node() { # index
  local i=$1
  target/release/ticksync --addr "127.0.0.1:${ports[$i]}" --log warn \
    --redis "redis://127.0.0.1:$redis_port" --node-id "node-$i" ${TICKSYNC_ARGS:-} \
    >"$out/node-$i.out" 2>>"$out/node-$i.err" &
  pids[$i]=$!
  for _ in $(seq 100); do grep -q listening "$out/node-$i.out" && return; sleep 0.1; done
  echo "node $i did not start" >&2; exit 1
}
for i in 1 2 3; do ports[$i]=$(free_port); start_node "$i"; done

target/release/bot-client --matchmake "http://127.0.0.1:${ports[1]}" --bots "$bots" \
  --duration "$duration" "$@" >"$out/bots.out" &
bots_pid=$!
ramp_s=$(echo "$*" | sed -n 's/.*--ramp \([0-9.]*\)s.*/\1/p'); ramp_s=${ramp_s:-1}

case $mode in
  steady) ;;
  kill)
    sleep "$(echo "$ramp_s + 5" | bc)"
    echo "kill -9 node 2 at $(date +%T.%N | cut -c1-12)" >&2
    kill -9 "${pids[2]}"
    ;;
  rolling)
    sleep "$(echo "$ramp_s + 3" | bc)"
    for i in 1 2 3; do
      echo "SIGTERM node $i at $(date +%T.%N | cut -c1-12)" >&2
      kill -TERM "${pids[$i]}"
      wait "${pids[$i]}" || true
      : >"$out/node-$i.out"
      start_node "$i"
      echo "node $i back at $(date +%T.%N | cut -c1-12)" >&2
      sleep 3
    done
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
wait "$bots_pid" || status=$?
cat "$out/bots.out"
live=1; [ "$mode" = kill ] && live=3
curl -s "http://127.0.0.1:${ports[$live]}/rooms" |
  python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print("  %-8s %-24s players %4d tick %d" % (r["node"], r["name"], r["players"], r["tick"]))
'
exit "${status:-0}"
