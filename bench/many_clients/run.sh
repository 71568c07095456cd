#!/usr/bin/env bash
# Many clients: wrk posts one pre-encoded OTLP/HTTP protobuf traces request over C keep-alive
# connections (closed loop) to a fresh otlake for D seconds, then prints the answers by status,
# the server's CPU per request, its WAL syncs and its /healthz ack latency phases.
#
#   bench/many_clients/run.sh [--bin B] [--spans 64] [--connections 64] [--seconds 10]
#                             [--slow-fsync-us N] [-- otlake start flags]
#
# --slow-fsync-us N preloads slow_fdatasync.c (every fdatasync N us longer: a network volume).
# wrk (Debian package) is installed on first use. Numbers: bench/README.md, docs/wal.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/release/otlake SPANS=64 CONNS=64 SECS=10 SLOW=0
while (($#)); do
  case $1 in
    --bin) BIN=$2; shift 2 ;;
    --spans) SPANS=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --slow-fsync-us) SLOW=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo;
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q wrk >/dev/null; }
WORK=$(mktemp -d /tmp/otlake-many.XXXX)
trap 'kill -9 $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
"$ROOT/.venv/bin/python" - "$WORK/body.pb" "$SPANS" <<'PY'
import random, sys
sys.path.insert(0, "bench")
import ingest_bench
open(sys.argv[1], "wb").write(ingest_bench.make_request(random.Random(7), int(sys.argv[2])).SerializeToString())
PY
PRELOAD=()
if ((SLOW > 0)); then
  gcc -shared -fPIC -O2 -o "$WORK/slow.so" "$ROOT/bench/many_clients/slow_fdatasync.c" -ldl
  PRELOAD=(env LD_PRELOAD="$WORK/slow.so" SLOW_FDATASYNC_US="$SLOW")
fi
"$BIN" init -D "$WORK/data" >/dev/null
PORT=$(( 20000 + RANDOM % 20000 ))
"${PRELOAD[@]}" "$BIN" start -F -D "$WORK/data" -H 127.0.0.1 -P "$PORT" "$@" > "$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
c0=$(cpu)
BODY="$WORK/body.pb" wrk -t2 -c"$CONNS" -d"${SECS}s" -s "$ROOT/bench/many_clients/post.lua" \
  "http://127.0.0.1:$PORT/v1/traces" > "$WORK/wrk.out"
c1=$(cpu)
grep -E "^(requests|latency)|Requests/sec" "$WORK/wrk.out"
curl -s "127.0.0.1:$PORT/healthz" | "$ROOT/.venv/bin/python" -c '
import json, sys
h = json.load(sys.stdin)
print("answers", h["http"], "| WAL syncs", h["wal"]["syncs"])
print("server phases p50/p99 ms:", ", ".join("%s %.1f/%.1f" % (k, v["p50"], v["p99"])
      for k, v in h["ack_latency_ms"].items() if k != "samples"))'
N=$(awk '/^requests/ {print $2}' "$WORK/wrk.out")
OK=$(awk '/^requests/ {print $2 - $4}' "$WORK/wrk.out")
awk -v c="$((c1 - c0))" -v tk="$(getconf CLK_TCK)" -v n="$N" -v ok="$OK" -v s="$SPANS" -v t="$SECS" 'BEGIN {
  printf "2xx %.0f/s; server CPU %.2f s: %.0f us per request, %.0f acked spans per server CPU-second\n",
         ok / t, c / tk, 1e6 * c / tk / n, ok * s / (c / tk) }'
kill -TERM $PID; wait $PID || true
