#!/usr/bin/python3
"""Chaos: one aggregator is SIGKILLed three times during a 100,000-record run (a producer with
default batching feeds them over about 10 s while the aggregator writes) and restarted each
time on the same output file (over Redis under the same consumer id, which the default derives
from the output path). In the end the file holds every record exactly once: zero lost, and zero
duplicates, because the restarted aggregator's id journal skips what the file already holds."""
# transports: amqp redis
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import count_lines, feed_pipe, read_lines, run_test, sample, tally, wait_for  # noqa: E402

N = 100_000
KILLS = 3


def body(t):
    q = t.queue()
    records = [f"r{n:06d}" for n in range(N)]
    r = t.run("logctl", ["setup", "--queue", q])
    t.require(r.rc == 0, "logctl setup", r.describe())
    rfd, wfd = os.pipe()
    producer = t.spawn("producer", "log_producer", ["--queue", q], stdin=rfd)  # default batching
    os.close(rfd)

    feeder = feed_pipe(records, wfd, pace=0.1, chunk=1000)  # about 10 s: the kills land while records come
    out = t.path("out.log")
    # --fsync makes each batch slower, so the kills land between write and ack more often.
    args = ["--fsync"]
    for k in range(KILLS):
        p = t.start_aggregator(f"agg-{k}", q, out, "raw", args, wait_ready=False)
        target = N * (k + 1) // (KILLS + 1)
        reached = wait_for(lambda: count_lines(out) >= target or not p.alive(), 180, 0.005)
        t.require(reached and p.alive(), f"agg-{k} runs until {target} lines are written", p.result().describe())
        p.send_signal(signal.SIGKILL)
        at = count_lines(out)
        t.check(p.wait(10) == -signal.SIGKILL and at < N, f"agg-{k} SIGKILLed mid-run, at {at} lines")
    feeder.join()
    t.finish_proc(producer, 120, "the producer exits 0: every record confirmed")
    t.drain("agg-final", q, out, "raw", args, idle=2, timeout=300)
    lines, partial = read_lines(out)
    if partial:
        t.note(f"the file ends with a partial line {partial[:40]!r} from a kill (not counted)")
    missing, dups, unexpected, _ = tally(records, [l.decode() for l in lines])
    t.check(not missing, f"zero records lost ({len(missing)} missing)", sample(missing))
    t.check(not unexpected, "no unexpected line", sample(unexpected))
    t.note(f"duplicates after {KILLS} SIGKILLs: {dups}")
    t.check(dups == 0, f"zero duplicates: the id journal skips redelivered records already in the file ({dups})")
    t.check_equal(t.queue_counts(q), (0, 0), "the queue is empty at the end (ready, unacked)")


if __name__ == "__main__":
    run_test("chaos_aggregator_kills", body, time_limit=900)
