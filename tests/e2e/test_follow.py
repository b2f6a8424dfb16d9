#!/usr/bin/python3
"""log_producer --follow: files followed across rotations and restarts, and multiline records.

A writer thread appends unique, fixed-width lines to a log file at a steady pace (one write(2) per
line, O_APPEND, like a logging library) while the test rotates the file and stops, kills and
restarts the producer; an aggregator then drains the queue and every record is counted:
(a) rotation by rename + create, 4 times while writing (the writer keeps writing to the renamed file
    for 0.3 s before it reopens the path, as after logrotate's rename and before its postrotate):
    every line exactly once; the metrics count the 4 rotations.
(b) copytruncate while writing: (b1) the writer pauses while the file is copied and truncated, 3
    times (so nothing is written between the producer's last read and the truncation): every line
    exactly once; (b2) the writer does not pause (the copy and truncation happen between two of its
    lines; the producer is not waited for): what the producer had not read when the file was
    truncated is read from the copy: every line exactly once. (b3) real logrotate -f with
    copytruncate, compress and delaycompress, 3 times while the writer writes: the rest of each old
    content is read from its copy (app.log.1), so every line logrotate kept (in the copies or the
    file) arrives exactly once; the only lines lost are those written between logrotate's copy and
    its truncation (in no file), counted and printed; a warning names each copy. The same with the
    writer paused while logrotate runs (the producer not waited for): every line exactly once.
(c) SIGTERM in the middle (exit 0), the file rotated by rename while the producer is stopped, restart
    on the same state file: the rest of the renamed file is read, then the new one: every line
    exactly once.
(d) SIGKILL in the middle of a burst (100,000 lines written at once; 400,000 over Redis; a new burst before each kill), 3 times,
    restart: the state file was saved during the burst (an offset between its start and its end,
    before all of it was read and confirmed); the restarts send again the lines after that offset,
    with the ids they had (stream and line number), so the aggregator drops them: every line
    exactly once in the output.
(e) a glob: a file already there at the first start is followed from its end (tail -F), a file
    created later from its beginning; every record carries the field file=PATH.
(f) multiline: Java stack traces (--multiline-indented, with "Caused by:") and Python tracebacks
    (--multiline-start on the timestamp) arrive as one record each, exactly as written (the
    aggregator escapes the line breaks: one line per record), the last one after the multiline
    timeout while the producer still runs; the same through stdin.
(g) errors: bad flag combinations and a bad regex are one line and exit 2; a damaged state file one
    line naming FILE:LINE and exit 1, before the broker is contacted; a state file in use by another
    producer exit 1; the configuration file's follow = [...] works.
"""
# transports: amqp redis
import json
import os
import re
import shutil
import contextlib
import gzip
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import metrics_address, read_lines, run_test, sample, scrape, tally, wait_for  # noqa: E402

PAD = "x" * 40


class Writer(threading.Thread):
    """Appends `total` lines '<tag>-<n:06d> <pad>' (fixed width) to `path`, one write(2) each,
    `pace` seconds apart. `reopen` makes it open the path again before its next line (an
    application told to reopen its log); holding `lock` pauses it."""

    def __init__(self, path, tag, total, pace=0.002):
        super().__init__(daemon=True)
        self.path, self.tag, self.total, self.pace = path, tag, total, pace
        self.lock = threading.Lock()
        self.reopen = False
        self.written = 0
        self.lines = [f"{tag}-{n:06d} {PAD}" for n in range(total)]
        self.width = len(self.lines[0]) + 1

    def run(self):
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            for n in range(self.total):
                with self.lock:
                    if self.reopen:
                        os.close(fd)
                        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                        self.reopen = False
                    os.write(fd, (self.lines[n] + "\n").encode())
                    self.written = n + 1
                if self.pace:
                    time.sleep(self.pace)
        finally:
            os.close(fd)


def follower(t, label, q, follow, state, extra=()):
    args = ["--queue", q, "--batch-records", "1", "--state-file", state] + list(extra) + ["--follow"] + list(follow)
    return t.spawn(label, "log_producer", args)


def wait_following(t, p, what, count=1):
    ok = wait_for(lambda: p.stderr().count(b"following ") >= count or not p.alive(), 30)
    t.require(ok and p.alive(), f"{p.label} follows {what}", p.result().describe())


