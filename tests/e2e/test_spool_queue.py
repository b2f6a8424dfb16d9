#!/usr/bin/python3
"""A spool remembers the queue its records are for (issue 14): records spooled for --queue A while
the broker was unreachable are not sent to --queue B by a later run on the same --spool-dir (exit 2,
one line naming both queues and what to do); a run with --queue A then delivers every one of them
to A, exactly once."""
# transports: amqp redis
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import run_test  # noqa: E402

N = 10


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def body(t):
    qa, qb = t.queue("a"), t.queue("b")
    spool = t.path("spool")
    scheme = "redis" if t.env.transport == "redis" else "amqp"
    down = f"{scheme}://127.0.0.1:{closed_port()}" + ("" if scheme == "redis" else "/")
    data = "".join(f"spooled {i}\n" for i in range(N)).encode()
    r = t.run("log_producer", ["--queue", qa, "--spool-dir", spool, "--broker", down, "--reconnect-seconds", "0",
                               "--confirm-timeout", "0.1", "--retry-seconds", "0"], input=data)
    t.require(r.rc == 1, "with the broker unreachable the records stay in the spool (exit 1)", r.describe())

    r = t.run("log_producer", ["--queue", qb, "--spool-dir", spool], input=b"")
    line = r.err_lines[-1] if r.err_lines else ""
    t.check(r.rc == 2 and line.startswith("log_producer: error:") and f"for queue '{qa}'" in line
            and f"not for --queue '{qb}'" in line and f"--queue '{qa}'" in line,
            "a run with another --queue is refused, naming both queues", r.describe())

    r = t.run("log_producer", ["--queue", qa, "--spool-dir", spool], input=b"")
    t.check(r.rc == 0, "a run with the spool's queue sends its records", r.describe())
    out = t.path("a.log")
    t.drain("drain-a", qa, out)
    with open(out) as f:
        got = f.read().splitlines()
    t.check_equal(sorted(got), sorted(f"spooled {i}" for i in range(N)), f"queue {qa} had every spooled record once")


run_test("spool_queue", body)
