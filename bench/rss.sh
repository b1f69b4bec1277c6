#!/usr/bin/env bash
# Tollgate's memory under the issue-15 workloads: peak RSS (VmHWM in /proc/PID/status).
#
#   bash bench/rss.sh          # needs target/release/{tollgate,tollgate-mock,tollgate-loadgen}
#
# Two gateway lifetimes, each from a fresh start, policies on (bench/lib.sh's config):
#   1. load: non-stream chat at c=32 then streamed chat at c=8, RSS_SECS seconds each;
#   2. open streams: RSS_STREAMS (1,000) streams held open at once (100 words, 50 ms
#      apart: about 5 s each), for RSS_SECS seconds.
# It prints RSS after start, the peak of each lifetime's traffic and whether the
# targets hold (40 MiB under load, 64 MiB with 1,000 open streams). The peak is reset
# after start (bench/lib.sh's reset_peak) and the start's own peak printed beside it: a
# first start hashes the console user's password (argon2id, 19 MiB) once. Memory does not depend on the
# machine's load the way throughput does, so this is meaningful on a busy machine.
#
# Knobs: RSS_SECS [10], RSS_STREAMS [1000], RSS_WORDS [64], BENCH_KEEP [0].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${BIN:-$ROOT/target/release}"
NAME=bench/rss.sh
SECS="${RSS_SECS:-10}"
STREAMS="${RSS_STREAMS:-1000}"
WORDS="${RSS_WORDS:-64}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
for b in tollgate tollgate-mock tollgate-loadgen; do
  [[ -x "$BIN/$b" ]] || die "build first: cargo build --release -p tollgate -p tollgate-mock -p tollgate-loadgen"
done
# Each open stream holds a client and an upstream socket.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tollgate-rss.XXXXXX")"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ "${BENCH_KEEP:-0}" == 1 ]] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_mock MOCK_ADDR

# loadgen LABEL ARGS...: one run against the gateway; fails on any error.
loadgen() {
  local label="$1" out
  shift
  out="$("$BIN/tollgate-loadgen" --url "$TG_URL" --key tg-bench --json --label "$label" "$@")" ||
    die "loadgen failed for $label: $out"
  local line errors
  line="$(grep '^{' <<<"$out")"
  errors="$(jq '.errors' <<<"$line")"
  [[ "$errors" == 0 ]] || die "$label: $errors errors: $line"
  echo "  $label: $(jq -r '"\(.requests) requests, \(.rps) req/s"' <<<"$line")" >&2
}

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

# --- lifetime 1: load ---------------------------------------------------------------
mkdir -p "$WORK/load"
tollgate_config "$WORK/load/tollgate.yaml" "$MOCK_ADDR" "$WORDS"
start_tollgate "$WORK/load"
START_PEAK_KB="$(reset_peak "$TG_PID")"
START_KB="$(kib "$TG_PID" VmRSS)"
loadgen "non-stream c=32" --model bench --concurrency 32 --warmup 64 --duration-secs "$SECS"
AFTER_NS_KB="$(kib "$TG_PID" VmHWM)"
loadgen "stream c=8" --model bench --stream --concurrency 8 --warmup 16 --duration-secs "$SECS"
LOAD_HWM_KB="$(kib "$TG_PID" VmHWM)"
LOAD_END_KB="$(kib "$TG_PID" VmRSS)"
stop "$TG_PID"

# --- lifetime 2: open streams -------------------------------------------------------
mkdir -p "$WORK/streams"
tollgate_config "$WORK/streams/tollgate.yaml" "$MOCK_ADDR" "$WORDS"
start_tollgate "$WORK/streams"
S_START_PEAK_KB="$(reset_peak "$TG_PID")"
S_START_KB="$(kib "$TG_PID" VmRSS)"
loadgen "$STREAMS open streams" --model slow --stream --concurrency "$STREAMS" --warmup 0 \
  --duration-secs "$SECS" --timeout-secs 60
STREAMS_HWM_KB="$(kib "$TG_PID" VmHWM)"
stop "$TG_PID"

verdict() { # KIB LIMIT_MIB
  if (($1 <= $2 * 1024)); then echo "met (≤ $2 MiB)"; else echo "missed (> $2 MiB)"; fi
}
echo
echo "Date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(commit_line)  "
echo "Machine: $(machine_line)  "
echo "Workload: policies on, ${WORDS}-word answers, ${SECS} s per phase  "
echo
echo "| lifetime | start's own peak | RSS after start | peak RSS of the traffic (VmHWM) | target |"
echo "|---|---:|---:|---:|---|"
echo "| non-stream c=32, then stream c=8 | $(mib "$START_PEAK_KB") MiB | $(mib "$START_KB") MiB | $(mib "$LOAD_HWM_KB") MiB (after non-stream: $(mib "$AFTER_NS_KB"); at the end: $(mib "$LOAD_END_KB") resident) | $(verdict "$LOAD_HWM_KB" 40) |"
echo "| $STREAMS streams open at once | $(mib "$S_START_PEAK_KB") MiB | $(mib "$S_START_KB") MiB | $(mib "$STREAMS_HWM_KB") MiB | $(verdict "$STREAMS_HWM_KB" 64) |"
