#!/usr/bin/env python3
"""deploy/redis/setup.sh --role master|replica and deploy/redis/sentinel.sh, per host role, all on
loopback in the test's scratch directory (never the machine's own configs or services): a master on
127.0.0.1:6360, replicas on 6361 and 6362, sentinels on 6363-6365 (tests/README.md's port table).

The data nodes' configs start as minimal templates, the sentinels' as the package's example (a
`sentinel monitor mymaster 127.0.0.1 6379 2` block, which must go). Checks: every bad flag exits 2
with one error line and starts nothing; the first run sets up master, replicas (replicaof,
masterauth, min-replicas-to-write 1) and sentinels (monitor, auth-pass, their own requirepass); a
second run of every one changes nothing (same processes, data node configs untouched, "nothing
changed"); sentinel.sh --check passes on every sentinel (master, 2 replicas linked, 3 sentinels
agreeing, quorum) and setup.sh --check --role on every data node; log_producer --wait-replicas 1 and
log_aggregator through the redis-sentinel:// URLs the sentinels' set-up printed deliver every record
exactly once; after a SIGKILL of one replica (by its recorded pid) sentinel.sh --check exits 1 naming
it. In between, the master is SIGKILLed: once the sentinels promoted a replica, every host's set-up
runs again (the old master is started again and rejoins as a replica; the promoted one gets no
replicaof back), and a further run changes nothing. No password appears in any output. Every
process started is stopped at the end, also on failure.
"""
import os
import re
import secrets
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import (is_redis, port_open, read_lines, read_pid, redis_cli_at,  # noqa: E402
                             run_command, run_test, sample, stop_pid, tally, wait_for)

