#!/usr/bin/python3
"""Chaos: the producer's on-disk spool (--spool-dir) while the broker is down.
(a) records flow; the broker is stopped; the producer accepts 5,000 more into its spool and is
    SIGKILLed while the broker is still down; the broker comes back; `log_producer --spool-dir DIR
    </dev/null` sends everything the killed producer had accepted, in order, and exits 0:
    zero lost, zero duplicates (the aggregator deduplicates by record id);
(b) a producer started while the broker is down accepts its input into the spool; when the broker
    stays away past --reconnect-seconds after the end of input it exits 1 saying how many records
    wait in the spool; a later run sends them;
(c) at the spool's size cap the producer stops reading its input (backpressure) and loses nothing;
(d) with --spool-full drop it drops records at the cap, says so and counts them: delivered +
    dropped = read, exit 1.
The spool's content is checked independently of the producer by reading its segment files."""
# transports: amqp redis
import os
import re
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import broker_down, broker_up, count_lines, feed_pipe, read_lines, run_test, sample, tally, wait_for  # noqa: E402


def spool_held(d):
    """Records in the spool directory `d` not yet confirmed: the records of the valid entries at or
    after the cursor (docs/FORMATS.md, "Producer spool")."""
    cursor = 0
    try:
        with open(os.path.join(d, "cursor"), "rb") as f:
            data = f.read(16)
            if len(data) == 16 and struct.unpack("<I", data[12:16])[0] == 0x3143534C:
                cursor = struct.unpack("<Q", data[:8])[0]
    except FileNotFoundError:
        pass
    held = 0
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if not name.endswith(".seg"):
            continue
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        pos = 0
        while len(data) - pos >= 24:
            magic, length, seq = struct.unpack("<IIQ", data[pos:pos + 16])
            if magic != 0x3150534C or len(data) - pos - 24 < length:
                break
            if seq >= cursor:
                held += payload_records(data[pos + 24:pos + 24 + length])
            pos += 24 + length
    return held


def payload_records(p):
    """Records in one spool entry: its logship-batch header (a batch), else 1."""
    count = struct.unpack("<I", p[:4])[0]
    pos = 4
    for _ in range(count):
        kl = struct.unpack("<I", p[pos:pos + 4])[0]
        key = p[pos + 4:pos + 4 + kl]
        pos += 4 + kl
        vl = struct.unpack("<I", p[pos:pos + 4])[0]
        value = p[pos + 4:pos + 4 + vl]
        pos += 4 + vl
        if key == b"logship-batch":
            return int(value)
    return 1


def first_occurrence_order(lines, records):
    wanted = set(records)
    seen, order = set(), []
    for l in lines:
        if l in wanted and l not in seen:
            seen.add(l)
            order.append(l)
    return order


def kill_while_down(t):
    t.section("(a) producer SIGKILLed while the broker is down, restarted on its spool")
    q = t.queue("a")
    r = t.run("logctl", ["setup", "--queue", q])
    t.require(r.rc == 0, "logctl setup", r.describe())
    out = t.path("a.log")
    agg = t.start_aggregator("a-agg", q, out, "raw")
    spool = t.path("a-spool")
    before = [f"a-before-{n:05d}" for n in range(5000)]
    during = [f"a-during-{n:05d}" for n in range(5000)]
    rfd, wfd = os.pipe()
    producer = t.spawn("a-producer", "log_producer", ["--queue", q, "--spool-dir", spool], stdin=rfd)
    os.close(rfd)
    w = os.fdopen(wfd, "wb")
    w.write(("\n".join(before) + "\n").encode())
    w.flush()
    t.require(wait_for(lambda: count_lines(out) >= len(before), 60, 0.1), "the first 5,000 records arrive",
              f"{count_lines(out)} lines")
    t.require(wait_for(lambda: spool_held(spool) == 0, 10, 0.1), "the spool is empty once they are confirmed",
              f"{spool_held(spool)} held")
    broker_down(t, "stop")
    w.write(("\n".join(during) + "\n").encode())
    w.close()
    ok = wait_for(lambda: spool_held(spool) == len(during), 30, 0.1)
    t.check(ok, "the producer accepts the 5,000 records read while the broker is down into its spool",
            f"{spool_held(spool)} held")
    t.check(producer.alive(), "the producer waits for the broker", producer.result().describe())
    producer.send_signal(signal.SIGKILL)
    producer.wait(10)
    broker_up(t, "stop")
    r = t.run("log_producer", ["--queue", q, "--spool-dir", spool], input=b"", timeout=180)
    t.check(r.rc == 0, "`log_producer --spool-dir DIR </dev/null` drains the spool and exits 0", r.describe())
    t.check("5000 left in the spool by an earlier run" in r.err_text, "it says how many an earlier run left",
            r.err_text)
    t.check(spool_held(spool) == 0, "the spool is empty afterwards", f"{spool_held(spool)} held")
    t.require(wait_for(lambda: count_lines(out) >= len(before) + len(during), 120, 0.2),
              "every record is written", f"{count_lines(out)} lines")
    time.sleep(1)
    agg.send_signal(signal.SIGTERM)
    t.finish_proc(agg, 30, "the aggregator exits 0")
    lines = [l.decode() for l in read_lines(out)[0]]
    missing, dups, unexpected, _ = tally(before + during, lines)
    t.check(not missing, f"zero records lost ({len(missing)} missing)", sample(missing))
    t.check(dups == 0, f"zero duplicates ({dups})")
    t.check(not unexpected, "no unexpected line", sample(unexpected))
    t.check(first_occurrence_order(lines, during) == during, "the spooled records arrive in the order they were read")


