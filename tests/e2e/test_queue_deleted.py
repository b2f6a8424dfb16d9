#!/usr/bin/python3
"""The queue is deleted under running programs (an operator mistake, or `rabbitmqctl delete_queue`):
- a running log_aggregator must notice (its consumer is gone) and exit 1 with one error line naming
  the queue, instead of waiting forever on a queue that no longer exists;
- a running log_producer must not lose the records published after the deletion: by default it
  sends the returned ones again on a fresh connection, which declares the queue again, so they are
  delivered (exit 0); with --reconnect-seconds 0 it does not claim their delivery: it exits 1 and
  counts them as not delivered;
- with a logctl tail running, the records the tail's binding selects are not returned (they reach the
  tail's own queue, and the broker confirms them): the tail notices that the queue is gone, declares
  it again and puts back what it received, so those records are not lost either."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import read_lines, run_test, wait_for  # noqa: E402


def delete_queue(t, q):
    conn = t.pika()
    conn.channel().queue_delete(queue=q)
    conn.close()


def aggregator(t):
    t.section("aggregator: its queue is deleted")
    q = t.queue("agg")
    out = t.path("agg.log")
    p = t.start_aggregator("agg", q, out, "raw")
    t.publish(q, [b"before deletion"], declare=False)
    t.check(wait_for(lambda: read_lines(out)[0] == [b"before deletion"], 10), "the aggregator works before")
    delete_queue(t, q)
    t.note(f"deleted '{q}' at {time.strftime('%H:%M:%S')}")
    rc = p.wait(15)
    if rc is None:
        t.check(False, "the aggregator notices the deleted queue and exits within 15 s",
                "still running (consuming from a queue that no longer exists)\n" + p.result().describe())
        p.kill()
        return
    r = p.result()
    t.check(rc == 1, f"the aggregator exits 1 once its queue is gone (status {rc})", r.describe())
    errors = [l for l in r.err_lines if l.startswith("log_aggregator: error:")]
    t.check(len(errors) == 1 and q in errors[0], "one error line naming the queue", r.describe())


def producer(t, reconnect):
    t.section(f"producer: its queue is deleted while it reads stdin ({'default' if reconnect else '--reconnect-seconds 0'})")
    q = t.queue("prod" if reconnect else "prod_noreconnect")
    args = ["--queue", q, "--batch-records", "1"] + ([] if reconnect else ["--reconnect-seconds", "0"])
    p = t.spawn("producer" if reconnect else "producer-noreconnect", "log_producer", args, stdin=subprocess.PIPE)
    p.p.stdin.write(b"".join(f"a{i}\n".encode() for i in range(10)))
    p.p.stdin.flush()
    t.check(wait_for(lambda: t.queue_ready(q) == 10, 15, 0.2), "10 records in the queue before the deletion")
    delete_queue(t, q)
    p.p.stdin.write(b"".join(f"b{i}\n".encode() for i in range(10)))
    p.p.stdin.flush()
    time.sleep(0.5)
    p.p.stdin.close()
    rc = p.wait(30)
    if rc is None:
        p.kill()
    r = p.result()
    t.check(r.out == b"", "nothing on stdout")
    if reconnect:
        t.check(rc == 0, f"the producer exits 0: the returned records were sent again (status {rc})", r.describe())
        t.check("NO_ROUTE" in r.err_text, "it says why it resent them", r.describe())
        got = sorted(b.decode() for _, b in t.get_all(q, expect=10))
        t.check_equal(got, sorted(f"b{i}" for i in range(10)), "the 10 records sent after the deletion are in the "
                      "declared-again queue")
        return
    t.check(rc == 1, f"the producer exits 1 (status {rc})", r.describe())
    errors = [l for l in r.err_lines if l.startswith("log_producer: error:")]
    t.check(len(errors) == 1 and "10 of 20" in errors[0], "the error line counts 10 of 20 records not delivered",
            r.describe())


def producer_with_tail(t):
    t.section("producer: its queue is deleted while a logctl tail runs")
    q = t.queue("prod_tailed")
    r = t.run("logctl", ["setup", "--queue", q])
    t.require(r.rc == 0, "logctl setup", r.describe())
    tail = t.spawn("tail", "logctl", ["tail", "--queue", q, "--format", "raw"])
    t.require(wait_for(lambda: b"logctl: tailing" in tail.stderr() or not tail.alive(), 30) and tail.alive(),
              "a logctl tail is subscribed", tail.result().describe())
    p = t.spawn("producer-tailed", "log_producer", ["--queue", q, "--batch-records", "1"], stdin=subprocess.PIPE)
    p.p.stdin.write(b"".join(f"a{i}\n".encode() for i in range(10)))
    p.p.stdin.flush()
    t.check(wait_for(lambda: t.queue_ready(q) == 10, 15, 0.2), "10 records in the queue before the deletion")
    delete_queue(t, q)
    p.p.stdin.write(b"".join(f"b{i}\n".encode() for i in range(10)))
    p.p.stdin.close()
    t.finish_proc(p, 30, "the producer exits 0 (the broker confirmed the records: they reached the tail's queue)")
    t.check(wait_for(lambda: tail.stdout().count(b"\n") == 20, 15), "the tail showed the 20 records")
    t.check(wait_for(lambda: b"put back" in tail.stderr(), 15), "the tail says it put back what it received",
            tail.stderr().decode(errors="replace"))
    tail.send_signal(signal.SIGINT)
    t.finish_proc(tail, 15, "the tail exits 0 on SIGINT")
    got = [b.decode() for _, b in t.get_all(q)]
    missing = [f"b{i}" for i in range(10) if f"b{i}" not in got]
    t.check(not missing, f"every record sent after the deletion is in the declared-again queue ({len(got)} messages: "
            f"the others are a* records the tail put back too, duplicates at worst)", f"missing {missing}; got {got}")
    t.check(all(g in {f"a{i}" for i in range(10)} | {f"b{i}" for i in range(10)} for g in got), "nothing else is there")


def body(t):
    producer_with_tail(t)
    producer(t, reconnect=True)
    producer(t, reconnect=False)
    aggregator(t)


if __name__ == "__main__":
    run_test("queue_deleted", body)
