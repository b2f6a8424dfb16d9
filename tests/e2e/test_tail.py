#!/usr/bin/python3
"""logctl tail against the real broker: a live view that never takes records from the aggregators.

(a) Filters, and nothing taken: an aggregator consumes the queue; `tail --level error --service api
    --format json` and an unfiltered `tail --format raw` run while producers of services api, web
    and a.b send records of every level (batched, and one record per message). The aggregator writes
    every record exactly once; the filtered tail printed exactly the error and fatal records of api,
    each once, in the json format; the unfiltered tail printed every record. Ctrl-C ends both with
    exit 0, and no queue of theirs is left (RabbitMQ: no binding of the queue's exchange but the
    queue's own; Redis: nobody subscribes to QUEUE.tail).
(b) -n 5 exits 0 after printing exactly 5 records (of 40 sent).
(c) A stalled tail (SIGSTOP) costs the broker a bounded amount:
    RabbitMQ: with --backlog 20 its queue never holds more than 20 ready messages (plus at most the
    prefetch delivered) while 300 records are sent; resumed, it prints the newest and says how many
    were dropped: printed + dropped = 300.
    Redis: with client-output-buffer-limit pubsub lowered to 256 KB the server disconnects the
    stalled tail instead of buffering for it; resumed, it subscribes again, says so, and counts the
    records it missed: printed + missed = the records sent up to the last one it printed.
(d) Errors: an unknown level or an empty service is one line and exit 2; an unreachable broker (and
    over RabbitMQ a queue that does not exist) one line and exit 1.
"""
# transports: amqp redis
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import (count_lines, exchange_name, rabbitmqctl, read_lines, run_test,  # noqa: E402
                             wait_for)

LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"]


def start_tail(t, label, q, args):
    """Starts logctl tail and waits until it is subscribed (its 'tailing' line on stderr)."""
    p = t.spawn(label, "logctl", ["tail", "--queue", q] + list(args))
    ok = wait_for(lambda: b"logctl: tailing" in p.stderr() or not p.alive(), 30)
    t.require(ok and p.alive(), f"{label} is subscribed within 30 s", p.result().describe())
    return p


def stop(t, p, what):
    p.send_signal(signal.SIGINT)
    t.finish_proc(p, 15, f"{what}: Ctrl-C (SIGINT) ends it with exit 0")


def tail_bindings(t, q):
    """RabbitMQ: queues other than q bound to q's exchange (a tail's own queues)."""
    rows = rabbitmqctl(t.env.node, ["list_bindings", "source_name", "destination_name"])
    return sorted({d for s, d in rows if s == exchange_name(q) and d != q})


def tail_subscribers(t, q):
    """Redis: subscribers of q's tail channel."""
    return dict(t.broker.r.pubsub_numsub(q + ".tail")).get((q + ".tail").encode(), 0)


def leftovers(t, q):
    return tail_bindings(t, q) if t.env.transport == "amqp" else tail_subscribers(t, q)


def part_a(t):
    t.section("(a) filtered and unfiltered tails while an aggregator consumes")
    q = t.queue("filters")
    r = t.run("logctl", ["setup", "--queue", q])
    t.require(r.rc == 0, "logctl setup", r.describe())
    out = t.path("agg.log")
    agg = t.start_aggregator("agg", q, out, "raw")
    filtered = start_tail(t, "tail-filtered", q, ["--level", "error", "--service", "api", "--format", "json"])
    everything = start_tail(t, "tail-all", q, ["--format", "raw"])
    subscribed = leftovers(t, q)
    t.check((len(subscribed) if isinstance(subscribed, list) else subscribed) == 2, "the two tails are subscribed",
            repr(subscribed))

    sent, wanted = [], []
    for service in ["api", "web", "a.b"]:
        for level in LEVELS:
            for batching in (["--batch-records", "1"], []):
                lines = [f"{service} {level} {'single' if batching else 'batched'} {i}" for i in range(20)]
                t.produce(q, ("\n".join(lines) + "\n").encode(), ["--service", service, "--level", level] + batching)
                sent += lines
                if service == "api" and level in ("error", "fatal"):
                    wanted += lines
    t.check(wait_for(lambda: count_lines(out) >= len(sent), 60), f"the aggregator wrote {len(sent)} lines")
    t.check(wait_for(lambda: filtered.stdout().count(b"\n") >= len(wanted), 30),
            f"the filtered tail printed {len(wanted)} lines")
    t.check(wait_for(lambda: everything.stdout().count(b"\n") >= len(sent), 30),
            f"the unfiltered tail printed {len(sent)} lines")
    time.sleep(1)  # anything extra would show up now
    stop(t, filtered, "the filtered tail")
    stop(t, everything, "the unfiltered tail")
    agg.send_signal(signal.SIGINT)
    t.finish_proc(agg, 30, "the aggregator exits 0")

    written = [l.decode() for l in read_lines(out)[0]]
    t.check(sorted(written) == sorted(sent), f"the aggregator wrote every record exactly once ({len(written)} lines "
            f"for {len(sent)} records): tails take nothing away")
    lines = filtered.stdout().decode().splitlines()
    try:
        objs = [json.loads(l) for l in lines]
    except ValueError as e:
        objs = []
        t.check(False, "the filtered tail prints JSON lines", f"{e}\n{lines[:5]}")
    t.check_equal(sorted(o.get("message") for o in objs), sorted(wanted),
                  "the filtered tail printed exactly the error and fatal records of api, each once")
    t.check(all(o.get("service") == "api" and o.get("level") in ("error", "fatal") and set(o) >= {"ts", "host"}
                for o in objs), "in the aggregator's json format, with their service and level")
    raw = everything.stdout().decode().splitlines()
    t.check(sorted(raw) == sorted(sent), f"the unfiltered tail printed every record once ({len(raw)} lines)")
    t.check(wait_for(lambda: not leftovers(t, q), 15), "no tail queue or subscription is left after they exit",
            repr(leftovers(t, q)))
    t.check(b"dropped" not in filtered.stderr() + everything.stderr(), "no tail reported dropped records")


