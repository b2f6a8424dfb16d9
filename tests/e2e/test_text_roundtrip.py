#!/usr/bin/python3
"""Issue 14: the default text format cannot be forged. Records whose service, host, message and
fields hold the text format's separators ('@', ' ', ' | ', '=') are sent by log_producer and by a
plain client (pika / RPUSH, with arbitrary logship-* headers); the aggregator writes them as text,
and `logctl search --json` reads every record back exactly as it was sent; `logctl tail` prints the
same lines as the aggregator. log_producer refuses the names logctl tail refuses (empty, control
characters) with one error line."""
# transports: amqp redis
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import read_lines, run_test, wait_for  # noqa: E402

PLAIN = "login failed | user=admin"

# (log_producer arguments, the record it sends: service, host, message, fields)
PRODUCED = [
    (["--service", "a@b", "--host", "my host", PLAIN], ("a@b", "my host", PLAIN, None)),
    (["--service", "svc", "--host", "b@h1", "--field", "k=v w=x", "--field", "p=| q", "plain | k=v"],
     ("svc", "b@h1", "plain | k=v", {"k": "v w=x", "p": "| q"})),
    ([PLAIN], ("-", None, PLAIN, None)),
]
# Sent by a plain client: a body without headers, and an envelope whose headers hold separators.
ENVELOPE_HEADERS = {"logship-version": "1", "logship-ts": "1700000000123456", "logship-level": "warn",
                    "logship-service": "x y@z", "logship-host": "h | a=b", "logship-field-k ey": "v | a=b c ",
                    "logship-field-a=b": "@ =", "logship-field-u": ""}
PUBLISHED = [
    (PLAIN.encode(), None, ("-", "-", PLAIN, None)),
    (b"m | k=v", ENVELOPE_HEADERS, ("x y@z", "h | a=b", "m | k=v", {"k ey": "v | a=b c ", "a=b": "@ =", "u": ""})),
]


def refuses_bad_names(t, q):
    t.section("log_producer refuses the names logctl tail refuses")
    for args, flag, what in ((["--service", ""], "--service", "an empty --service"),
                             (["--service", "a\tb"], "--service", "a --service with a control character"),
                             (["--host", ""], "--host", "an empty --host")):
        r = t.run("log_producer", ["--queue", q] + args + ["never sent"], timeout=30)
        t.check(r.rc == 2 and len(r.err_lines) == 1 and r.err_lines[0].startswith(f"log_producer: error: {flag} "),
                f"{what}: one error line naming {flag}, exit 2", r.describe())
        if flag == "--service":
            r = t.run("logctl", ["tail", "--queue", q] + args, timeout=30)
            t.check(r.rc == 2 and len(r.err_lines) == 1, f"{what}: logctl tail refuses it too", r.describe())


def start_tail(t, q):
    p = t.spawn("tail", "logctl", ["tail", "--queue", q, "-n", str(len(PRODUCED))])
    ok = wait_for(lambda: b"logctl: tailing" in p.stderr() or not p.alive(), 30)
    t.require(ok and p.alive(), "logctl tail is subscribed within 30 s", p.result().describe())
    return p


def check_record(t, obj, want, what):
    service, host, message, fields = want
    got = (obj.get("service"), obj.get("host") if host is not None else None, obj.get("message"), obj.get("fields"))
    t.check_equal(got, (service, host, message, fields), f"{what}: read back exactly as sent")


def body(t):
    q = t.queue("forge")
    r = t.run("logctl", ["setup", "--queue", q])
    t.check(r.rc == 0, "logctl setup", r.describe())
    refuses_bad_names(t, q)

    t.section("records with separators in every part, through log_producer and a plain client")
    tail = start_tail(t, q)
    for args, _ in PRODUCED:
        r = t.run("log_producer", ["--queue", q] + args)
        t.check(r.rc == 0, f"log_producer {args[:4]}: exit 0", r.describe())
    t.publish(q, [(b, h) if h else b for b, h, _ in PUBLISHED])
    out = t.path("out.txt")
    t.drain("agg", q, out, "text")
    lines, _ = read_lines(out)
    want = [w for _, w in PRODUCED] + [w for _, _, w in PUBLISHED]
    t.check_equal(len(lines), len(want), "one text line per record")

    r = t.run("logctl", ["search", "--json", out])
    t.check(r.rc == 0, "logctl search --json: exit 0", r.describe())
    objs = [json.loads(l) for l in r.out_text.splitlines()]
    t.check_equal(len(objs), len(want), "logctl search --json: one object per record")
    for i, (obj, w) in enumerate(zip(objs, want)):
        check_record(t, obj, w, f"record {i} ({w[2]!r} from {w[0]!r})")

    r = t.run("logctl", ["search", "--json", out, "--service", "a@b"])
    found = [json.loads(l) for l in r.out_text.splitlines()]
    t.check(r.rc == 0 and [o["host"] for o in found] == ["my host"], "logctl search --service 'a@b' finds its record",
            r.describe())
    r = t.run("logctl", ["search", "--json", out, "--service", "a"])
    t.check(r.rc == 1 and r.out_text == "", "logctl search --service a finds nothing (no record of service 'a')",
            r.describe())

    t.section("logctl tail prints the aggregator's lines")
    t.finish_proc(tail, 60, f"logctl tail -n {len(PRODUCED)} exits 0 after the producer's records")
    tail_lines = tail.stdout().splitlines()
    t.check_equal(tail_lines, lines[:len(PRODUCED)], "logctl tail's text lines are the aggregator's, byte for byte")
    tail_file = t.path("tail.txt")
    with open(tail_file, "wb") as f:
        f.write(b"\n".join(tail_lines) + b"\n")
    r = t.run("logctl", ["search", "--json", tail_file])
    objs = [json.loads(l) for l in r.out_text.splitlines()]
    t.check_equal(len(objs), len(PRODUCED), "logctl search --json reads every line logctl tail printed")
    for i, (obj, (_, w)) in enumerate(zip(objs, PRODUCED)):
        check_record(t, obj, w, f"tail line {i}")


if __name__ == "__main__":
    run_test("text_roundtrip", body)
