#!/usr/bin/python3
"""Redis interop and errors:
(a) values pushed with a plain `redis-cli RPUSH` are read by log_aggregator: one line each, the
    message exactly the text (raw and json);
(b) log_producer's records read with a plain LPOP: a "\\xffLS1" envelope whose body is exactly the
    message and whose headers carry --level, --service, --host and --field;
(c) authentication: no password (NOAUTH), a wrong one (WRONGPASS), --password-file, the password in
    the URL (shown as ***); no password ever appears in any output; for all three programs;
(d) an unreachable server and a bad URL, for all three programs;
(e) dead-lettering over Redis: malformed envelopes, an unsupported version, bad %-escapes and an
    oversize record go to <q>.dead with their reason, the valid records are written; a <q>.dead
    that is not a list stops the aggregator without losing records;
(f) `logctl status` (table and --json) against the real keys; a key that is not a list is refused
    by logctl setup, log_producer and log_aggregator;
(g) the tutorial's check: `redis-cli LLEN <queue>` shows the records produced;
(h) --broker on the command line wins over LOGSHIP_BROKER, for every program and subcommand."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import (count_lines, read_lines, redis_envelope, redis_unenvelope, run_test,  # noqa: E402
                             wait_for)

WRONG_PW = "Wr0ngPassw0rd-q7Zx"


def port_of(t):
    return urllib.parse.urlsplit(t.env.redis_url).port


def redis_cli(t, *args, raw=False):
    """Runs redis-cli against the suite's server (password in REDISCLI_AUTH); returns CompletedProcess."""
    env = dict(os.environ)
    env["REDISCLI_AUTH"] = t.env.redis_password
    argv = ["redis-cli", "-h", "127.0.0.1", "-p", str(port_of(t))] + (["--raw"] if raw else []) + list(args)
    return subprocess.run(argv, capture_output=True, env=env, timeout=30, stdin=subprocess.DEVNULL)


def lines_of(path):
    complete, _ = read_lines(path)
    return [l.decode("utf-8", "replace") for l in complete]


def no_broker_env(t, **kw):
    """A child environment without LOGSHIP_BROKER (the URL comes from --broker only)."""
    return t.child_env(LOGSHIP_BROKER=None, **kw)


def part_a(t):
    t.section("(a) redis-cli RPUSH -> log_aggregator")
    texts = ["Log Entry 1: This is a sample log.", "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e", "\u65e5\u672c\u8a9e",
             "emoji \U0001F600 ok", "quotes ' \" and  spaces   inside", "percent %41 and = and + signs",
             "x" * 5000, ""]
    start = time.time()
    for fmt in ("raw", "json"):
        q = t.queue(f"a_{fmt}")
        bad = []
        for text in texts:
            cp = redis_cli(t, "RPUSH", q, text)
            if cp.returncode != 0:
                bad.append(f"{text[:30]!r}: {cp.returncode} {cp.stdout!r} {cp.stderr!r}")
        t.check(not bad, f"redis-cli RPUSH of {len(texts)} values into '{q}' succeeds", "\n".join(bad))
        t.check_equal(t.queue_ready(q), len(texts), f"{len(texts)} values in '{q}'")
        out = t.path(f"a.{fmt}")
        t.drain(f"agg-a-{fmt}", q, out, fmt, idle=1)
        lines, partial = read_lines(out)
        t.check(partial == b"", f"{fmt}: the output ends with a newline")
        t.check_equal(len(lines), len(texts), f"{fmt}: one line per redis-cli value")
        if fmt == "raw":
            got = [l.decode("utf-8", "replace") for l in lines]
            diffs = [f"#{i}: pushed {e!r:.60}, wrote {g!r:.60}" for i, (e, g) in enumerate(zip(texts, got)) if e != g]
            t.check(not diffs and len(got) == len(texts), "raw: each line is exactly the pushed text, in order",
                    "\n".join(diffs))
        else:
            end = time.time()
            problems = []
            for i, (e, l) in enumerate(zip(texts, lines)):
                try:
                    rec = json.loads(l)
                except ValueError as ex:
                    problems.append(f"#{i}: not JSON ({ex}): {l[:80]!r}")
                    continue
                if rec.get("message") != e:
                    problems.append(f"#{i}: message {rec.get('message')!r:.60} != {e!r:.60}")
                if rec.get("level") != "info":
                    problems.append(f"#{i}: level {rec.get('level')!r}, expected 'info' for a plain value")
                if set(rec) != {"ts", "level", "service", "host", "message"}:
                    problems.append(f"#{i}: fields {sorted(rec)}")
                try:
                    ts = datetime.strptime(rec.get("ts", ""), "%Y-%m-%dT%H:%M:%S.%fZ")
                    ts = (ts - datetime(1970, 1, 1)).total_seconds()
                    if not start - 5 <= ts <= end + 5:
                        problems.append(f"#{i}: ts {rec.get('ts')} is not the time of reading")
                except ValueError:
                    problems.append(f"#{i}: ts {rec.get('ts')!r} is not an ISO timestamp")
            t.check(not problems, "json: each line's message is exactly the pushed text; level info; ts now",
                    "\n".join(problems))
        t.check_equal(t.queue_ready(q + ".dead"), 0, f"{fmt}: nothing dead-lettered")
        t.check_equal(t.queue_counts(q), (0, 0), f"{fmt}: queue empty (ready, unacked)")


