#!/usr/bin/env bash
# What a join and a leave cost the presence store (single node, Redis, Hazelcast) as a room grows.
# Usage: bash bench/presence.sh   (about a minute; starts its own redis-server and two Hazelcast members)
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q test-compile dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt
exec java -cp "target/classes:target/test-classes:$(cat target/test-classpath.txt)" dev.parley.bench.PresenceCost "$@"
