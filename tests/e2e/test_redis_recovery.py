#!/usr/bin/python3
"""Redis reliable-queue recovery (src/broker/redis/consumer.cpp, keys.hpp):
(a) a dead consumer (processing list <q>.processing.ghost, registered in <q>.consumers, no lease)
    is recovered by a live aggregator: every record written exactly once, ahead of the records that
    were waiting in the queue, and the processing list and registry entry are gone;
(b) the same with a live lease <q>.lease.ghost (PX 3000): nothing is taken while it lives, all is
    recovered once it expires;
(c) a real aggregator SIGSTOPped while holding records (--prefetch 50, --lease-seconds 2): a second
    aggregator recovers them; after SIGCONT the first notices it lost its lease; no record lost,
    duplicates bounded by the prefetch;
(d) `logctl recover`: puts a dead consumer's records back at the head of the queue in order, each
    counting one failed delivery (a plain value is wrapped into an envelope carrying only
    `deliveries=1`), leaves a consumer with a live lease alone, finds unregistered processing
    lists, and does not mistake another queue's lists for its own when the queue name holds glob
    characters;
(e) SIGKILL and restart under the same --consumer-id: the records come back at once; a second
    aggregator with an id in use exits non-zero with one clear error line;
(f) an aggregator SIGSTOPped past its lease while a new one starts under the same --consumer-id:
    the new one takes the records back; the old one, resumed, stops with one clear error line and
    leaves the new one's list alone."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import count_lines, read_lines, run_test, sample, tally, wait_for  # noqa: E402

COUNTED = b"\xffLS1 deliveries=1\n"  # a plain value put back after one failed delivery


def keys(q, cid):
    return f"{q}.processing.{cid}", f"{q}.lease.{cid}", f"{q}.consumers"


def lines_of(path):
    complete, _ = read_lines(path)
    return [l.decode("utf-8", "replace") for l in complete]


def union_report(t, expected, files):
    lines = []
    for f in files:
        complete, partial = read_lines(f)
        t.check(partial == b"", f"{os.path.basename(f)} ends with a complete line", repr(partial[:80]))
        lines += [l.decode("utf-8", "replace") for l in complete]
    missing, dups, unexpected, _ = tally(expected, lines)
    t.note(f"lines per file: {[count_lines(f) for f in files]}; missing {len(missing)}, duplicates {dups}, "
           f"unexpected {len(unexpected)}")
    return missing, dups, unexpected


def stop_while_holding(t, p, processing, tries=2000):
    """SIGSTOPs `p` at a moment its processing list is non-empty; returns the list's length then."""
    r = t.broker.r
    for _ in range(tries):
        if not p.alive():
            break
        if r.llen(processing) > 0:
            p.send_signal(signal.SIGSTOP)
            time.sleep(0.05)  # let the signal land; the list is frozen once it has
            held = r.llen(processing)
            if held > 0:
                return held
            p.send_signal(signal.SIGCONT)
        time.sleep(0.001)
    t.require(False, f"{p.label} was stopped while holding records", p.result().describe())


