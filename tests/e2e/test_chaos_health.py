#!/usr/bin/python3
"""Chaos: /healthz and the connection metrics while the suite's broker is stopped and started again.
(a) An aggregator, a producer without a spool and a producer with --spool-dir, all with
    --metrics-listen, ship 500 records each; /healthz is 200 on all three. The broker is stopped
    (RabbitMQ: stop_app, Redis: SIGTERM), and each producer is given 300 more records:
    - the aggregator's /healthz turns 503 "not connected to the broker: ...", broker_connected 0;
    - the producer without a spool: 503 "not connected to the broker: ...", broker_connected 0;
    - the spooling producer stays 200 (it spools within its limits) with broker_connected 0 and the
      300 records counted in spool_records.
    The broker comes back: every /healthz is 200 again, broker_connected 1, reconnects_total and
    errors_total{kind="broker"} counted the outage, both producers count 800 confirmed, and the
    aggregator wrote exactly the 1,600 records (written_total 1,600, the file holds each once;
    resends are counted as deduplicated, not written).
(b) A spooling producer whose spool reaches its cap (--spool-max-bytes 1M) while the broker is down:
    its /healthz turns 503 "the spool is full ...", and 200 again once the broker took the records."""
# transports: amqp redis
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import (broker_down, broker_up, healthz, metrics_address, read_lines,  # noqa: E402
                             run_test, scrape, tally, wait_for)

A = "logship_aggregator_"
P = "logship_producer_"


def value(address, name, **labels):
    try:
        return scrape(address).value(name, **labels)
    except Exception:  # noqa: BLE001 - a failed scrape is "not yet"
        return None


def wait_health(t, address, status, who, timeout=90, starts=None):
    ok = wait_for(lambda: healthz(address)[0] == status, timeout, 0.2)
    got = healthz(address)
    t.check(ok and (starts is None or got[1].startswith(starts)),
            f"{who}: /healthz {status}{' ' + repr(starts) if starts else ''}", repr(got))
    if got[0] != 200:
        t.note(f"{who} /healthz: {got[0]} {got[1].strip()}")


def spawn_producer(t, label, q, extra):
    rfd, wfd = os.pipe()
    p = t.spawn(label, "log_producer", ["--queue", q, "--batch-records", "1", "--metrics-listen", "127.0.0.1:0",
                                        "--confirm-timeout", "120"] + list(extra), stdin=rfd)
    os.close(rfd)
    return p, os.fdopen(wfd, "wb")


def send(w, records):
    w.write(("\n".join(records) + "\n").encode())
    w.flush()


