#!/usr/bin/python3
"""--metrics-listen: the real programs serve Prometheus metrics at /metrics and a health check at
/healthz, and the metrics count exactly what flowed.
(a) An aggregator and a producer (a pipe, one record per message) with --metrics-listen 127.0.0.1:0:
    /healthz is 200 "ok" on both while records flow; once the N records are through, the producer
    counts N read, accepted, published and confirmed, N messages in its batch histogram and none in
    flight; the aggregator counts N records received, written and acked, N messages (its batch
    histogram counts them too), N latencies, and bytes written == the file's size.
(b) A second producer batches (--batch-records 100): its batch histogram counts M messages holding
    its N2 records; the aggregator's counts grow by exactly N2 records and M messages, and its bytes
    received are the two producers' bytes published.
(c) Dead letters: 2 malformed messages and 1 over --max-message-bytes are counted by reason, acked,
    and written nowhere.
(d) The output cannot be written (prlimit --fsize, as in test_write_errors.py): /healthz is 503
    with the reason, output_writable 0, errors_total{kind="write"} counts, written_total is exactly
    the lines whole in the file; once the limit is lifted /healthz is 200 again and every record
    is written.
(e) A bad --metrics-listen address is one error line and exit 2; a port in use is one error line
    naming it and exit 1, before anything else happens.
Every page is parsed strictly (HELP and TYPE of every family, cumulative buckets, +Inf == _count)."""
# transports: amqp redis
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import (Proc, count_lines, healthz, metrics_address, read_lines, run_test, scrape,  # noqa: E402
                             wait_for)

A = "logship_aggregator_"
P = "logship_producer_"


def value(address, name, **labels):
    try:
        return scrape(address).value(name, **labels)
    except Exception:  # noqa: BLE001 - a failed scrape is "not yet"
        return None


def wait_value(t, address, name, want, what, timeout=60, **labels):
    ok = wait_for(lambda: value(address, name, **labels) == want, timeout, 0.2)
    t.check(ok, f"{what}: {name} reaches {want}", f"last value {value(address, name, **labels)}")
    return ok


def check_values(t, m, who, expected):
    for name, want in expected.items():
        labels = {}
        if isinstance(name, tuple):
            name, labels = name[0], dict(name[1:])
        t.check_equal(m.value(name, **labels), want, f"{who}: {name}{labels or ''} == {want}")


def check_healthy(t, address, who, timeout=30):
    """/healthz answers 200 ok, at once or within `timeout` s: a producer just started may still be
    connecting (503 'not connected to the broker yet') on a loaded machine."""
    last = [None, None]

    def healthy():
        last[:] = healthz(address)
        return last[0] == 200 and last[1] == "ok\n"

    wait_for(healthy, timeout, 0.1)
    t.check(last[0] == 200 and last[1] == "ok\n", f"{who}: /healthz is 200 ok", f"{last[0]} {last[1]!r}")


def version(t):
    r = t.run("log_aggregator", ["--version"])
    return r.out_text.split()[-1]


def start_producer(t, label, q, extra):
    rfd, wfd = os.pipe()
    p = t.spawn(label, "log_producer", ["--queue", q, "--metrics-listen", "127.0.0.1:0"] + list(extra), stdin=rfd)
    os.close(rfd)
    return p, os.fdopen(wfd, "wb")


