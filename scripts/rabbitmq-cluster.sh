#!/usr/bin/env bash
# Starts or stops a private RabbitMQ cluster of N nodes on loopback whose data lives in one
# directory, without systemd and without touching any other broker on the machine.
#   rabbitmq-cluster.sh start DIR N BASEPORT   # a new cluster (DIR's previous one is stopped and wiped)
#   rabbitmq-cluster.sh stop DIR               # stops the nodes recorded in DIR, and only those
#   rabbitmq-cluster.sh restart DIR I          # starts node I (1..N) again after a stop or a kill;
#                                              # it rejoins the cluster with its data
#   rabbitmq-cluster.sh nodes DIR              # one line per node: INDEX NAME AMQP_PORT MGMT_PORT NODE_DIR
# Node I (1..N) is logship-c<P>@localhost with AMQP on 127.0.0.1:P (P = BASEPORT + I - 1),
# management on P + 10000 and Erlang distribution on P + 20000; its data is in DIR/nI, its OS pid
# in DIR/nI/pid. Plugins: rabbitmq_management and rabbitmq_consistent_hash_exchange. Every node is
# started by scripts/rabbitmq-node.sh (loopback only, data owned by the rabbitmq user).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage="usage: rabbitmq-cluster.sh start DIR N BASEPORT | stop DIR | restart DIR I | nodes DIR"
cmd=${1:?$usage}
dir=${2:?missing DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
export ERL_EPMD_ADDRESS=127.0.0.1
export PLUGINS=rabbitmq_consistent_hash_exchange START_SECONDS=${START_SECONDS:-300}  # boots share the CPU

# DIR/nodes: "INDEX NAME AMQP_PORT MGMT_PORT NODE_DIR" per node, written before any node starts so
# that `stop` finds every node even after a start that failed half-way.
nodes_file="$dir/nodes"

start_node() {  # INDEX NAME PORT MGMT NODE_DIR
  NODE_NAME=$2 "$here/rabbitmq-node.sh" start "$5" "$3" "$4"
}

running_count() {  # NODE: how many nodes the cluster, seen from NODE, has running
  rabbitmqctl -q -n "$1" eval 'length(rabbit_nodes:all_running()).' 2>/dev/null || echo 0
}

await_running() {  # NODE N: until the cluster seen from NODE has N running nodes
  local deadline=$((SECONDS + 180))
  until [[ $(running_count "$1") == "$2" ]]; do
    if ((SECONDS > deadline)); then
      echo "rabbitmq-cluster: the cluster did not reach $2 running nodes; cluster_status:" >&2
      rabbitmqctl -n "$1" cluster_status >&2 || true
      exit 1
    fi
    sleep 1
  done
}

stop_all() {
  [[ -s "$nodes_file" ]] || return 0
  local pids=() idx name port mgmt ndir
  while read -r -u 3 idx name port mgmt ndir; do
    "$here/rabbitmq-node.sh" stop "$ndir" & pids+=($!)
  done 3<"$nodes_file"
  for p in "${pids[@]}"; do wait "$p" || true; done
}

case "$cmd" in
  start)
    n=${3:?missing N}
    base=${4:?missing BASEPORT}
    [[ $n =~ ^[1-9][0-9]*$ && $base =~ ^[0-9]+$ ]] || { echo "$usage" >&2; exit 2; }
    stop_all
    rm -rf "$dir"/n[0-9]*
    : >"$nodes_file"
    for ((i = 1; i <= n; i++)); do
      port=$((base + i - 1))
      echo "$i logship-c$port@localhost $port $((port + 10000)) $dir/n$i" >>"$nodes_file"
    done
    # All nodes boot at once (each waits for itself in rabbitmq-node.sh); then 2..N join node 1.
    pids=()
    while read -r -u 3 idx name port mgmt ndir; do
      FRESH=1 start_node "$idx" "$name" "$port" "$mgmt" "$ndir" & pids+=($!)
    done 3<"$nodes_file"
    failed=0
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    if ((failed)); then stop_all; exit 1; fi
    first=$(awk 'NR == 1 { print $2 }' "$nodes_file")
    while read -r -u 3 idx name port mgmt ndir; do
      [[ $name == "$first" ]] && continue
      # Quiet unless it fails: a joining node's CLI logs transient errors about its own tables.
      for step in stop_app "join_cluster $first" start_app; do
        # shellcheck disable=SC2086  # $step is a command and its argument
        if ! out=$(rabbitmqctl -q -n "$name" $step 2>&1 </dev/null); then
          echo "rabbitmq-cluster: rabbitmqctl -n $name $step failed: $out" >&2
          stop_all
          exit 1
        fi
      done
    done 3<"$nodes_file"
    await_running "$first" "$n"
    echo "rabbitmq-cluster: $n nodes running as one cluster in $dir (AMQP 127.0.0.1:$base-$((base + n - 1)))"
    ;;
  stop)
    stop_all
    ;;
  restart)
    i=${3:?missing I}
    line=$(awk -v i="$i" '$1 == i' "$nodes_file" 2>/dev/null || true)
    [[ -n "$line" ]] || { echo "rabbitmq-cluster: no node $i recorded in $dir" >&2; exit 1; }
    read -r idx name port mgmt ndir <<<"$line"
    start_node "$idx" "$name" "$port" "$mgmt" "$ndir"
    await_running "$name" "$(wc -l <"$nodes_file")"
    ;;
  nodes)
    cat "$nodes_file"
    ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac
