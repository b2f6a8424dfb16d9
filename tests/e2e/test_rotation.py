#!/usr/bin/python3
"""Output rotation, compression and retention, and SIGHUP reopening, against the real brokers.
Every record is counted in every file, decompressed with the zstd command line.

(a) Rotation by size under load: 200,000 records (180,000 info, 20,000 error, two producers at
    once) into an aggregator with --rotate-bytes 256K: many rotations; every rotated file is a
    checksummed zstd frame (`zstd -t`, `zstd -lv`), holds whole lines only and at most 256 KiB;
    every record is in exactly one file; nothing is left uncompressed or half-written.
(b) logctl search over those files, given in any order and as the documented shell glob
    `out.log*`: finds the records by level and --grep, in time order (each producer's records in
    sequence across the files, the live file last), the duplicate journal skipped silently.
(c) Retention: --keep 3 leaves exactly the 3 newest rotated files, which with the live file hold an
    unbroken tail of the records; --max-age deletes this output's old rotated files at start and
    never a file it did not name.
    --rotate-interval 1s during a paced load of 4 s: rotations at second boundaries (one file per
    second, no counter), every record once.
(d) SIGHUP during load, logrotate style: the file is renamed (once with a new empty file created
    in its place, once not), then SIGHUP: the union of the files holds every record once, each
    file ends in a whole line, and a restart on the output warns of no foreign file.
(e) SIGKILL after logrotate's rename, before the SIGHUP, then a restart on the output: the
    journal finds the renamed file; every record once.
(f) The shipped deploy/logrotate/logship, run by the real logrotate (forced, three times) during
    load, its postrotate sending SIGHUP: every record once across the live file, the uncompressed
    .1 (delaycompress) and the zstd-compressed older ones; the duplicate journal is left alone.
(g) SIGKILL while a rotated file is being compressed (when its temporary appears), three times,
    restarted each time: nothing lost, nothing twice, no temporary or uncompressed file left.
"""
# transports: amqp redis
import glob
import grp
import os
import pwd
import random
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import count_lines, feed_pipe, run_test, sample, tally, wait_for  # noqa: E402

LINE = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) ([^ ]+) (.*)$")
ROTATED = re.compile(r"^out\.log\.\d{8}T\d{6}Z(_\d{4,})?(\.zst)?$")
ZSTD = shutil.which("zstd") or "/usr/bin/zstd"
LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"
PAD = "x" * 40


def records(tag, n, start=0):
    return [f"{tag}-{i:06d} {PAD}" for i in range(start, start + n)]


def rotated_files(d, base="out.log"):
    """This output's rotated files in d (names), sorted by name: that is their time order."""
    return sorted(f for f in os.listdir(d) if ROTATED.match(f) and f.startswith(base + "."))


def decompress(t, path):
    cp = subprocess.run([ZSTD, "-q", "-dc", path], capture_output=True, timeout=120)
    t.check(cp.returncode == 0, f"zstd -dc {os.path.basename(path)}", cp.stderr.decode(errors="replace"))
    return cp.stdout


def file_lines(t, path, what):
    """The messages of a file's lines (decompressed if .zst); checks every line is whole."""
    data = decompress(t, path) if path.endswith(".zst") else open(path, "rb").read()
    if data and not data.endswith(b"\n"):
        t.check(False, f"{what}: {os.path.basename(path)} ends with a whole line", repr(data[-80:]))
    messages, bad = [], []
    for line in data.split(b"\n")[:-1] if data else []:
        m = LINE.match(line)
        if m:
            messages.append(m.group(4).decode())
        else:
            bad.append(line[:80])
    if bad:
        t.check(False, f"{what}: every line of {os.path.basename(path)} is a whole record", sample(bad))
    return messages, len(data)


def all_messages(t, d, what, extra=()):
    """Messages of every rotated file of out.log in d, then of out.log itself (and `extra` names)."""
    out = []
    for f in rotated_files(d) + list(extra) + ["out.log"]:
        p = os.path.join(d, f)
        if os.path.exists(p):
            out += file_lines(t, p, what)[0]
    return out