def part_b(t):
    t.section("(b) -n 5")
    q = t.queue("count")
    t.run("logctl", ["setup", "--queue", q])
    p = start_tail(t, "tail-n", q, ["-n", "5", "--format", "raw"])
    t.produce(q, "".join(f"r{i}\n" for i in range(40)).encode(), ["--batch-records", "1"])
    t.finish_proc(p, 30, "tail -n 5 exits 0 by itself")
    t.check_equal(p.stdout().decode().splitlines(), [f"r{i}" for i in range(5)], "it printed exactly the first 5")
    t.check(wait_for(lambda: not leftovers(t, q), 15), "nothing of it is left on the broker")
    t.check_equal(t.queue_ready(q), 40, "the queue holds all 40 records")


def dropped_total(p):
    """The 'N in all' of the tail's last 'were dropped' warning, or 0."""
    found = re.findall(rb"record\(s\) were dropped for this tail \((\d+) in all\)", p.stderr())
    return int(found[-1]) if found else 0


def part_c_amqp(t):
    t.section("(c) a stalled tail over RabbitMQ: --backlog 20")
    q = t.queue("slow")
    t.run("logctl", ["setup", "--queue", q])
    p = start_tail(t, "tail-slow", q, ["--backlog", "20", "--format", "raw"])
    own = tail_bindings(t, q)
    t.require(len(own) == 1, "the tail's own queue is bound to the exchange", repr(own))
    p.send_signal(signal.SIGSTOP)
    n = 300
    t.produce(q, "".join(f"s{i}\n" for i in range(1, n + 1)).encode(), ["--batch-records", "1"])
    rows = rabbitmqctl(t.env.node, ["list_queues", "name", "messages_ready", "messages_unacknowledged",
                                    "arguments"])
    mine = [r for r in rows if r[0] == own[0]]
    t.require(mine, "rabbitmqctl lists the tail's queue", repr(rows))
    ready, unacked = int(mine[0][1]), int(mine[0][2])
    t.check(ready <= 20, f"the stalled tail's queue holds at most --backlog 20 ready messages ({ready})")
    t.check(unacked <= 100, f"and at most the prefetch (100) delivered and unacknowledged ({unacked})")
    t.check("drop-head" in mine[0][3], "its overflow is drop-head", mine[0][3])
    t.check_equal(t.queue_ready(q), n, f"the queue holds all {n} records")
    p.send_signal(signal.SIGCONT)
    t.check(wait_for(lambda: p.stdout().decode().splitlines()[-1:] == [f"s{n}"], 30), "resumed, it prints the newest")
    time.sleep(1.5)  # its dropped-records warning comes at most a second after what it printed
    stop(t, p, "the resumed tail")
    printed = p.stdout().decode().splitlines()
    dropped = dropped_total(p)
    t.check(0 < dropped and len(printed) + dropped == n,
            f"it says how many were dropped: {len(printed)} printed + {dropped} dropped = {n}", p.stderr().decode())


