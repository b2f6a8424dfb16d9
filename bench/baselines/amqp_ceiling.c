/* The raw rabbitmq-c probe: how fast one connection can push persistent messages into the durable
   logs_queue (with publisher confirms awaited every BATCH messages) and drain it (prefetch P, a
   multiple-ack every P/2 deliveries, each body written as a line to a file). No headers, no
   properties but delivery mode 2: the practical ceiling of one-record-per-message traffic through
   one queue, the reference row of `make bench` (bench/README.md).

   The project's own version of the team's reference probe (../shared/bench/amqp_ceiling.c): the
   same command line, environment, wire traffic and output lines, so that `bench/run.py --shared
   DIR` can run either.

   Usage: amqp_ceiling pub N BATCH BYTES   N bodies of BYTES 'x's; BATCH > 0: confirms, waited for
                                           every BATCH messages and at the end; 0: no confirms
          amqp_ceiling sub N PREFETCH      consume N messages, write each body and a line feed
   Environment: AMQP_PORT (default 5672; 127.0.0.1, guest/guest, vhost /), CEILING_OUT (sub's
   output file, default ./ceiling_out.txt), QUEUE_PASSIVE=1 (declare logs_queue passively: use an
   existing queue of any type).
   Build: gcc -O2 -o amqp_ceiling amqp_ceiling.c -lrabbitmq */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUEUE "logs_queue"

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void fail(const char* what) {
  fprintf(stderr, "amqp_ceiling: %s\n", what);
  exit(1);
}

static void check(amqp_rpc_reply_t reply, const char* what) {
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    fprintf(stderr, "amqp_ceiling: %s failed (reply type %d)\n", what, (int)reply.reply_type);
    exit(1);
  }
}

/* Connected, logged in, channel 1 open and logs_queue declared (durable, no arguments: the
   tutorial's declaration), or the program exits with one line saying what failed. */
static amqp_connection_state_t open_channel(void) {
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  const char* port = getenv("AMQP_PORT");
  if (socket == NULL || amqp_socket_open(socket, "127.0.0.1", port ? atoi(port) : 5672) != AMQP_STATUS_OK) {
    fail("cannot connect to 127.0.0.1");
  }
  check(amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
  amqp_channel_open(conn, 1);
  check(amqp_get_rpc_reply(conn), "channel.open");
  const amqp_boolean_t passive = getenv("QUEUE_PASSIVE") != NULL;
  amqp_queue_declare(conn, 1, amqp_cstring_bytes(QUEUE), passive, 1, 0, 0, amqp_empty_table);
  check(amqp_get_rpc_reply(conn), "queue.declare");
  return conn;
}

/* Reads frames until the broker has confirmed every delivery tag up to `upto`. */
static void await_confirms(amqp_connection_state_t conn, long* confirmed, long upto) {
  while (*confirmed < upto) {
    amqp_frame_t frame;
    if (amqp_simple_wait_frame(conn, &frame) != AMQP_STATUS_OK) fail("connection lost awaiting confirms");
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) fail("the broker refused a message (basic.nack)");
    if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      const amqp_basic_ack_t* ack = frame.payload.method.decoded;
      if ((long)ack->delivery_tag > *confirmed) *confirmed = (long)ack->delivery_tag;
    }
  }
}

static void publish(amqp_connection_state_t conn, long n, long batch, int bytes) {
  const double start = seconds();
  char* text = malloc(bytes > 0 ? (size_t)bytes : 1);
  if (text == NULL) fail("out of memory");
  memset(text, 'x', (size_t)bytes);
  const amqp_bytes_t body = {(size_t)bytes, text};
  if (batch > 0) {
    amqp_confirm_select(conn, 1);
    check(amqp_get_rpc_reply(conn), "confirm.select");
  }
  amqp_basic_properties_t props;
  memset(&props, 0, sizeof props);
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = 2; /* persistent */
  long confirmed = 0;
  for (long i = 1; i <= n; i++) {
    if (amqp_basic_publish(conn, 1, amqp_empty_bytes, amqp_cstring_bytes(QUEUE), 0, 0, &props, body) !=
        AMQP_STATUS_OK) {
      fail("publish failed");
    }
    if (batch > 0 && (i % batch == 0 || i == n)) await_confirms(conn, &confirmed, i);
  }
  const double elapsed = seconds() - start;
  printf("pub n=%ld batch=%ld bytes=%d: %.2f s, %.0f msg/s\n", n, batch, bytes, elapsed, (double)n / elapsed);
  free(text);
}

static void consume(amqp_connection_state_t conn, long n, int prefetch) {
  const double start = seconds();
  amqp_basic_qos(conn, 1, 0, (uint16_t)prefetch, 0);
  check(amqp_get_rpc_reply(conn), "basic.qos");
  amqp_basic_consume(conn, 1, amqp_cstring_bytes(QUEUE), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  check(amqp_get_rpc_reply(conn), "basic.consume");
  const char* path = getenv("CEILING_OUT");
  FILE* out = fopen(path ? path : "ceiling_out.txt", "w");
  if (out == NULL) {
    perror("amqp_ceiling: output file");
    exit(1);
  }
  const long ack_every = prefetch > 1 ? prefetch / 2 : 1;
  for (long got = 1; got <= n; got++) {
    amqp_envelope_t envelope;
    amqp_maybe_release_buffers(conn);
    check(amqp_consume_message(conn, &envelope, NULL, 0), "consume");
    fwrite(envelope.message.body.bytes, 1, envelope.message.body.len, out);
    fputc('\n', out);
    if (got % ack_every == 0 || got == n) amqp_basic_ack(conn, 1, envelope.delivery_tag, 1);
    amqp_destroy_envelope(&envelope);
  }
  if (fclose(out) != 0) fail("cannot write the output file");
  const double elapsed = seconds() - start;
  printf("sub n=%ld prefetch=%d: %.2f s, %.0f msg/s\n", n, prefetch, elapsed, (double)n / elapsed);
}

int main(int argc, char** argv) {
  const int pub = argc == 5 && strcmp(argv[1], "pub") == 0;
  const int sub = argc == 4 && strcmp(argv[1], "sub") == 0;
  if (!pub && !sub) {
    fprintf(stderr, "usage: amqp_ceiling pub N BATCH BYTES | sub N PREFETCH\n");
    return 2;
  }
  amqp_connection_state_t conn = open_channel();
  if (pub) {
    publish(conn, atol(argv[2]), atol(argv[3]), atoi(argv[4]));
  } else {
    consume(conn, atol(argv[2]), atoi(argv[3]));
  }
  amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
  return 0;
}
