-- wrk script for `make bench` / `make bench-soak`: POSTs an OpenAI chat body on keep-alive connections
-- and writes the summary as JSON (latencies in microseconds) to $BENCH_WRK_OUT.
--   BENCH_BODY_FILE      request body (required)
--   BENCH_ALT_BODY_FILE  optional second body; requests then alternate between the two (soak: JSON + SSE)
--   BENCH_AUTH           optional bearer token (LiteLLM's master key)

local function slurp(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
  local s = f:read("*a")
  f:close()
  return s
end

wrk.method = "POST"
wrk.body = slurp(os.getenv("BENCH_BODY_FILE"))
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. auth
end

local alt = os.getenv("BENCH_ALT_BODY_FILE")
if alt and alt ~= "" then
  local requests = {}
  local n = 0
  function init(args)
    requests[1] = wrk.format(nil, nil, nil, wrk.body)
    requests[2] = wrk.format(nil, nil, nil, slurp(alt))
  end
  function request()
    n = n + 1
    return requests[(n % 2) + 1]
  end
end

function done(summary, latency, requests)
  local path = os.getenv("BENCH_WRK_OUT")
  if not path or path == "" then return end
  local parts = {}
  for _, q in ipairs({50, 75, 90, 99, 99.9}) do
    parts[#parts + 1] = string.format('"p%s": %d', tostring(q), latency:percentile(q))
  end
  local e = summary.errors
  local out = assert(io.open(path, "w"))
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "max": %d, "mean": %.1f, "stdev": %.1f, %s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean, latency.stdev, table.concat(parts, ", ")))
  out:close()
end
