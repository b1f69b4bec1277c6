# Shared helpers of bench/rss.sh and bench/issue15.sh (sourced, not run).
#
# Callers set: ROOT (the repository), BIN (target/release), WORK (a temporary directory)
# and NAME (the script's name, for messages), and an array PIDS that their cleanup
# trap stops.

die() {
  echo "$NAME: $*" >&2
  exit 1
}

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
  die "no free port found"
}

# wait_for_addr FILE PREFIX PID: print what follows PREFIX in FILE, waiting up to 60 s;
# fail early if PID exits.
wait_for_addr() {
  local file="$1" prefix="$2" pid="$3" line
  for _ in $(seq 1 600); do
    line="$(grep -m1 -o "${prefix}[^ ]*" "$file" 2>/dev/null || true)"
    if [[ -n "$line" ]]; then
      echo "${line#"$prefix"}"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$NAME: process $pid exited before listening; its output:" >&2
      cat "$file" "${file%.out}.err" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
  die "timed out waiting for '$prefix' in $file"
}

# wait_for_http URL PID [SECS]: wait until URL answers anything over HTTP.
wait_for_http() {
  local url="$1" pid="$2" secs="${3:-60}"
  for _ in $(seq 1 $((secs * 10))); do
    curl -s -o /dev/null --max-time 1 "$url" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# CPU time of a process (all its threads) in clock ticks: utime + stime of /proc/PID/stat.
cpu_ticks() {
  sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
CLK_TCK="$(getconf CLK_TCK)"

# kib PID FIELD: a /proc/PID/status field in KiB (VmRSS, VmHWM).
kib() { awk -v f="$2" '$1 == f":" {print $2}' "/proc/$1/status" 2>/dev/null; }

# reset_peak PID...: prints the peak RSS (VmHWM, KiB) of the first PID and resets the
# peak of every PID to its current RSS (Linux: 5 written to /proc/PID/clear_refs), so
# that a run reports the peak of its traffic apart from a spike at start-up (Tollgate's
# first start hashes the console user's password: argon2id with 19 MiB of memory).
reset_peak() {
  kib "$1" VmHWM
  local pid
  for pid in "$@"; do echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || true; done
}

# reset_tree_peak PID: reset_peak for a process and all its descendants.
reset_tree_peak() {
  local c
  reset_peak "$1" >/dev/null
  for c in $(pgrep -P "$1" 2>/dev/null); do reset_tree_peak "$c"; done
}

# Resident set of a process tree (a process and its children), in KiB: LiteLLM and
# nginx run their work in child processes.
tree_rss_kib() {
  local pid="$1" total=0 c
  total="$(kib "$pid" VmRSS)"
  for c in $(pgrep -P "$pid" 2>/dev/null); do
    total=$((total + $(tree_rss_kib "$c")))
  done
  echo "${total:-0}"
}

# CPU ticks of a process tree.
tree_cpu_ticks() {
  local pid="$1" total c
  total="$(cpu_ticks "$pid" 2>/dev/null || echo 0)"
  for c in $(pgrep -P "$pid" 2>/dev/null); do
    total=$((total + $(tree_cpu_ticks "$c")))
  done
  echo "$total"
}

# start_mock OUTVAR [taskset args...]: starts the mock provider, sets OUTVAR to its
# address and MOCK_PID.
start_mock() {
  local var="$1"
  shift
  "$@" "$BIN/tollgate-mock" --listen 127.0.0.1:0 --max-recorded 0 >"$WORK/mock.out" 2>"$WORK/mock.err" &
  MOCK_PID=$!
  PIDS+=("$MOCK_PID")
  local addr
  addr="$(wait_for_addr "$WORK/mock.out" "tollgate-mock listening on " "$MOCK_PID")"
  printf -v "$var" '%s' "$addr"
}

# tollgate_config FILE MOCK_ADDR WORDS: the issue-15 configuration, policies on: a model
# with a price; a consumer and a team each with requests/min, tokens/min and
# concurrency limits and a USD budget, all applied on every request and never binding;
# call records on SQLite (the default); metrics and the access log on. Key `tg-bench`,
# model `bench` (WORDS-word answers); model `slow` streams 100 words 50 ms apart (for
# holding many streams open).
tollgate_config() {
  local file="$1" mock="$2" words="$3" port admin
  port="$(free_port)"
  admin="$(free_port)"
  while [[ "$admin" == "$port" ]]; do admin="$(free_port)"; done
  cat >"$file" <<EOF
server:
  listen: 127.0.0.1:${port}
  admin_listen: 127.0.0.1:${admin}
  admin_token: tg-bench-admin-token
providers:
  - {name: mock, kind: openai, base_url: "http://${mock}/v1", api_keys: ["sk-bench-upstream"]}
models:
  - name: bench
    targets: [{provider: mock, model: "gpt-4o-mini@words=${words}"}]
    price: {input_per_mtok: 0.15, output_per_mtok: 0.60}
  - name: slow
    targets: [{provider: mock, model: "gpt-4o-mini@words=100,chunk_delay_ms=50"}]
    price: {input_per_mtok: 0.15, output_per_mtok: 0.60}
teams:
  - name: bench-team
    budget: {usd: 1000000, period: monthly}
    rate_limit: {requests_per_minute: 1000000000, tokens_per_minute: 1000000000000, concurrent: 100000}
consumers:
  - name: bench
    team: bench-team
    api_keys: ["tg-bench"]
    rate_limit: {requests_per_minute: 1000000000, tokens_per_minute: 1000000000000, concurrent: 100000}
    budget: {usd: 1000000, period: monthly}
EOF
}

# start_tollgate DIR [taskset args...]: starts tollgate with DIR/tollgate.yaml (data in
# DIR), sets TG_PID and TG_URL.
start_tollgate() {
  local dir="$1"
  shift
  (
    cd "$dir"
    export TOLLGATE_ADMIN_PASSWORD=tg-bench-admin-password
    exec "$@" "$BIN/tollgate" serve --config "$dir/tollgate.yaml" >"$dir/tollgate.out" 2>"$dir/tollgate.err"
  ) &
  TG_PID=$!
  PIDS+=("$TG_PID")
  TG_URL="$(wait_for_addr "$dir/tollgate.out" "tollgate gateway listening on " "$TG_PID")"
}

# stop PID: SIGTERM, then wait up to 10 s.
stop() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# A one-line description of the machine and its load.
machine_line() {
  local cpu
  cpu="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "$(nproc) CPUs, ${cpu:-unknown CPU}, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# The commit, marked when the work tree has changes.
commit_line() {
  local c
  c="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "no commit")"
  [[ -n "$(git -C "$ROOT" status --porcelain -- crates bench 2>/dev/null | head -1)" ]] && c="$c (uncommitted changes)"
  echo "$c"
}