def part_c_redis(t):
    t.section("(c) a stalled tail over Redis: client-output-buffer-limit pubsub 256kb")
    r = t.broker.r
    old = r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    pubsub = re.search(r"pubsub \d+ \d+ \d+", old).group(0)
    r.config_set("client-output-buffer-limit", "pubsub 262144 0 0")
    try:
        q = t.queue("slow")
        p = start_tail(t, "tail-slow", q, ["--format", "raw"])
        rfd, wfd = os.pipe()
        prod = t.spawn("producer-slow", "log_producer", ["--queue", q, "--batch-records", "1"], stdin=rfd)
        os.close(rfd)
        w = os.fdopen(wfd, "wb")
        sent = 0

        def send(k):
            nonlocal sent
            w.write("".join(f"{'x' * 200} {i}\n" for i in range(sent + 1, sent + k + 1)).encode())
            w.flush()
            sent += k

        send(10)
        t.require(wait_for(lambda: len(p.stdout().splitlines()) == 10, 30), "the tail shows the first 10")
        p.send_signal(signal.SIGSTOP)
        while tail_subscribers(t, q) > 0 and sent < 200_000:
            send(2000)
        t.check(tail_subscribers(t, q) == 0, f"Redis disconnected the stalled tail instead of buffering for it "
                f"({sent} records sent)")
        p.send_signal(signal.SIGCONT)
        t.check(wait_for(lambda: b"subscribing again" in p.stderr(), 30), "resumed, the tail says it lost its "
                "subscription", p.stderr().decode()[-2000:])
        t.check(wait_for(lambda: tail_subscribers(t, q) == 1, 30), "and subscribes again")
        # The producer notices the subscriber within a second: send until a record sent now shows up.
        first_after = sent + 1

        def shown_again():
            send(1)
            lines = p.stdout().splitlines()
            return bool(lines) and int(lines[-1].rsplit(b" ", 1)[-1]) >= first_after

        t.check(wait_for(shown_again, 30, 0.2), "records sent after that are shown again")
        w.close()
        t.finish_proc(prod, 60, "the producer exits 0")
        t.check(wait_for(lambda: p.stdout().splitlines()[-1:] == [f"{'x' * 200} {sent}".encode()], 30),
                f"the tail shows the last record ({sent})")
        time.sleep(1.5)  # the missed-records warning comes at most a second after what was printed
        stop(t, p, "the resumed tail")
        printed = p.stdout().splitlines()
        missed = dropped_total(p)
        t.check(0 < missed and len(printed) + missed == sent,
                f"it counts what it missed: {len(printed)} printed + {missed} missed = {sent} sent",
                p.stderr().decode()[-2000:])
        t.check_equal(t.queue_ready(q), sent, f"the queue holds all {sent} records")
    finally:
        r.config_set("client-output-buffer-limit", old)
        t.check(pubsub in r.config_get("client-output-buffer-limit")["client-output-buffer-limit"],
                "the server's pubsub limit is restored")


def part_d(t):
    t.section("(d) errors")
    q = t.queue("errors")
    t.run("logctl", ["setup", "--queue", q])
    for args, what in ((["--level", "loud"], "an unknown level"), (["--service", ""], "an empty service name"),
                       (["--service", "a\tb"], "a service name with a control character"),
                       (["--format", "xml"], "an unknown format")):
        r = t.run("logctl", ["tail", "--queue", q] + args, timeout=30)
        errors = [l for l in r.err_lines if l.startswith("logctl: error:")]
        t.check(r.rc == 2 and len(r.err_lines) == 1 and len(errors) == 1 and r.out == b"",
                f"{what}: one error line, exit 2 ({errors[0] if errors else r.err_lines})", r.describe())
    down = "amqp://guest:guest@127.0.0.1:1/" if t.env.transport == "amqp" else "redis://127.0.0.1:1"
    r = t.run("logctl", ["tail", "--queue", q, "--broker", down, "--retry-seconds", "0"], timeout=30)
    t.check(r.rc == 1 and len(r.err_lines) == 1 and "refused" in r.err_text,
            f"an unreachable broker: one error line, exit 1 ({r.err_lines})", r.describe())
    if t.env.transport == "amqp":
        missing = q + "_missing"
        r = t.run("logctl", ["tail", "--queue", missing], timeout=30)
        t.check(r.rc == 1 and len(r.err_lines) == 1 and "does not exist" in r.err_text,
                f"a queue that does not exist: one error line, exit 1 ({r.err_lines})", r.describe())
        t.check(t.queue_ready(missing) is None, "and tail did not create it")


def body(t):
    part_a(t)
    part_b(t)
    part_c_amqp(t) if t.env.transport == "amqp" else part_c_redis(t)
    part_d(t)


if __name__ == "__main__":
    run_test("tail", body)
