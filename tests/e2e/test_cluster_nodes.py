#!/usr/bin/env python3
"""The suite's RabbitMQ cluster (fixture `cluster`, scripts/rabbitmq-cluster.sh) is what the cluster
tests assume: every node runs and sees all N nodes running, every node takes AMQP connections on its
own port, a quorum queue declared through one node has a replica on every node and carries messages
from one node to another, and the consistent-hash exchange plugin is enabled."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import Cluster, run_test  # noqa: E402


def body(t):
    c = Cluster(t)
    t.check(len(c) == 3, f"the suite's cluster has 3 nodes ({', '.join(c.nodes)})")
    c.make_whole()
    for i in range(len(c)):
        t.check_equal(c.running_nodes(i), sorted(c.nodes), f"{c.nodes[i]} sees every node running")

    t.section("a quorum queue declared through node 1, used through nodes 2 and 3")
    q = t.queue("qq")
    conns = [c.pika(i) for i in range(len(c))]
    conns[0].channel().queue_declare(q, durable=True, arguments={"x-queue-type": "quorum"})
    info = c.queue_info(q)
    t.check_equal(info["type"], "quorum", f"{q} is a quorum queue")
    t.check_equal(sorted(info["members"]), sorted(c.nodes), f"{q} has a replica on every node")
    ch = conns[1].channel()
    ch.confirm_delivery()
    for k in range(10):
        ch.basic_publish("", q, f"m{k}".encode())
    got = []
    ch3 = conns[2 % len(c)].channel()
    for _ in range(200):
        method, _props, body_ = ch3.basic_get(q, auto_ack=True)
        if method is None:
            if len(got) == 10:
                break
            conns[2 % len(c)].sleep(0.05)
            continue
        got.append(body_.decode())
    t.check_equal(sorted(got), sorted(f"m{k}" for k in range(10)),
                  "10 messages published on node 2 are read on node 3")

    t.section("plugins")
    ex = f"{q}.hash"
    ch3.exchange_declare(ex, "x-consistent-hash", durable=False, auto_delete=True)
    t.check(True, "an x-consistent-hash exchange can be declared (rabbitmq_consistent_hash_exchange)")
    ch3.exchange_delete(ex)


run_test("cluster_nodes", body)
