#!/usr/bin/python3
"""A Redis Sentinel failover in the middle of a stream (docs/RELIABILITY.md, "Redis Sentinel"):
30,000 records piped into log_producer --wait-replicas 1 (through three redis-sentinel:// URLs), two
aggregators consuming; the master is SIGKILLed once the aggregators have written some of them. The
sentinels promote a replica; the producer and the aggregators reconnect to it through the
sentinels; the producer exits 0, every record arrives (zero lost), no file holds a record twice
(each aggregator's id journal drops the records sent again), and the old master, restarted, comes
back as a replica. The same run with --wait-replicas 0 reports (does not assert) how many records
were lost."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import (count_lines, feed_pipe, read_lines, run_test, sample, tally,  # noqa: E402
                             use_sentinel, wait_for)

N = 30000


def role_of(s, port):
    try:
        cp = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--no-auth-warning", "role"],
                            capture_output=True, text=True, timeout=10, env=dict(os.environ, REDISCLI_AUTH=s.password))
        return cp.stdout.split("\n")[0].strip()
    except subprocess.TimeoutExpired:
        return ""


def failover_run(t, s, wait_replicas):
    label = f"wait{wait_replicas}"
    t.section(f"--wait-replicas {wait_replicas}: SIGKILL the master mid-stream")
    q = t.queue(label)
    records = [f"{label} record {i:06d}" for i in range(N)]
    outs = [t.path(f"{label}-agg{i}.log") for i in (1, 2)]
    aggs = [t.start_aggregator(f"{label}-agg{i + 1}", q, outs[i], extra=["--consumer-id", f"{label}-agg{i + 1}"])
            for i in range(2)]
    rfd, wfd = os.pipe()
    producer = t.spawn(f"{label}-producer", "log_producer",
                       ["--queue", q, "--wait-replicas", str(wait_replicas), "--wait-timeout", "5",
                        "--reconnect-seconds", "300", "--batch-records", "50"], stdin=rfd)
    os.close(rfd)
    feeder = feed_pipe(records, wfd, pace=0.03, chunk=200)  # about 6,000 records a second
    old = s.master_port()
    written = lambda: sum(count_lines(o) for o in outs)  # noqa: E731
    t.require(wait_for(lambda: written() >= N // 6 or not producer.alive(), 120),
              f"the aggregators wrote {N // 6} records before the kill", producer.result().describe())
    t.note(f"killing master 127.0.0.1:{old} (pid {s.node_pid(old)}) after {written()} records written")
    os.kill(s.node_pid(old), signal.SIGKILL)
    feeder.join()
    t.finish_proc(producer, 300, f"log_producer --wait-replicas {wait_replicas} exits 0 after the failover")
    new = None
    try:
        new = s.master_port()
    except Exception as e:  # noqa: BLE001
        t.note(f"no master named: {e!r}")
    t.check(new is not None and new != old, f"the sentinels promoted a replica (new master {new}, old {old})")
    distinct = lambda: len(set().union(*(read_lines(o)[0] for o in outs)))  # noqa: E731
    t.check(wait_for(lambda: distinct() >= N, 180, 0.5) or wait_replicas == 0,
            f"all {N} records arrive within 180 s", f"{distinct()} distinct records written")
    lines = {}
    for o in outs:
        complete, partial = read_lines(o)
        t.check(partial == b"", f"{os.path.basename(o)} ends with a complete line")
        lines[o] = [l.decode() for l in complete]
        _, dups, unexpected, _ = tally(records, lines[o])
        t.check(dups == 0 and not unexpected, f"{os.path.basename(o)} holds no record twice",
                f"duplicates {dups}, unexpected {sample(unexpected)}")
    missing, dups, _, _ = tally(records, lines[outs[0]] + lines[outs[1]])
    t.note(f"--wait-replicas {wait_replicas}: {len(missing)} of {N} records lost; {dups} written by both "
           f"aggregators; per file {[len(lines[o]) for o in outs]}")
    for p in aggs:
        t.check(p.alive(), f"{p.label} is still running on the new master", p.result().describe())
        p.send_signal(signal.SIGTERM)
        t.finish_proc(p, 60)
    restarted = s.script("restart-node", s.dir, str(old))
    t.require(restarted.returncode == 0, f"the old master {old} starts again", restarted.stderr.decode()[-2000:])
    t.check(wait_for(lambda: role_of(s, old) == "slave", 60, 0.2), f"the old master {old} came back as a replica")
    t.require(wait_for(s.healthy, 60, 0.2), "the setup has a master with 2 replicas again")
    return missing


def body(t):
    s = use_sentinel(t)
    missing = failover_run(t, s, 1)
    t.check(not missing, f"--wait-replicas 1: no record lost ({len(missing)} missing: {sample(missing)})")
    missing = failover_run(t, s, 0)
    t.note(f"REPORT --wait-replicas 0: {len(missing)} of {N} records lost in the failover (not asserted)")


run_test("sentinel_failover", body, time_limit=900)
