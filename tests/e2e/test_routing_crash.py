#!/usr/bin/python3
"""Routing rules under failure: each route file is a full sink (its own duplicate journal, rotation,
reopening, write-error handling), and a delivery is acked only once its records are in every file.
(a) SIGKILL twice mid-stream (--fsync), each time restarting the aggregator on the same files: every
    file (the default output and two routes) holds each of its records exactly once: the journals
    (FILE.ids beside each) keep a redelivery from being written again to a file that has it, and a
    record that reached one file but not another before the kill is written to the other only.
(b) Rotation of the route files (--rotate-bytes 32K, zstd) under load, then logrotate-style
    renaming of one route file and SIGHUP: `logctl search FILE*` reads each output's rotated files
    and live file with every record once; the renamed file holds the records before the SIGHUP, the
    new one those after.
(c) A write error on a route file only (--unrouted-only; the file size limit of `prlimit --fsize`
    stops the route file, not the default output): the aggregator holds, acks exactly the records
    whose lines are whole in every file they go to, and once the limit is lifted writes everything
    exactly once."""
# transports: amqp redis
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import (Proc, count_lines, metrics_address, read_lines, run_test, sample, scrape,  # noqa: E402
                             tally, wait_for)

ONE_PER_MESSAGE = ["--batch-records", "1"]


def produce(t, q, tag, service, level, n, extra=ONE_PER_MESSAGE, width=0):
    records = [f"{tag}-{service}-{level}-{i:05d}".ljust(width, "x") for i in range(n)]
    t.produce(q, ("\n".join(records) + "\n").encode(), ["--service", service, "--level", level] + list(extra))
    return records


def check_exact(t, path, expected, what):
    lines, partial = read_lines(path)
    t.check(partial == b"", f"{what} ends with a whole line", repr(partial[:80]))
    missing, dups, unexpected, _ = tally(expected, [line.decode("utf-8", "replace") for line in lines])
    t.check(not missing and dups == 0 and not unexpected,
            f"{what}: each of its {len(expected)} records exactly once ({len(lines)} lines: {len(missing)} missing, "
            f"{dups} duplicates, {len(unexpected)} unexpected)", f"missing {sample(missing)}\nunexpected "
                                                                 f"{sample(unexpected)}")


