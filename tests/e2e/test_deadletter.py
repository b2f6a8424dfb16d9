#!/usr/bin/python3
"""Undecodable and oversize deliveries go to <queue>.dead with a logship-dead-reason header naming
the problem, while the aggregator keeps running and writes every valid record; nothing is lost
(written + dead-lettered == sent). A 500 KB valid record is written as one line."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import count_lines, read_lines, run_test, wait_for  # noqa: E402

V1 = {"logship-version": "1"}


def env(**extra):
    h = dict(V1)
    h.update(extra)
    return h


def body(t):
    q = t.queue()
    dead = q + ".dead"

    # name -> (body, headers, reason keywords (all must appear, case-insensitive)); None for valid ones.
    phase1 = [
        ("valid plain", b"valid-01 plain message", None, None),
        ("integer level", b"bad-level-integer", env(**{"logship-level": 3}), ["logship-level", "string"]),
        ("valid envelope", b"valid-02 with envelope",
         env(**{"logship-level": "error", "logship-service": "svc", "logship-host": "h1",
                "logship-ts": "1700000000000000", "logship-field-k": "v"}), None),
        ("version 9", b"bad-version-9", {"logship-version": "9", "logship-level": "info"}, ["version", "9"]),
        ("valid plain 2", b"valid-03 plain again", None, None),
        ("timestamp abc", b"bad-ts-abc", env(**{"logship-ts": "abc"}), ["logship-ts", "abc"]),
        ("oversize 5000 bytes", b"oversize-" + b"O" * (5000 - 9), None, ["5000", "1000", "body was not read"]),
        ("valid envelope 2", b"valid-04 last of phase 1", env(**{"logship-level": "debug"}), None),
    ]
    big = b"big-" + bytes(0x41 + i % 26 for i in range(500 * 1024 - 4))
    phase2 = [
        ("500 KB valid", big, env(**{"logship-service": "big"}), None),
        ("integer version", b"bad-version-integer", {"logship-version": 1}, ["version"]),
        ("2 MB over the default limit", b"huge-" + b"H" * (2 * 1024 * 1024 - 5), None,
         [str(2 * 1024 * 1024), "body was not read"]),
        ("valid after big", b"valid-05 after the big one", None, None),
    ]

    t.section("phase 1: aggregator with --max-message-bytes 1000")
    out1 = t.path("phase1.log")
    agg = t.start_aggregator("agg1", q, out1, "raw", ["--max-message-bytes", "1000"])
    t.publish(q, [(b, h) for _, b, h, _ in phase1])
    valid1 = [b for _, b, _, k in phase1 if k is None]
    bad1 = [b for _, b, _, k in phase1 if k is not None]
    ok = wait_for(lambda: count_lines(out1) >= len(valid1) and (t.queue_ready(dead) or 0) >= len(bad1), 30, 0.2)
    t.check(ok, f"{len(valid1)} lines written and {len(bad1)} dead letters within 30 s "
                f"(lines {count_lines(out1)}, dead {t.queue_ready(dead)})", agg.result().describe())
    t.check(agg.alive(), "the aggregator is still running after the bad deliveries", agg.result().describe())
    agg.send_signal(signal.SIGTERM)
    t.finish_proc(agg, 15, "agg1 exits 0 on SIGTERM")
    t.check(b"dead-lettered" in agg.stderr(), "the aggregator logs the dead-lettering", agg.result().describe())

    t.section("phase 2: default limit, a 500 KB record")
    out2 = t.path("phase2.log")
    t.publish(q, [(b, h) for _, b, h, _ in phase2])
    t.drain("agg2", q, out2, "raw")

    t.section("written records")
    lines1, partial1 = read_lines(out1)
    lines2, partial2 = read_lines(out2)
    t.check(partial1 == b"" and partial2 == b"", "both outputs end with a newline")
    t.check_equal(lines1, valid1, "phase 1 output holds exactly the valid records, in order")
    valid2 = [b for _, b, _, k in phase2 if k is None]
    t.check(lines2 == valid2, "phase 2 output holds exactly the 500 KB record and the next one",
            f"lines: {[(len(l), l[:30]) for l in lines2]}")
    t.check(any(len(l) == 500 * 1024 and l == big for l in lines2), "the 500 KB record is one line of 512000 bytes")

    t.section("dead letters")
    got = t.get_all(dead, expect=len(bad1) + 2)
    by_body = {}
    for props, b in got:
        by_body.setdefault(b, []).append(props)
    for name, b, headers, keywords in phase1 + phase2:
        if keywords is None:
            t.check(b not in by_body, f"{name}: not dead-lettered")
            continue
        copies = by_body.get(b, [])
        if "body was not read" in keywords:  # refused from its declared size: only the headers are kept
            copies = [p for p in by_body.get(b"", [])
                      if all(k in str((p.headers or {}).get("logship-dead-reason")) for k in keywords)]
        if not t.check(len(copies) == 1, f"{name}: in '{dead}' exactly once ({len(copies)})"):
            continue
        props = copies[0]
        h = props.headers or {}
        reason = h.get("logship-dead-reason")
        t.check(isinstance(reason, str) and all(k.lower() in reason.lower() for k in keywords),
                f"{name}: logship-dead-reason names the problem ({reason!r}; wants {keywords})")
        t.check_equal(h.get("logship-dead-queue"), q, f"{name}: logship-dead-queue names the source queue")
        t.check_equal(props.delivery_mode, 2, f"{name}: the dead letter is persistent")
        # docs/FORMATS.md: the original headers go along; non-string values as their description.
        want = {k: (v if isinstance(v, str) else f"an integer ({v})") for k, v in (headers or {}).items()}
        kept = {k: h.get(k) for k in want}
        t.check(kept == want, f"{name}: the dead-lettered copy carries the original headers",
                f"original {headers!r}\nexpected {want!r}\ndead copy {kept!r}")
    unknown = [b[:40] for b in by_body if b and b not in {m[1] for m in phase1 + phase2}]
    t.check(not unknown, "nothing else in the dead-letter queue", repr(unknown))

    t.section("nothing lost")
    sent = len(phase1) + len(phase2)
    written = len(lines1) + len(lines2)
    t.note(f"sent {sent}, written {written}, dead-lettered {len(got)}")
    t.check_equal(written + len(got), sent, "written + dead-lettered == sent")
    t.check_equal(t.queue_counts(q), (0, 0), "the main queue is empty (ready, unacked)")


if __name__ == "__main__":
    run_test("deadletter", body)
