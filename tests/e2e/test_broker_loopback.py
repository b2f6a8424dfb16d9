#!/usr/bin/python3
"""The suite's private brokers (scripts/rabbitmq-node.sh, scripts/redis-server.sh, also used by
`make demo`) listen on loopback only: every listening socket of the RabbitMQ node's process (AMQP,
management, Erlang distribution) and of the Redis server is on 127.0.0.1 or ::1. epmd is checked
when this suite's script started it (it carries ERL_EPMD_ADDRESS); an epmd started earlier by some
other Erlang program keeps its own addresses and is only reported."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import run_test  # noqa: E402

LOOPBACK = ("127.0.0.1", "::1", "[::1]", "::ffff:127.0.0.1", "[::ffff:127.0.0.1]")


def listeners():
    """(local address, port, pid) for every listening TCP socket, from ss."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        cols = line.split()
        if len(cols) < 6:
            continue
        addr, _, port = cols[3].rpartition(":")
        for part in cols[5].split("pid=")[1:]:
            rows.append((addr.split("%")[0], port, int(part.split(",")[0])))
    return rows


def pid_on_port(rows, port):
    pids = {pid for _, p, pid in rows if p == str(port)}
    return pids.pop() if len(pids) == 1 else None


def environ(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    except OSError:
        return {}


def check_process(t, what, pid, rows):
    socks = [(a, p) for a, p, q in rows if q == pid]
    t.check(socks, f"{what} (pid {pid}) has listening sockets", rows)
    wide = [f"{a}:{p}" for a, p in socks if a not in LOOPBACK]
    t.check(not wide, f"every listening socket of {what} is on loopback ({len(socks)} socket(s))",
            "listening beyond loopback: " + ", ".join(wide))


def body(t):
    rows = listeners()
    t.section("RabbitMQ node: AMQP, management and Erlang distribution")
    beam = pid_on_port(rows, t.env.amqp_port)
    t.require(beam is not None, f"one process listens on the suite's AMQP port {t.env.amqp_port}", rows)
    check_process(t, "the RabbitMQ node", beam, rows)
    dist = str(t.env.amqp_port + 20000)
    t.check(any(p == dist and q == beam for _, p, q in rows), f"the node's distribution port {dist} is among them")

    t.section("Redis server")
    redis_pid = pid_on_port(rows, os.environ["LOGSHIP_TEST_REDIS"].rsplit(":", 1)[1])
    t.require(redis_pid is not None, "one process listens on the suite's Redis port", rows)
    check_process(t, "the Redis server", redis_pid, rows)

    t.section("epmd")
    epmd = pid_on_port(rows, 4369)
    if epmd is None:
        t.note("no epmd listening (nothing to check)")
    elif environ(epmd).get(b"ERL_EPMD_ADDRESS") == b"127.0.0.1":
        check_process(t, "epmd (started by scripts/rabbitmq-node.sh)", epmd, rows)
    else:
        t.note(f"epmd (pid {epmd}) was started by another program before this suite: not checked")


run_test("broker_loopback", body, time_limit=120)
