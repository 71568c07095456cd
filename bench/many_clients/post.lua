-- wrk script: POST one pre-encoded OTLP/HTTP protobuf body (the file named by $BODY) over every
-- connection, and print the request count, errors and latency percentiles at the end.
local f = assert(io.open(os.getenv("BODY"), "rb"))
local body = f:read("*all")
f:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/x-protobuf"

done = function(summary, latency, requests)
  io.write(string.format("requests %d non2xx %d connect %d read %d write %d timeout %d\n",
    summary.requests, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
  io.write(string.format("latency p50 %.2f ms p99 %.2f ms max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
