-- Bounded HTTP load on the daemon for wrk (bench/daemon.sh): half GET /api/v1/status, half
-- GET /metrics, each connection pausing DELAY_MS between its requests, so that CONNECTIONS
-- connections send about CONNECTIONS * 1000 / (DELAY_MS + latency) requests/s. wrk (C, epoll)
-- costs the 2-core machine far less CPU than a Python client would, so the slowdown measured
-- is the daemon's. Prints one JSON line at the end: sent, errors, seconds, rate, p50_ms, p99_ms.
-- Usage: wrk -t1 -c4 -d60s -s bench/daemon_load.lua URL -- TOKEN DELAY_MS
local token, pause = "", 18
local paths = { "/api/v1/status", "/metrics" }
local n = 0

function init(args)
  token = args[1] or ""
  pause = tonumber(args[2] or "18")
end

function request()
  n = n + 1
  return wrk.format("GET", paths[(n % 2) + 1], { ["Authorization"] = "Bearer " .. token })
end

function delay()
  return pause
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"sent": %d, "errors": %d, "seconds": %.3f, "rate": %.1f, "p50_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, e.connect + e.read + e.write + e.status + e.timeout, seconds,
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
