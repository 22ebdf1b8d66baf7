#!/usr/bin/env bash
# The chaos run: release nodes, a redis-server and bot-client bots (through the matchmaker),
# all on this machine (loopback only), while processes are killed and restarted under them.
# Usage: scripts/chaos-run.sh SCENARIO BOTS [DURATION] [more bot-client options...]
#   random      three nodes; from 5 s in until 10 s before the end, one event at a time every
#               4-8 s (seed: CHAOS_SEED): kill -9 a node and start it again 1-2 s later, SIGTERM
#               a node and start it again when it has exited, or kill -9 Redis and start it
#               again (empty: no persistence) 2-4 s later.
#   kill        three nodes; KILL_AT (20 s) after the bots start, the node (not the
#               matchmaker's) holding the most rooms gets kill -9 and stays down.
#   redis       three nodes; REDIS_AT (10 s) after the bots start Redis is killed for REDIS_DOWN
#               (10 s), then started again empty; a probe asks node 1's matchmaker for a seat
#               every 250 ms throughout.
#   standalone  one node with --state-dir; at a third of the run SIGTERM and a restart, at two
#               thirds kill -9 and a restart RESTART_AFTER (1 s) later. No Redis.
# Nodes run with --room-grace 2s (and TICKSYNC_ARGS), so that what is left over after the
# bots stop can be read a few seconds later.
# Prints the events, the bot report (players recovered and changed, recovery times,
# mismatches, snapshot rates), and what was left over: rooms per node and Redis keys.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n '2,20p' "$0"; exit 2; }
cargo build --release -q -p ticksync-reference -p bot-client
exec python3 - "$@" <<'PY'
import json, os, random, shlex, socket, subprocess, sys, tempfile, threading, time
import urllib.request, urllib.error

scenario, bots = sys.argv[1], int(sys.argv[2])
duration = sys.argv[3] if len(sys.argv) > 3 else "45s"
extra = sys.argv[4:]
secs = float(duration.rstrip("s"))
if scenario not in ("random", "kill", "redis", "standalone"):
    sys.exit(f"unknown scenario {scenario}")
env = lambda k, d: float(os.environ.get(k, d))
out = tempfile.mkdtemp(prefix="chaos-")
t0 = None
events = []

def log(what):
    t = 0.0 if t0 is None else time.monotonic() - t0
    events.append((t, what))
    print(f"[{t:6.2f}s] {what}", file=sys.stderr, flush=True)

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def http(method, port, path, body=None, timeout=2.0):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=body.encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)
    except Exception as e:
        return None, str(e), {}

class Redis:
    def __init__(self):
        self.port = free_port(); self.proc = None
    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"],
                                     stdout=open(f"{out}/redis.out", "a"), stderr=subprocess.STDOUT)
        for _ in range(100):
            if self.cli("ping") == "PONG": return
            time.sleep(0.05)
        sys.exit("redis-server did not start")
    def kill(self):
        self.proc.kill(); self.proc.wait()
    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True)
        return r.stdout.strip()
    @property
    def url(self): return f"redis://127.0.0.1:{self.port}"

class Node:
    def __init__(self, i, args):
        self.i, self.port, self.args, self.proc = i, free_port(), args, None
    def start(self):
        cmd = ["target/release/ticksync", "--addr", f"127.0.0.1:{self.port}", "--log", "warn",
               "--room-grace", "2s", *self.args, *shlex.split(os.environ.get("TICKSYNC_ARGS", ""))]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                                     stderr=open(f"{out}/node-{self.i}.err", "a"))
        line = self.proc.stdout.readline()
        if "listening" not in line:
            sys.exit(f"node {self.i} did not start: {line!r} (see its log: {out}/node-{self.i}.err)")
        # Keep reading its stdout so that it never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
    def alive(self): return self.proc is not None and self.proc.poll() is None
    def rooms(self, everyone=False):
        """Its own rooms (in a cluster `/rooms` lists every node's), or every node's."""
        status, body, _ = http("GET", self.port, "/rooms")
        rooms = json.loads(body) if status == 200 else []
        return [r for r in rooms if everyone or r.get("node", f"node-{self.i}") == f"node-{self.i}"]

redis = None
if scenario == "standalone":
    state = tempfile.mkdtemp(prefix="chaos-state-")
    nodes = [Node(1, ["--state-dir", state])]
else:
    redis = Redis(); redis.start()
    nodes = [Node(i, ["--redis", redis.url, "--node-id", f"node-{i}"]) for i in (1, 2, 3)]
for n in nodes: n.start()

target = ["--url", f"ws://127.0.0.1:{nodes[0].port}/ws"] if scenario == "standalone" else \
         ["--matchmake", f"http://127.0.0.1:{nodes[0].port}"]
bot_cmd = ["target/release/bot-client", *target, "--bots", str(bots), "--duration", duration,
           "--json", *extra]
bot_proc = subprocess.Popen(bot_cmd, stdout=subprocess.PIPE, text=True,
                            stderr=open(f"{out}/bots.err", "w"))
t0 = time.monotonic()
ramp = 1.0
if "--ramp" in extra:
    ramp = float(extra[extra.index("--ramp") + 1].rstrip("s"))
log(f"{scenario}: {len(nodes)} node(s), {bots} bots for {duration} (ramp {ramp:g}s)")

