#!/usr/bin/python3
"""A message far over --max-message-bytes is refused from its size without its body being read
into the aggregator's memory (issue 15, defect 6).
RabbitMQ: from the size its content header declares; the body frames are skipped, and the dead
letter keeps the headers and an empty body. Redis: the take script measures the value inside Redis
and moves it to the dead list there, body and all; the aggregator only hears its size (and the
wait for records drops the value BLMOVE returns in chunks).
A plain client publishes one 60 MB message with a header of its own between two small Logship
records. The aggregator dead-letters the big one with a reason that says its body was not read; its
peak RSS (VmHWM) grows by far less than the message; the small records are written exactly once."""
# transports: amqp redis
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import read_lines, run_test, wait_for  # noqa: E402

BIG = 60 * 1024 * 1024


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def body(t):
    redis = t.env.transport == "redis"
    t.section("one 60 MB message from a plain client")
    q = t.queue("big")
    out = t.path("big.log")
    agg = t.start_aggregator("agg", q, out)
    t.produce(q, b"small record before it\n")
    ok = wait_for(lambda: b"small record before it" in b"".join(read_lines(out)[0]) or not agg.alive(), 120)
    t.check(ok and agg.alive(), "the record before it is written", agg.result().describe())
    before = vm_hwm_kb(agg.p.pid)
    t.note(f"VmHWM before: {before} kB")
    t.publish(q, [(b"B" * BIG, {"x-trace": "big-1"})])
    t.produce(q, b"small record after it\n")
    ok = wait_for(lambda: b"small record after it" in b"".join(read_lines(out)[0]) or not agg.alive(), 120)
    t.check(ok and agg.alive(), "the record after it is written", agg.result().describe())
    after = vm_hwm_kb(agg.p.pid)
    t.note(f"VmHWM after: {after} kB (the message: {BIG // 1024} kB)")
    t.check(after - before < BIG // 1024 // 3,
            f"peak RSS grew by {after - before} kB, well below the message's {BIG // 1024} kB")
    agg.send_signal(signal.SIGTERM)
    t.finish_proc(agg, 60)
    lines = [ln for ln in read_lines(out)[0] if b"small record" in ln]
    t.check_equal(len(lines), 2, "the records before and after it are written exactly once")
    err = agg.stderr().decode("utf-8", "replace")
    t.check("its body was not read" in err, "the dead-letter log line says the body was not read", err[-1500:])
    dead = t.get_all(q + ".dead", expect=1, timeout=60)
    t.check_equal(len(dead), 1, "exactly one dead letter")
    if dead:
        props, b = dead[0]
        headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in (props.headers or {}).items()}
        reason = headers.get("logship-dead-reason", "")
        t.check(f"message of {BIG} bytes is over the limit" in reason and "its body was not read" in reason,
                "logship-dead-reason gives the size and says the body was not read", reason)
        t.check_equal(headers.get("x-trace"), "big-1", "the original header is kept")
        t.check_equal(headers.get("logship-dead-queue"), q, "logship-dead-queue names the queue")
        if redis:
            t.check(b == b"B" * BIG, "over Redis the dead letter keeps the whole body (it never left Redis)",
                    f"{len(b)} bytes")
            t.check_equal(t.queue_counts(q), (0, 0), "nothing is left in the queue or a processing list")
        else:
            t.check_equal(len(b), 0, "the dead letter carries no body")


if __name__ == "__main__":
    run_test("big_message", body)
