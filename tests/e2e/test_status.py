#!/usr/bin/python3
"""logctl status against the real broker: the numbers are what was sent and what the aggregators hold.

(a) Dead letters: 3 malformed envelopes go through a real aggregator to QUEUE.dead; status shows
    dead_letters 3 (and the .dead row with ready 3).
(b) Held records: 12 records (one per message: --batch-records 1), an aggregator with --prefetch 5 whose output cannot grow
    (prlimit --fsize, the output already at the limit) takes 5 and holds them unacknowledged. status: ready 7, unacked 5,
    consumers 1 (RabbitMQ: through the management API, polled until its statistics catch up;
    Redis: the processing list, its owner's pid is the aggregator's, the lease was renewed less
    than --lease-seconds ago). The table says the same.
(c) RabbitMQ: publish and deliver rates become positive while a producer trickles records to a
    consuming aggregator. With the management API unreachable, status says so on stderr and
    falls back to a passive declare (ready exact, unacked and rates unknown, exit 0).
    Redis: rates are null (Redis counts nothing).
(d) The aggregator is SIGKILLed: RabbitMQ puts the 5 back (ready 12, unacked 0, consumers 0);
    over Redis the processing list stays until logctl recover puts the records back (ready 12);
    status and recover see at once that its holder, a process of this host, is gone (they need not
    wait for the lease to expire: issue 14, defect 8).
(e) A wrong password fails with one line and exit 1; no output ever shows a password.
"""
# transports: amqp redis
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import Proc, run_test, wait_for  # noqa: E402

LEASE_SECONDS = 2


def mgmt_url(t):
    return f"http://127.0.0.1:{t.env.mgmt_port}/"


def status(t, q, extra=(), env=None):
    """(Result, parsed JSON list or None) of logctl status --json."""
    args = ["status", "--queue", q, "--json"] + list(extra)
    if t.env.transport == "amqp" and not any(a.startswith("--management-url") for a in extra):
        args += ["--management-url", mgmt_url(t)]
    r = t.run("logctl", args, env=env)
    try:
        doc = json.loads(r.out)
    except ValueError:
        doc = None
    return r, doc


def main_row(doc):
    return doc[0] if isinstance(doc, list) and doc else {}


