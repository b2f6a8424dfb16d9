#!/usr/bin/env python3
"""Chaos on the suite's 3-node cluster: the node holding a quorum queue's leader is SIGKILLed in the
middle of 20,000 records while a producer and two aggregators are connected to various nodes
(--broker lists every node). The queue is declared by another client (pika, x-queue-type quorum),
so this also shows that an existing quorum queue works unchanged.
- the producer (connected to the doomed node) fails over to the next node, sends again what was
  not confirmed and exits 0;
- the aggregator connected to the doomed node reconnects to another node and consumes again; the one
  connected to a surviving node goes on (its consumer follows the new leader);
- every record is in the outputs: zero lost; no output holds a record twice (each aggregator's id
  journal); a record may be in both outputs (taken by one aggregator, unacknowledged when its node
  died, redelivered to the other).
(b) a classic queue's node is SIGKILLed while two aggregators drain 20,000 records from it: the one
connected to another node gets a basic.cancel (the queue lives on, on a node that is down), the other
loses its connection; both wait for the node (NOT_FOUND "home node ... is down" is not a deleted
queue) instead of exiting, and consume again once it is back: zero lost, no output holds a record
twice.
The killed node is restarted at the end, so the shared cluster is whole for the next test."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import Cluster, count_lines, feed_pipe, read_lines, run_test, sample, tally, wait_for  # noqa: E402

N = 20000


def check_outputs(t, outs, records):
    union = []
    for o in outs:
        complete, partial = read_lines(o)
        t.check(partial == b"", f"{os.path.basename(o)} ends with a complete line", repr(partial[:80]))
        lines = [l.decode() for l in complete]
        _, dups, unexpected, _ = tally(records, lines)
        t.check(dups == 0, f"{os.path.basename(o)}: no record written twice ({len(lines)} lines, {dups} duplicates)")
        t.check(not unexpected, f"{os.path.basename(o)}: no unexpected line", sample(unexpected))
        union += lines
    missing, dups, _, _ = tally(records, union)
    t.check(not missing, f"zero records lost ({len(missing)} missing of {N})", sample(missing))
    t.note(f"records in both outputs (redelivered after the node loss): {dups}")


def kill_mid_stream(t, c, q, victim, tag, extra=()):
    """N records through a producer connected to node `victim` and two aggregators, one connected to
    `victim`, one to the next node (--broker lists every node; `extra`: flags for all three); `victim`
    is SIGKILLed once 2,000 are written. Checks that the producer exits 0, every record is written,
    both aggregators reconnect or go on, and check_outputs. The victim is left down."""
    survivor = (victim + 1) % len(c)
    outs = [t.path(f"{tag}-agg{i}.log") for i in range(2)]
    aggs = [t.start_aggregator(f"{tag}-agg{i}", q, outs[i], "raw", list(extra) + ["--broker", c.broker_arg(first)])
            for i, first in enumerate((victim, survivor))]
    records = [f"{tag}-{n:05d}" for n in range(N)]
    rfd, wfd = os.pipe()
    producer = t.spawn(f"{tag}-producer", "log_producer", ["--queue", q, "--broker", c.broker_arg(victim),
                                                           "--confirm-timeout", "120"] + list(extra), stdin=rfd)
    os.close(rfd)
    feeder = feed_pipe(records, wfd, pace=0.1)
    written = lambda: sum(count_lines(o) for o in outs)  # noqa: E731
    t.require(wait_for(lambda: written() > 2000, 120, 0.05), "records flow before the kill")
    c.kill(victim)
    t.note(f"{written()} lines written when {c.nodes[victim]} died")
    feeder.join()
    t.finish_proc(producer, 300, "the producer exits 0: every record confirmed after failing over")
    t.check(b"reconnect" in producer.stderr(), "the producer says it reconnected", producer.result().describe())
    done = wait_for(lambda: len({l for o in outs for l in read_lines(o)[0]}) >= N, 300, 0.5)
    t.check(done, f"all {N} distinct records written",
            f"distinct lines: {len({l for o in outs for l in read_lines(o)[0]})}")
    for a in aggs:
        t.check(a.alive(), f"{a.label} is still running", a.result().describe())
        a.send_signal(signal.SIGTERM)
    for a in aggs:
        t.finish_proc(a, 60, f"{a.label} exits 0 on SIGTERM")
    t.check(b"reconnect" in aggs[0].stderr(), "the aggregator on the killed node says it reconnected",
            aggs[0].result().describe())
    check_outputs(t, outs, records)


def leader_loss(t, c):
    t.section("the node holding a quorum queue's leader is SIGKILLed mid-stream")
    q = t.queue("qq")
    c.pika(1).channel().queue_declare(q, durable=True, arguments={"x-queue-type": "quorum"})
    victim = c.leader(q)
    t.note(f"'{q}' declared through {c.nodes[1]}: leader on {c.nodes[victim]}")
    kill_mid_stream(t, c, q, victim, "qq")
    c.restart(victim)
    t.check_queue_counts(q, (0, 0), "the queue is empty at the end (ready, unacked)")


def classic_node_loss(t, c):
    t.section("(b) the node of a classic queue is SIGKILLed while two aggregators drain it")
    victim = 2 % len(c)
    q = t.queue("classic")
    r = t.run("logctl", ["setup", "--queue", q, "--broker", c.urls[victim]])
    t.require(r.rc == 0, "logctl setup through the doomed node (a classic queue lives there)", r.describe())
    records = [f"cl-{n:05d}" for n in range(N)]
    t.produce(q, ("\n".join(records) + "\n").encode(), ["--broker", c.broker_arg(0)], timeout=300)
    outs = [t.path(f"classic-agg{i}.log") for i in range(2)]
    aggs = [t.start_aggregator(f"classic-agg{i}", q, outs[i], "raw", ["--broker", c.broker_arg(first), "--prefetch", "20"])
            for i, first in enumerate(((victim + 1) % len(c), victim))]
    t.require(wait_for(lambda: sum(count_lines(o) for o in outs) > 2000, 120, 0.05), "records flow before the kill")
    c.kill(victim)
    t.check(wait_for(lambda: b"cancelled our consumer" in aggs[0].stderr() or not aggs[0].alive(), 60),
            "the aggregator on a surviving node is told its consumer was cancelled", aggs[0].result().describe())
    t.check(wait_for(lambda: b"is down or inaccessible" in aggs[1].stderr() or not aggs[1].alive(), 60),
            "the aggregator on the killed node finds the queue's node down", aggs[1].result().describe())
    for a in aggs:
        t.check(a.alive(), f"{a.label} waits for the queue's node instead of exiting", a.result().describe())
    c.restart(victim)
    done = wait_for(lambda: len({l for o in outs for l in read_lines(o)[0]}) >= N, 300, 0.5)
    t.check(done, f"all {N} distinct records written once the node is back",
            f"distinct lines: {len({l for o in outs for l in read_lines(o)[0]})}")
    for a in aggs:
        a.send_signal(signal.SIGTERM)
    for a in aggs:
        t.finish_proc(a, 60, f"{a.label} exits 0 on SIGTERM")
    check_outputs(t, outs, records)


def body(t):
    c = Cluster(t)
    c.make_whole()
    try:
        classic_node_loss(t, c)
        leader_loss(t, c)
    finally:
        c.make_whole()  # the next cluster test starts on the whole cluster, whatever happened here


if __name__ == "__main__":
    run_test("cluster_node_loss", body, time_limit=1200)
