#!/usr/bin/python3
"""Redis Sentinel discovery (src/broker/redis/sentinel.cpp) against the suite's sentinel setup
(master, 2 replicas, 3 sentinels, passwords; scripts/redis-sentinel.sh):
(a) log_producer --wait-replicas 1 and log_aggregator find the master through three
    redis-sentinel:// URLs: every record arrives exactly once; the records were on the master;
(b) the first sentinel of the list down (a closed port): the others answer;
(c) logctl status names the resolved master and the two replicas the sentinels know, with their lag
    (text and --json); logctl recover works on the master;
(d) each misconfiguration gives its one line and a non-zero exit, never printing a password: no
    sentinel reachable, unknown master name, the sentinels' password wrong or missing, the master's
    password wrong; --wait-replicas with an amqp:// URL is a usage error."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import read_lines, run_test, sample, tally, use_sentinel  # noqa: E402

N = 3000


def one_error_line(t, r, needle, what, secrets=()):
    lines = r.err_lines
    t.check(r.rc not in (0, None) and len(lines) >= 1 and any(needle in l for l in lines), what, r.describe())
    for s in secrets:
        t.check(s not in r.err_text and s not in r.out_text, f"{what}: no password printed", r.describe())


def body(t):
    s = use_sentinel(t)
    q = t.queue()
    records = [f"sentinel record {i:05d}" for i in range(N)]

    t.section("(a) the pipeline through the sentinels, --wait-replicas 1")
    t.produce(q, ("\n".join(records) + "\n").encode(), ["--wait-replicas", "1", "--wait-timeout", "10"])
    t.check(s.master().llen(q) > 0, "the records (batched into messages) are in the queue on the master the sentinels name")
    out = t.path("out.log")
    t.drain("agg", q, out)
    lines, partial = read_lines(out)
    missing, dups, unexpected, _ = tally(records, [l.decode() for l in lines])
    t.check(not missing and dups == 0 and not unexpected and partial == b"",
            f"all {N} records written exactly once",
            f"missing {len(missing)} ({sample(missing)}), duplicates {dups}, unexpected {len(unexpected)}")

    t.section("(b) the first sentinel is down: the others answer")
    down_first = ",".join([f"redis-sentinel://127.0.0.1:{s.base + 6}/logship", s.urls()])
    r = t.run("log_producer", ["--queue", q, "--broker", down_first, "one more"])
    t.check(r.rc == 0 and s.master().llen(q) == 1, "log_producer ships through the second sentinel", r.describe())

    t.section("(c) logctl status and recover on the master")
    r = t.run("logctl", ["status", "--queue", q])
    master = f"127.0.0.1:{s.master_port()}"
    replicas = [f"127.0.0.1:{p}" for p in s.data_ports if p != s.master_port()]
    t.check(r.rc == 0 and f"master 'logship' (from the sentinels): {master}" in r.out_text,
            f"logctl status names the master {master}", r.describe())
    t.check(all(x in r.out_text for x in replicas) and "LAG BYTES" in r.out_text,
            f"logctl status lists the replicas {replicas} with their lag", r.describe())
    r = t.run("logctl", ["status", "--queue", q, "--json"])
    try:
        rep = json.loads(r.out_text)[0]["replication"]
        t.check(rep["master"] == master and sorted(x["address"] for x in rep["replicas"]) == sorted(replicas)
                and all(x["lag_bytes"] is not None for x in rep["replicas"]),
                "logctl status --json has the master and both connected replicas with lag_bytes", rep)
    except (ValueError, KeyError, IndexError) as e:
        t.check(False, "logctl status --json has a replication object", f"{e!r}\n{r.describe()}")
    m = s.master()
    m.rpush(f"{q}.processing.ghost", b"ghost record")
    m.sadd(f"{q}.consumers", "ghost")
    r = t.run("logctl", ["recover", "--queue", q])
    t.check(r.rc == 0 and "recovered 1 message(s)" in r.out_text and m.llen(q) == 2,
            "logctl recover puts a dead consumer's record back on the master", r.describe())

    t.section("(d) one clear line per misconfiguration")
    closed = f"redis-sentinel://127.0.0.1:{s.base + 6}/logship,redis-sentinel://127.0.0.1:{s.base + 7}/logship"
    r = t.run("log_producer", ["--queue", q, "--broker", closed, "--retry-seconds", "1", "x"])
    one_error_line(t, r, "no Redis Sentinel reachable for master 'logship'", "no sentinel reachable")
    r = t.run("log_producer", ["--queue", q, "--broker", s.urls(name="nosuchmaster"), "x"])
    one_error_line(t, r, "unknown Redis master name 'nosuchmaster'", "unknown master name")
    r = t.run("log_producer", ["--queue", q, "x"], env=t.child_env(LOGSHIP_SENTINEL_PASSWORD="wrong-sentinel-pw"))
    one_error_line(t, r, "refused the sentinels' password", "a wrong sentinel password",
                   secrets=["wrong-sentinel-pw", s.password])
    r = t.run("log_producer", ["--queue", q, "x"], env=t.child_env(LOGSHIP_SENTINEL_PASSWORD=None))
    one_error_line(t, r, "refused the sentinels' password", "no sentinel password", secrets=[s.password])
    r = t.run("log_producer", ["--queue", q, "x"], env=t.child_env(LOGSHIP_PASSWORD="wrong-data-pw"))
    one_error_line(t, r, "Redis master 'logship' at", "a wrong master password",
                   secrets=["wrong-data-pw", s.sentinel_password])
    t.check("WRONGPASS" in r.err_text, "the master's refusal says WRONGPASS", r.describe())
    r = t.run("log_producer", ["--queue", q, "--broker", t.env.amqp_url, "--wait-replicas", "1", "x"])
    t.check(r.rc == 2 and "--wait-replicas needs a redis:// or redis-sentinel:// broker URL" in r.err_text,
            "--wait-replicas over RabbitMQ is a usage error", r.describe())
    t.check_equal(s.master().llen(q), 2, "no misconfigured run pushed anything")


run_test("sentinel_pipeline", body)