def stop(t, p, what=None):
    p.send_signal(signal.SIGTERM)
    return t.finish_proc(p, 60, what or f"{p.label} exits 0 on SIGTERM")


def wait_queue(t, q, n, timeout=90):
    ok = wait_for(lambda: (t.queue_ready(q) or 0) >= n, timeout, 0.2)
    t.check(ok, f"{n} records reach the queue (ready: {t.queue_ready(q)})")


def drained(t, q, name, fmt="raw"):
    out = t.path(f"{name}.out")
    t.drain(f"agg-{name}", q, out, fmt, until_empty=True)
    lines, partial = read_lines(out)
    t.check(partial == b"", f"{name}: the output ends with a newline")
    return [l.decode() for l in lines]


def exactly_once(t, expected, got, what):
    missing, dups, unexpected, _ = tally(expected, got)
    t.check(not missing and dups == 0 and not unexpected and len(got) == len(expected),
            f"{what}: all {len(expected)} lines exactly once",
            f"{len(got)} received, {len(missing)} missing ({sample(missing)}), {dups} duplicates, "
            f"{len(unexpected)} unexpected ({sample(unexpected)})")


def rename_rotation(t):
    t.section("(a) rotation by rename + create, 4 times while writing")
    q = t.queue("rename")
    log, state = t.path("a.log"), t.path("a.state")
    open(log, "w").close()
    p = follower(t, "producer-a", q, [log], state, ["--metrics-listen", "127.0.0.1:0"])
    wait_following(t, p, log)
    address = metrics_address(t, p)
    w = Writer(log, "a", 4000)
    w.start()
    for k in range(1, 5):
        time.sleep(1.0)
        os.rename(log, f"{log}.{k}")
        time.sleep(0.3)  # the writer still writes to the renamed file
        w.reopen = True
    w.join()
    wait_queue(t, q, w.total)
    m = scrape(address)
    t.check_equal(m.value("logship_producer_file_rotations_total"), 4, "the producer counted 4 rotations")
    t.check(wait_for(lambda: scrape(address).value("logship_producer_files_followed") == 1, 20, 0.2),
            "the renamed files are closed once read: 1 file followed")
    stop(t, p)
    t.check(p.stderr().count(b"was renamed or deleted") == 4, "each rotation is logged once", p.result().describe())
    exactly_once(t, w.lines, drained(t, q, "rename"), "rename rotation")


def copytruncate(t):
    t.section("(b1) copytruncate, the writer paused during copy and truncation, 3 times")
    q = t.queue("ct")
    log, state = t.path("b.log"), t.path("b.state")
    open(log, "w").close()
    p = follower(t, "producer-b1", q, [log], state)
    wait_following(t, p, log)
    w = Writer(log, "b", 2000)
    w.start()
    for k in range(1, 4):
        time.sleep(1.0)
        with w.lock:  # paused: copied and truncated only once the producer has shipped everything written
            t.check(wait_for(lambda: (t.queue_ready(q) or 0) >= w.written, 30, 0.05),
                    f"before copytruncate {k}: the {w.written} lines written are in the queue")
            shutil.copyfile(log, f"{log}.{k}")
            os.truncate(log, 0)
    w.join()
    wait_queue(t, q, w.total)
    stop(t, p)
    exactly_once(t, w.lines, drained(t, q, "ct"), "copytruncate with pauses")

    t.section("(b2) copytruncate while the writer keeps writing, 3 times")
    q = t.queue("ct2")
    log, state = t.path("b2.log"), t.path("b2.state")
    open(log, "w").close()
    p = follower(t, "producer-b2", q, [log], state)
    wait_following(t, p, log)
    w = Writer(log, "c", 2000)
    w.start()
    for k in range(1, 4):
        time.sleep(1.0)
        with w.lock:  # between two lines (a copytruncate is not atomic: logrotate loses what comes in between)
            shutil.copyfile(log, f"{log}.{k}")
            os.truncate(log, 0)
    w.join()
    wait_read(t, state, log)
    stop(t, p)
    got = drained(t, q, "ct2")
    exactly_once(t, w.lines, got, "copytruncate under load: what the producer had not read is read from the copy")


