#!/usr/bin/python3
"""How the aggregator writes its files (docs/SECURITY.md#files, docs/RELIABILITY.md).
(a) Two aggregators on one output file: the second exits 1 at once with one error line naming the
    first (its pid) and the fix (its own --output); the first keeps writing every record, once.
    Over Redis too (exit 1, as docs/CLI.md, "Exit status" says; it was 2).
(b) A symbolic link at --output is refused (exit 1, one line naming --allow-symlink-output) and its
    target is not touched; with --allow-symlink-output the records go to the target.
(c) Under umask 022 the output and its duplicate journal are created 0640; --file-mode 0600 (or
    file-mode = "0600" in the configuration file) gives 0600; a bad mode is exit 2.
(d) `rm out.txt` while the aggregator runs: it warns, creates the file again, and every record sent
    after the deletion is in the new file exactly once (none only in the unlinked one)."""
# transports: amqp redis
import os
import signal
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import read_lines, run_test, tally, wait_for  # noqa: E402


def records(tag, n):
    return [f"{tag}-{i:05d}" for i in range(n)]


def send(t, q, recs, extra=()):
    t.produce(q, ("\n".join(recs) + "\n").encode(), list(extra))


def count_all(t, out, expected, what):
    lines, partial = read_lines(out)
    missing, dups, extra, _ = tally(expected, [l.decode() for l in lines])
    t.check(not missing and dups == 0 and not extra and partial == b"",
            f"{what}: all {len(expected)} records once, whole lines",
            f"missing {len(missing)}, duplicated {dups}, unexpected {len(extra)}, partial {partial[:40]!r}")


def part_a(t):
    t.section("(a) a second aggregator on the same output file is refused, naming the first")
    q = t.queue("shared")
    out = t.path("shared.log")
    first = t.start_aggregator("agg-first", q, out)
    second = t.run("log_aggregator", ["--queue", q, "--output", out, "--format", "raw"], timeout=30)
    t.check_equal(second.rc, 1, "the second aggregator exits 1")
    line = second.err_lines[0] if second.err_lines else ""
    t.check(len(second.err_lines) == 1 and line.startswith("log_aggregator: error:"), "one error line",
            second.describe())
    t.check(f"pid {first.pid}" in line and "--output" in line and "shared.log" in line,
            "it names the file, the other aggregator's pid and the fix (--output)", line)
    t.check(b"Waiting for logs" not in second.out, "the second never started consuming", second.describe())
    expected = records("a", 3000)
    send(t, q, expected)
    wait_for(lambda: len(read_lines(out)[0]) >= len(expected), 60, 0.1)
    first.send_signal(signal.SIGTERM)
    t.finish_proc(first, 30)
    count_all(t, out, expected, "the first aggregator wrote")


def part_b(t):
    t.section("(b) a symbolic link at --output is refused unless --allow-symlink-output")
    q = t.queue("link")
    target = t.path("target.txt")
    with open(target, "w") as f:
        f.write("precious\n")
    link = t.path("linked.log")
    os.symlink(target, link)
    r = t.run("log_aggregator", ["--queue", q, "--output", link, "--idle-exit", "1"], timeout=30)
    t.check_equal(r.rc, 1, "a symlinked --output exits 1")
    line = r.err_lines[0] if r.err_lines else ""
    t.check(len(r.err_lines) == 1 and "symbolic link" in line and "--allow-symlink-output" in line,
            "one error line saying it is a link and naming --allow-symlink-output", r.describe())
    with open(target) as f:
        t.check_equal(f.read(), "precious\n", "the link's target is untouched")
    expected = records("b", 500)
    send(t, q, expected)
    t.drain("agg-link", q, link, extra=["--allow-symlink-output"])
    lines, _ = read_lines(target)
    t.check_equal(len(lines), len(expected) + 1, "with --allow-symlink-output the records go to the target")


def part_c(t):
    t.section("(c) files are created 0640 under umask 022; --file-mode changes it")
    old = os.umask(0o022)
    try:
        q = t.queue("modes")
        out = t.path("modes.log")
        send(t, q, records("c", 10))
        t.drain("agg-modes", q, out)
        for path in (out, out + ".ids"):
            mode = stat.S_IMODE(os.stat(path).st_mode) if os.path.exists(path) else None
            t.check(mode == 0o640, f"{os.path.basename(path)} is 0640 ({mode and oct(mode)})")
        q2 = t.queue("modes2")
        out2 = t.path("private.log")
        send(t, q2, records("c2", 10))
        t.drain("agg-private", q2, out2, extra=["--file-mode", "0600"])
        mode = stat.S_IMODE(os.stat(out2).st_mode) if os.path.exists(out2) else None
        t.check(mode == 0o600, f"--file-mode 0600 gives 0600 ({mode and oct(mode)})")
        conf = t.path("modes.toml")
        with open(conf, "w") as f:
            f.write('[log_aggregator]\nfile-mode = "0600"\n')
        q3 = t.queue("modes3")
        out3 = t.path("configured.log")
        send(t, q3, records("c3", 10))
        t.drain("agg-configured", q3, out3, extra=["--config", conf])
        mode = stat.S_IMODE(os.stat(out3).st_mode) if os.path.exists(out3) else None
        t.check(mode == 0o600, f"file-mode = \"0600\" in the configuration file gives 0600 ({mode and oct(mode)})")
        bad = t.run("log_aggregator", ["--queue", q3, "--output", out3, "--file-mode", "0989"], timeout=30)
        t.check(bad.rc == 2 and len(bad.err_lines) == 1 and "--file-mode" in bad.err_text,
                "a bad --file-mode is a usage error (exit 2, one line naming it)", bad.describe())
    finally:
        os.umask(old)


def part_d(t):
    t.section("(d) the output is deleted while the aggregator writes: it is created again, nothing lost")
    q = t.queue("deleted")
    out = t.path("deleted.log")
    agg = t.start_aggregator("agg-deleted", q, out, extra=["--idle-exit", "3"])
    before = records("before", 2000)
    send(t, q, before)
    t.require(wait_for(lambda: len(read_lines(out)[0]) >= len(before), 60, 0.1), "the first records are written")
    os.unlink(out)
    after = records("after", 5000)
    send(t, q, after, ["--batch-records", "50"])
    t.finish_proc(agg, 120)
    err = agg.stderr().decode(errors="replace")
    t.check("was deleted while being written" in err, "a warning says the output was deleted", err[-2000:])
    t.require(os.path.exists(out), "the output exists again at its path")
    count_all(t, out, after, "the new file holds every record sent after the deletion")


def body(t):
    part_a(t)
    part_b(t)
    part_c(t)
    part_d(t)


if __name__ == "__main__":
    run_test("output_files", body)
