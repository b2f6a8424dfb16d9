#!/usr/bin/python3
"""The client library (logship::Client and its spdlog sink) in its example application,
examples/client_app.cpp, against the real broker. Every record is counted in the aggregator's
json output.
(a) N records through Client::log and M through the spdlog sink, then main returns: exactly N+M
    arrive, with their levels (spdlog err -> error, critical -> fatal), the service, the host, the
    client's fields and the sink's logger, file, line and func;
(b) exit right after logging, without a flush: std::exit(0) with the client owned by main, and a
    global client with main returning: every record arrives;
(c) the broker unreachable (a port nothing listens on yet): with OverflowPolicy::Drop every log()
    returns and exactly the queue's 10 records are accepted, the other 990 dropped and counted; with
    Block, log() returns for the queue's 10 only. Once the broker is reachable (a TCP proxy to it
    starts on that port) exactly the accepted records arrive (and the blocked caller goes on);
(d) with a spool directory and the broker down at first: all 1,000 records are accepted through a
    queue of 10 (it empties into the spool), and all arrive once the broker is reachable; a client
    closed while the broker is still away leaves its records in the spool, and the next client on
    that directory sends them;
(e) without a spool, closed while the broker is away: the records count as failed, one error line
    says so, and the example exits 1;
(f) a record's fields over 64 KiB (a 200,000-byte field): every record is confirmed and arrives with
    its other fields and fields_dropped=1 (the headers fit a broker message); a 10,000-byte field
    arrives whole."""
# transports: amqp redis
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import read_lines, run_test, sample, wait_for  # noqa: E402

LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"]
HOST = socket.gethostname()


def free_port():
    """A loopback port nothing listens on (bound and released: nothing takes it in the meantime in
    practice)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proxy:
    """From start() on, forwards every connection to 127.0.0.1:port to the broker's port: to a
    client configured with 127.0.0.1:port, the broker comes up then."""

    def __init__(self, port, target_port):
        self.port, self.target_port = port, target_port
        self.sock = None
        self.conns = []

    def start(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                down, _ = self.sock.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                down.close()
                continue
            self.conns += [down, up]
            for a, b in ((down, up), (up, down)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        if self.sock is not None:
            self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def broker_port(t):
    if t.env.transport == "redis":
        return int(t.env.redis_url.rsplit(":", 1)[1].split("/")[0])
    return t.env.amqp_port


def url_at(t, port):
    """The test broker's URL with another port (the password, for Redis, comes from LOGSHIP_PASSWORD)."""
    if t.env.transport == "redis":
        return f"redis://127.0.0.1:{port}"
    return f"amqp://guest:guest@127.0.0.1:{port}/"


def client_app(t, label, queue, args):
    return t.spawn(label, "client_app", ["--queue", queue, "--service", "client_e2e"] + list(args))


def records(t, queue, label, expect):
    """The records the aggregator writes from `queue` (drained until idle), as parsed json objects."""
    out = t.path(f"{label}.json")
    t.drain(f"agg-{label}", queue, out, "json", idle=2)
    lines, partial = read_lines(out)
    t.check(partial == b"", f"{label}: the output ends with a newline")
    recs = [json.loads(l) for l in lines]
    t.check_equal(len(recs), expect, f"{label}: exactly {expect} records written")
    return recs


def stats_line(p, when):
    """The client_app's '<when>: accepted=... ' line as a dict, or None."""
    for line in p.stdout().decode(errors="replace").splitlines():
        if line.startswith(when + ": "):
            return {k: int(v) for k, v in (kv.split("=") for kv in line[len(when) + 2:].split())}
    return None


def check_messages(t, recs, expected, what):
    got = sorted(r["message"] for r in recs)
    missing = set(expected) - set(got)
    t.check(got == sorted(expected), f"{what}: every record once",
            f"missing {len(missing)}: {sample(missing)}; got {len(got)}, {len(set(got))} distinct")