MASTER, REPLICAS, SENTINELS = 6360, (6361, 6362), (6363, 6364, 6365)
DATA = (MASTER,) + REPLICAS
N = 5000
SOURCE = os.environ.get("LOGSHIP_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SETUP = os.path.join(SOURCE, "deploy", "redis", "setup.sh")
SENTINEL = os.path.join(SOURCE, "deploy", "redis", "sentinel.sh")

# The example master of Debian's sentinel.conf (upstream's), which sentinel.sh drops.
PACKAGE_EXAMPLE = ("sentinel monitor mymaster 127.0.0.1 6379 2\n"
                   "sentinel down-after-milliseconds mymaster 30000\n"
                   "sentinel parallel-syncs mymaster 1\n"
                   "sentinel failover-timeout mymaster 180000\n")


def body(t):
    if os.geteuid() != 0:
        t.require(False, "runs as root (the scripts edit root-owned configs and start redis as user redis)")
    for s in (SETUP, SENTINEL):
        t.require(os.access(s, os.X_OK), f"{s} exists and is executable")
    for p in DATA + SENTINELS:
        t.require(not port_open(p), f"port {p} is free")
    os.chmod(t.tmp, 0o755)  # the redis user reaches the node directories through it
    has_redis_user = subprocess.run(["id", "redis"], capture_output=True).returncode == 0

    password = "Dn." + secrets.token_hex(10)
    spassword = "Sn." + secrets.token_hex(10)
    pwfile, spwfile = t.path("password"), t.path("sentinel-password")
    for path, pw in ((pwfile, password), (spwfile, spassword)):
        with open(path, "w") as f:
            f.write(pw + "\n")
        os.chmod(path, 0o600)

    def node_dir(port):
        return t.path(f"node-{port}")

    def conf(port):
        return os.path.join(node_dir(port), "sentinel.conf" if port in SENTINELS else "redis.conf")

    def pidfile(port):
        return os.path.join(node_dir(port), "pid")

    for p in DATA + SENTINELS:
        d = node_dir(p)
        os.makedirs(d)
        # The port from the start (not the package's 6379 or 26379, where another server may run here).
        common = f"port {p}\ndaemonize yes\npidfile {pidfile(p)}\nlogfile {os.path.join(d, 'log')}\ndir {d}\n"
        with open(conf(p), "w") as f:
            if p in SENTINELS:
                f.write("# the package's sentinel.conf, in short: this comment must survive\n"
                        + common + PACKAGE_EXAMPLE)
            else:
                f.write("# a data node template: this comment must survive\n" + common + 'save ""\n')
        if has_redis_user:
            subprocess.run(["chown", "-R", "redis:redis", d], check=True)

    base_env = {k: v for k, v in os.environ.items()
                if k not in ("LOGSHIP_REDIS_PASSWORD", "LOGSHIP_SENTINEL_PASSWORD", "REDISCLI_AUTH")}
    outputs = []

    def script(label, path, args, env=None):
        r = run_command(t, label, [path] + list(args), env if env is not None else base_env)
        outputs.append((label, r))
        return r

    def data_args(p):
        role = ["--role", "master"] if p == MASTER else ["--role", "replica", "--master", f"127.0.0.1:{MASTER}"]
        return ["--config", conf(p), "--port", str(p), "--bind", "127.0.0.1", "--password-file", pwfile] + role

    def sentinel_args(p):
        return ["--config", conf(p), "--port", str(p), "--bind", "127.0.0.1", "--master", f"127.0.0.1:{MASTER}",
                "--down-after", "1000", "--failover-timeout", "5000",
                "--password-file", pwfile, "--sentinel-password-file", spwfile]

    def set_up_all(run):
        rs = {p: script(f"setup.sh {p} run {run}", SETUP, data_args(p)) for p in DATA}
        rs.update({p: script(f"sentinel.sh {p} run {run}", SENTINEL, sentinel_args(p)) for p in SENTINELS})
        return rs

    def check_sentinel(p, extra=()):
        # Port and bind from the config, passwords from its requirepass and auth-pass (as root).
        return script(f"sentinel.sh --check {p}", SENTINEL, ["--check", "--config", conf(p)] + list(extra))

    def active(port, key):
        with open(conf(port)) as f:
            return [l for l in f.read().splitlines() if l.split(" ", 1)[0].lower() == key]

    def named_master():
        out = redis_cli_at(SENTINELS[0], ["SENTINEL", "get-master-addr-by-name", "logship"], spassword).split()
        return int(out[1]) if len(out) == 2 and out[1].isdigit() else None

    def data_conf_state():
        return {p: (open(conf(p), "rb").read(), os.stat(conf(p)).st_mtime_ns) for p in DATA}

    try:
        # ---- bad usage: one line, exit 2, nothing started ------------------------------------------------
        t.section("bad flags")
        pw_env = dict(base_env, LOGSHIP_REDIS_PASSWORD=password)
        bad = ((SENTINEL, ["--bogus"], "sentinel.sh: an unknown flag"),
               (SENTINEL, ["--config", conf(6363)], "sentinel.sh: no --master"),
               (SENTINEL, ["--master", "127.0.0.1:99999"], "sentinel.sh: --master with port 99999"),
               (SENTINEL, ["--master", "127.0.0.1", "--quorum", "0"], "sentinel.sh: --quorum 0"),
               (SENTINEL, ["--master", "127.0.0.1", "--name", "my master"], "sentinel.sh: a name with a space"),
               (SENTINEL, ["--master", "127.0.0.1", "--down-after"], "sentinel.sh: --down-after without a value"),
               (SENTINEL, ["--master", "127.0.0.1", "--sentinel-password", "x"], "sentinel.sh: a password in argv"),
               (SETUP, ["--role", "boss"], "setup.sh: --role boss"),
               (SETUP, ["--role", "replica"], "setup.sh: --role replica without --master"),
               (SETUP, ["--master", "127.0.0.1"], "setup.sh: --master without --role"),
               (SETUP, ["--role", "master", "--min-replicas", "x"], "setup.sh: --min-replicas x"))
        for path, args, what in bad:
            r = script(what, path, args, env=pw_env)
            t.check(r.rc == 2 and len(r.err_lines) == 1 and "error:" in r.err_text,
                    f"{what}: exit 2 with a one-line error", r.describe())
        r = script("sentinel.sh, no data password", SENTINEL, sentinel_args(6363)[:-4])
        t.check(r.rc == 2 and len(r.err_lines) == 1 and "no data node password" in r.err_text,
                "sentinel.sh without the data nodes' password: exit 2, one line", r.describe())
        r = script("setup.sh --role, password with a space", SETUP, ["--role", "master"],
                   env=dict(base_env, LOGSHIP_REDIS_PASSWORD="two words"))
        t.check(r.rc == 2 and len(r.err_lines) == 1 and "Sentinel" in r.err_text,
                "setup.sh --role with a password Sentinel cannot keep: exit 2, one line", r.describe())
        t.check(not any(port_open(p) for p in DATA + SENTINELS), "bad usage started nothing")

        # ---- first run: master, replicas, sentinels --------------------------------------------------------
        t.section("first run: setup.sh --role master / replica, sentinel.sh")
        r1 = set_up_all(1)
        for p, r in r1.items():
            t.require(r.rc == 0, f"run 1 on {p} exits 0", r.describe())
        pids = {p: read_pid(pidfile(p)) for p in DATA + SENTINELS}
        t.require(all(pid is not None and is_redis(pid) for pid in pids.values()),
                  "all 6 processes run, their pids in the configs' pid files", pids)
        urls = []
        for p in SENTINELS:
            urls += re.findall(r"redis-sentinel://\S+", r1[p].out_text)
        t.check_equal(urls, [f"redis-sentinel://127.0.0.1:{p}/logship" for p in SENTINELS],
                      "each sentinel's set-up prints its redis-sentinel:// URL")
        for p in REPLICAS:
            out = redis_cli_at(p, ["CONFIG", "GET", "replicaof"], password).split("\n")
            t.check(out[-1:] == [f"127.0.0.1 {MASTER}"], f"replica {p} replicates 127.0.0.1:{MASTER}", out)
        for p in DATA:
            out = redis_cli_at(p, ["CONFIG", "GET", "min-replicas-to-write"], password).split("\n")
            t.check(out[-1:] == ["1"], f"{p}: min-replicas-to-write 1", out)
            t.check("NOAUTH" in redis_cli_at(p, ["PING"]), f"{p}: PING without the password gets NOAUTH")
            t.check("this comment must survive" in open(conf(p)).read(), f"{p}: the config's other lines are kept")
        for p in SENTINELS:
            text = open(conf(p)).read()
            t.check("mymaster" not in text and "this comment must survive" in text,
                    f"sentinel {p}: the package's example master is gone, other lines kept")
            t.check("NOAUTH" in redis_cli_at(p, ["PING"]),
                    f"sentinel {p}: PING without the sentinels' password gets NOAUTH")
            t.check(os.stat(conf(p)).st_mode & 0o007 == 0, f"sentinel {p}: its config is not world-readable")

        # ---- --check, once the sentinels found each other ------------------------------------------------
        t.section("--check")
        t.check(wait_for(lambda: check_sentinel(SENTINELS[0], ["--replicas", "2"]).rc == 0, 60, 0.5),
                "sentinel.sh --check passes within 60 s (the sentinels find each other through the master)",
                outputs[-1][1].describe())
        for p in SENTINELS:
            r = check_sentinel(p, ["--replicas", "2", "--sentinels", "3"])
            oks = [l for l in r.out_text.splitlines() if l.startswith("OK ")]
            t.check(r.rc == 0 and "FAIL" not in r.out_text and len(oks) >= 11,
                    f"sentinel.sh --check on {p}: exit 0, {len(oks)} OK lines, no FAIL", r.describe())
            t.check(any("2 replica(s) linked" in l for l in oks) and any("3 sentinel(s) agree" in l for l in oks)
                    and any(l.startswith("OK   quorum") for l in oks),
                    f"sentinel.sh --check on {p} reports the replicas, the sentinels' agreement and the quorum",
                    r.out_text)
        for p in DATA:
            r = script(f"setup.sh --check {p}", SETUP, ["--check"] + data_args(p))
            t.check(r.rc == 0 and "FAIL" not in r.out_text and "masterauth is set" in r.out_text,
                    f"setup.sh --check --role on {p}: exit 0 (replication and masterauth included)", r.describe())

        # ---- second run: nothing changes ----------------------------------------------------------------------
        t.section("second run: idempotent")
        before = data_conf_state()
        r2 = set_up_all(2)
        for p, r in r2.items():
            t.check(r.rc == 0 and "nothing changed" in r.out_text, f"run 2 on {p}: exit 0, 'nothing changed'",
                    r.describe())
        t.check(data_conf_state() == before, "run 2 leaves the data nodes' configs untouched (content and mtime)")
        t.check_equal({p: read_pid(pidfile(p)) for p in DATA + SENTINELS}, pids, "run 2 restarts nothing")

        # ---- the pipeline through the URLs the set-up printed --------------------------------------------------
        t.section("a pipeline through the sentinels")
        t.env.broker = ",".join(urls)
        t.env.transport = "redis"
        t.env.redis_password = password
        os.environ["LOGSHIP_SENTINEL_PASSWORD"] = spassword
        q = f"deploy_sentinel_{os.getpid()}"
        records = [f"deploy sentinel record {i:05d}" for i in range(N)]
        t.produce(q, ("\n".join(records) + "\n").encode(), ["--wait-replicas", "1", "--wait-timeout", "10"])
        out = redis_cli_at(MASTER, ["LLEN", q], password)
        t.check(out.isdigit() and int(out) > 0, "the records are queued on the master 127.0.0.1:6360", out)
        output = t.path("out.log")
        t.drain("agg", q, output)
        lines, partial = read_lines(output)
        missing, dups, unexpected, _ = tally(records, [l.decode() for l in lines])
        t.check(not missing and dups == 0 and not unexpected and partial == b"",
                f"all {N} records written exactly once",
                f"missing {len(missing)} ({sample(missing)}), duplicates {dups}, unexpected {len(unexpected)}")

        # ---- a failover, then every set-up again: the sentinels' decisions stand -------------------------
        t.section("a failover, then every host's set-up again")
        stop_pid(t, pids[MASTER], "the master with SIGKILL", signal.SIGKILL)
        t.require(wait_for(lambda: named_master() in REPLICAS, 60, 0.2), "the sentinels promote a replica within 60 s")
        new_master = named_master()
        t.note(f"the new master is 127.0.0.1:{new_master}")
        r3 = set_up_all(3)
        for p, r in r3.items():
            t.check(r.rc == 0, f"run 3 (after the failover) on {p} exits 0", r.describe())
        t.check("started the server" in r3[MASTER].out_text, "run 3 starts the killed old master again",
                r3[MASTER].describe())
        t.check("a failover made this node the master" in r3[new_master].out_text
                and not active(new_master, "replicaof"),
                f"run 3 leaves the promoted {new_master} a master (no replicaof written) and says so",
                r3[new_master].describe())
        t.check(wait_for(lambda: check_sentinel(SENTINELS[0], ["--replicas", "2"]).rc == 0, 60, 0.5),
                "sentinel.sh --check passes again within 60 s: the old master rejoined as a replica",
                outputs[-1][1].describe())
        t.check_equal(active(MASTER, "replicaof"), [f"replicaof 127.0.0.1 {new_master}"],
                      "the old master's config says what the sentinels wrote (replicaof the new master)")
        pids = {p: read_pid(pidfile(p)) for p in DATA + SENTINELS}
        before = {p: open(conf(p), "rb").read() for p in DATA}
        r4 = set_up_all(4)
        for p, r in r4.items():
            t.check(r.rc == 0 and "nothing changed" in r.out_text, f"run 4 on {p}: exit 0, 'nothing changed'",
                    r.describe())
        t.check(before == {p: open(conf(p), "rb").read() for p in DATA} and named_master() == new_master,
                "run 4 leaves every data node's config and the master as the sentinels set them")
        t.check_equal({p: read_pid(pidfile(p)) for p in DATA + SENTINELS}, pids, "run 4 restarts nothing")

        # ---- a replica SIGKILLed: --check fails, naming it ------------------------------------------------------
        t.section("one replica killed")
        victim = [p for p in REPLICAS if p != new_master][0]
        stop_pid(t, pids[victim], f"replica {victim} with SIGKILL", signal.SIGKILL)
        t.require(not is_redis(pids[victim]), f"replica {victim} is gone")
        r = check_sentinel(SENTINELS[0], ["--replicas", "2"])
        fails = [l for l in r.out_text.splitlines() if l.startswith("FAIL")]
        t.check(r.rc == 1 and any(f"127.0.0.1:{victim}" in l for l in fails)
                and any("1 of 2 known replica(s) linked, 2 wanted" in l for l in fails),
                f"sentinel.sh --check: exit 1, FAIL lines naming replica {victim} and the count", r.describe())
        r = check_sentinel(SENTINELS[1])
        t.check(r.rc == 1, "sentinel.sh --check without --replicas (every known replica wanted): exit 1",
                r.describe())

        # ---- no password in any output ---------------------------------------------------------------------------
        t.section("secrecy")
        for label, r in outputs:
            blob = r.out + r.err
            t.check(password.encode() not in blob and spassword.encode() not in blob,
                    f"{label}: no password in the output")
    finally:
        for p in SENTINELS + DATA:
            stop_pid(t, read_pid(pidfile(p)), f"{p}")
        t.check(wait_for(lambda: not any(port_open(p) for p in DATA + SENTINELS), 30, 0.1),
                "nothing listens on ports 6360-6365 at the end")


run_test("deploy_redis_sentinel", body, time_limit=480)