def at(t):
    d = t0 + t - time.monotonic()
    if d > 0: time.sleep(d)

def restart(n, how, down=0.0):
    if how == "kill":
        n.proc.kill(); n.proc.wait(); log(f"kill -9 node {n.i}")
        time.sleep(down)
    else:
        n.proc.terminate(); log(f"SIGTERM node {n.i}")
        n.proc.wait(); log(f"node {n.i} exited")
    n.start(); log(f"node {n.i} started again")

probe = []
def probe_loop(stop):
    while not stop.is_set():
        t = time.monotonic() - t0
        status, body, headers = http("POST", nodes[0].port, "/matchmake", '{"game":"arena"}', timeout=3.0)
        retry = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        probe.append((t, status, retry, body[:120]))
        stop.wait(0.25)

moved = {}
stop_probe = threading.Event()
if scenario == "redis":
    threading.Thread(target=probe_loop, args=(stop_probe,), daemon=True).start()

if scenario == "random":
    rng = random.Random(int(env("CHAOS_SEED", 1)))
    t = 5.0
    while True:
        t += rng.uniform(4, 8)
        if t > secs + ramp - 10: break
        at(t)
        kind = rng.choice(["kill", "term", "redis"])
        if kind == "redis":
            redis.kill(); log("kill -9 redis")
            time.sleep(rng.uniform(2, 4))
            redis.start(); log("redis started again (empty)")
        else:
            restart(rng.choice(nodes), kind, rng.uniform(1, 2))
        t = time.monotonic() - t0
elif scenario == "kill":
    at(env("KILL_AT", 20))
    victims = [(len(n.rooms()), n) for n in nodes[1:]]
    _, victim = max(victims, key=lambda v: v[0])
    held = victim.rooms()
    moved = {r["name"]: r["tick"] for r in held}
    victim.proc.kill(); victim.proc.wait()
    log(f"kill -9 node {victim.i} holding {len(held)} rooms, {sum(r['players'] for r in held)} players: " +
        ", ".join(f"{r['name']} at tick {r['tick']}" for r in held))
elif scenario == "redis":
    at(env("REDIS_AT", 10))
    redis.kill(); log("kill -9 redis")
    at(env("REDIS_AT", 10) + env("REDIS_DOWN", 10))
    restarting = time.monotonic() - t0
    redis.start(); log("redis started again (empty)")
    back = time.monotonic() - t0
elif scenario == "standalone":
    at((secs + ramp) / 3); restart(nodes[0], "term")
    at(2 * (secs + ramp) / 3); restart(nodes[0], "kill", env("RESTART_AFTER", 1))

report_line = [l for l in bot_proc.stdout.read().splitlines() if l.startswith("{")]
bot_proc.wait()
stop_probe.set()
log("bots done")
report = json.loads(report_line[-1]) if report_line else {}
keys = lambda *k: {x: report.get(x) for x in k}
print(json.dumps(report))
print("players:", json.dumps(keys("bots", "bots_connected", "bots_failed", "recoveries", "unrecovered",
                                  "player_changes", "recovery_ms_p50", "recovery_ms_p99", "recovery_ms_max",
                                  "checksum_mismatches", "snapshots_per_sec_p50", "snapshots_per_sec_min",
                                  "handoffs", "redirects")))
if moved:
    now = {r["name"]: (r["tick"], r["node"]) for n in nodes if n.alive() for r in n.rooms()}
    for name, tick in sorted(moved.items()):
        after, node = now.get(name, (None, None))
        verdict = "ok" if after is not None and after > tick else "NOT LATER"
        print(f"moved room {name}: tick {tick} before the kill, {after} at the end on {node} ({verdict})")
if probe:
    down_at = env("REDIS_AT", 10); up_at = back
    # From a second after the kill (the nodes' calls fail within a second) to the restart.
    during = [p for p in probe if down_at + 1 <= p[0] <= restarting]
    count = {}
    for p in during: count[p[1]] = count.get(p[1], 0) + 1
    retry = sum(1 for p in during if p[1] == 503 and p[2])
    after = [p for p in probe if p[0] > up_at and p[1] == 200]
    print(f"matchmake while Redis was down ({len(during)} probes): statuses {count}, "
          f"503 with Retry-After: {retry}; e.g. {during[len(during)//2][3] if during else ''!r}")
    odd = [f"{p[0]:.2f}s: {p[1]}" for p in during if p[1] != 503]
    if odd: print("  not 503 while down:", ", ".join(odd))
    print("matchmake seated again %s after Redis was back" %
          (f"{after[0][0] - up_at:.2f} s" if after else "NEVER"))
# Left over once the rooms' grace (2 s) and a directory entry's time to live (3 s) are past.
time.sleep(6)
print("rooms left:", {f"node-{n.i}": len(n.rooms()) for n in nodes if n.alive()})
if redis:
    left = {}
    for k in redis.cli("--scan", "--pattern", "ticksync:*").split():
        prefix = k.split(":")[1] if ":" in k else k
        left[prefix] = left.get(prefix, 0) + 1
    print("redis keys left:", json.dumps(left, sort_keys=True),
          "(node and secret stay; room, state and checkpoint should be 0)")
for n in nodes:
    if n.alive(): n.proc.terminate(); n.proc.wait()
if redis: redis.kill()
PY
