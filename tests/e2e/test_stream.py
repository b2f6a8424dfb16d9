#!/usr/bin/python3
"""RabbitMQ streams read by log_aggregator over AMQP 0-9-1 (x-queue-type stream, declared here with
pika as another tool would; the aggregator finds out the type itself, no flag).
(a) Fan-out: two aggregators with different outputs each write every record of the stream, and each
    keeps its own place (<output>.offset).
(b) SIGKILL an aggregator three times mid-stream (records still being published), restarting it on
    the same output each time, then SIGTERM and a last restart: every record exactly once.
(c) --stream-from for a first start: first (the default) writes what the stream holds; next only
    what is published after it subscribed (set in the configuration file); last from the last chunk on; a time from that time on;
    a saved place wins over --stream-from; a bad value is one error line and exit 2.
(d) A damaged offset file: exit 1 with one error line naming it, nothing written (never a silent
    start from the beginning)."""
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import count_lines, read_lines, run_test, sample, tally, wait_for  # noqa: E402

import pika  # noqa: E402


def declare_stream(t, q):
    ch = t.pika().channel()
    ch.queue_declare(queue=q, durable=True, arguments={"x-queue-type": "stream"})


def publish(t, q, records):
    """Publishes one enveloped record per message (with a logship id, as our producers send them),
    each confirmed."""
    conn = t.pika()
    ch = conn.channel()
    ch.confirm_delivery()
    for r in records:
        headers = {"logship-version": "1", "logship-id": r, "logship-ts": str(int(time.time() * 1e6)),
                   "logship-level": "info", "logship-service": "stream-test"}
        ch.basic_publish(exchange="", routing_key=q, body=r.encode(),
                         properties=pika.BasicProperties(delivery_mode=2, headers=headers))
    conn.close()


def broker_clock_offset(t):
    """Seconds the broker's Erlang clock (erlang:system_time, which stamps stream chunks) is ahead of
    the operating system's clock that this test reads, both read in one call inside the broker, so
    the time the call takes does not count. 0 when it cannot be asked."""
    cp = subprocess.run(["rabbitmqctl", "-q", "-n", t.env.node, "eval",
                         "erlang:system_time(microsecond) - os:system_time(microsecond)."],
                        capture_output=True, timeout=60)
    try:
        offset = int(cp.stdout.decode().strip()) / 1e6
    except ValueError:
        t.note(f"could not read the broker's clock: {cp.stderr.decode(errors='replace').strip()}")
        return 0.0
    t.note(f"the broker's Erlang clock is {offset * 1000:+.1f} ms from the system clock")
    return offset


def lines_of(t, path):
    complete, partial = read_lines(path)
    if partial:
        t.note(f"{os.path.basename(path)} ends with a partial line {partial[:60]!r}")
    return [l.decode("utf-8", "replace") for l in complete]


def check_exactly_once(t, expected, path, what):
    lines = lines_of(t, path)
    missing, dups, unexpected, _ = tally(expected, lines)
    t.check(not missing, f"{what}: no record lost ({len(missing)} missing: {sample(missing)})")
    t.check(dups == 0, f"{what}: no record written twice ({dups} duplicates)")
    t.check(not unexpected, f"{what}: nothing else written ({sample(unexpected)})")
    t.check_equal(lines, expected, f"{what}: in stream order")


def aggregator(t, label, q, out, extra=(), idle=None):
    args = list(extra) + (["--idle-exit", str(idle)] if idle else [])
    return t.start_aggregator(label, q, out, "raw", args, wait_ready=idle is None)


def wait_lines(t, p, out, n, timeout=120):
    ok = wait_for(lambda: count_lines(out) >= n or not p.alive(), timeout, 0.005)
    t.require(ok and p.alive(), f"{p.label} wrote {n} lines ({count_lines(out)} now)", p.result().describe())


def part_a(t):
    t.section("(a) fan-out: two aggregators, two outputs, every record in each")
    q = t.queue("fanout")
    declare_stream(t, q)
    records = [f"fan-{n:05d}" for n in range(3000)]
    publish(t, q, records[:1500])
    outs = [t.path("fan-1.log"), t.path("fan-2.log")]
    procs = [aggregator(t, f"agg-fan-{i + 1}", q, o) for i, o in enumerate(outs)]
    publish(t, q, records[1500:])  # while both read
    for p, o in zip(procs, outs):
        wait_lines(t, p, o, len(records))
        p.send_signal(signal.SIGTERM)
        t.finish_proc(p, 60)
        check_exactly_once(t, records, o, os.path.basename(o))
        t.check(b"is a stream: reading it from its first record" in p.stderr(),
                f"{p.label} says it reads a stream from its first record", p.result().describe())
        with open(o + ".offset") as f:
            text = f.read()
        t.check_equal(text.splitlines()[-1], f"next {len(records)}", f"{os.path.basename(o)}.offset holds the "
                      "offset after the last record")


