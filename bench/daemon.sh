#!/usr/bin/env bash
# The daemon under load (issue: daemon benchmark). Measures, on one machine, in one run:
#  1. idle RSS and CPU of `lifeboat daemon` over BENCH_IDLE_SECONDS (default 60) with one
#     repository, two sources and a schedule that does not fire;
#  2. a backup of BENCH_DAEMON_MB (default 400) MiB of generated event data (JSON lines with
#     uuids and hashes) run by the daemon (POST /api/v1/backups) without load, then again into a
#     second, fresh repository while wrk (bench/daemon_load.lua) sends ~200 requests/s (half
#     /api/v1/status, half /metrics) from 127.0.0.1 for the backup's duration, at least 60 s;
#     then a third backup without load (the no-load time is the mean of the two);
#  3. the load's p50/p99 latency and how much the backup slowed.
# Targets: idle RSS <= 40 MiB, p99 <= 50 ms, backup slowdown <= 10 %.
# Usage: bash bench/daemon.sh   (builds the release binary unless BENCH_LIFEBOAT names one;
#        prints a Markdown table)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
# BENCH_LIFEBOAT: a lifeboat binary to measure instead of building the release one.
if [ -z "${BENCH_LIFEBOAT:-}" ]; then
    cargo build --release -p lifeboat-cli --locked 2>&1 | tail -n 1
fi
LB="${BENCH_LIFEBOAT:-${CARGO_TARGET_DIR:-target}/release/lifeboat}"
W="${BENCH_DAEMON_WORK:-$(mktemp -d /tmp/lifeboat-bench-daemon.XXXXXX)}"
MB="${BENCH_DAEMON_MB:-400}"
IDLE="${BENCH_IDLE_SECONDS:-60}"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export LIFEBOAT_INSECURE_TEST_KDF=1
mkdir -p "$W/data"
echo pw > "$W/pass"; chmod 600 "$W/pass"
python3 - "$W/data" "$MB" <<'PY'
import sys, os, json, uuid, hashlib, random
d, mb = sys.argv[1], int(sys.argv[2])
random.seed(7)
per = 64 << 20
n = 0
written = 0
while written < mb << 20:
    with open(os.path.join(d, f"events-{n:03}.jsonl"), "w") as f:
        size = 0
        i = 0
        while size < per and written + size < mb << 20:
            h = hashlib.sha256(f"{n}-{i}".encode()).hexdigest()
            line = json.dumps({"id": str(uuid.UUID(int=random.getrandbits(128))), "seq": i, "stream": f"s{i % 97}",
                               "hash": h, "payload": {"amount": random.randint(1, 10**6), "note": h[:random.randint(8, 64)]}}) + "\n"
            f.write(line)
            size += len(line)
            i += 1
        written += size
    n += 1
PY
for r in a b c; do "$LB" -r "$W/repo-$r" --password-file "$W/pass" init >/dev/null; done
TOKEN_JSON=$("$LB" daemon token add bench --role operator --json)
TOKEN=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$TOKEN_JSON")
HASH=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["hash"])' "$TOKEN_JSON")
{
    for r in a b c; do
        printf '[repositories.%s]\nurl = "%s"\npassword_file = "%s"\n\n' "$r" "$W/repo-$r" "$W/pass"
        printf '[sources.data-%s]\nkind = "files"\npaths = ["%s"]\nrepository = "%s"\n\n' "$r" "$W/data" "$r"
    done
    printf '[schedules.nightly]\njob = "backup"\nsource = "data-a"\ncron = "0 3 * * *"\n\n'
    printf '[daemon]\nlisten = "127.0.0.1:%s"\nstate_dir = "%s"\n\n[daemon.tokens.bench]\nrole = "operator"\nhash = "%s"\n' "$PORT" "$W/state" "$HASH"
} > "$W/lifeboat.toml"
chmod 600 "$W/lifeboat.toml"
LIFEBOAT_LOG=warn "$LB" daemon --config "$W/lifeboat.toml" 2> "$W/daemon.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
sleep 3
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
T0=$(ticks); sleep "$IDLE"; T1=$(ticks)
HZ=$(getconf CLK_TCK)
IDLE_CPU=$(python3 -c "print(f'{($T1-$T0)/$HZ/$IDLE*100:.2f}')")
IDLE_RSS=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$PID/status")
IDLE_HWM=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$PID/status")

