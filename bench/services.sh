#!/usr/bin/env bash
# REST services benchmark: the project's REST upstream direct, through nginx and through
# Tollgate (a service with consumer keys, a per-service rate limit and call records).
#
#   bash bench/services.sh
#
# Builds release binaries, starts on 127.0.0.1 (free ports, temporary directory):
#   - the REST upstream: `tollgate-mock --rest` (crates/tollgate-mock/src/rest.rs);
#   - nginx (Debian's; installed with apt-get when missing and running as root): one
#     worker, upstream keep-alive, proxy_buffering and proxy_request_buffering off,
#     access_log off, pid and temp paths in the temporary directory, as the current user;
#   - tollgate with one service `bench` under /svc/bench (routes GET /json/{bytes} and
#     POST /mirror), key auth, a per-service rate limit that never binds, call records on
#     SQLite (the default);
# then runs tollgate-loadgen --door rest for
#   {GET of a JSON answer (1 KiB), POST of a 64 KiB JSON body echoed back} x {c=1, c=32}
#   x {direct, nginx, tollgate}
# (the three of one workload and concurrency back to back, so they see the same
# background load) and prints a Markdown table with requests/s, p50/p99 latency, the
# latency added to direct, the proxy's CPU time per request (utime+stime from
# /proc/PID/stat over the run, warm-up included, divided by the requests sent) and the
# proxies' peak RSS (VmHWM).
#
# With taskset and at least 2 CPUs, the load generator and the upstream are pinned to
# CPU 0 and the proxy under test (nginx's worker, tollgate) to CPU 1, so that the proxy
# has a core of its own and its CPU per request is not mixed with the load generator's.
#
# Environment knobs (defaults in brackets):
#   BENCH_SECS [10]            measured seconds per scenario
#   BENCH_WARMUP [50]          warm-up requests before each scenario
#   BENCH_GET_BYTES [1024]     size of the GET answer (a JSON document)
#   BENCH_POST_BYTES [65536]   size of the POST body (a JSON document), echoed back
#   BENCH_CONCURRENCY [1 32]   concurrency levels
#   BENCH_PIN [1]              0: do not pin with taskset
#   BENCH_NO_BUILD [0]         1: use the binaries already in target/release
#   BENCH_KEEP [0]             1: keep the temporary directory (configs, logs, JSON results)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SECS="${BENCH_SECS:-10}"
WARMUP="${BENCH_WARMUP:-50}"
GET_BYTES="${BENCH_GET_BYTES:-1024}"
POST_BYTES="${BENCH_POST_BYTES:-65536}"
CONCS="${BENCH_CONCURRENCY:-1 32}"
BIN="$ROOT/target/release"
KEY="tg-bench-key"

NAME=bench/services.sh
# die, free_port, wait_for_addr, cpu_ticks, CLK_TCK, kib
source "$ROOT/bench/lib.sh"

command -v jq >/dev/null || die "needs jq (apt-get install jq)"
if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    # Debian's package may start its own nginx on port 80 where a service manager runs;
    # this benchmark does not use that one.
    echo "installing nginx: apt-get install nginx" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >&2
  else
    die "needs nginx (apt-get install nginx)"
  fi
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
  echo "building release binaries: cargo build --release -p tollgate -p tollgate-mock -p tollgate-loadgen" >&2
  cargo build --release -p tollgate -p tollgate-mock -p tollgate-loadgen >&2
fi

# Pinning: CPU 0 for the load generator and the upstream, CPU 1 for the proxy under test.
PIN0=()
PIN1=()
PINNED="no (taskset missing, fewer than 2 CPUs, or BENCH_PIN=0)"
if [[ "${BENCH_PIN:-1}" == 1 ]] && command -v taskset >/dev/null && [[ "$(nproc)" -ge 2 ]]; then
  PIN0=(taskset -c 0)
  PIN1=(taskset -c 1)
  PINNED="load generator and upstream on CPU 0, the proxy under test on CPU 1"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tollgate-services-bench.XXXXXX")"
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

