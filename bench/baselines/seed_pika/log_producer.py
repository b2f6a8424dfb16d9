#!/usr/bin/python3
"""The tutorial's producer, as the seed describes it (pika): declares the durable `logs_queue` and
publishes persistent messages (delivery mode 2) to it through the default exchange.

    log_producer.py "message ..."        one message, the arguments joined with spaces (the seed)
    log_producer.py --bench N [--confirm] N messages over one connection, the seed's fixed text
                                          numbered; --confirm: a publisher confirm awaited per message

The project's own version of the team's reference (../shared/bench/seed_pika/log_producer.py),
with the same command line and messages. Broker: localhost, guest/guest, port $AMQP_PORT (5672).
Run it with Debian's /usr/bin/python3 (package python3-pika).
"""
import os
import sys

import pika

QUEUE = "logs_queue"
BENCH_BODY = "2026-11-23T00:00:00Z INFO bench-{:08d} user=alice action=login status=ok latency_ms=12"


def main(argv: list[str]) -> int:
    port = int(os.environ.get("AMQP_PORT") or 5672)
    connection = pika.BlockingConnection(pika.ConnectionParameters(host="localhost", port=port))
    channel = connection.channel()
    channel.queue_declare(queue=QUEUE, durable=True)
    persistent = pika.BasicProperties(delivery_mode=2)
    if len(argv) > 1 and argv[0] == "--bench":
        if "--confirm" in argv:
            channel.confirm_delivery()  # basic_publish then waits for the broker's confirm
        for i in range(int(argv[1])):
            channel.basic_publish(exchange="", routing_key=QUEUE, body=BENCH_BODY.format(i), properties=persistent)
    else:
        message = " ".join(argv) or "Hello World!"
        channel.basic_publish(exchange="", routing_key=QUEUE, body=message, properties=persistent)
        print(f" [x] Sent {message!r}")
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