backup() { # source -> seconds (from the daemon's job)
    local job
    job=$(curl -sf -H "Authorization: Bearer $TOKEN" -d "{\"source\":\"$1\"}" "http://127.0.0.1:$PORT/api/v1/backups" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["job"])')
    python3 - "$PORT" "$TOKEN" "$job" <<'PY'
import json, sys, time, urllib.request
port, token, job = sys.argv[1:]
while True:
    r = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/jobs/{job}", headers={"Authorization": f"Bearer {token}"})
    j = json.load(urllib.request.urlopen(r))
    if j["state"] not in ("queued", "running"):
        break
    time.sleep(0.05)
assert j["state"] == "succeeded", j
from datetime import datetime
t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")[:26] + "+00:00")
print(f"{(t(j['ended_at']) - t(j['started_at'])).total_seconds():.2f}")
PY
}
sync; sleep 5
NOLOAD1=$(backup data-a)
sync; sleep 5
load() { # seconds -> JSON line of bench/daemon_load.lua (4 connections, 18 ms pauses: ~200/s)
    wrk -t1 -c4 -d"$1"s --timeout 10s -s bench/daemon_load.lua "http://127.0.0.1:$PORT" -- "$TOKEN" 18 | tail -n 1
}
load 60 > "$W/load.json" &
LOADPID=$!
sleep 1
LOADED=$(backup data-b)
wait $LOADPID
# The daemon's CPU while only the load runs (no backup): what serving 200 requests/s costs.
L0=$(ticks)
W0=$(date +%s.%N)
load 20 > "$W/load2.json" &
WRK=$!
sleep 1
WRK_PID=$(pgrep -n -x wrk || true)
C0=$(awk '{print $14 + $15}' "/proc/$WRK_PID/stat" 2>/dev/null || echo 0)
sleep 18
C1=$(awk '{print $14 + $15}' "/proc/$WRK_PID/stat" 2>/dev/null || echo 0)
wait $WRK
L1=$(ticks)
CLIENT_CPU=$(python3 -c "print(f'{($C1-$C0)/$HZ/18*100:.1f}')")
SERVE_CPU=$(python3 -c "print(f'{($L1-$L0)/$HZ/20*100:.1f}')")
sync; sleep 5
NOLOAD2=$(backup data-c)
LOAD_RSS=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$PID/status")
python3 - "$W/load.json" "$NOLOAD1" "$NOLOAD2" "$LOADED" "$IDLE_RSS" "$IDLE_CPU" "$IDLE" "$MB" "$LOAD_RSS" "$SERVE_CPU" "$W/load2.json" "$CLIENT_CPU" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
load2 = json.load(open(sys.argv[11]))
n1, n2, loaded, rss, cpu, idle, mb, hwm, serve = map(float, sys.argv[2:11])
noload = (n1 + n2) / 2
slow = (loaded / noload - 1) * 100
ok = lambda b: "PASS" if b else "FAIL"
print(f"| measure | value | target | |")
print(f"|---|---|---|---|")
print(f"| idle RSS | {rss:.1f} MiB | <= 40 MiB | {ok(rss <= 40)} |")
print(f"| idle CPU over {idle:.0f} s | {cpu:.2f} % of one core | | |")
print(f"| load | {load['sent']} requests in {load['seconds']:.1f} s ({load['rate']:.0f}/s), {load['errors']} errors | 200/s | |")
print(f"| load without a backup | {load2['sent']} requests in {load2['seconds']:.1f} s ({load2['rate']:.0f}/s), p50 / p99 {load2['p50_ms']:.2f} / {load2['p99_ms']:.2f} ms | | |")
print(f"| latency p50 / p99 | {load['p50_ms']:.2f} / {load['p99_ms']:.2f} ms | p99 <= 50 ms | {ok(load['p99_ms'] <= 50 and load['errors'] == 0)} |")
print(f"| backup of {mb:.0f} MiB, no load | {n1:.2f} s, {n2:.2f} s (mean {noload:.2f} s) | | |")
print(f"| backup under load | {loaded:.2f} s ({slow:+.1f} %) | <= +10 % | {ok(slow <= 10)} |")
print(f"| CPU serving 200 req/s (no backup) | daemon {serve:.1f} % of one core, load client (wrk) {sys.argv[12]} % | | |")
print(f"| peak RSS (whole run) | {hwm:.1f} MiB | | |")
PY
kill -TERM $PID; wait $PID || true
[ -n "${BENCH_DAEMON_WORK:-}" ] || rm -rf "$W"
