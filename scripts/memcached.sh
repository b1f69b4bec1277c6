#!/usr/bin/env bash
# Starts Memcached on 127.0.0.1:11211 when it is not running, installing Debian's
# `memcached` package first if it is missing. Idempotent. The cache tests
# (crates/tollgate-cache) need it and fail, not skip, without it.
set -euo pipefail

HOST=127.0.0.1
PORT=11211

up() {
  # `version` is answered by any memcached; bash's /dev/tcp avoids needing nc.
  (
    exec 3<>"/dev/tcp/$HOST/$PORT" || exit 1
    printf 'version\r\n' >&3
    line=""
    IFS= read -r -t 2 line <&3 || true
    [[ "$line" == VERSION* ]]
  ) 2>/dev/null
}

if ! command -v memcached >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq memcached
fi

if ! up; then
  memcached -d -u root -l "$HOST" -p "$PORT" -m 64
fi
for _ in $(seq 1 30); do
  up && break
  sleep 0.5
done
if up; then
  echo "memcached is up on $HOST:$PORT"
else
  echo "memcached did not start on $HOST:$PORT" >&2
  exit 1
fi
