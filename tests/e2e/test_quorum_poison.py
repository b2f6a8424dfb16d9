#!/usr/bin/python3
"""Poison records in RabbitMQ quorum queues (issue 16): counted with the broker's x-delivery-count,
judged with the queue's own delivery limit where it has one, and dead-lettered to <queue>.dead with
our reason before RabbitMQ would drop them (or dead-letter them to the queue's own exchange).

A quorum queue with a delivery limit L (x-delivery-limit, or a policy's delivery-limit: the smaller
wins) drops a message when it is returned for the (L+1)th time. The aggregator reads L from the
management API at start and judges with min(--max-deliveries, L) (L with --max-deliveries 0).

The poison record P is a 300 KB line; every aggregator holding it runs under `prlimit --fsize`
(256 KB): P's line cannot be written, the aggregator holds P, and the test SIGKILLs it (a supervisor
killing a hung worker). Each part sends a few thousand other records, one per message, P among them,
and counts every one of them in the output: each exactly once. With --prefetch 1 nothing is in
flight with P when it is killed (with the default 200, records pushed ahead behind P count a failed
delivery at each kill too, and with a limit of 2 some of them are dead-lettered with P: see
docs/RELIABILITY.md, "Poison messages", the records around a poison record).
(a) a quorum queue declared by log_producer --queue-type quorum, no delivery limit, --max-deliveries
    3: after 3 kills the next aggregator dead-letters P ("delivered 3 times ...").
(b) a quorum queue declared by another client (pika) with x-delivery-limit 2, below the default
    --max-deliveries 5: the aggregator says it judges with 2; after 2 kills P is in <queue>.dead with
    "delivered 2 times ..." (before: it was sent back again, and dead-lettered only after 5 kills).
(c) --max-deliveries 0 (no limit of ours) on a quorum queue whose policy sets delivery-limit 2 (its
    x-delivery-limit 4 is higher: the policy wins): after 2 kills P is in <queue>.dead with our
    reason (before: nothing counted, and the broker dropped P at its third failed delivery).
(d) the rule when the limit cannot be read (--management-url off), and a warning for a limit of 0."""
import base64
import json
import os
import sys
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import logship_testlib as testlib  # noqa: E402
from logship_testlib import read_lines, run_test, sample, tally  # noqa: E402

LIMIT = 256 * 1024
POISON = "poison-" + "p" * (300 * 1024)


def reason(n):
    return f"delivered {n} times without being written (the aggregator crashed or lost its connection each time)"


def start_limited(t, label, q, out, extra=()):
    return testlib.start_limited(t, label, q, out, LIMIT, extra)


def kill_while_holding(t, label, q, out, extra=()):
    return testlib.kill_while_holding(t, label, q, out, LIMIT, extra, timeout=120)


def header(h, key):
    v = (h or {}).get(key)
    return v.decode() if isinstance(v, bytes) else v


def records(tag, n):
    return [f"{tag}-{i:05d}" for i in range(n)]


def produce_with_poison(t, q, others, extra=()):
    half = len(others) // 2
    data = "\n".join(others[:half] + [POISON] + others[half:]) + "\n"
    t.produce(q, data.encode(), ["--batch-records", "1"] + list(extra), timeout=300)


def declare_quorum(t, q, arguments):
    ch = t.pika().channel()
    ch.queue_declare(queue=q, durable=True, arguments=dict({"x-queue-type": "quorum"}, **arguments))
    ch.close()


def poison_cycle(t, part, q, others, kills, extra=()):
    """`kills` aggregators killed while holding P; the next one dead-letters it and drains the queue.
    Checks the dead letter, every other record exactly once, and an empty queue. Returns the last
    aggregator's stderr."""
    out = t.path(f"{part}.log")
    for k in range(1, kills + 1):
        kill_while_holding(t, f"agg-{part}{k}", q, out, extra)
        t.check(POISON.encode() not in read_lines(out)[0], f"after kill {k} the poison record is not in the file")
    last = start_limited(t, f"agg-{part}{kills + 1}", q, out, ["--idle-exit", "3"] + list(extra))
    t.finish_proc(last, 240, f"agg-{part}{kills + 1} dead-letters the poison record, drains the queue and exits 0")
    err = last.stderr().decode("utf-8", "replace")
    t.check(f"dead-lettered a message to '{q}.dead': {reason(kills)}" in err,
            f"it dead-letters P after {kills} failed deliveries, with our reason", err[-3000:])
    lines, partial = read_lines(out)
    t.check(partial == b"", "the file ends with a whole line (the poison fragments were cut off)", repr(partial[:60]))
    missing, dups, unexpected, _ = tally(others, [line.decode() for line in lines])
    t.check(not missing, f"every other record written ({len(missing)} of {len(others)} missing)", sample(missing))
    t.check(dups == 0, f"each exactly once ({dups} duplicates)")
    t.check(not unexpected, f"nothing else in the file ({len(unexpected)})", sample([u[:40] for u in unexpected]))
    dead = t.get_all(q + ".dead", expect=1)
    t.check_equal(len(dead), 1, "exactly one dead letter, in <queue>.dead")
    if dead:
        props, body = dead[0]
        t.check(body == POISON.encode(), "the dead letter is the poison record, intact", f"{len(body)} bytes")
        t.check_equal(header(props.headers, "logship-dead-reason"), reason(kills), "logship-dead-reason says why")
        t.check("x-death" not in (props.headers or {}), "dead-lettered by the aggregator, not by the broker",
                repr(props.headers)[:300])
    t.check_queue_counts(q, (0, 0), "the quorum queue is empty (ready, unacked): the broker holds nothing")
    return err


