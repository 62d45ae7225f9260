#!/usr/bin/env bash
# Parley beside a Socket.IO 4.8 reference server, measured in the way that gives trustworthy numbers on
# a noisy 2-core machine:
#   - server pinned to core 0, load generator (bench/loadgen, C/epoll) pinned to core 1;
#   - open loop with staggered publishers; every server prewarmed the same way (JIT);
#   - interleaved pairs (reference, Parley, reference, Parley, ...), ratios computed per pair;
#   - the practical floor measured in the same run: bench/loadgen/fanout_stub, a C epoll fan-out server
#     that encodes each event once and does one send() per connection per loop turn;
#   - a noise guard: a run during which other processes used more than 0.15 cores is rerun.
#
# Usage: bench/run.sh [full|quick] [scenario ...]
#   full   (default) every scenario, PAIRS pairs (3), about 2 hours
#   quick  F1 at 50k/s and M1 at 10k connections, one pair, about 5 minutes (a smoke test)
#   scenarios: F1 F2 F3 S1 M1 W1 C1 X1 M2 R1 (default: all)
#     X1  two nodes plus Redis, unpinned: Parley with the Redis broker, Parley with Hazelcast (no Redis), two
#         Node Socket.IO processes with @socket.io/redis-adapter; clients spread over both nodes, one room
#     M2  100k connections on one node from 127.0.0.1-127.0.0.8 (memory, heartbeat CPU, connect rate), then
#         a fan-out to one room of 100k
#     R1  reconnect storm: 10k clients (100 rooms of 100) connect and join at once to a freshly started
#         server (cold), then again (warm); Socket.IO also with Parley's presence work (PRESENCE=1)
# PARLEY_BENCH_CONF names another Parley configuration (bench/parley-bench-nohistory.json: history off;
# bench/parley-bench-redis.json: the Redis broker and history store, with a redis-server you start on
# 127.0.0.1:6399 first, e.g. `taskset -c 1 redis-server --port 6399 --save "" --daemonize yes`).
# Offered loads (deliveries/s) of the open-loop sweeps can be replaced: F1_LOADS, F2_LOADS, F3_LOADS, W1_LOADS;
# C1's base load, churn rates (operations/s) and churn connections: C1_LOAD, C1_CHURN, C1_CONNS.
# SIO_CLIENTS=1 (default) adds parley-sio to the pairs of F1-F3, S1 and M1: Parley started the same way, the
# generator speaking Socket.IO to its /socket.io/ (SIO_CLIENTS=0: reference, Parley, floor only, as before).
# Results: bench/results/<stamp>/ (one JSON per run, summary.md, plots/*.png); the newest summary is
# also copied to docs/performance-latest.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

MODE=${1:-full}
shift || true
SCENARIOS=${*:-"F1 F2 F3 S1 M1 W1 C1 X1 M2 R1"}
PAIRS=${PAIRS:-3}
PREWARM_S=${PREWARM_S:-30}
WARMUP_S=${WARMUP_S:-5}
DURATION_S=${DURATION_S:-10}
if [ "$MODE" = quick ]; then
  PAIRS=1; PREWARM_S=15; WARMUP_S=3; DURATION_S=5; SCENARIOS=${*:-"F1 M1"}
fi
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
NOISE_MAX=${NOISE_MAX:-0.15}
SIO_CLIENTS=${SIO_CLIENTS:-1}
SIO_KIND=""
[ "$SIO_CLIENTS" = 1 ] && SIO_KIND=parley-sio
JAVA=${JAVA:-java}
JVM_FLAGS=${JVM_FLAGS:-"-Xms512m -Xmx512m -XX:+UseParallelGC -XX:+AlwaysPreTouch"}
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$ROOT/bench/results/$STAMP
mkdir -p "$OUT"
LOG=$OUT/run.log
log() { echo "$(date +%H:%M:%S) $*" | tee -a "$LOG" >&2; }

