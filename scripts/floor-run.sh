#!/usr/bin/env bash
# The floor benchmark: ticksync's server CPU per client per tick against the least a server of
# its shape spends on this machine (`floor serve`: one write and one read per client per tick).
# Usage: scripts/floor-run.sh CLIENTS [DURATION]
#   TICKSYNC_ARGS: extra server flags; BOT_ARGS: extra bot-client flags, e.g.
#   BOT_ARGS="--game arena-large --room large" scripts/floor-run.sh 1000
#   (ADDR in BOT_ARGS stands for the server's HOST:PORT: BOT_ARGS="--matchmake http://ADDR")
#   INPUT_RATE: inputs per client a second for both the bots and the floor's clients (so both
#   servers read as many messages); by default one per tick.
#   VERIFY: the share of bots that apply and check every snapshot (bot-client --verify); the
#   others read in batches once per input, and so do as many of the floor's clients (floor
#   clients --eager-readers), so both servers' sockets see the same reads and acks.
#   The lean load: INPUT_RATE=20 VERIFY=0.05 scripts/floor-run.sh 1000
# Runs back to back, each on a free loopback port:
#   a. ticksync and CLIENTS bots, as `scripts/load-run.sh CLIENTS DURATION --ramp 5s --json` does;
#   b. `floor serve` with ticksync's mean snapshot size, and `floor clients` with the same count,
#      ramp and duration.
# Server CPU is measured both ways for both servers: over the whole client run, ramp and stop
# included (load-run.sh's figure), and over the clients' measured window after the ramp (the
# window the delivered rates come from: the like-for-like one, since during the ramp fewer
# clients are connected). µs per client-tick = cores / (clients connected x delivered rate p50).
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:?usage: scripts/floor-run.sh CLIENTS [DURATION]}
duration=${2:-20s}
ramp=5s
# ROUNDS=N: N pairs back to back (this machine's runs differ by up to 1.6x at 2,000 clients),
# each printed, then the median ratio over the measured windows.
if [[ ${ROUNDS:-1} -gt 1 ]]; then
  ratios=()
  for round in $(seq "$ROUNDS"); do
    echo "== round $round of $ROUNDS"
    result=$(ROUNDS=1 "$0" "$@") || status=$?
    echo "$result" | tail -7
    ratios+=("$(echo "$result" | sed -n 's/^  ticksync \/ floor .* \([0-9.]*\)x$/\1/p')")
  done
  median=$(printf '%s\n' "${ratios[@]}" | grep . | sort -n |
    awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
  echo "ticksync / floor over $ROUNDS rounds (measured windows): ${ratios[*]}; median ${median:-?}x"
  exit "${status:-0}"
fi
[[ $clients =~ ^[1-9][0-9]*$ ]] || { echo "floor-run: CLIENTS must be a positive integer" >&2; exit 2; }

# Seconds in a duration like 20s, 1m30s or 500ms: the subset of humantime the sampler needs.
seconds() {
  local rest=$1 total=0 n unit
  [[ $rest =~ ^([0-9]+(ms|s|m|h))+$ ]] ||
    { echo "floor-run: duration $1: use a form like 20s, 1m30s or 500ms" >&2; return 1; }
  while [[ $rest =~ ^([0-9]+)(ms|s|m|h)(.*)$ ]]; do
    n=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]} rest=${BASH_REMATCH[3]}
    case $unit in
      ms) total=$(echo "$total + $n / 1000" | bc -l) ;;
      s) total=$(echo "$total + $n" | bc -l) ;;
      m) total=$(echo "$total + $n * 60" | bc -l) ;;
      h) total=$(echo "$total + $n * 3600" | bc -l) ;;
    esac
  done
  echo "$total"
}
ramp_s=$(seconds "$ramp")
duration_s=$(seconds "$duration")

cargo build --release -q -p ticksync-reference -p bot-client

out=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$out"' EXIT

hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Top-level field $2 of the JSON object on the last line of file $1 (`null` if absent).
field() { tail -1 "$1" | sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" | grep . || echo null; }

# Starts server $1 (command "${@:2}", stdout to $out/$1.out), waits for its `listening` line
# and sets `server` to its pid.
start_server() {
  local name=$1; shift
  "$@" >"$out/$name.out" &
  server=$!
  pids+=("$server")
  for _ in $(seq 100); do grep -q listening "$out/$name.out" && return 0; sleep 0.1; done
  echo "floor-run: $name did not start listening within 10 s" >&2
  exit 1
}

# Runs the client command "${@:2}" against the server started last, its JSON to $out/$1.json,
# and sets whole_cores (client run, as load-run.sh) and window_cores (after the ramp). A failed
# client run is noted in `status` and reported, as load-run.sh does.
load_server() {
  local name=$1; shift
  local t0 c0 t1 c1
  t0=$(date +%s.%N); c0=$(cpu "$server")
  # The measured window: from the end of the ramp, for the duration, as the clients time it.
  (
    sleep "$ramp_s"; echo "$(date +%s.%N) $(cpu "$server")"
    sleep "$duration_s"; echo "$(date +%s.%N) $(cpu "$server")"
  ) >"$out/$name.window" 2>/dev/null &
  local sampler=$!
  "$@" >"$out/$name.json" || status=${status:-$?}
  t1=$(date +%s.%N); c1=$(cpu "$server")
  wait "$sampler" || true
  whole_cores=$(awk -v c="$((c1 - c0))" -v hz="$hz" -v t="$(echo "$t1 - $t0" | bc -l)" \
    'BEGIN { printf "%.3f", c / hz / t }')
  window_cores=$(awk -v hz="$hz" 'NR == 1 { t = $1; c = $2 } NR == 2 { n = 2; t = $1 - t; c = $2 - c }
    END { if (n == 2 && t > 0) printf "%.3f", c / hz / t; else printf "-" }' "$out/$name.window")
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}

# a. ticksync: the same server and bot command lines as load-run.sh.
bot_args=${BOT_ARGS:-}
start_server ticksync target/release/ticksync --addr 127.0.0.1:0 --log warn ${TICKSYNC_ARGS:-}
addr=$(sed -n 's|.*http://||p' "$out/ticksync.out" | head -1)
load_server ticksync target/release/bot-client --url "ws://$addr/ws" --bots "$clients" \
  --duration "$duration" --ramp "$ramp" --json ${INPUT_RATE:+--input-rate "$INPUT_RATE"} \
  ${VERIFY:+--verify "$VERIFY"} ${bot_args//ADDR/$addr}
ts_whole=$whole_cores ts_window=$window_cores
ts_connected=$(field "$out/ticksync.json" bots_connected)
ts_rate=$(field "$out/ticksync.json" snapshots_per_sec_p50)
ts_rate_min=$(field "$out/ticksync.json" snapshots_per_sec_min)
snapshot_bytes=$(field "$out/ticksync.json" bytes_per_snapshot)
echo "ticksync bots: $(tail -1 "$out/ticksync.json")"
if [[ $snapshot_bytes == null ]]; then
  echo "floor-run: the bots received no snapshots, so there is no size for the floor" >&2
  exit 1
fi
# The WebSocket payload: ticksync's 2-4 byte frame header is left out.
bytes=$(printf '%.0f' "$snapshot_bytes")

# b. The floor, with the same message size, clients, ramp and duration.
start_server floor target/release/floor serve --addr 127.0.0.1:0 --bytes "$bytes" --tick-rate 60
addr=$(sed -n 's/^listening on //p' "$out/floor.out" | head -1)
load_server floor target/release/floor clients --addr "$addr" --clients "$clients" \
  --duration "$duration" --ramp "$ramp" --tick-rate 60 --bytes "$bytes" \
  ${INPUT_RATE:+--input-rate "$INPUT_RATE"} ${VERIFY:+--eager-readers "$VERIFY"}
fl_whole=$whole_cores fl_window=$window_cores
fl_connected=$(field "$out/floor.json" clients_connected)
fl_rate=$(field "$out/floor.json" messages_per_sec_p50)
fl_rate_min=$(field "$out/floor.json" messages_per_sec_min)
echo "floor clients: $(tail -1 "$out/floor.json")"
bot_us=$(field "$out/ticksync.json" client_us_per_snapshot)
fl_client_cores=$(field "$out/floor.json" client_cpu_cores)

# µs of server CPU per client-tick: cores / (clients connected x delivered rate) x 1e6.
per_tick() {
  awk -v c="$1" -v n="$2" -v r="$3" \
    'BEGIN { if (c != "-" && n > 0 && r > 0) printf "%.2f", c / (n * r) * 1e6; else printf "-" }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2fx", a / b; else printf "-" }'; }
ts_us_whole=$(per_tick "$ts_whole" "$ts_connected" "$ts_rate")
ts_us_window=$(per_tick "$ts_window" "$ts_connected" "$ts_rate")
fl_us_whole=$(per_tick "$fl_whole" "$fl_connected" "$fl_rate")
fl_us_window=$(per_tick "$fl_window" "$fl_connected" "$fl_rate")

echo "floor run: $clients clients, $duration measured after a $ramp ramp, $bytes-byte snapshots at 60 Hz"
row() { printf '  %-18s %-10s %-10s %-10s %-16s %-10s %s\n' "$@"; }
row "" "connected" "cores" "cores" "delivered/s" "µs/client-tick" ""
row "" "" "whole run" "measured" "p50 (min)" "whole run" "measured"
row ticksync "$ts_connected" "$ts_whole" "$ts_window" "$ts_rate ($ts_rate_min)" "$ts_us_whole" "$ts_us_window"
row floor "$fl_connected" "$fl_whole" "$fl_window" "$fl_rate ($fl_rate_min)" "$fl_us_whole" "$fl_us_window"
row "ticksync / floor" "" "" "" "" "$(ratio "$ts_us_whole" "$fl_us_whole")" "$(ratio "$ts_us_window" "$fl_us_window")"
fl_client_us=$(per_tick "$fl_client_cores" "$fl_connected" "$fl_rate")
echo "  load generators: bot-client $bot_us µs per snapshot, floor clients $fl_client_us µs per message" \
  "(${INPUT_RATE:-60} inputs a second each, ${VERIFY:-1} verifying / reading eagerly)"
exit "${status:-0}"