def check_once(t, expected, got, what):
    missing, dups, unexpected, _ = tally(expected, got)
    t.check(not missing, f"{what}: zero records lost ({len(missing)} missing of {len(expected)})", sample(missing))
    t.check(dups == 0, f"{what}: zero duplicates ({dups})")
    t.check(not unexpected, f"{what}: no unexpected line", sample(unexpected))


def no_leftovers(t, d, what):
    names = os.listdir(d)
    temps = [n for n in names if n.endswith(".tmp")]
    plain = [n for n in names if ROTATED.match(n) and not n.endswith(".zst")]
    t.check(not temps, f"{what}: no compression temporary left", temps)
    t.check(not plain, f"{what}: every rotated file is compressed", plain)


def stop(t, p, what):
    p.send_signal(signal.SIGTERM)
    t.finish_proc(p, 120, f"{what} exits 0 on SIGTERM")


def wait_drained(t, q, timeout=300):
    ok = wait_for(lambda: t.queue_counts(q) == (0, 0), timeout, 0.5)
    t.check(ok, f"'{q}' is drained (ready, unacked = 0, 0)", t.queue_counts(q))


# ---- (a) and (b) --------------------------------------------------------------------------------
def size_rotation_under_load(t):
    t.section("(a) --rotate-bytes 256K under load: 200,000 records")
    q = t.queue("size")
    d = t.path("size")
    os.makedirs(d)
    out = os.path.join(d, "out.log")
    info, error = records("info", 180_000), records("error", 20_000)
    # At most 20 messages of 100 records (~100 bytes a line) in one write: 200 KB < 256 KiB.
    agg = t.start_aggregator("agg-size", q, out, "text", ["--rotate-bytes", "256K", "--prefetch", "20"])
    procs = []
    for tag, recs, level in (("info", info, "info"), ("error", error, "error")):
        rfd, wfd = os.pipe()
        procs.append((t.spawn(f"producer-{tag}", "log_producer",
                              ["--queue", q, "--batch-records", "100", "--level", level, "--service", "svc"],
                              stdin=rfd), feed_pipe(recs, wfd, chunk=5000)))
        os.close(rfd)
    for p, feeder in procs:
        feeder.join()
        t.finish_proc(p, 300, f"{p.label} exits 0: every record confirmed")
    wait_drained(t, q)
    stop(t, agg, "agg-size")
    err = agg.stderr().decode(errors="replace")
    rot = rotated_files(d)
    t.note(f"{len(rot)} rotated files, e.g. {rot[:2]}")
    t.check(len(rot) >= 40, f"many rotations (20 MB at 256 KiB): {len(rot)} rotated files")
    no_leftovers(t, d, "(a)")
    t.check(err.count("rotated ") >= len(rot), "each rotation is logged", err[-2000:])

    t.section("(a) each rotated file: a checksummed zstd frame, whole lines, at most 256 KiB")
    paths = [os.path.join(d, f) for f in rot]
    cp = subprocess.run([ZSTD, "-q", "-t"] + paths, capture_output=True, timeout=300)
    t.check(cp.returncode == 0, "zstd -t: every rotated file decompresses and its checksum matches",
            cp.stderr.decode(errors="replace")[-2000:])
    cp = subprocess.run([ZSTD, "-lv", paths[0]], capture_output=True, text=True, timeout=60)
    t.check("XXH64" in cp.stdout, "zstd -lv: the frame carries a content checksum (Check: XXH64)", cp.stdout)
    sizes, got = [], []
    for p in paths:
        messages, size = file_lines(t, p, "(a)")
        got += messages
        sizes.append(size)
    t.check(max(sizes) <= 256 * 1024, f"no rotated file holds more than 256 KiB (largest {max(sizes)})")
    t.check(min(sizes) > 0, "no rotated file is empty")
    got += file_lines(t, out, "(a)")[0]
    check_once(t, info + error, got, "(a) the rotated files and the output")

    t.section("(b) logctl search over the rotated files")
    shuffled = [os.path.join(d, f) for f in os.listdir(d)]
    random.Random(7).shuffle(shuffled)
    r = t.run("logctl", ["search"] + shuffled, timeout=300)
    t.check(r.rc == 0 and r.err_text == "", "logctl search FILES (any order, the journal among them): exit 0, "
            "nothing on stderr (the journal of a given output is skipped silently)", r.describe())
    found = [LINE.match(l).group(4).decode() for l in r.out.split(b"\n") if LINE.match(l)]
    t.check_equal(len(found), 200_000, "every record is found")
    for tag, recs in (("info", info), ("error", error)):
        seq = [m for m in found if m.startswith(tag + "-")]
        t.check(seq == recs, f"time order: the {tag} records come in sequence across the files, the live file last",
                f"first out of order: {next((a, b) for a, b in zip(seq, recs) if a != b) if seq != recs else None}")
    shell = subprocess.run(["bash", "-c", f'"$0" search {d}/out.log* --level error | wc -l',
                            t.env.prog("logctl")], capture_output=True, text=True, timeout=300, env=t.child_env())
    t.check_equal(shell.stdout.strip(), "20000", "logctl search out.log* --level error (the shell's glob) finds "
                  "the 20,000 error records")
    t.check(shell.stderr == "", "... and warns of nothing", shell.stderr)
    r = t.run("logctl", ["search"] + shuffled + ["--grep", "info-012[0-9]{3} ", "--level", "info"], timeout=300)
    t.check_equal(len([l for l in r.out.split(b"\n") if l]), 1000, "--grep 'info-012[0-9]{3} ' --level info: 1,000")
    r = t.run("logctl", ["search", os.path.join(d, rot[0]), "--level", "fatal"])
    t.check(r.rc == 1 and r.out == b"", "--level fatal in a rotated file: no match, exit 1", r.describe())


