#!/usr/bin/env bash
# Reproducible Tollgate benchmark: the mock provider alone vs. the mock behind Tollgate.
#
#   bash bench/run.sh
#
# Builds release binaries, starts tollgate-mock and tollgate (temporary config and data dir,
# loopback ports only), runs tollgate-loadgen for
#   {direct to mock, through tollgate} x {non-stream, stream} x {concurrency 1, 32}
# and prints a Markdown table, Tollgate's peak RSS (VmHWM), the date, commit and machine.
#
# Each scenario is measured for a fixed time (after its warm-up), so fast and slow targets
# are sampled over the same window; set the request counts to measure fixed counts instead.
#
# Environment knobs (defaults in brackets):
#   BENCH_SECS [10]            measured seconds per scenario
#   BENCH_REQUESTS_C1 []       measure this many requests at concurrency 1 instead
#   BENCH_REQUESTS_C32 []      measure this many requests at concurrency 32 instead
#   BENCH_WARMUP [50]          warm-up requests before each scenario
#   BENCH_WORDS [50]           reply length in words (mock directive words=N)
#   BENCH_MOCK_ONLY [0]        1: build and run only the direct-to-mock scenarios
#   BENCH_NO_BUILD [0]         1: use the binaries already in target/release
#   BENCH_KEEP [0]             1: keep the temporary directory (config, logs, JSON results)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SECS="${BENCH_SECS:-10}"
REQ_C1="${BENCH_REQUESTS_C1:-}"
REQ_C32="${BENCH_REQUESTS_C32:-}"
WARMUP="${BENCH_WARMUP:-50}"
WORDS="${BENCH_WORDS:-50}"
MOCK_ONLY="${BENCH_MOCK_ONLY:-0}"
UPSTREAM_MODEL="gpt-4o-mini@words=${WORDS}"
BIN="$ROOT/target/release"

command -v jq >/dev/null || { echo "bench/run.sh: needs jq (apt-get install jq)" >&2; exit 1; }

if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
  pkgs=(-p tollgate-mock -p tollgate-loadgen)
  [[ "$MOCK_ONLY" == 1 ]] || pkgs=(-p tollgate "${pkgs[@]}")
  echo "building release binaries: cargo build --release ${pkgs[*]}" >&2
  cargo build --release "${pkgs[@]}" >&2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench.XXXXXX")"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    echo "kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port nothing listens on (checked by trying to connect to it).
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "bench/run.sh: no free port found" >&2
  return 1
}

# wait_for_line FILE REGEX PID: print the first match of REGEX's group 1 in FILE, waiting
# up to 30 s; fail early if PID exits.
wait_for_addr() {
  local file="$1" prefix="$2" pid="$3" line
  for _ in $(seq 1 300); do
    line="$(grep -m1 -o "${prefix}[^ ]*" "$file" 2>/dev/null || true)"
    if [[ -n "$line" ]]; then
      echo "${line#"$prefix"}"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "bench/run.sh: process $pid exited before listening; its output:" >&2
      cat "$file" "${file%.out}.err" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
  echo "bench/run.sh: timed out waiting for '$prefix' in $file" >&2
  return 1
}

# --- mock provider --------------------------------------------------------------------
"$BIN/tollgate-mock" --listen 127.0.0.1:0 --max-recorded 0 >"$WORK/mock.out" 2>"$WORK/mock.err" &
MOCK_PID=$!
PIDS+=("$MOCK_PID")
MOCK_ADDR="$(wait_for_addr "$WORK/mock.out" "tollgate-mock listening on " "$MOCK_PID")"
echo "mock provider on $MOCK_ADDR (pid $MOCK_PID)" >&2

# --- tollgate -------------------------------------------------------------------------
TG_PID=""
if [[ "$MOCK_ONLY" != 1 ]]; then
  TG_PORT="$(free_port)"
  ADMIN_PORT="$(free_port)"
  while [[ "$ADMIN_PORT" == "$TG_PORT" ]]; do ADMIN_PORT="$(free_port)"; done
  cat >"$WORK/tollgate.yaml" <<EOF