# ---------------------------------------------------------------- prerequisites
# (re)build the jar when it is missing or older than the sources
if [ ! -f target/parley.jar ] || [ -n "$(find src/main pom.xml -newer target/parley.jar -print -quit)" ]; then
  mvn -B -q package -DskipTests
fi
(cd bench/reference && npm ci --no-audit --no-fund >/dev/null)
make -s -C bench/loadgen
command -v gnuplot >/dev/null || { log "gnuplot missing: installing gnuplot-nox"; (apt-get install -y -q gnuplot-nox >/dev/null 2>&1 || true); }
LOADGEN=$ROOT/bench/loadgen/loadgen

{
  echo "date: $(date -Is)"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "kernel: $(uname -r)"
  echo "java: $($JAVA -version 2>&1 | head -1)"
  echo "jvm flags: $JVM_FLAGS"
  echo "node: $(node --version), socket.io $(node -p 'require("./bench/reference/node_modules/socket.io/package.json").version')"
  echo "parley: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "pinning: server on core $SERVER_CPU, generator on core $GEN_CPU (W1 unpinned)"
  echo "parley-sio (Parley with Socket.IO clients) in F1-F3, S1, M1: $([ -n "$SIO_KIND" ] && echo yes || echo no)"
  echo "pairs: $PAIRS, prewarm ${PREWARM_S}s, warmup ${WARMUP_S}s, measured ${DURATION_S}s per point"
} > "$OUT/setup.txt"

# ---------------------------------------------------------------- servers
PORT=${PORT:-19500}
SERVER_PID=
# a cluster (X1): every port and every process of it, for the generator (empty otherwise)
CLUSTER_PORTS=
CLUSTER_PIDS=
EXTRA_PIDS=
# M2 and R1 hold 100k and 10k connections: the server and the generator need the file descriptors
# (as root the hard limit can be raised too; otherwise the soft limit goes up to the hard one)
ulimit -Hn 1048576 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_health() {
  for _ in $(seq 1 300); do
    if [ "${1:-}" = tcp ]; then
      (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
    else
      curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && return 0
    fi
    sleep 0.1
  done
  log "server did not become healthy"; return 1
}

# start_server <reference|reference-presence|parley|parley-sio|floor> <pinned|unpinned>
start_server() {
  local kind=$1 pin=$2 prefix=""
  PORT=$(free_port)
  [ "$pin" = pinned ] && prefix="taskset -c $SERVER_CPU"
  case $kind in
    reference) $prefix node bench/reference/server.js "$PORT" > "$OUT/server-$kind.log" 2>&1 & ;;
    reference-presence) PRESENCE=1 $prefix node bench/reference/server.js "$PORT" > "$OUT/server-$kind.log" 2>&1 & ;;
    floor) $prefix bench/loadgen/fanout_stub "$PORT" > "$OUT/server-$kind.log" 2>&1 & ;;
    parley|parley-sio)
      local instances=1
      [ "$pin" = unpinned ] && instances=2
      PARLEY_HTTP_PORT=$PORT PARLEY_MANAGEMENT_PORT=0 PARLEY_LOG_LEVEL=WARN $prefix $JAVA $JVM_FLAGS -jar target/parley.jar \
        -conf "${PARLEY_BENCH_CONF:-bench/parley-bench.json}" -instances $instances > "$OUT/server-$kind.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  if [ "$kind" = floor ]; then wait_health tcp; else wait_health; fi
}

stop_server() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  for pid in $EXTRA_PIDS; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  EXTRA_PIDS= CLUSTER_PORTS= CLUSTER_PIDS=
}
trap stop_server EXIT

proto_of() { case $1 in reference*|parley-sio|*-sio) echo socketio ;; *) echo parley ;; esac; }   # floor speaks /ws

