#!/usr/bin/env bash
# Starts or stops a private Redis Sentinel setup on loopback, all in one directory, without systemd
# and without touching any other Redis on the machine: a master on BASEPORT, replicas on BASEPORT+1
# and BASEPORT+2, sentinels on BASEPORT+3 to BASEPORT+5 (master name "logship", quorum 2,
# down-after-milliseconds 1000, failover-timeout 5000).
#   redis-sentinel.sh start DIR BASEPORT   # wipes DIR's earlier data and configuration first
#   redis-sentinel.sh stop DIR             # stops only the processes DIR recorded
#   redis-sentinel.sh restart-node DIR PORT  # starts a stopped (killed) data node again from its config
#   redis-sentinel.sh master DIR           # prints HOST:PORT of the master the sentinels name now
# The data nodes' password (requirepass, masterauth) is generated into DIR/password, the sentinels'
# own (their requirepass) into DIR/sentinel-password, both mode 600 and never on a command line.
# Each process's pid is in DIR/NAME/pid (NAME: node-PORT, sentinel-PORT).
set -euo pipefail

cmd=${1:?usage: redis-sentinel.sh start|stop|restart-node|master DIR [PORT]}
dir=${2:?missing DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
master_name=logship

say() { echo "redis-sentinel.sh: $*"; }
datacli() { REDISCLI_AUTH="$(cat "$dir/password")" redis-cli -h 127.0.0.1 -p "$1" --no-auth-warning "${@:2}"; }
sentcli() { REDISCLI_AUTH="$(cat "$dir/sentinel-password")" redis-cli -h 127.0.0.1 -p "$1" --no-auth-warning "${@:2}"; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_one() {  # DIR/NAME: the process recorded there, if still running
  local pidfile=$1/pid pid
  [[ -f "$pidfile" ]] || return 0
  pid=$(cat "$pidfile")
  [[ -n "$pid" ]] || return 0
  kill "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

stop_all() {
  local d
  for d in "$dir"/sentinel-* "$dir"/node-*; do [[ -d "$d" ]] && stop_one "$d"; done
  return 0
}

write_node_conf() {  # PORT [MASTERPORT]
  local port=$1 nd="$dir/node-$1"
  mkdir -p "$nd"
  (
    umask 077
    cat >"$nd/redis.conf" <<EOF
port $port
bind 127.0.0.1
protected-mode yes
requirepass $(cat "$dir/password")
masterauth $(cat "$dir/password")
dir $nd
appendonly no
save ""
daemonize yes
pidfile $nd/pid
logfile $nd/redis.log
EOF
    if [[ -n "${2:-}" ]]; then echo "replicaof 127.0.0.1 $2" >>"$nd/redis.conf"; fi
  )
}

write_sentinel_conf() {  # PORT MASTERPORT
  local sd="$dir/sentinel-$1"
  mkdir -p "$sd"
  (
    umask 077
    cat >"$sd/sentinel.conf" <<EOF
port $1
bind 127.0.0.1
daemonize yes
pidfile $sd/pid
logfile $sd/sentinel.log
dir $sd
requirepass $(cat "$dir/sentinel-password")
sentinel monitor $master_name 127.0.0.1 $2 2
sentinel auth-pass $master_name $(cat "$dir/password")
sentinel down-after-milliseconds $master_name 1000
sentinel failover-timeout $master_name 5000
sentinel parallel-syncs $master_name 1
EOF
  )
}

wait_for() {  # DESCRIPTION COMMAND...: up to 30 s
  local what=$1
  shift
  for _ in $(seq 300); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  say "$what did not happen within 30 s; see the logs in $dir" >&2
  return 1
}

data_up() { [[ "$(datacli "$1" ping 2>/dev/null)" == PONG ]]; }
replica_synced() { datacli "$1" info replication 2>/dev/null | grep -q '^master_link_status:up'; }
sentinel_sees_all() {  # PORT: the sentinel knows both replicas and the other two sentinels
  local s
  s=$(sentcli "$1" sentinel master "$master_name" 2>/dev/null | tr -d '\r') || return 1
  [[ "$(echo "$s" | grep -A1 -x 'num-slaves' | tail -1)" == 2 ]] &&
    [[ "$(echo "$s" | grep -A1 -x 'num-other-sentinels' | tail -1)" == 2 ]]
}

case "$cmd" in
  start)
    base=${3:?missing BASEPORT}
    command -v redis-server >/dev/null || { say "redis-server is needed (run scripts/install-deps.sh)" >&2; exit 1; }
    stop_all  # leftovers of an interrupted run of ours
    for p in $(seq "$base" $((base + 5))); do
      port_free "$p" || { say "port $p is already in use" >&2; exit 1; }
    done
    rm -rf "$dir"/node-* "$dir"/sentinel-*
    (umask 077
     head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/password"
     head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/sentinel-password")
    echo "$base" >"$dir/baseport"
    write_node_conf "$base"
    write_node_conf $((base + 1)) "$base"
    write_node_conf $((base + 2)) "$base"
    for p in "$base" $((base + 1)) $((base + 2)); do
      redis-server "$dir/node-$p/redis.conf"
      wait_for "data node $p answering" data_up "$p"
    done
    wait_for "replica $((base + 1)) in sync" replica_synced $((base + 1))
    wait_for "replica $((base + 2)) in sync" replica_synced $((base + 2))
    for p in $((base + 3)) $((base + 4)) $((base + 5)); do
      write_sentinel_conf "$p" "$base"
      redis-server "$dir/sentinel-$p/sentinel.conf" --sentinel  # what Debian's redis-sentinel runs
    done
    for p in $((base + 3)) $((base + 4)) $((base + 5)); do
      wait_for "sentinel $p seeing both replicas and the other sentinels" sentinel_sees_all "$p"
    done
    say "master '$master_name' on 127.0.0.1:$base, replicas on $((base + 1)) and $((base + 2)), sentinels on" \
        "$((base + 3))-$((base + 5)) (passwords in $dir/password and $dir/sentinel-password)"
    ;;
  stop)
    stop_all
    ;;
  restart-node)
    port=${3:?missing PORT}
    [[ -f "$dir/node-$port/redis.conf" ]] || { say "no data node $port in $dir" >&2; exit 1; }
    redis-server "$dir/node-$port/redis.conf"
    wait_for "data node $port answering" data_up "$port"
    ;;
  master)
    base=$(cat "$dir/baseport")
    for p in $((base + 3)) $((base + 4)) $((base + 5)); do
      if a=$(sentcli "$p" sentinel get-master-addr-by-name "$master_name" 2>/dev/null) && [[ -n "$a" ]]; then
        echo "$a" | tr -d '\r' | paste -sd: -
        exit 0
      fi
    done
    say "no sentinel answered" >&2
    exit 1
    ;;
  *)
    say "unknown command '$cmd'" >&2
    exit 2
    ;;
esac
