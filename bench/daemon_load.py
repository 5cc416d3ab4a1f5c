"""Bounded HTTP load on the daemon: RATE requests/s for SECONDS seconds (half GET
/api/v1/status, half GET /metrics) from 127.0.0.1, open-loop (a request is sent on schedule
whether or not earlier ones answered), over keep-alive connections of a thread pool. Prints
JSON: sent, errors, seconds, rate, p50_ms, p99_ms, client_cpu_s (this process). Stops by itself.

Usage: python3 bench/daemon_load.py PORT TOKEN RATE SECONDS
"""

import http.client
import json
import queue
import sys
import threading
import time

port, token, rate, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
paths = ["/api/v1/status", "/metrics"]
work: "queue.Queue[tuple[float, str] | None]" = queue.Queue()
latencies: list[float] = []
errors = [0]
lock = threading.Lock()


def worker() -> None:
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
    headers = {"Authorization": f"Bearer {token}"}
    while True:
        item = work.get()
        if item is None:
            return
        due, path = item
        try:
            conn.request("GET", path, headers=headers)
            r = conn.getresponse()
            r.read()
            ok = r.status == 200
        except Exception:
            ok = False
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
        # Latency from when the request was due (open loop: queueing counts).
        took = (time.monotonic() - due) * 1000
        with lock:
            latencies.append(took)
            if not ok:
                errors[0] += 1


threads = [threading.Thread(target=worker, daemon=True) for _ in range(16)]
for t in threads:
    t.start()
start = time.monotonic()
sent = 0
while True:
    now = time.monotonic()
    if now - start >= seconds:
        break
    due = start + sent / rate
    if due > now:
        time.sleep(due - now)
    work.put((due, paths[sent % 2]))
    sent += 1
for _ in threads:
    work.put(None)
for t in threads:
    t.join(timeout=15)
elapsed = time.monotonic() - start
lat = sorted(latencies)


def pct(p: float) -> float:
    return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")


print(json.dumps({"sent": sent, "errors": errors[0], "seconds": elapsed, "rate": sent / elapsed,
                  "p50_ms": pct(0.50), "p99_ms": pct(0.99), "client_cpu_s": time.process_time()}))