def part_b(t):
    t.section("(b) log_producer -> plain LPOP")
    q = t.queue("b")
    r = t.broker.r
    argv_msg = "Log Entry 1: This is a sample log."
    flags = ["--level", "warn", "--service", "billing svc", "--host", "web=1 %host", "--field", "user=alice b"]
    start = time.time()
    res = t.run("log_producer", ["--queue", q] + flags + [argv_msg])
    t.check(res.rc == 0, "log_producer with a message argument exits 0", res.describe())
    stdin_msgs = ["plain line", "caf\u00e9 \u65e5\u672c \U0001F600", "percent %20 equals = plus +", "  spaces  ",
                  "\u00ffLS1 looks like an envelope", "x" * 10000]
    t.produce(q, ("\n".join(stdin_msgs) + "\n").encode(), flags + ["--batch-records", "1"])
    end = time.time()
    expected = [argv_msg] + stdin_msgs
    t.check_equal(r.llen(q), len(expected), f"{len(expected)} values in the list")
    cp = redis_cli(t, "LPOP", q, raw=True)
    first = cp.stdout
    t.check(cp.returncode == 0 and first.startswith(b"\xffLS1 ") and first.endswith(b"\n" + argv_msg.encode() + b"\n"),
            "redis-cli --raw LPOP shows a \\xffLS1 envelope line followed by the message", repr(first[:200]))
    values = [first[:-1]] + [r.lpop(q) for _ in stdin_msgs]
    t.check_equal(r.llen(q), 0, "nothing else in the list")
    problems = []
    ids = []
    for i, (e, v) in enumerate(zip(expected, values)):
        if v is None:
            problems.append(f"#{i}: missing")
            continue
        if not v.startswith(b"\xffLS1"):
            problems.append(f"#{i}: does not start with \\xffLS1: {v[:40]!r}")
            continue
        after_lf = v.partition(b"\n")[2]
        if after_lf != e.encode():
            problems.append(f"#{i}: body after the first LF {after_lf[:60]!r} != {e[:60]!r}")
        body, h = redis_unenvelope(v)
        want = {"logship-version": "1", "logship-level": "warn", "logship-service": "billing svc",
                "logship-host": "web=1 %host", "logship-field-user": "alice b"}
        got = {k: h.get(k) for k in want}
        if got != want:
            problems.append(f"#{i}: headers {got} != {want}")
        ts = h.get("logship-ts", "")
        if not ts.isdigit() or not (start - 5) * 1e6 <= int(ts) <= (end + 5) * 1e6:
            problems.append(f"#{i}: logship-ts {ts!r} is not a time of this run in microseconds")
        rid = h.get("logship-id", "")
        prefix, _, n = rid.rpartition("-")
        if len(prefix) != 16 or not n.isdigit():
            problems.append(f"#{i}: logship-id {rid!r} is not '<16 hex digits>-<sequence>'")
        ids.append(rid)
        extra = set(h) - set(want) - {"logship-ts", "logship-id"}
        if extra:
            problems.append(f"#{i}: unexpected headers {sorted(extra)}")
        # Our own encoder must agree byte for byte with the independent one of the testlib.
        if redis_envelope(body, h) != v:
            problems.append(f"#{i}: re-encoding differs: {redis_envelope(body, h)[:120]!r} vs {v[:120]!r}")
    t.check(len(set(ids)) == len(ids), f"every record has its own id ({len(set(ids))} distinct of {len(ids)})")
    t.check(not problems, "every value: \\xffLS1 envelope, body exactly the message, the headers given",
            "\n".join(problems))


