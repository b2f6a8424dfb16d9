#!/usr/bin/python3
"""Records held back by an unwritable output or a clean stop never count as failed deliveries
(issue 14, defect 1): only a delivery that may have crashed the aggregator counts towards
--max-deliveries, so a full disk plus restarts (the systemd units restart on failure) never sends
healthy records to the dead-letter queue as poison.
(a) Three records; an aggregator whose output cannot take a byte (`prlimit --fsize=64K`, each line 70 KB) gives up
    after --write-retry-seconds 1 (exit 1), seven times in a row: each time it gives the records back
    as they were. Then an aggregator without the limit writes all three once; nothing is
    dead-lettered, and it counted no failed delivery.
(b) The same with SIGINT while the limited aggregator holds them (six times).
One record per message, so over RabbitMQ the broker pushes all three to the aggregator at once."""
# transports: amqp redis
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import Proc, read_lines, run_test, tally, wait_for  # noqa: E402

# Each line is larger than the file size limit (which applies to stderr's capture file too, so it
# cannot be tiny): no record can be written while the limit holds.
LIMIT = 64 * 1024
RECORDS = [name + "-" + name[0] * (70 * 1024) for name in ("alpha", "bravo", "charlie")]


def limited(t, label, q, out, extra=()):
    args = ["prlimit", f"--fsize={LIMIT}:unlimited", t.env.prog("log_aggregator"), "--queue", q, "--output", out,
            "--format", "raw"] + list(extra)
    return Proc(t, label, args)


def hold_and_exit(t, label, q, out, how):
    """Runs a limited aggregator until it holds the records, then lets it exit `how`; returns its stderr."""
    if how == "give-up":
        p = limited(t, label, q, out, ["--write-retry-seconds", "1"])
    else:
        p = limited(t, label, q, out)
        # Holding (the first write failed) with all three taken from the queue. The "holding N records"
        # line comes once, at the first failure, and the broker may push the three in more than one go.
        ok = wait_for(lambda: (b"holding" in p.stderr() and t.queue_ready(q) == 0) or not p.alive(), 60)
        t.require(ok and p.alive(), f"{label} holds the three records (its output takes nothing)",
                  p.result().describe())
        p.send_signal(signal.SIGINT)
    rc = p.wait(60)
    t.check(rc == 1, f"{label} exits 1 ({how}) holding records it could not write", p.result().describe())
    err = p.stderr().decode("utf-8", "replace")
    t.check("given back to the queue as they were" in err, f"{label} says it gave them back uncounted", err[-1500:])
    return err


def part(t, tag, how, runs):
    q = t.queue(tag)
    t.produce(q, ("\n".join(RECORDS) + "\n").encode(), ["--batch-records", "1"])
    out = t.path(f"{tag}.log")
    for k in range(1, runs + 1):
        err = hold_and_exit(t, f"agg-{tag}{k}", q, out, how)
        t.check("dead-lettered" not in err.replace("0 dead-lettered", ""), f"agg-{tag}{k} dead-letters nothing",
                err[-1500:])
    t.check_equal(t.queue_ready(q + ".dead"), 0, f"after {runs} runs nothing is in '{q}.dead'")
    p, _ = t.drain(f"agg-{tag}-free", q, out)
    err = p.stderr().decode("utf-8", "replace")
    t.check("0 dead-lettered" in err and "0 put back to count a failed delivery" in err,
            "it dead-letters nothing and counts no failed delivery", err[-1500:])
    lines, partial = read_lines(out)
    missing, dups, unexpected, _ = tally(RECORDS, [l.decode() for l in lines])
    t.check(not missing and dups == 0 and not unexpected and partial == b"",
            f"an aggregator without the limit writes all three once (missing {missing}, duplicates {dups})")
    t.check_equal(t.queue_ready(q + ".dead"), 0, "nothing dead-lettered in the end")


def body(t):
    t.section("(a) seven runs that give up on an unwritable output (--write-retry-seconds 1)")
    part(t, "a", "give-up", 7)
    t.section("(b) six runs stopped with SIGINT while holding the records")
    part(t, "b", "sigint", 6)


if __name__ == "__main__":
    run_test("held_not_poison", body)
