/* What one message costs RabbitMQ, by what it carries and how it travels (bench/broker_cost/run.py).
   The ceiling probe (bench/baselines/amqp_ceiling.c) with switches for what Logship's messages add:
     HEADERS=K   K string headers of ~20-byte keys and values (ours: 6 to 8 logship-* headers)
     ONE_HEADER=1 one string header holding all the metadata (~90 bytes)
     PROPERTIES=1 the metadata in the standard properties (message-id, timestamp, type, app-id,
                  content-type) instead of headers
     EXCHANGE=E  publish through topic exchange E (declared, bound to logs_queue with #) with
                 routing key svc.info (ours: logs, <service>.<level>)
     MANDATORY=1 publish with the mandatory flag (ours)
     OURS_SHAPE=1 exactly the shape of log_producer --batch-records 1's messages: content-type
                 text/plain, persistent, a message-id of 16 hex digits and a sequence number, and
                 the six string headers logship-version, -ts, -level, -service, -host, -id with
                 values of our sizes (use with EXCHANGE=logs MANDATORY=1; `make bench`'s row
                 probe_our_shape)
   Usage: amqp_cost pub N WINDOW BYTES | sub N PREFETCH   (port: $AMQP_PORT; queue: logs_queue)
   pub keeps up to WINDOW unconfirmed messages (a sliding window, as log_producer); sub acks with
   multiple=true every PREFETCH/2 messages. */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}
static void die(amqp_rpc_reply_t r, const char* what) {
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    fprintf(stderr, "amqp_cost: %s failed (reply type %d)\n", what, r.reply_type);
    exit(1);
  }
}
static const char* env(const char* name) {
  const char* v = getenv(name);
  return v != NULL && *v != '\0' ? v : NULL;
}

