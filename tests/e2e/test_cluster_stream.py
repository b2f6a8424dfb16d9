#!/usr/bin/python3
"""A stream reader whose node dies resumes on another node, without loss or duplicate.
A stream with a replica on each of the 3 nodes; log_aggregator --broker lists every node, starting
with node 2, where it reads; node 2 is SIGKILLed while records are still being published (through
node 1): the aggregator reconnects to node 3, subscribes right after the last record it took, and
its output holds every record exactly once, in stream order. Node 2 is restarted at the end."""
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


run_test("cluster_stream", body, time_limit=900)
