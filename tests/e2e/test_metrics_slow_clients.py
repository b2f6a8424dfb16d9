#!/usr/bin/python3
"""--metrics-listen under slow and idle clients: /healthz is a liveness probe, so it must answer
whatever other clients of the endpoint do.
For a real log_aggregator and a real log_producer, each with --metrics-listen 127.0.0.1:0:
(a) 2 slow-loris clients send a request head one byte every 2 s, and 200 idle connections are
    opened; then 5 probes of /healthz, one after the other, each answer 200 "ok" within 2 s (a
    correctness bound for a liveness probe: the old server, two workers blocked by the slow
    clients, answered none of them in time).
(b) /metrics still scrapes (a strict parse).
(c) The program's threads and open descriptors stay bounded: no thread per connection, at most the
    endpoint's connection cap (64 reading, 16 answering) of descriptors more than before.
(d) The slow clients are closed by the server once their head deadline (5 s) passes, before they
    finished sending."""
# transports: amqp redis
import os
import socket
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import metrics_address, run_test, scrape, wait_for  # noqa: E402

PROBE_BOUND = 2.0  # seconds: what a liveness probe allows (not a performance threshold)


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class SlowClient:
    """Sends a request head one byte every 2 s until the server closes the connection."""

    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.closed_by_server = threading.Event()
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"
        for byte in head:
            if self.stop.is_set():
                return
            try:
                self.sock.sendall(bytes([byte]))
                self.sent += 1
            except OSError:
                self.closed_by_server.set()
                return
            if self.stop.wait(2):
                return
            # A closed connection reads as EOF (or a reset) once the server has closed it.
            self.sock.setblocking(False)
            try:
                if self.sock.recv(1) == b"":
                    self.closed_by_server.set()
                    return
            except BlockingIOError:
                pass
            except OSError:
                self.closed_by_server.set()
                return
            finally:
                self.sock.setblocking(True)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def probe(address):
    """(status, body, seconds) of GET /healthz with a 2 s deadline; status None on a time-out."""
    start = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://{address}/healthz", timeout=PROBE_BOUND) as r:
            return r.status, r.read().decode(), time.monotonic() - start
    except Exception as e:  # noqa: BLE001 - a time-out or a refused connection is the failure to report
        return None, repr(e), time.monotonic() - start


def attack(t, who, proc, address):
    t.section(f"{who}: 2 slow-loris clients and 200 idle connections, then 5 /healthz probes")
    threads_before, fds_before = threads(proc.pid), fds(proc.pid)
    slow = [SlowClient(address) for _ in range(2)]
    # Their first bytes are in before the idle flood (a full server closes the idle ones first).
    t.check(wait_for(lambda: all(c.sent >= 2 for c in slow), 30), f"{who}: the slow clients are sending")
    host, port = address.rsplit(":", 1)
    idle = []
    for _ in range(200):
        s = socket.socket()
        s.settimeout(5)
        s.connect((host, int(port)))
        idle.append(s)
    for i in range(5):
        status, body, secs = probe(address)
        t.check(status == 200 and body == "ok\n", f"{who}: probe {i + 1} of /healthz is 200 ok within {PROBE_BOUND} s",
                f"{status} {body!r} after {secs:.2f} s")

    t.section(f"{who}: /metrics still scrapes; threads and descriptors stay bounded")
    try:
        m = scrape(address)
        t.check(len(m.samples) > 0, f"{who}: /metrics scrapes and parses")
    except Exception as e:  # noqa: BLE001
        t.check(False, f"{who}: /metrics scrapes and parses", repr(e))
    t.check(threads(proc.pid) <= threads_before, f"{who}: no thread per connection",
            f"{threads_before} threads before, {threads(proc.pid)} now")
    t.check(fds(proc.pid) <= fds_before + 64 + 16, f"{who}: at most the connection cap of descriptors more",
            f"{fds_before} before, {fds(proc.pid)} now")

    t.section(f"{who}: the slow clients are closed at their head deadline")
    t.check(wait_for(lambda: all(c.closed_by_server.is_set() for c in slow), 60),
            f"{who}: the server closed both slow clients", [c.sent for c in slow])
    t.check(all(c.sent < 60 for c in slow), f"{who}: before they sent their whole head", [c.sent for c in slow])
    for c in slow:
        c.close()
    for s in idle:
        s.close()
    status, body, secs = probe(address)
    t.check(status == 200, f"{who}: /healthz answers after the clients left", f"{status} {body!r}")


def body(t):
    q = t.queue("slow")
    agg = t.start_aggregator("agg", q, t.path("out.log"), "raw", ["--metrics-listen", "127.0.0.1:0"])
    rfd, wfd = os.pipe()
    prod = t.spawn("producer", "log_producer", ["--queue", q, "--metrics-listen", "127.0.0.1:0"], stdin=rfd)
    os.close(rfd)
    for who, proc in (("aggregator", agg), ("producer", prod)):
        attack(t, who, proc, metrics_address(t, proc))
    os.close(wfd)
    t.check(prod.wait(60) == 0, "the producer exits 0 at the end of its input")


if __name__ == "__main__":
    run_test("metrics_slow_clients", body, time_limit=400)