def direct_and_sink(t):
    t.section("(a) N records through Client::log and M through the spdlog sink, main returns")
    n, m = 300, 120
    q = t.queue("basic")
    p = client_app(t, "app-basic", q, ["--count", str(n), "--spdlog-count", str(m)])
    t.finish_proc(p, 120, "client_app exits 0 after closing the client")
    closed = stats_line(p, "closed")
    t.check(closed is not None and closed["accepted"] == n + m and closed["confirmed"] == n + m
            and closed["dropped"] == 0 and closed["failed"] == 0 and closed["pending"] == 0,
            f"its stats after close(): {n + m} accepted and confirmed, none dropped, failed or pending",
            p.result().describe())
    recs = records(t, q, "basic", n + m)
    direct = {r["message"]: r for r in recs if r["message"].startswith("direct record ")}
    sink = {r["message"]: r for r in recs if r["message"].startswith("spdlog record ")}
    t.check_equal(len(direct), n, f"{n} distinct records came through Client::log")
    t.check_equal(len(sink), m, f"{m} distinct records came through the spdlog sink")

    bad = [r for i in range(n) if (r := direct.get(f"direct record {i}")) is None
           or r["level"] != LEVELS[i % 6] or r["service"] != "client_e2e" or r["host"] != HOST
           or r.get("fields") != {"n": str(i), "via": "client"}]
    t.check(not bad, "Client::log records: their level, the client's service and host, fields n and via",
            f"{len(bad)} wrong, e.g. {bad[:2]}")

    def sink_ok(i, r):
        f = r.get("fields", {})
        return (r["level"] == LEVELS[i % 6] and r["service"] == "client_e2e" and r["host"] == HOST
                and set(f) == {"logger", "file", "line", "func"} and f["logger"] == "example"
                and f["file"].endswith("client_app.cpp") and f["line"].isdigit() and f["func"] == "main")
    bad = [r for i in range(m) if (r := sink.get(f"spdlog record {i}")) is None or not sink_ok(i, r)]
    t.check(not bad, "sink records: spdlog's levels mapped (err -> error, critical -> fatal), the raw message, "
            "fields logger, file, line and func", f"{len(bad)} wrong, e.g. {bad[:2]}")


def exit_without_flush(t):
    for end, what in (("exit", "std::exit(0) right after logging, the client owned by main"),
                      ("global", "a global client, main returns right after logging")):
        t.section(f"(b) {what}")
        n, m = 400, 100
        q = t.queue(f"end_{end}")
        p = client_app(t, f"app-{end}", q, ["--count", str(n), "--spdlog-count", str(m), "--end", end])
        t.finish_proc(p, 120, f"client_app --end {end} exits 0")
        t.check(b"closed with" not in p.stderr(), "nothing was reported lost at exit", p.result().describe())
        recs = records(t, q, f"end-{end}", n + m)
        check_messages(t, recs, [f"direct record {i}" for i in range(n)] + [f"spdlog record {i}" for i in range(m)],
                       f"--end {end}")


def overflow(t):
    t.section("(c) the broker unreachable: OverflowPolicy::Drop never blocks and counts every drop")
    port = free_port()
    proxy = Proxy(port, broker_port(t))
    q = t.queue("drop")
    p = client_app(t, "app-drop", q, ["--broker", url_at(t, port), "--queue-records", "10", "--count", "1000",
                                      "--spdlog-count", "0", "--flush-timeout", "120"])
    # The line is printed once every log() call returned: while the broker is unreachable.
    ok = wait_for(lambda: stats_line(p, "logged") is not None or not p.alive(), 60)
    logged = stats_line(p, "logged")
    t.check(ok and logged is not None and logged["accepted"] == 10 and logged["dropped"] == 990,
            "with the broker unreachable all 1,000 log() calls return: exactly 10 accepted (the queue), 990 dropped",
            p.result().describe())
    t.check(p.alive(), "the client waits for the broker at close (flush timeout 120 s)")
    proxy.start()
    try:
        t.finish_proc(p, 120, "client_app exits 1 (records were dropped) once the broker is reachable", expect_rc=1)
    finally:
        proxy.stop()
    closed = stats_line(p, "closed")
    t.check(closed == {"accepted": 10, "dropped": 990, "confirmed": 10, "failed": 0, "pending": 0, "recovered": 0},
            "stats after close(): the 10 accepted are confirmed, 990 dropped", p.result().describe())
    check_messages(t, records(t, q, "drop", 10), [f"direct record {i}" for i in range(10)],
                   "exactly the 10 accepted records (the first 10) arrive")

    t.section("(c) the broker unreachable: OverflowPolicy::Block waits for room")
    port = free_port()
    proxy = Proxy(port, broker_port(t))
    q = t.queue("block")
    p = client_app(t, "app-block", q, ["--broker", url_at(t, port), "--queue-records", "10", "--count", "15",
                                       "--spdlog-count", "0", "--overflow", "block", "--progress",
                                       "--flush-timeout", "120"])
    returned = lambda: [l for l in p.stdout().decode().splitlines() if l.startswith("logged ")]  # noqa: E731
    t.check(wait_for(lambda: len(returned()) >= 10 or not p.alive(), 60), "10 log() calls return (the queue's room)",
            p.result().describe())
    time.sleep(1.5)  # the 11th must not return while the broker is away (a slow machine can only hide a bug)
    t.check_equal(len(returned()), 10, "the 11th log() waits while the broker is unreachable")
    proxy.start()
    try:
        t.finish_proc(p, 120, "once the broker is reachable every log() returns and client_app exits 0")
    finally:
        proxy.stop()
    t.check_equal(len(returned()), 15, "all 15 log() calls returned")
    check_messages(t, records(t, q, "block", 15), [f"direct record {i}" for i in range(15)], "all 15 records arrive")


