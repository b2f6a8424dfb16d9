#!/usr/bin/python3
"""3 aggregators share one queue while 4 producers ship 5,000 unique records each in parallel:
every record must come out exactly once across the three output files, and every aggregator must
have taken part of the work."""
# transports: amqp redis
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import count_lines, read_lines, run_test, sample, tally, wait_for  # noqa: E402

PRODUCERS = 4
PER_PRODUCER = 5000
AGGREGATORS = 3


def body(t):
    q = t.queue()
    # Declare the topology first so that no producer publishes before the queue exists.
    r = t.run("logctl", ["setup", "--queue", q])
    t.require(r.rc == 0, "logctl setup declares the queue", r.describe())

    outputs = [t.path(f"agg{a}.log") for a in range(AGGREGATORS)]
    # Small batches and a small prefetch: with the default batching each producer's 5,000 records
    # fit in one message, four messages in all, and one aggregator may well get none of them.
    aggs = [t.start_aggregator(f"agg{a}", q, outputs[a], "raw", ["--prefetch", "10"]) for a in range(AGGREGATORS)]

    expected = []
    producers = []
    for i in range(PRODUCERS):
        records = [f"p{i}-{n:05d}" for n in range(PER_PRODUCER)]
        expected += records
        path = t.path(f"producer{i}.in")
        with open(path, "w") as f:
            f.write("\n".join(records) + "\n")
        with open(path, "rb") as stdin:
            producers.append(t.spawn(f"producer{i}", "log_producer", ["--queue", q, "--service", f"p{i}",
                                                                  "--batch-records", "10"], stdin=stdin))

    t.section("producers")
    for p in producers:
        t.finish_proc(p, 180, f"{p.label} ships {PER_PRODUCER} records and exits 0")
        t.check(b"all confirmed" in p.stderr(), f"{p.label} reports every record confirmed", p.result().describe())

    t.section("aggregators: wait until the queue is drained, then SIGTERM")
    total = PRODUCERS * PER_PRODUCER
    drained = wait_for(lambda: sum(count_lines(o) for o in outputs) >= total and t.queue_counts(q) == (0, 0),
                       180, 0.5)
    t.check(drained, f"the queue is drained (ready and unacked 0) and {total} lines written within 180 s",
            f"lines {[count_lines(o) for o in outputs]}, queue (ready, unacked) {t.queue_counts(q)}")
    time.sleep(1)  # anything written twice would show up now
    for a in aggs:
        t.check(a.alive(), f"{a.label} is still running", a.result().describe())
        a.send_signal(signal.SIGTERM)
    for a in aggs:
        t.finish_proc(a, 15, f"{a.label} exits 0 on SIGTERM")

    t.section("every record exactly once")
    all_lines = []
    shares = []
    for a, out in enumerate(outputs):
        lines, partial = read_lines(out)
        t.check(partial == b"", f"agg{a}'s output ends with a newline", f"trailing bytes: {partial[:100]!r}")
        shares.append(len(lines))
        all_lines += [l.decode("utf-8", "replace") for l in lines]
    missing, dups, unexpected, _ = tally(expected, all_lines)
    t.note(f"split across aggregators: {shares} (total {sum(shares)} lines for {total} records)")
    t.check(len(missing) == 0, f"no record missing ({len(missing)} missing)", sample(missing))
    t.check(dups == 0, f"no record duplicated ({dups} duplicates)")
    t.check(len(unexpected) == 0, f"no unexpected line ({len(unexpected)} unexpected)", sample(unexpected))
    t.check(sum(shares) == total, f"{total} lines in all")
    for a, n in enumerate(shares):
        t.check(n > 0, f"agg{a} wrote a non-zero share ({n} records)")

    t.section("per-producer order inside each output")
    # One queue, no redelivery: each aggregator sees a subsequence of the queue, so the records of
    # one producer must appear in increasing order in every output file.
    for a, out in enumerate(outputs):
        lines, _ = read_lines(out)
        last = {}
        disorder = []
        for l in lines:
            p, _, n = l.decode("utf-8", "replace").partition("-")
            if not n.isdigit():
                continue
            if p in last and int(n) <= last[p]:
                disorder.append(f"{p}-{n} after {p}-{last[p]:05d}")
            last[p] = int(n)
        t.check(not disorder, f"agg{a}: each producer's records in order", "; ".join(disorder[:5]))

    t.section("queue state")
    t.check_equal(t.queue_ready(q), 0, "the queue is empty at the end")
    t.check_equal(t.queue_ready(q + ".dead"), 0, "nothing was dead-lettered")


if __name__ == "__main__":
    run_test("pipeline", body)