def poll_status(t, q, want, timeout=30):
    """Polls logctl status until main_row has every key/value of `want` (the management API samples
    every 5 s). Returns the last (Result, doc)."""
    last = [None, None]

    def ok():
        last[0], last[1] = status(t, q)
        row = main_row(last[1])
        return all(row.get(k) == v for k, v in want.items())

    wait_for(ok, timeout, 0.5)
    return last[0], last[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def body(t):
    amqp = t.env.transport == "amqp"
    q = t.queue("status")
    r = t.run("logctl", ["setup", "--queue", q])
    t.require(r.rc == 0, "logctl setup", r.describe())

    t.section("(a) dead letters through a real aggregator")
    t.publish(q, [(f"bad {i}".encode(), {"logship-version": "9"}) for i in range(3)])
    t.drain("drainer", q, t.path("drained.log"), idle=2)
    want = {"ready": 0, "dead_letters": 3, "consumers": 0}
    if amqp:
        want["unacked"] = 0
    r, doc = poll_status(t, q, want)
    row = main_row(doc)
    t.check(r.rc == 0, "status exits 0", r.describe())
    t.check_equal({k: row.get(k) for k in want}, want, "status: nothing ready, 3 dead letters")
    dead = doc[1] if isinstance(doc, list) and len(doc) == 2 else {}
    t.check(dead.get("queue") == q + ".dead" and dead.get("ready") == 3, "the .dead row has ready 3", doc)
    t.check_equal(row.get("source"), "management-api" if amqp else "redis", "the numbers' source")

    t.section("(b) an aggregator holds 5 of 12 records unacknowledged")
    # One record per broker message, so that messages (what the broker counts) are records.
    t.produce(q, b"".join(f"held record {i}\n".encode() for i in range(12)), ["--batch-records", "1"])
    out = t.path("held.log")
    # The file size limit applies to every file the aggregator writes, its stdout and stderr too: an
    # output already at the limit takes nothing, while the messages still have room.
    limit = 8192
    with open(out, "wb") as f:
        f.write((b"x" * 63 + b"\n") * (limit // 64))
    held = Proc(t, "held", ["prlimit", f"--fsize={limit}:unlimited", t.env.prog("log_aggregator"), "--queue", q, "--output",
                            out, "--format", "raw", "--prefetch", "5", "--dedup-window", "0", "--lease-seconds",
                            str(LEASE_SECONDS)])
    t.wait_ready(held)
    t.require(wait_for(lambda: b"cannot write to" in held.stderr(), 20), "the held aggregator cannot write",
              held.result().describe())
    want = {"ready": 7, "unacked": 5, "consumers": 1, "dead_letters": 3}
    r, doc = poll_status(t, q, want)
    row = main_row(doc)
    t.check_equal({k: row.get(k) for k in want}, want, "status: ready 7, unacked 5, consumers 1, dead letters 3")
    t.check_equal(t.queue_counts(q), (7, 5), "the broker's own count agrees (ready, unacked)")
    if not amqp:
        lists = row.get("processing") or []
        t.check(len(lists) == 1, "one processing list", lists)
        p = lists[0] if lists else {}
        t.check(p.get("messages") == 5 and p.get("alive") is True, "it holds 5 messages and its lease is alive", p)
        t.check_equal(p.get("owner_pid"), held.pid, "its owner is the held aggregator's pid")
        t.check_equal(p.get("owner_host"), socket.gethostname(), "on this host")
        age = p.get("lease_age_seconds")
        t.check(isinstance(age, (int, float)) and 0 <= age < LEASE_SECONDS, f"lease renewed {age} s ago", p)
        t.check(p.get("consumer", "").endswith(out), "the consumer id names the output", p)
    r = t.run("logctl", ["status", "--queue", q] + (["--management-url", mgmt_url(t)] if amqp else []))
    lines = r.out_text.splitlines()
    row_line = next((l for l in lines if l.split()[:1] == [q]), "")
    t.check(row_line.split()[1:4] == ["7", "5", "1"] and row_line.split()[-1] == "3",
            "the table row: READY 7, UNACKED 5, CONSUMERS 1, DEAD-LETTERS 3", r.describe())
    if not amqp:
        t.check(any(f"pid {held.pid}" in l and "renewed" in l for l in lines),
                "the table lists the processing list with its owner and lease", r.describe())

    if amqp:
        t.section("(c) rates, and the fallback when the management API is unreachable")
        r, doc = status(t, q, ["--management-url", f"http://127.0.0.1:{free_port()}/"])
        row = main_row(doc)
        t.check(r.rc == 0, "status still exits 0", r.describe())
        t.check(row.get("source") == "amqp" and row.get("ready") == 7 and row.get("unacked") is None and
                row.get("publish_rate") is None and row.get("consumers") == 1,
                "passive declare: ready 7 and consumers 1 exact, unacked and rates unknown", doc)
        t.check(len(r.err_lines) == 1 and "unreachable" in r.err_text and "passive" in r.err_text,
                "one warning line says the API is unreachable and what is shown instead", r.describe())
        r, doc = status(t, q, ["--management-url", "off"])
        t.check(main_row(doc).get("source") == "amqp" and r.err_text == "", "--management-url off: AMQP, no warning",
                r.describe())

        rq = t.queue("rates")
        consumer = t.start_aggregator("rates-agg", rq, t.path("rates.log"))
        trickle = Proc(t, "trickle", [t.env.prog("log_producer"), "--queue", rq], stdin=subprocess.PIPE)
        rates = {}

        def positive():
            trickle.p.stdin.write(b"".join(f"trickle {time.monotonic()}\n".encode() for _ in range(20)))
            trickle.p.stdin.flush()
            rates.update(main_row(status(t, rq)[1]))
            return (rates.get("publish_rate") or 0) > 0 and (rates.get("deliver_rate") or 0) > 0

        t.check(wait_for(positive, 40, 0.5), "publish and deliver rates become positive while records flow",
                rates)
        trickle.p.stdin.close()
        t.finish_proc(trickle, 60)
        consumer.send_signal(signal.SIGTERM)
        t.finish_proc(consumer, 30)
    else:
        t.section("(c) Redis has no rates")
        r, doc = status(t, q)
        t.check(main_row(doc).get("publish_rate") is None and main_row(doc).get("deliver_rate") is None,
                "publish and deliver rates are null over Redis", doc)
        r, doc = status(t, q, ["--management-url", "http://127.0.0.1:1/"])
        t.check(r.rc == 0 and r.err_text == "" and main_row(doc).get("source") == "redis",
                "--management-url (RabbitMQ only) is ignored over Redis", r.describe())

    t.section("(d) the holder is SIGKILLed")
    held.send_signal(signal.SIGKILL)
    held.wait(10)
    if amqp:
        want = {"ready": 12, "unacked": 0, "consumers": 0}
        r, doc = poll_status(t, q, want)
        t.check_equal({k: main_row(doc).get(k) for k in want}, want, "RabbitMQ requeued them: ready 12, unacked 0")
    else:
        def expired():
            row = main_row(status(t, q)[1])
            lists = row.get("processing") or []
            return row.get("consumers") == 0 and len(lists) == 1 and lists[0].get("alive") is False
        t.check(wait_for(expired, 10, 0.3), "at once (before the lease expires): no consumer, the list's owner not alive")
        r, doc = status(t, q)
        row = main_row(doc)
        p = (row.get("processing") or [{}])[0]
        t.check(row.get("ready") == 7 and row.get("unacked") == 5 and p.get("messages") == 5 and
                p.get("owner_gone") is True and p.get("owner_pid") == held.p.pid,
                "its 5 records are still in its processing list, their owner (the killed pid) gone", doc)
        r = t.run("logctl", ["status", "--queue", q])
        t.check("gone" in r.out_text and "logctl recover" in r.out_text, "the table says its holder is gone",
                r.describe())
        r = t.run("logctl", ["recover", "--queue", q])
        t.check(r.rc == 0 and "put 5 message(s) back" in r.out_text, "logctl recover puts the 5 back", r.describe())
        r, doc = status(t, q)
        want = {"ready": 12, "unacked": 0, "consumers": 0}
        t.check_equal({k: main_row(doc).get(k) for k in want}, want, "then: ready 12, unacked 0, consumers 0")
        t.check_equal(main_row(doc).get("processing"), [], "and no processing list is left")

    t.section("(e) a wrong password; no password in any output")
    secret = "wr0ng-Secret-" + str(os.getpid())
    if amqp:
        env = t.child_env(LOGSHIP_BROKER=f"amqp://guest@127.0.0.1:{t.env.amqp_port}/", LOGSHIP_PASSWORD=secret)
    else:
        env = t.child_env(LOGSHIP_PASSWORD=secret)
    r, _ = status(t, q, ["--retry-seconds", "0"], env=env)
    t.check(r.rc == 1 and len(r.err_lines) == 1 and ("refused" in r.err_text or "WRONGPASS" in r.err_text),
            "a wrong password: exit 1, one line", r.describe())
    t.check(secret not in r.out_text + r.err_text, "the wrong password is not printed", r.describe())
    if not amqp:
        r, _ = status(t, q)
        t.check(t.env.redis_password not in r.out_text + r.err_text, "the Redis password is not printed")


run_test("status", body)