def spool(t):
    t.section("(d) a spool directory, the broker down at first")
    port = free_port()
    proxy = Proxy(port, broker_port(t))
    q = t.queue("spool")
    d = t.path("spool")
    p = client_app(t, "app-spool", q, ["--broker", url_at(t, port), "--spool-dir", d, "--queue-records", "10",
                                       "--overflow", "block", "--count", "800", "--spdlog-count", "200",
                                       "--flush-timeout", "120"])
    ok = wait_for(lambda: stats_line(p, "logged") is not None or not p.alive(), 60)
    logged = stats_line(p, "logged")
    t.check(ok and logged is not None and logged["accepted"] == 1000 and logged["dropped"] == 0,
            "with the broker down, all 1,000 records are accepted through a queue of 10: it empties into the spool",
            p.result().describe())
    proxy.start()
    try:
        t.finish_proc(p, 120, "client_app exits 0 once the broker is reachable")
    finally:
        proxy.stop()
    closed = stats_line(p, "closed")
    t.check(closed is not None and closed["confirmed"] == 1000 and closed["pending"] == 0,
            "stats after close(): all 1,000 confirmed, none pending", p.result().describe())
    check_messages(t, records(t, q, "spool", 1000),
                   [f"direct record {i}" for i in range(800)] + [f"spdlog record {i}" for i in range(200)],
                   "all 1,000 records arrive")

    t.section("(d) closed while the broker is still away: the records stay in the spool for the next client")
    q = t.queue("kept")
    d = t.path("kept")
    p = client_app(t, "app-kept", q, ["--broker", url_at(t, free_port()), "--spool-dir", d, "--count", "100",
                                      "--spdlog-count", "0", "--flush-timeout", "1"])
    t.finish_proc(p, 60, "client_app exits 0: nothing is lost, the spool keeps the records")
    closed = stats_line(p, "closed")
    t.check(closed is not None and closed["accepted"] == 100 and closed["pending"] == 100 and closed["failed"] == 0,
            "stats after close(): 100 pending (in the spool), none failed", p.result().describe())
    t.check(b"100 record(s) not confirmed yet; they stay in the spool" in p.stderr(),
            "one line says that 100 records stay in the spool", p.result().describe())
    t.check_equal(t.queue_ready(q) or 0, 0, "nothing reached the queue")
    p = client_app(t, "app-kept-next", q, ["--spool-dir", d, "--count", "0", "--spdlog-count", "0"])
    t.finish_proc(p, 120, "the next client on the directory (with the broker reachable) exits 0")
    closed = stats_line(p, "closed")
    t.check(closed is not None and closed["recovered"] == 100 and closed["confirmed"] == 100 and closed["pending"] == 0,
            "it recovered the 100 records and the broker confirmed them", p.result().describe())
    check_messages(t, records(t, q, "kept", 100), [f"direct record {i}" for i in range(100)],
                   "the 100 records of the first client arrive")


def lost(t):
    t.section("(e) no spool, closed while the broker is away")
    q = t.queue("lost")
    p = client_app(t, "app-lost", q, ["--broker", url_at(t, free_port()), "--count", "5", "--spdlog-count", "0",
                                      "--flush-timeout", "1"])
    t.finish_proc(p, 60, "client_app exits 1", expect_rc=1)
    closed = stats_line(p, "closed")
    t.check(closed == {"accepted": 5, "dropped": 0, "confirmed": 0, "failed": 5, "pending": 0, "recovered": 0},
            "stats after close(): the 5 accepted records count as failed", p.result().describe())
    t.check(b"logship client: closed with 5 of 5 record(s) not delivered" in p.stderr(),
            "one error line says 5 records were not delivered", p.result().describe())


def big_fields(t):
    for size, kept in ((200_000, False), (10_000, True)):
        t.section(f"(f) a field of {size:,} bytes on every record")
        n = 6
        q = t.queue(f"big{size}")
        p = client_app(t, f"app-big-{size}", q, ["--count", str(n), "--spdlog-count", "0", "--big-field", str(size)])
        t.finish_proc(p, 120, "client_app exits 0: every record confirmed")
        closed = stats_line(p, "closed")
        t.check(closed is not None and closed["confirmed"] == n and closed["failed"] == 0,
                f"its stats after close(): {n} confirmed, none failed", p.result().describe())
        recs = records(t, q, f"big-{size}", n)
        check_messages(t, recs, [f"direct record {i}" for i in range(n)], f"--big-field {size}")
        if kept:
            want = lambda i: {"n": str(i), "via": "client", "big": "x" * size}  # noqa: E731
            what = "every record has its fields, the big one whole"
        else:
            want = lambda i: {"n": str(i), "via": "client", "fields_dropped": "1"}  # noqa: E731
            what = "every record has n and via, and fields_dropped=1 for the field over 64 KiB"
        bad = [r["message"] for r in recs if r.get("fields") != want(int(r["message"].rsplit(" ", 1)[1]))]
        t.check(not bad, what, f"{len(bad)} wrong: {sample(bad)}")


def body(t):
    direct_and_sink(t)
    exit_without_flush(t)
    overflow(t)
    spool(t)
    lost(t)
    big_fields(t)


if __name__ == "__main__":
    run_test("client", body)