def lines_of(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return [l.decode() for l in f.read().split(b"\n") if l]


def logrotate_copytruncate(t):
    for paused in (True, False):
        logrotate_run(t, paused)


def logrotate_run(t, paused):
    """Real logrotate -f (copytruncate, compress, delaycompress) 3 times while a writer writes; with
    `paused`, the writer waits while logrotate runs (nothing is written between its copy and its
    truncation), but the producer is not waited for: what it has not read yet is only in the copy."""
    name = "lrp" if paused else "lr"
    t.section(f"(b3) logrotate -f with copytruncate, 3 times while the writer writes{', paused around it' if paused else ''}")
    q = t.queue(name)
    d = t.path(name)
    os.makedirs(d)
    log, state, conf = os.path.join(d, "app.log"), t.path(f"{name}.state"), t.path(f"{name}.conf")
    with open(conf, "w") as f:
        f.write(f"{log} {{\n  copytruncate\n  rotate 5\n  compress\n  delaycompress\n  missingok\n}}\n")
    open(log, "w").close()
    p = follower(t, f"producer-{name}", q, [log], state)
    wait_following(t, p, log)
    w = Writer(log, "r", 6000, pace=0.001)
    w.start()
    for k in range(1, 4):
        time.sleep(1.0)
        with (w.lock if paused else contextlib.nullcontext()):
            r = subprocess.run(["logrotate", "-f", "-s", t.path(f"{name}.status"), conf], capture_output=True)
        t.require(r.returncode == 0, f"logrotate {k} rotates {log}", r.stderr.decode())
    w.join()
    wait_read(t, state, log)
    stop(t, p)
    err = p.stderr()
    truncations = err.count(b"was truncated (copytruncate): following it from its beginning")
    copies = err.count(b"read from its copy")
    # Unpaused, the producer can read lines written between logrotate's copy and its truncation:
    # then the copy is shorter than what it read, is no copy of it, and nothing of it is unread.
    ahead = 0 if paused else len(re.findall(rb"no copy of it [^\n]* is lost \(0 bytes seen\)", err))
    t.check(truncations == 3 and copies + ahead == 3,
            "each truncation is a warning naming the copy read" + ("" if paused else
            " (or, when the producer had read past the copy, saying nothing after it was seen)"),
            f"{truncations} truncations, {copies} copies read, {ahead} ahead of the copy\n" + p.result().describe())
    got = drained(t, q, name)
    if paused:
        exactly_once(t, w.lines, got, "logrotate copytruncate with the writer paused around it")
        return
    kept = set()
    for file in sorted(os.listdir(d)):
        kept.update(lines_of(os.path.join(d, file)))
    missing, dups, unexpected, _ = tally(w.lines, got)
    t.check(dups == 0 and not unexpected, f"logrotate copytruncate: no duplicates ({dups}), nothing unexpected")
    # A line written between logrotate's copy and its truncation is in no file: it arrives if the
    # producer read it before the truncation, else it is lost (counted below).
    t.check(kept <= set(got), f"every one of the {len(kept)} lines logrotate kept (in {sorted(os.listdir(d))}) arrived",
            sample(kept - set(got)))
    t.note(f"lost: {len(missing)} of {w.total} lines, {len(set(missing) - kept)} of them in no file (written between "
           "logrotate's copy and its truncation)")


def term_restart(t):
    t.section("(c) SIGTERM in the middle, rotation while stopped, restart")
    q = t.queue("term")
    log, state = t.path("c.log"), t.path("c.state")
    open(log, "w").close()
    p = follower(t, "producer-c1", q, [log], state)
    wait_following(t, p, log)
    w = Writer(log, "t", 3000)
    w.start()
    time.sleep(1.5)
    stop(t, p, "the first producer exits 0 on SIGTERM in the middle of the writing")
    time.sleep(0.5)
    os.rename(log, log + ".1")  # rotated while no producer runs
    time.sleep(0.3)
    w.reopen = True
    time.sleep(0.5)
    p2 = follower(t, "producer-c2", q, [log], state)
    ok = wait_for(lambda: b"while log_producer was stopped" in p2.stderr() or not p2.alive(), 30)
    t.check(ok, "the restarted producer finds the file renamed meanwhile and reads it to its end", p2.result().describe())
    w.join()
    wait_queue(t, q, w.total)
    stop(t, p2)
    exactly_once(t, w.lines, drained(t, q, "term"), "SIGTERM and restart")


def read_state(path):
    """[(offset, path)] of a state file (version 2: DEVICE INODE FP-BYTES FP OFFSET STREAM LINE PATH;
    version 1 had no STREAM and LINE)."""
    entries = []
    with open(path) as f:
        lines = f.read().split("\n")
    fields = 8 if lines[0] == "logship-follow-state 2" else 6
    for line in lines[1:]:
        if line and not line.startswith("#"):
            parts = line.split(" ", fields - 1)
            entries.append((int(parts[4]), parts[fields - 1]))
    return entries


def saved_offset(state, log):
    """The offset the state file holds for `log`, or None."""
    try:
        offsets = [o for o, path in read_state(state) if path == log]
    except (OSError, IndexError, ValueError):
        return None
    return offsets[0] if len(offsets) == 1 else None


def wait_read(t, state, log, timeout=60):
    """Waits until the state file's offset is the end of `log`: every line read and confirmed. Gives
    up only when the offset stood still for `timeout` s (a loaded machine reads slowly, not never)."""
    size = os.path.getsize(log)
    seen = [None]

    def moved():
        """Done, or the offset moved since the last look."""
        now = saved_offset(state, log)
        changed = now != seen[0]
        seen[0] = now
        return now == size or changed
    while wait_for(moved, timeout, 0.2) and seen[0] != size:
        pass
    t.check(seen[0] == size, f"the state file says {log} was read to its end ({size} bytes), all confirmed",
            f"offset {seen[0]}, unchanged for {timeout} s")


def kill_restart(t):
    t.section("(d) SIGKILL in the middle of a burst, 3 times, restart")
    q = t.queue("kill")
    log, state = t.path("d.log"), t.path("d.state")
    open(log, "w").close()
    slow = ["--confirm-window", "64"]  # the burst takes seconds to confirm: the kills land in it
    p = follower(t, "producer-d1", q, [log], state, slow)
    wait_following(t, p, log)
    # Over Redis the records are confirmed about 10 times faster: a longer burst, lasting seconds too.
    # A new burst before each kill: a restarted producer may finish what was left of the last one
    # within a second, before its next checkpoint save (CI: kill 2 found the file read to its end).
    n = 400_000 if t.env.transport == "redis" else 100_000
    bursts = []
    previous = 0
    for k in range(1, 4):
        w = Writer(log, f"k{k}", n, pace=0)
        w.start()
        w.join()
        bursts.append(w)
        size = os.path.getsize(log)
        # The checkpoint is saved while the burst is read and confirmed, not only once all of it is.
        ok = wait_for(lambda: (saved_offset(state, log) or 0) > previous or not p.alive(), 120, 0.02)
        at = saved_offset(state, log) or 0
        p.p.kill()
        p.wait(10)
        t.check(ok and previous < at < size and at % w.width == 0,
                f"kill {k}: the state file was saved during the burst, at a line boundary "
                f"({previous} < {at} < {size})", p.result().describe())
        previous = at
        p = follower(t, f"producer-d{k + 1}", q, [log], state, slow)
        wait_following(t, p, log)
    wait_read(t, state, log, 240)
    stop(t, p)
    lines = [line for b in bursts for line in b.lines]
    sent = t.queue_ready(q) or 0
    t.check(sent > len(lines), f"the killed producers' last records were sent again ({sent} messages for {len(lines)} lines)")
    exactly_once(t, lines, drained(t, q, "kill"), "3 SIGKILLs mid-burst and restarts: the aggregator dropped "
                 "every line sent again (same id)")


def glob_new_file(t):
    t.section("(e) a glob: an old file from its end, a new file from its beginning, the field file=PATH")
    q = t.queue("glob")
    d = t.path("logs")
    os.makedirs(d)
    a, b = os.path.join(d, "a.log"), os.path.join(d, "b.log")
    with open(a, "w") as f:
        f.write("a old 1\na old 2\n")
    p = follower(t, "producer-e", q, [os.path.join(d, "*.log")], t.path("e.state"))
    wait_following(t, p, a)
    t.check(b"from its end" in p.stderr(), "the file there at the first start is followed from its end",
            p.result().describe())
    with open(a, "a") as f:
        f.write("a new 1\n")
    with open(b, "w") as f:
        f.write("".join(f"b line {i}\n" for i in range(100)))
    wait_queue(t, q, 101)
    stop(t, p)
    recs = [json.loads(l) for l in drained(t, q, "glob", "json")]
    got = sorted((r["message"], r.get("fields", {}).get("file")) for r in recs)
    want = sorted([("a new 1", a)] + [(f"b line {i}", b) for i in range(100)])
    t.check_equal(got, want, "the new line of a.log and all of b.log, each once, with file=PATH")


def java(i):
    return (f'Exception in thread "worker-{i}" java.lang.IllegalStateException: J-{i} failed\n'
            f"\tat com.example.Worker.run(Worker.java:{i})\n"
            "\tat java.base/java.lang.Thread.run(Thread.java:833)\n"
            f"Caused by: java.io.IOException: disk {i}\n"
            "\tat com.example.Disk.write(Disk.java:42)\n"
            "\t... 2 more")


def python(i):
    return (f"2026-11-27 10:00:{i % 60:02d},123 ERROR P-{i} failed\n"
            "Traceback (most recent call last):\n"
            '  File "app.py", line 3, in <module>\n'
            "    main()\n"
            "ZeroDivisionError: division by zero")


def escaped(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def multiline(t):
    for name, flags, make, plain in (
            ("java", ["--multiline-indented"], java, lambda i: f"plain J line {i}"),
            ("python", ["--multiline-start", "^[0-9]{4}-[0-9]{2}-[0-9]{2} "], python,
             lambda i: f"2026-11-27 10:01:00,000 INFO plain P line {i}")):
        t.section(f"(f) multiline: {name} stack traces from a followed file and from stdin")
        records = []
        for i in range(40):
            records += [make(i), plain(i)]
        q = t.queue(f"ml{name}")
        log = t.path(f"{name}.log")
        open(log, "w").close()
        p = follower(t, f"producer-{name}", q, [log], t.path(f"{name}.state"), flags)
        wait_following(t, p, log)
        with open(log, "a") as f:
            for r in records:
                f.write(r + "\n")
                f.flush()
        # The last record has no successor: it is shipped after --multiline-timeout (1 s), while the
        # producer runs.
        wait_queue(t, q, len(records), 30)
        stop(t, p)
        exactly_once(t, [escaped(r) for r in records], drained(t, q, f"ml{name}"), f"{name} traces from a file")

        q = t.queue(f"ml{name}in")
        t.produce(q, ("\n".join(records) + "\n").encode(), ["--batch-records", "1"] + flags)
        exactly_once(t, [escaped(r) for r in records], drained(t, q, f"ml{name}in"), f"{name} traces from stdin")


def errors(t):
    t.section("(g) errors")
    q = t.queue("err")
    log = t.path("g.log")
    open(log, "w").close()
    cases = [
        (["--follow", log], 2, "--follow needs --state-file PATH"),
        (["--state-file", t.path("s")], 2, "--state-file needs --follow"),
        (["--multiline-start", "([bad", "--follow", log, "--state-file", t.path("s")], 2,
         "--multiline-start: '([bad' is not a valid extended regular expression"),
        (["--multiline-start", "^a", "--multiline-indented"], 2, "exclude each other"),
        (["--multiline-timeout", "2"], 2, "need --multiline-start or --multiline-indented"),
        (["--poll-interval", "0", "--follow", log, "--state-file", t.path("s")], 2, "--poll-interval"),
        (["--state-file", t.path("s"), "a message", "--follow", log], 2, "--follow reads files: give no MESSAGE"),
    ]
    for args, rc, text in cases:
        r = t.run("log_producer", ["--queue", q] + args, input=b"")
        t.check(r.rc == rc and len(r.err_lines) == 1 and text in r.err_text and r.err_lines[0].startswith("log_producer: error: "),
                f"log_producer {' '.join(args)}: exit {rc}, one line saying '{text}'", r.describe())

    damaged = t.path("damaged.state")
    with open(damaged, "w") as f:
        f.write("logship-follow-state 1\n1 2 3 00000000000000ff 10 /a\nnot an entry\n")
    env = t.child_env(LOGSHIP_BROKER="amqp://guest:guest@127.0.0.1:1/")  # never contacted
    r = t.run("log_producer", ["--queue", q, "--state-file", damaged, "--follow", log], env=env)
    t.check(r.rc == 1 and len(r.err_lines) == 1 and f"state file {damaged}:3: expected" in r.err_text,
            "a damaged state file: exit 1, one line naming FILE:3, before the broker is contacted", r.describe())

    state = t.path("locked.state")
    p = follower(t, "producer-g", q, [log], state)
    wait_following(t, p, log)
    r = t.run("log_producer", ["--queue", q, "--state-file", state, "--follow", log])
    t.check(r.rc == 1 and len(r.err_lines) == 1 and "is in use by another log_producer" in r.err_text,
            "a second producer on the same state file: exit 1, one line", r.describe())
    stop(t, p)

    t.section("(g) the configuration file's follow = [...]")
    q = t.queue("conf")
    conf = t.path("follow.toml")
    cfg_log = t.path("conf.log")
    open(cfg_log, "w").close()
    with open(conf, "w") as f:
        f.write(f'[log_producer]\nqueue = {json.dumps(q)}\nfollow = [{json.dumps(cfg_log)}]\n'
                f'state-file = {json.dumps(t.path("conf.state"))}\nbatch-records = 1\nmultiline-indented = true\n')
    r = t.run("log_producer", ["--config", conf, "--print-config"])
    t.check(r.rc == 0 and f"follow = [{json.dumps(cfg_log)}]" in r.out_text, "--print-config shows follow = [...]",
            r.describe())
    p = t.spawn("producer-conf", "log_producer", ["--config", conf])
    wait_following(t, p, cfg_log)
    with open(cfg_log, "a") as f:
        f.write("from the config\n\tindented\n")
    wait_queue(t, q, 1, 30)
    stop(t, p)
    t.check_equal(drained(t, q, "conf"), ["from the config\\n\\tindented"], "the configured file is followed, multiline")


def json_lines(t):
    t.section("(h) --input-format json on a followed file: keys mapped, file=PATH added, invalid JSON kept")
    q = t.queue("json")
    log = t.path("json.log")
    lines = [json.dumps({"msg": f"json {i}", "level": "error" if i % 2 else "info", "service": "api", "user": i})
             for i in range(50)] + ["{not json"]
    with open(log, "w") as f:
        f.write("\n".join(lines) + "\n")
    p = follower(t, "producer-h", q, [log], t.path("h.state"), ["--input-format", "json", "--from-beginning"])
    wait_following(t, p, log)
    wait_queue(t, q, 51)
    stop(t, p)
    recs = [json.loads(l) for l in drained(t, q, "json", "json")]
    t.check_equal(len(recs), 51, "51 records: 50 objects and the invalid line")
    mapped = sorted((r["message"], r["level"], r["service"], r.get("fields", {}).get("user"),
                     r.get("fields", {}).get("file")) for r in recs if r["message"].startswith("json "))
    want = sorted((f"json {i}", "error" if i % 2 else "info", "api", str(i), log) for i in range(50))
    t.check_equal(mapped, want, "each object's message, level, service and other keys mapped, with file=PATH")
    bad = [r for r in recs if r["message"] == "{not json"]
    t.check(len(bad) == 1 and "parse_error" in bad[0].get("fields", {}) and bad[0]["fields"].get("file") == log,
            "the invalid line is one record with its raw text, parse_error and file=PATH", repr(bad))


def body(t):
    parts = [errors, json_lines, multiline, glob_new_file, rename_rotation, copytruncate, logrotate_copytruncate,
             term_restart, kill_restart]
    only = os.environ.get("LOGSHIP_FOLLOW_PARTS")  # a comma-separated subset, while developing one part
    for part in parts:
        if not only or part.__name__ in only.split(","):
            part(t)


if __name__ == "__main__":
    run_test("follow", body, time_limit=560)