def flow(t):
    t.section("(a) one record per message: the counts are exact, /healthz 200 while flowing")
    q = t.queue("flow")
    out = t.path("flow.log")
    before = time.time()
    agg = t.start_aggregator("agg", q, out, "raw", ["--metrics-listen", "127.0.0.1:0"])
    a = metrics_address(t, agg)
    t.note(f"aggregator serves metrics on {a}")
    check_healthy(t, a, "aggregator (idle, connected)")
    m = scrape(a)
    t.check(m.value(A + "start_time_seconds") is not None and before - 1 <= m.value(A + "start_time_seconds") <= time.time(),
            "aggregator: start_time_seconds is when it started", m.value(A + "start_time_seconds"))
    check_values(t, m, "aggregator before any record", {
        (A + "build_info", ("version", version(t))): 1, A + "broker_connected": 1, A + "records_written_total": 0,
        A + "output_writable": 1, A + "broker_reconnects_total": 0})

    n1 = 1000
    p1, w1 = start_producer(t, "producer-1", q, ["--batch-records", "1"])
    p = metrics_address(t, p1)
    t.note(f"producer serves metrics on {p}")
    records1 = [f"one-{i:05d}" for i in range(n1)]
    w1.write(("\n".join(records1) + "\n").encode())
    w1.flush()
    check_healthy(t, p, "producer (records flowing)")
    check_healthy(t, a, "aggregator (records flowing)")
    wait_value(t, p, P + "records_confirmed_total", n1, "producer 1")
    pm = scrape(p)
    check_values(t, pm, "producer 1", {
        P + "records_read_total": n1, P + "records_accepted_total": n1, P + "records_published_total": n1,
        P + "records_confirmed_total": n1, P + "records_failed_total": 0, P + "records_refused_total": 0,
        P + "records_dropped_total": 0, P + "batch_records_count": n1, P + "batch_records_sum": n1,
        (P + "batch_records_bucket", ("le", "1")): n1, P + "in_flight_messages": 0, P + "spool_records": 0,
        P + "broker_connected": 1})
    check_healthy(t, p, "producer (all confirmed, input still open)")
    wait_value(t, a, A + "records_written_total", n1, "aggregator")
    am = scrape(a)
    check_values(t, am, "aggregator after producer 1", {
        A + "records_received_total": n1, A + "messages_received_total": n1, A + "records_written_total": n1,
        A + "records_acked_total": n1, A + "messages_acked_total": n1, A + "batch_records_count": n1,
        A + "batch_records_sum": n1, A + "latency_seconds_count": n1, A + "records_deduplicated_total": 0,
        A + "bytes_written_total": os.path.getsize(out)})
    check_healthy(t, a, "aggregator (all written)")

    t.section("(b) a batching producer: records and messages counted apart")
    n2 = 3000
    p2, w2 = start_producer(t, "producer-2", q, ["--batch-records", "100", "--linger-ms", "20"])
    p_b = metrics_address(t, p2)
    records2 = [f"two-{i:05d}" for i in range(n2)]
    w2.write(("\n".join(records2) + "\n").encode())
    w2.flush()
    wait_value(t, p_b, P + "records_confirmed_total", n2, "producer 2")
    pm2 = scrape(p_b)
    msgs2 = pm2.value(P + "batch_records_count")
    t.check(msgs2 is not None and n2 / 100 <= msgs2 < n2, f"producer 2 sent its {n2} records in {msgs2} messages")
    check_values(t, pm2, "producer 2", {P + "batch_records_sum": n2, P + "records_published_total": n2,
                                        (P + "batch_records_bucket", ("le", "100")): msgs2})
    wait_value(t, a, A + "records_written_total", n1 + n2, "aggregator")
    am = scrape(a)
    check_values(t, am, "aggregator after both producers", {
        A + "records_received_total": n1 + n2, A + "messages_received_total": n1 + msgs2,
        A + "records_acked_total": n1 + n2, A + "messages_acked_total": n1 + msgs2,
        A + "batch_records_count": n1 + msgs2, A + "batch_records_sum": n1 + n2,
        A + "latency_seconds_count": n1 + n2,
        A + "bytes_received_total": pm.value(P + "bytes_published_total") + pm2.value(P + "bytes_published_total"),
        A + "bytes_written_total": os.path.getsize(out)})
    lines, partial = read_lines(out)
    t.check(len(lines) == n1 + n2 and partial == b"", f"the file holds the {n1 + n2} lines")
    for w, proc in ((w1, p1), (w2, p2)):
        w.close()
        t.finish_proc(proc, 60, f"{proc.label} exits 0 at the end of its input")

    t.section("(c) dead letters are counted by reason")
    big = b"x" * (1024 * 1024 + 10)
    bad = {"logship-version": "9", "logship-level": "info"}
    t.publish(q, [(b"bad-1", bad), (b"bad-2", bad), (big, None)])
    wait_value(t, a, A + "messages_acked_total", n1 + msgs2 + 3, "aggregator")
    am = scrape(a)
    check_values(t, am, "aggregator after 3 dead letters", {
        (A + "messages_dead_lettered_total", ("reason", "malformed")): 2,
        (A + "messages_dead_lettered_total", ("reason", "too_large")): 1,
        (A + "messages_dead_lettered_total", ("reason", "poison")): 0,
        A + "messages_received_total": n1 + msgs2 + 3, A + "records_written_total": n1 + n2,
        A + "messages_requeued_total": 0})
    t.check_equal(len(t.get_all(q + ".dead", expect=3)), 3, "the 3 messages are in the dead-letter queue")
    agg.send_signal(signal.SIGTERM)
    t.finish_proc(agg, 20, "the aggregator exits 0 on SIGTERM")


