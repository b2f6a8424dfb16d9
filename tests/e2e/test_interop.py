#!/usr/bin/python3
"""Interop with plain pika clients written like the tutorial's scripts (log_producer.py, log_aggregator.py).
(a) a pika publisher (durable queue, delivery_mode=2, plain body) -> log_aggregator --format raw
    writes exactly those bodies;
(b) log_producer -> a plain pika consumer sees exactly the message text as the body;
(c) after our programs declared the queue, the tutorial's queue_declare(durable=True) still works;
(d) the tutorial command `log_producer "Log Entry 1: This is a sample log."` prints the tutorial's line;
(e) `rabbitmqctl list_queues` shows the queue with the right message count;
(f) log_producer publishes through the queue's topic exchange (`logs` for logs_queue): the queue is
    bound to it with '#', and the tutorial's publish to the default exchange with routing key = the
    queue still lands in the queue, next to log_producer's records, while a logctl tail runs."""
import os
import signal
import sys
import time

import pika

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import exchange_name, rabbitmqctl, read_lines, run_test, wait_for  # noqa: E402


def tutorial_publish(t, queue, msg):
    """What the tutorial's log_producer.py does for one message: its own connection, declare, publish."""
    conn = t.pika()
    ch = conn.channel()
    ch.queue_declare(queue=queue, durable=True)
    ch.basic_publish(exchange="", routing_key=queue, body=msg, properties=pika.BasicProperties(delivery_mode=2))
    conn.close()


def tutorial_consume(t, queue, expect, timeout=20):
    """What the tutorial's log_aggregator.py does: prefetch 1, manual ack, body.decode().
    Returns [(properties, body bytes)]: the first `expect` messages, plus any extra message found
    in the queue within 1 s afterwards (which the caller then sees as a count mismatch)."""
    conn = t.pika()
    ch = conn.channel()
    ch.queue_declare(queue=queue, durable=True)
    ch.basic_qos(prefetch_count=1)
    got = []
    decode_errors = []
    for method, props, body in ch.consume(queue=queue, inactivity_timeout=timeout):
        if method is None:
            break
        try:
            body.decode()
        except UnicodeDecodeError as e:
            decode_errors.append(f"{body[:40]!r}: {e}")
        got.append((props, body))
        ch.basic_ack(delivery_tag=method.delivery_tag)
        if len(got) >= expect:
            break
    ch.cancel()  # requeues whatever was delivered but not yet handed to us
    time.sleep(1)
    while True:
        method, props, body = ch.basic_get(queue=queue, auto_ack=True)
        if method is None:
            break
        got.append((props, body))
    conn.close()
    t.check(not decode_errors, "every body decodes as UTF-8 (the tutorial's body.decode())", "\n".join(decode_errors))
    return got


def part_a(t):
    t.section("(a) tutorial-style pika publisher -> log_aggregator --format raw")
    q = t.queue("a")
    bodies = [f"Log Entry {i}: This is a sample log." for i in range(1, 11)]
    for b in bodies:  # one connection per message, like running the tutorial script ten times
        tutorial_publish(t, q, b)
    more = [f"2026-11-23T00:00:00Z INFO bench-{i:08d} user=alice action=login status=ok latency_ms=12"
            for i in range(200)]
    more += ["caf\u00e9 cr\u00e8me br\u00fbl\u00e9e", "\u65e5\u672c\u8a9e\u306e\u30ed\u30b0", "emoji \U0001F600 ok",
             "quotes ' \" and spaces   inside", ""]
    conn = t.pika()  # the tutorial's --bench mode: one connection, many messages
    ch = conn.channel()
    ch.queue_declare(queue=q, durable=True)
    for b in more:
        ch.basic_publish(exchange="", routing_key=q, body=b, properties=pika.BasicProperties(delivery_mode=2))
    conn.close()
    bodies += more
    ok = wait_for(lambda: t.queue_ready(q) == len(bodies), 10)
    t.check(ok, f"all {len(bodies)} pika messages are in the queue")

    out = t.path("a-raw.log")
    t.drain("agg-a", q, out, "raw")
    lines, partial = read_lines(out)
    got = [l.decode("utf-8", "replace") for l in lines]
    t.check(partial == b"", "the output ends with a newline")
    t.check_equal(len(got), len(bodies), "one line per pika message")
    diffs = [f"#{i}: sent {b!r}, wrote {g!r}" for i, (b, g) in enumerate(zip(bodies, got)) if b != g]
    t.check(not diffs and len(got) == len(bodies), "the raw output is exactly the pika bodies, in order",
            "\n".join(diffs[:5]))
    t.check_equal(t.queue_ready(q + ".dead"), 0, "no pika message was dead-lettered")

    # The same plain messages in the text format: the body is the message, nothing is lost.
    q2 = t.queue("a_text")
    for b in bodies[:3]:
        tutorial_publish(t, q2, b)
    out2 = t.path("a-text.log")
    t.drain("agg-a-text", q2, out2, "text")
    lines2, _ = read_lines(out2)
    t.check(len(lines2) == 3 and all(l.decode().endswith(" " + b) for l, b in zip(lines2, bodies[:3])),
            "text format: each line ends with the pika body", "\n".join(repr(l) for l in lines2))


