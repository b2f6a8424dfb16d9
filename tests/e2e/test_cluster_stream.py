#!/usr/bin/python3
"""A stream reader whose node dies resumes on another node, without loss or duplicate.
A stream with a replica on each of the 3 nodes; log_aggregator --broker lists every node, starting
with node 2, where it reads; node 2 is SIGKILLed while records are still being published (through
node 1): the aggregator reconnects to node 3, subscribes right after the last record it took, and
its output holds every record exactly once, in stream order. Node 2 is restarted at the end.
Then a stream with one replica (node 1): a reader given node 2 alone exits 1 with one error line
naming the fix; given node 2 then node 1, it reads every record through node 1."""
import os
import re
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import Cluster, count_lines, run_test, wait_for  # noqa: E402
from test_stream import aggregator, check_exactly_once, publish, wait_lines  # noqa: E402



def kill_node(t, c, i):
    """SIGKILLs node i by the pid rabbitmq-cluster.sh recorded, checked to be that node's beam by its
    environment (Cluster.kill looks for the node's directory in the command line, where this
    RabbitMQ does not put it)."""
    pid = c.pid(i)
    with open(f"/proc/{pid}/environ", "rb") as f:
        environ = f.read()
    t.require(os.path.join(c.dir, f"n{i + 1}").encode() in environ,
              f"pid {pid} recorded for {c.nodes[i]} is that node's process")
    os.kill(pid, signal.SIGKILL)
    t.require(wait_for(lambda: not c.alive(i), 60), f"{c.nodes[i]} (pid {pid}) is gone after SIGKILL")


def body(t):
    c = Cluster(t)
    c.make_whole()
    q = t.queue("stream")
    t.pika().channel().queue_declare(q, durable=True, arguments={"x-queue-type": "stream",
                                                                 "x-initial-cluster-size": len(c)})
    records = [f"cs-{n:05d}" for n in range(8000)]
    publish(t, q, records[:3000])
    later = threading.Thread(target=publish, args=(t, q, records[3000:]))
    out = t.path("cluster-stream.log")
    p = aggregator(t, "agg-cluster", q, out, ["--broker", c.broker_arg(first=1)])
    later.start()
    wait_lines(t, p, out, 2000)
    kill_node(t, c, 1)
    later.join()
    wait_lines(t, p, out, len(records), timeout=300)
    p.send_signal(signal.SIGTERM)
    t.finish_proc(p, 60)
    err = p.stderr()
    resumed = re.findall(rb"is a stream: reading it at offset (\d+)", err)
    t.check(len(resumed) >= 1 and 2000 <= int(resumed[-1]) <= len(records),
            f"after {c.nodes[1]} died the aggregator subscribed again at the offset after its last record "
            f"({[int(r) for r in resumed]})", p.result().describe())
    check_exactly_once(t, records, out, f"{c.nodes[1]} SIGKILLed mid-stream ({count_lines(out)} lines)")
    c.restart(1)
    no_replica(t, c)


def no_replica(t, c):
    t.section("a stream without a replica on the reader's node")
    q = t.queue("one_replica")
    t.pika().channel().queue_declare(q, durable=True, arguments={"x-queue-type": "stream",
                                                                 "x-initial-cluster-size": 1})
    records = [f"one-{n}" for n in range(100)]
    publish(t, q, records)
    r = t.run("log_aggregator", ["--queue", q, "--output", t.path("nr.log"), "--broker", c.urls[1],
                                 "--retry-seconds", "2"])
    last = r.err_lines[-1] if r.err_lines else ""
    t.check(r.rc == 1 and "error:" in last and "no replica on the node" in last and "--broker" in last,
            "node 2 alone: exit 1, the error line says the node holds no replica and how to fix it", r.describe())
    out = t.path("via-node1.log")
    p = aggregator(t, "agg-failover", q, out, ["--broker", f"{c.urls[1]},{c.urls[0]}"], idle=3)
    t.finish_proc(p, 120)
    check_exactly_once(t, records, out, "node 2 then node 1: read through node 1")


run_test("cluster_stream", body, time_limit=900)
