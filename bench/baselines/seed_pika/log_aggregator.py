#!/usr/bin/python3
"""The tutorial's consumer, as the seed describes it (pika): declares the durable `logs_queue`,
takes one message at a time (basic_qos prefetch_count=1), appends each body as a line to
aggregated_logs.txt (flushed) and only then acks it (manual acks).

    log_aggregator.py [--exit-after N] [--prefetch P] [--out FILE]

--exit-after N stops after N messages (for benchmarks; default: run until Ctrl-C), --prefetch P
changes the prefetch (default 1, the tutorial's), --out the file (default aggregated_logs.txt).
The project's own version of the team's reference (../shared/bench/seed_pika/log_aggregator.py),
with the same command line and output. Broker: localhost, guest/guest, port $AMQP_PORT (5672).
Run it with Debian's /usr/bin/python3 (package python3-pika).
"""
import argparse
import os
import sys

import pika

QUEUE = "logs_queue"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="the tutorial's pika consumer of logs_queue")
    ap.add_argument("--exit-after", type=int, default=0, help="stop after N messages (0: never)")
    ap.add_argument("--prefetch", type=int, default=1, help="basic_qos prefetch_count (default 1)")
    ap.add_argument("--out", default="aggregated_logs.txt", help="file the bodies are appended to")
    args = ap.parse_args(argv)
    port = int(os.environ.get("AMQP_PORT") or 5672)
    connection = pika.BlockingConnection(pika.ConnectionParameters(host="localhost", port=port))
    channel = connection.channel()
    channel.queue_declare(queue=QUEUE, durable=True)
    channel.basic_qos(prefetch_count=args.prefetch)
    received = 0
    with open(args.out, "a") as out:
        def on_message(ch, method, _properties, body):
            nonlocal received
            out.write(body.decode() + "\n")
            out.flush()
            ch.basic_ack(delivery_tag=method.delivery_tag)  # after the write: at-least-once
            received += 1
            if args.exit_after and received >= args.exit_after:
                ch.stop_consuming()

        channel.basic_consume(queue=QUEUE, on_message_callback=on_message)
        print(" [*] Waiting for logs. To exit press CTRL+C", flush=True)
        try:
            channel.start_consuming()
        except KeyboardInterrupt:
            pass
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
