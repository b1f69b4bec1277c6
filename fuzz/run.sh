#!/usr/bin/env bash
# Runs fuzz targets one after another (never in parallel: CPU is shared), each for
# SECONDS (default 600), at the lowest priority, and prints one summary line per target:
#   target seconds execs result
# Usage: fuzz/run.sh [SECONDS] [TARGET...]   (no target: all of them, in priority order)
set -u
cd "$(dirname "$0")"
secs=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(sse_parser config_load req_openai_to_anthropic req_anthropic_to_openai
        req_openai_to_gemini req_openai_to_ollama stream_anthropic_to_openai
        stream_openai_to_anthropic stream_gemini stream_ollama responses embeddings)
fi
mkdir -p logs
for t in "${targets[@]}"; do
    case $t in
        sse_parser) dict=(-dict=dict/sse.dict) ;;
        config_load) dict=(-dict=dict/yaml.dict) ;;
        *) dict=(-dict=dict/json.dict) ;;
    esac
    # The committed seeds stay in corpus/<target>; what libFuzzer adds goes there too
    # (ignored by git). -timeout is generous: on a loaded shared machine a niced
    # process can be descheduled for over a minute (a 10 s timeout gave false alarms on
    # inputs that replay in under a millisecond); a real hang still trips it.
    nice -n 19 cargo +nightly fuzz run -a "$t" -- -max_total_time="$secs" \
        -print_final_stats=1 -rss_limit_mb=2048 -timeout=120 "${dict[@]}" \
        >"logs/$t.log" 2>&1
    rc=$?
    execs=$(grep -m1 'stat::number_of_executed_units' "logs/$t.log" | awk '{print $2}')
    result=ok
    [ $rc -ne 0 ] && result="FAILED(rc=$rc, see logs/$t.log and artifacts/$t)"
    echo "$t $secs ${execs:-?} $result $(date -u +%Y-%m-%d)"
done