def one_error_line(t, prog, res, words, what):
    # A password in a --broker URL on the command line is warned of (test_secret_errors).
    lines = [l for l in res.err_lines if " warning " not in l or "--password-file" not in l]
    ok = len(lines) == 1 and lines[0].startswith(f"{prog}: error:") and all(w in lines[0] for w in words)
    return t.check(ok, f"{what}: exactly one stderr line, '{prog}: error: ...' with {words}", res.describe())


def part_c(t):
    t.section("(c) authentication")
    q = t.queue("c")
    pw = t.env.redis_password
    port = port_of(t)
    pwfile = t.path("pw.txt")
    with open(pwfile, "w") as f:
        f.write(pw + "\n")
    wrongfile = t.path("wrong-pw.txt")
    with open(wrongfile, "w") as f:
        f.write(WRONG_PW + "\n")
    out = t.path("c.log")
    progs = {
        "log_producer": ["--queue", q, "auth probe"],
        "log_aggregator": ["--queue", q, "--output", out, "--idle-exit", "0.5", "--format", "raw"],
        "logctl": ["status", "--queue", q],
    }

    def run(prog, extra, env):
        args = progs[prog]
        if prog == "logctl":
            args = args[:1] + extra + args[1:]
        else:
            args = extra + args
        res = t.run(prog, args, env=env, timeout=60)
        leaked = [p for p in (pw, WRONG_PW) if p.encode() in res.out + res.err]
        t.check(not leaked, f"{prog}: no password text in its output", res.describe())
        return res

    for prog in progs:
        t.note(f"-- {prog}")
        res = run(prog, [], t.child_env(LOGSHIP_PASSWORD=None))
        t.check(res.rc == 1, f"{prog}, no password: exit 1 ({res.rc})", res.describe())
        one_error_line(t, prog, res, ["NOAUTH"], f"{prog}, no password")

        res = run(prog, [], t.child_env(LOGSHIP_PASSWORD=WRONG_PW))
        t.check(res.rc == 1, f"{prog}, wrong password in LOGSHIP_PASSWORD: exit 1 ({res.rc})", res.describe())
        one_error_line(t, prog, res, ["WRONGPASS"], f"{prog}, wrong password")

        res = run(prog, ["--password-file", wrongfile], t.child_env(LOGSHIP_PASSWORD=None))
        t.check(res.rc == 1, f"{prog}, wrong password in --password-file: exit 1 ({res.rc})", res.describe())
        one_error_line(t, prog, res, ["WRONGPASS"], f"{prog}, wrong --password-file")

        res = run(prog, ["--broker", f"redis://:{WRONG_PW}@127.0.0.1:{port}"], no_broker_env(t, LOGSHIP_PASSWORD=None))
        t.check(res.rc == 1, f"{prog}, wrong password in the URL: exit 1 ({res.rc})", res.describe())
        one_error_line(t, prog, res, ["WRONGPASS", ":***@"], f"{prog}, wrong password in the URL")

        res = run(prog, ["--password-file", pwfile], t.child_env(LOGSHIP_PASSWORD=None))
        t.check(res.rc == 0, f"{prog}, --password-file: exit 0 ({res.rc})", res.describe())

        res = run(prog, ["--broker", f"redis://:{pw}@127.0.0.1:{port}"], no_broker_env(t, LOGSHIP_PASSWORD=None))
        t.check(res.rc == 0, f"{prog}, password in the URL (--broker): exit 0 ({res.rc})", res.describe())
        if prog == "log_aggregator":
            t.check(f"at redis://:***@127.0.0.1:{port}/0".encode() in res.out,
                    "the aggregator's banner shows the URL with *** for the password", res.describe())

        res = run(prog, [], t.child_env(LOGSHIP_PASSWORD=None, LOGSHIP_BROKER=f"redis://:{pw}@127.0.0.1:{port}"))
        t.check(res.rc == 0, f"{prog}, password in the URL (LOGSHIP_BROKER): exit 0 ({res.rc})", res.describe())

        # The file wins over the URL's password (docs: "overrides the URL's").
        res = run(prog, ["--broker", f"redis://:{WRONG_PW}@127.0.0.1:{port}", "--password-file", pwfile],
                  no_broker_env(t, LOGSHIP_PASSWORD=None))
        t.check(res.rc == 0, f"{prog}, --password-file overrides a wrong URL password: exit 0 ({res.rc})",
                res.describe())
    res = t.run("logctl", ["setup", "--queue", q, "--broker", f"redis://:{pw}@127.0.0.1:{port}"],
                env=no_broker_env(t, LOGSHIP_PASSWORD=None))
    t.check(res.rc == 0 and f"redis://:***@127.0.0.1:{port}/0".encode() in res.out and pw.encode() not in res.out,
            "logctl setup prints the URL with *** for the password", res.describe())
    # Every successful producer run above shipped one record; the aggregator runs drained them.
    t.note(f"records left in '{q}': {t.queue_ready(q)}; written: {count_lines(out)}")


