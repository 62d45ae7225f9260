#!/usr/bin/env bash
# What the relay adds to a long-polling round trip (direct to the session's node, or through another node),
# with the Redis broker and with Hazelcast. Latency and CPU per round trip; each path measured twice.
# Usage: bash bench/relay.sh   (about a minute; starts its own redis-server and two Hazelcast members)
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q test-compile dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt
exec java -cp "target/classes:target/test-classes:$(cat target/test-classpath.txt)" dev.parley.bench.RelayCost "$@"