# start_cluster <reference|parley|parley-hz>: two server processes (and redis-server, but for parley-hz), unpinned;
# PORT and SERVER_PID are the first node's, CLUSTER_PORTS and CLUSTER_PIDS list every port and every process
start_cluster() {
  local kind=$1 rport="" rpid="" ports=() pids=() hz=""
  if [ "$kind" != parley-hz ]; then
    rport=$(free_port)
    redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no > "$OUT/server-$kind-redis.log" 2>&1 &
    rpid=$!
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break; sleep 0.1; done
  else
    # the shipped Hazelcast configuration under a cluster name of this run's own
    hz=$OUT/cluster-$kind.xml
    sed "s|<cluster-name>parley</cluster-name>|<cluster-name>parley-bench-$STAMP</cluster-name>|" conf/cluster.xml > "$hz"
  fi
  for node in 1 2; do
    PORT=$(free_port)
    case $kind in
      reference) REDIS_URL=redis://127.0.0.1:$rport node bench/reference/server.js "$PORT" > "$OUT/server-$kind-$node.log" 2>&1 & ;;
      parley)
        PARLEY_HTTP_PORT=$PORT PARLEY_MANAGEMENT_PORT=0 PARLEY_LOG_LEVEL=WARN PARLEY_BROKER_TYPE=redis \
          PARLEY_BROKER_REDIS_URI=redis://127.0.0.1:$rport $JAVA $JVM_FLAGS -jar target/parley.jar \
          -conf bench/parley-bench.json > "$OUT/server-$kind-$node.log" 2>&1 & ;;
      parley-hz)
        PARLEY_HTTP_PORT=$PORT PARLEY_MANAGEMENT_PORT=0 PARLEY_LOG_LEVEL=WARN PARLEY_BROKER_TYPE=hazelcast \
          $JAVA $JVM_FLAGS -Dvertx.hazelcast.config="$hz" -jar target/parley.jar -conf bench/parley-bench.json \
          -cluster -cluster-host 127.0.0.1 > "$OUT/server-$kind-$node.log" 2>&1 & ;;
    esac
    pids+=($!)
    ports+=("$PORT")
    wait_health
  done
  SERVER_PID=${pids[0]}
  EXTRA_PIDS="${pids[1]} $rpid"
  CLUSTER_PORTS=$(IFS=,; echo "${ports[*]}")
  CLUSTER_PIDS=$(IFS=,; echo "${pids[*]}${rpid:+,$rpid}")
  # (with -cluster, a node is healthy only once it has joined the other: Vert.x starts the cluster manager first)
}

# gen <kind> <pin> <out.json> <loadgen args...>: runs the generator pinned (or not) against the server
gen() {
  local kind=$1 pin=$2 out=$3; shift 3
  local prefix=""
  [ "$pin" = pinned ] && prefix="taskset -c $GEN_CPU"
  local cluster=()
  [ -n "$CLUSTER_PORTS" ] && cluster=(--ports "$CLUSTER_PORTS" --server-pid "$CLUSTER_PIDS")
  $prefix "$LOADGEN" --host 127.0.0.1 --port "$PORT" --proto "$(proto_of "$kind")" --server-pid "$SERVER_PID" \
    "${cluster[@]}" --out "$out" "$@" >> "$LOG" 2>&1
}

# measure <scenario> <kind> <pin> <pair> <point> <loadgen args...>: one point, rerun when the machine was noisy
measure() {
  local scenario=$1 kind=$2 pin=$3 pair=$4 point=$5; shift 5
  local out="$OUT/$scenario-$point-$kind-pair$pair.json"
  for attempt in 1 2 3; do
    gen "$kind" "$pin" "$out" --label "$scenario $point $kind pair $pair" --warmup "$WARMUP_S" --duration "$DURATION_S" "$@" || true
    if [ ! -s "$out" ]; then log "no result for $out (attempt $attempt)"; continue; fi
    local noise
    noise=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("other_cores", 0))' "$out")
    # M1 and M2: the noise window is the hold, when the heap probe (a jcmd JVM) runs by design; R1: a rerun would
    # no longer be cold. Not guarded
    if [ "$pin" = unpinned ] || [ "$scenario" = M1 ] || [ "$scenario" = M2 ] || [ "$scenario" = R1 ] || python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' "$noise" "$NOISE_MAX"; then
      log "$scenario $point $kind pair $pair: $(python3 bench/summarize.py --one "$out")"
      return 0
    fi
    log "$scenario $point $kind pair $pair: other processes used $noise cores, rerunning"
    mv "$out" "$out.noisy$attempt"
  done
}