def part_d(t):
    t.section("(d) unreachable server, bad URL")
    q = t.queue("d")
    progs = {
        "log_producer": ["--queue", q, "never delivered"],
        "log_aggregator": ["--queue", q, "--output", t.path("d.log"), "--idle-exit", "1"],
        "logctl": ["status", "--queue", q],
    }
    for prog, args in progs.items():
        def with_broker(url, extra=()):
            extra = ["--broker", url] + list(extra)
            return args[:1] + extra + args[1:] if prog == "logctl" else extra + args

        res = t.run(prog, with_broker("redis://127.0.0.1:1", ["--retry-seconds", "1"]), env=no_broker_env(t),
                    timeout=30)
        t.check(res.rc == 1, f"{prog}, port 1: exit 1 ({res.rc})", res.describe())
        t.check(res.elapsed < 5, f"{prog}, port 1: gives up within a few seconds ({res.elapsed:.1f} s)")
        errors = [l for l in res.err_lines if l.startswith(f"{prog}: error:")]
        t.check(len(errors) == 1 and res.err_lines[-1] == errors[0] and "127.0.0.1:1" in errors[0]
                and "refused" in errors[0].lower(),
                f"{prog}, port 1: one error line, the last, naming the address and 'refused'", res.describe())
        t.check(b"Waiting for logs" not in res.out and b"Sent" not in res.out, f"{prog}, port 1: no success output",
                res.describe())

        res = t.run(prog, with_broker("redis://h/notanumber"), env=no_broker_env(t), timeout=30)
        t.check(res.rc == 2, f"{prog}, redis://h/notanumber: exit 2 ({res.rc})", res.describe())
        t.check(res.elapsed < 2, f"{prog}, bad URL: at once ({res.elapsed:.1f} s)")
        one_error_line(t, prog, res, ["bad broker URL"], f"{prog}, bad URL")