def outage(t):
    t.section("(a) the broker stops and comes back")
    q = t.queue("outage")
    r = t.run("logctl", ["setup", "--queue", q])
    t.require(r.rc == 0, "logctl setup", r.describe())
    out = t.path("outage.log")
    agg = t.start_aggregator("agg", q, out, "raw", ["--metrics-listen", "127.0.0.1:0"])
    plain, w_plain = spawn_producer(t, "producer-plain", q, [])
    spooled, w_spooled = spawn_producer(t, "producer-spool", q, ["--spool-dir", t.path("spool")])
    a, pp, ps = (metrics_address(t, p) for p in (agg, plain, spooled))
    records = {"plain": [f"plain-{i:04d}" for i in range(800)], "spool": [f"spool-{i:04d}" for i in range(800)]}
    send(w_plain, records["plain"][:500])
    send(w_spooled, records["spool"][:500])
    t.require(wait_for(lambda: value(a, A + "records_written_total") == 1000, 60, 0.2),
              "the first 1,000 records are written", value(a, A + "records_written_total"))
    for address, who in ((a, "aggregator"), (pp, "producer without spool"), (ps, "producer with spool")):
        wait_health(t, address, 200, who, timeout=10)

    broker_down(t, "stop")
    t.note("broker stopped")
    wait_health(t, a, 503, "aggregator, broker down", starts="not connected to the broker: ")
    t.check_equal(value(a, A + "broker_connected"), 0, "aggregator: broker_connected 0")
    send(w_plain, records["plain"][500:])
    send(w_spooled, records["spool"][500:])
    wait_health(t, pp, 503, "producer without spool, broker down", starts="not connected to the broker: ")
    t.check_equal(value(pp, P + "broker_connected"), 0, "producer without spool: broker_connected 0")
    t.check(wait_for(lambda: value(ps, P + "records_accepted_total") == 800 and value(ps, P + "spool_records") == 300,
                     30, 0.2),
            "producer with spool: the 300 new records are accepted and wait in the spool",
            f"accepted {value(ps, P + 'records_accepted_total')}, spool_records {value(ps, P + 'spool_records')}")
    t.check(wait_for(lambda: value(ps, P + "broker_connected") == 0, 30, 0.2),
            "producer with spool: broker_connected 0 once it tried to send")
    status, text = healthz(ps)
    t.check(status == 200 and text == "ok\n", "producer with spool: /healthz stays 200 (spooling within limits)",
            f"{status} {text!r}")

    broker_up(t, "stop")
    t.note("broker started again")
    for address, prefix, who in ((a, A, "aggregator"), (pp, P, "producer without spool"),
                                 (ps, P, "producer with spool")):
        # Reconnecting backs off up to 5 s between attempts; a spooling producer is healthy meanwhile.
        t.check(wait_for(lambda: value(address, prefix + "broker_connected") == 1, 90, 0.2),
                f"{who}: broker_connected 1 again", value(address, prefix + "broker_connected"))
        wait_health(t, address, 200, f"{who}, broker back")
        m = scrape(address)
        t.check((m.value(prefix + "broker_reconnects_total") or 0) >= 1, f"{who}: broker_reconnects_total counted",
                m.value(prefix + "broker_reconnects_total"))
        t.check((m.value(prefix + "errors_total", kind="broker") or 0) >= 1,
                f"{who}: errors_total{{kind=\"broker\"}} counted the outage", m.value(prefix + "errors_total", kind="broker"))
    for address, who in ((pp, "producer without spool"), (ps, "producer with spool")):
        t.check(wait_for(lambda: value(address, P + "records_confirmed_total") == 800, 120, 0.2),
                f"{who}: 800 records confirmed", value(address, P + "records_confirmed_total"))
    t.check_equal(value(ps, P + "spool_records"), 0, "producer with spool: the spool is empty")
    t.check(wait_for(lambda: value(a, A + "records_written_total") == 1600, 120, 0.2),
            "aggregator: written_total reaches 1,600", value(a, A + "records_written_total"))
    for w in (w_plain, w_spooled):
        w.close()
    for p in (plain, spooled):
        t.finish_proc(p, 60, f"{p.label} exits 0 at the end of its input")
    # Whatever was resent after the reconnect is counted as received and deduplicated, never written.
    def settled():
        m = scrape(a)
        return m.value(A + "records_received_total") == (m.value(A + "records_written_total") +
                                                         m.value(A + "records_deduplicated_total"))
    t.check(wait_for(settled, 30, 0.2), "aggregator: received == written + deduplicated")
    m = scrape(a)
    t.check_equal(m.value(A + "records_written_total"), 1600, "aggregator: written_total is exactly 1,600")
    t.note(f"deduplicated {m.value(A + 'records_deduplicated_total')}, redelivered "
           f"{m.value(A + 'messages_redelivered_total')}, received {m.value(A + 'records_received_total')}")
    lines, partial = read_lines(out)
    missing, dups, unexpected, _ = tally(records["plain"] + records["spool"], [l.decode() for l in lines])
    t.check(not missing and dups == 0 and not unexpected and partial == b"",
            f"the file holds each of the 1,600 records once ({len(missing)} missing, {dups} duplicates)")
    agg.send_signal(signal.SIGTERM)
    t.finish_proc(agg, 20, "the aggregator exits 0 on SIGTERM")


def spool_full(t):
    t.section("(b) a spool at its cap: /healthz 503, then 200 once the broker is back")
    q = t.queue("full")
    r = t.run("logctl", ["setup", "--queue", q])
    t.require(r.rc == 0, "logctl setup", r.describe())
    records = [f"full-{n:05d}-" + "x" * 480 for n in range(4000)]  # ~2 MB, the cap is 1 MiB
    broker_down(t, "stop")
    rfd, wfd = os.pipe()
    producer = t.spawn("producer-full", "log_producer",
                       ["--queue", q, "--spool-dir", t.path("full-spool"), "--spool-max-bytes", "1M",
                        "--max-message-bytes", "1000", "--metrics-listen", "127.0.0.1:0"], stdin=rfd)
    os.close(rfd)
    address = metrics_address(t, producer)
    w = os.fdopen(wfd, "wb")

    def feed():  # like feed_pipe, but the pipe stays open: the producer keeps running afterwards
        try:
            for i in range(0, len(records), 250):
                w.write(("\n".join(records[i:i + 250]) + "\n").encode())
                w.flush()
        except BrokenPipeError:
            pass

    feeder = threading.Thread(target=feed)
    feeder.start()
    wait_health(t, address, 503, "producer, spool at its cap", starts="the spool is full")
    m = scrape(address)
    t.check(m.value(P + "spool_bytes") <= m.value(P + "spool_limit_bytes") == 1 << 20,
            "spool_bytes stays within spool_limit_bytes (1 MiB)",
            f"{m.value(P + 'spool_bytes')} of {m.value(P + 'spool_limit_bytes')}")
    t.check(feeder.is_alive(), "the input waits (backpressure)")
    broker_up(t, "stop")
    feeder.join(120)
    t.check(not feeder.is_alive(), "the whole input is read once the broker is back")
    t.check(wait_for(lambda: value(address, P + "records_confirmed_total") == len(records), 180, 0.2),
            f"the broker confirms all {len(records)} records", value(address, P + "records_confirmed_total"))
    wait_health(t, address, 200, "producer, spool emptied")
    w.close()
    t.finish_proc(producer, 60, "the producer exits 0")
    out = t.path("full.log")
    t.drain("agg-full", q, out)
    t.check_equal(len(read_lines(out)[0]), len(records), f"all {len(records)} records are delivered")


def body(t):
    outage(t)
    spool_full(t)


if __name__ == "__main__":
    run_test("chaos_health", body, time_limit=900)
