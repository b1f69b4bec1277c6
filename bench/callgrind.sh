#!/usr/bin/env bash
# Instructions per request in the gateway process, counted by valgrind's callgrind
# (stable on noisy or throttled machines, unlike wall-clock figures).
#
#   bash bench/callgrind.sh                 # non-stream chat, policies on
#   KIND=stream bash bench/callgrind.sh     # streamed chat (STREAM=1 works too)
#   KIND=service bash bench/callgrind.sh    # a REST service GET of a 1 KiB JSON answer
#   TOP=30 bash bench/callgrind.sh          # also the 30 functions with the most
#                                           # instructions of their own, and inclusive
#
# Runs tollgate (release) under callgrind against the mock provider (for chat: a priced
# model, a consumer and a team with requests/tokens/concurrency limits and USD budgets;
# for service: `tollgate-mock --rest` behind a service with key auth and a rate limit),
# call records on SQLite. WARM requests first (concurrency 4), then the counters are
# zeroed (callgrind_control -z), N requests are sent and the counters dumped
# (callgrind_control -d) before shutdown: start-up, warm-up and shutdown are left out,
# and the dump divided by N is the cost of one request. KEEP=1 keeps the dump
# (callgrind_annotate FILE reads it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${BIN:-$ROOT/target/release}"
N="${N:-500}"
WARM="${WARM:-100}"
KIND="${KIND:-chat}"
[[ "${STREAM:-0}" == 1 ]] && KIND=stream
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }
[[ -x "$BIN/tollgate" && -x "$BIN/tollgate-mock" && -x "$BIN/tollgate-loadgen" ]] || {
  echo "build first: cargo build --release -p tollgate -p tollgate-mock -p tollgate-loadgen" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tollgate-callgrind.XXXXXX")"
MOCK_PID=""
VG_PID=""
cleanup() {
  [[ -n "$VG_PID" ]] && kill -TERM "$VG_PID" 2>/dev/null || true
  [[ -n "$MOCK_PID" ]] && kill "$MOCK_PID" 2>/dev/null || true
  if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
MOCK_ARGS=(--listen 127.0.0.1:0 --max-recorded 0)
[[ "$KIND" == service ]] && MOCK_ARGS=(--rest --listen 127.0.0.1:0)
"$BIN/tollgate-mock" "${MOCK_ARGS[@]}" > "$WORK/mock.out" 2>&1 &
MOCK_PID=$!
for _ in $(seq 1 50); do grep -q "listening on" "$WORK/mock.out" 2>/dev/null && break; sleep 0.1; done
MOCK_ADDR="$(sed -n 's/.*listening on //p' "$WORK/mock.out" | head -1)"

if [[ "$KIND" == service ]]; then
  cat > "$WORK/tollgate.yaml" <<EOF
server: {listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0, admin_token: bench}
consumers:
  - {name: c, api_keys: ["tg-bench"]}
services:
  - name: bench
    path_prefix: /svc/bench
    upstream: {nodes: [{url: "http://$MOCK_ADDR"}]}
    routes:
      - {name: json, methods: [GET], path: "/json/{bytes}"}
    auth: [key]
    rate_limit: {requests_per_minute: 1000000000}
EOF
else
  cat > "$WORK/tollgate.yaml" <<EOF
server: {listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0, admin_token: bench}
providers:
  - {name: mock, kind: openai, base_url: "http://$MOCK_ADDR/v1", api_keys: ["sk-bench"]}
models:
  - name: bench
    targets: [{provider: mock, model: "gpt-4o-mini@words=50"}]
    price: {input_per_mtok: 0.15, output_per_mtok: 0.60}
teams:
  - {name: t, budget: {usd: 1000000, period: monthly}, rate_limit: {requests_per_minute: 100000000, tokens_per_minute: 1000000000, concurrent: 1000}}
consumers:
  - name: c
    team: t
    api_keys: ["tg-bench"]
    rate_limit: {requests_per_minute: 100000000, tokens_per_minute: 1000000000, concurrent: 1000}
    budget: {usd: 1000000, period: monthly}
EOF
fi

(cd "$WORK" && exec valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out.%p" \
   "$BIN/tollgate" serve --config tollgate.yaml > "$WORK/out" 2> "$WORK/err") &
VG_PID=$!
for _ in $(seq 1 900); do grep -q "gateway listening on" "$WORK/out" 2>/dev/null && break; sleep 0.2; done
URL="$(sed -n 's/.*gateway listening on //p' "$WORK/out" | head -1)"
[[ -n "$URL" ]] || { echo "tollgate did not start under valgrind:" >&2; tail "$WORK/err" >&2; exit 1; }

load() {
  local n="$1"
  if [[ "$KIND" == service ]]; then
    "$BIN/tollgate-loadgen" --door rest --url "$URL/svc/bench/json/1024" --key tg-bench \
      --expect-bytes 1024 --concurrency 4 --warmup 0 --requests "$n" --json
  else
    local s=()
    [[ "$KIND" == stream ]] && s=(--stream)
    "$BIN/tollgate-loadgen" --url "$URL" --key tg-bench --model bench --concurrency 4 \
      --warmup 0 --requests "$n" "${s[@]}" --json
  fi | grep '^{' | jq -e '.errors == 0' > /dev/null || { echo "requests failed" >&2; exit 1; }
}

load "$WARM"
callgrind_control -z "$VG_PID" > /dev/null
load "$N"
callgrind_control -d "$VG_PID" > /dev/null
DUMP=""
for _ in $(seq 1 300); do
  DUMP="$(ls "$WORK"/cg.out.*.1 2>/dev/null | head -1 || true)"
  [[ -n "$DUMP" && -s "$DUMP" ]] && grep -q '^totals:\|^summary:' "$DUMP" && break
  sleep 0.2
done
[[ -n "$DUMP" ]] || { echo "no callgrind dump" >&2; exit 1; }
total="$(sed -n 's/^summary: //p;s/^totals: //p' "$DUMP" | head -1 | awk '{print $1}')"
# The tokio worker threads' tasks alone (the request path; the SQLite writer's thread, whose
# share swings with how the journal happens to batch, left out): the steadier figure.
worker="$(callgrind_annotate --inclusive=yes --threshold=100 "$DUMP" 2>/dev/null |
  grep -m1 'multi_thread::worker::Context::run_task ' | awk '{gsub(",", "", $1); print $1}' || true)"
echo "instructions: $N requests $total; per request $((total / N)), worker threads $((${worker:-0} / N)) (kind=$KIND, date $(date -u +%FT%TZ), commit $(git -C "$ROOT" rev-parse --short HEAD))"
if [[ -n "${TOP:-}" ]]; then
  echo "--- top $TOP by own instructions (per request: divide by $N)"
  callgrind_annotate --threshold=100 "$DUMP" 2>/dev/null | grep -E '^ *[0-9,]+ ' | head -n "$TOP"
  echo "--- top $TOP inclusive"
  callgrind_annotate --inclusive=yes --threshold=100 "$DUMP" 2>/dev/null | grep -E '^ *[0-9,]+ ' | head -n "$TOP"
fi
