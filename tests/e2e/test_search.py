#!/usr/bin/python3
"""logctl search over files written by real aggregators, in every output format, plain and zstd.

Three aggregators (text, json, raw), each on its own queue, receive the same 16 records: batch A
(12 records: web info x5, web warn x4, db error x3), then, after a boundary time T, batch B (4
records: db debug x2, auth fatal x1, and one error record of service "ops team" from host "ops-1"
(--host: a name, globs) with a field and a message that holds an escape sequence, a backslash, an accent and a forged second line). Every
search is checked for its exact count in each file; the counts double when a zstd copy made by
the zstd command line (as rotation will) is searched too.
Also: --json objects (decoded fields; json lines as they are; raw lines as {"message"}), lines
that do not parse (one warning per file naming the first), raw files with conditions they cannot
answer, exit status 0/1/2, a missing file among others, usage errors (one line, exit 2), and the
progress line only when stderr is a terminal.
"""
# transports: amqp redis
import datetime
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import count_lines, run_test, wait_for  # noqa: E402

FORMATS = ("text", "json", "raw")
INJECTION = "payload \x1b[2J \\ caf\u00e9\n2026-01-01T00:00:00.000000Z FATAL auth@x forged"

BATCH_A = [("web", "info", [f"web info request {i} ok" for i in range(5)]),
           ("web", "warn", [f"web warn slow response {i}" for i in range(4)]),
           ("db", "error", [f"db error connection refused {i}" for i in range(3)])]
BATCH_B = [("db", "debug", [f"db debug query {i}" for i in range(2)]),
           ("auth", "fatal", ["auth fatal login backend down"])]


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def send(t, queues, batch):
    for service, level, lines in batch:
        for q in queues:
            t.produce(q, "".join(l + "\n" for l in lines).encode(), ["--service", service, "--level", level])


def search(t, args, env=None):
    return t.run("logctl", ["search"] + list(args), env=env)


def lines_of(r):
    return [l for l in r.out.split(b"\n") if l]