def part_e(t):
    t.section("(e) dead-lettering over Redis")
    r = t.broker.r
    q = t.queue("e")
    dead = q + ".dead"
    # (name, value, reason keywords or None, how the dead copy keeps the original)
    #   "bytes": the dead copy's body is the original value (the envelope could not be read)
    #   "record": body + original headers re-encode to the original value (the record was bad)
    items = [
        ("valid plain", b"valid-1 plain", None, None),
        # docs/FORMATS.md: without a logship-version header the record is plain and its other
        # headers are ignored, so this one is written (as its body), not dead-lettered.
        ("envelope without version=1", b"\xffLS1 ts=notanumber\nbody-ts-noversion", None, None),
        ("valid envelope", redis_envelope(b"valid-2 envelope", {"logship-version": "1", "logship-level": "warn"}), None,
         None),
        ("ts not a number", b"\xffLS1 version=1 ts=notanumber\nbody-ts", ["logship-ts", "notanumber"], "record"),
        ("envelope version 9", b"\xffLS9\nx", ["version", "9"], "bytes"),
        ("bad %-escape", b"\xffLS1 version=1 level=%ZZ\nbad-escape", ["%-escape", "%ZZ"], "bytes"),
        ("valid 3", b"valid-3 plain", None, None),
        ("truncated %-escape", b"\xffLS1 version=1 service=ab%4\nbad-trunc", ["%-escape", "truncated"], "bytes"),
        ("no line feed", b"\xffLS1 version=1 level=warn", ["line feed"], "bytes"),
        ("item without =", b"\xffLS1 version=1 noequals\nno-eq", ["noequals", "KEY=VALUE"], "bytes"),
        ("oversize plain", b"O" * 2000, ["2000", "1000"], "bytes"),
        ("valid 4", redis_envelope(b"valid-4 last", {"logship-version": "1", "logship-service": "s v c"}), None, None),
    ]
    r.rpush(q, *[v for _, v, _, _ in items])
    out = t.path("e.log")
    agg, rc = t.drain("agg-e", q, out, "raw", ["--max-message-bytes", "1000"], idle=1)
    valid = [v for _, v, k, _ in items if k is None]
    bad = [(n, v, k, how) for n, v, k, how in items if k is not None]
    got_lines, partial = read_lines(out)
    want_lines = [redis_unenvelope(v)[0] for v in valid]
    t.check(partial == b"", "the output ends with a newline")
    t.check_equal(got_lines, want_lines, "the output holds exactly the valid records, in order")
    t.check(b"dead-lettered" in agg.stderr(), "the aggregator logs the dead-lettering", agg.result().describe())
    dead_values = r.lrange(dead, 0, -1)
    t.check_equal(len(dead_values), len(bad), f"'{dead}' holds exactly {len(bad)} values")
    copies = {}
    for v in dead_values:
        body, h = redis_unenvelope(v)
        h = h or {}
        copies.setdefault((body, tuple(sorted((k, x) for k, x in h.items() if not k.startswith("logship-dead-")))),
                          []).append(h)
    matched = 0
    for name, value, keywords, how in bad:
        if how == "bytes":
            key = (value, ())
        else:
            body, h = redis_unenvelope(value)
            key = (body, tuple(sorted(h.items())))
        found = copies.get(key, [])
        if not t.check(len(found) == 1, f"{name}: in '{dead}' exactly once, the original recoverable "
                                        f"({'body = the original bytes' if how == 'bytes' else 'body + headers'})",
                       f"looked for {key!r:.200}\ndead values: {[d[:100] for d in dead_values]}"):
            continue
        matched += 1
        h = found[0]
        reason = h.get("logship-dead-reason", "")
        t.check(all(k.lower() in reason.lower() for k in keywords),
                f"{name}: logship-dead-reason names the problem ({reason!r}; wants {keywords})")
        t.check_equal(h.get("logship-dead-queue"), q, f"{name}: logship-dead-queue is the source queue")
        if how == "record":
            rebuilt = redis_envelope(key[0], {k: v for k, v in h.items() if not k.startswith("logship-dead-")})
            t.check_equal(rebuilt, value, f"{name}: the dead copy minus logship-dead-* re-encodes to the original")
    t.note(f"sent {len(items)}, written {len(got_lines)}, dead-lettered {len(dead_values)} ({matched} matched)")
    t.check_equal(len(got_lines) + len(dead_values), len(items), "written + dead-lettered == sent")
    t.check_equal(t.queue_counts(q), (0, 0), "the queue is empty (ready, unacked)")

    t.section("(e) the dead-letter key is not a list")
    q2 = t.queue("e2")
    r.set(q2 + ".dead", "i am a string")
    values = [b"e2-valid-1", b"\xffLS9\ne2-bad", b"e2-valid-2"]
    r.rpush(q2, *values)
    out2 = t.path("e2.log")
    p = t.start_aggregator("agg-e2", q2, out2, "raw", ["--idle-exit", "2", "--consumer-id", "e2"], wait_ready=False)
    t.finish_proc(p, 20, "agg-e2 exits 1 when it cannot dead-letter", expect_rc=1)
    res = p.result()
    errors = [l for l in res.err_lines if l.startswith("log_aggregator: error:")]
    t.check(len(errors) == 1 and f"'{q2}.dead'" in errors[0] and "not a list" in errors[0],
            "one error line naming the dead-letter key and saying it is not a list", res.describe())
    t.check_equal(r.get(q2 + ".dead"), b"i am a string", "the string key is left alone")
    # Put back unacknowledged: each counts one failed delivery (a plain value is wrapped into an
    # envelope carrying only that count; the unreadable one stays as it is).
    counted = [b"\xffLS1 deliveries=1\n" + values[0], values[1], b"\xffLS1 deliveries=1\n" + values[2]]
    t.check_equal(r.lrange(q2, 0, -1), counted, "every record is back in the queue, in order, each counting a "
                                                "failed delivery (nothing lost)")
    t.check_equal(r.exists(f"{q2}.processing.e2", f"{q2}.lease.e2"), 0, "no processing list or lease left behind")
    r.delete(q2 + ".dead")