def part_b(t):
    t.section("(b) SIGKILL three times mid-stream, restarting on the same output: every record once")
    q = t.queue("kill")
    declare_stream(t, q)
    records = [f"kill-{n:05d}" for n in range(12000)]
    publish(t, q, records[:6000])
    later = threading.Thread(target=publish, args=(t, q, records[6000:]))
    out = t.path("killed.log")
    extra = ["--fsync", "--prefetch", "500"]
    p = aggregator(t, "agg-kill-1", q, out, extra)
    later.start()
    for i, at in enumerate((2000, 5000, 8000)):
        wait_lines(t, p, out, at)
        p.send_signal(signal.SIGKILL)
        rc = p.wait(30)
        written = count_lines(out)
        t.check(rc == -signal.SIGKILL, f"{p.label} died of SIGKILL after {written} lines (status {rc})")
        p = aggregator(t, f"agg-kill-{i + 2}", q, out, extra)
        # One record per message: offset n is record n. The saved place is at most one batch (512
        # deliveries) behind what the file holds, never past it, never the beginning.
        m = re.search(rb"reading it at offset (\d+)", p.stderr())
        resumed = int(m.group(1)) if m else -1
        t.check(written - 512 <= resumed <= written,
                f"{p.label} resumes at its saved offset {resumed}, right after the {written} lines written",
                p.result().describe())
    later.join()
    wait_lines(t, p, out, len(records) - 500)
    p.send_signal(signal.SIGTERM)
    t.finish_proc(p, 60)
    last = aggregator(t, "agg-kill-last", q, out, extra, idle=3)
    t.finish_proc(last, 180, "the last restart writes the rest and exits 0 (--idle-exit 3)")
    check_exactly_once(t, records, out, "after 3 SIGKILLs and a SIGTERM")


def part_c(t):
    t.section("(c) --stream-from on a first start; a saved place wins")
    q = t.queue("from")
    declare_stream(t, q)
    old = [f"old-{n:04d}" for n in range(200)]
    publish(t, q, old)

    out_next = t.path("next.log")
    config = t.path("logship.toml")
    with open(config, "w") as f:
        f.write('[log_aggregator]\nstream-from = "next"\n')
    p = aggregator(t, "agg-next", q, out_next, ["--config", config])  # the TOML key
    # Chunk timestamps are milliseconds of the broker's Erlang clock, --stream-from takes seconds:
    # the new records are published from the next whole second of that clock on. Erlang keeps its
    # clock's offset from the system's fixed from its start (no time warp), so after a step of the
    # system clock the two differ: the test asks the broker. It also leaves a quarter of a second
    # on either side of the second asked for (a CI run that used the system clock alone once saw
    # none of the new records from that second).
    offset = broker_clock_offset(t)
    start = int(time.time() + offset + 0.25) + 1
    wait_for(lambda: time.time() + offset >= start + 0.25, 5)
    new = [f"new-{n:04d}" for n in range(100)]
    publish(t, q, new)
    wait_lines(t, p, out_next, len(new))
    p.send_signal(signal.SIGTERM)
    t.finish_proc(p, 60)
    check_exactly_once(t, new, out_next, "--stream-from next: only what came after it subscribed")

    out_first = t.path("first.log")
    p = aggregator(t, "agg-first", q, out_first, idle=3)
    t.finish_proc(p, 120)
    check_exactly_once(t, old + new, out_first, "default (first): everything the stream holds")

    out_last = t.path("last.log")
    p = aggregator(t, "agg-last", q, out_last, ["--stream-from", "last"], idle=3)
    t.finish_proc(p, 120)
    got = lines_of(t, out_last)
    t.check(0 < len(got) <= len(new) and got == new[-len(got):],
            f"--stream-from last: the last chunk on ({len(got)} records, the stream's last ones)", sample(got))

    out_time = t.path("time.log")
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))
    p = aggregator(t, "agg-time", q, out_time, ["--stream-from", when], idle=3)
    t.finish_proc(p, 120)
    check_exactly_once(t, new, out_time, f"--stream-from {when}: the records from that second on")

    more = [f"more-{n:04d}" for n in range(50)]
    publish(t, q, more)
    p = aggregator(t, "agg-next-again", q, out_next, ["--stream-from", "first"], idle=3)
    t.finish_proc(p, 120)
    check_exactly_once(t, new + more, out_next, "a restart resumes at its saved place, whatever --stream-from says")

    r = t.run("log_aggregator", ["--queue", q, "--output", t.path("bad.log"), "--stream-from", "yesterday"])
    t.check(r.rc == 2 and len(r.err_lines) == 1 and "--stream-from" in r.err_text,
            "--stream-from yesterday: one error line naming the flag, exit 2", r.describe())


def part_d(t):
    t.section("(d) a damaged offset file stops the aggregator, naming it")
    q = t.queue("damaged")
    declare_stream(t, q)
    publish(t, q, [f"d-{n}" for n in range(10)])
    out = t.path("damaged.log")
    with open(out + ".offset", "w") as f:
        f.write("logship-stream-offset 1\nqueue " + q + "\nnext 4")  # torn: no newline
    r = t.run("log_aggregator", ["--queue", q, "--output", out, "--idle-exit", "2"])
    t.check(r.rc == 1 and len(r.err_lines) == 1 and "damaged.log.offset" in r.err_text,
            "exit 1 with one error line naming damaged.log.offset", r.describe())
    t.check(count_lines(out) == 0, "nothing written (no silent start from the beginning)")


def body(t):
    parts = os.environ.get("STREAM_PARTS", "abcd")  # a subset while developing
    for name, part in (("a", part_a), ("b", part_b), ("c", part_c), ("d", part_d)):
        if name in parts:
            part(t)


if __name__ == "__main__":
    run_test("stream", body)
