-- wrk script for bench/api: sends `Authorization: Bearer $BENCH_KEY` when
-- BENCH_KEY is set (realreach), nothing extra otherwise (the baseline), and
-- prints one machine-readable line at the end:
--   BENCH rps=<req/s> p50_ms=<ms> p99_ms=<ms> requests=<n> non2xx=<n> sockerr=<n>
-- non2xx is wrk's status-error count (responses with status >= 400; the
-- endpoint never redirects); sockerr sums connect/read/write/timeout errors.
local key = os.getenv("BENCH_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format("BENCH rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d sockerr=%d\n",
    summary.requests / secs,
    latency:percentile(50) / 1000.0,
    latency:percentile(99) / 1000.0,
    summary.requests,
    e.status,
    e.connect + e.read + e.write + e.timeout))
end