def part_a(t):
    t.section("(a) a dead consumer without a lease is recovered by a live aggregator")
    r = t.broker.r
    q = t.queue("a")
    processing, lease, registry = keys(q, "ghost")
    ghost = [f"ghost-a-{n:04d}" for n in range(300)]
    queued = [f"queued-a-{n:04d}" for n in range(20)]
    r.rpush(q, *queued)
    r.rpush(processing, *ghost)
    r.sadd(registry, "ghost")
    t.check(r.exists(lease) == 0, "the ghost has no lease")
    out = t.path("a.log")
    agg = t.start_aggregator("agg-a", q, out, "raw", ["--lease-seconds", "2", "--consumer-id", "live-a"])
    total = len(ghost) + len(queued)
    ok = wait_for(lambda: count_lines(out) >= total, 20, 0.1)
    t.check(ok, f"{total} lines written within 20 s ({count_lines(out)})", agg.result().describe())
    time.sleep(1)  # anything written twice would show up now
    got = lines_of(out)
    missing, dups, unexpected, _ = tally(ghost + queued, got)
    t.check(not missing, f"every ghost and queued record written ({len(missing)} missing)", sample(missing))
    t.check(dups == 0, f"each exactly once ({dups} duplicates)")
    t.check(not unexpected, "no unexpected line", sample(unexpected))
    t.check(got == ghost + queued, "the recovered records come first, in their order, then the waiting ones",
            f"first lines: {got[:3]} ... lines {len(ghost) - 1}..{len(ghost) + 1}: {got[len(ghost) - 1:len(ghost) + 2]}")
    t.check_equal(r.exists(processing), 0, "the ghost's processing list is gone")
    t.check(not r.sismember(registry, "ghost"), "the ghost is no longer in the registry",
            repr(r.smembers(registry)))
    err = agg.stderr()
    t.check(b"consumer 'ghost' stopped renewing its lease: put its 300 unfinished message(s) back" in err,
            "the aggregator logs the recovery of the ghost's 300 records", err.decode(errors="replace"))
    agg.send_signal(signal.SIGTERM)
    t.finish_proc(agg, 15, "agg-a exits 0 on SIGTERM")
    t.check_equal(t.queue_counts(q), (0, 0), "queue empty (ready, unacked) at the end")
    t.check_equal(r.smembers(registry), set(), "the registry is empty once the aggregator left")


def part_b(t):
    t.section("(b) a dead consumer whose lease still lives is left alone until the lease expires")
    r = t.broker.r
    q = t.queue("b")
    processing, lease, registry = keys(q, "ghost")
    ghost = [f"ghost-b-{n:04d}" for n in range(100)]
    queued = [f"queued-b-{n:04d}" for n in range(10)]
    r.rpush(processing, *ghost)
    r.sadd(registry, "ghost")
    r.set(lease, "otherhost 4242 00000000feedface", px=3000)
    lease_set = time.monotonic()
    r.rpush(q, *queued)
    out = t.path("b.log")
    agg = t.start_aggregator("agg-b", q, out, "raw", ["--lease-seconds", "2", "--consumer-id", "live-b"])
    ok = wait_for(lambda: count_lines(out) >= len(queued), 10, 0.05)
    t.check(ok, f"the {len(queued)} waiting records are written at once", agg.result().describe())
    taken_early = []
    held_while_leased = True
    while r.pttl(lease) > 150:  # -2 once the key is gone
        if any(l.startswith("ghost-b-") for l in lines_of(out)):
            taken_early = [l for l in lines_of(out) if l.startswith("ghost-b-")]
            break
        if r.llen(processing) != len(ghost):
            held_while_leased = False
            break
        time.sleep(0.05)
    watched = time.monotonic() - lease_set
    t.check(watched >= 1.5, f"watched the leased ghost for {watched:.1f} s (>= 1.5 s)")
    t.check(not taken_early, "no ghost record written while its lease lives", sample(taken_early))
    t.check(held_while_leased, f"the ghost's processing list keeps its {len(ghost)} records while the lease lives",
            f"LLEN {r.llen(processing)}")
    total = len(ghost) + len(queued)
    ok = wait_for(lambda: count_lines(out) >= total, 10, 0.05)
    recovered_after = time.monotonic() - lease_set
    t.check(ok, f"once the lease expired, the {len(ghost)} ghost records are written "
                f"({count_lines(out) - len(queued)} after {recovered_after:.1f} s)", agg.result().describe())
    t.check(recovered_after >= 2.8, f"not before the lease's 3 s were up ({recovered_after:.2f} s)")
    time.sleep(1)
    got = lines_of(out)
    missing, dups, unexpected, _ = tally(ghost + queued, got)
    t.check(not missing and dups == 0 and not unexpected,
            f"every record exactly once (missing {len(missing)}, duplicates {dups}, unexpected {len(unexpected)})",
            sample(missing or unexpected))
    t.check(got == queued + ghost, "the ghost's records were written in their order")
    t.check_equal(r.exists(processing), 0, "the ghost's processing list is gone")
    t.check(not r.sismember(registry, "ghost"), "the ghost is no longer in the registry")
    t.check(b"consumer 'ghost' stopped renewing its lease: put its 100 unfinished message(s) back" in agg.stderr(),
            "the aggregator logs the recovery", agg.stderr().decode(errors="replace"))
    agg.send_signal(signal.SIGTERM)
    t.finish_proc(agg, 15, "agg-b exits 0 on SIGTERM")
    t.check_equal(t.queue_counts(q), (0, 0), "queue empty (ready, unacked) at the end")


