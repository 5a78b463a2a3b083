-- wrk script for scripts/bench-scans.sh: POSTs scans (or verify-only requests) with the
-- pre-issued tokens, a fresh idempotency key per request, and the current time.
-- args: MODE (scan|verify) TOKENS_FILE VENUE_ID DEVICE_TOKEN RUN_ID
local tokens, mode, venue, device, run = {}, nil, nil, nil, nil
local counter = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  mode, venue, device, run = args[1], args[3], args[4], args[5]
  for line in io.lines(args[2]) do
    tokens[#tokens + 1] = line
  end
end

local json = { ["Content-Type"] = "application/json" }

function request()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  if mode == "verify" then
    return wrk.format("POST", "/api/v1/codes/verify", json, '{"token":"' .. token .. '"}')
  end
  local body = '{"token":"' .. token .. '","venue_id":"' .. venue .. '","at":"' .. os.date("!%Y-%m-%dT%H:%M:%SZ")
    .. '","idempotency_key":"' .. run .. '-' .. tid .. '-' .. counter .. '"}'
  return wrk.format("POST", "/api/v1/scans",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. device }, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors_status=%d errors_socket=%d seconds=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
