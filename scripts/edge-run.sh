#!/usr/bin/env bash
# Load benchmarks at the production edge, on this machine (loopback only), with a throwaway
# test CA made by openssl.
# Usage: scripts/edge-run.sh MODE BOTS [DURATION] [more bot-client options...]
#   MODE tls:   one release server with native TLS (--tls-cert); the bots play over wss://.
#   MODE nginx: nginx (deploy/nginx/ticksync.conf, TLS at nginx) in front of two release
#               nodes on a redis-server; the bots get seats from the matchmaker through nginx
#               (https://) and play through it on wss://.
# Prints the bot report, then the CPU (core-seconds per second over the whole run) of each
# server process, and the rooms with their nodes.
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: scripts/edge-run.sh tls|nginx BOTS [DURATION] [bot-client options...]"
mode=${1:?$usage}
bots=${2:?$usage}
duration=${3:-20s}
shift $(( $# >= 3 ? 3 : 2 ))
cargo build --release -q -p ticksync-reference -p bot-client

out=$(mktemp -d)
declare -a pids=()
cleanup() {
  # Killed outright: a SIGTERM would drain each node into the other as they go down.
  for p in "${pids[@]}"; do { kill -9 "$p" && wait "$p"; } 2>/dev/null || true; done
  rm -rf "$out"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A CA and a certificate it signs for 127.0.0.1 (a CA certificate cannot serve as the server's).
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -days 2 -subj /CN=ticksync-edge-ca -keyout "$out/ca.key" \
  -out "$out/ca.pem" 2>/dev/null
openssl req "${ec[@]}" -subj /CN=127.0.0.1 -keyout "$out/key.pem" -out "$out/leaf.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
  >"$out/leaf.ext"
openssl x509 -req -in "$out/leaf.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" -CAcreateserial \
  -days 2 -extfile "$out/leaf.ext" -out "$out/cert.pem" 2>/dev/null

start_server() { # name, args...
  local name=$1; shift
  target/release/ticksync --log warn "$@" ${TICKSYNC_ARGS:-} >"$out/$name.out" 2>"$out/$name.err" &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$out/$name.out" && return; sleep 0.1; done
  echo "$name did not start" >&2; exit 1
}
addr_of() { sed -n 's|.*://||p' "$out/$1.out" | head -1; }

case $mode in
  tls)
    start_server node --addr 127.0.0.1:0 --tls-cert "$out/cert.pem" --tls-key "$out/key.pem"
    bot_args=(--url "wss://$(addr_of node)/ws")
    rooms_url="https://$(addr_of node)/rooms"
    ;;
  nginx)
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
    pids+=($!)
    for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    port=$(free_port)
    for n in a b; do
      start_server "node-$n" --addr 127.0.0.1:0 --redis "redis://127.0.0.1:$redis_port" \
        --node-id "$n" --public-url "wss://127.0.0.1:$port/node/$n/ws" --trusted-proxy 127.0.0.1
    done
    sed -e "s|listen 443 ssl;|listen 127.0.0.1:$port ssl;|" \
      -e "s|/etc/ticksync/tls/fullchain.pem|$out/cert.pem|" \
      -e "s|/etc/ticksync/tls/privkey.pem|$out/key.pem|" \
      -e "s|127.0.0.1:9001|$(addr_of node-a)|" -e "s|127.0.0.1:9002|$(addr_of node-b)|" \
      deploy/nginx/ticksync.conf >"$out/site.conf"
    cat >"$out/nginx.conf" <<EOF
daemon off;
# One process (as one worker would be), so the cleanup's kill leaves no worker behind.
master_process off;
pid $out/nginx.pid;
error_log $out/nginx.err warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $out/body; proxy_temp_path $out/proxy; fastcgi_temp_path $out/fcgi;
  uwsgi_temp_path $out/uwsgi; scgi_temp_path $out/scgi;
  include $out/site.conf;
}
EOF
    /usr/sbin/nginx -e "$out/nginx.err" -p "$out" -c "$out/nginx.conf" &
    pids+=($!)
    for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
    bot_args=(--matchmake "https://127.0.0.1:$port")
    rooms_url="https://127.0.0.1:$port/rooms"
    ;;
  *) echo "$usage" >&2; exit 2 ;;
esac

# CPU of every process started above.
cpu_all() {
  for p in "${pids[@]}"; do
    [ -r "/proc/$p/stat" ] && echo "$p $(awk '{print $14 + $15}' "/proc/$p/stat")"
  done
}
name_of() { tr '\0' ' ' <"/proc/$1/cmdline" | awk '{print $1}' | xargs basename; }
hz=$(getconf CLK_TCK)
t0=$(date +%s.%N); cpu_all >"$out/cpu0"
target/release/bot-client "${bot_args[@]}" --ca-cert "$out/ca.pem" --bots "$bots" \
  --duration "$duration" "$@" || status=$?
t1=$(date +%s.%N); cpu_all >"$out/cpu1"
awk 'NR == FNR { a[$1] = $2; next } ($1 in a) { print $1, a[$1], $2 }' "$out/cpu0" "$out/cpu1" |
  while read -r p c0 c1; do
    echo "$(name_of "$p") (pid $p): cpu $(echo "($c1 - $c0) / $hz / ($t1 - $t0)" | bc -l | cut -c1-5) cores"
  done
curl -s --cacert "$out/ca.pem" "$rooms_url" | python3 -c \
  'import json,sys; [print(r.get("node", "-"), r["name"], r["players"], "players, tick p99", r["tick_p99_us"], "us") for r in json.load(sys.stdin)]'
exit "${status:-0}"