# prewarm <kind> <pin> [loadgen args]: F1 at 50k deliveries/s for PREWARM_S (plus what the scenario adds, e.g. churn)
prewarm() {
  local kind=$1 pin=$2; shift 2
  gen "$kind" "$pin" "$OUT/prewarm-$kind.json" --rooms 1 --subs 1000 --pubs 2 --rate 50 --warmup 0 --duration "$PREWARM_S" \
    --label prewarm "$@" || true
}

# settle <kind> <pin> <loadgen args>: one unmeasured 10 s cycle in the scenario's own shape. The first time a
# server's connections close and new ones open after the prewarm, HotSpot deoptimizes the hot fan-out path
# and C2 compiles it again (30% of Parley's CPU in the first F1 point); this puts that in no measured point.
# (F1-F3 and C1; S1, M1 and W1 are not settled: their targets are met with the cost included.)
settle() {
  local kind=$1 pin=$2; shift 2
  gen "$kind" "$pin" "$OUT/settle-$kind.json" --warmup 0 --duration 10 --label settle "$@" || true
}

# ---------------------------------------------------------------- scenarios
# F1/F2/F3: open loop, CPU per delivery and latency per offered load; rate = deliveries/s / members
fanout() {
  local scenario=$1 rooms=$2 subs=$3 pubs=$4; shift 4
  local loads=("$@")
  for pair in $(seq 1 "$PAIRS"); do
    for kind in reference parley $SIO_KIND floor; do
      start_server "$kind" pinned
      if [ "$kind" != floor ]; then
        prewarm "$kind" pinned
        settle "$kind" pinned --rooms "$rooms" --subs "$subs" --pubs "$pubs" --rate $(( loads[0] / subs ))
      fi
      for load in "${loads[@]}"; do
        local rate=$(( load / subs ))
        measure "$scenario" "$kind" pinned "$pair" "$load" --rooms "$rooms" --subs "$subs" --pubs "$pubs" --rate "$rate"
      done
      stop_server
    done
  done
}

saturation() {
  for pair in $(seq 1 "$PAIRS"); do
    for kind in reference parley $SIO_KIND; do
      start_server "$kind" pinned
      prewarm "$kind" pinned
      measure S1 "$kind" pinned "$pair" closed --rooms 1 --subs 1000 --pubs 2 --closed 32
      stop_server
    done
  done
}

# live Java heap in KB after a full GC (Parley's heap is preallocated and pretouched, so RSS alone
# would not show the Java objects a connection keeps)
live_heap_kb() {
  jcmd "$SERVER_PID" GC.run >/dev/null 2>&1 || return 0
  jcmd "$SERVER_PID" GC.heap_info 2>/dev/null | awk '/PSYoungGen|ParOldGen/ {v=$5; sub("K","",v); t+=v} END {print t}'
}

# heap_probe <ready lines before> <out>: once the generator printed READY, the live heap with everyone connected
heap_probe() {
  local before=$1 out=$2
  for _ in $(seq 1 1200); do
    [ "$(grep -c '^READY' "$LOG")" -gt "$before" ] && { live_heap_kb > "$out"; return 0; }
    sleep 0.1
  done
}

idle() {
  local n=$1
  for pair in $(seq 1 "$PAIRS"); do
    for kind in reference parley $SIO_KIND; do
      start_server "$kind" pinned
      # prewarm the connect + join path (JIT, allocator arenas) with a fifth of the connections, closed again
      # before the measured run starts, so the figures are per connection and not the server's first minute
      gen "$kind" pinned "$OUT/prewarm-M1-$kind.json" --rooms $(( n / 500 )) --subs 100 --idle --connect-rate 2000 \
        --duration 1 --label prewarm || true
      local probe="" hk=""
      [ "$kind" = parley-sio ] && hk=-sio
      if [ "$kind" = parley ] || [ "$kind" = parley-sio ]; then
        sleep 1   # let the prewarm's disconnects finish
        live_heap_kb > "$OUT/heap-before$hk.kb"
        heap_probe "$(grep -c '^READY' "$LOG")" "$OUT/heap-ready$hk.kb" &
        probe=$!
      fi
      measure M1 "$kind" pinned "$pair" "$n" --rooms $(( n / 100 )) --subs 100 --idle --connect-rate 2000
      if [ -n "$probe" ]; then
        wait "$probe" || true
        add_heap "$OUT/M1-$n-$kind-pair$pair.json" "$OUT/heap-before$hk.kb" "$OUT/heap-ready$hk.kb" "$n"
      fi
      stop_server
    done
  done
}

# add_heap <result.json> <heap before kb file> <heap ready kb file> <connections>: adds the live heap figures
add_heap() {
  python3 - "$@" <<'PY' || true
import json, sys
path, before, ready, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
r = json.load(open(path))
b, a = float(open(before).read() or 0), float(open(ready).read() or 0)
r["server_live_heap_before_kb"], r["server_live_heap_ready_kb"] = b, a
r["server_live_heap_per_conn_kb"] = round(max(a - b, 0) / n, 2)
json.dump(r, open(path, "w"), indent=2)
PY
}

# C1: F1's room at C1_LOAD deliveries/s (25k: Socket.IO's F1 knee) while C1_CONNS extra connections join and
# leave that room at each rate of C1_CHURN operations/s (0: the baseline of the same pair)
churn() {
  local conns=${C1_CONNS:-200} shape=(--rooms 1 --subs 1000 --pubs 2 --rate $(( ${C1_LOAD:-25000} / 1000 )))
  for pair in $(seq 1 "$PAIRS"); do
    for kind in reference parley; do
      start_server "$kind" pinned
      prewarm "$kind" pinned --churn 1000 --churn-conns "$conns"
      settle "$kind" pinned "${shape[@]}"
      for j in ${C1_CHURN:-0 500 2000}; do
        local extra=()
        [ "$j" -gt 0 ] && extra=(--churn "$j" --churn-conns "$conns")
        measure C1 "$kind" pinned "$pair" "$j" "${shape[@]}" "${extra[@]}"
      done
      stop_server
    done
  done
}

whole_machine() {
  for pair in $(seq 1 "$PAIRS"); do
    for kind in reference parley; do
      start_server "$kind" unpinned
      prewarm "$kind" unpinned
      for load in ${W1_LOADS:-25000 50000 100000 200000 300000}; do
        measure W1 "$kind" unpinned "$pair" "$load" --rooms 1 --subs 1000 --pubs 2 --rate $(( load / 1000 ))
      done
      stop_server
    done
  done
}

# X1: two nodes plus Redis (Hazelcast: two nodes), unpinned: three server processes and the generator share the
# machine's two cores. Server CPU per delivery counts every process (both nodes and redis-server).
cluster_pairs() {
  for pair in $(seq 1 "$PAIRS"); do
    for kind in reference parley parley-hz; do
      start_cluster "$kind"
      prewarm "$kind" unpinned
      for load in ${X1_LOADS:-25000 50000 100000}; do
        measure X1 "$kind" unpinned "$pair" "$load" --rooms 1 --subs 1000 --pubs 2 --rate $(( load / 1000 ))
      done
      stop_server
    done
  done
}