def part_b(t):
    t.section("(b) log_producer -> tutorial-style pika consumer")
    q = t.queue("b")
    argv_msg = "Log Entry 1: This is a sample log."
    r = t.run("log_producer", ["--queue", q, "--service", "billing", "--field", "user=alice", "--level", "warn",
                               argv_msg])
    t.check(r.rc == 0, "log_producer with a message argument exits 0", r.describe())
    stdin_msgs = ["plain line", "caf\u00e9 \u65e5\u672c \U0001F600", "back\\slash \"quoted\" 'single'",
                  "tab\tinside", "  leading and trailing spaces  ", "x" * 10000]
    t.produce(q, ("\n".join(stdin_msgs) + "\n").encode(), ["--service", "billing", "--batch-records", "1"])
    expected = [argv_msg] + stdin_msgs
    got = tutorial_consume(t, q, len(expected))
    bodies = [b for _, b in got]
    t.check_equal(len(bodies), len(expected), "the pika consumer got one message per record")
    diffs = [f"#{i}: sent {e!r:.80}, body {b!r:.80}" for i, (e, b) in enumerate(zip(expected, bodies))
             if b != e.encode()]
    t.check(not diffs and len(bodies) == len(expected), "each body is exactly the message text (no envelope)",
            "\n".join(diffs))
    if got:
        props = got[0][0]
        h = props.headers or {}
        t.check_equal(props.delivery_mode, 2, "messages are persistent (delivery_mode 2)")
        t.check_equal(h.get("logship-version"), "1", "header logship-version is the string '1'")
        t.check_equal(h.get("logship-level"), "warn", "header logship-level carries --level")
        t.check_equal(h.get("logship-service"), "billing", "header logship-service carries --service")
        t.check_equal(h.get("logship-field-user"), "alice", "header logship-field-user carries --field")
        ts = h.get("logship-ts")
        t.check(isinstance(ts, str) and ts.isdigit(), f"header logship-ts is a decimal string ({ts!r})")
        t.check(isinstance(h.get("logship-host"), str) and h.get("logship-host") != "",
                "header logship-host is a non-empty string")
        t.check(all(isinstance(v, str) for k, v in h.items() if k.startswith("logship-")),
                "every logship-* header is a string", repr(h))

    t.section("(b2) default batching: a tutorial-style consumer still writes one line per record")
    q2 = t.queue("b2")
    records = [f"batched record {i:05d}" for i in range(2500)]
    t.produce(q2, ("\n".join(records) + "\n").encode())
    got = t.get_all(q2)
    lines = []
    for _, body in got:
        lines += body.decode().split("\n")  # what `f.write(body + "\n")` puts in the file, line by line
    t.check(lines == records, f"the bodies' lines are the records, in order ({len(lines)} lines, {len(got)} messages)")
    t.check(1 < len(got) < len(records), f"records travel in batches ({len(got)} messages for {len(records)})")
    counts_ok = all(int((p.headers or {}).get("logship-batch", "1")) == b.count(b"\n") + 1 for p, b in got)
    t.check(counts_ok, "each message's logship-batch header is its number of lines")


def part_c(t):
    t.section("(c) the tutorial's queue_declare(durable=True) after our programs declared the queue")
    q = t.queue("c")
    r = t.run("logctl", ["setup", "--queue", q])
    t.check(r.rc == 0, "logctl setup exits 0", r.describe())
    r = t.run("log_producer", ["--queue", q, "declared by log_producer"])
    t.check(r.rc == 0, "log_producer exits 0", r.describe())
    _, rc = t.drain("agg-c", q, t.path("c.log"), "raw", idle=1)
    for name in (q, q + ".dead"):
        conn = t.pika()
        try:
            ch = conn.channel()
            ok = ch.queue_declare(queue=name, durable=True)
            t.check(True, f"queue_declare(queue='{name}', durable=True) succeeds (no PRECONDITION_FAILED)")
            t.check_equal(ok.method.message_count, 0, f"'{name}' is empty")
        except pika.exceptions.AMQPError as e:
            t.check(False, f"queue_declare(queue='{name}', durable=True) succeeds", repr(e))
        finally:
            if conn.is_open:
                conn.close()
    # And the tutorial's publisher/consumer still work on it.
    tutorial_publish(t, q, "tutorial after setup")
    got = tutorial_consume(t, q, 1)
    t.check([b for _, b in got] == [b"tutorial after setup"], "the tutorial's scripts still work on the queue",
            repr(got))