def part_c(t):
    t.section("(c) an aggregator SIGSTOPped while holding records; a second one recovers them; SIGCONT")
    r = t.broker.r
    q = t.queue("c")
    backlog = 20000
    prefetch = 50
    expected = [f"c-{n:05d}" for n in range(backlog)]
    t.produce(q, ("\n".join(expected) + "\n").encode(), ["--batch-records", "1"])
    t.check_equal(t.queue_ready(q), backlog, f"the backlog of {backlog} records is in '{q}'")
    id_a, id_b = f"stopped-{os.getpid()}", f"rescuer-{os.getpid()}"
    proc_a, lease_a, registry = keys(q, id_a)
    out_a, out_b = t.path("c-stopped.log"), t.path("c-rescuer.log")
    common = ["--lease-seconds", "2", "--prefetch", str(prefetch)]
    a = t.start_aggregator("agg-c-stopped", q, out_a, "raw", common + ["--consumer-id", id_a], wait_ready=False)
    held = stop_while_holding(t, a, proc_a)
    stopped_at = time.monotonic()
    written_a = count_lines(out_a)
    t.note(f"SIGSTOP agg-c-stopped holding {held} records in its processing list, {written_a} lines written")
    t.check(held <= prefetch, f"it holds at most --prefetch {prefetch} records ({held})")

    b = t.start_aggregator("agg-c-rescuer", q, out_b, "raw", common + ["--consumer-id", id_b])
    # Without recovery the stopped one's records would stay in its list until SIGCONT: the bound only
    # ends a failing run (no timing threshold: ~10 s on an idle machine, more under load).
    ok = wait_for(lambda: len(set(lines_of(out_a)) | set(lines_of(out_b))) >= backlog, 180, 0.1)
    took = time.monotonic() - stopped_at
    t.check(ok, f"while it is stopped, every record is in the union of the outputs ({took:.1f} s after the stop)",
            f"union {len(set(lines_of(out_a)) | set(lines_of(out_b)))} of {backlog}; ready/unacked "
            f"{t.queue_counts(q)}; stopped list {r.llen(proc_a)}\n{b.result().describe()}")
    # The held records may already be written (written, not yet acked, when the stop came): then
    # the union is complete before the lease expires. Wait for the recovery itself.
    wait_for(lambda: r.llen(proc_a) == 0, 15, 0.1)
    t.check_equal(r.llen(proc_a), 0, "the stopped aggregator's processing list was emptied by the rescuer")
    t.check(f"consumer '{id_a}' stopped renewing its lease: put its {held} unfinished message(s) back".encode()
            in b.stderr(), f"the rescuer logs that it put the {held} records back", b.stderr().decode(errors="replace"))
    missing, dups, unexpected = union_report(t, expected, [out_a, out_b])
    t.check(not missing, f"no record missing while agg-c-stopped is stopped ({len(missing)})", sample(missing))
    t.check(not unexpected, "no unexpected line", sample(unexpected))
    t.check(dups <= prefetch, f"duplicates bounded by --prefetch {prefetch} ({dups})")

    t.section("(c) SIGCONT the stopped aggregator")
    more = [f"c-more-{n:04d}" for n in range(2000)]
    a.send_signal(signal.SIGCONT)
    saw = wait_for(lambda: b"lease" in a.stderr() or not a.alive(), 10, 0.1)
    t.check(saw and b"lease" in a.stderr(), "the resumed aggregator says it lost its lease",
            a.result().describe())
    lease_lines = [l for l in a.stderr().decode(errors="replace").splitlines() if "lease" in l]
    for l in lease_lines:
        t.note(f"agg-c-stopped: {l}")
    time.sleep(1)
    if a.alive():
        t.note("agg-c-stopped keeps running after losing its lease")
        t.produce(q, ("\n".join(more) + "\n").encode(), ["--batch-records", "1"])
        ok = wait_for(lambda: t.queue_counts(q) == (0, 0), 20, 0.2)
        t.check(ok, "the two aggregators drain 2000 more records", repr(t.queue_counts(q)))
        a_more = [l for l in lines_of(out_a) if l.startswith("c-more-")]
        t.note(f"agg-c-stopped wrote {len(a_more)} of the 2000 new records after resuming")
        t.check(a.alive() and b.alive(), "both aggregators still run", a.result().describe())
    else:
        rc = a.poll()
        t.note(f"agg-c-stopped exited with status {rc} after losing its lease")
        t.check(rc == 0, f"agg-c-stopped exits cleanly (status {rc})", a.result().describe())
        more = []
    for p in (a, b):
        p.send_signal(signal.SIGTERM)
    for p in (a, b):
        t.finish_proc(p, 15, f"{p.label} exits 0 (SIGTERM)")
    missing, dups, unexpected = union_report(t, expected + more, [out_a, out_b])
    t.check(not missing, f"in the end no record missing ({len(missing)})", sample(missing))
    t.check(not unexpected, "no unexpected line", sample(unexpected))
    t.check(dups <= prefetch, f"duplicates in all bounded by --prefetch {prefetch} ({dups})")
    t.check_equal(t.queue_counts(q), (0, 0), "queue empty (ready, unacked) at the end")
    t.check_equal(r.smembers(registry), set(), "the registry is empty once both left")
    t.check_equal(r.exists(lease_a, f"{q}.lease.{id_b}"), 0, "both leases are gone")


