#!/usr/bin/env bash
# The issue-15 table: Tollgate (policies on) beside nginx and LiteLLM's proxy in one
# run, in front of the same mock provider, written as a dated section of BENCHMARKS.md.
#
#   bash bench/issue15.sh                          # builds release binaries first
#   BENCH_NO_BUILD=1 BENCH_NOTE="..." bash bench/issue15.sh
#
# Starts, on 127.0.0.1 (free ports, a temporary directory):
#   - the mock provider (`tollgate-mock`, OpenAI wire, BENCH_WORDS-word answers = tokens);
#   - nginx (Debian's; apt-get installs it when missing): one worker, upstream
#     keep-alive, `proxy_buffering off`, `proxy_request_buffering off`, access log off;
#   - Tollgate, policies on (bench/lib.sh): a priced model; a consumer and a team each
#     with requests/min, tokens/min, concurrency limits and a USD budget (never
#     binding), call records on SQLite, metrics and the access log on;
#   - LiteLLM's proxy from PyPI (`litellm[proxy]` in a venv under target/), one worker,
#     no database, the same model (BENCH_LITELLM=0 leaves it out).
# With taskset and 2+ CPUs the load generator and the mock run on CPU 0 and the proxy
# under test (all its threads or processes) on CPU 1.
#
# For each proxy, and direct to the mock as the base of "added": non-stream c=1 (p50 and
# p99), non-stream c=32 (req/s, proxy CPU per request from /proc/PID/stat), stream c=1
# (time to first token), stream c=8 (req/s). Then, on Tollgate alone: a soak at c=32 with
# its RSS each minute and the slope, and BENCH_OPEN_STREAMS streams held open at once
# (peak RSS). Peak RSS is VmHWM (a proxy's processes summed). Every request is checked;
# the script exits non-zero on any error.
#
# Knobs (defaults in brackets): BENCH_SECS [10] per scenario, BENCH_WARMUP [100],
# BENCH_WORDS [64], BENCH_SOAK_MIN [10], BENCH_OPEN_STREAMS [1000], BENCH_LITELLM [1],
# BENCH_PIN [1], BENCH_NO_BUILD [0], BENCH_KEEP [0], BENCH_WRITE [1] (0: print only),
# BENCH_NOTE (a sentence put under the section's title, e.g. that the machine was busy).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="$ROOT/target/release"
NAME=bench/issue15.sh
SECS="${BENCH_SECS:-10}"
WARMUP="${BENCH_WARMUP:-100}"
WORDS="${BENCH_WORDS:-64}"
SOAK_MIN="${BENCH_SOAK_MIN:-10}"
OPEN_STREAMS="${BENCH_OPEN_STREAMS:-1000}"
UPSTREAM_MODEL="gpt-4o-mini@words=${WORDS}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

command -v jq >/dev/null || die "needs jq (apt-get install jq)"
command -v curl >/dev/null || die "needs curl"
if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
  [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null || die "needs nginx (apt-get install nginx)"
  echo "installing nginx: apt-get install nginx" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >&2
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

LITELLM=()
if [[ "${BENCH_LITELLM:-1}" == 1 ]]; then
  VENV="$ROOT/target/bench-litellm"
  if [[ ! -x "$VENV/bin/litellm" ]]; then
    echo "installing LiteLLM's proxy: pip install 'litellm[proxy]' into $VENV" >&2
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install -q --upgrade pip >&2
    "$VENV/bin/pip" install -q 'litellm[proxy]' >&2
  fi
  LITELLM=("$VENV/bin/litellm")
fi

if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
  echo "building: cargo build --release -p tollgate -p tollgate-mock -p tollgate-loadgen" >&2
  cargo build --release -p tollgate -p tollgate-mock -p tollgate-loadgen >&2
fi

PIN0=()
PIN1=()
PINNED="no (taskset missing, fewer than 2 CPUs, or BENCH_PIN=0)"
if [[ "${BENCH_PIN:-1}" == 1 ]] && command -v taskset >/dev/null && [[ "$(nproc)" -ge 2 ]]; then
  PIN0=(taskset -c 0)
  PIN1=(taskset -c 1)
  PINNED="load generator and mock on CPU 0, the proxy under test on CPU 1"
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tollgate-issue15.XXXXXX")"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ "${BENCH_KEEP:-0}" == 1 ]] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_mock MOCK_ADDR "${PIN0[@]}"
echo "mock provider on $MOCK_ADDR" >&2

# --- nginx ------------------------------------------------------------------------------
NGINX_PORT="$(free_port)"
mkdir -p "$WORK/nginx/temp"
user_line=""
[[ "$(id -u)" == 0 ]] && user_line="user $(id -un) $(id -gn);"
cat >"$WORK/nginx/nginx.conf" <<EOF
$user_line
worker_processes 1;
daemon off;
master_process on;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/temp/body;
  proxy_temp_path $WORK/nginx/temp/proxy;
  fastcgi_temp_path $WORK/nginx/temp/fastcgi;
  uwsgi_temp_path $WORK/nginx/temp/uwsgi;
  scgi_temp_path $WORK/nginx/temp/scgi;
  tcp_nodelay on;
  keepalive_requests 1000000;
  upstream mock {
    server $MOCK_ADDR;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 120s;
    }
  }
}
EOF
"${PIN1[@]}" "$NGINX" -p "$WORK/nginx/" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" \
  >"$WORK/nginx.out" 2>"$WORK/nginx.err" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_for_http "http://127.0.0.1:$NGINX_PORT/" "$NGINX_PID" || {
  cat "$WORK/nginx.err" "$WORK/nginx/error.log" >&2 2>/dev/null || true
  die "nginx did not start"
}
NGINX_VERSION="$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
echo "$NGINX_VERSION on 127.0.0.1:$NGINX_PORT" >&2

# --- tollgate -----------------------------------------------------------------------------
mkdir -p "$WORK/tollgate"
tollgate_config "$WORK/tollgate/tollgate.yaml" "$MOCK_ADDR" "$WORDS"
start_tollgate "$WORK/tollgate" "${PIN1[@]}"
TG_START_PEAK_KB="$(reset_peak "$TG_PID")"
TG_START_KB="$(kib "$TG_PID" VmRSS)"
echo "tollgate on $TG_URL" >&2

