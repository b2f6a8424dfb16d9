#!/usr/bin/python3
"""Poison messages: a record whose deliveries keep ending without its being written goes to the
dead-letter queue after --max-deliveries failed deliveries, with the reason, instead of being
redelivered forever; every other record is written exactly once.

The poison record P is a 100 KB line, and every aggregator runs under `prlimit --fsize=64 KB`:
P's line cannot be written, so the aggregator holds P (unacknowledged) and the test SIGKILLs it,
as a supervisor would kill a hung worker. With --prefetch 1 nothing else is in flight with P.
Each restart (on the same output, so over Redis the same consumer id) counts one more failed
delivery: RabbitMQ redelivers P with its redelivered flag and the aggregator sends it back to the
queue with logship-deliveries; over Redis the restart puts P back with its count in the record.
(a) default --max-deliveries 5: five kills, then the sixth aggregator dead-letters P with
    "delivered 5 times without being written ..." and writes the 100 other records: each once.
(b) --max-deliveries 0: no limit and no counting; after two kills, an aggregator without the
    size limit writes P.
(c) RabbitMQ only: a quorum queue's x-delivery-count (here set by a pika publisher on a classic
    queue, which passes it through) counts too; a record sent back keeps its timestamp property.
(d) a batch (the producer's default) holding P: after its first failed delivery the batch is
    split, its records sent back one per message with the count; P is then held alone, killed
    four more times and dead-lettered alone; the 40 other records of its batch are written once.
(a) and (b) send one record per message (--batch-records 1), so P is a delivery of its own."""
# transports: amqp redis
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import logship_testlib as testlib  # noqa: E402
from logship_testlib import read_lines, run_test, sample, tally  # noqa: E402

LIMIT = 64 * 1024
POISON = "poison-" + "p" * (100 * 1024)
REASON5 = "delivered 5 times without being written (the aggregator crashed or lost its connection each time)"


def start_limited(t, label, q, out, extra=()):
    return testlib.start_limited(t, label, q, out, LIMIT, extra)


def kill_while_holding(t, label, q, out, extra=()):
    """Starts a limited aggregator, waits until it holds P (it cannot write its line), SIGKILLs it."""
    return testlib.kill_while_holding(t, label, q, out, LIMIT, extra, timeout=30)


def counted_again(t, p):
    """What the stderr of an aggregator says when it counted a failed delivery of P."""
    err = p.stderr()
    if t.env.transport == "redis":
        return b"put 1 unfinished message(s) left by a previous run back" in err
    return b"put 1 redelivered record(s) back" in err and b"with their failed deliveries counted" in err


def header(h, key):
    v = (h or {}).get(key)
    return v.decode() if isinstance(v, bytes) else v


def part_a(t):
    t.section("(a) five failed deliveries, then the dead-letter queue (--max-deliveries 5, the default)")
    q = t.queue("a")
    before = [f"before-{i:03d}" for i in range(50)]
    after = [f"after-{i:03d}" for i in range(50)]
    t.produce(q, ("\n".join(before + [POISON] + after) + "\n").encode(), ["--batch-records", "1"])
    out = t.path("a.log")
    for k in range(1, 6):
        p = kill_while_holding(t, f"agg-a{k}", q, out)
        if k > 1:
            t.check(counted_again(t, p), f"agg-a{k} counted failed delivery #{k - 1} of the poison record",
                    p.result().describe())
        lines, partial = read_lines(out)
        t.check(POISON.encode() not in lines, f"after kill {k} the poison record is not in the file")
    t.note(f"after 5 kills: {len(read_lines(out)[0])} lines in the file, queue (ready, unacked) {t.queue_counts(q)}")

    last = start_limited(t, "agg-a6", q, out, ["--idle-exit", "3"])
    t.finish_proc(last, 60, "agg-a6 dead-letters the poison record, drains the queue and exits 0")
    err = last.stderr().decode("utf-8", "replace")
    t.check(f"dead-lettered a message to '{q}.dead': {REASON5}" in err, "it logs the dead-lettering with the reason",
            err[-2000:])
    t.check("1 dead-lettered, 1 of them as poison" in err, "its exit line counts one poison dead letter", err[-2000:])

    lines, partial = read_lines(out)
    t.check(partial == b"", "the file ends with a whole line (the poison fragments were cut off)", repr(partial[:60]))
    missing, dups, unexpected, _ = tally(before + after, [l.decode() for l in lines])
    t.check(not missing, f"every other record written ({len(missing)} missing)", sample(missing))
    t.check(dups == 0, f"each exactly once ({dups} duplicates)")
    t.check(not unexpected, f"nothing else in the file ({len(unexpected)})", sample([u[:40] for u in unexpected]))
    t.check_equal(len(lines), 100, "100 lines")

    dead = t.get_all(q + ".dead", expect=1)
    t.check_equal(len(dead), 1, "exactly one dead letter")
    if dead:
        props, body = dead[0]
        t.check(body == POISON.encode(), "the dead letter is the poison record, intact", f"{len(body)} bytes")
        t.check_equal(header(props.headers, "logship-dead-reason"), REASON5, "logship-dead-reason says why")
        t.check_equal(header(props.headers, "logship-dead-queue"), q, "logship-dead-queue names the queue")
        t.check(header(props.headers, "logship-deliveries") is None,
                "it carries no logship-deliveries (moved back, it starts afresh)", repr(props.headers))
        t.check(bool(header(props.headers, "logship-id")), "it keeps its record id", repr(props.headers))
    t.check_equal(t.queue_counts(q), (0, 0), "the queue is empty (ready, unacked)")