server:
  listen: 127.0.0.1:${TG_PORT}
  admin_listen: 127.0.0.1:${ADMIN_PORT}
  admin_token: tg-bench-admin-token
providers:
  - name: mock
    kind: openai
    base_url: http://${MOCK_ADDR}/v1
    api_keys: ["sk-bench-upstream"]
models:
  - name: bench
    targets:
      - {provider: mock, model: "${UPSTREAM_MODEL}"}
    price: {input_per_mtok: 0.15, output_per_mtok: 0.60}
consumers:
  - name: bench
    api_keys: ["tg-bench-key"]
  # The same traffic under limits and a budget that never bind: what admission
  # (GCRA rate limits, concurrency, budget reservation and settlement) costs.
  - name: bench-limited
    api_keys: ["tg-bench-limited"]
    rate_limit: {requests_per_minute: 1000000000, tokens_per_minute: 1000000000000, concurrent: 100000}
    budget: {usd: 1000000, period: monthly}
EOF
  (
    cd "$WORK"
    export TOLLGATE_ADMIN_PASSWORD=tg-bench-admin-password
    exec "$BIN/tollgate" serve --config "$WORK/tollgate.yaml" >"$WORK/tollgate.out" 2>"$WORK/tollgate.err"
  ) &
  TG_PID=$!
  PIDS+=("$TG_PID")
  TG_URL="$(wait_for_addr "$WORK/tollgate.out" "tollgate gateway listening on " "$TG_PID")"
  echo "tollgate on $TG_URL (pid $TG_PID)" >&2
  TG_RSS_START_KB="$(awk '/^VmRSS:/ {print $2}' "/proc/$TG_PID/status")"
fi

# --- scenarios ------------------------------------------------------------------------
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"

run_one() { # label url key model stream(0|1) concurrency requests(empty: timed)
  local label="$1" url="$2" key="$3" model="$4" stream="$5" conc="$6" n="$7"
  local args=(--url "$url" --key "$key" --model "$model" --concurrency "$conc"
    --warmup "$WARMUP" --label "$label" --json)
  if [[ -n "$n" ]]; then args+=(--requests "$n"); else args+=(--duration-secs "$SECS"); fi
  [[ "$stream" == 1 ]] && args+=(--stream)
  local out
  if ! out="$("$BIN/tollgate-loadgen" "${args[@]}")"; then
    echo "bench/run.sh: loadgen reported a failure for $label (see above)" >&2
  fi
  grep -v '^{' <<<"$out" >&2 || true
  grep '^{' <<<"$out" >>"$RESULTS" || true
}

for stream in 0 1; do
  for conc in 1 32; do
    n="$REQ_C1"
    [[ "$conc" == 32 ]] && n="$REQ_C32"
    kind="non-stream"
    [[ "$stream" == 1 ]] && kind="stream"
    run_one "direct, $kind, c=$conc" "http://$MOCK_ADDR" "sk-bench-direct" "$UPSTREAM_MODEL" "$stream" "$conc" "$n"
    if [[ -n "$TG_PID" ]]; then
      run_one "tollgate, $kind, c=$conc" "$TG_URL" "tg-bench-key" "bench" "$stream" "$conc" "$n"
      if [[ "$stream" == 0 ]]; then
        run_one "tollgate+limits, $kind, c=$conc" "$TG_URL" "tg-bench-limited" "bench" "$stream" "$conc" "$n"
      fi
    fi
  done
done

