#!/usr/bin/env bash
# The recovery seam measured from outside, many times: two Parley nodes on one Redis, a member of each
# posting 200 messages, and a socket.io-client 4.8 cut off from the first node a quarter of the way
# through that reconnects to the second while they go on. A run passes when the client reports
# `recovered` and ends with every message exactly once, each publisher's in order.
# Usage: bash bench/seam.sh [runs per transport mode, default 20]
# Needs redis-server on the PATH (apt-get install redis-server); starts its own on port 6398.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
mvn -B -q package -DskipTests
(cd src/test/socketio && npm ci --silent --no-audit --no-fund)
work=$(mktemp -d)
redis-server --port 6398 --save "" --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
# the publishers post about 400 messages a second each: above the default per-connection rate limit
cat > "$work/config.json" <<'JSON'
{
  "http": { "host": "127.0.0.1", "port": 8091 },
  "broker": { "type": "redis", "redisUri": "redis://127.0.0.1:6398" },
  "limits": { "ratePerSecond": 2000, "rateBurst": 2000 }
}
JSON
PARLEY_HTTP_PORT=8091 java -jar target/parley.jar -conf "$work/config.json" > "$work/a.log" 2>&1 & a=$!
PARLEY_HTTP_PORT=8092 java -jar target/parley.jar -conf "$work/config.json" > "$work/b.log" 2>&1 & b=$!
trap 'kill $a $b 2>/dev/null; kill "$(cat "$work/redis.pid")" 2>/dev/null; rm -rf "$work"' EXIT
for port in 8091 8092; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.2; done
done

check='
const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
const n = Number(process.argv[1]);
const want = (p) => Array.from({ length: n }, (_, i) => p + i).join(",");
const ok = r.recovered === true && r.got.length === 2 * n + 2
  && r.got.filter((t) => t.startsWith("a-")).join(",") === want("a-")
  && r.got.filter((t) => t.startsWith("b-")).join(",") === want("b-");
console.log(ok ? "ok" : "FAIL recovered=" + r.recovered + " got=" + r.got.length);'
for mode in websocket polling default; do
  pass=0
  for i in $(seq 1 "$RUNS"); do
    if out=$(cd src/test/socketio && node seam.mjs "$mode" "seam-$mode-$i" http://127.0.0.1:8091 http://127.0.0.1:8092 200) \
      && [ "$(echo "$out" | node -e "$check" 200)" = ok ]; then
      pass=$((pass + 1))
    else
      echo "run $i ($mode) failed: ${out:0:300}"
    fi
  done
  echo "$mode: $pass of $RUNS runs recovered with every message once, in order"
done
