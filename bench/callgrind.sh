#!/usr/bin/env bash
# Instructions per request in the gateway process, counted by valgrind's callgrind
# (stable on noisy or throttled machines, unlike wall-clock figures).
#
#   bash bench/callgrind.sh            # non-stream chat, policies on
#   STREAM=1 bash bench/callgrind.sh   # streamed chat
#
# Runs tollgate (release) under callgrind twice against the mock provider, with a
# priced model, a consumer and a team with requests/tokens/concurrency limits and USD
# budgets, and the call journal on SQLite: once for WARM requests and once for
# WARM + N requests (concurrency 4). The difference over N is the cost of one request,
# start-up and warm-up excluded.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/target/release"
N="${N:-500}"
WARM="${WARM:-100}"
STREAM_FLAG=()
[[ "${STREAM:-0}" == 1 ]] && STREAM_FLAG=(--stream)
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }
[[ -x "$BIN/tollgate" && -x "$BIN/tollgate-mock" && -x "$BIN/tollgate-loadgen" ]] || {
  echo "build first: cargo build --release -p tollgate -p tollgate-mock -p tollgate-loadgen" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tollgate-callgrind.XXXXXX")"
trap 'kill $MOCK_PID 2>/dev/null || true; [[ "${KEEP:-0}" == 1 ]] && echo "kept $WORK" >&2 || rm -rf "$WORK"' EXIT
"$BIN/tollgate-mock" --listen 127.0.0.1:0 --max-recorded 0 > "$WORK/mock.out" 2>&1 &
MOCK_PID=$!
for _ in $(seq 1 50); do grep -q "listening on" "$WORK/mock.out" 2>/dev/null && break; sleep 0.1; done
MOCK_URL="http://$(sed -n 's/.*listening on //p' "$WORK/mock.out" | head -1)"

run() {
  local total="$1" dir="$WORK/run$1"
  mkdir -p "$dir"
  cat > "$dir/tollgate.yaml" <<EOF
server: {listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0, admin_token: bench}
providers:
  - {name: mock, kind: openai, base_url: "$MOCK_URL/v1", api_keys: ["sk-bench"]}
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
  (cd "$dir" && valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
     "$BIN/tollgate" serve --config tollgate.yaml > "$dir/out" 2> "$dir/err") &
  local vg=$!
  for _ in $(seq 1 600); do grep -q "gateway listening on" "$dir/out" 2>/dev/null && break; sleep 0.2; done
  local url; url="$(sed -n 's/.*gateway listening on //p' "$dir/out" | head -1)"
  "$BIN/tollgate-loadgen" --url "$url" --key tg-bench --model bench --concurrency 4 \
    --requests "$total" "${STREAM_FLAG[@]}" > /dev/null
  kill -TERM "$vg" 2>/dev/null || true
  local pid; pid="$(pgrep -f "callgrind-out-file=$dir/cg.out" | head -1 || true)"
  [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null || true
  wait "$vg" 2>/dev/null || true
  for _ in $(seq 1 300); do [[ -s "$dir/cg.out" ]] && break; sleep 0.2; done
  sed -n 's/^summary: //p;s/^totals: //p' "$dir/cg.out" | head -1
}

a="$(run "$WARM")"
b="$(run "$((WARM + N))")"
per=$(( (b - a) / N ))
echo "instructions: $WARM requests $a; $((WARM + N)) requests $b; per request $per (date $(date -u +%FT%TZ), commit $(git -C "$ROOT" rev-parse --short HEAD), stream=${STREAM:-0})"