def part_d(t):
    t.section("(d) logctl recover")
    r = t.broker.r
    q = t.queue("d")
    proc_g, lease_g, registry = keys(q, "ghost")
    proc_l, lease_l, _ = keys(q, "leased")
    proc_u, _, _ = keys(q, "unregistered")
    ghost = [f"ghost-d-{n}" for n in range(5)]
    leased = [f"leased-d-{n}" for n in range(4)]
    unreg = [f"unreg-d-{n}" for n in range(3)]
    waiting = [f"waiting-d-{n}" for n in range(3)]
    r.rpush(q, *waiting)
    r.rpush(proc_g, *ghost)
    r.rpush(proc_l, *leased)
    r.rpush(proc_u, *unreg)
    r.sadd(registry, "ghost", "leased")
    r.set(lease_l, "otherhost 777 0123456789abcdef", px=120000)
    res = t.run("logctl", ["recover", "--queue", q])
    t.check(res.rc == 0, "logctl recover exits 0", res.describe())
    out = res.out_text
    t.check(f"consumer 'ghost' is gone: put 5 message(s) back in '{q}'" in out,
            "it names the dead consumer 'ghost' and its 5 records", out)
    t.check(f"consumer 'unregistered' is gone: put 3 message(s) back in '{q}'" in out,
            "it finds the processing list missing from the registry (3 records)", out)
    t.check("consumer 'leased' is alive" in out, "it says the consumer with a live lease is alive", out)
    t.check("recovered 8 message(s) in all" in out, "it reports 8 records in all", out)
    t.check(res.err == b"", "nothing on stderr", res.describe())
    raw = r.lrange(q, 0, -1)
    t.check_equal(len(raw), 3 + 5 + 3, "LLEN of the queue is 11 (3 waiting + 5 + 3 recovered)")
    t.check(all(v.startswith(COUNTED) for v in raw[:8]),
            "each recovered record counts one failed delivery (wrapped: ÿLS1 deliveries=1)", repr(raw[:8]))
    got = [v[len(COUNTED):].decode() if v.startswith(COUNTED) else v.decode("utf-8", "replace") for v in raw]
    # Each recovered list is pushed back at the head, in its order; which list comes first is open.
    head = got[:8]
    ok_order = head in (ghost + unreg, unreg + ghost)
    t.check(ok_order, "the recovered records are at the head of the queue, each list in its order", repr(got))
    t.check_equal(raw[8:], [w.encode() for w in waiting], "the records that were waiting come after them, "
                                                           "in order and unchanged")
    t.check_equal([v.decode() for v in r.lrange(proc_l, 0, -1)], leased, "the leased consumer's list is untouched")
    t.check(r.sismember(registry, "leased"), "the leased consumer stays registered")
    t.check(not r.sismember(registry, "ghost"), "the dead consumer is no longer registered")
    t.check_equal(r.exists(proc_g, proc_u), 0, "the recovered processing lists are gone")
    t.check(r.pttl(lease_l) > 0, "the live lease is left alone")
    res = t.run("logctl", ["recover", "--queue", q])
    t.check(res.rc == 0 and "recovered 0 message(s) in all" in res.out_text and "'leased' is alive" in res.out_text,
            "a second logctl recover finds nothing more and still leaves the leased consumer alone", res.describe())
    t.check_equal(r.llen(q), 11, "the queue still holds 11 records")

    t.section("(d) logctl recover on a queue name with glob characters")
    base = t.queue("dglob")
    qstar = base + "_g*"
    qother = base + "_gX"
    t.queues += [qstar, qstar + ".dead", qother, qother + ".dead"]
    r.rpush(f"{qother}.processing.bystander", "not-mine-1", "not-mine-2")
    r.rpush(f"{qstar}.processing.mine", "mine-1")
    res = t.run("logctl", ["recover", "--queue", qstar])
    t.check(res.rc == 0, "logctl recover --queue '..._g*' exits 0", res.describe())
    t.check("consumer 'mine' is gone: put 1 message(s) back" in res.out_text, "it recovers its own list", res.describe())
    t.check("bystander" not in res.out_text and "recovered 1 message(s) in all" in res.out_text,
            "it does not touch the other queue's list", res.describe())
    t.check_equal(r.lrange(qstar, 0, -1), [COUNTED + b"mine-1"], "its record is back in its queue (counted)")
    t.check_equal(r.llen(f"{qother}.processing.bystander"), 2, "the other queue's processing list keeps its records")
    t.check_equal(r.llen(qother), 0, "nothing went to the other queue")
    r.delete(f"{qother}.processing.bystander")