def part_a(t):
    t.section("(a) SIGKILL twice, restarting on the same files: every file holds each record once")
    q = t.queue("kill")
    sent = {}
    for service, level, n in (("api", "error", 4000), ("web", "info", 6000), ("web", "error", 2000),
                              ("db", "warn", 3000)):
        sent[(service, level)] = produce(t, q, "k", service, level, n)
    total = sum(len(v) for v in sent.values())
    t.check_equal(t.queue_ready(q), total, f"the backlog of {total} records is in '{q}'")
    every = [r for v in sent.values() for r in v]
    errors = sent[("api", "error")] + sent[("web", "error")]
    web = sent[("web", "info")] + sent[("web", "error")]
    out = t.path("all.log")
    redis = t.env.transport == "redis"
    same_id = ["--consumer-id", f"route-kill-{os.getpid()}", "--lease-seconds", "600"] if redis else []
    args = ["--route", "level>=error:errors.log", "--route", "service=web:web.log", "--fsync"] + same_id
    for run, at in ((1, total // 3), (2, 2 * total // 3)):
        p = t.start_aggregator(f"agg-run{run}", q, out, "raw", args, wait_ready=False)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.alive() and count_lines(out) < at:
            time.sleep(0.002)
        t.require(p.alive(), f"agg-run{run} is still running when the kill is due", p.result().describe())
        p.send_signal(signal.SIGKILL)
        t.check(p.wait(10) == -signal.SIGKILL, f"agg-run{run} died of SIGKILL")
        n = [count_lines(t.path(f)) for f in ("all.log", "errors.log", "web.log")]
        t.note(f"killed run {run} with (all, errors, web) lines {n}")
        t.require(0 < n[0] < total, f"the kill came mid-stream ({n[0]} of {total} lines in all.log)")
    drainer, _ = t.drain("agg-drain", q, out, "raw", args, idle=3)
    m = re.search(rb"wrote (\d+) records .*, (\d+) duplicates skipped", drainer.stderr())
    t.check(m is not None, "the drainer's exit line counts the duplicates skipped", drainer.result().describe())
    if m:
        t.note(f"the drainer wrote {int(m.group(1))} records and skipped {int(m.group(2))} duplicates")
    check_exact(t, out, every, "all.log")
    check_exact(t, t.path("errors.log"), errors, "errors.log (level>=error)")
    check_exact(t, t.path("web.log"), web, "web.log (service=web)")
    t.check_equal(t.queue_counts(q), (0, 0), "queue empty (ready, unacked) at the end")


def search_messages(t, pattern):
    files = sorted(glob.glob(t.path(pattern)))
    r = t.run("logctl", ["search", "--json"] + files)
    t.check(r.rc == 0, f"logctl search {pattern} exits 0", r.describe())
    return [json.loads(line)["message"] for line in r.out_text.splitlines()], files


def part_b(t):
    t.section("(b) rotation of the route files, and SIGHUP after one was renamed")
    q = t.queue("rotate")
    out = t.path("rot/all.log")
    os.makedirs(t.path("rot"))
    agg = t.start_aggregator("agg-rotate", q, out, "text",
                             ["--route", "level>=error:rot/errors.log", "--route", "service=web:rot/web.log",
                              "--rotate-bytes", "32K", "--prefetch", "5", "--metrics-listen", "127.0.0.1:0"])
    address = metrics_address(t, agg)
    # Round 1: errors.log grows to about 9 times the limit; web.log stays under it. At most 50 records
    # (5 messages of 10) are written at once, so a write takes a file at most 5 KB past the limit.
    errors1 = produce(t, q, "r1", "api", "error", 3000, ["--batch-records", "10"])
    web1 = produce(t, q, "r1", "web", "info", 200)
    t.check(wait_for(lambda: scrape(address).value("logship_aggregator_records_written_total") == 3200, 60, 0.2),
            "round 1: 3200 records written")
    os.rename(t.path("rot/web.log"), t.path("rot/web.log.old"))  # what logrotate does, then the SIGHUP
    agg.send_signal(signal.SIGHUP)
    t.check(wait_for(lambda: b"reopened rot/web.log (SIGHUP)" in agg.stderr(), 10),
            "SIGHUP reopens the renamed route file", agg.result().describe())
    t.check(b"SIGHUP: " + out.encode() + b" still names the file being written" in agg.stderr(),
            "SIGHUP reaches the default output too (nothing to reopen there)", agg.result().describe())
    # Round 2.
    errors2 = produce(t, q, "r2", "api", "error", 500)
    web2 = produce(t, q, "r2", "web", "info", 150, ["--batch-records", "10"])
    t.check(wait_for(lambda: scrape(address).value("logship_aggregator_records_written_total") == 3850, 60, 0.2),
            "round 2: 650 more records written")
    agg.send_signal(signal.SIGTERM)
    t.finish_proc(agg, 60, "the aggregator exits 0 on SIGTERM (after finishing its compressions)")
    err = agg.stderr().decode("utf-8", "replace")

    rotated_errors = glob.glob(t.path("rot/errors.log.*Z*.zst"))
    rotated_all = glob.glob(t.path("rot/all.log.*Z*.zst"))
    t.check(len(rotated_errors) >= 5, f"errors.log was rotated and compressed ({len(rotated_errors)} .zst files)",
            err[-2000:])
    t.check(len(rotated_all) >= 5, f"all.log was rotated and compressed ({len(rotated_all)} .zst files)")
    t.check(not glob.glob(t.path("rot/web.log.*Z*")), "web.log stayed under the limit (not rotated)")
    t.check(re.search(r"rotated \S*errors\.log \d+ times", err) is not None,
            "the exit log gives the rotations of errors.log", err[-2000:])

    found, files = search_messages(t, "rot/errors.log*")
    t.check(any(f.endswith(".ids") for f in files), "errors.log.ids is among the files given (and skipped)")
    missing, dups, unexpected, _ = tally(errors1 + errors2, found)
    t.check(not missing and dups == 0 and not unexpected,
            f"logctl search rot/errors.log*: the 3500 errors exactly once across {len(files)} files ({len(found)} "
            f"found: {len(missing)} missing, {dups} duplicates, {len(unexpected)} unexpected)", sample(missing))
    t.check(found == errors1 + errors2, "... in the order they were written (rotated files oldest first)")
    found, files = search_messages(t, "rot/all.log*")
    missing, dups, unexpected, _ = tally(errors1 + web1 + errors2 + web2, found)
    t.check(not missing and dups == 0 and not unexpected,
            f"logctl search rot/all.log*: all 3850 records exactly once ({len(missing)} missing, {dups} duplicates, "
            f"{len(unexpected)} unexpected)", sample(missing))
    found, _ = search_messages(t, "rot/web.log.old")
    t.check(sorted(found) == sorted(web1), f"web.log.old (renamed before the SIGHUP) holds round 1's 200 web records "
                                           f"({len(found)})")
    found, _ = search_messages(t, "rot/web.log")
    t.check(sorted(found) == sorted(web2), f"the new web.log holds round 2's 150 web records ({len(found)})")

    # A restart on the same files finds them as the journals say: no warning, nothing written again.
    t.produce(q, b"".join(f"{r}\n".encode() for r in errors2[:10]), ["--service", "api", "--level", "error"])
    again, _ = t.drain("agg-rotate-again", q, out, "text",
                       ["--route", "level>=error:rot/errors.log", "--route", "service=web:rot/web.log",
                        "--rotate-bytes", "32K"])
    e = again.stderr().decode("utf-8", "replace")
    t.check("warning" not in e, "the restart warns of nothing", e[-1500:])
    t.check(re.search(r"wrote 10 records", e) is not None,
            "records sent again by a new producer (new ids) are written as new ones", e[-1500:])


def part_c(t):
    t.section("(c) a write error on a route file only")
    q = t.queue("full")
    width = 60  # raw lines of 61 bytes
    info = produce(t, q, "f", "api", "info", 300, width=width)
    errors = produce(t, q, "f", "api", "error", 3000, width=width)
    out, routed = t.path("full/rest.log"), t.path("full/errors.log")
    os.makedirs(t.path("full"))
    limit = 100_000  # the default output gets 18,300 bytes, errors.log would get 183,000
    p = Proc(t, "agg-limited", ["prlimit", f"--fsize={limit}:unlimited", t.env.prog("log_aggregator"), "--queue", q,
                                "--output", out, "--format", "raw", "--route", "level>=error:full/errors.log",
                                "--unrouted-only"])
    t.wait_ready(p)
    ok = wait_for(lambda: b"cannot write to" in p.stderr() or not p.alive(), 30)
    t.require(ok and p.alive(), "the aggregator reports the write error and keeps running", p.result().describe())
    line = next(l for l in p.stderr().decode("utf-8", "replace").splitlines() if "cannot write to" in l)
    t.note(f"stderr: {line}")
    t.check("errors.log" in line and "File too large" in line and "rest.log" not in line.split(";")[0],
            "the error names the route file and the reason", line)

    def acked():
        counts = t.queue_counts(q)
        return None if counts is None else len(info) + len(errors) - counts[0] - counts[1]

    t.check(wait_for(lambda: acked() == 300 + len(read_lines(routed)[0]), 10, 0.3),
            f"exactly the records whose lines are whole in every file are acked ({acked()} acked, 300 in "
            f"rest.log, {len(read_lines(routed)[0])} whole lines in errors.log)")
    check_exact(t, out, info, "the default output, written on meanwhile")
    cp = subprocess.run(["prlimit", "--pid", str(p.pid), "--fsize=unlimited:unlimited"], capture_output=True,
                        timeout=10)
    t.require(cp.returncode == 0, "prlimit lifts the limit of the running aggregator", cp.stderr.decode())
    t.check(wait_for(lambda: b"output writable again" in p.stderr(), 45), "it notices that the file is writable again",
            p.result().describe())
    t.check(wait_for(lambda: count_lines(routed) >= len(errors), 60), "all error lines are written",
            f"{count_lines(routed)} lines")
    p.send_signal(signal.SIGTERM)
    t.check_equal(p.wait(15), 0, "SIGTERM afterwards: exit 0")
    check_exact(t, out, info, "the default output (--unrouted-only)")
    check_exact(t, routed, errors, "errors.log, after the write error")
    t.check_equal(t.queue_counts(q), (0, 0), "queue empty (ready, unacked) at the end")


def body(t):
    part_a(t)
    part_b(t)
    part_c(t)


run_test("routing_crash", body, time_limit=540)
