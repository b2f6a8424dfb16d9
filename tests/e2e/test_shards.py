#!/usr/bin/python3
"""One logical queue over N queues (--shards N, issue 16 part 3), against the suite's RabbitMQ node.

(a) Flags: --shard-ids needs --shards, ids below N, none twice; --shards over redis:// is refused;
    --shards 0 is out of range. Each: exit 2 and one error line naming the flag.
(b) logctl setup --shards 3 declares QUEUE.shard.0..2 (and QUEUE.dead), not QUEUE itself; again: the
    same (idempotent, no second binding: the next distribution check would see a skew).
(c) Distribution: log_producer --shards 3 --batch-records 1 sends 10,000 records, one per message:
    every shard gets a fair share (each 2,900 to 3,800 of them; expected 3,333, sd 47), 10,000 in all.
    logctl status --json shows the same counts per shard (and their type, leader and members from
    the management API), the sum in the queue's row; the table lists the shards.
(d) Two aggregators split the shards (--shard-ids 0,1 and --shard-ids 2): every record written exactly
    once, each aggregator's count what its shards held. Then a third one consumes every shard while
    a producer sends 3,000 more (batched): all 3,000 written once; the shards end empty.
(e) Dead letters as for one queue: a malformed message put straight into shard 1 goes to QUEUE.dead
    (one for all shards), and logctl dead list shows it.
(f) Without the consistent-hash exchange plugin (disabled for a moment on the node), logctl setup
    --shards fails with one line saying how to enable it (exit 1).
(g) Run after (b): a --shards that does not match the queue is refused before anything is declared
    (exit 1, one line naming the --shards to give): no --shards on the sharded queue (log_producer,
    log_aggregator, logctl setup, logctl tail; no plain QUEUE appears, which would get a copy of every
    record; logctl status exits 1 as for a missing queue and says to give --shards 3), --shards 4 and
    --shards 2 on it (no QUEUE.shard.3 appears), --shards 3 on a plain queue (no shard appears).
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import run_test, wait_for  # noqa: E402

N = 3
RECORDS = 10_000
LIVE_RECORDS = 3_000
PLUGIN = "rabbitmq_consistent_hash_exchange"


def shard(q, i):
    return f"{q}.shard.{i}"


def lines_of(path):
    with open(path, "rb") as f:
        return f.read().splitlines()


def usage_error(t, prog, args, needle, what):
    r = t.run(prog, args)
    lines = r.err_lines
    t.check(r.rc == 2 and len(lines) == 1 and needle in r.err_text, what, r.describe())


def flags(t, q):
    t.section("(a) flag checks")
    usage_error(t, "log_aggregator", ["--queue", q, "--shards", "3", "--shard-ids", "0,3"], "no shard 3",
                "--shard-ids 0,3 with --shards 3: exit 2, one line naming shard 3")
    usage_error(t, "log_aggregator", ["--queue", q, "--shards", "3", "--shard-ids", "1,1"], "shard 1 is given twice",
                "--shard-ids 1,1: exit 2, one line")
    usage_error(t, "log_aggregator", ["--queue", q, "--shard-ids", "1"], "give --shards",
                "--shard-ids without --shards: exit 2, one line")
    usage_error(t, "log_producer", ["--queue", q, "--shards", "0", "x"], "--shards", "--shards 0: exit 2, one line")
    redis = "redis://:secret@127.0.0.1:1/0"
    for prog, extra in (("log_producer", ["x"]), ("log_aggregator", []), ("logctl", None)):
        args = (["setup"] if extra is None else []) + ["--broker", redis, "--queue", q, "--shards", "2"] + (extra or [])
        usage_error(t, prog, args, "sharded queues need RabbitMQ", f"{prog} --shards over redis://: exit 2, one line")


def setup(t, q):
    t.section("(b) logctl setup --shards 3")
    for attempt in (1, 2):
        r = t.run("logctl", ["setup", "--queue", q, "--shards", str(N)])
        t.check(r.rc == 0 and f"{q}.shards" in r.out_text, f"setup #{attempt} exits 0 and names the hash exchange",
                r.describe())
    for i in range(N):
        t.check_equal(t.queue_ready(shard(q, i)), 0, f"{shard(q, i)} exists, empty")
    t.check_equal(t.queue_ready(q + ".dead"), 0, f"{q}.dead exists, empty")
    t.check(t.queue_ready(q) is None, f"no plain queue '{q}' (it would get every record a second time)")


def status(t, q):
    r = t.run("logctl", ["status", "--queue", q, "--shards", str(N), "--json",
                         "--management-url", f"http://127.0.0.1:{t.env.mgmt_port}/"])
    try:
        return r, json.loads(r.out)
    except ValueError:
        return r, None


def distribution(t, q):
    t.section(f"(c) {RECORDS} records, one per message, over {N} shards")
    data = b"".join(b"rec %06d\n" % i for i in range(RECORDS))
    t.produce(q, data, ["--shards", str(N), "--batch-records", "1", "--quiet"])
    counts = [t.queue_ready(shard(q, i)) for i in range(N)]
    t.note(f"per shard: {counts}")
    t.check(all(c is not None for c in counts) and sum(counts) == RECORDS, f"the shards hold {RECORDS} in all",
            f"{counts}")
    for i, c in enumerate(counts):
        t.check(c is not None and 2_900 <= c <= 3_800, f"{shard(q, i)} gets a fair share (2,900 to 3,800)", f"{c}")
    last = [None, None]

    def sampled():  # the management API's statistics are up to 5 s old
        last[0], last[1] = status(t, q)
        rows = (last[1][0].get("shards") or []) if last[1] else []
        return [s.get("ready") for s in rows] == counts and all(s.get("unacked") == 0 for s in rows)

    wait_for(sampled, 30, 0.5)
    r, doc = last
    t.check(r.rc == 0 and isinstance(doc, list), "logctl status --shards --json exits 0 with JSON", r.describe())
    main = doc[0] if doc else {}
    rows = main.get("shards") or []
    t.check_equal(main.get("ready"), RECORDS, "status: the queue's row sums the shards")
    t.check_equal([s.get("ready") for s in rows], counts, "status: each shard's ready count")
    t.check_equal([s.get("queue") for s in rows], [shard(q, i) for i in range(N)], "status: the shards' names")
    t.check(all(s.get("type") == "classic" and s.get("leader") and s.get("members") == [s.get("leader")]
                for s in rows), "status: type classic, leader and members from the management API", f"{rows}")
    r = t.run("logctl", ["status", "--queue", q, "--shards", str(N),
                         "--management-url", f"http://127.0.0.1:{t.env.mgmt_port}/"])
    text = r.out_text
    t.check(r.rc == 0 and f"{q} ({N} shards)" in text and "LEADER" in text
            and all(shard(q, i) in text for i in range(N)), "status table: the sum row, one row per shard, "
            "the leaders", r.describe())
    return counts


def split_aggregators(t, q, counts):
    t.section("(d) two aggregators split the shards; a third takes all of them while records arrive")
    out_a, out_b = t.path("a.txt"), t.path("b.txt")
    a = t.start_aggregator("agg-a", q, out_a, extra=["--shards", str(N), "--shard-ids", "0,1", "--idle-exit", "3"],
                           wait_ready=False)
    b = t.start_aggregator("agg-b", q, out_b, extra=["--shards", str(N), "--shard-ids", "2", "--idle-exit", "3"],
                           wait_ready=False)
    t.finish_proc(a, 180)
    t.finish_proc(b, 180)
    got_a, got_b = lines_of(out_a), lines_of(out_b)
    t.check_equal(len(got_a), counts[0] + counts[1], "aggregator --shard-ids 0,1 wrote what shards 0 and 1 held")
    t.check_equal(len(got_b), counts[2], "aggregator --shard-ids 2 wrote what shard 2 held")
    want = sorted(b"rec %06d" % i for i in range(RECORDS))
    t.check(sorted(got_a + got_b) == want, f"together: each of the {RECORDS} records exactly once")

    out_c = t.path("c.txt")
    c = t.start_aggregator("agg-c", q, out_c, extra=["--shards", str(N), "--idle-exit", "3"])
    t.check(b"(all 3 shards)" in c.stdout(), "the all-shards aggregator says so", c.stdout().decode(errors="replace"))
    t.produce(q, b"".join(b"live %05d\n" % i for i in range(LIVE_RECORDS)), ["--shards", str(N), "--quiet"])
    t.finish_proc(c, 180)
    got_c = lines_of(out_c)
    t.check(sorted(got_c) == sorted(b"live %05d" % i for i in range(LIVE_RECORDS)),
            f"the all-shards aggregator wrote each of the {LIVE_RECORDS} live records once", f"{len(got_c)} lines")
    t.check_equal([t.queue_ready(shard(q, i)) for i in range(N)], [0] * N, "the shards end empty")


def dead_letters(t, q):
    t.section("(e) a malformed message in shard 1 goes to the one dead-letter queue")
    t.publish(shard(q, 1), [(b"bad", {"logship-version": "99"})], declare=False)
    out = t.path("dead.txt")
    t.drain("agg-dead", q, out, extra=["--shards", str(N)])
    t.check_equal(t.queue_ready(q + ".dead"), 1, f"{q}.dead holds the malformed message")
    r = t.run("logctl", ["dead", "list", "--queue", q, "--shards", str(N)])
    t.check(r.rc == 0 and "unsupported envelope version 99" in r.out_text, "logctl dead list shows it with its reason",
            r.describe())


def refused(t, prog, args, needle, what):
    r = t.run(prog, args, timeout=60)
    t.check(r.rc == 1 and len(r.err_lines) == 1 and needle in r.err_text, what, r.describe())


def mismatches(t, q):
    t.section("(g) a --shards that does not match the queue: refused, nothing declared")
    out = ["--output", t.path("mismatch.txt")]
    for flags, needle in (([], f"give --shards {N} "), (["--shards", "4"], f"sharded {N} ways"),
                          (["--shards", "2"], f"give --shards {N} ")):
        said = " ".join(flags) or "no --shards"
        refused(t, "log_producer", ["--queue", q, "x"] + flags, needle, f"log_producer, {said}: exit 1, one line")
        refused(t, "log_aggregator", ["--queue", q] + out + flags, needle, f"log_aggregator, {said}: exit 1, one line")
        refused(t, "logctl", ["setup", "--queue", q] + flags, needle, f"logctl setup, {said}: exit 1, one line")
    refused(t, "logctl", ["tail", "--queue", q], f"give --shards {N} ", "logctl tail, no --shards: exit 1, one line")
    r = t.run("logctl", ["status", "--queue", q])
    t.check(r.rc == 1 and f"is sharded ({N} shards): give --shards {N}" in r.err_text,
            "logctl status, no --shards: the queue missing (exit 1), a warning naming --shards 3", r.describe())
    t.check(t.queue_ready(q) is None, f"still no plain queue '{q}'")
    t.check(t.queue_ready(shard(q, N)) is None, f"no {shard(q, N)}")
    plain = t.queue("plain")
    r = t.run("logctl", ["setup", "--queue", plain])
    t.require(r.rc == 0, f"logctl setup of a plain queue '{plain}'", r.describe())
    for prog, args in (("log_producer", ["x"]), ("log_aggregator", out), ("logctl", None)):
        argv = (["setup"] if args is None else []) + ["--queue", plain, "--shards", str(N)] + (args or [])
        refused(t, prog, argv, "is not sharded", f"{prog} --shards {N} on a plain queue: exit 1, one line")
    t.check(t.queue_ready(shard(plain, 0)) is None, f"no {shard(plain, 0)}")


def plugin_off(t, q):
    t.section("(f) the consistent-hash exchange plugin disabled: one clear line")
    q2 = t.queue("noplugin")
    # rabbitmq-plugins edits the node's own plugins file (scripts/rabbitmq-node.sh writes it in its directory).
    env = dict(os.environ, RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(os.environ["LOGSHIP_TEST_BROKER_DIR"], "plugins"))
    off = subprocess.run(["rabbitmq-plugins", "-n", t.env.node, "disable", PLUGIN], capture_output=True,
                         timeout=120, stdin=subprocess.DEVNULL, env=env)
    try:
        t.check(off.returncode == 0, "rabbitmq-plugins disable works on the suite's node", off.stderr.decode())
        r = t.run("logctl", ["setup", "--queue", q2, "--shards", "2"])
        t.check(r.rc == 1 and len(r.err_lines) == 1 and f"rabbitmq-plugins enable {PLUGIN}" in r.err_text,
                "setup --shards exits 1 with one line saying how to enable the plugin", r.describe())
    finally:
        on = subprocess.run(["rabbitmq-plugins", "-n", t.env.node, "enable", PLUGIN], capture_output=True,
                            timeout=120, stdin=subprocess.DEVNULL, env=env)
        t.check(on.returncode == 0, "the plugin is enabled again", on.stderr.decode())


def body(t):
    q = t.queue("shards")
    t.queues += [shard(q, i) for i in range(N)]
    flags(t, q)
    setup(t, q)
    mismatches(t, q)
    counts = distribution(t, q)
    split_aggregators(t, q, counts)
    dead_letters(t, q)
    plugin_off(t, q)
    ch = t.pika().channel()
    ch.exchange_delete(exchange=f"{q}.shards")


run_test("shards", body)
