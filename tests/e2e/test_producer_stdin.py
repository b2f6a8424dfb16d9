#!/usr/bin/python3
"""log_producer reading standard input:
- 50,000 lines piped in arrive complete and in order through one aggregator at --prefetch 1;
- input trickling in through a pipe (pauses, lines split across writes, CRLF endings) is shipped
  line by line (empty lines skipped), and a last line without a trailing newline is sent too;
- SIGTERM while reading stdin: the producer stops, every line already sent is confirmed (exit 0)."""
# transports: amqp redis
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import read_lines, run_test, wait_for  # noqa: E402

N = 50000


def bulk(t):
    t.section(f"{N} lines piped, one aggregator at --prefetch 1")
    q = t.queue("bulk")
    records = [f"line {n:05d} of the big batch" for n in range(N)]
    r = t.produce(q, ("\n".join(records) + "\n").encode(), ["--batch-records", "1"], timeout=300)
    t.check(f"sent {N} records" in r.err_text, f"the producer reports {N} records sent and confirmed", r.describe())
    t.check_equal(t.queue_ready(q), N, f"{N} records in the queue")
    out = t.path("bulk.log")
    start = time.monotonic()
    t.drain("agg-bulk", q, out, "raw", ["--prefetch", "1"], idle=2, timeout=300)
    t.note(f"drained in {time.monotonic() - start:.1f} s (including 2 s idle)")
    lines, partial = read_lines(out)
    got = [l.decode() for l in lines]
    t.check(partial == b"", "the output ends with a newline")
    t.check_equal(len(got), N, f"{N} lines written")
    first_bad = next((i for i, (a, b) in enumerate(zip(records, got)) if a != b), None)
    t.check(first_bad is None and len(got) == N, "every line arrived, in order",
            f"first difference at #{first_bad}: expected {records[first_bad]!r}, got {got[first_bad]!r}"
            if first_bad is not None else f"{len(got)} lines")


def trickle(t):
    t.section("input trickling through a pipe, CRLF, last line without newline")
    q = t.queue("trickle")
    p = t.spawn("producer-trickle", "log_producer", ["--queue", q, "--batch-records", "1"], stdin=subprocess.PIPE)
    chunks = [b"first li", b"ne\nsecond line\r\nthi", b"rd line\n", None, b"fourth\n\n\r\nfifth after a pause\n",
              None, b"last line without newline"]
    for c in chunks:
        if c is None:
            time.sleep(1.5)  # longer than the producer's 1 s idle poll
            continue
        p.p.stdin.write(c)
        p.p.stdin.flush()
        time.sleep(0.1)
    # While the pipe is still open, the complete lines must already be in the queue.
    ok = wait_for(lambda: t.queue_ready(q) == 5, 10, 0.2)
    t.check(ok, f"complete lines are shipped while stdin stays open (ready: {t.queue_ready(q)}, want 5)")
    p.p.stdin.close()
    t.finish_proc(p, 30, "the producer exits 0 at end of input")
    # docs/CLI.md (log_producer): empty lines carry nothing and are skipped, their count is logged.
    t.check(b"skipped 2 empty line" in p.stderr(), "the 2 empty lines (LF, CRLF) are skipped and counted",
            p.result().describe())
    got = [b for _, b in t.get_all(q, expect=6)]
    t.check_equal(got, [b"first line", b"second line", b"third line", b"fourth", b"fifth after a pause",
                        b"last line without newline"],
                  "every non-empty line arrived once, CR of CRLF removed, the last line without newline included")


def sigterm(t):
    t.section("SIGTERM while reading stdin")
    q = t.queue("term")
    p = t.spawn("producer-term", "log_producer", ["--queue", q, "--batch-records", "1"], stdin=subprocess.PIPE)
    p.p.stdin.write(b"".join(f"before signal {i}\n".encode() for i in range(100)))
    p.p.stdin.flush()
    ok = wait_for(lambda: t.queue_ready(q) == 100, 15, 0.2)
    t.check(ok, "the first 100 lines are in the queue")
    p.send_signal(signal.SIGTERM)
    rc = p.wait(10)
    if rc is None:
        p.kill()
    t.check(rc == 0, f"the producer exits 0 after SIGTERM (status {rc})", p.result().describe())
    try:
        p.p.stdin.close()
    except OSError:
        pass
    t.check_equal(t.queue_ready(q), 100, "exactly the 100 lines read before the signal are in the queue")


def body(t):
    trickle(t)
    sigterm(t)
    bulk(t)


if __name__ == "__main__":
    run_test("producer_stdin", body)
