#!/usr/bin/python3
"""The broker stops reading from publishers (a memory alarm, forced here with a tiny
vm_memory_high_watermark): log_producer must not hang forever in a send that rabbitmq-c would wait
on without a deadline.
(a) With --reconnect-seconds 0 it fails within its deadlines (exit 1, one error line) and claims no
    delivery it did not get.
(b) By default it reconnects and resends while the alarm lasts, and once the alarm clears every
    record is delivered (exit 0, every record in the queue).
Runs serially: the alarm blocks every publisher on the shared test broker, and the watermark is
always restored."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import run_test, wait_for  # noqa: E402

RECORDS = 300
RECORD_BYTES = 400_000  # 120 MB in all: far more than the socket buffers hold


def set_watermark(t, value):
    cp = subprocess.run(["rabbitmqctl", "-q", "-n", t.env.node, "set_vm_memory_high_watermark", value],
                        capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    t.require(cp.returncode == 0, f"rabbitmqctl set_vm_memory_high_watermark {value}",
              cp.stderr.decode(errors="replace"))


def body(t):
    q = t.queue("alarm")
    # Declare the queue while the broker still accepts publishes.
    t.publish(q, [b"before the alarm"])
    set_watermark(t, "0.000001")
    try:
        t.section("producer under a memory alarm")
        # Input from a file, not a pipe: a hung producer must not hang the test's own write.
        input_path = t.path("input.log")
        with open(input_path, "wb") as f:
            for i in range(RECORDS):
                f.write(f"r{i:04d} ".encode() + b"x" * RECORD_BYTES + b"\n")
        start = time.monotonic()
        with open(input_path, "rb") as stdin:
            p = t.spawn("producer", "log_producer", ["--queue", q, "--confirm-timeout", "20", "--reconnect-seconds", "0"],
                        stdin=stdin)
        rc = p.wait(90)
        elapsed = time.monotonic() - start
        if rc is None:
            p.kill()
        r = p.result()
        t.check(rc == 1, f"the producer exits 1 instead of hanging (status {rc} after {elapsed:.0f} s)", r.describe())
        errors = [l for l in r.err_lines if l.startswith("log_producer: error:")]
        t.check(len(errors) == 1, "exactly one error line", r.describe())
        t.check(any("accepted no data" in e or "stopped confirming" in e for e in errors),
                "the error says the broker stopped taking data", r.describe())
        t.check("all confirmed" not in r.err_text, "no claim that records were delivered", r.describe())
    finally:
        set_watermark(t, "0.4")

    t.section("after the alarm clears")
    t.check(wait_for(lambda: t.run("log_producer", ["--queue", q, "after the alarm"], timeout=30).rc == 0, 30, 1),
            "the producer delivers again once the alarm is gone")

    t.section("(b) reconnecting through an alarm that clears after 20 s")
    q2 = t.queue("alarm_wait")
    t.publish(q2, [b"before the alarm"])
    t.get_all(q2, expect=1)
    n = 60
    input_path = t.path("input2.log")
    with open(input_path, "wb") as f:
        for i in range(n):
            f.write(f"w{i:04d} ".encode() + b"x" * RECORD_BYTES + b"\n")
    set_watermark(t, "0.000001")
    try:
        with open(input_path, "rb") as stdin:
            p = t.spawn("producer-wait", "log_producer", ["--queue", q2, "--confirm-timeout", "120"], stdin=stdin)
        time.sleep(20)
        t.check(p.alive(), "the producer is still waiting for the broker after 20 s", p.result().describe())
    finally:
        set_watermark(t, "0.4")
    t.finish_proc(p, 120, "the producer exits 0 once the alarm is gone: every record confirmed")
    got = {b.split(b" ", 1)[0].decode() for _, b in t.get_all(q2, expect=n, timeout=60)}
    missing = [f"w{i:04d}" for i in range(n) if f"w{i:04d}" not in got]
    t.check(not missing, f"every record is in the queue ({len(missing)} missing)", ", ".join(missing[:5]))


if __name__ == "__main__":
    run_test("broker_alarm", body, time_limit=300)
