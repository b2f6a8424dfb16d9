#!/usr/bin/python3
"""Chaos: one aggregator is SIGKILLed three times during a 100,000-record run and restarted each
time on the same output file (over Redis under the same consumer id, which the default derives
from the output path). In the end the file holds every record exactly once: zero lost, and zero
duplicates, because the restarted aggregator's id journal skips what the file already holds."""
# transports: amqp redis
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import count_lines, read_lines, run_test, sample, tally, wait_for  # noqa: E402

N = 100_000
KILLS = 3


def body(t):
    q = t.queue()
    records = [f"r{n:06d}" for n in range(N)]
    t.produce(q, ("\n".join(records) + "\n").encode(), timeout=300)
    t.check_equal(t.queue_ready(q), N, f"{N} records waiting")
    out = t.path("out.log")
    # --fsync makes each batch slower, so the kills land between write and ack more often.
    args = ["--fsync"]
    for k in range(KILLS):
        p = t.start_aggregator(f"agg-{k}", q, out, "raw", args, wait_ready=False)
        target = N * (k + 1) // (KILLS + 1)
        reached = wait_for(lambda: count_lines(out) >= target or not p.alive(), 180, 0.005)
        t.require(reached and p.alive(), f"agg-{k} runs until {target} lines are written", p.result().describe())
        p.send_signal(signal.SIGKILL)
        t.check(p.wait(10) == -signal.SIGKILL, f"agg-{k} SIGKILLed at {count_lines(out)} lines")
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
