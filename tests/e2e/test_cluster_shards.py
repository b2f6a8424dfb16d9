#!/usr/bin/env python3
"""A sharded queue on the suite's 3-node cluster (issue 16 parts 3 and 4).
(a) logctl setup --queue-type quorum --shards 3: the three shards are quorum queues with a member on
    every node, and their leaders are on three different nodes (x-queue-leader-locator balanced):
    logctl status --json shows type, leader and members per shard as the management API does, and
    its table lists them.
(b) The node holding shard 1's leader is SIGKILLed in the middle of 20,000 records while a producer
    (--shards 3, connected to the doomed node) and two aggregators (all shards each, one connected to
    the doomed node, one to a survivor; --broker lists every node in a different order) run:
    the producer fails over and exits 0; zero records lost over the union of the outputs; no output
    holds a record twice. The killed node is restarted at the end (the shared cluster stays whole),
    and the shards end empty."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import Cluster, run_test, wait_for  # noqa: E402
from test_cluster_node_loss import N, kill_mid_stream  # noqa: E402

SHARDS = 3


def shard(q, i):
    return f"{q}.shard.{i}"


def status_json(t, c, q):
    r = t.run("logctl", ["status", "--queue", q, "--shards", str(SHARDS), "--json", "--broker", c.broker_arg(0)])
    try:
        doc = json.loads(r.out)
        return r, (doc[0].get("shards") or [])
    except (ValueError, IndexError, AttributeError):
        return r, None


def setup(t, c, q):
    t.section("(a) logctl setup --queue-type quorum --shards 3 on the cluster")
    r = t.run("logctl", ["setup", "--queue", q, "--queue-type", "quorum", "--shards", str(SHARDS),
                         "--broker", c.broker_arg(0)])
    t.require(r.rc == 0, "logctl setup --queue-type quorum --shards 3 exits 0", r.describe())
    infos = [c.queue_info(shard(q, i)) for i in range(SHARDS)]
    t.require(all(i is not None for i in infos), "the three shards exist")
    leaders = [i.get("leader") for i in infos]
    t.note(f"shard leaders: {leaders}")
    t.check(all(i.get("type") == "quorum" and sorted(i.get("members") or []) == sorted(c.nodes) for i in infos),
            "every shard is a quorum queue with a member on each node", f"{infos}")
    t.check(sorted(leaders) == sorted(c.nodes), "the shards' leaders are on three different nodes", f"{leaders}")
    r, rows = status_json(t, c, q)
    t.check(r.rc == 0 and rows is not None, "logctl status --shards 3 --json exits 0 with JSON", r.describe())
    rows = rows or []
    t.check_equal([s.get("leader") for s in rows], leaders, "status --json: each shard's leader")
    t.check(all(s.get("type") == "quorum" and sorted(s.get("members") or []) == sorted(c.nodes) for s in rows),
            "status --json: type quorum and the three members of each shard", f"{rows}")
    r = t.run("logctl", ["status", "--queue", q, "--shards", str(SHARDS), "--broker", c.broker_arg(0)])
    t.check(r.rc == 0 and f"{q} ({SHARDS} shards)" in r.out_text and "LEADER" in r.out_text
            and all(leader in r.out_text for leader in leaders), "status table: the shards and their leaders",
            r.describe())
    return c.index(leaders[1])


def shard_leader_loss(t, c, q, victim):
    t.section(f"(b) {c.nodes[victim]} (shard 1's leader) SIGKILLed in the middle of {N} records")
    kill_mid_stream(t, c, q, victim, "sh", ["--shards", str(SHARDS)])
    c.restart(victim)
    last = [None, None]

    def empty():  # the management API's statistics are up to 5 s old
        last[:] = status_json(t, c, q)
        rows = last[1] or []
        return len(rows) == SHARDS and all(s.get("ready") == 0 and s.get("unacked") == 0 for s in rows)

    t.check(wait_for(empty, 60, 0.5), "the shards end empty (logctl status)", last[0].describe())


def body(t):
    c = Cluster(t)
    c.make_whole()
    q = t.queue("cshards")
    t.queues += [shard(q, i) for i in range(SHARDS)]
    try:
        victim = setup(t, c, q)
        shard_leader_loss(t, c, q, victim)
    finally:
        c.make_whole()  # the next cluster test starts on the whole cluster, whatever happened here
        try:
            c.pika(0).channel().exchange_delete(exchange=f"{q}.shards")
        except Exception as e:  # noqa: BLE001 (cleanup: say it, do not hide the test's result)
            t.note(f"could not delete exchange {q}.shards: {e!r}")


if __name__ == "__main__":
    run_test("cluster_shards", body, time_limit=1200)
