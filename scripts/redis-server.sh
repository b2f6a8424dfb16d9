#!/usr/bin/env bash
# Starts or stops a private, password-protected Redis server whose data lives in one directory,
# without systemd and without touching any other Redis on the machine.
#   [FRESH=1] redis-server.sh start DIR PORT   # FRESH=1 wipes the server's data first
#   redis-server.sh stop DIR
#   redis-server.sh password DIR               # prints the path of the password file
# The password is generated once and kept in DIR/password (mode 600); the server listens on
# 127.0.0.1 only and appends every write to its AOF (appendfsync everysec).
set -euo pipefail

cmd=${1:?usage: redis-server.sh start|stop|password DIR [PORT]}
dir=${2:?missing DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

cli() { REDISCLI_AUTH="$(cat "$dir/password")" redis-cli -h 127.0.0.1 -p "$(cat "$dir/port")" --no-auth-warning "$@"; }

case "$cmd" in
  start)
    port=${3:?missing PORT}
    command -v redis-server >/dev/null || { echo "redis-server.sh: redis-server is not installed (run scripts/install-deps.sh)" >&2; exit 1; }
    # A server of ours left over from an interrupted run: stop it first.
    if [[ -f "$dir/redis.pid" ]] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; then
      echo "redis-server.sh: stopping a leftover server (pid $(cat "$dir/redis.pid"))"
      kill "$(cat "$dir/redis.pid")" || true
      for _ in $(seq 50); do kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null || break; sleep 0.1; done
    fi
    if [[ "${FRESH:-0}" == 1 ]]; then rm -rf "$dir/data"; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "redis-server.sh: port $port is already in use" >&2
      exit 1
    fi
    mkdir -p "$dir/data"
    if [[ ! -s "$dir/password" ]]; then
      (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/password")
    fi
    echo "$port" >"$dir/port"
    # The password goes in a config file only we can read, never on a command line.
    (
      umask 077
      cat >"$dir/redis.conf" <<EOF
port $port
bind 127.0.0.1
protected-mode yes
requirepass $(cat "$dir/password")
dir $dir/data
appendonly yes
appendfsync everysec
save ""
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
EOF
    )
    redis-server "$dir/redis.conf"
    for _ in $(seq 100); do
      if [[ "$(cli ping 2>/dev/null)" == PONG ]]; then
        echo "redis-server.sh: listening on 127.0.0.1:$port (password in $dir/password)"
        exit 0
      fi
      sleep 0.1
    done
    echo "redis-server.sh: the server did not answer within 10 s; see $dir/redis.log" >&2
    exit 1
    ;;
  stop)
    [[ -f "$dir/redis.pid" ]] || exit 0
    pid=$(cat "$dir/redis.pid")
    kill "$pid" 2>/dev/null || exit 0
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    ;;
  password)
    echo "$dir/password"
    ;;
  *)
    echo "redis-server.sh: unknown command '$cmd'" >&2
    exit 2
    ;;
esac
