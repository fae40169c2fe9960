#!/usr/bin/env bash
# Make sure the PostgreSQL JDBC driver (Debian's libpostgresql-jdbc-java, the driver DBeaver and
# Metabase use) and a JDK are installed: tests/serve/test_jdbc.py compiles a small Java client
# against /usr/share/java/postgresql.jar and runs it against `headwater serve`. The same Java 17
# runs PySpark for the Spark engine tests.
set -euo pipefail
missing=()
[ -f /usr/share/java/postgresql.jar ] || missing+=(libpostgresql-jdbc-java)
{ command -v javac >/dev/null 2>&1 && command -v java >/dev/null 2>&1; } \
  || missing+=(openjdk-17-jdk-headless)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "ensure_jdbc: installing Debian's ${missing[*]}" >&2
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