def write_errors(t):
    t.section("(d) the output cannot be written: /healthz 503 with the reason, then 200 again")
    n, limit = 2000, 30_000
    q = t.queue("unwritable")
    records = [f"w-{i:05d}-".ljust(40, "x") for i in range(n)]
    t.produce(q, ("\n".join(records) + "\n").encode(), ["--batch-records", "1"])
    out = t.path("unwritable.log")
    p = Proc(t, "agg-limited", ["prlimit", f"--fsize={limit}:unlimited", t.env.prog("log_aggregator"), "--queue", q,
                                "--output", out, "--format", "raw", "--metrics-listen", "127.0.0.1:0"])
    t.wait_ready(p)
    a = metrics_address(t, p)
    ok = wait_for(lambda: healthz(a)[0] == 503, 30, 0.2)
    status, body = healthz(a)
    t.check(ok and body.startswith("output not writable: cannot write to") and "File too large" in body
            and "holding" in body and body.endswith("\n") and body.count("\n") == 1,
            "/healthz is 503 with one line: the output is not writable, why, and what is held", f"{status} {body!r}")
    m = scrape(a)
    written = len(read_lines(out)[0])
    t.check((m.value(A + "errors_total", kind="write") or 0) >= 1, "errors_total{kind=\"write\"} counts the failed write",
            m.value(A + "errors_total", kind="write"))
    check_values(t, m, "aggregator holding records", {
        A + "output_writable": 0, A + "broker_connected": 1, A + "records_written_total": written,
        A + "records_acked_total": written, (A + "errors_total", ("kind", "broker")): 0})
    cp = subprocess.run(["prlimit", "--pid", str(p.pid), "--fsize=unlimited:unlimited"], capture_output=True,
                        timeout=10)
    t.require(cp.returncode == 0, "prlimit lifts the limit of the running aggregator", cp.stderr.decode())
    t.check(wait_for(lambda: healthz(a)[0] == 200, 60, 0.2), "/healthz is 200 again once the output is writable",
            healthz(a))
    wait_value(t, a, A + "records_written_total", n, "aggregator")
    m = scrape(a)
    check_values(t, m, "aggregator after the limit was lifted", {
        A + "output_writable": 1, A + "records_acked_total": n, A + "latency_seconds_count": n,
        A + "bytes_written_total": os.path.getsize(out)})
    t.check_equal(count_lines(out), n, f"all {n} records are in the file")
    p.send_signal(signal.SIGTERM)
    t.finish_proc(p, 20, "SIGTERM: exit 0")


def cli(t):
    t.section("(e) a bad address: exit 2; a port in use: exit 1; one line each")
    q = t.queue("cli")
    progs = (("log_aggregator", ["--queue", q, "--output", t.path("cli.log")]), ("log_producer", ["--queue", q]))
    for prog, args in progs:
        for bad in ("127.0.0.1", "127.0.0.1:99999", "::1:9464", "[::1]:port", ":9464", "localhost:"):
            r = t.run(prog, args + ["--metrics-listen", bad], input=b"")
            lines = r.err_lines
            t.check(r.rc == 2 and len(lines) == 1 and lines[0].startswith(f"{prog}: error: --metrics-listen '{bad}'"),
                    f"{prog} --metrics-listen {bad!r}: exit 2, one line naming it", r.describe())
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            r = t.run(prog, args + ["--metrics-listen", f"127.0.0.1:{port}"], input=b"")
        lines = r.err_lines
        t.check(r.rc == 1 and len(lines) == 1 and f"--metrics-listen 127.0.0.1:{port}" in lines[0]
                and "Address already in use" in lines[0] and lines[0].startswith(f"{prog}: error:"),
                f"{prog}: a port in use is exit 1 and one line naming the address", r.describe())


def body(t):
    flow(t)
    write_errors(t)
    cli(t)


if __name__ == "__main__":
    run_test("metrics", body, time_limit=600)
