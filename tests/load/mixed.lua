-- tests/load/mixed.lua — wrk script: a mixed realreach workload through nginx.
-- Driven by tests/load/run, which seeds the data and passes it in the
-- environment:
--   LOAD_KEY          bearer key (write scope)
--   LOAD_CLIENTS      comma-separated client ids to read
--   LOAD_ACCOUNTS     comma-separated account ids to read
--   LOAD_RUN          a tag unique to this run (names of created clients)
--   LOAD_BULK_FILE    optional: JSON body of one follower-list ingest, sent
--   LOAD_BULK_ACCOUNT once per run by the first thread to this account,
--   LOAD_BULK_QUERY   with this query string (observed_at=...)
--   LOAD_AUDIT        optional, 1: after the ingest is answered, the same
--                     thread starts one audit of that account
-- Mix per request: 40% GET /v1/clients/{id}, 25% GET /v1/accounts/{id},
-- 15% GET /v1/clients?limit=20 walking the cursor (back to the first page
-- at the end), 10% GET /v1/clients/{id}/accounts, 10% POST /v1/clients with
-- a unique name.
--
-- Every response is counted by status in each thread; done() prints
--   LOAD status=<code> count=<n>           one line per status seen
--   LOAD requests=<n> rps=<r> p50_ms=<ms> p90_ms=<ms> p99_ms=<ms> max_ms=<ms>
--        connect=<n> read=<n> write=<n> timeout=<n> status_errors=<n>
--   LOAD bulk=<status or none> audit=<status or none>

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local function split(s)
  local t = {}
  for v in string.gmatch(s or "", "[^,]+") do table.insert(t, v) end
  return t
end

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

function init(args)
  key = os.getenv("LOAD_KEY")
  run = os.getenv("LOAD_RUN") or "x"
  clients = split(os.getenv("LOAD_CLIENTS"))
  accounts = split(os.getenv("LOAD_ACCOUNTS"))
  assert(key and #clients > 0 and #accounts > 0, "LOAD_KEY, LOAD_CLIENTS, LOAD_ACCOUNTS are required")
  statuses = {}
  bulk_status = "none"
  audit_status = "none"
  n = 0
  cursor = nil
  math.randomseed(os.time() + tid * 7919)
  hdr = { ["Authorization"] = "Bearer " .. key }
  jhdr = { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }
  bulk_body = nil
  pending = nil      -- "bulk" / "audit": the special request in flight
  if tid == 1 and os.getenv("LOAD_BULK_FILE") and os.getenv("LOAD_BULK_FILE") ~= "" then
    bulk_body = read_file(os.getenv("LOAD_BULK_FILE"))
    bulk_path = "/v1/accounts/" .. os.getenv("LOAD_BULK_ACCOUNT") .. "/followers?" ..
                (os.getenv("LOAD_BULK_QUERY") or "")
    audit_path = "/v1/accounts/" .. os.getenv("LOAD_BULK_ACCOUNT") .. "/audits"
    want_audit = os.getenv("LOAD_AUDIT") == "1"
    bulk_state = "todo"
  end
end

local function pick(t) return t[math.random(#t)] end

function request()
  n = n + 1
  -- n == 1 on the first thread is wrk's own check of the request format
  -- (script_verify_request), never sent: the ingest goes out with n == 2
  if bulk_state == "todo" and n >= 2 then
    bulk_state = "sent"
    pending = "bulk"
    return wrk.format("POST", bulk_path, jhdr, bulk_body)
  end
  if bulk_state == "answered" and want_audit then
    bulk_state = "audit sent"
    pending = "audit"
    return wrk.format("POST", audit_path, jhdr, "{}")
  end
  local r = math.random(100)
  if r <= 40 then
    return wrk.format("GET", "/v1/clients/" .. pick(clients), hdr)
  elseif r <= 65 then
    return wrk.format("GET", "/v1/accounts/" .. pick(accounts), hdr)
  elseif r <= 80 then
    local p = "/v1/clients?limit=20"
    if cursor then p = p .. "&cursor=" .. cursor end
    return wrk.format("GET", p, hdr)
  elseif r <= 90 then
    return wrk.format("GET", "/v1/clients/" .. pick(clients) .. "/accounts?limit=10", hdr)
  else
    local body = string.format('{"name":"load-%s-%d-%d","notes":"created under load"}', run, tid, n)
    return wrk.format("POST", "/v1/clients", jhdr, body)
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if not body then return end
  -- a thread's connections may answer in any order: the special answers are
  -- recognised by their body (the ingest's counts, the audit's job_url), the
  -- clients list pages by next_cursor and notes
  if pending == "bulk" and string.find(body, '"received"', 1, true) then
    bulk_status = tostring(status)
    bulk_state = "answered"
    pending = nil
  elseif pending == "audit" and string.find(body, '"job_url"', 1, true) then
    audit_status = tostring(status)
    pending = nil
  elseif string.find(body, '"next_cursor"', 1, true) and string.find(body, '"notes"', 1, true) then
    cursor = string.match(body, '"next_cursor":"([^"]+)"')
  end
end

function done(summary, latency, requests)
  local total = {}
  local bulk, audit = "none", "none"
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, count in pairs(s or {}) do
      total[code] = (total[code] or 0) + count
    end
    local b, a = t:get("bulk_status"), t:get("audit_status")
    if b and b ~= "none" then bulk = b end
    if a and a ~= "none" then audit = a end
  end
  local codes = {}
  for code in pairs(total) do table.insert(codes, code) end
  table.sort(codes)
  for _, code in ipairs(codes) do
    io.write(string.format("LOAD status=%d count=%d\n", code, total[code]))
  end
  local e = summary.errors
  io.write(string.format(
    "LOAD requests=%d rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f connect=%d read=%d write=%d timeout=%d status_errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000.0, latency:percentile(90) / 1000.0,
    latency:percentile(99) / 1000.0, latency.max / 1000.0,
    e.connect, e.read, e.write, e.timeout, e.status))
  io.write(string.format("LOAD bulk=%s audit=%s\n", bulk, audit))
end