def status_json(t, q):
    res = t.run("logctl", ["status", "--queue", q, "--json"])
    t.check(res.rc == 0, "logctl status --json exits 0", res.describe())
    try:
        rows = {row["queue"]: row for row in json.loads(res.out)}
    except (ValueError, KeyError, TypeError) as e:
        t.check(False, "logctl status --json prints a JSON array of queues", f"{e}\n{res.describe()}")
        return {}
    return rows


def status_table(t, q):
    res = t.run("logctl", ["status", "--queue", q])
    t.check(res.rc == 0, "logctl status exits 0", res.describe())
    rows = {}
    for line in res.out_text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 4 and parts[0] in (q, q + ".dead"):
            rows[parts[0]] = parts[1:4]  # READY UNACKED CONSUMERS (then the rates and dead letters)
    return rows


def check_status(t, q, ready, unacked, consumers, dead_ready, what):
    want = {"ready": ready, "unacked": unacked, "consumers": consumers}
    rows = status_json(t, q)
    got = {k: rows.get(q, {}).get(k) for k in want}
    t.check(got == want, f"{what}: --json for '{q}' {got} == {want}", json.dumps(rows))
    d = rows.get(q + ".dead", {})
    t.check(d.get("ready") == dead_ready and d.get("consumers") == 0,
            f"{what}: --json for '{q}.dead' ready {d.get('ready')} == {dead_ready}, consumers 0", json.dumps(rows))
    table = status_table(t, q)
    t.check_equal(table.get(q), [str(ready), str(unacked), str(consumers)], f"{what}: the table row of '{q}'")
    t.check_equal((table.get(q + ".dead") or [None])[0], str(dead_ready), f"{what}: the table's READY of '{q}.dead'")


def part_f(t):
    t.section("(f) logctl status over Redis")
    r = t.broker.r
    q = t.queue("f")
    check_status(t, q, 0, 0, 0, 0, "empty queue, no aggregator")
    outs = [t.path("f1.log"), t.path("f2.log")]
    aggs = [t.start_aggregator(f"agg-f{i}", q, outs[i], "raw", ["--lease-seconds", "30", "--consumer-id", f"f{i}"])
            for i in range(2)]
    check_status(t, q, 0, 0, 2, 0, "two idle aggregators")
    for a in aggs:
        a.send_signal(signal.SIGSTOP)
    time.sleep(0.3)
    records = [f"f-{n}" for n in range(10)]
    r.rpush(q, *records)
    r.rpush(q + ".dead", "d-1", "d-2")
    time.sleep(0.3)
    # Stopped aggregators that were blocked in BLMOVE still get a record moved to their list by the
    # server: compare with the keys themselves.
    ready = r.llen(q)
    held = [r.llen(f"{q}.processing.f{i}") for i in range(2)]
    t.note(f"aggregators stopped: ready {ready}, processing lists {held}")
    t.check_equal(ready + sum(held), len(records), "ready + processing lists == records pushed")
    check_status(t, q, ready, sum(held), 2, 2, "two stopped aggregators")
    for a in aggs:
        a.send_signal(signal.SIGCONT)
    ok = wait_for(lambda: sum(count_lines(o) for o in outs) >= len(records), 10, 0.1)
    t.check(ok, "after SIGCONT the records are written")
    for a in aggs:
        a.send_signal(signal.SIGTERM)
    for a in aggs:
        t.finish_proc(a, 15, f"{a.label} exits 0 on SIGTERM")
    got = sorted(lines_of(outs[0]) + lines_of(outs[1]))
    t.check_equal(got, sorted(records), "every record written exactly once")
    check_status(t, q, 0, 0, 0, 2, "aggregators gone")

    leased = [b"l-1", b"l-2", b"l-3"]
    r.rpush(f"{q}.processing.leased", *leased)
    r.set(f"{q}.lease.leased", "otherhost 1 abc", px=60000)
    r.rpush(f"{q}.processing.deadghost", b"g-1", b"g-2")
    r.sadd(f"{q}.consumers", "leased", "deadghost")
    r.rpush(q, b"w-1")
    check_status(t, q, 1, 5, 1, 2, "a leased and a dead consumer (3 + 2 records held)")
    # A processing list missing from the registry (which `logctl recover` finds by SCAN) holds
    # unacknowledged records too.
    r.rpush(f"{q}.processing.orphan", b"o-1", b"o-2", b"o-3", b"o-4")
    check_status(t, q, 1, 9, 1, 2, "plus an unregistered processing list of 4 records")

    t.section("(f) a key that is not a list")
    qs = t.queue("fstr")
    r.set(qs, "x")
    for prog, args in (("logctl", ["setup", "--queue", qs]), ("logctl", ["status", "--queue", qs]),
                       ("log_producer", ["--queue", qs, "never"]),
                       ("log_aggregator", ["--queue", qs, "--output", t.path("fstr.log"), "--idle-exit", "1"])):
        res = t.run(prog, args, timeout=30)
        t.check(res.rc == 1, f"{prog} {args[0]}: exit 1 on a string key ({res.rc})", res.describe())
        one_error_line(t, prog, res, [f"'{qs}'", "not a list"], f"{prog} {args[0]} on a string key")
    t.check_equal(r.get(qs), b"x", "the string key is left alone")
    qd = t.queue("fdeadstr")
    r.set(qd + ".dead", "x")
    res = t.run("logctl", ["setup", "--queue", qd])
    t.check(res.rc == 1, f"logctl setup: exit 1 when only '{qd}.dead' is a string ({res.rc})", res.describe())
    one_error_line(t, "logctl", res, [f"'{qd}.dead'", "not a list"], "logctl setup, dead-letter key a string")
    r.delete(qs, qd + ".dead")