def part_de(t):
    t.section("(d) the tutorial command, (e) rabbitmqctl list_queues")
    q = t.queue("d")
    msg = "Log Entry 1: This is a sample log."
    r = t.run("log_producer", ["--queue", q, msg])
    t.check(r.rc == 0, "log_producer \"Log Entry 1: This is a sample log.\" exits 0", r.describe())
    t.check_equal(r.out_text, " [x] Sent 'Log Entry 1: This is a sample log.'\n", "stdout is the tutorial's line")
    t.check(r.err == b"", "nothing on stderr", r.describe())
    # Words are joined by spaces like the tutorial's " ".join(sys.argv[1:]).
    r = t.run("log_producer", ["--queue", q, "Log", "Entry", "2"])
    t.check_equal(r.out_text, " [x] Sent 'Log Entry 2'\n", "several words are sent as one message")
    for i in range(3, 6):
        r = t.run("log_producer", ["--queue", q, f"Log Entry {i}"])
        t.check(r.rc == 0, f"log_producer 'Log Entry {i}' exits 0", r.describe())

    rows = []

    def listed():
        nonlocal rows
        rows = rabbitmqctl(t.env.node, ["list_queues", "name", "messages", "durable"])
        return any(r[0] == q and r[1] == "5" for r in rows)

    ok = wait_for(listed, 10, 0.5)
    mine = [r for r in rows if r[0] in (q, q + ".dead")]
    t.check(ok, f"rabbitmqctl -n {t.env.node} list_queues shows '{q}' with 5 messages", repr(mine))
    t.check(any(r[0] == q and len(r) > 2 and r[2] == "true" for r in rows), "the queue is durable", repr(mine))
    got = tutorial_consume(t, q, 5)
    t.check_equal([b for _, b in got], [msg.encode(), b"Log Entry 2", b"Log Entry 3", b"Log Entry 4", b"Log Entry 5"],
                  "the tutorial consumer reads the five messages in order")
    ok = wait_for(lambda: any(r[0] == q and r[1] == "0" for r in rabbitmqctl(t.env.node, ["list_queues", "name", "messages"])), 10, 0.5)
    t.check(ok, "rabbitmqctl list_queues shows 0 messages once consumed")


def part_f(t):
    t.section("(f) the exchange: the tutorial's default-exchange publish still reaches the queue")
    q = t.queue("f")
    t.check_equal(exchange_name("logs_queue"), "logs", "logs_queue's exchange is 'logs'")
    r = t.run("log_producer", ["--queue", q, "--service", "billing", "--level", "error", "from log_producer"])
    t.check(r.rc == 0, "log_producer exits 0", r.describe())
    rows = rabbitmqctl(t.env.node, ["list_bindings", "source_name", "source_kind", "destination_name", "routing_key"])
    t.check([exchange_name(q), "exchange", q, "#"] in rows,
            f"'{q}' is bound to the topic exchange '{exchange_name(q)}' with '#'", repr([r for r in rows if q in r[2]]))
    ex = [r for r in rabbitmqctl(t.env.node, ["list_exchanges", "name", "type", "durable"]) if r[0] == exchange_name(q)]
    t.check_equal(ex, [[exchange_name(q), "topic", "true"]], "the exchange is a durable topic exchange")
    tail = t.spawn("tail-f", "logctl", ["tail", "--queue", q, "--format", "raw"])
    t.check(wait_for(lambda: b"logctl: tailing" in tail.stderr() or not tail.alive(), 30) and tail.alive(),
            "a logctl tail is subscribed", tail.result().describe())
    tutorial_publish(t, q, "from the tutorial's publisher")
    r = t.run("log_producer", ["--queue", q, "--service", "billing", "--level", "error", "again from log_producer"])
    t.check(r.rc == 0, "log_producer exits 0 while the tail runs", r.describe())
    t.check(wait_for(lambda: tail.stdout().count(b"\n") >= 1, 15), "the tail shows log_producer's record")
    time.sleep(0.5)
    tail.send_signal(signal.SIGINT)
    t.finish_proc(tail, 15, "the tail exits 0 on SIGINT")
    t.check_equal(tail.stdout(), b"again from log_producer\n",
                  "the tail shows only what went through the exchange (not the tutorial's direct publish)")
    got = tutorial_consume(t, q, 3)
    t.check_equal([b for _, b in got], [b"from log_producer", b"from the tutorial's publisher", b"again from log_producer"],
                  "the queue got the three messages, in order: the tutorial's and log_producer's")


def body(t):
    part_a(t)
    part_b(t)
    part_c(t)
    part_de(t)
    part_f(t)


if __name__ == "__main__":
    run_test("interop", body)
