#!/usr/bin/python3
"""logctl dead: the dead letters of a queue can be read without being taken, moved back to the
queue, and deleted.
(a) Dead letters arise: 3 records that arrive with 5 failed deliveries already counted (what a
    poison record carries after five aggregators died on it, test_poison.py) and 1 record of an
    unsupported envelope version; a running aggregator dead-letters the 4.
(b) `dead list`: one line each, in order, with position, id, time, reason, size and the body's first
    bytes escaped (the ESC in a body never reaches the terminal); twice the same, and the 4 are still
    there (peeking takes nothing); --json gives the same 4; --limit 2 shows 2 and says so.
(c) `dead show 1` prints the headers (reason, dead queue) and the body escaped; `show --id` finds the
    malformed one; a position past the end is exit 1.
(d) `dead purge` without --yes refuses (exit 2), nothing removed.
(e) `dead requeue --reason 'delivered *'` moves the 3 poison records back: the running aggregator
    writes each exactly once (they no longer carry their failed deliveries), and the malformed one
    stays, now at position 1.
(f) `dead purge --yes` removes it and says 1; the dead-letter queue is empty."""
# transports: amqp redis
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import read_lines, run_test, wait_for  # noqa: E402

POISON_REASON = "delivered 5 times without being written"


def poison(i):
    return (f"poison {i} \x1b[2J".encode(), {
        "logship-version": "1", "logship-id": f"dl-{i}", "logship-service": "svc", "logship-host": "h1",
        "logship-level": "error", "logship-ts": str(1795509864175062 + i), "logship-deliveries": "5"})


def logctl(t, *args):
    return t.run("logctl", ["dead"] + list(args))


def body(t):
    q = t.queue("dead")
    dq = q + ".dead"
    out = t.path("out.log")

    t.section("(a) 3 poison records and 1 malformed are dead-lettered")
    agg = t.start_aggregator("agg", q, out, "raw")
    t.publish(q, [poison(i) for i in range(3)] + [(b"bad envelope", {"logship-version": "9", "logship-id": "bad-1"})])
    t.require(wait_for(lambda: t.queue_ready(dq) == 4, 60), "the aggregator dead-lettered the 4", t.queue_ready(dq))

    t.section("(b) dead list: one line each, escaped, taking nothing")
    r = logctl(t, "list", "--queue", q)
    lines = r.out_text.splitlines()
    t.check(r.rc == 0 and len(lines) == 6, "list: exit 0, a header, 4 lines and a summary", r.describe())
    rows = lines[1:5]
    t.check(all(row.split()[0] == str(i + 1) for i, row in enumerate(rows)), "positions 1 to 4 in order", rows)
    t.check(all(f"dl-{i}" in rows[i] and POISON_REASON in rows[i] and "poison" in rows[i] for i in range(3)),
            "the poison records with id, reason and body", rows)
    t.check("bad-1" in rows[3] and "unsupported envelope version" in rows[3], "the malformed one last", rows[3])
    t.check(b"\x1b" not in r.out and "\\x1b[2J" in rows[0], "the ESC of a body is printed escaped", rows[0])
    t.check(lines[5].startswith(f"4 of 4 dead letter(s) in '{dq}'"), "the summary counts 4", lines[5])
    again = logctl(t, "list", "--queue", q)
    t.check_equal(again.out_text, r.out_text, "a second list shows the same")
    t.check_equal(t.queue_ready(dq), 4, "listing took nothing")
    r = logctl(t, "list", "--queue", q, "--json")
    items = json.loads(r.out_text) if r.rc == 0 else []
    t.check_equal([(i["position"], i["id"]) for i in items], [(1, "dl-0"), (2, "dl-1"), (3, "dl-2"), (4, "bad-1")],
                  "list --json: the 4 in order")
    r = logctl(t, "list", "--queue", q, "--limit", "2")
    lines = r.out_text.splitlines()
    t.check(len(lines) == 4 and "2 of 4" in lines[-1] and "--limit 2" in lines[-1], "--limit 2: 2 shown, said so",
            r.describe())

    t.section("(c) dead show")
    r = logctl(t, "show", "1", "--queue", q)
    t.check(r.rc == 0 and f"logship-dead-reason: {POISON_REASON}" in r.out_text
            and f"logship-dead-queue: {q}" in r.out_text and "logship-id: dl-0" in r.out_text
            and "  poison 0 \\x1b[2J" in r.out_text.splitlines() and b"\x1b" not in r.out,
            "show 1: headers and the body, escaped", r.describe())
    r = logctl(t, "show", "--id", "bad-1", "--queue", q)
    t.check(r.rc == 0 and "position: 4" in r.out_text and "unsupported envelope version" in r.out_text,
            "show --id bad-1 finds the malformed one", r.describe())
    r = logctl(t, "show", "9", "--queue", q)
    t.check(r.rc == 1 and "no dead letter at position 9" in r.err_text, "show 9: exit 1, said so", r.describe())

    t.section("(d) purge without --yes refuses")
    r = logctl(t, "purge", "--queue", q)
    t.check(r.rc == 2 and len(r.err_lines) == 1 and "--yes" in r.err_text, "exit 2, one line asking for --yes",
            r.describe())
    t.check_equal(t.queue_ready(dq), 4, "nothing purged")

    t.section("(e) requeue the poison records: written once each")
    r = logctl(t, "requeue", "--reason", "delivered *", "--queue", q)
    t.check(r.rc == 0 and f"moved 3 dead letter(s) from '{dq}' back to '{q}'" in r.out_text, "requeue moved 3",
            r.describe())
    t.check(wait_for(lambda: len(read_lines(out)[0]) >= 3, 60), "the aggregator wrote them", read_lines(out))
    agg.send_signal(signal.SIGTERM)
    t.finish_proc(agg, 60, "the aggregator stops")
    lines, _ = read_lines(out)
    t.check_equal(sorted(lines), [f"poison {i} \\x1b[2J".encode() for i in range(3)], "each poison record once in the output")
    t.check_equal(t.queue_ready(dq), 1, "the malformed one stays dead, alone")
    r = logctl(t, "list", "--queue", q)
    rows = r.out_text.splitlines()
    t.check(len(rows) == 3 and rows[1].split()[0] == "1" and "bad-1" in rows[1], "it is now at position 1",
            r.describe())

    t.section("(f) purge --yes")
    r = logctl(t, "purge", "--yes", "--queue", q)
    t.check(r.rc == 0 and f"removed 1 dead letter(s) from '{dq}'" in r.out_text, "purge --yes removed 1",
            r.describe())
    t.check(t.queue_ready(dq) in (0, None), "the dead-letter queue is empty", t.queue_ready(dq))


if __name__ == "__main__":
    run_test("dead", body, time_limit=300)
