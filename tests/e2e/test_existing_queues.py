#!/usr/bin/python3
"""Queues and exchanges that another program declared (pika here, as an operator's tool would) are
used as they are: a quorum queue (and a quorum NAME.dead), a classic queue with x-max-length and a
dead-letter exchange, a stream, a topic exchange declared with other properties and a direct
exchange of the queue's name. logctl setup, log_producer, log_aggregator, logctl status and
logctl dead work on each (no 406 PRECONDITION_FAILED), every record is counted, and what the other
program declared is left exactly as it was."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import exchange_name, rabbitmqctl, read_lines, run_test, sample, tally  # noqa: E402

RECORDS = 300


def queue_args(t, q):
    """{name: (type, arguments)} of `q` and `q`.dead as rabbitmqctl lists them."""
    rows = rabbitmqctl(t.env.node, ["list_queues", "name", "type", "arguments"])
    return {r[0]: (r[1], r[2]) for r in rows if r[0] in (q, q + ".dead")}


def exchange_row(t, name):
    rows = rabbitmqctl(t.env.node, ["list_exchanges", "name", "type", "durable"])
    return [r[1:] for r in rows if r[0] == name]


def pipeline(t, q, tag):
    """logctl setup, a producer, an aggregator draining, logctl status and dead on queue `q`."""
    r = t.run("logctl", ["setup", "--queue", q])
    t.check(r.rc == 0 and "PRECONDITION_FAILED" not in r.err_text, f"{tag}: logctl setup exits 0", r.describe())
    t.check("used as it is" in r.out_text, f"{tag}: logctl setup says what it found and left as it is",
            r.describe())
    records = [f"{tag}-{n:04d}" for n in range(RECORDS)]
    r = t.produce(q, ("\n".join(records) + "\n").encode(), ["--batch-records", "7"])
    t.check("PRECONDITION_FAILED" not in r.err_text, f"{tag}: the producer met no 406", r.describe())
    out = t.path(f"{tag}.log")
    agg, _ = t.drain(f"agg-{tag}", q, out)
    t.check(b"PRECONDITION_FAILED" not in agg.stderr(), f"{tag}: the aggregator met no 406", agg.result().describe())
    lines, _ = read_lines(out)
    missing, dups, unexpected, _ = tally(records, [l.decode() for l in lines])
    t.check(not missing and not dups and not unexpected and len(lines) == RECORDS,
            f"{tag}: every record written once ({len(lines)} lines)",
            f"missing {sample(missing)}, {dups} duplicates, unexpected {sample(unexpected)}")
    r = t.run("logctl", ["status", "--queue", q, "--json"])
    t.check(r.rc == 0, f"{tag}: logctl status exits 0", r.describe())
    if r.rc == 0:
        doc = json.loads(r.out_text)
        t.check(q in r.out_text and doc is not None, f"{tag}: logctl status shows the queue", r.out_text[:500])
    r = t.run("logctl", ["dead", "list", "--queue", q])
    t.check(r.rc == 0, f"{tag}: logctl dead list exits 0", r.describe())


def body(t):
    ch = t.pika().channel()

    t.section("(a) a quorum queue and a quorum NAME.dead declared by another program")
    q = t.queue("quorum")
    ch.queue_declare(queue=q, durable=True, arguments={"x-queue-type": "quorum"})
    ch.queue_declare(queue=q + ".dead", durable=True, arguments={"x-queue-type": "quorum", "x-max-length": 50000})
    before = queue_args(t, q)
    pipeline(t, q, "quorum")
    t.check_equal(queue_args(t, q), before, "the quorum queues are left exactly as they were")

    t.section("(b) a classic queue with x-max-length and a dead-letter exchange")
    q = t.queue("limited")
    ch.queue_declare(queue=q, durable=True,
                     arguments={"x-max-length": 100000, "x-dead-letter-exchange": "e2e_existing_dlx"})
    before = queue_args(t, q)
    pipeline(t, q, "limited")
    after = queue_args(t, q)
    t.check_equal(after.get(q), before.get(q), "its arguments are left as they were")
    t.check(after.get(q + ".dead", ("", ""))[0] == "classic" and after[q + ".dead"][1] == "[]",
            "the missing NAME.dead is declared as Logship declares it (classic, no arguments)", repr(after))

    t.section("(c) the queue's exchange exists as a topic exchange declared differently (not durable)")
    q = t.queue("transient_exchange")
    ch.exchange_declare(exchange=exchange_name(q), exchange_type="topic", durable=False)
    pipeline(t, q, "transient")
    t.check_equal(exchange_row(t, exchange_name(q)), [["topic", "false"]], "the exchange is left as it was")

    t.section("(d) the queue's exchange exists as a direct exchange (a tutorial's): records go straight to the queue")
    q = t.queue("direct_exchange")
    ch.exchange_declare(exchange=exchange_name(q), exchange_type="direct", durable=True)
    pipeline(t, q, "direct")
    t.check_equal(exchange_row(t, exchange_name(q)), [["direct", "true"]], "the exchange is left as it was")
    r = t.run("logctl", ["tail", "--queue", q], timeout=30)
    errors = [l for l in r.err_lines if "error:" in l]
    t.check(r.rc != 0 and len(errors) == 1 and "direct exchange" in errors[0],
            "logctl tail refuses it in one error line naming the exchange's type", r.describe())

    t.section("(e) a stream declared by another program: setup, producer, status")
    q = t.queue("stream")
    ch.queue_declare(queue=q, durable=True, arguments={"x-queue-type": "stream"})
    r = t.run("logctl", ["setup", "--queue", q])
    t.check(r.rc == 0, "stream: logctl setup exits 0", r.describe())
    t.produce(q, b"".join(f"s-{n}\n".encode() for n in range(RECORDS)), ["--batch-records", "1"])
    r = t.run("logctl", ["status", "--queue", q, "--management-url", "off"])
    t.check(r.rc == 0, "stream: logctl status exits 0", r.describe())
    t.check_equal(queue_args(t, q).get(q, ("", ""))[0], "stream", "it is still a stream")


run_test("existing_queues", body)