def part_e(t):
    t.section("(e) SIGKILL mid-stream, restart under the same --consumer-id")
    r = t.broker.r
    q = t.queue("e")
    backlog = 20000
    expected = [f"e-{n:05d}" for n in range(backlog)]
    t.produce(q, ("\n".join(expected) + "\n").encode(), ["--batch-records", "1"])
    cid = f"same-{os.getpid()}"
    proc, lease, registry = keys(q, cid)
    out1, out2 = t.path("e-killed.log"), t.path("e-restarted.log")
    same = ["--consumer-id", cid, "--lease-seconds", "600"]
    a = t.start_aggregator("agg-e-killed", q, out1, "raw", same + ["--fsync"], wait_ready=False)
    wait_for(lambda: count_lines(out1) >= 1000 or not a.alive(), 60, 0.01)
    held = stop_while_holding(t, a, proc)
    a.send_signal(signal.SIGKILL)
    rc = a.wait(10)
    t.check(rc == -signal.SIGKILL, f"agg-e-killed died of SIGKILL (status {rc})")
    written = count_lines(out1)
    t.note(f"killed holding {held} records in {proc}, after {written} lines")
    t.require(0 < written < backlog, f"the kill came mid-stream ({written} of {backlog} lines)")
    t.check(r.pttl(lease) > 500000, "the killed run's lease still has most of its 600 s", f"PTTL {r.pttl(lease)}")
    start = time.monotonic()
    b = t.start_aggregator("agg-e-restarted", q, out2, "raw", same)
    ok = wait_for(lambda: len(set(lines_of(out1)) | set(lines_of(out2))) >= backlog, 30, 0.1)
    took = time.monotonic() - start
    t.check(ok, f"the restarted aggregator writes everything at once ({took:.1f} s, lease 600 s)",
            b.result().describe())
    err = b.stderr().decode(errors="replace")
    t.check(f"consumer id '{cid}' was held by pid {a.pid} on this host, which is gone" in err,
            "the restart says the id was held by the dead pid and takes it over", err)
    t.check(f"put {held} unfinished message(s) left by a previous run back at the head of '{q}'" in err,
            f"the restart says it put the {held} records back", err)

    t.section("(e) a second aggregator with the id in use")
    c = t.run("log_aggregator", ["--queue", q, "--output", t.path("e-intruder.log"), "--format", "raw"] + same,
              timeout=30)
    t.check(c.rc not in (0, None), f"exits non-zero (status {c.rc}, {c.elapsed:.1f} s)", c.describe())
    t.check(c.elapsed < 5, f"at once ({c.elapsed:.1f} s)")
    t.check(len(c.err_lines) == 1 and c.err_lines[0].startswith("log_aggregator: error:"),
            "exactly one line on stderr, an error line", c.describe())
    line = c.err_lines[0] if c.err_lines else ""
    t.check(cid in line and "in use" in line, "the error names the id and says it is in use", line)
    t.check(b"Waiting for logs" not in c.out, "it never started consuming", c.describe())
    t.check_equal(r.get(lease).decode().split(" ")[1] if r.get(lease) else None, str(b.pid),
                  "the lease still belongs to the running aggregator")
    t.check(b.alive(), "the running aggregator is unaffected", b.result().describe())
    more = [f"e-more-{n}" for n in range(100)]
    t.produce(q, ("\n".join(more) + "\n").encode(), ["--batch-records", "1"])
    ok = wait_for(lambda: sum(1 for l in lines_of(out2) if l.startswith("e-more-")) >= 100, 15, 0.1)
    t.check(ok, "the running aggregator keeps writing new records", b.result().describe())
    b.send_signal(signal.SIGTERM)
    t.finish_proc(b, 15, "agg-e-restarted exits 0 on SIGTERM")
    t.check(not os.path.exists(t.path("e-intruder.log")) or count_lines(t.path("e-intruder.log")) == 0,
            "the intruder wrote nothing")
    missing, dups, unexpected = union_report(t, expected + more, [out1, out2])
    t.check(not missing, f"no record lost ({len(missing)} missing)", sample(missing))
    t.check(not unexpected, "no unexpected line", sample(unexpected))
    t.check(dups <= 200, f"duplicates bounded by the default --prefetch of 200 ({dups})")
    t.check_equal(t.queue_counts(q), (0, 0), "queue empty (ready, unacked) at the end")

    t.section("(e) an id whose lease is held by another host")
    q2 = t.queue("e2")
    proc2, lease2, registry2 = keys(q2, "remote")
    r.rpush(proc2, "remote-1", "remote-2")
    r.sadd(registry2, "remote")
    r.set(lease2, "some-other-host 12345 00000000deadbeef", px=120000)
    c = t.run("log_aggregator", ["--queue", q2, "--output", t.path("e2.log"), "--consumer-id", "remote",
                                 "--lease-seconds", "1"], timeout=30)
    t.check(c.rc not in (0, None), f"exits non-zero (status {c.rc}) after waiting {c.elapsed:.1f} s", c.describe())
    t.check(1.5 <= c.elapsed < 6, f"it waits about the lease time (1 s + 1 s) before giving up ({c.elapsed:.1f} s)")
    errors = [l for l in c.err_lines if l.startswith("log_aggregator: error:")]
    t.check(len(errors) == 1 and "'remote'" in errors[0] and "in use" in errors[0] and "some-other-host" in errors[0],
            "one error line naming the id, 'in use' and the holder's host", c.describe())
    t.check_equal(r.llen(proc2), 2, "the other host's processing list is untouched")
    t.check_equal(r.get(lease2), b"some-other-host 12345 00000000deadbeef", "its lease is untouched")

    t.section("(e) SIGTERM while waiting for another host's lease to expire")
    # Like SIGTERM while still connecting ("stopped before reaching the broker"): exit 0 at once,
    # not after the whole wait (--lease-seconds + 1 s; 31 s with the default lease).
    w = t.start_aggregator("agg-e-waiting", q2, t.path("e2-wait.log"), "raw",
                           ["--consumer-id", "remote", "--lease-seconds", "600"], wait_ready=False)
    ok = wait_for(lambda: b"waiting up to" in w.stderr() or not w.alive(), 10, 0.05)
    t.check(ok and w.alive(), "the aggregator waits for the other host's lease", w.result().describe())
    w.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    rc = w.wait(10)
    took = time.monotonic() - sent
    if rc is None:
        w.kill()
    t.check(rc == 0 and took < 3, f"it exits 0 within 3 s of SIGTERM (status {rc}, {took:.1f} s)",
            w.result().describe())
    t.check(b"Waiting for logs" not in w.stdout(), "it never started consuming", w.result().describe())
    t.check_equal(r.llen(proc2), 2, "the other host's processing list is still untouched")
    t.check_equal(r.get(lease2), b"some-other-host 12345 00000000deadbeef", "its lease is still untouched")