# --- LiteLLM --------------------------------------------------------------------------------
LL_PID=""
LL_VERSION=""
if ((${#LITELLM[@]})); then
  LL_PORT="$(free_port)"
  # Its only key (no database: no virtual keys, budgets or limits).
  LL_KEY="sk-bench-master-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  cat >"$WORK/litellm.yaml" <<EOF
model_list:
  - model_name: bench
    litellm_params:
      model: "openai/${UPSTREAM_MODEL}"
      api_base: "http://${MOCK_ADDR}/v1"
      api_key: sk-bench-upstream
litellm_settings:
  telemetry: false
general_settings:
  master_key: ${LL_KEY}
EOF
  (
    cd "$WORK"
    # No database, no network look-ups of the model price list.
    export LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR
    exec "${PIN1[@]}" "${LITELLM[@]}" --config "$WORK/litellm.yaml" --host 127.0.0.1 \
      --port "$LL_PORT" --num_workers 1 >"$WORK/litellm.out" 2>"$WORK/litellm.err"
  ) &
  LL_PID=$!
  PIDS+=("$LL_PID")
  wait_for_http "http://127.0.0.1:$LL_PORT/health/liveliness" "$LL_PID" 120 || {
    tail -20 "$WORK/litellm.err" >&2
    die "LiteLLM did not start"
  }
  LL_VERSION="$("${VENV}/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')"
  echo "LiteLLM $LL_VERSION on 127.0.0.1:$LL_PORT (pid $LL_PID)" >&2
fi

# --- scenarios ------------------------------------------------------------------------
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"

# run_one TARGET SCENARIO URL KEY MODEL CONC STREAM(0|1) [PROXY_PID]
run_one() {
  local target="$1" scenario="$2" url="$3" key="$4" model="$5" conc="$6" stream="$7" ppid="${8:-}"
  local args=(--url "$url" --key "$key" --model "$model" --concurrency "$conc"
    --warmup "$WARMUP" --duration-secs "$SECS" --label "$target|$scenario" --json)
  [[ "$stream" == 1 ]] && args+=(--stream)
  local before="" out line
  [[ -n "$ppid" ]] && before="$(tree_cpu_ticks "$ppid")"
  out="$("${PIN0[@]}" "$BIN/tollgate-loadgen" "${args[@]}")" ||
    echo "$NAME: loadgen reported a failure for $target, $scenario" >&2
  grep -v '^{' <<<"$out" >&2 || true
  line="$(grep '^{' <<<"$out" || true)"
  [[ -n "$line" ]] || return 0
  if [[ -n "$ppid" ]]; then
    local ticks=$(($(tree_cpu_ticks "$ppid") - before))
    line="$(jq -c --argjson t "$ticks" --argjson hz "$CLK_TCK" --argjson w "$WARMUP" \
      '. + {cpu_us_per_req: ((($t / $hz) * 1e6 / (.requests + $w)) | round)}' <<<"$line")"
  fi
  echo "$line" >>"$RESULTS"
  echo "  $target, $scenario: $(jq -r '"\(.rps) req/s, p50 \(.latency_ms.p50) ms, errors \(.errors)"' <<<"$line")" >&2
}

# The targets: name, URL, key, model, pid of the process (tree) to measure.
TARGETS=("direct|http://$MOCK_ADDR|sk-direct|$UPSTREAM_MODEL|"
  "nginx|http://127.0.0.1:$NGINX_PORT|sk-direct|$UPSTREAM_MODEL|$NGINX_PID"
  "tollgate|$TG_URL|tg-bench|bench|$TG_PID")
[[ -n "$LL_PID" ]] && TARGETS+=("litellm|http://127.0.0.1:$LL_PORT|$LL_KEY|bench|$LL_PID")

# Every proxy's peak from here on is its traffic's, not its start-up's.
for t in "${TARGETS[@]}"; do
  IFS='|' read -r target url key model ppid <<<"$t"
  [[ -n "$ppid" ]] && reset_tree_peak "$ppid"
done

for scenario in "non-stream c=1|1|0" "non-stream c=32|32|0" "stream c=1|1|1" "stream c=8|8|1"; do
  IFS='|' read -r sname conc stream <<<"$scenario"
  for t in "${TARGETS[@]}"; do
    IFS='|' read -r target url key model ppid <<<"$t"
    run_one "$target" "$sname" "$url" "$key" "$model" "$conc" "$stream" "$ppid"
  done
done

# Peak RSS through the comparison (a proxy's processes summed).
tree_hwm_kib() {
  local pid="$1" total c
  total="$(kib "$pid" VmHWM)"
  for c in $(pgrep -P "$pid" 2>/dev/null); do total=$((total + $(tree_hwm_kib "$c"))); done
  echo "${total:-0}"
}
declare -A HWM
HWM[nginx]="$(tree_hwm_kib "$NGINX_PID")"
HWM[tollgate]="$(kib "$TG_PID" VmHWM)"
[[ -n "$LL_PID" ]] && HWM[litellm]="$(tree_hwm_kib "$LL_PID")"

# --- soak: Tollgate at c=32, RSS each minute ------------------------------------------
SOAK="$WORK/soak.tsv"
: >"$SOAK"
for m in $(seq 1 "$SOAK_MIN"); do
  out="$("${PIN0[@]}" "$BIN/tollgate-loadgen" --url "$TG_URL" --key tg-bench --model bench \
    --concurrency 32 --warmup 0 --duration-secs 60 --json --label "soak minute $m")" || true
  line="$(grep '^{' <<<"$out" || echo '{"errors": -1, "requests": 0, "rps": 0}')"
  printf '%s\t%s\t%s\t%s\n' "$m" "$(kib "$TG_PID" VmRSS)" "$(jq '.errors' <<<"$line")" "$(jq '.rps' <<<"$line")" >>"$SOAK"
  echo "  soak minute $m: $(tail -1 "$SOAK")" >&2
done
SOAK_HWM_KB="$(kib "$TG_PID" VmHWM)"
# Least-squares slope of RSS (KiB) over minutes.
SLOPE="$(awk -F'\t' '{n++; sx+=$1; sy+=$2; sxy+=$1*$2; sxx+=$1*$1}
  END {d = n*sxx - sx*sx; if (n < 2 || d == 0) print "n/a"; else printf "%.1f", (n*sxy - sx*sy) / d}' "$SOAK")"
SOAK_ERRORS="$(awk -F'\t' '$3 != 0 {e++} END {print e+0}' "$SOAK")"

# --- open streams: Tollgate holding BENCH_OPEN_STREAMS streams at once ----------------
STREAMS_LINE="$("${PIN0[@]}" "$BIN/tollgate-loadgen" --url "$TG_URL" --key tg-bench --model slow \
  --stream --concurrency "$OPEN_STREAMS" --warmup 0 --duration-secs 10 --timeout-secs 60 --json \
  --label "open streams" | grep '^{' || echo '{"errors": -1, "requests": 0}')"
STREAMS_HWM_KB="$(kib "$TG_PID" VmHWM)"
STREAMS_ERRORS="$(jq '.errors' <<<"$STREAMS_LINE")"

# --- report ---------------------------------------------------------------------------
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
REPORT="$WORK/report.md"
{
  echo "## Issue 15 run ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $(commit_line))"
  echo
  [[ -n "${BENCH_NOTE:-}" ]] && echo "**${BENCH_NOTE}**" && echo
  echo "\`bash bench/issue15.sh\` (BENCH_SECS=$SECS, BENCH_WARMUP=$WARMUP, BENCH_WORDS=$WORDS, BENCH_SOAK_MIN=$SOAK_MIN, BENCH_OPEN_STREAMS=$OPEN_STREAMS).  "
  echo "Machine: $(machine_line) at the end.  "
  echo "Pinning: $PINNED.  "
  echo "Versions: $NGINX_VERSION (one worker, keep-alive upstream, proxy_buffering off); Tollgate $(commit_line) (policies on); ${LL_VERSION:+LiteLLM $LL_VERSION (one worker, no database); }$(rustc --version 2>/dev/null || echo rustc unknown).  "
  echo "Workload: OpenAI chat completions, ${WORDS}-token answers, closed loop, ${SECS} s per scenario after ${WARMUP} warm-up requests. *Added* is the target's figure minus the mock's own (direct); CPU per request is the proxy's utime+stime over the c=32 run (warm-ups included) divided by its requests."
  echo
  echo "| target | c=32 RPS | c=1 p50 added | c=1 p99 added | CPU per request | stream c=8 RPS | TTFT p50 added (c=1) | peak RSS |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  jq -r -s --argjson hwm "$(for k in "${!HWM[@]}"; do echo "{\"$k\": ${HWM[$k]}}"; done | jq -s add)" '
    def r2: (. * 100 | round) / 100;
    def add(a; b): if a == null or b == null then "-" else ((a - b) | r2 | if . >= 0 then "+\(.) ms" else "\(.) ms" end) end;
    def get(t; s): map(select(.label == "\(t)|\(s)")) | first;
    . as $all
    | ["direct", "nginx", "tollgate", "litellm"][] as $t
    | ($all | get($t; "non-stream c=1")) as $c1
    | select($c1 != null)
    | ($all | get("direct"; "non-stream c=1")) as $d1
    | ($all | get($t; "non-stream c=32")) as $c32
    | ($all | get($t; "stream c=1")) as $s1
    | ($all | get("direct"; "stream c=1")) as $ds1
    | ($all | get($t; "stream c=8")) as $s8
    | if $t == "direct" then
        "| mock alone (direct) | \($c32.rps) | - | - | - | \($s8.rps) | - | - |"
      else
        "| \($t) | \($c32.rps) | \(add($c1.latency_ms.p50; $d1.latency_ms.p50)) | \(add($c1.latency_ms.p99; $d1.latency_ms.p99)) | \($c32.cpu_us_per_req // "-") µs | \($s8.rps) | \(add($s1.ttft_ms.p50; $ds1.ttft_ms.p50)) | \(($hwm[$t] // 0) / 1024 * 10 | round / 10) MiB |"
      end
  ' "$RESULTS"
  echo
  echo "Against the targets (Tollgate / nginx):"
  echo
  jq -r -s '
    def get(t; s): map(select(.label == "\(t)|\(s)")) | first;
    def ratio(a; b): if a == null or b == null or b == 0 then "-" else ((a / b) * 100 | round / 100 | tostring) end;
    def added(t; s; f): (get(t; s) | f) as $x | (get("direct"; s) | f) as $y
      | if $x == null or $y == null then null else $x - $y end;
    def ms(x): if x == null then "-" else (x * 1000 | round / 1000 | tostring) end;
    . as $a
    | "- c=32 throughput: \(ratio($a | get("tollgate"; "non-stream c=32").rps; $a | get("nginx"; "non-stream c=32").rps))x nginx (target ≥ 1)",
      "- added latency c=1: p50 \(ms($a | added("tollgate"; "non-stream c=1"; .latency_ms.p50))) ms vs nginx \(ms($a | added("nginx"; "non-stream c=1"; .latency_ms.p50))) ms; p99 \(ms($a | added("tollgate"; "non-stream c=1"; .latency_ms.p99))) ms vs \(ms($a | added("nginx"; "non-stream c=1"; .latency_ms.p99))) ms (target ≤)",
      "- TTFT added c=1: \(ms($a | added("tollgate"; "stream c=1"; .ttft_ms.p50))) ms vs nginx \(ms($a | added("nginx"; "stream c=1"; .ttft_ms.p50))) ms (target ≤); stream c=8 throughput \(ratio($a | get("tollgate"; "stream c=8").rps; $a | get("nginx"; "stream c=8").rps))x nginx (target ≥ 0.8)",
      "- CPU per request at c=32: \(ratio($a | get("tollgate"; "non-stream c=32").cpu_us_per_req; $a | get("nginx"; "non-stream c=32").cpu_us_per_req))x nginx (target ≤ 1.25)",
      (if ($a | get("litellm"; "non-stream c=32")) != null then
        "- against LiteLLM: c=32 throughput \(ratio($a | get("tollgate"; "non-stream c=32").rps; $a | get("litellm"; "non-stream c=32").rps))x, stream c=8 \(ratio($a | get("tollgate"; "stream c=8").rps; $a | get("litellm"; "stream c=8").rps))x, CPU per request \(ratio($a | get("tollgate"; "non-stream c=32").cpu_us_per_req; $a | get("litellm"; "non-stream c=32").cpu_us_per_req))x"
       else empty end)
  ' "$RESULTS"
  echo "- Tollgate peak RSS through the comparison $(mib "${HWM[tollgate]}") MiB ($(mib "$TG_START_KB") MiB after start; the start itself peaked at $(mib "$TG_START_PEAK_KB") MiB, the first start of a database hashing the console user's password), $(mib "$SOAK_HWM_KB") MiB after the soak (target ≤ 40); $(mib "$STREAMS_HWM_KB") MiB with $OPEN_STREAMS streams open at once ($(jq '.requests' <<<"$STREAMS_LINE") streams, $STREAMS_ERRORS errors; target ≤ 64)"
  echo "- Soak, c=32 for $SOAK_MIN min: RSS slope $SLOPE KiB/min (target: no growth); minutes with errors: $SOAK_ERRORS"
  echo
  echo "| soak minute | RSS MiB | req/s |"
  echo "|---:|---:|---:|"
  awk -F'\t' '{printf "| %s | %.1f | %s |\n", $1, $2 / 1024, $4}' "$SOAK"
  echo
} >"$REPORT"
cat "$REPORT"
if [[ "${BENCH_WRITE:-1}" == 1 ]]; then
  { echo; cat "$REPORT"; } >>"$ROOT/BENCHMARKS.md"
  echo "appended to BENCHMARKS.md" >&2
fi

errors="$(jq -s 'map(.errors) | add // 0' "$RESULTS")"
expected=$((4 * ${#TARGETS[@]}))
scenarios="$(wc -l <"$RESULTS")"
if [[ "$errors" != 0 || "$scenarios" != "$expected" || "$SOAK_ERRORS" != 0 || "$STREAMS_ERRORS" != 0 ]]; then
  die "$errors errors, $scenarios of $expected scenarios, soak minutes with errors $SOAK_ERRORS, open-stream errors $STREAMS_ERRORS"
fi