# ---- (c) -----------------------------------------------------------------------------------------
def retention(t):
    t.section("(c) --keep 3: exactly the 3 newest rotated files stay")
    q = t.queue("keep")
    d = t.path("keep")
    os.makedirs(d)
    out = os.path.join(d, "out.log")
    recs = records("keep", 20_000)
    agg = t.start_aggregator("agg-keep", q, out, "text", ["--rotate-bytes", "64K", "--keep", "3", "--prefetch", "5"])
    t.produce(q, "".join(r + "\n" for r in recs).encode(), ["--batch-records", "100"])
    wait_drained(t, q)
    stop(t, agg, "agg-keep")
    rot = rotated_files(d)
    t.check_equal(len(rot), 3, f"3 rotated files kept: {rot}")
    no_leftovers(t, d, "(c)")
    err = agg.stderr().decode(errors="replace")
    deleted = err.count("(--keep 3)")
    t.check(deleted >= 20, f"the older rotated files were deleted, each logged ({deleted})")
    got = all_messages(t, d, "(c)")
    k = len(recs) - len(got)
    first = next((i for i, (a, b) in enumerate(zip(got, recs[k:])) if a != b), None)
    t.check(got == recs[k:], f"the kept files and the output hold the newest {len(got)} records, in order, once",
            f"kept {rot}; first difference at {first}: {got[first:first + 3] if first is not None else None} "
            f"instead of {recs[k + first:k + first + 3] if first is not None else None}")

    t.section("(c) --rotate-interval 1s during a paced load")
    q = t.queue("interval")
    d = t.path("interval")
    os.makedirs(d)
    out = os.path.join(d, "out.log")
    recs = records("iv", 8000)
    agg = t.start_aggregator("agg-iv", q, out, "text", ["--rotate-interval", "1s"])
    rfd, wfd = os.pipe()
    producer = t.spawn("producer-iv", "log_producer", ["--queue", q, "--batch-records", "100"], stdin=rfd)
    os.close(rfd)
    feed_pipe(recs, wfd, pace=0.25, chunk=500).join()  # at least 4 s of records
    t.finish_proc(producer, 300, "the producer exits 0")
    wait_drained(t, q)
    stop(t, agg, "agg-iv")
    rot = rotated_files(d)
    t.note(f"rotated: {rot}")
    t.check(len(rot) >= 2, f"a file per second of load: {len(rot)} rotated files")
    t.check(all("_" not in r for r in rot), "one rotation per second at most: no counter in the names", rot)
    err = agg.stderr().decode(errors="replace")
    t.check(err.count("--rotate-interval") >= len(rot), "each rotation says it was the interval", err[-1500:])
    check_once(t, recs, all_messages(t, d, "(c)"), "(c) interval-rotated files and the output")

    t.section("(c) --max-age: old rotated files of this output go at start; nothing else is touched")
    d = t.path("age")
    os.makedirs(d)
    out = os.path.join(d, "out.log")
    old = {"out.log.20200101T000000Z.zst": b"old\n", "out.log.20200101T000000Z_0001": b"old, left uncompressed\n"}
    foreign = {"out.log.1": b"logrotate's\n", "out.log.bak": b"a copy\n", "other.log.20200101T000000Z": b"theirs\n",
               "out.log.20200101T000000Z.gz": b"not ours\n", "out.log.20200101T000000Z_1": b"not a name it writes\n"}
    old["out.log.20200101T000000Z.zst"] = subprocess.run([ZSTD, "-q", "-c"], input=b"old\n", capture_output=True,
                                                         timeout=60).stdout
    for name, data in list(old.items()) + list(foreign.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    q = t.queue("age")
    t.produce(q, b"fresh record\n")
    p, rc = t.drain("agg-age", q, out, "text", ["--rotate-interval", "1d", "--max-age", "30d"], idle=1)
    names = sorted(os.listdir(d))
    t.check(not any(n in names for n in old), "the old rotated files (compressed or not) are deleted", names)
    t.check(all(n in names for n in foreign), "files it did not name are all there", names)
    t.check(count_lines(out) == 1, "the output holds the new record", names)
    err = p.stderr().decode(errors="replace")
    t.check(err.count("(--max-age 30d)") == 2, "each deletion is logged with its reason", err[-1500:])


# ---- (d) and (e) ---------------------------------------------------------------------------------
def sighup(t):
    t.section("(d) logrotate's rename + SIGHUP during load")
    q = t.queue("hup")
    d = t.path("hup")
    os.makedirs(d)
    out = os.path.join(d, "out.log")
    recs = records("hup", 60_000)
    agg = t.start_aggregator("agg-hup", q, out, "text", ["--prefetch", "20"])
    rfd, wfd = os.pipe()
    producer = t.spawn("producer-hup", "log_producer", ["--queue", q, "--batch-records", "100"], stdin=rfd)
    os.close(rfd)
    feeder = feed_pipe(recs, wfd, pace=0.1, chunk=1000)  # about 6 s
    for n, create in ((1, True), (2, False)):
        t.require(wait_for(lambda: count_lines(out) >= 5000 or not agg.alive(), 120, 0.01), f"records reach "
                  f"the output before rotation {n}", agg.result().describe())
        os.rename(out, f"{out}.{n}")
        if create:  # logrotate's `create`
            open(out, "wb").close()
        agg.send_signal(signal.SIGHUP)
        t.require(wait_for(lambda: count_lines(out) > 0 or not agg.alive(), 60, 0.01),
                  f"after rotation {n} (SIGHUP) records go to a new file at the path", agg.result().describe())
    feeder.join()
    t.finish_proc(producer, 300, "the producer exits 0")
    wait_drained(t, q)
    stop(t, agg, "agg-hup")
    err = agg.stderr().decode(errors="replace")
    t.check(err.count("(SIGHUP): the path names a new file") == 2, "the aggregator reopened its output twice",
            err[-2000:])
    t.check("reconnect" not in err.lower(), "SIGHUP does not disturb the broker connection", err[-2000:])
    counts = {f: count_lines(os.path.join(d, f)) for f in ("out.log.1", "out.log.2", "out.log")}
    t.note(f"lines per file: {counts}")
    t.check(all(c > 0 for c in counts.values()), "each of the three files got records", counts)
    check_once(t, recs, all_messages(t, d, "(d)", ["out.log.1", "out.log.2"]), "(d) the three files")
    p, _ = t.drain("agg-hup-restart", q, out, "text", idle=1)
    err = p.stderr().decode(errors="replace")
    t.check("not the file" not in err and "warn" not in err.lower(), "a restart on the output after the "
            "reopens warns of nothing (the journal names the new file)", err[-1500:])

    t.section("(e) SIGKILL after logrotate's rename, before any SIGHUP; restart on the output")
    q = t.queue("hupkill")
    d = t.path("hupkill")
    os.makedirs(d)
    out = os.path.join(d, "out.log")
    recs = records("hk", 40_000)
    agg = t.start_aggregator("agg-hk", q, out, "text", ["--prefetch", "50"])
    rfd, wfd = os.pipe()
    producer = t.spawn("producer-hk", "log_producer", ["--queue", q, "--batch-records", "100"], stdin=rfd)
    os.close(rfd)
    feeder = feed_pipe(recs, wfd, pace=0.1, chunk=1000)
    t.require(wait_for(lambda: count_lines(out) >= 10_000 or not agg.alive(), 120, 0.01), "records reach the output",
              agg.result().describe())
    os.rename(out, out + ".1")
    before = count_lines(out + ".1")
    wait_for(lambda: count_lines(out + ".1") > before + 2000 or not agg.alive(), 30, 0.005)
    agg.send_signal(signal.SIGKILL)
    agg.wait(10)
    t.note(f"killed with {count_lines(out + '.1')} lines in the renamed file")
    agg = t.start_aggregator("agg-hk-2", q, out, "text", ["--prefetch", "50"])
    feeder.join()
    t.finish_proc(producer, 300, "the producer exits 0")
    wait_drained(t, q)
    stop(t, agg, "agg-hk-2")
    err = agg.stderr().decode(errors="replace")
    t.check("not the file" not in err, "no 'not the file it last wrote to' warning after the restart", err[-1500:])
    t.check("checked that write in " + out + ".1" in err, "the restart checked the last write in the renamed file",
            err[-1500:])
    check_once(t, recs, all_messages(t, d, "(e)", ["out.log.1"]), "(e) the renamed file and the new output")


# ---- (f) -----------------------------------------------------------------------------------------
def logrotate(t):
    t.section("(f) the shipped logrotate configuration, run by logrotate during load")
    q = t.queue("logrotate")
    d = t.path("logrotate")
    os.makedirs(d)
    out = os.path.join(d, "aggregated_logs.txt")
    recs = records("lr", 40_000)
    agg = t.start_aggregator("agg-lr", q, out, "text", ["--prefetch", "20"])
    # deploy/logrotate/logship, aimed at this directory, this user, and this aggregator's pid.
    with open(os.path.join(t.env.source, "deploy", "logrotate", "logship")) as f:
        conf = f.read()
    user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    for old, new in (("/var/log/logship", d), ("create 0640 logship logship", f"create 0640 {user} {group}"),
                     ("systemctl reload 'logship-aggregator*.service' >/dev/null 2>&1 || true",
                      f"kill -HUP {agg.pid}")):
        t.require(old in conf, f"deploy/logrotate/logship holds {old!r}")
        conf = conf.replace(old, new)
    conf_path = t.path("logrotate.conf")
    with open(conf_path, "w") as f:
        f.write(conf)
    rfd, wfd = os.pipe()
    producer = t.spawn("producer-lr", "log_producer", ["--queue", q, "--batch-records", "100"], stdin=rfd)
    os.close(rfd)
    feeder = feed_pipe(recs, wfd, pace=0.1, chunk=1000)  # about 4 s
    for n in range(3):
        t.require(wait_for(lambda: count_lines(out) >= 3000 or not agg.alive(), 120, 0.01),
                  f"records reach the output before logrotate run {n + 1}", agg.result().describe())
        cp = subprocess.run([LOGROTATE, "-f", "-s", t.path("logrotate.state"), conf_path], capture_output=True,
                            timeout=120)
        t.check(cp.returncode == 0, f"logrotate -f run {n + 1} exits 0", cp.stdout + cp.stderr)
        t.require(wait_for(lambda: count_lines(out) > 0 or not agg.alive(), 60, 0.01),
                  f"after logrotate run {n + 1} records go to the new file", agg.result().describe())
    feeder.join()
    t.finish_proc(producer, 300, "the producer exits 0")
    wait_drained(t, q)
    stop(t, agg, "agg-lr")
    names = sorted(os.listdir(d))
    t.note(f"files: {names}")
    for name in ("aggregated_logs.txt", "aggregated_logs.txt.1", "aggregated_logs.txt.2.zst",
                 "aggregated_logs.txt.3.zst", "aggregated_logs.txt.ids"):
        t.check(name in names, f"{name} is there", names)
    err = agg.stderr().decode(errors="replace")
    t.check(err.count("(SIGHUP): the path names a new file") == 3, "each postrotate's SIGHUP reopened the output",
            err[-1500:])
    got = []
    for name in names:
        if name.startswith("aggregated_logs.txt") and not name.endswith(".ids"):
            got += file_lines(t, os.path.join(d, name), "(f)")[0]
    check_once(t, recs, got, "(f) the files logrotate left")
    shell = subprocess.run(["bash", "-c", f'"$0" search {d}/aggregated_logs.txt* --grep "^" | wc -l',
                            t.env.prog("logctl")], capture_output=True, text=True, timeout=300, env=t.child_env())
    t.check_equal(shell.stdout.strip(), "40000", "logctl search aggregated_logs.txt* reads logrotate's files too")


# ---- (g) -----------------------------------------------------------------------------------------
def kills_during_compression(t):
    t.section("(g) SIGKILL while rotated files are compressed, three times")
    q = t.queue("kill")
    d = t.path("kill")
    os.makedirs(d)
    out = os.path.join(d, "out.log")
    recs = records("kill", 100_000)
    rfd, wfd = os.pipe()
    producer = t.spawn("producer-kill", "log_producer", ["--queue", q, "--batch-records", "100"], stdin=rfd)
    os.close(rfd)
    feeder = feed_pipe(recs, wfd, pace=0.15, chunk=1000)  # about 15 s
    args = ["--rotate-bytes", "1M", "--prefetch", "50"]
    caught = 0
    for k in range(3):
        agg = t.start_aggregator(f"agg-kill-{k}", q, out, "text", args)
        # Kill it the moment a compression is under way (its hidden temporary exists), or after
        # some rotations if that moment is not seen.
        deadline = time.monotonic() + 20
        seen = False
        while time.monotonic() < deadline and agg.alive():
            if glob.glob(os.path.join(d, ".out.log.*.zst.tmp")):
                seen = True
                break
            time.sleep(0.001)
        agg.send_signal(signal.SIGKILL)
        agg.wait(10)
        caught += seen
        t.note(f"kill {k}: {'during a compression' if seen else 'no compression seen in 20 s'}; files now: "
               f"{len(rotated_files(d))} rotated")
    t.note(f"{caught} of 3 kills hit a compression in progress")
    agg = t.start_aggregator("agg-kill-final", q, out, "text", args)
    feeder.join()
    t.finish_proc(producer, 300, "the producer exits 0")
    wait_drained(t, q)
    stop(t, agg, "agg-kill-final")
    no_leftovers(t, d, "(g)")
    check_once(t, recs, all_messages(t, d, "(g)"), "(g) after three SIGKILLs")


def body(t):
    t.require(os.access(ZSTD, os.X_OK), "the zstd command line is installed (scripts/install-deps.sh)")
    size_rotation_under_load(t)
    retention(t)
    sighup(t)
    t.require(os.access(LOGROTATE, os.X_OK), "logrotate is installed (scripts/install-deps.sh)")
    logrotate(t)
    kills_during_compression(t)


if __name__ == "__main__":
    run_test("rotation", body, time_limit=580)
