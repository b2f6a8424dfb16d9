#!/usr/bin/env bash
# Starts or stops a private RabbitMQ node whose data lives in one directory, without systemd and
# without touching any other broker on the machine.
#   [FRESH=1] rabbitmq-node.sh start DIR AMQP_PORT [MGMT_PORT]   # MGMT_PORT enables the management plugin;
#                                                   # FRESH=1 wipes the node's data first
#   rabbitmq-node.sh stop DIR
#   rabbitmq-node.sh name DIR                           # prints the node name (for rabbitmqctl -n)
# With TLS_PORT=P and TLS_DIR=D (holding ca.pem, server.pem and server.key, as made by
# scripts/make-test-ca.sh), `start` adds an AMQPS listener on 127.0.0.1:P (and [::1]:P). It verifies
# the client certificates that clients send; TLS_FAIL_IF_NO_PEER_CERT=true also requires one.
# NODE_NAME=N@localhost names the node (default logship-AMQP_PORT@localhost); PLUGINS="a,b" enables
# more plugins (the cluster script's nodes: scripts/rabbitmq-cluster.sh).
# The node name and ports are remembered in DIR, so `stop` needs only the directory; `start` also
# records the node's OS pid in DIR/pid (what a test SIGKILLs).
set -euo pipefail

cmd=${1:?usage: rabbitmq-node.sh start|stop|name DIR [AMQP_PORT [MGMT_PORT]]}
dir=${2:?missing DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# epmd (the Erlang port mapper, 4369) listens on loopback only when this script's rabbitmqctl or
# node is the one that starts it; an epmd already running keeps the addresses it was started with.
export ERL_EPMD_ADDRESS=127.0.0.1

node_of() { cat "$dir/nodename" 2>/dev/null || true; }

case "$cmd" in
  start)
    port=${3:?missing AMQP_PORT}
    mgmt=${4:-}
    if [[ $(id -u) -ne 0 ]]; then
      echo "rabbitmq-node: must run as root (rabbitmq-server drops to the rabbitmq user)" >&2
      exit 1
    fi
    command -v rabbitmq-server >/dev/null || { echo "rabbitmq-node: rabbitmq-server is not installed (run scripts/install-deps.sh)" >&2; exit 1; }
    node=${NODE_NAME:-logship-$port@localhost}
    # A node of ours left over from an interrupted run: stop it first.
    if rabbitmqctl -q -n "$node" ping >/dev/null 2>&1; then
      echo "rabbitmq-node: stopping a leftover node $node"
      timeout 60 rabbitmqctl -q -n "$node" stop >/dev/null 2>&1 || true
      sleep 1
    fi
    if [[ "${FRESH:-0}" == 1 ]]; then rm -rf "$dir/mnesia" "$dir/log"; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "rabbitmq-node: port $port is already in use" >&2
      exit 1
    fi
    if [[ -n "${TLS_PORT:-}" ]] && (exec 3<>"/dev/tcp/127.0.0.1/$TLS_PORT") 2>/dev/null; then
      echo "rabbitmq-node: port $TLS_PORT is already in use" >&2
      exit 1
    fi
    mkdir -p "$dir/mnesia" "$dir/log"
    echo "$node" >"$dir/nodename"
    plugins=${PLUGINS:-}
    if [[ -n "$mgmt" ]]; then
      echo "[rabbitmq_management${plugins:+,$plugins}]." >"$dir/plugins"
      printf 'listeners.tcp.default = %s\nmanagement.tcp.port = %s\nmanagement.tcp.ip = 127.0.0.1\n' "$port" "$mgmt" >"$dir/rabbitmq.conf"
    else
      echo "[$plugins]." >"$dir/plugins"
      printf 'listeners.tcp.default = %s\n' "$port" >"$dir/rabbitmq.conf"
    fi
    # Loopback only: these nodes are for tests and demos.
    printf 'listeners.tcp.local = 127.0.0.1:%s\n' "$port" >"$dir/rabbitmq.conf.tmp"
    grep -v '^listeners.tcp.default' "$dir/rabbitmq.conf" >>"$dir/rabbitmq.conf.tmp" || true  # no other line without MGMT_PORT
    mv "$dir/rabbitmq.conf.tmp" "$dir/rabbitmq.conf"
    if [[ -n "${TLS_PORT:-}" ]]; then
      # Copies in DIR, so the rabbitmq user can read them wherever TLS_DIR is.
      mkdir -p "$dir/tls"
      cp "${TLS_DIR:?TLS_PORT needs TLS_DIR}"/{ca.pem,server.pem,server.key} "$dir/tls/"
      printf '%s\n' "listeners.ssl.local = 127.0.0.1:$TLS_PORT" >>"$dir/rabbitmq.conf"
      # And [::1] where the machine has IPv6 (a name the test certificate lacks).
      if grep -qs '^00000000000000000000000000000001 ' /proc/net/if_inet6; then
        printf '%s\n' "listeners.ssl.local6 = ::1:$TLS_PORT" >>"$dir/rabbitmq.conf"
      fi
      printf '%s\n' "ssl_options.cacertfile = $dir/tls/ca.pem" "ssl_options.certfile = $dir/tls/server.pem" \
        "ssl_options.keyfile = $dir/tls/server.key" "ssl_options.verify = verify_peer" \
        "ssl_options.fail_if_no_peer_cert = ${TLS_FAIL_IF_NO_PEER_CERT:-false}" >>"$dir/rabbitmq.conf"
    fi
    # The rabbitmq user must be able to reach DIR through every parent directory.
    chown -R rabbitmq:rabbitmq "$dir"
    (
      # Every port on loopback: the Erlang distribution listener too (inet_dist_use_interface).
      export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
      export RABBITMQ_NODENAME="$node" RABBITMQ_DIST_PORT=$((port + 20000)) \
        RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$dir/plugins" RABBITMQ_CONFIG_FILE="$dir/rabbitmq"
      setsid rabbitmq-server >"$dir/out.log" 2>&1 </dev/null &
    )
    # await_startup fails at once while the node is not yet registered: poll until it answers.
    deadline=$((SECONDS + ${START_SECONDS:-120}))
    until rabbitmqctl -q -n "$node" await_startup >/dev/null 2>&1; do
      if ((SECONDS > deadline)) || grep -q "init terminating" "$dir/out.log" 2>/dev/null; then
        echo "rabbitmq-node: node $node did not start; last lines of $dir/out.log:" >&2
        tail -c 2000 "$dir/out.log" >&2 || true
        exit 1
      fi
      sleep 1
    done
    rabbitmqctl -q -n "$node" eval 'os:getpid().' | tr -d '"' >"$dir/pid"
    echo "rabbitmq-node: $node listening on 127.0.0.1:$port${mgmt:+ (management on http://localhost:$mgmt)}${TLS_PORT:+ (TLS on port $TLS_PORT)}"
    ;;
  stop)
    node=$(node_of)
    [[ -n "$node" ]] || { echo "rabbitmq-node: no node recorded in $dir" >&2; exit 0; }
    timeout 60 rabbitmqctl -q -n "$node" stop >/dev/null 2>&1 || true
    echo "rabbitmq-node: $node stopped"
    ;;
  name)
    node_of
    ;;
  *)
    echo "usage: rabbitmq-node.sh start|stop|name DIR [AMQP_PORT [MGMT_PORT]]" >&2
    exit 2
    ;;
esac