# M2: 100k connections on one node from eight loopback addresses, heartbeats on (the servers' defaults), held
# for M2_HOLD_S (30) to see what heartbeats cost; then a fan-out to one room of 100k at M2_RATE messages/s
many() {
  local n=${M2_CONNS:-100000} jvm=$JVM_FLAGS fds
  fds=$(ulimit -n)
  if [ "$fds" != unlimited ] && [ "$fds" -lt $(( n + 1000 )) ]; then
    # one process holds every connection (the server, and the generator): the file limit caps the count
    n=$(( (fds - 1000) / 100 * 100 ))
    log "M2: the open-file limit is $fds (raising it was refused): measuring $n connections instead of ${M2_CONNS:-100000}"
  fi
  JVM_FLAGS=${M2_JVM_FLAGS:-"-Xms3g -Xmx3g -XX:+UseParallelGC -XX:+AlwaysPreTouch"}
  for pair in $(seq 1 "$PAIRS"); do
    for kind in reference parley $SIO_KIND; do
      start_server "$kind" pinned
      # as in M1: a fifth of the connections first (connect, join, close), so that the JIT's code and the
      # allocators' arenas grown by the first connections are not counted as per-connection memory
      gen "$kind" pinned "$OUT/prewarm-M2-$kind.json" --rooms $(( n / 500 )) --subs 100 --idle --connect-rate 2000 \
        --sources 8 --duration 1 --label prewarm || true
      local probe="" hk=""
      [ "$kind" = parley-sio ] && hk=-sio
      if [ "$kind" != reference ]; then
        sleep 1   # let the prewarm's disconnects finish
        live_heap_kb > "$OUT/heap-before-M2$hk.kb"
        heap_probe "$(grep -c '^READY' "$LOG")" "$OUT/heap-ready-M2$hk.kb" &
        probe=$!
      fi
      DURATION_S=${M2_HOLD_S:-30} measure M2 "$kind" pinned "$pair" "$n" --rooms $(( n / 100 )) --subs 100 --idle \
        --connect-rate 5000 --sources 8 --setup-timeout 600
      if [ -n "$probe" ]; then
        wait "$probe" || true
        add_heap "$OUT/M2-$n-$kind-pair$pair.json" "$OUT/heap-before-M2$hk.kb" "$OUT/heap-ready-M2$hk.kb" "$n"
      fi
      measure M2 "$kind" pinned "$pair" fanout --rooms 1 --subs "$n" --pubs 2 --rate "${M2_RATE:-1}" \
        --connect-rate 5000 --sources 8 --setup-timeout 600 --drain 30
      stop_server
    done
  done
  JVM_FLAGS=$jvm
}

# R1: a reconnect storm on a fresh node: 10k clients connect and join 100 rooms of 100 all at once, against a
# server started just before (cold JIT), then once more on the same server (warm)
storm() {
  local n=${R1_CONNS:-10000}
  for pair in $(seq 1 "$PAIRS"); do
    for kind in reference reference-presence parley $SIO_KIND; do
      start_server "$kind" pinned
      for point in cold warm; do
        measure R1 "$kind" pinned "$pair" "$point" --rooms $(( n / 100 )) --subs 100 --idle --connect-rate 1000000 \
          --max-pending "$n" --duration 1
      done
      stop_server
    done
  done
}

for s in $SCENARIOS; do
  log "scenario $s"
  case $s in
    F1) if [ "$MODE" = quick ]; then fanout F1 1 1000 2 50000; else fanout F1 1 1000 2 ${F1_LOADS:-25000 50000 100000 150000 200000}; fi ;;
    F2) fanout F2 1 5000 2 ${F2_LOADS:-10000 25000 50000 100000 200000} ;;
    F3) fanout F3 100 50 1 ${F3_LOADS:-50000 100000} ;;
    S1) saturation ;;
    M1) idle 10000 ;;
    W1) whole_machine ;;
    C1) churn ;;
    X1) cluster_pairs ;;
    M2) many ;;
    R1) storm ;;
    *) log "unknown scenario $s" ;;
  esac
done

python3 bench/summarize.py "$OUT" > "$OUT/summary.md"
cp "$OUT/summary.md" docs/performance-latest.md
log "done: $OUT/summary.md"
