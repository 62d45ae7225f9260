#!/usr/bin/env bash
# What a signed token adds to opening a connection: CPU (whole JVM and server threads) and latency per /ws
# connect + auth + join + close, anonymous against token mode with HS256 and RS256 tokens sent as the first auth
# frame or as an Authorization: Bearer header; one cycle at a time and 8 in flight, every variant measured in 3
# interleaved rounds. Server and client share one JVM; runs disturbed by other processes are measured again.
# Usage: bash bench/auth.sh   (about two minutes on a quiet machine; it waits for one)
#   Knobs, as JAVA_OPTS="-Dname=value ...": cycles (3000), warmup (3000), rounds (3), inflight (8), users (1000),
#   noiseMax (0.15 cores), variants (anonymous,hs256-frame,hs256-bearer,rs256-frame,rs256-bearer)
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q test-compile dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt
exec java -Xms512m -Xmx512m -XX:+UseParallelGC ${JAVA_OPTS:-} \
  -cp "target/classes:target/test-classes:$(cat target/test-classpath.txt)" dev.parley.bench.AuthCost "$@"
