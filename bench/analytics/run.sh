#!/usr/bin/env bash
# Analytics at scale: ingest RECORDS synthetic call records (default 10,000,000) into
# SQLite and PostgreSQL through the store's insert path, time every analytics query,
# report the database size. Not a test; see BENCHMARKS.md ("Analytics").
#
#   bash bench/analytics/run.sh [sqlite|postgres|both]
#
# Environment: RECORDS (default 10000000), BATCH (default 1000), INGEST_SECONDS (stop
# the ingest after that long: a time-ordered prefix of the RECORDS-record data set is
# stored and queried; the rate and the time all RECORDS would take are printed),
# BENCH_DIR (where the SQLite file goes; default a temp dir), PG_URL (default
# postgres://postgres@127.0.0.1:5432/test; a schema bench_analytics is created there
# and dropped afterwards). The databases are deleted at the end (KEEP=1 keeps them).
set -euo pipefail
cd "$(dirname "$0")/../.."
WHICH=${1:-both}
RECORDS=${RECORDS:-10000000}
BATCH=${BATCH:-1000}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
SCHEMA=bench_analytics

cargo build --release -p tollgate-store --example analytics_bench
BIN=target/release/examples/analytics_bench
echo "# Analytics bench, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD), $(nproc) cores"
echo

if [[ $WHICH == sqlite || $WHICH == both ]]; then
    DIR=${BENCH_DIR:-$(mktemp -d)}
    DB="$DIR/analytics.db"
    "$BIN" "sqlite://$DB" "$RECORDS" "$BATCH"
    sqlite3 "$DB" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
    echo
    echo "SQLite database size: $(du -h "$DB" | cut -f1) ($(stat -c %s "$DB") bytes)"
    echo
    [[ ${KEEP:-0} == 1 ]] || rm -f "$DB" "$DB-wal" "$DB-shm"
fi

if [[ $WHICH == postgres || $WHICH == both ]]; then
    psql "$PG_URL" -qc "CREATE SCHEMA IF NOT EXISTS $SCHEMA"
    "$BIN" "$PG_URL?options=-c%20search_path%3D$SCHEMA" "$RECORDS" "$BATCH"
    echo
    psql "$PG_URL" -Atc "SELECT 'PostgreSQL schema size: ' || pg_size_pretty(SUM(pg_total_relation_size(c.oid))) || ' (calls ' || pg_size_pretty(SUM(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname = 'calls')) || ')' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '$SCHEMA' AND c.relkind = 'r'"
    echo
    [[ ${KEEP:-0} == 1 ]] || psql "$PG_URL" -qc "DROP SCHEMA $SCHEMA CASCADE"
fi