def part_f(t):
    t.section("(f) the same --consumer-id taken over while its aggregator is stopped past its lease")
    r = t.broker.r
    q = t.queue("f")
    backlog = 20000
    prefetch = 50
    expected = [f"f-{n:05d}" for n in range(backlog)]
    t.produce(q, ("\n".join(expected) + "\n").encode(), ["--batch-records", "1"])
    cid = f"taken-{os.getpid()}"
    proc, lease, registry = keys(q, cid)
    out_a, out_b = t.path("f-old.log"), t.path("f-new.log")
    a = t.start_aggregator("agg-f-old", q, out_a, "raw",
                           ["--consumer-id", cid, "--lease-seconds", "1", "--prefetch", str(prefetch)],
                           wait_ready=False)
    held = stop_while_holding(t, a, proc)
    t.note(f"SIGSTOP agg-f-old holding {held} records, {count_lines(out_a)} lines written")
    ok = wait_for(lambda: r.exists(lease) == 0, 5, 0.05)
    t.require(ok, "the stopped aggregator's 1 s lease expires", f"PTTL {r.pttl(lease)}")
    b = t.start_aggregator("agg-f-new", q, out_b, "raw", ["--consumer-id", cid, "--lease-seconds", "5"])
    err = b.stderr().decode(errors="replace")
    t.check(f"put {held} unfinished message(s) left by a previous run back at the head of '{q}'" in err,
            f"the new aggregator puts the {held} records of the stopped one back", err)
    ok = wait_for(lambda: len(set(lines_of(out_a)) | set(lines_of(out_b))) >= backlog, 20, 0.1)
    t.check(ok, "every record is in the union of the outputs while the old one is stopped", b.result().describe())
    token_b = r.get(lease)
    t.check(token_b is not None and token_b.split(b" ")[1] == str(b.pid).encode(),
            "the lease belongs to the new aggregator", repr(token_b))

    a.send_signal(signal.SIGCONT)
    rc = a.wait(10)
    if rc is None:
        a.kill()
    res = a.result()
    t.check(rc == 1, f"the resumed old aggregator stops with exit status 1 (status {rc})", res.describe())
    errors = [l for l in res.err_lines if l.startswith("log_aggregator: error:")]
    t.check(len(errors) == 1 and cid in errors[0] and "taken over" in errors[0],
            "one error line naming the id and saying it was taken over", res.describe())
    t.check_equal(r.get(lease), token_b, "the new aggregator's lease is untouched by the old one's exit")
    t.check(r.sismember(registry, cid), "the id stays registered")
    more = [f"f-more-{n:04d}" for n in range(500)]
    t.produce(q, ("\n".join(more) + "\n").encode(), ["--batch-records", "1"])
    ok = wait_for(lambda: sum(1 for l in lines_of(out_b) if l.startswith("f-more-")) >= len(more), 15, 0.1)
    t.check(ok and b.alive(), "the new aggregator keeps working", b.result().describe())
    b.send_signal(signal.SIGTERM)
    t.finish_proc(b, 15, "agg-f-new exits 0 on SIGTERM")
    missing, dups, unexpected = union_report(t, expected + more, [out_a, out_b])
    t.check(not missing, f"no record lost ({len(missing)} missing)", sample(missing))
    t.check(not unexpected, "no unexpected line", sample(unexpected))
    t.check(dups <= prefetch, f"duplicates bounded by --prefetch {prefetch} ({dups})")
    t.check_equal(t.queue_counts(q), (0, 0), "queue empty (ready, unacked) at the end")
    t.check_equal(r.smembers(registry), set(), "the registry is empty at the end")


def body(t):
    part_a(t)
    part_b(t)
    part_c(t)
    part_d(t)
    part_e(t)
    part_f(t)


if __name__ == "__main__":
    run_test("redis_recovery", body)