def part_b(t):
    t.section("(b) --max-deliveries 0: no limit, no counting")
    q = t.queue("b")
    others = [f"b-{i:03d}" for i in range(20)]
    t.produce(q, ("\n".join([POISON] + others) + "\n").encode(), ["--batch-records", "1"])
    out = t.path("b.log")
    for k in range(1, 3):
        p = kill_while_holding(t, f"agg-b{k}", q, out, ["--max-deliveries", "0"])
        t.check(b"with their failed deliveries counted" not in p.stderr(), f"agg-b{k} sent nothing back to count it",
                p.result().describe())
    p, _ = t.drain("agg-b3", q, out, "raw", ["--max-deliveries", "0"])
    err = p.stderr()
    t.check(b"0 dead-lettered" in err, "the unlimited aggregator dead-letters nothing", p.result().describe())
    lines, partial = read_lines(out)
    missing, dups, unexpected, _ = tally(others + [POISON], [l.decode() for l in lines])
    t.check(not missing and dups == 0 and not unexpected,
            f"the poison record and the others written once each (missing {len(missing)}, duplicates {dups}, "
            f"unexpected {len(unexpected)})")
    t.check_equal(t.queue_ready(q + ".dead"), 0, "nothing dead-lettered")
    t.check_equal(t.queue_counts(q), (0, 0), "the queue is empty (ready, unacked)")


def part_c(t):
    t.section("(c) RabbitMQ: x-delivery-count counts; a record sent back keeps its timestamp property")
    q = t.queue("c")
    ch = t.pika().channel()
    ch.queue_declare(queue=q, durable=True)
    ch.confirm_delivery()
    import pika  # noqa: E402 - the AMQP transport always has it

    def send(body, count, ts=None):
        ch.basic_publish(exchange="", routing_key=q, body=body,
                         properties=pika.BasicProperties(delivery_mode=2, timestamp=ts,
                                                         headers={"x-delivery-count": count}))

    send(b"c-counted-5", 5)
    send(b"c-counted-2", 2, ts=1_700_000_000)
    send(b"c-counted-0", 0)
    out = t.path("c.log")
    p, _ = t.drain("agg-c", q, out, "json")
    err = p.stderr().decode("utf-8", "replace")
    t.check(f"dead-lettered a message to '{q}.dead': {REASON5}" in err,
            "x-delivery-count 5 reaches --max-deliveries 5: dead-lettered", err[-2000:])
    t.check("put 1 redelivered record(s) back" in err, "x-delivery-count 2: sent back once with its count", err[-2000:])
    lines, _ = read_lines(out)
    got = {}
    for line in lines:
        rec = json.loads(line)
        got[rec["message"]] = rec
    t.check_equal(sorted(got), ["c-counted-0", "c-counted-2"], "the two under the limit are written, once each")
    t.check_equal(len(lines), 2, "two lines")
    t.check_equal(got.get("c-counted-2", {}).get("ts"), "2023-11-14T22:13:20.000000Z",
                  "the copy sent back kept the timestamp property")
    dead = t.get_all(q + ".dead", expect=1)
    t.check_equal([b for _, b in dead], [b"c-counted-5"], "the dead letter is the one counted 5 times")
    if dead:
        h = dead[0][0].headers or {}
        t.check("x-delivery-count" not in h, "the broker's count is not copied into the dead letter", repr(h))


def part_d(t):
    t.section("(d) a batch holding the poison record is split after its first failure; P alone is dead-lettered")
    q = t.queue("d")
    before = [f"d-before-{i:03d}" for i in range(20)]
    after = [f"d-after-{i:03d}" for i in range(20)]
    # A long --linger-ms: the batch waits for all 41 (it goes at end of input), however slowly the
    # producer reads on a loaded machine.
    t.produce(q, ("\n".join(before + [POISON] + after) + "\n").encode(), ["--linger-ms", "60000"])
    t.check_equal(t.queue_ready(q), 1, "the producer sent the 41 records as one message (a batch)")
    out = t.path("d.log")
    for k in range(1, 6):
        kill_while_holding(t, f"agg-d{k}", q, out)
    last = start_limited(t, "agg-d6", q, out, ["--idle-exit", "3"])
    t.finish_proc(last, 60, "agg-d6 dead-letters the poison record and exits 0")
    t.check(f"dead-lettered a message to '{q}.dead': {REASON5}".encode() in last.stderr(),
            "it dead-letters it with the reason", last.result().describe())
    lines, partial = read_lines(out)
    t.check(partial == b"", "the file ends with a whole line", repr(partial[:60]))
    missing, dups, unexpected, _ = tally(before + after, [l.decode() for l in lines])
    t.check(not missing and dups == 0 and not unexpected,
            f"the file holds the other {len(before) + len(after)} records of the batch, once each "
            f"(missing {len(missing)}, duplicates {dups}, other {len(unexpected)})")
    dead = t.get_all(q + ".dead", expect=1)
    t.check_equal(len(dead), 1, "exactly one dead letter")
    if dead:
        props, body = dead[0]
        t.check(body == POISON.encode(), "it is the poison record alone", f"{len(body)} bytes")
        t.check(header(props.headers, "logship-batch") is None, "not a batch any more")
        t.check_equal(header(props.headers, "logship-dead-reason"), REASON5, "logship-dead-reason says why")
    t.check_equal(t.queue_counts(q), (0, 0), "the queue is empty (ready, unacked)")


def body(t):
    part_a(t)
    part_b(t)
    if t.env.transport == "amqp":
        part_c(t)
    part_d(t)


if __name__ == "__main__":
    run_test("poison", body)
