#!/usr/bin/python3
"""10,000 malformed messages through a raw client (pika, or redis-py over Redis) mixed with valid
ones: random bytes, invalid UTF-8, empty bodies, bodies over --max-message-bytes, and broken
envelopes (wrong header types, unknown versions, bad timestamps and levels; over Redis, broken
\\xffLS framing). The aggregator must keep running, and every message must end up as exactly one
line in the output or as one message in the dead-letter queue: lines + dead letters = messages."""
# transports: amqp redis
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import count_lines, read_lines, redis_envelope, run_test, wait_for  # noqa: E402

N = 10_000
MAX_BYTES = 4096


def amqp_message(rng, i):
    kind = i % 8
    if kind == 0:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200))), None  # random bytes: a plain record
    if kind == 1:
        return b"\xff\xfe invalid utf-8 \xc3\x28 " + str(i).encode(), None
    if kind == 2:
        return b"", None
    if kind == 3:
        return b"x" * (MAX_BYTES + 1 + i % 100), None  # over the limit: dead-lettered
    if kind == 4:
        return b"bad version", {"logship-version": rng.choice(["2", "", "1.0", "one"])}
    if kind == 5:
        return b"integer ts", {"logship-version": "1", "logship-ts": rng.randint(0, 2**40)}  # non-string header
    if kind == 6:
        return b"bad level", {"logship-version": "1", "logship-level": "shouting\n"}
    return f"valid {i}".encode(), {"logship-version": "1", "logship-ts": "1700000000000000", "logship-level": "info"}


def redis_message(rng, i):
    kind = i % 8
    if kind == 0:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200))).replace(b"\xffLS", b"xLS"), None
    if kind == 1:
        return b"\xff\xfe invalid utf-8 \xc3\x28 " + str(i).encode(), None
    if kind == 2:
        return b"", None
    if kind == 3:
        return b"x" * (MAX_BYTES + 1 + i % 100), None
    if kind == 4:
        return rng.choice([b"\xffLS9\nx", b"\xffLS1 no-line-feed", b"\xffLS1 a=%zz\nx", b"\xffLS1 =v\nx"]), "raw"
    if kind == 5:
        return b"bad ts", {"logship-version": "1", "logship-ts": "12abc"}
    if kind == 6:
        return b"bad level", {"logship-version": "1", "logship-level": "shouting\n"}
    return f"valid {i}".encode(), {"logship-version": "1", "logship-ts": "1700000000000000", "logship-level": "info"}


def body(t):
    q = t.queue()
    rng = random.Random(20261124)
    redis = t.env.transport == "redis"
    messages = [(redis_message if redis else amqp_message)(rng, i) for i in range(N)]
    r = t.run("logctl", ["setup", "--queue", q])
    t.require(r.rc == 0, "logctl setup", r.describe())
    if redis:
        values = [m if h in (None, "raw") else redis_envelope(m, h) for m, h in messages]
        for i in range(0, len(values), 1000):
            t.broker.r.rpush(q, *values[i:i + 1000])
    else:
        t.publish(q, messages, declare=False)
    t.check_equal(t.queue_ready(q), N, f"{N} messages waiting")
    out = t.path("out.log")
    agg = t.start_aggregator("agg", q, out, "text", ["--max-message-bytes", str(MAX_BYTES)])
    dead = q + ".dead"
    done = wait_for(lambda: count_lines(out) + (t.queue_ready(dead) or 0) >= N or not agg.alive(), 120, 0.2)
    t.check(agg.alive(), "the aggregator is still running after the flood", agg.result().describe())
    lines, partial = read_lines(out)
    n_dead = t.queue_ready(dead) or 0
    t.check(done and len(lines) + n_dead == N, f"every message is a line or a dead letter: {len(lines)} lines + "
            f"{n_dead} dead = {len(lines) + n_dead} of {N}")
    t.check(partial == b"", "the output ends with a complete line")
    t.check(all(b"\n" not in l and b"\r" not in l for l in lines), "every line is one line")
    try:
        for l in lines:
            l.decode("utf-8", "strict")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    t.check(utf8, "the output is valid UTF-8 (invalid bytes escaped)")
    want_dead = sum(1 for i in range(N) if i % 8 in (3, 4, 5, 6))
    t.check_equal(n_dead, want_dead, "exactly the over-size and broken-envelope messages are dead letters")
    t.check_equal(t.queue_counts(q), (0, 0), "nothing left in the queue (ready, unacked)")


if __name__ == "__main__":
    run_test("malformed_flood", body, time_limit=600)
