#!/usr/bin/env bash
# `make demo`: the README's first quick-start command, run after the build.
#   bash scripts/demo.sh [rabbitmq|redis]
# 1. makes sure a broker is reachable: LOGSHIP_BROKER if set; else whatever listens on
#    localhost:5672 (redis: 6379); else a private RabbitMQ node (management UI on :15672) started in
#    .run/rabbitmq, or a private password-protected Redis server started in .run/redis, which is
#    left running and reused by the next run;
# 2. starts two log_aggregator workers on logs_queue (outputs under .run/demo/worker-N/);
# 3. sends sample records through log_producer (the tutorial's command, then batches on stdin);
# 4. shows how the records were split and checks that every record sent was written once.
# Exit status: 0 when the counts match, 1 on any failure, 2 for an unknown broker.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BROKER_KIND=${1:-rabbitmq}
BIN=${LOGSHIP_BIN:-${BUILD_DIR:-build}/bin}
QUEUE=logs_queue
NODE_DIR=.run/rabbitmq
REDIS_DIR=.run/redis
REDIS_PORT=6379
DEMO_DIR=.run/demo
AMQP_PORT=5672
MGMT_PORT=15672
IDLE_EXIT=3

case "$BROKER_KIND" in
  rabbitmq) BROKER_NAME="RabbitMQ queue" ;;
  redis) BROKER_NAME="Redis list" ;;
  *)
    echo "demo: unknown broker '$BROKER_KIND' (use rabbitmq or redis)" >&2
    exit 2
    ;;
esac

for prog in log_producer log_aggregator logctl; do
  [[ -x "$BIN/$prog" ]] || { echo "demo: $BIN/$prog is missing: run 'make build' first" >&2; exit 1; }
done