# wait_for_port PORT PID: wait up to 30 s until 127.0.0.1:PORT accepts connections.
wait_for_port() {
  local port="$1" pid="$2"
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# --- REST upstream --------------------------------------------------------------------
"${PIN0[@]}" "$BIN/tollgate-mock" --rest --listen 127.0.0.1:0 >"$WORK/upstream.out" 2>"$WORK/upstream.err" &
UP_PID=$!
PIDS+=("$UP_PID")
UP_ADDR="$(wait_for_addr "$WORK/upstream.out" "tollgate-mock listening on " "$UP_PID")"
echo "REST upstream on $UP_ADDR (pid $UP_PID)" >&2

# --- nginx ----------------------------------------------------------------------------
NGINX_PORT="$(free_port)"
mkdir -p "$WORK/nginx/temp"
user_line=""
# As root, nginx would run its worker as `nobody`; keep the current user.
[[ "$(id -u)" == 0 ]] && user_line="user $(id -un) $(id -gn);"
cat >"$WORK/nginx/nginx.conf" <<EOF
$user_line
worker_processes 1;
daemon off;
master_process on;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/temp/body;
  proxy_temp_path $WORK/nginx/temp/proxy;
  fastcgi_temp_path $WORK/nginx/temp/fastcgi;
  uwsgi_temp_path $WORK/nginx/temp/uwsgi;
  scgi_temp_path $WORK/nginx/temp/scgi;
  tcp_nodelay on;
  keepalive_requests 1000000;
  upstream rest {
    server $UP_ADDR;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    # The same prefix as the Tollgate service, stripped the same way.
    location /svc/bench/ {
      proxy_pass http://rest/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$host;
      proxy_set_header X-Request-Id \$request_id;
      proxy_buffering off;
      proxy_request_buffering off;
      client_body_buffer_size 128k;
      client_max_body_size 16m;
    }
  }
}
EOF
"${PIN1[@]}" "$NGINX" -p "$WORK/nginx/" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" \
  >"$WORK/nginx.out" 2>"$WORK/nginx.err" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
if ! wait_for_port "$NGINX_PORT" "$NGINX_PID"; then
  cat "$WORK/nginx.err" "$WORK/nginx/error.log" >&2 2>/dev/null || true
  die "nginx did not start"
fi
NGINX_WORKER="$(pgrep -P "$NGINX_PID" | head -1)"
[[ -n "$NGINX_WORKER" ]] || die "no nginx worker process under $NGINX_PID"
echo "nginx $("$NGINX" -v 2>&1 | sed 's/^nginx version: //') on 127.0.0.1:$NGINX_PORT (master $NGINX_PID, worker $NGINX_WORKER)" >&2

# --- tollgate -------------------------------------------------------------------------
TG_PORT="$(free_port)"
ADMIN_PORT="$(free_port)"
while [[ "$ADMIN_PORT" == "$TG_PORT" || "$ADMIN_PORT" == "$NGINX_PORT" ]]; do ADMIN_PORT="$(free_port)"; done
cat >"$WORK/tollgate.yaml" <<EOF
server:
  listen: 127.0.0.1:${TG_PORT}
  admin_listen: 127.0.0.1:${ADMIN_PORT}
  admin_token: tg-bench-admin-token
consumers:
  - name: bench
    api_keys: ["${KEY}"]
services:
  - name: bench
    path_prefix: /svc/bench
    upstream:
      nodes: [{url: "http://${UP_ADDR}"}]
    routes:
      - {name: json, methods: [GET], path: "/json/{bytes}"}
      - {name: mirror, methods: [POST], path: "/mirror"}
    auth: [key]
    # Applied on every request, never binding.
    rate_limit: {requests_per_minute: 1000000000}
EOF
(
  cd "$WORK"
  export TOLLGATE_ADMIN_PASSWORD=tg-bench-admin-password
  exec "${PIN1[@]}" "$BIN/tollgate" serve --config "$WORK/tollgate.yaml" >"$WORK/tollgate.out" 2>"$WORK/tollgate.err"
) &
TG_PID=$!
PIDS+=("$TG_PID")
TG_URL="$(wait_for_addr "$WORK/tollgate.out" "tollgate gateway listening on " "$TG_PID")"
echo "tollgate on $TG_URL (pid $TG_PID)" >&2
TG_RSS_START_KB="$(kib "$TG_PID" VmRSS)"
NGINX_RSS_START_KB="$(kib "$NGINX_WORKER" VmRSS)"

# --- scenarios ------------------------------------------------------------------------
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"

# run_one VIA WORKLOAD CONC URL METHOD BODY_BYTES EXPECT_BYTES [PROXY_PID]
run_one() {
  local via="$1" workload="$2" conc="$3" url="$4" method="$5" body="$6" expect="$7" ppid="${8:-}"
  local label="$via, $workload, c=$conc"
  local args=(--door rest --url "$url" --key "$KEY" --method "$method" --body-bytes "$body"
    --expect-bytes "$expect" --concurrency "$conc" --warmup "$WARMUP"
    --duration-secs "$SECS" --label "$label" --json)
  local before="" out line
  [[ -n "$ppid" ]] && before="$(cpu_ticks "$ppid")"
  if ! out="$("${PIN0[@]}" "$BIN/tollgate-loadgen" "${args[@]}")"; then
    echo "bench/services.sh: loadgen reported a failure for $label (see above)" >&2
  fi
  grep -v '^{' <<<"$out" >&2 || true
  line="$(grep '^{' <<<"$out" || true)"
  [[ -n "$line" ]] || return 0
  if [[ -n "$ppid" ]]; then
    local ticks=$(($(cpu_ticks "$ppid") - before))
    # CPU µs per request, warm-up requests included in the count (they are in the ticks).
    line="$(jq -c --argjson t "$ticks" --argjson hz "$CLK_TCK" --argjson w "$WARMUP" \
      '. + {proxy_cpu_us_per_req: ((($t / $hz) * 1e6 / (.requests + $w)) | round)}' <<<"$line")"
  fi
  echo "$line" >>"$RESULTS"
}