def start_while_down(t):
    t.section("(b) producer started while the broker is down; gives up after --reconnect-seconds, a later run sends")
    q = t.queue("b")
    r = t.run("logctl", ["setup", "--queue", q])
    t.require(r.rc == 0, "logctl setup", r.describe())
    spool = t.path("b-spool")
    records = [f"b-{n:05d}" for n in range(3000)]
    broker_down(t, "stop")
    start = time.monotonic()
    r = t.run("log_producer", ["--queue", q, "--spool-dir", spool, "--reconnect-seconds", "3", "--confirm-timeout", "3"],
              input=("\n".join(records) + "\n").encode(), timeout=120)
    elapsed = time.monotonic() - start
    t.check(r.rc == 1, "exit 1: nothing could be confirmed", r.describe())
    errors = [l for l in r.err_lines if "error" in l]
    t.check(len(errors) == 1 and "3000 of 3000 records not delivered" in errors[0] and "3000 still in the spool" in
            errors[0], "one error line: all 3000 wait in the spool", r.err_text)
    t.check(elapsed < 60, f"it gives up a few seconds after the end of input ({elapsed:.1f} s)")
    t.check(spool_held(spool) == 3000, "the spool holds the 3000 records", f"{spool_held(spool)} held")
    broker_up(t, "stop")
    r = t.run("log_producer", ["--queue", q, "--spool-dir", spool], input=b"", timeout=120)
    t.check(r.rc == 0, "a later run sends them and exits 0", r.describe())
    out = t.path("b.log")
    t.drain("b-agg", q, out)
    lines = [l.decode() for l in read_lines(out)[0]]
    missing, dups, unexpected, _ = tally(records, lines)
    t.check(not missing and not unexpected and dups == 0, "all 3000 records arrive once",
            f"missing {len(missing)}, dups {dups}, unexpected {len(unexpected)}")
    t.check(lines == records, "in order")


def spool_full(t, mode):
    t.section(f"({'c' if mode == 'block' else 'd'}) the spool's cap reached while the broker is down: {mode}")
    q = t.queue(mode)
    r = t.run("logctl", ["setup", "--queue", q])
    t.require(r.rc == 0, "logctl setup", r.describe())
    spool = t.path(f"{mode}-spool")
    records = [f"{mode}-{n:05d}-" + "x" * 480 for n in range(6000)]  # ~3 MB, the cap is 1 MiB
    broker_down(t, "stop")
    rfd, wfd = os.pipe()
    producer = t.spawn(f"{mode}-producer", "log_producer",
                       ["--queue", q, "--spool-dir", spool, "--spool-max-bytes", "1M", "--max-message-bytes", "1000",
                        "--spool-full", mode], stdin=rfd)
    os.close(rfd)
    feeder = feed_pipe(records, wfd)
    time.sleep(5)
    held = spool_held(spool)
    size = sum(os.path.getsize(os.path.join(spool, f)) for f in os.listdir(spool) if f.endswith(".seg"))
    t.check(size <= 1 << 20, f"the spool stays within its cap ({size} bytes on disk)")
    t.check(producer.alive(), "the producer is running", producer.result().describe())
    if mode == "block":
        t.check(feeder.is_alive(), "the input is blocked (backpressure), not read and lost",
                f"{held} held in the spool")
        t.check(b"dropped" not in producer.stderr(), "nothing is dropped", producer.result().describe())
    else:
        t.require(wait_for(lambda: not feeder.is_alive(), 30), "the input is read to the end (records dropped)")
        t.check(b"the spool is full" in producer.stderr() and b"dropped" in producer.stderr(),
                "a warning says records are dropped", producer.result().describe())
    broker_up(t, "stop")
    feeder.join(120)
    rc = producer.wait(180)
    out = t.path(f"{mode}.log")
    t.drain(f"{mode}-agg", q, out)
    lines = [l.decode() for l in read_lines(out)[0]]
    missing, dups, unexpected, _ = tally(records, lines)
    t.check(not unexpected and dups == 0, "no unexpected or repeated line", f"dups {dups}")
    if mode == "block":
        t.check(rc == 0, "the producer exits 0 once the broker took everything", producer.result().describe())
        t.check(not missing, f"zero records lost ({len(missing)} missing)", sample(missing))
    else:
        errors = [l for l in producer.result().err_lines if "error" in l]
        dropped = None
        for e in errors:
            m = re.search(r"(\d+) dropped because the spool was full", e)
            if m:
                dropped = int(m.group(1))
        t.check(rc == 1 and dropped is not None, "exit 1 with the number of dropped records",
                producer.result().describe())
        if dropped is not None:
            t.check(dropped > 0 and len(lines) + dropped == len(records),
                    f"delivered ({len(lines)}) + dropped ({dropped}) = read ({len(records)})")


def body(t):
    kill_while_down(t)
    start_while_down(t)
    spool_full(t, "block")
    spool_full(t, "drop")


if __name__ == "__main__":
    run_test("chaos_producer_spool", body, time_limit=900)