TG_HWM_KB=""
CALLS=""
if [[ -n "$TG_PID" ]]; then
  TG_HWM_KB="$(awk '/^VmHWM:/ {print $2}' "/proc/$TG_PID/status")"
  # Stop it gracefully (it drains and flushes its call log), then count the call records.
  kill -TERM "$TG_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$TG_PID" 2>/dev/null || break; sleep 0.1; done
  if command -v sqlite3 >/dev/null && [[ -f "$WORK/tollgate-data/tollgate.db" ]]; then
    CALLS="$(sqlite3 "$WORK/tollgate-data/tollgate.db" 'select count(*) from calls' 2>/dev/null || true)"
  fi
fi

# --- report ---------------------------------------------------------------------------
commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "no commit")"
if [[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -1)" ]]; then
  commit="$commit (work tree has uncommitted changes)"
fi
cpu="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"

echo
echo "Date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  "
echo "Commit: $commit  "
echo "Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $(uname -sr); loadgen, mock and tollgate share these CPUs  "
measure="${SECS} s per scenario"
if [[ -n "$REQ_C1$REQ_C32" ]]; then
  measure="${REQ_C1:-${SECS} s} at c=1, ${REQ_C32:-${SECS} s} at c=32"
fi
echo "Workload: OpenAI chat completions, ${WORDS}-word replies, closed loop, ${measure} after ${WARMUP} warm-up requests"
echo
echo "| scenario | requests | errors | req/s | p50 ms | p90 ms | p99 ms | max ms | TTFT p50 ms | TTFT p99 ms |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
jq -r '
  def v(x): if x == null then "-" else (x | tostring) end;
  "| \(.label) | \(.requests) | \(.errors) | \(.rps) | \(v(.latency_ms.p50)) | \(v(.latency_ms.p90)) | \(v(.latency_ms.p99)) | \(v(.latency_ms.max)) | \(v(.ttft_ms.p50)) | \(v(.ttft_ms.p99)) |"
' "$RESULTS"

if [[ -n "$TG_PID" ]]; then
  echo
  echo "Overhead (through tollgate minus direct, same scenario):"
  echo
  echo "| scenario | req/s | p50 ms | p99 ms | TTFT p50 ms | TTFT p99 ms |"
  echo "|---|---:|---:|---:|---:|---:|"
  jq -r -s '
    def r2: (. * 100 | round) / 100;
    def d(a; b): if a == null or b == null then "-" else ((a - b) | r2 | if . > 0 then "+\(.)" else tostring end) end;
    (map(select(.label | startswith("direct, "))) | map({key: (.label | ltrimstr("direct, ")), value: .}) | from_entries) as $direct
    | .[] | select(.label | startswith("tollgate, "))
    | (.label | ltrimstr("tollgate, ")) as $k | $direct[$k] as $b
    | select($b != null)
    | "| \($k) | \(d(.rps; $b.rps)) | \(d(.latency_ms.p50; $b.latency_ms.p50)) | \(d(.latency_ms.p99; $b.latency_ms.p99)) | \(d(.ttft_ms.p50; $b.ttft_ms.p50)) | \(d(.ttft_ms.p99; $b.ttft_ms.p99)) |"
  ' "$RESULTS"
  echo
  echo "Tollgate RSS: ${TG_RSS_START_KB:-?} KiB after start, peak (VmHWM) ${TG_HWM_KB:-?} KiB ($(( ${TG_HWM_KB:-0} / 1024 )) MiB)  "
  total="$(jq -s 'map(select(.label | startswith("tollgate")) | .requests) | add // 0' "$RESULTS")"
  echo "Call records in tollgate's database after it stopped: ${CALLS:-unknown} (measured requests through tollgate: $total, plus warm-ups)"
fi

errors="$(jq -s 'map(.errors) | add // 0' "$RESULTS")"
scenarios="$(wc -l <"$RESULTS")"
expected=4
[[ -n "$TG_PID" ]] && expected=10
if [[ "$errors" != 0 || "$scenarios" != "$expected" ]]; then
  echo "bench/run.sh: $errors errors, $scenarios of $expected scenarios reported" >&2
  exit 1
fi