step=0
heading() {
  step=$((step + 1))
  printf '\n== %d. %s\n' "$step" "$1"
}
indent() { sed 's/^/   /'; }
redact() { sed -E 's#(://[^:/@]*:)[^@/]*@#\1***@#'; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

AGG_PIDS=()
cleanup() {
  local pid
  for pid in "${AGG_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted" >&2; exit 1' INT TERM

echo "Logship demo: log_producer -> $BROKER_NAME '$QUEUE' -> two log_aggregator workers"

# --- 1. Broker ------------------------------------------------------------------------------
heading "Broker"
OUR_NODE=""
OUR_REDIS=""
redis_pid_alive() { [[ -f "$REDIS_DIR/redis.pid" ]] && kill -0 "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null; }
if [[ -n "${LOGSHIP_BROKER:-}" ]]; then
  echo "   Using LOGSHIP_BROKER=$(printf '%s' "$LOGSHIP_BROKER" | redact)"
elif [[ "$BROKER_KIND" == redis ]]; then
  export LOGSHIP_BROKER="redis://127.0.0.1:$REDIS_PORT"
  if listening "$REDIS_PORT"; then
    if redis_pid_alive && [[ "$(cat "$REDIS_DIR/port" 2>/dev/null)" == "$REDIS_PORT" ]]; then
      OUR_REDIS=1
      echo "   Reusing the Redis server started by an earlier 'make demo BROKER=redis' (data in $REDIS_DIR)."
    else
      echo "   Something already listens on localhost:$REDIS_PORT: using it as the broker"
      echo "   (redis://127.0.0.1:$REDIS_PORT; its password, if any, from LOGSHIP_PASSWORD)."
    fi
  else
    echo "   Nothing listens on localhost:$REDIS_PORT: starting a local password-protected Redis server..."
    scripts/redis-server.sh start "$REDIS_DIR" "$REDIS_PORT" | indent
    OUR_REDIS=1
    echo "   Bound to 127.0.0.1, requirepass set (password in $ROOT/$REDIS_DIR/password), AOF on,"
    echo "   data and log in $ROOT/$REDIS_DIR."
  fi
  if [[ -n "$OUR_REDIS" ]]; then
    LOGSHIP_PASSWORD=$(cat "$REDIS_DIR/password")
    export LOGSHIP_PASSWORD
    echo "   The programs read the password from LOGSHIP_PASSWORD (or --password-file), never from argv."
  fi
elif listening "$AMQP_PORT"; then
  recorded=$(scripts/rabbitmq-node.sh name "$NODE_DIR" 2>/dev/null || true)
  if [[ -n "$recorded" ]] && rabbitmqctl -q -n "$recorded" ping >/dev/null 2>&1; then
    OUR_NODE=$recorded
    echo "   Reusing the RabbitMQ node $OUR_NODE started by an earlier 'make demo' (data in $NODE_DIR)."
  else
    echo "   Something already listens on localhost:$AMQP_PORT: using it as the broker"
    echo "   (amqp://guest:***@localhost:$AMQP_PORT/; set LOGSHIP_BROKER to use another URL)."
  fi
else
  if [[ $(id -u) -ne 0 ]]; then
    echo "demo: nothing listens on localhost:$AMQP_PORT and starting a local RabbitMQ node needs root:" >&2
    echo "      run 'sudo make demo', or set LOGSHIP_BROKER=amqp://USER@HOST:PORT/ (password in LOGSHIP_PASSWORD)." >&2
    exit 1
  fi
  echo "   Nothing listens on localhost:$AMQP_PORT: starting a local RabbitMQ node (about 10 s)..."
  scripts/rabbitmq-node.sh start "$NODE_DIR" "$AMQP_PORT" "$MGMT_PORT" | indent
  OUR_NODE=$(scripts/rabbitmq-node.sh name "$NODE_DIR")
  echo "   Started $OUR_NODE on 127.0.0.1:$AMQP_PORT, management UI on http://localhost:$MGMT_PORT,"
  echo "   data and logs in $ROOT/$NODE_DIR."
  echo "   Stop it with: scripts/rabbitmq-node.sh stop $NODE_DIR"
fi

# --- 2. Topology ----------------------------------------------------------------------------
heading "Topology (logctl setup, idempotent)"
"$BIN/logctl" setup --queue "$QUEUE" | indent
status_json=$("$BIN/logctl" status --json --queue "$QUEUE")
read -r PRE_READY PRE_CONSUMERS < <(printf '%s' "$status_json" | /usr/bin/python3 -c '
import json, sys
q = json.load(sys.stdin)[0]
print(q["ready"], q["consumers"])')
if ((PRE_READY > 0)); then
  echo "   $QUEUE already holds $PRE_READY message(s) from an earlier run: the workers will write them too."
fi
if ((PRE_CONSUMERS > 0)); then
  echo "   Note: $PRE_CONSUMERS other consumer(s) already read $QUEUE; they will take a share of the"
  echo "   records and the final count check below will then fail. Stop them first for an exact count."
fi

# --- 3. Aggregators -------------------------------------------------------------------------
heading "Two aggregators on $QUEUE (--idle-exit $IDLE_EXIT: each exits after $IDLE_EXIT quiet seconds)"
rm -rf "$DEMO_DIR"
WORKERS=(worker-1 worker-2)
for w in "${WORKERS[@]}"; do
  mkdir -p "$DEMO_DIR/$w"
  "$BIN/log_aggregator" --queue "$QUEUE" --output "$DEMO_DIR/$w/aggregated_logs.txt" --idle-exit "$IDLE_EXIT" \
    >"$DEMO_DIR/$w/aggregator.log" 2>&1 &
  AGG_PIDS+=($!)
  echo "   $w: pid $!, log_aggregator --queue $QUEUE --output $DEMO_DIR/$w/aggregated_logs.txt --idle-exit $IDLE_EXIT"
done
# Publish only once both consume: otherwise the first one up would take everything.
deadline=$((SECONDS + 30))
for i in "${!WORKERS[@]}"; do
  until grep -q "Waiting for logs" "$DEMO_DIR/${WORKERS[$i]}/aggregator.log" 2>/dev/null; do
    if ! kill -0 "${AGG_PIDS[$i]}" 2>/dev/null || ((SECONDS > deadline)); then
      echo "demo: ${WORKERS[$i]} did not start consuming; its log:" >&2
      indent <"$DEMO_DIR/${WORKERS[$i]}/aggregator.log" >&2
      exit 1
    fi
    sleep 0.1
  done
done
echo "   Both workers are consuming:"
grep -h "Waiting for logs" "$DEMO_DIR"/worker-*/aggregator.log | indent

# --- 4. Producer ----------------------------------------------------------------------------
heading "Sending records through log_producer"
SENT=0
echo "   \$ log_producer \"Log Entry 1: This is a sample log.\"      # the tutorial's command"
"$BIN/log_producer" "Log Entry 1: This is a sample log." | indent
SENT=$((SENT + 1))

# send_batch SERVICE LEVEL [FLAGS...] -- LINE...: one producer run reading the lines on stdin.
send_batch() {
  local service=$1 level=$2
  shift 2
  local flags=()
  while [[ $1 != -- ]]; do flags+=("$1"); shift; done
  shift
  printf '   $ ... | log_producer --service %-12s --level %-5s %s  # %d line(s) on stdin\n' \
    "$service" "$level" "${flags[*]:-}" "$#"
  printf '%s\n' "$@" | "$BIN/log_producer" --service "$service" --level "$level" "${flags[@]}" 2>&1 | indent
  SENT=$((SENT + $#))
}

send_batch checkout-api info -- \
  "GET /api/cart 200 12ms user=4821" \
  "POST /api/cart/items 201 34ms user=4821 sku=SKU-1182" \
  "GET /api/products?page=2&sort=price 200 8ms" \
  "POST /api/checkout 202 145ms user=4821 order=ORD-20931" \
  "GET /api/orders/ORD-20931 200 9ms" \
  "GET /healthz 200 1ms" \
  "DELETE /api/cart/items/SKU-0042 204 6ms user=7730" \
  "GET /api/cart 200 11ms user=7730"
send_batch checkout-api warn -- \
  "slow query: SELECT * FROM orders WHERE user_id=4821 took 1840ms" \
  "rate limit at 80% for client 198.51.100.23" \
  "retrying inventory reservation order=ORD-20931 attempt=2"
send_batch payments error --field region=eu-west-1 -- \
  "card authorization failed: issuer timeout after 3000ms order=ORD-20931" \
  "webhook signature mismatch from provider=acme-pay id=evt_9f2c" \
  "refund rejected: amount exceeds captured total order=ORD-19877" \
  "connection pool exhausted (max=20) while capturing order=ORD-20950"
send_batch auth warn -- \
  "3 failed logins for user=jdoe from 203.0.113.7 within 60s" \
  "password reset requested for user=mlopez" \
  "token refresh with expired grant for client=mobile-ios" \
  "$(printf 'user agent "\033[31mcurl\033[0m" with a terminal escape and a \r carriage return')"
send_batch inventory debug -- \
  "cache miss sku=SKU-1182 warehouse=LYS-2" \
  "reserved 2 x SKU-1182 for order=ORD-20931" \
  "stock level SKU-0042 = 17 (threshold 20)" \
  "sync with warehouse LYS-2 finished in 420ms" \
  "cache hit ratio 0.93 over the last 5 min"
send_batch mailer info -- \
  "sent order confirmation to rené.dupont@example.fr ✉️" \
  "template 'Bestätigung' rendered for locale de-DE" \
  "queued newsletter for 1,204 recipients 🚀"
send_batch scheduler fatal -- \
  "job nightly-invoices crashed: out of memory (rss=3.9GiB)"

echo "   A log-injection attempt: one argument whose newline tries to forge a second record:"
INJECTION=$(printf 'login failed for user=admin\n2026-01-01T00:00:00.000000Z INFO  auth@web-1 login succeeded for user=admin')
printf '%s\n' "   \$ log_producer --service auth --level warn \$'login failed for user=admin\\n2026-01-01T00:00:00.000000Z INFO  auth@web-1 login succeeded ...'"
"$BIN/log_producer" --service auth --level warn "$INJECTION" | indent
SENT=$((SENT + 1))
echo "   Sent $SENT records, every one confirmed by the broker."

# --- 5. Wait --------------------------------------------------------------------------------
heading "Waiting for the workers to drain the queue and exit"
deadline=$((SECONDS + 120))
for i in "${!WORKERS[@]}"; do
  while kill -0 "${AGG_PIDS[$i]}" 2>/dev/null; do
    if ((SECONDS > deadline)); then
      echo "demo: ${WORKERS[$i]} did not exit in time; stopping it" >&2
      kill -TERM "${AGG_PIDS[$i]}" 2>/dev/null || true
    fi
    sleep 0.2
  done
  rc=0
  wait "${AGG_PIDS[$i]}" || rc=$?
  if ((rc != 0)); then
    echo "demo: ${WORKERS[$i]} exited with status $rc; its log:" >&2
    indent <"$DEMO_DIR/${WORKERS[$i]}/aggregator.log" >&2
    exit 1
  fi
  echo "   ${WORKERS[$i]}: $(grep -h "wrote .* records" "$DEMO_DIR/${WORKERS[$i]}/aggregator.log" | sed 's/^.*log_aggregator: //')"
done
AGG_PIDS=()

# --- 6. Results -----------------------------------------------------------------------------
heading "How the records were split"
TOTAL=0
for w in "${WORKERS[@]}"; do
  n=$(wc -l <"$DEMO_DIR/$w/aggregated_logs.txt")
  TOTAL=$((TOTAL + n))
  printf '   %-9s %3d records  %s\n' "$w" "$n" "$ROOT/$DEMO_DIR/$w/aggregated_logs.txt"
done
for w in "${WORKERS[@]}"; do
  printf '\n   First lines of %s/%s/aggregated_logs.txt:\n' "$DEMO_DIR" "$w"
  head -n 5 "$DEMO_DIR/$w/aggregated_logs.txt" | indent
done
printf '\n   The injection attempt stayed one line (newline and escape sequences are escaped):\n'
grep -h -e "login failed for user=admin" -e "with a terminal escape" "$DEMO_DIR"/worker-*/aggregated_logs.txt | indent

heading "What the broker says"
echo "   \$ logctl status"
"$BIN/logctl" status --queue "$QUEUE" | indent
if [[ "$BROKER_KIND" == redis ]]; then
  if [[ -n "$OUR_REDIS" ]]; then
    echo "   \$ redis-cli -a *** LLEN $QUEUE      # the tutorial's check (here the password comes from REDISCLI_AUTH)"
    REDISCLI_AUTH="$LOGSHIP_PASSWORD" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning LLEN "$QUEUE" | indent
  fi
elif [[ -n "$OUR_NODE" ]] && rabbitmqctl -q -n "$OUR_NODE" ping >/dev/null 2>&1; then
  echo "   \$ rabbitmqctl -n $OUR_NODE list_queues name durable messages consumers"
  rabbitmqctl -q -n "$OUR_NODE" list_queues name durable messages consumers | indent
  echo "   Management UI: http://localhost:$MGMT_PORT (user guest, password guest; from this machine only)"
else
  echo "   (The broker was not started by this demo: look at it with its own tools, e.g. its"
  echo "   management UI, usually http://localhost:$MGMT_PORT.)"
fi

heading "Check"
EXPECTED=$((SENT + PRE_READY))
if ((PRE_READY > 0)); then
  expected_text="$SENT sent now + $PRE_READY already queued = $EXPECTED"
else
  expected_text="$SENT sent"
fi
if ((TOTAL == EXPECTED)); then
  echo "   OK: $TOTAL records written by the two workers, $expected_text."
else
  echo "   FAILED: $TOTAL records written by the two workers, but $expected_text." >&2
  echo "   Worker logs: $ROOT/$DEMO_DIR/worker-*/aggregator.log" >&2
  exit 1
fi

if [[ -n "$OUR_NODE" ]]; then
  echo
  echo "The RabbitMQ node $OUR_NODE is left running for you to explore (try the README's walkthrough)."
  echo "Stop it with: scripts/rabbitmq-node.sh stop $NODE_DIR"
fi
if [[ -n "$OUR_REDIS" ]]; then
  echo
  echo "The Redis server on 127.0.0.1:$REDIS_PORT is left running for you to explore:"
  echo "  REDISCLI_AUTH=\$(cat $REDIS_DIR/password) redis-cli LLEN $QUEUE"
  echo "Stop it with: scripts/redis-server.sh stop $REDIS_DIR"
fi