def part_g(t):
    t.section("(g) the tutorial's check: redis-cli LLEN")
    q = t.queue("g")
    for i in range(1, 6):
        res = t.run("log_producer", ["--queue", q, f"Log Entry {i}: This is a sample log."])
        t.check(res.rc == 0 and res.out_text == f" [x] Sent 'Log Entry {i}: This is a sample log.'\n",
                f"log_producer 'Log Entry {i}' prints the tutorial's line", res.describe())
    cp = redis_cli(t, "LLEN", q)
    t.check(cp.returncode == 0 and cp.stdout.strip() == b"5", f"redis-cli LLEN {q} prints 5",
            f"{cp.returncode} {cp.stdout!r} {cp.stderr!r}")
    bodies = [v.partition(b"\n")[2] for v in r_values(t, q)]
    t.check_equal(bodies, [f"Log Entry {i}: This is a sample log.".encode() for i in range(1, 6)],
                  "the five records are in order")


def r_values(t, q):
    return t.broker.r.lrange(q, 0, -1)


def part_h(t):
    t.section("(h) --broker wins over LOGSHIP_BROKER")
    q = t.queue("h")
    port = port_of(t)
    good = f"redis://127.0.0.1:{port}"
    env = t.child_env(LOGSHIP_BROKER="redis://127.0.0.1:1")
    cases = [
        ("log_producer", ["--broker", good, "--retry-seconds", "0", "--queue", q, "precedence"]),
        ("log_aggregator", ["--broker", good, "--retry-seconds", "0", "--queue", q, "--output", t.path("h.log"),
                            "--idle-exit", "0.5"]),
        ("logctl", ["setup", "--broker", good, "--retry-seconds", "0", "--queue", q]),
        ("logctl", ["status", "--broker", good, "--retry-seconds", "0", "--queue", q]),
        ("logctl", ["recover", "--broker", good, "--retry-seconds", "0", "--queue", q]),
    ]
    for prog, args in cases:
        res = t.run(prog, args, env=env, timeout=30)
        sub = args[0] if prog == "logctl" else ""
        t.check(res.rc == 0, f"{prog} {sub}: --broker {good} is used although LOGSHIP_BROKER=redis://127.0.0.1:1 "
                             f"(exit {res.rc})", res.describe())
    t.check_equal(count_lines(t.path("h.log")), 1, "the aggregator wrote the producer's record")


def body(t):
    part_a(t)
    part_b(t)
    part_c(t)
    part_d(t)
    part_e(t)
    part_f(t)
    part_g(t)
    part_h(t)


if __name__ == "__main__":
    run_test("redis_interop", body)