int main(int argc, char** argv) {
  if (argc < 4 || (strcmp(argv[1], "pub") != 0 && strcmp(argv[1], "sub") != 0) ||
      (strcmp(argv[1], "pub") == 0 && argc < 5)) {
    fprintf(stderr, "usage: amqp_cost pub N WINDOW BYTES | sub N PREFETCH\n");
    return 2;
  }
  amqp_connection_state_t c = amqp_new_connection();
  amqp_socket_t* s = amqp_tcp_socket_new(c);
  if (amqp_socket_open(s, "127.0.0.1", env("AMQP_PORT") ? atoi(env("AMQP_PORT")) : 5672)) {
    fprintf(stderr, "amqp_cost: cannot connect\n");
    return 1;
  }
  die(amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
  amqp_channel_open(c, 1);
  die(amqp_get_rpc_reply(c), "channel.open");
  amqp_queue_declare(c, 1, amqp_cstring_bytes("logs_queue"), 0, 1, 0, 0, amqp_empty_table);
  die(amqp_get_rpc_reply(c), "queue.declare");
  const char* exchange = env("EXCHANGE");
  if (exchange) {
    amqp_exchange_declare(c, 1, amqp_cstring_bytes(exchange), amqp_cstring_bytes("topic"), 0, 1, 0, 0,
                          amqp_empty_table);
    die(amqp_get_rpc_reply(c), "exchange.declare");
    amqp_queue_bind(c, 1, amqp_cstring_bytes("logs_queue"), amqp_cstring_bytes(exchange), amqp_cstring_bytes("#"),
                    amqp_empty_table);
    die(amqp_get_rpc_reply(c), "queue.bind");
  }
  const long n = atol(argv[2]);
  const double t0 = now();
  if (strcmp(argv[1], "pub") == 0) {
    const long window = atol(argv[3]);
    const int bytes = atoi(argv[4]);
    char* body = malloc((size_t)bytes);
    memset(body, 'x', (size_t)bytes);
    amqp_confirm_select(c, 1);
    die(amqp_get_rpc_reply(c), "confirm.select");
    amqp_basic_properties_t p;
    memset(&p, 0, sizeof p);
    p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    p.delivery_mode = 2;
    const int headers = env("HEADERS") ? atoi(env("HEADERS")) : 0;
    amqp_table_entry_t entries[16];
    char keys[16][32], values[16][40];
    for (int i = 0; i < headers && i < 16; i++) {
      snprintf(keys[i], sizeof keys[i], "logship-key%d", i);
      snprintf(values[i], sizeof values[i], "value-%d-abcdefghijklmn", i);
      entries[i].key = amqp_cstring_bytes(keys[i]);
      entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
      entries[i].value.value.bytes = amqp_cstring_bytes(values[i]);
    }
    if (headers > 0) {
      p._flags |= AMQP_BASIC_HEADERS_FLAG;
      p.headers.num_entries = headers < 16 ? headers : 16;
      p.headers.entries = entries;
    }
    if (env("ONE_HEADER")) {
      entries[0].key = amqp_cstring_bytes("logship");
      entries[0].value.kind = AMQP_FIELD_KIND_UTF8;
      entries[0].value.value.bytes =
          amqp_cstring_bytes("v=1 ts=1764270000123456 level=info service=myservice host=myhost id=0123456789abcdef-1");
      p._flags |= AMQP_BASIC_HEADERS_FLAG;
      p.headers.num_entries = 1;
      p.headers.entries = entries;
    }
    if (env("PROPERTIES")) {
      p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG |
                  AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
      p.message_id = amqp_cstring_bytes("0123456789abcdef-123456");
      p.timestamp = 1764270000;
      p.type = amqp_cstring_bytes("info");
      p.app_id = amqp_cstring_bytes("myservice");
      p.content_type = amqp_cstring_bytes("text/plain");
    }
    char ours[6][40];
    char messageId[48];
    if (env("OURS_SHAPE")) {
      static const char* const names[6] = {"logship-version", "logship-ts",   "logship-level",
                                           "logship-service", "logship-host", "logship-id"};
      snprintf(ours[0], sizeof ours[0], "1");
      snprintf(ours[1], sizeof ours[1], "1764270000123456");
      snprintf(ours[2], sizeof ours[2], "info");
      snprintf(ours[3], sizeof ours[3], "-");
      snprintf(ours[4], sizeof ours[4], "bench-host");
      snprintf(ours[5], sizeof ours[5], "0123456789abcdef-1000000");
      for (int i = 0; i < 6; i++) {
        entries[i].key = amqp_cstring_bytes(names[i]);
        entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
        entries[i].value.value.bytes = amqp_cstring_bytes(ours[i]);
      }
      p._flags |= AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
      p.headers.num_entries = 6;
      p.headers.entries = entries;
      p.content_type = amqp_cstring_bytes("text/plain");
    }
    const int mandatory = env("MANDATORY") != NULL;
    const amqp_bytes_t ex = exchange ? amqp_cstring_bytes(exchange) : amqp_empty_bytes;
    const amqp_bytes_t key = amqp_cstring_bytes(exchange ? "svc.info" : "logs_queue");
    const amqp_bytes_t b = {(size_t)bytes, body};
    long confirmed = 0;
    for (long i = 1; i <= n; i++) {
      if (env("OURS_SHAPE")) { /* a new id per message, as ours (the record id and the message id) */
        snprintf(ours[5], sizeof ours[5], "0123456789abcdef-%ld", 1000000 + i);
        entries[5].value.value.bytes = amqp_cstring_bytes(ours[5]);
        snprintf(messageId, sizeof messageId, "fedcba9876543210-%ld", i);
        p.message_id = amqp_cstring_bytes(messageId);
      }
      if (amqp_basic_publish(c, 1, ex, key, mandatory, 0, &p, b)) {
        fprintf(stderr, "amqp_cost: publish failed\n");
        return 1;
      }
      const long want = i == n ? n : i - window;  // keep at most WINDOW unconfirmed
      while (confirmed < want) {
        amqp_frame_t f;
        if (amqp_simple_wait_frame(c, &f) != AMQP_STATUS_OK) {
          fprintf(stderr, "amqp_cost: connection lost\n");
          return 1;
        }
        if (f.frame_type != AMQP_FRAME_METHOD) continue;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
          const amqp_basic_ack_t* a = f.payload.method.decoded;
          if ((long)a->delivery_tag > confirmed) confirmed = (long)a->delivery_tag;
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
          fprintf(stderr, "amqp_cost: nack\n");
          return 1;
        }
      }
    }
    const double dt = now() - t0;
    printf("pub n=%ld: %.2f s, %.0f msg/s\n", n, dt, n / dt);
  } else {
    const int prefetch = atoi(argv[3]);
    amqp_basic_qos(c, 1, 0, (uint16_t)prefetch, 0);
    die(amqp_get_rpc_reply(c), "basic.qos");
    amqp_basic_consume(c, 1, amqp_cstring_bytes("logs_queue"), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    die(amqp_get_rpc_reply(c), "basic.consume");
    const long every = prefetch > 1 ? prefetch / 2 : 1;
    for (long got = 1; got <= n; got++) {
      amqp_envelope_t e;
      amqp_maybe_release_buffers(c);
      die(amqp_consume_message(c, &e, NULL, 0), "consume");
      if (got % every == 0 || got == n) amqp_basic_ack(c, 1, e.delivery_tag, 1);
      amqp_destroy_envelope(&e);
    }
    const double dt = now() - t0;
    printf("sub n=%ld: %.2f s, %.0f msg/s\n", n, dt, n / dt);
  }
  amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(c, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(c);
  return 0;
}
