#!/usr/bin/python3
"""log_producer's progress while it sends what an earlier run left in its spool (--spool-dir).

Each part first leaves N records in a spool: a producer whose broker is unreachable accepts them
into the spool and gives up (exit 1). Then `log_producer --spool-dir DIR </dev/null` sends them to
the real broker:
(a) standard error is a pipe (not a terminal): it carries exactly the log line saying what the
    spool holds and the summary line, no progress, no control sequence;
(b) standard error is a pseudo-terminal: a progress line ("K of N records from an earlier run
    left, S sent (R records/s)") is drawn at once and redrawn in place ("\\r\\x1b[K"), left + sent
    is always N and left never grows, and the line is cleared before the summary line;
(c) on a pseudo-terminal with an empty spool nothing but the summary is printed.
An aggregator then writes every one of the 2 N records exactly once.
"""
# transports: amqp redis
import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import read_lines, run_test, tally  # noqa: E402

N = 10000


def fill_spool(t, q, spool, records):
    """Leaves `records` in `spool`: the broker is unreachable, the producer gives up at the end of input."""
    unreachable = "redis://127.0.0.1:1" if t.env.transport == "redis" else "amqp://guest:guest@127.0.0.1:1/"
    r = t.run("log_producer", ["--queue", q, "--spool-dir", spool, "--batch-records", "1", "--reconnect-seconds", "0",
                               "--confirm-timeout", "0.1"],
              input="".join(m + "\n" for m in records).encode(), env=t.child_env(LOGSHIP_BROKER=unreachable),
              timeout=120)
    t.require(r.rc == 1 and f"{len(records)} still in the spool".encode() in r.err,
              f"{len(records)} records are left in the spool {os.path.basename(spool)} (broker unreachable)",
              r.describe())


def run_on_pty(t, args, timeout=120):
    """Runs log_producer with stdin /dev/null and stderr on a pseudo-terminal (400 columns).
    Returns (exit status, bytes the terminal received, stdout bytes)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 400, 0, 0))
    p = subprocess.Popen([t.env.prog("log_producer")] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=slave, cwd=t.tmp, env=t.child_env())
    os.close(slave)
    got = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every slave side is closed (the producer exited)
                break
            if not chunk:
                break
            got += chunk
        elif p.poll() is not None:
            break
    os.close(master)
    try:
        rc = p.wait(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    out = p.stdout.read()
    p.stdout.close()
    return rc, got, out


def body(t):
    q = t.queue()
    summary = f"log_producer: sent {N} records to '{q}', all confirmed by the broker ({N} left in the spool by an " \
              "earlier run)"

    t.section("(a) standard error not a terminal: no progress")
    quiet_spool = t.path("spool-quiet")
    quiet_records = [f"quiet {i:05d}" for i in range(N)]
    fill_spool(t, q, quiet_spool, quiet_records)
    r = t.run("log_producer", ["--queue", q, "--spool-dir", quiet_spool], input=b"", timeout=120)
    t.check(r.rc == 0, f"the earlier run's {N} records are sent, exit 0", r.describe())
    lines = r.err_text.split("\n")
    t.check(len(lines) == 3 and lines[0].endswith(f"spool {quiet_spool}: {N} record(s) left by an earlier run are sent "
                                                  "first") and lines[1] == summary and lines[2] == "",
            "stderr holds the two lines of any run on a spool: what is left, and the summary", r.err_text)
    t.check(b"\r" not in r.err and b"\x1b" not in r.err and r.out == b"", "no progress line, no control sequence",
            r.describe())

    t.section("(b) standard error a terminal: progress while the spool drains, cleared at the end")
    tty_spool = t.path("spool-tty")
    tty_records = [f"tty {i:05d}" for i in range(N)]
    fill_spool(t, q, tty_spool, tty_records)
    rc, term, out = run_on_pty(t, ["--queue", q, "--spool-dir", tty_spool])
    text = term.decode("utf-8", "replace")
    t.check(rc == 0 and out == b"", f"the earlier run's {N} records are sent, exit 0", f"rc {rc}\n{text!r}")
    # The shipper starts sending as soon as it is built, so the first draw may already count some as
    # sent (on a fast broker, a few hundred; on a loaded machine even all); it has measured no rate yet.
    first = re.compile(r"\r\x1b\[Klog_producer: spool " + re.escape(tty_spool) +
                       r": (\d+) of " + str(N) + r" records from an earlier run left, (\d+) sent \(0 records/s\)")
    start = text.find("\r\x1b[K")
    m = first.match(text, start) if start > 0 else None
    t.check(m is not None and text[:start].endswith("left by an earlier run are sent first\r\n") and
            int(m.group(1)) + int(m.group(2)) == N,
            "after the log line saying what is left, a progress line is drawn at once, with no rate yet",
            repr(text[:500]))
    shown = re.findall(r"\r\x1b\[Klog_producer: spool [^:]+: (\d+) of (\d+) records from an earlier run left, (\d+) sent "
                       r"\((\d+) records/s\)", text)
    lefts = [int(left) for left, _, _, _ in shown]
    t.check(shown and all(int(total) == N and int(left) + int(sent) == N for left, total, sent, _ in shown),
            f"every redraw ({len(shown)}) says left + sent = {N}", shown[:10])
    t.check(lefts == sorted(lefts, reverse=True), "the count left never grows", lefts[:20])
    t.check(text.endswith("\r\x1b[K" + summary + "\r\n"), "the progress line is cleared, then the summary is printed",
            repr(text[-400:]))

    t.section("(c) standard error a terminal, empty spool: nothing but the summary")
    rc, term, out = run_on_pty(t, ["--queue", q, "--spool-dir", tty_spool])
    text = term.decode("utf-8", "replace")
    t.check(rc == 0 and text == f"log_producer: sent 0 records to '{q}', all confirmed by the broker\r\n",
            "no progress line when the spool holds nothing from an earlier run", repr(text))

    t.section("every record written once")
    output = t.path("out.log")
    t.drain("drain", q, output)
    lines = [line.decode() for line in read_lines(output)[0]]
    missing, dups, unexpected, _ = tally(quiet_records + tty_records, lines)
    t.check(len(lines) == 2 * N and not missing and not dups and not unexpected,
            f"the aggregator writes all {2 * N} records once",
            f"{len(lines)} lines, missing {len(missing)}, dups {dups}, unexpected {len(unexpected)}")


run_test("spool_progress", body)
