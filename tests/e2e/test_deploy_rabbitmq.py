#!/usr/bin/env python3
"""deploy/rabbitmq/setup.sh against a throwaway RabbitMQ node (never the machine's own broker).

The node is `logship-deploy-5695@localhost`: AMQP on 127.0.0.1:5695, management on 127.0.0.1:15695,
distribution port 25695, every file in the test's scratch directory (RABBITMQ_* variables aim the
script at it). Checks the real effects: the user logs in with the password and not with a wrong one,
may publish and consume on its vhost, the queue is durable, the management plugin answers; a second
run changes nothing (config file, node process); --check passes, and fails with a wrong password or a
stopped node; bad flags exit 2; the password shows up in no output. The node is stopped at the end,
also when the test fails. Needs root (rabbitmq-server drops to the rabbitmq user).
"""
import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pika
import pika.exceptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import Result, rabbitmqctl, run_test, wait_for  # noqa: E402

NODE = "logship-deploy-5695@localhost"
AMQP_PORT, MGMT_PORT, DIST_PORT = 5695, 15695, 25695
USER = "logship_deploy"
VHOST = "logship_deploy"
QUEUE = "logs_queue"
SOURCE = os.environ.get("LOGSHIP_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCRIPT = os.path.join(SOURCE, "deploy", "rabbitmq", "setup.sh")


def ctl(args, timeout=60):
    return subprocess.run(["rabbitmqctl", "-q", "-n", NODE] + list(args), capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def node_running():
    try:
        return ctl(["ping"], timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def node_pids():
    """Pids of the Erlang VM of our node (found by its node name on the command line)."""
    pids = []
    short = NODE.split("@")[0].encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"beam.smp") and (short in argv or NODE.encode() in argv):
            pids.append(int(d))
    return pids


def stop_node(t):
    """Stops our node: rabbitmqctl stop, then SIGKILL to its own VM if it is still there."""
    if node_running():
        cp = ctl(["stop"], timeout=90)
        t.note(f"rabbitmqctl stop {NODE}: exit {cp.returncode}")
    if not wait_for(lambda: not node_pids(), 60, 0.5):
        for pid in node_pids():
            t.note(f"killing the VM of {NODE}, pid {pid}")
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        wait_for(lambda: not node_pids(), 20, 0.5)


def port_open(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def node_os_pid():
    cp = ctl(["eval", "os:getpid()."])
    return cp.stdout.decode().strip().strip('"') if cp.returncode == 0 else None


def body(t):
    if os.geteuid() != 0:
        t.require(False, "runs as root (rabbitmq-server must drop to the rabbitmq user)")
    t.require(os.access(SCRIPT, os.X_OK), f"{SCRIPT} exists and is executable")
    logctl = t.env.prog("logctl")
    d = t.path("rabbitmq")
    conf = os.path.join(d, "rabbitmq.conf")
    pwfile = os.path.join(d, "password")
    outputs = []  # every Result of the script, scanned for the password at the end

    # The rabbitmq user must reach the scratch directory through every parent.
    os.chmod(t.tmp, 0o755)
    p = t.tmp
    while p != "/":
        if not os.stat(p).st_mode & 0o001:
            t.require(False, f"{p} is traversable by the rabbitmq user (chmod o+x)")
        p = os.path.dirname(p)

    # A node of ours left over from an interrupted run goes first; other brokers' ports are not ours.
    stop_node(t)
    for port in (AMQP_PORT, MGMT_PORT, DIST_PORT):
        t.require(not port_open(port), f"port {port} is free")

    os.makedirs(os.path.join(d, "mnesia"))
    os.makedirs(os.path.join(d, "log"))
    # Lines the script must keep, and a listener line it must replace (all interfaces -> loopback).
    with open(conf, "w") as f:
        f.write("# Logship deploy test: this comment must survive\n"
                "log.file.level = info\n"
                f"listeners.tcp.default = {AMQP_PORT}\n")
    token = secrets.token_hex(8)
    password = f"Dq{token}$x \"y\\z'w"  # shell, quote and backslash characters, an inner space
    with open(pwfile, "w") as f:
        f.write(password + "\n")
    os.chmod(pwfile, 0o600)
    subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", d], check=True)

    base_env = dict(os.environ)
    for k in ("LOGSHIP_RABBITMQ_PASSWORD", "LOGSHIP_PASSWORD", "LOGSHIP_BROKER"):
        base_env.pop(k, None)
    base_env["PATH"] = os.pathsep.join(p for p in base_env.get("PATH", "").split(os.pathsep)
                                       if p and os.path.abspath(p) != os.path.abspath(t.env.bin))
    base_env.update(RABBITMQ_NODENAME=NODE, RABBITMQ_DIST_PORT=str(DIST_PORT),
                    RABBITMQ_MNESIA_BASE=os.path.join(d, "mnesia"), RABBITMQ_LOG_BASE=os.path.join(d, "log"),
                    RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(d, "enabled_plugins"),
                    RABBITMQ_CONFIG_FILE=os.path.join(d, "rabbitmq"),  # without .conf, as rabbitmq-server takes it
                    # Erlang distribution on loopback too.
                    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")
    common = ["--node", NODE, "--listen", "127.0.0.1", "--port", str(AMQP_PORT), "--mgmt-port", str(MGMT_PORT),
              "--user", USER, "--vhost", VHOST]

    def script(label, args, env=None, timeout=300):
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

    def amqp_login(pw, vhost=VHOST):
        params = pika.ConnectionParameters("127.0.0.1", AMQP_PORT, vhost, pika.PlainCredentials(USER, pw),
                                           socket_timeout=10, connection_attempts=1)
        return pika.BlockingConnection(params)

    def mgmt_get(path, pw):
        req = urllib.request.Request(f"http://127.0.0.1:{MGMT_PORT}{path}")
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{USER}:{pw}".encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read().decode())
        except urllib.error.HTTPError as e:
            return e.code, None
        except OSError as e:
            return None, str(e)

    def logctl_status(pw):
        url = f"amqp://{USER}@127.0.0.1:{AMQP_PORT}/{VHOST}"
        return t.run("logctl", ["status", "--broker", url, "--queue", QUEUE, "--retry-seconds", "0",
                                "--management-url", "off"],
                     env=t.child_env(LOGSHIP_BROKER=None, LOGSHIP_PASSWORD=pw))

    try:
        # ---- bad usage: exit 2 with one line, before touching anything ----------------------------
        t.section("bad flags")
        for args, what in ((["--bogus"], "an unknown flag"), (["--port", "0"], "--port 0"),
                           (["--port"], "--port without a value"), (["--password", "x"], "--password (argv)"),
                           (["--user", "a;b"], "a user name with a ';'"), (common, "no password at all")):
            r = script(f"setup.sh {' '.join(args)[:40]}", args)
            t.check(r.rc == 2 and len(r.err_lines) == 1 and "error:" in r.err_text,
                    f"{what}: exit 2 with a one-line error", r.describe())
        r = script("setup.sh --help", ["--help"])
        t.check(r.rc == 0 and "--check" in r.out_text and "LOGSHIP_RABBITMQ_PASSWORD" in r.out_text,
                "--help: exit 0, documents --check and the password variable", r.describe())

        # ---- first run: password from a file --------------------------------------------------------
        t.section("first run (password from --password-file)")
        r1 = script("setup run 1", common + ["--password-file", pwfile, "--logctl", logctl])
        t.require(r1.rc == 0, "setup run 1 exits 0", r1.describe())
        t.check("guest" in r1.out_text and "localhost" in r1.out_text,
                "setup prints the note that 'guest' only logs in from localhost", r1.describe())
        t.check(node_running(), f"node {NODE} is running")

        with open(conf) as f:
            text = f.read()
        lines = text.splitlines()
        listeners = [l for l in lines if l.replace(" ", "").startswith("listeners.tcp.default=")]
        t.check_equal(listeners, [f"listeners.tcp.default = 127.0.0.1:{AMQP_PORT}"],
                      "rabbitmq.conf: exactly one listeners.tcp.default, on 127.0.0.1")
        t.check("# Logship deploy test: this comment must survive" in lines and "log.file.level = info" in lines,
                "rabbitmq.conf: the other lines are kept", text)
        t.check(f"management.tcp.port = {MGMT_PORT}" in lines and "management.tcp.ip = 127.0.0.1" in lines,
                "rabbitmq.conf: management listener on 127.0.0.1:15695", text)
        ss = subprocess.run(["ss", "-Hltn", f"sport = :{AMQP_PORT}"], capture_output=True, text=True)
        if ss.returncode == 0:
            local = [l.split()[3] for l in ss.stdout.splitlines() if l.strip()]
            t.check(local == [f"127.0.0.1:{AMQP_PORT}"], "the AMQP port listens on 127.0.0.1 only", ss.stdout)

        rows = rabbitmqctl(NODE, ["list_queues", "-p", VHOST, "name", "durable", "messages"])
        t.check([QUEUE, "true", "0"] in rows, f"rabbitmqctl list_queues: '{QUEUE}' exists on '{VHOST}', durable",
                rows)
        t.check([QUEUE + ".dead", "true", "0"] in rows, f"'{QUEUE}.dead' exists too, durable", rows)
        users = {row[0]: row[1] for row in rabbitmqctl(NODE, ["list_users"])}
        t.check(USER in users and "management" in users[USER], f"user '{USER}' exists, tagged management", users)
        perms = rabbitmqctl(NODE, ["list_user_permissions", USER])
        t.check([VHOST, ".*", ".*", ".*"] in perms, f"user '{USER}' has .* .* .* on '{VHOST}'", perms)

        # rabbitmq-plugins reads the enabled-plugins file named by RABBITMQ_ENABLED_PLUGINS_FILE.
        plugins = subprocess.run(["rabbitmq-plugins", "-n", NODE, "list", "--enabled", "--minimal"], env=base_env,
                                 capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        t.check("rabbitmq_management" in plugins.stdout.split(), "rabbitmq-plugins: rabbitmq_management is enabled",
                plugins.stdout + plugins.stderr)
        with open(os.path.join(d, "enabled_plugins")) as f:
            enabled = f.read()
        t.check("rabbitmq_management" in enabled, "the enabled-plugins file lists rabbitmq_management", enabled)
        code, who = mgmt_get("/api/whoami", password)
        t.check(code == 200 and who and who.get("name") == USER,
                f"management API on :{MGMT_PORT} accepts '{USER}' with the password", (code, who))
        code, _ = mgmt_get("/api/whoami", password + "x")
        t.check(code == 401, "management API refuses a wrong password (401)", code)

        # Logging in over AMQP: logctl (as producers and aggregators do) and pika.
        r = logctl_status(password)
        t.check(r.rc == 0, f"logctl status logs in as '{USER}' with the password", r.describe())
        r = logctl_status("wrong-" + token)
        t.check(r.rc not in (0, None) and "refused" in r.err_text, "logctl status with a wrong password fails (refused)",
                r.describe())
        try:
            amqp_login("wrong-" + token).close()
            t.check(False, "pika login with a wrong password is refused")
        except pika.exceptions.AMQPConnectionError:
            t.check(True, "pika login with a wrong password is refused")
        # The permissions in action: publish (confirmed, persistent) and take the message back.
        conn = amqp_login(password)
        ch = conn.channel()
        ch.confirm_delivery()
        ch.basic_publish("", QUEUE, b"deploy-test-record", pika.BasicProperties(delivery_mode=2))
        t.check(wait_for(lambda: [QUEUE, "1"] in rabbitmqctl(NODE, ["list_queues", "-p", VHOST, "name", "messages"]),
                         10, 0.5), f"'{USER}' publishes a persistent record to '{QUEUE}'")
        method, _, body_ = ch.basic_get(QUEUE, auto_ack=True)
        t.check(method is not None and body_ == b"deploy-test-record", f"'{USER}' consumes it back")
        conn.close()

        # ---- second run: password from the environment, logctl from PATH: nothing changes ------------
        t.section("second run (password from LOGSHIP_RABBITMQ_PASSWORD, logctl from PATH)")
        before = (open(conf, "rb").read(), os.stat(conf).st_mtime_ns)
        pid_before = node_os_pid()
        env2 = dict(base_env, LOGSHIP_RABBITMQ_PASSWORD=password, PATH=t.env.bin + os.pathsep + base_env["PATH"])
        r2 = script("setup run 2", common, env=env2)
        t.check(r2.rc == 0, "setup run 2 exits 0", r2.describe())
        t.check((open(conf, "rb").read(), os.stat(conf).st_mtime_ns) == before,
                "run 2 leaves rabbitmq.conf untouched (content and mtime)")
        t.check(pid_before is not None and node_os_pid() == pid_before, "run 2 does not restart the node",
                (pid_before, node_os_pid()))
        t.check("nothing changed" in r2.out_text and "created" not in r2.out_text and "granted" not in r2.out_text,
                "run 2 says nothing changed", r2.describe())

        # ---- --check --------------------------------------------------------------------------------
        t.section("--check")
        env_ok = dict(base_env, LOGSHIP_RABBITMQ_PASSWORD=password)
        rc_ok = script("--check", common + ["--check", "--logctl", logctl], env=env_ok)
        ok_lines = [l for l in rc_ok.out_text.splitlines() if l.startswith("OK ")]
        t.check(rc_ok.rc == 0 and "FAIL" not in rc_ok.out_text and len(ok_lines) >= 8,
                f"--check passes ({len(ok_lines)} OK lines, no FAIL)", rc_ok.describe())
        t.check(any("durable" in l and QUEUE in l for l in ok_lines), "--check reports the queue durable",
                rc_ok.out_text)
        r = script("--check, wrong password", common + ["--check", "--logctl", logctl],
                   env=dict(base_env, LOGSHIP_RABBITMQ_PASSWORD="wrong-" + token))
        fails = [l for l in r.out_text.splitlines() if l.startswith("FAIL")]
        t.check(r.rc == 1 and any(USER in l for l in fails), "--check with a wrong password: exit 1, login FAIL",
                r.describe())

        # ---- a stopped node: --check fails; setup starts it again, changing nothing else ----------------
        t.section("stopped node")
        stop_node(t)
        t.require(not node_running(), f"node {NODE} stopped")
        r = script("--check, node stopped", common + ["--check", "--logctl", logctl], env=env_ok)
        t.check(r.rc == 1 and any("not running" in l for l in r.out_text.splitlines() if l.startswith("FAIL")),
                "--check against a stopped node: exit 1, 'not running' FAIL", r.describe())
        before = (open(conf, "rb").read(), os.stat(conf).st_mtime_ns)
        r3 = script("setup run 3 (node stopped)", common + ["--logctl", logctl], env=env_ok)
        t.check(r3.rc == 0 and "started" in r3.out_text and node_running(),
                "setup run 3 starts the stopped node, exit 0", r3.describe())
        t.check((open(conf, "rb").read(), os.stat(conf).st_mtime_ns) == before, "run 3 leaves rabbitmq.conf untouched")
        t.check(logctl_status(password).rc == 0, "after run 3 the user still logs in (data kept)")

        # ---- the password is in no output -------------------------------------------------------------
        t.section("secrecy")
        for label, r in outputs:
            blob = r.out + r.err
            t.check(password.encode() not in blob and token.encode() not in blob,
                    f"{label}: the password does not appear in the output")
        for name in os.listdir(os.path.join(d, "log")):
            with open(os.path.join(d, "log", name), "rb") as f:
                t.check(token.encode() not in f.read(), f"log/{name}: the password does not appear")
    finally:
        stop_node(t)
        t.check(not node_pids(), f"node {NODE} is not running at the end")


run_test("deploy_rabbitmq", body, time_limit=560)
