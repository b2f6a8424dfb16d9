#!/usr/bin/python3
"""log_producer --compress zstd (issue 21): batches travel as one zstd frame each, marked
logship-encoding: zstd (over AMQP also content_encoding: zstd), and the aggregator writes every record
exactly as a plain batch would. A compressed body that does not inflate (corrupt, truncated, not zstd
at all) is a dead letter with a clear reason, never a crash, and the records around it are written
once. A bad --compress value is one error line, exit 2.
The input is the bench's realistic log lines (bench/loggen.py), so the byte saving is a real one."""
# transports: amqp redis
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import read_lines, run_test, wait_for  # noqa: E402

sys.path.insert(0, os.path.join(os.environ["LOGSHIP_SOURCE_DIR"], "bench"))
import loggen  # noqa: E402

N = 20_000


def inflate(body):
    return subprocess.run(["zstd", "-d", "-c", "-q"], input=body, capture_output=True, check=True).stdout


def header(props, key):
    v = (props.headers or {}).get(key)
    return v.decode() if isinstance(v, bytes) else v


def body(t):
    amqp = t.env.transport == "amqp"
    lines = list(loggen.generate(N, seed=5))
    data = "".join(x + "\n" for x in lines).encode()

    t.section("what travels: one zstd frame per batch, marked as such")
    q = t.queue("wire")
    part = data[: data.index(b"\n", len(data) // 10) + 1]  # whole lines
    t.produce(q, part, ["--compress", "zstd:3", "--batch-records", "500"])
    msgs = t.get_all(q, timeout=30)
    t.check(len(msgs) >= 4, f"the producer sent batches ({len(msgs)} messages)")
    text = b""
    wire = 0
    for props, b in msgs:
        wire += len(b)
        if header(props, "logship-batch") in (None, "1"):
            text += b + b"\n"
            continue
        t.check_equal(header(props, "logship-encoding"), "zstd", "a batch says logship-encoding: zstd")
        if amqp:
            t.check_equal(props.content_encoding, "zstd", "and the AMQP content_encoding property says zstd")
        text += inflate(b) + b"\n"
    t.check(text == part, "the zstd command inflates the batches to the lines sent",
            f"{len(text)} bytes inflated, {len(part)} sent")
    t.check(wire * 3 < len(text), f"{len(text)} bytes of text travelled as {wire} bytes (over 3 times fewer)")

    t.section(f"{N:,} realistic records through the aggregator")
    q = t.queue("pipe")
    out = t.path("pipe.log")
    agg = t.start_aggregator("agg", q, out)
    t.produce(q, data, ["--compress", "zstd"])
    wait_for(lambda: len(read_lines(out)[0]) >= N or not agg.alive(), 180)
    got = read_lines(out)[0]
    t.check_equal(len(got), N, "every record is written once")
    t.check(got == [x.encode() for x in lines], "each exactly as it was sent, in order")

    t.section("a compressed body that does not inflate is a dead letter with its reason")
    # A frame without its content size, as a streaming compressor writes (accepted: it inflates to 3 lines).
    frame = subprocess.run(["zstd", "-c", "-q"], input=b"a\nb\nc", capture_output=True, check=True).stdout
    t.publish(q, [(frame, {"logship-version": "1", "logship-batch": "3", "logship-encoding": "zstd",
                           "logship-id": "stream-1"})])
    bad = {"truncated": frame[:-6], "not zstd": b"a\nb\nc", "trailing bytes": frame + b"junk"}
    for name, b in bad.items():
        t.publish(q, [(b, {"logship-version": "1", "logship-batch": "3", "logship-encoding": "zstd",
                           "logship-id": f"bad-{len(name)}0"})])
    t.produce(q, b"after the bad ones\n", ["--compress", "zstd"])
    ok = wait_for(lambda: b"after the bad ones" in b"\n".join(read_lines(out)[0]) or not agg.alive(), 120)
    t.check(ok and agg.alive(), "the aggregator goes on after them", agg.result().describe())
    dead = t.get_all(q + ".dead", expect=3, timeout=60)
    reasons = sorted(header(p, "logship-dead-reason") or "" for p, _ in dead)
    t.check_equal(len(dead), 3, "the three bad messages are dead letters")
    for want in ("truncated or corrupt", "is not a zstd frame", "bytes after its frame"):
        t.check(any(want in r for r in reasons), f"one reason says '{want}'", "\n".join(reasons))
    agg.send_signal(signal.SIGTERM)
    t.finish_proc(agg, 60)
    got = read_lines(out)[0]
    t.check_equal(got[N:], [b"a", b"b", b"c", b"after the bad ones"],
                  "the frame without a content size is written, nothing of the bad ones")

    t.section("a bad --compress value")
    r = t.run("log_producer", ["--queue", q, "--compress", "gzip", "x"])
    t.check_equal(r.rc, 2, "exit 2")
    t.check_equal(len(r.err_lines), 1, "one error line")
    t.check("--compress" in r.err_text and "'gzip' is not a compression" in r.err_text,
            "it names the flag and the value", r.err_text)


if __name__ == "__main__":
    run_test("compress", body)
