#!/usr/bin/python3
"""Output write errors: the aggregator never acks a record it did not write, and never loses one.
The aggregator runs under `prlimit --fsize=BYTES:unlimited` (soft limit BYTES), so its writes past
BYTES fail with EFBIG (a short write first, cutting a line in the middle), as on a full disk.
Only the soft limit is lowered, so lifting it needs no CAP_SYS_RESOURCE.
(a) It keeps running, logs one clear error, acks exactly the records whose lines are whole in the
    file and holds the rest (they stay ready or unacked in the broker). When the limit is lifted
    at run time (`prlimit --pid PID --fsize=unlimited:unlimited`) it completes the cut line and writes every
    record exactly once; SIGTERM then exits 0.
(b) SIGTERM while it still cannot write: exit 1 with one error line; the cut line's fragment is
    removed, so the file ends with a whole line; every record not in the file is back in the queue,
    and a second aggregator writes them: none lost, none written twice.
(c) --write-retry-seconds: it gives up after that long (exit 1), and nothing unwritten is acked."""
# transports: amqp redis
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import Proc, count_lines, read_lines, run_test, sample, tally, wait_for  # noqa: E402

LINE = 61  # bytes per output line (raw format): 60 characters and '\n'
# One record per message: the file size limit applies to the duplicate journal too, and a journal
# entry for a batch of 1000-record messages (one id per record) would reach it before the output.
ONE_PER_MESSAGE = ["--batch-records", "1"]


def records(tag, n):
    return [f"{tag}-{i:05d}-".ljust(LINE - 1, "x") for i in range(n)]


def start_limited(t, label, q, out, limit, extra=()):
    """An aggregator whose files may not grow past `limit` bytes."""
    args = ["prlimit", f"--fsize={limit}:unlimited", t.env.prog("log_aggregator"), "--queue", q, "--output", out,
            "--format", "raw"] + list(extra)
    p = Proc(t, label, args)
    t.wait_ready(p)
    return p


def wait_error(t, p, timeout=30):
    ok = wait_for(lambda: b"cannot write to" in p.stderr() or not p.alive(), timeout)
    t.require(ok and p.alive(), f"{p.label} reports the write error and keeps running", p.result().describe())
    line = next(l for l in p.stderr().decode("utf-8", "replace").splitlines() if "cannot write to" in l)
    t.note(f"stderr: {line}")
    return line


def acked(t, q, total):
    """Records the broker forgot (acked): total - ready - unacked."""
    counts = t.queue_counts(q)
    return None if counts is None else total - counts[0] - counts[1], counts


def part_a(t):
    t.section("(a) the output stops taking data mid-line; the limit is lifted at run time")
    n, limit = 5000, 100_000
    q = t.queue("resume")
    expected = records("a", n)
    t.produce(q, ("\n".join(expected) + "\n").encode(), ONE_PER_MESSAGE)
    out = t.path("resume.log")
    p = start_limited(t, "agg-limited", q, out, limit)
    line = wait_error(t, p)
    t.check("File too large" in line and "holding" in line and "nothing is acknowledged until written" in line,
            "the error line gives the reason, what is held and that nothing is acknowledged", line)
    time.sleep(2)
    t.check(p.alive(), "the aggregator is still running 2 s later", p.result().describe())
    lines, partial = read_lines(out)
    t.check_equal(os.path.getsize(out), limit, "the file grew exactly to the limit")
    t.check(partial != b"", f"the limit cut a line ({len(partial)} bytes of it are in the file)")
    written = len(lines)
    # Exactly the records whose lines are whole in the file are acked; the rest stay in the broker.
    ok = wait_for(lambda: acked(t, q, n)[0] == written, 10, 0.3)
    done, counts = acked(t, q, n)
    t.check(ok, f"the broker forgot exactly the {written} records written whole (acked {done}; ready, unacked "
                f"= {counts})")
    t.check(counts is not None and 0 < counts[1] <= 200,
            f"what it holds is unacked and at most the prefetch of 200 ({counts[1] if counts else None})")
    time.sleep(3)
    t.check_equal(acked(t, q, n)[0], written, "3 s later still nothing more is acked")
    t.check_equal(os.path.getsize(out), limit, "and the file did not change")
    t.check(p.alive(), "the aggregator keeps running while it cannot write", p.result().describe())

    cp = subprocess.run(["prlimit", "--pid", str(p.pid), "--fsize=unlimited:unlimited"], capture_output=True,
                        timeout=10)
    t.require(cp.returncode == 0, "prlimit lifts the limit of the running aggregator", cp.stderr.decode())
    lifted = time.monotonic()
    t.check(wait_for(lambda: b"output writable again" in p.stderr(), 45),
            "it notices that the output is writable again", p.result().describe())
    t.note(f"resumed {time.monotonic() - lifted:.1f} s after the limit was lifted")
    t.check(wait_for(lambda: count_lines(out) >= n, 60), f"all {n} lines are written", f"{count_lines(out)} lines")
    p.send_signal(signal.SIGTERM)
    t.check_equal(p.wait(15), 0, "SIGTERM afterwards: exit 0")
    lines, partial = read_lines(out)
    t.check(partial == b"", "the file ends with a whole line", repr(partial[:80]))
    missing, dups, unexpected, _ = tally(expected, [l.decode() for l in lines])
    t.check(not missing, f"no record lost ({len(missing)} missing)", sample(missing))
    t.check(dups == 0, f"no record written twice ({dups} duplicates), the cut line was completed, not repeated")
    t.check(not unexpected, f"no torn or foreign line ({len(unexpected)})", sample(unexpected))
    t.check_equal(t.queue_counts(q), (0, 0), "queue empty (ready, unacked) at the end")
    t.check(b"failed write attempts" in p.stderr(), "the exit line counts the failed write attempts",
            p.result().describe())


