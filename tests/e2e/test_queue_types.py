#!/usr/bin/python3
"""--queue-type classic|quorum|stream: how log_producer, log_aggregator and logctl setup declare a
queue that does not exist yet (an existing one is used as it is: e2e_existing_queues).
(a) the default stays the tutorial's declaration (classic, durable, no arguments);
(b) log_producer --queue-type quorum declares a quorum queue with x-queue-leader-locator balanced,
    NAME.dead stays classic, and the aggregator drains every record;
(c) logctl setup --queue-type stream with --stream-max-age / --stream-max-bytes, and queue-type in a
    TOML file;
(d) bad values: one error line naming the flag, exit 2."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import rabbitmqctl, read_lines, run_test, sample, tally  # noqa: E402

RECORDS = 500


def declared(t, q):
    """{name: (type, arguments)} of `q` and `q`.dead."""
    rows = rabbitmqctl(t.env.node, ["list_queues", "name", "type", "durable", "arguments"])
    return {r[0]: (r[1], r[2], r[3]) for r in rows if r[0] in (q, q + ".dead")}


def body(t):
    t.section("(a) no --queue-type: classic, durable, no arguments (the tutorial's declaration)")
    q = t.queue("default")
    r = t.run("logctl", ["setup", "--queue", q])
    t.check(r.rc == 0 and f"queue '{q}' declared (classic, durable)" in r.out_text, "logctl setup exits 0 and says so",
            r.describe())
    t.check_equal(declared(t, q), {q: ("classic", "true", "[]"), q + ".dead": ("classic", "true", "[]")},
                  "both queues are classic, durable, without arguments")

    t.section("(b) log_producer and log_aggregator --queue-type quorum")
    q = t.queue("quorum")
    records = [f"q-{n:04d}" for n in range(RECORDS)]
    t.produce(q, ("\n".join(records) + "\n").encode(), ["--queue-type", "quorum", "--batch-records", "10"])
    got = declared(t, q)
    t.check(got.get(q, ("",))[0] == "quorum" and "x-queue-leader-locator" in got[q][2] and "balanced" in got[q][2],
            "the queue is a quorum queue with x-queue-leader-locator balanced", repr(got))
    out = t.path("quorum.log")
    agg, _ = t.drain("agg-quorum", q, out, extra=["--queue-type", "quorum"])
    got = declared(t, q)
    t.check_equal(got.get(q + ".dead"), ("classic", "true", "[]"), "NAME.dead stays a classic durable queue")
    lines, _ = read_lines(out)
    missing, dups, unexpected, _ = tally(records, [l.decode() for l in lines])
    t.check(not missing and not dups and not unexpected and len(lines) == RECORDS,
            f"every record written once ({len(lines)} of {RECORDS})",
            f"missing {sample(missing)}, {dups} duplicates, unexpected {sample(unexpected)}")

    t.section("(c) logctl setup --queue-type stream with retention; queue-type from a TOML file")
    q = t.queue("stream")
    r = t.run("logctl", ["setup", "--queue", q, "--queue-type", "stream", "--stream-max-age", "7D",
                         "--stream-max-bytes", "1G"])
    t.check(r.rc == 0 and "(stream, durable)" in r.out_text, "logctl setup declares a stream", r.describe())
    got = declared(t, q).get(q, ("", "", ""))
    t.check(got[0] == "stream" and "7D" in got[2] and "1073741824" in got[2],
            "a stream with x-max-age 7D and x-max-length-bytes 1073741824", repr(got))
    q = t.queue("toml")
    conf = t.path("logship.toml")
    with open(conf, "w") as f:
        f.write('queue-type = "quorum"\n')
    r = t.run("logctl", ["setup", "--queue", q, "--config", conf])
    t.check(r.rc == 0 and declared(t, q).get(q, ("",))[0] == "quorum", "queue-type = \"quorum\" in the file",
            r.describe())

    t.section("(d) bad values: one error line naming the flag, exit 2")
    q = t.queue("bad")
    cases = [
        ("log_producer", ["--queue-type", "mirrored", "x"], "--queue-type: 'mirrored' is not a queue type"),
        ("log_aggregator", ["--queue-type", "stream", "--stream-max-age", "7days"], "--stream-max-age: '7days'"),
        ("logctl", ["setup", "--stream-max-age", "7D"], "--stream-max-age: only with --queue-type stream"),
        ("logctl", ["setup", "--queue-type", "stream", "--stream-max-bytes", "lots"], "--stream-max-bytes"),
        ("log_producer", ["--broker", "redis://127.0.0.1:1/", "--queue-type", "quorum", "x"], "RabbitMQ only"),
    ]
    for prog, args, text in cases:
        r = t.run(prog, ["--queue", q] + args if prog != "logctl" else args[:1] + ["--queue", q] + args[1:])
        t.check(r.rc == 2 and len(r.err_lines) == 1 and text in r.err_text,
                f"{prog} {' '.join(args)}: exit 2, one line with '{text}'", r.describe())
    t.check(declared(t, q) == {}, "nothing was declared", repr(declared(t, q)))


run_test("queue_types", body)
