-- Shared by the benchmark's wrk scripts (bench/run.sh runs wrk from this directory).
-- Reads the loader's data files from $BENCH_DATA, sends the benchmark client's credentials, and
-- counts response statuses per thread; done() prints one machine-readable BENCH_RESULT line.
local M = {}

M.data = os.getenv("BENCH_DATA") or error("BENCH_DATA is not set (the loader's output directory)")
M.base = "/api/emrs/" .. (os.getenv("BENCH_EMR") or "bench") .. "/care-units/" .. (os.getenv("BENCH_CARE_UNIT") or "C1")
M.warmup = os.getenv("BENCH_WARMUP") == "1"
M.threads = tonumber(os.getenv("BENCH_THREADS") or "2")
M.headers = {
  ["x-leyr-client-id"] = os.getenv("BENCH_CLIENT_ID") or "bench-client",
  ["x-leyr-client-secret"] = os.getenv("BENCH_CLIENT_SECRET") or "bench-secret",
}

function M.lines(name)
  local t = {}
  for line in io.lines(M.data .. "/" .. name) do
    if #line > 0 then t[#t + 1] = line end
  end
  if #t == 0 then error(name .. " is empty") end
  return t
end

function M.pick(t) return t[math.random(#t)] end

function M.json_headers()
  local h = {}
  for k, v in pairs(M.headers) do h[k] = v end
  h["Content-Type"] = "application/json"
  return h
end

-- opts.init(): per-thread setup; opts.request(): returns a request (wrk.format);
-- opts.expected: set of statuses that are not errors; opts.extra(): a string of extra counters for done().
function M.install(opts)
  local threads = {}

  -- BENCH_HOSTS="host:port host:port ...": several server instances; thread k sends all its
  -- requests to instance k mod n (wrk connects each thread to thread.addr).
  local hosts = {}
  for h in (os.getenv("BENCH_HOSTS") or ""):gmatch("%S+") do hosts[#hosts + 1] = h end

  function setup(thread)
    if #hosts > 0 then
      local host, port = hosts[(#threads % #hosts) + 1]:match("^(.+):(%d+)$")
      thread.addr = wrk.lookup(host, port)[1]
    end
    thread:set("tid", #threads)
    table.insert(threads, thread)
  end

  function init(args)
    counts = {}
    sent = 0
    math.randomseed(os.time() * 1000 + tid * 7919)
    if opts.init then opts.init() end
  end

  function request()
    sent = sent + 1
    return opts.request()
  end

  function response(status, headers, body)
    counts[status] = (counts[status] or 0) + 1
  end

  function done(summary, latency, requests)
    local all, total_sent, unexpected = {}, 0, 0
    for _, t in ipairs(threads) do
      total_sent = total_sent + (t:get("sent") or 0)
      for status, n in pairs(t:get("counts") or {}) do
        all[status] = (all[status] or 0) + n
      end
    end
    local keys = {}
    for status, n in pairs(all) do
      keys[#keys + 1] = status
      if not opts.expected[status] then unexpected = unexpected + n end
    end
    table.sort(keys)
    local parts = {}
    for _, status in ipairs(keys) do parts[#parts + 1] = status .. ":" .. all[status] end
    local e = summary.errors
    local socket = e.connect + e.read + e.write + e.timeout
    local extra = ""
    if opts.extra then extra = " " .. opts.extra(threads) end
    io.write(string.format(
      "BENCH_RESULT requests=%d sent=%d duration_us=%d p50_us=%d p99_us=%d socket_errors=%d unexpected=%d statuses=%s%s\n",
      summary.requests, total_sent, summary.duration, latency:percentile(50), latency:percentile(99),
      socket, unexpected, table.concat(parts, ","), extra))
  end
end

return M