def part_a(t):
    t.section("(a) a quorum queue of ours without a delivery limit: --max-deliveries 3 counts x-delivery-count")
    q = t.queue("a")
    others = records("a", 3000)
    produce_with_poison(t, q, others, ["--queue-type", "quorum"])
    err = poison_cycle(t, "a", q, others, 3, ["--max-deliveries", "3"])
    t.check(f"dead-lettering a record after 3 failed deliveries (--max-deliveries); queue '{q}' (quorum) has no "
            "delivery limit of its own" in err, "the aggregator says which limit it uses and why", err[-3000:])


def part_b(t):
    t.section("(b) a quorum queue declared by pika with x-delivery-limit 2: judged with 2, not --max-deliveries 5")
    q = t.queue("b")
    declare_quorum(t, q, {"x-delivery-limit": 2})
    others = records("b", 3000)
    produce_with_poison(t, q, others)
    err = poison_cycle(t, "b", q, others, 2)
    t.check(f"dead-lettering a record after 2 failed deliveries (not --max-deliveries 5): queue '{q}' is a quorum "
            "queue with a delivery limit of 2 (x-delivery-limit)" in err,
            "the aggregator says it uses the queue's limit, and why", err[-3000:])


class Policy:
    """A policy of the test node's management API, on exactly one queue; deleted at the end."""

    def __init__(self, t, name, queue, definition):
        self.url = f"http://127.0.0.1:{t.env.mgmt_port}/api/policies/%2F/{urllib.parse.quote(name, safe='')}"
        self.auth = "Basic " + base64.b64encode(b"guest:guest").decode()
        body = {"pattern": f"^{queue}$", "apply-to": "queues", "priority": 100, "definition": definition}
        self._call("PUT", json.dumps(body).encode())

    def _call(self, method, data=None):
        req = urllib.request.Request(self.url, data=data, method=method,
                                     headers={"Authorization": self.auth, "content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._call("DELETE")


def part_c(t):
    t.section("(c) --max-deliveries 0 on a quorum queue whose policy sets delivery-limit 2 (x-delivery-limit 4)")
    q = t.queue("c")
    with Policy(t, q + "-limit", q, {"delivery-limit": 2}):
        declare_quorum(t, q, {"x-delivery-limit": 4})  # declared after the policy: the API shows it once sampled
        others = records("c", 1000)
        produce_with_poison(t, q, others)
        err = poison_cycle(t, "c", q, others, 2, ["--max-deliveries", "0"])
    t.check(f"dead-lettering a record after 2 failed deliveries (--max-deliveries 0 would be no limit): queue '{q}' "
            f"is a quorum queue with a delivery limit of 2 (policy '{q}-limit')" in err,
            "the policy's limit is used, and said", err[-3000:])


def part_d(t):
    t.section("(d) the rule when the limit cannot be read; a warning for a delivery limit of 0")
    q = t.queue("d")
    declare_quorum(t, q, {"x-delivery-limit": 0})
    out = t.path("d.log")
    p, _ = t.drain("agg-d-off", q, out, "raw", ["--management-url", "off"], idle=1)
    err = p.stderr().decode("utf-8", "replace")
    t.check("dead-lettering a record after 5 failed deliveries (--max-deliveries); the queue's own delivery limit is "
            "not known (--management-url off)" in err and "keep --max-deliveries at or below the limit and give the "
            "queue a dead-letter exchange" in err, "--management-url off: the aggregator states the rule", err[-2000:])
    p, _ = t.drain("agg-d-zero", q, out, "raw", idle=1)
    err = p.stderr().decode("utf-8", "replace")
    t.check(f"warning log_aggregator: queue '{q}' has a delivery limit of 0 (x-delivery-limit): RabbitMQ drops "
            "every record whose delivery fails" in err, "a delivery limit of 0: a warning that says so", err[-2000:])


def body(t):
    part_a(t)
    part_b(t)
    part_c(t)
    part_d(t)


if __name__ == "__main__":
    run_test("quorum_poison", body, time_limit=900)