def body(t):
    queues = {f: t.queue(f) for f in FORMATS}
    out = {f: t.path(f"agg-{f}.log") for f in FORMATS}
    aggs = [t.start_aggregator(f"agg-{f}", queues[f], out[f], fmt=f) for f in FORMATS]

    t.section("16 records through the real pipeline, in three formats")
    send(t, queues.values(), BATCH_A)
    t.require(wait_for(lambda: all(count_lines(out[f]) == 12 for f in FORMATS), 60),
              "batch A (12 records) is written in every format", {f: count_lines(out[f]) for f in FORMATS})
    time.sleep(1.0)
    boundary = now_rfc3339()
    time.sleep(1.0)
    send(t, queues.values(), BATCH_B)
    for q in queues.values():
        r = t.run("log_producer", ["--queue", q, "--service", "ops team", "--level", "error", "--field", "ticket=T-1",
                                   "--host", "ops-1", INJECTION])
        t.check(r.rc == 0, "the injection record is sent", r.describe())
    t.require(wait_for(lambda: all(count_lines(out[f]) == 16 for f in FORMATS), 60),
              "all 16 records are written in every format", {f: count_lines(out[f]) for f in FORMATS})
    for p in aggs:
        p.send_signal(signal.SIGTERM)
        t.finish_proc(p, 30)
    t.note(f"boundary T = {boundary}")

    zst = {}
    for f in FORMATS:
        zst[f] = out[f] + ".1.zst"
        cp = subprocess.run(["zstd", "-q", "-f", out[f], "-o", zst[f]], capture_output=True, timeout=60)
        t.require(cp.returncode == 0, f"zstd compresses the {f} output", cp.stderr)

    t.section("exact counts per condition, in text and json files, plain and zstd")
    cases = [
        ([], 16),
        (["--level", "warn"], 9),
        (["--level", "error"], 5),
        (["--level", "fatal"], 1),
        (["--level", "WARNING"], 9),
        (["--service", "db"], 5),
        (["--service", "db", "--level", "error"], 3),
        (["--service", "ops team"], 1),
        (["--service", "web", "--service", "auth"], 10),
        (["--host", "ops-1"], 1),
        (["--host", "ops-*", "--level", "error"], 1),
        (["--host", "nohost", "--host", "op?-[0-9]"], 1),
        (["--host", "*"], 16),
        (["--since", boundary], 4),
        (["--until", boundary], 12),
        (["--since", boundary, "--level", "error"], 2),
        (["--since", "1h"], 16),
        (["--grep", "refused [02]([^0-9]|$)"], 2),
        (["--grep", "forged"], 1),
        (["--grep", "slow|backend"], 5),
        (["--grep", "slow|backend", "--until", boundary], 4),
    ]
    for f in ("text", "json"):
        for args, n in cases:
            r = search(t, [out[f]] + args)
            t.check(r.rc == (0 if n else 1) and len(lines_of(r)) == n and r.err_text == "",
                    f"{f}: search {' '.join(args) or '(everything)'} -> {n}", r.describe())
            r = search(t, [out[f], zst[f]] + args)
            t.check(r.rc == 0 and len(lines_of(r)) == 2 * n, f"{f} + .zst: {2 * n}", r.describe())
        r = search(t, [zst[f], "--level", "warn"])
        with open(out[f], "rb") as fh:
            expected = [l for l in fh.read().split(b"\n") if l and (b"WARN" in l or b"ERROR" in l or b"FATAL" in l
                                                                   or b'"warn"' in l or b'"error"' in l
                                                                   or b'"fatal"' in l)]
        t.check_equal(lines_of(r), expected, f"{f}.zst alone: the matching lines exactly as in the file")
        r = search(t, [out[f], "--until", "1h"])
        t.check(r.rc == 1 and r.out == b"", f"{f}: --until 1h: nothing, exit 1", r.describe())

    t.section("the injection record stays one record")
    for f in FORMATS:
        r = search(t, [out[f], "--grep", "forged"])
        t.check(len(lines_of(r)) == 1 and b"\x1b" not in r.out, f"{f}: one line, the escape sequence escaped",
                r.describe())
    r = search(t, [out["text"], "--level", "fatal"])
    t.check(len(lines_of(r)) == 1 and b"auth fatal login" in r.out, "the forged FATAL inside a message is no record",
            r.describe())

    t.section("--json")
    for f in ("text", "json"):
        r = search(t, [out[f], "--json", "--since", boundary])
        docs = [json.loads(l) for l in lines_of(r)]
        t.check_equal([(d["service"], d["level"]) for d in docs],
                      [("db", "debug"), ("db", "debug"), ("auth", "fatal"), ("ops team", "error")],
                      f"{f}: four objects with decoded service and level")
        inj = docs[-1] if docs else {}
        t.check_equal(inj.get("message"), INJECTION, f"{f}: the message decoded to its original text")
        t.check_equal(inj.get("fields"), {"ticket": "T-1"}, f"{f}: the fields")
        t.check(all(d.get("ts", "") >= boundary for d in docs), f"{f}: timestamps at or after T")
    r = search(t, [out["json"], "--json"])
    with open(out["json"], "rb") as fh:
        t.check_equal(r.out, fh.read(), "json files: --json prints the lines as they are")
    r = search(t, [out["raw"], "--json", "--grep", "forged"])
    t.check_equal([json.loads(l) for l in lines_of(r)], [{"message": INJECTION}], "raw files: {\"message\"} only")

    t.section("raw files")
    r = search(t, [out["raw"], zst["raw"], "--grep", "refused"])
    t.check(r.rc == 0 and len(lines_of(r)) == 6 and r.err_text == "", "--grep works on raw lines (3 + 3)",
            r.describe())
    r = search(t, [out["raw"], "--level", "warn"])
    t.check(r.rc == 1 and r.out == b"" and len(r.err_lines) == 1 and "raw format" in r.err_text,
            "--level on a raw file: one warning, no match, exit 1", r.describe())
    r = search(t, [out["raw"], out["text"], "--level", "warn"])
    t.check(r.rc == 0 and len(lines_of(r)) == 9 and len(r.err_lines) == 1,
            "a raw file among others: warned about, the others searched", r.describe())

    t.section("lines that do not parse")
    damaged = t.path("damaged.log")
    with open(out["text"], "rb") as src, open(damaged, "wb") as dst:
        data = src.read()
        first = data.index(b"\n") + 1
        dst.write(data[:first] + b"not a log line\n" + data[first:] + b"{\"half\": ")  # and no final newline
    r = search(t, [damaged, "--level", "warn"])
    t.check(r.rc == 0 and len(lines_of(r)) == 9, "the 9 warn+ records are still found", r.describe())
    t.check(len(r.err_lines) == 1 and "2 of 18 lines are not in the text format" in r.err_text and
            "line 2" in r.err_text, "one warning: how many, the format, the first one's line number", r.describe())

    t.section("exit status and errors")
    missing = t.path("no-such-file.log")
    r = search(t, [out["text"], missing, out["json"], "--level", "fatal"])
    t.check(r.rc == 2 and len(lines_of(r)) == 2, "a missing file among others: exit 2, the others still searched",
            r.describe())
    t.check(len(r.err_lines) == 1 and "no-such-file.log" in r.err_text and "No such file" in r.err_text,
            "one error line naming the missing file", r.describe())
    truncated = t.path("cut.zst")
    with open(zst["text"], "rb") as src, open(truncated, "wb") as dst:
        dst.write(src.read()[:-8])
    r = search(t, [truncated])
    t.check(r.rc == 2 and len(r.err_lines) == 1 and "zstd" in r.err_text, "a truncated .zst: one error line, exit 2",
            r.describe())
    for args, what in (([out["text"], "--since", "yesterday"], "a bad --since"),
                       ([out["text"], "--until", "2026-13-01T00:00:00Z"], "a bad --until"),
                       ([out["text"], "--grep", "(unclosed"], "a bad regular expression"),
                       ([out["text"], "--level", "loud"], "a bad --level"),
                       ([out["text"], "--format", "xml"], "a bad --format"),
                       ([out["text"], "--since", "1h", "--until", "2h"], "--since after --until"),
                       ([], "no FILE")):
        r = search(t, args)
        t.check(r.rc == 2 and len(r.err_lines) == 1 and r.err_text.startswith("logctl: error:") and r.out == b"",
                f"{what}: one error line, exit 2", r.describe())

    t.section("progress only on a terminal")
    r = search(t, [out["text"], zst["text"], "--level", "fatal"])
    t.check(r.err_text == "", "stderr not a terminal: no progress", r.describe())
    master, slave = pty.openpty()
    try:
        cp = subprocess.run([t.env.prog("logctl"), "search", out["text"], zst["text"], "--level", "fatal"],
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, timeout=60, cwd=t.tmp)
        os.close(slave)
        slave = None
        tty = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            tty += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    t.check(cp.returncode == 0 and cp.stdout.count(b"\n") == 2, "on a terminal the matches are the same",
            cp.stdout)
    t.check(b"logctl search: 2 files" in tty and b"2 matches" in tty, "stderr on a terminal: progress and summary",
            tty)


run_test("search", body)