for workload in get post; do
  for conc in $CONCS; do
    if [[ "$workload" == get ]]; then
      name="GET $GET_BYTES B JSON"
      path="/json/$GET_BYTES"
      method=GET body=0 expect="$GET_BYTES"
    else
      name="POST $POST_BYTES B echoed"
      path="/mirror"
      method=POST body="$POST_BYTES" expect="$POST_BYTES"
    fi
    run_one direct "$name" "$conc" "http://$UP_ADDR$path" "$method" "$body" "$expect"
    run_one nginx "$name" "$conc" "http://127.0.0.1:$NGINX_PORT/svc/bench$path" "$method" "$body" "$expect" "$NGINX_WORKER"
    run_one tollgate "$name" "$conc" "$TG_URL/svc/bench$path" "$method" "$body" "$expect" "$TG_PID"
  done
done

TG_HWM_KB="$(kib "$TG_PID" VmHWM)"
NGINX_HWM_KB="$(kib "$NGINX_WORKER" VmHWM)"
NGINX_MASTER_HWM_KB="$(kib "$NGINX_PID" VmHWM)"
# Stop tollgate gracefully (it drains and flushes its call records), then count them.
kill -TERM "$TG_PID" 2>/dev/null || true
for _ in $(seq 1 100); do kill -0 "$TG_PID" 2>/dev/null || break; sleep 0.1; done
CALLS=""
if command -v sqlite3 >/dev/null && [[ -f "$WORK/tollgate-data/tollgate.db" ]]; then
  CALLS="$(sqlite3 "$WORK/tollgate-data/tollgate.db" "select count(*) from calls where door = 'service'" 2>/dev/null || true)"
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
echo "Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end  "
echo "Pinning: $PINNED  "
echo "nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), one worker  "
echo "Workload: closed loop, ${SECS} s per scenario after ${WARMUP} warm-up requests; GET /json/${GET_BYTES} (a ${GET_BYTES}-byte JSON answer), POST /mirror (a ${POST_BYTES}-byte JSON body echoed back); every answer's length checked"
echo
echo "| scenario | requests | errors | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | proxy CPU µs/req |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
jq -r -s '
  def r3: (. * 1000 | round) / 1000;
  def v(x): if x == null then "-" else (x | tostring) end;
  def d(a; b): if a == null or b == null then "-" else ((a - b) | r3 | if . > 0 then "+\(.)" else tostring end) end;
  def key: .label | sub("^[^,]*, "; "");
  (map(select(.label | startswith("direct, "))) | map({key: key, value: .}) | from_entries) as $direct
  | .[] | $direct[key] as $b
  | (.label | startswith("direct, ")) as $is_direct
  | "| \(.label) | \(.requests) | \(.errors) | \(.rps) | \(v(.latency_ms.p50)) | \(v(.latency_ms.p99)) | \(if $is_direct then "-" else d(.latency_ms.p50; $b.latency_ms.p50) end) | \(if $is_direct then "-" else d(.latency_ms.p99; $b.latency_ms.p99) end) | \(v(.proxy_cpu_us_per_req)) |"
' "$RESULTS"
echo
echo "Peak RSS (VmHWM): nginx worker ${NGINX_HWM_KB:-?} KiB (${NGINX_RSS_START_KB:-?} KiB after start; master ${NGINX_MASTER_HWM_KB:-?} KiB), tollgate ${TG_HWM_KB:-?} KiB (${TG_RSS_START_KB:-?} KiB after start)  "
total="$(jq -s 'map(select(.label | startswith("tollgate, ")) | .requests) | add // 0' "$RESULTS")"
echo "Service call records in tollgate's database after it stopped: ${CALLS:-unknown} (measured requests through tollgate: $total, plus $WARMUP warm-ups per scenario)"

errors="$(jq -s 'map(.errors) | add // 0' "$RESULTS")"
scenarios="$(wc -l <"$RESULTS")"
expected=$((2 * 3 * $(wc -w <<<"$CONCS")))
if [[ "$errors" != 0 || "$scenarios" != "$expected" ]]; then
  echo "bench/services.sh: $errors errors, $scenarios of $expected scenarios reported" >&2
  exit 1
fi