def part_b(t):
    t.section("(b) SIGTERM while the output is still unwritable")
    n, limit = 3000, 50_000
    q = t.queue("stop")
    expected = records("b", n)
    t.produce(q, ("\n".join(expected) + "\n").encode(), ONE_PER_MESSAGE)
    out, out2 = t.path("stopped.log"), t.path("after-stop.log")
    p = start_limited(t, "agg-stopped", q, out, limit)
    wait_error(t, p)
    time.sleep(1)
    p.send_signal(signal.SIGTERM)
    start = time.monotonic()
    rc = p.wait(15)
    took = time.monotonic() - start
    if rc is None:
        p.kill()
    t.check(rc == 1, f"exit status 1: records were not written ({rc}, {took:.2f} s)", p.result().describe())
    t.check(took < 5, f"it stops promptly ({took:.2f} s)")
    r = p.result()
    last = r.err_lines[-1] if r.err_lines else ""
    t.check(last.startswith("log_aggregator: error: stopped with ") and "File too large" in last
            and "back to the queue" in last, "the last stderr line says what was held, why, and where it went", last)
    lines, partial = read_lines(out)
    t.check(partial == b"", "the cut line's fragment was removed: the file ends with a whole line", repr(partial[:80]))
    want = (n - len(lines), 0)
    wait_for(lambda: t.queue_counts(q) == want, 10, 0.3)
    t.check_equal(t.queue_counts(q), want, f"every record not in the file ({n - len(lines)}) is back in the queue")
    t.drain("agg-drain", q, out2)
    lines2, _ = read_lines(out2)
    missing, dups, unexpected, _ = tally(expected, [l.decode() for l in lines + lines2])
    t.check(not missing, f"no record lost ({len(missing)} missing)", sample(missing))
    t.check(dups == 0, f"no record written twice ({dups} duplicates)")
    t.check(not unexpected, f"no torn or foreign line ({len(unexpected)})", sample(unexpected))


def part_c(t):
    t.section("(c) --write-retry-seconds 2: gives up, acks nothing unwritten")
    n, limit = 1000, 20_000
    q = t.queue("giveup")
    expected = records("c", n)
    t.produce(q, ("\n".join(expected) + "\n").encode(), ONE_PER_MESSAGE)
    out = t.path("giveup.log")
    p = start_limited(t, "agg-giveup", q, out, limit, ["--write-retry-seconds", "2"])
    rc = p.wait(20)
    if rc is None:
        p.kill()
    r = p.result()
    t.check(rc == 1, f"exit status 1 ({rc})", r.describe())
    last = r.err_lines[-1] if r.err_lines else ""
    t.check("gave up after" in last and "--write-retry-seconds" in last and "back to the queue" in last,
            "the error names the limit and where the records went", last)
    lines, partial = read_lines(out)
    t.check(partial == b"", "the file ends with a whole line", repr(partial[:80]))
    want = (n - len(lines), 0)
    wait_for(lambda: t.queue_counts(q) == want, 10, 0.3)
    t.check_equal(t.queue_counts(q), want, "every record not in the file is back in the queue")


def body(t):
    part_a(t)
    part_b(t)
    part_c(t)


if __name__ == "__main__":
    run_test("write_errors", body)
