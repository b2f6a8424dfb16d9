#!/usr/bin/python3
"""Chaos: the broker goes away mid-stream and comes back, while a producer ships 20,000 records
from a pipe and two aggregators consume them.
(a) the broker is stopped cleanly (RabbitMQ: stop_app, Redis: SIGTERM) for 4 s, then started;
(b) the broker process is SIGKILLed, then restarted on its data.
Each time the producer must reconnect, resend what was not confirmed and exit 0 (every record
confirmed); the aggregators must reconnect and go on; in the end every record is in the outputs:
zero lost (duplicates are allowed by at-least-once and reported)."""
# transports: amqp redis
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import broker_down, broker_up, count_lines, feed_pipe, read_lines, run_test, sample, tally, wait_for  # noqa: E402

N = 20000


def scenario(t, how):
    t.section(f"({how}) broker {'stopped' if how == 'stop' else 'SIGKILLed'} mid-stream for about 4 s")
    q = t.queue(how)
    r = t.run("logctl", ["setup", "--queue", q])
    t.require(r.rc == 0, "logctl setup", r.describe())
    outs = [t.path(f"{how}-agg{i}.log") for i in range(2)]
    aggs = [t.start_aggregator(f"{how}-agg{i}", q, outs[i], "raw") for i in range(2)]
    records = [f"{how}-{n:05d}" for n in range(N)]
    rfd, wfd = os.pipe()
    producer = t.spawn(f"{how}-producer", "log_producer", ["--queue", q, "--confirm-timeout", "120"],
                       stdin=rfd)
    os.close(rfd)

    feeder = feed_pipe(records, wfd, pace=0.1)  # about 8 s of input, so the outage falls in the middle
    t.require(wait_for(lambda: sum(count_lines(o) for o in outs) > 2000, 60, 0.05), "records flow before the outage")
    broker_down(t, how)
    t.note(f"broker down after {sum(count_lines(o) for o in outs)} lines written")
    time.sleep(4)
    t.check(producer.alive(), "the producer waits for the broker instead of failing", producer.result().describe())
    t.check(all(a.alive() for a in aggs), "both aggregators wait for the broker instead of failing")
    broker_up(t, how)
    feeder.join()
    t.finish_proc(producer, 240, "the producer exits 0: every record confirmed after the reconnect")
    t.check(b"reconnect" in producer.stderr(), "the producer says it reconnected", producer.result().describe())
    done = wait_for(lambda: len(set(l for o in outs for l in read_lines(o)[0])) >= N, 180, 0.5)
    t.check(done, f"all {N} distinct records written within 180 s of the restart",
            f"distinct lines: {len(set(l for o in outs for l in read_lines(o)[0]))}")
    time.sleep(1)
    for a in aggs:
        t.check(a.alive(), f"{a.label} is still running", a.result().describe())
        t.check(b"reconnect" in a.stderr(), f"{a.label} says it reconnected", a.result().describe())
        a.send_signal(signal.SIGTERM)
    for a in aggs:
        t.finish_proc(a, 20, f"{a.label} exits 0 on SIGTERM")
    lines = []
    for o in outs:
        complete, partial = read_lines(o)
        t.check(partial == b"", f"{os.path.basename(o)} ends with a complete line", repr(partial[:80]))
        lines += [l.decode() for l in complete]
    missing, dups, unexpected, _ = tally(records, lines)
    t.check(not missing, f"zero records lost ({len(missing)} missing)", sample(missing))
    t.check(not unexpected, "no unexpected line", sample(unexpected))
    t.note(f"duplicates (allowed by at-least-once, no deduplication yet): {dups}")
    t.check_equal(t.queue_counts(q), (0, 0), "the queue is empty at the end (ready, unacked)")


def body(t):
    scenario(t, "stop")
    scenario(t, "kill")


if __name__ == "__main__":
    run_test("chaos_broker_restart", body, time_limit=900)
