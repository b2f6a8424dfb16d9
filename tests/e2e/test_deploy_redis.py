#!/usr/bin/env python3
"""deploy/redis/setup.sh against a throwaway Redis server (never the machine's own redis.conf or service).

The server reads a redis.conf in the test's scratch directory and listens on 127.0.0.1:6395. Before
the first run the data directory holds a dump.rdb with 3 records and no AOF, so the script's first
start must keep them (a plain start with appendonly yes would start empty). Checks the real effects:
an unauthenticated PING gets NOAUTH, the password works and a wrong one does not, appendonly yes,
the other config lines are kept, the file is mode 640; a second run changes nothing (file, server
process); --check passes and reports the LLEN backlog, and fails with a wrong password or a stopped
server; switching to --fsync always restarts the server without losing records written while the
AOF was off; bad flags exit 2; the password shows up in no output. The servers are stopped at the
end, also when the test fails.
"""
import os
import pwd
import secrets
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import Result, is_redis, port_open, read_pid, redis_cli_at, run_test, stop_pid, wait_for  # noqa: E402

PORT = 6395
QUEUE = "logs_queue"
SOURCE = os.environ.get("LOGSHIP_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCRIPT = os.path.join(SOURCE, "deploy", "redis", "setup.sh")


def cli(args, password=None, timeout=15):
    return redis_cli_at(PORT, args, password, timeout)


def body(t):
    if os.geteuid() != 0:
        t.require(False, "runs as root (the script edits a root-owned config and starts redis as user redis)")
    t.require(os.access(SCRIPT, os.X_OK), f"{SCRIPT} exists and is executable")
    d = t.path("redis")
    data, run = os.path.join(d, "data"), os.path.join(d, "run")
    conf = os.path.join(d, "redis.conf")
    pidfile = os.path.join(run, "redis.pid")
    pre_pidfile = os.path.join(run, "pre.pid")
    pwfile = os.path.join(d, "password")
    outputs = []
    os.makedirs(data)
    os.makedirs(run)
    try:
        pwd.getpwnam("redis")
        has_redis_user = True
    except KeyError:
        has_redis_user = False
    os.chmod(t.tmp, 0o755)  # the redis user reaches data/ and run/ through it

    t.require(not port_open(PORT), f"port {PORT} is free")

    token = secrets.token_hex(8)
    password = f"Rq{token}$x \"y\\z'w #"  # quote, backslash, '#', spaces: must be quoted in redis.conf
    with open(pwfile, "w") as f:
        f.write(password + "\n")
    os.chmod(pwfile, 0o600)

    base_env = dict(os.environ)
    for k in ("LOGSHIP_REDIS_PASSWORD", "REDISCLI_AUTH"):
        base_env.pop(k, None)
    common = ["--config", conf, "--port", str(PORT), "--bind", "127.0.0.1"]

    def script(label, args, env=None, timeout=180):
        argv = [SCRIPT] + list(args)
        start = time.monotonic()
        try:
            cp = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, cwd=t.tmp,
                                env=env if env is not None else base_env)
            r = Result(argv, cp.returncode, cp.stdout, cp.stderr, time.monotonic() - start)
        except subprocess.TimeoutExpired as e:
            r = Result(argv, None, e.stdout or b"", e.stderr or b"", time.monotonic() - start)
            t.check(False, f"{label}: finishes within {timeout} s", r.describe())
        outputs.append((label, r))
        t.note(f"{label}: exit {r.rc} after {r.elapsed:.1f} s")
        return r

    def conf_lines():
        with open(conf) as f:
            return [l for l in f.read().splitlines()]

    def active(key):
        return [l for l in conf_lines() if l.split(" ", 1)[0].lower() == key]

    try:
        # ---- existing data: 3 records in dump.rdb, no AOF (a passwordless server for a moment) ---------
        t.section("existing data")
        subprocess.run(["redis-server", "--port", str(PORT), "--bind", "127.0.0.1", "--dir", data,
                        "--appendonly", "no", "--save", "", "--daemonize", "yes", "--pidfile", pre_pidfile,
                        "--logfile", os.path.join(run, "pre.log")], check=True, stdin=subprocess.DEVNULL)
        t.require(wait_for(lambda: cli(["PING"]) == "PONG", 10, 0.1), "a passwordless server is up for the seed data")
        cli(["RPUSH", QUEUE, "r1", "r2", "r3"])
        cli(["SHUTDOWN", "SAVE"])
        t.require(wait_for(lambda: not port_open(PORT), 10, 0.1), "it saved dump.rdb and stopped")
        t.require(os.path.exists(os.path.join(data, "dump.rdb")), "data/dump.rdb exists (no AOF yet)")
        if has_redis_user:
            subprocess.run(["chown", "-R", "redis:redis", data, run], check=True)
        with open(conf, "w") as f:
            f.write("# Logship deploy test template: this comment must survive\n"
                    "port 6379\n"
                    "bind 0.0.0.0\n"
                    "protected-mode no\n"
                    "daemonize yes\n"
                    f"pidfile {pidfile}\n"
                    f"logfile {os.path.join(run, 'redis.log')}\n"
                    f"dir {data}\n"
                    'save ""\n'
                    "appendonly no\n"
                    "appendfsync no\n"
                    "# requirepass foobared\n")

        # ---- bad usage ----------------------------------------------------------------------------------
        t.section("bad flags")
        for args, what in ((["--bogus"], "an unknown flag"), (["--fsync", "sometimes"], "--fsync sometimes"),
                           (["--port", "70000"], "--port 70000"), (["-a", "x"], "-a PASSWORD (argv)"),
                           (["--bind"], "--bind without a value"), (common, "no password at all")):
            r = script(f"setup.sh {' '.join(args)[:40]}", args)
            t.check(r.rc == 2 and len(r.err_lines) == 1 and "error:" in r.err_text,
                    f"{what}: exit 2 with a one-line error", r.describe())
        t.check(not port_open(PORT), "bad usage started nothing")

        # ---- first run: password from a file ------------------------------------------------------------
        t.section("first run (password from --password-file)")
        r1 = script("setup run 1", common + ["--password-file", pwfile])
        t.require(r1.rc == 0, "setup run 1 exits 0", r1.describe())
        pid1 = read_pid(pidfile)
        t.require(pid1 is not None and is_redis(pid1), "the server runs, with its pid in the config's pidfile")
        if has_redis_user:
            with open(f"/proc/{pid1}/status") as f:
                uid = [l.split()[1] for l in f if l.startswith("Uid:")][0]
            t.check(int(uid) == pwd.getpwnam("redis").pw_uid, "the server runs as user redis")
        out = cli(["PING"])
        t.check("NOAUTH" in out, "PING without a password gets NOAUTH", out)
        out = cli(["PING"], password)
        t.check(out == "PONG", "PING with the password gets PONG", out)
        out = cli(["PING"], "wrong-" + token)
        t.check(out != "PONG" and ("WRONGPASS" in out or "NOAUTH" in out), "a wrong password is refused", out)
        out = cli(["LLEN", QUEUE], password)
        t.check(out == "3", "the 3 records of dump.rdb survived turning the AOF on", out)
        out = cli(["CONFIG", "GET", "appendonly"], password).split()
        t.check(out == ["appendonly", "yes"], "CONFIG GET appendonly: yes", out)
        t.check(os.path.exists(os.path.join(data, "appendonlydir", "appendonly.aof.manifest")),
                "the AOF exists in data/appendonlydir")
        out = cli(["CONFIG", "GET", "bind"], password).split("\n")
        t.check(out[-1:] == ["127.0.0.1"], "CONFIG GET bind: 127.0.0.1", out)

        lines = conf_lines()
        rp = active("requirepass")
        t.check(len(rp) == 1 and rp[0].startswith('requirepass "') and token in rp[0],
                "redis.conf: one requirepass line, the password double-quoted")
        t.check_equal(active("port"), [f"port {PORT}"], "redis.conf: port")
        t.check_equal(active("bind"), ["bind 127.0.0.1"], "redis.conf: bind")
        t.check_equal(active("protected-mode"), ["protected-mode yes"], "redis.conf: protected-mode")
        t.check_equal(active("appendonly"), ["appendonly yes"], "redis.conf: appendonly")
        t.check_equal(active("appendfsync"), ["appendfsync everysec"], "redis.conf: appendfsync (default everysec)")
        t.check("# Logship deploy test template: this comment must survive" in lines and "daemonize yes" in lines
                and f"dir {data}" in lines and 'save ""' in lines, "redis.conf: the other lines are kept", lines)
        st = os.stat(conf)
        t.check(st.st_mode & 0o777 == 0o640, f"redis.conf is mode 640 (it is {st.st_mode & 0o777:o})")
        if has_redis_user:
            t.check(pwd.getpwuid(st.st_uid).pw_name == "redis", "redis.conf is owned by redis")
        t.check("everysec" in r1.out_text and "always" in r1.out_text and "RDB" in r1.out_text,
                "setup prints the durability advice (everysec / always / RDB)", r1.describe())

        # ---- second run: password from the environment: nothing changes ----------------------------------
        t.section("second run (password from LOGSHIP_REDIS_PASSWORD)")
        env_ok = dict(base_env, LOGSHIP_REDIS_PASSWORD=password)
        before = (open(conf, "rb").read(), os.stat(conf).st_mtime_ns)
        r2 = script("setup run 2", common, env=env_ok)
        t.check(r2.rc == 0, "setup run 2 exits 0", r2.describe())
        t.check((open(conf, "rb").read(), os.stat(conf).st_mtime_ns) == before,
                "run 2 leaves redis.conf untouched (content and mtime)")
        t.check(read_pid(pidfile) == pid1, "run 2 does not restart the server")
        t.check("nothing changed" in r2.out_text, "run 2 says nothing changed", r2.describe())

        # ---- --check ----------------------------------------------------------------------------------------
        t.section("--check")
        rc = script("--check", ["--check", "--config", conf], env=env_ok)
        ok_lines = [l for l in rc.out_text.splitlines() if l.startswith("OK ")]
        t.check(rc.rc == 0 and "FAIL" not in rc.out_text and len(ok_lines) >= 9,
                f"--check passes ({len(ok_lines)} OK lines, no FAIL)", rc.describe())
        t.check(any(f"LLEN {QUEUE} = 3" in l for l in ok_lines), "--check reports the backlog: LLEN logs_queue = 3",
                rc.out_text)
        t.check(any("NOAUTH" in l for l in ok_lines), "--check reports NOAUTH without a password", rc.out_text)
        r = script("--check, wrong password", ["--check", "--config", conf],
                   env=dict(base_env, LOGSHIP_REDIS_PASSWORD="wrong-" + token))
        t.check(r.rc == 1 and any(l.startswith("FAIL PING with the password") for l in r.out_text.splitlines()),
                "--check with a wrong password: exit 1, PING FAIL", r.describe())
        r = script("--check, password from the config", ["--check", "--config", conf])
        t.check(r.rc == 0, "--check without a password reads it from redis.conf (root), exit 0", r.describe())

        # ---- the AOF switched off at run time, then a config change: restart without losing records ----------
        t.section("--fsync always on a server whose AOF was switched off at run time")
        cli(["CONFIG", "SET", "appendonly", "no"], password)
        cli(["RPUSH", QUEUE, "r4", "r5"], password)
        r3 = script("setup run 3 --fsync always", common + ["--fsync", "always"], env=env_ok)
        t.check(r3.rc == 0, "setup run 3 (--fsync always) exits 0", r3.describe())
        pid3 = read_pid(pidfile)
        t.check(pid3 is not None and pid3 != pid1, "run 3 restarted the server (its config changed)", (pid1, pid3))
        t.check_equal(active("appendfsync"), ["appendfsync always"], "redis.conf: appendfsync always")
        out = cli(["CONFIG", "GET", "appendfsync"], password).split()
        t.check(out == ["appendfsync", "always"], "CONFIG GET appendfsync: always", out)
        out = cli(["LLEN", QUEUE], password)
        t.check(out == "5", "all 5 records survived the restart (the AOF was switched on before it)", out)
        before = (open(conf, "rb").read(), os.stat(conf).st_mtime_ns)
        r4 = script("setup run 4 --fsync always", common + ["--fsync", "always"], env=env_ok)
        t.check(r4.rc == 0 and "nothing changed" in r4.out_text and read_pid(pidfile) == pid3
                and (open(conf, "rb").read(), os.stat(conf).st_mtime_ns) == before,
                "run 4 with the same flags changes nothing", r4.describe())

        # ---- a stopped server: --check fails ------------------------------------------------------------------
        t.section("stopped server")
        stop_pid(t, read_pid(pidfile), "the server")
        t.require(not port_open(PORT), "the server stopped")
        r = script("--check, server stopped", ["--check", "--config", conf], env=env_ok)
        t.check(r.rc == 1 and "FAIL" in r.out_text, "--check against a stopped server: exit 1", r.describe())

        # ---- the password is in no output ----------------------------------------------------------------------
        t.section("secrecy")
        for label, r in outputs:
            blob = r.out + r.err
            t.check(password.encode() not in blob and token.encode() not in blob,
                    f"{label}: the password does not appear in the output")
        log = os.path.join(run, "redis.log")
        if os.path.exists(log):
            with open(log, "rb") as f:
                t.check(token.encode() not in f.read(), "redis.log: the password does not appear")
    finally:
        stop_pid(t, read_pid(pidfile), "the server")
        stop_pid(t, read_pid(pre_pidfile), "the seed server")
        if port_open(PORT):  # a server of ours whose pidfile is gone: shut it down through the port
            cli(["SHUTDOWN", "NOSAVE"], password)
            cli(["SHUTDOWN", "NOSAVE"])
        t.check(wait_for(lambda: not port_open(PORT), 10, 0.1), f"nothing listens on port {PORT} at the end")


run_test("deploy_redis", body, time_limit=300)
