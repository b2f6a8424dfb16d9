"""Shared helpers of the end-to-end and interop tests (stdlib + pika only).

Every test script is run by ctest with /usr/bin/python3 and these environment variables:
  LOGSHIP_TEST_BROKER     amqp URL of the suite's private RabbitMQ node (127.0.0.1)
  LOGSHIP_TEST_AMQP_PORT  its AMQP port
  LOGSHIP_TEST_MGMT_PORT  its management port
  LOGSHIP_TEST_NODE       its node name, for `rabbitmqctl -n`
  LOGSHIP_BIN             directory holding log_producer, log_aggregator and logctl
  LOGSHIP_SOURCE_DIR      the source tree
  LOGSHIP_TEST_TMP        scratch directory (each test makes its own subdirectory)
  LOGSHIP_TEST_TRANSPORT  "amqp" (default) or "redis": which broker the test's programs use
  LOGSHIP_TEST_REDIS      redis URL of the suite's private Redis server (127.0.0.1, requirepass)
  LOGSHIP_TEST_REDIS_PASSWORD_FILE  the file holding its password
Tests labelled `cluster` (scripts test_cluster_*.py) run on the suite's RabbitMQ cluster instead:
LOGSHIP_TEST_BROKER, ..._AMQP_PORT, ..._MGMT_PORT and ..._NODE are its node 1, and
  LOGSHIP_TEST_CLUSTER_URLS, ..._NODES, ..._PORTS, ..._MGMT_PORTS  every node, comma-separated
  LOGSHIP_TEST_CLUSTER_DIR  the directory of scripts/rabbitmq-cluster.sh (node pids, restarts)
(class Cluster below).

A script that works over both brokers says so in a comment line "# transports: amqp redis"; CMake
then registers it twice (e2e_NAME and e2e_redis_NAME). Queue operations go through t.broker (an
AmqpBroker or RedisBroker with the same methods), so the test body is written once.

A script builds one TestRun, records checks with t.check(...) and ends with t.finish() (or uses
run_test(name, body)). Every check prints one line; the script exits 1 if any check failed or an
exception escaped, 0 otherwise. Queues made with t.queue() are deleted at the end, child processes
started with t.spawn() are killed if still running, and a time limit (SIGALRM) bounds the whole run.
The scratch directory LOGSHIP_TEST_TMP/<name>-<pid> holds the outputs and the programs' stdout and
stderr; it is removed when the test passes and kept for inspection when it fails.
"""
import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

import pika
import pika.exceptions

try:
    import redis
except ImportError:  # only the redis transport needs it
    redis = None

PROGRAMS = ("log_producer", "log_aggregator", "logctl")


class TestAbort(Exception):
    """A required check failed: the rest of the test makes no sense."""


class TimeLimit(Exception):
    pass


def _require_env(name):
    value = os.environ.get(name)
    if not value:
        print(f"FAIL: environment variable {name} is not set (run through ctest, or set it by hand)", flush=True)
        sys.exit(2)
    return value


class Env:
    def __init__(self):
        self.broker = _require_env("LOGSHIP_TEST_BROKER")
        self.amqp_url = self.broker  # the RabbitMQ node is there whatever the transport
        self.amqp_port = int(_require_env("LOGSHIP_TEST_AMQP_PORT"))
        self.mgmt_port = os.environ.get("LOGSHIP_TEST_MGMT_PORT", "")
        self.node = _require_env("LOGSHIP_TEST_NODE")
        self.bin = _require_env("LOGSHIP_BIN")
        self.source = os.environ.get("LOGSHIP_SOURCE_DIR", "")
        self.tmp = _require_env("LOGSHIP_TEST_TMP")
        self.transport = os.environ.get("LOGSHIP_TEST_TRANSPORT", "amqp")
        self.redis_url = os.environ.get("LOGSHIP_TEST_REDIS", "")
        self.redis_password = ""
        if self.transport == "redis":
            self.redis_url = _require_env("LOGSHIP_TEST_REDIS")
            with open(_require_env("LOGSHIP_TEST_REDIS_PASSWORD_FILE")) as f:
                self.redis_password = f.read().strip()
            self.broker = self.redis_url
        for p in PROGRAMS:
            path = os.path.join(self.bin, p)
            if not os.access(path, os.X_OK):
                print(f"FAIL: {path} is missing or not executable", flush=True)
                sys.exit(2)

    def prog(self, name):
        return os.path.join(self.bin, name)

    def broker_url(self, user="guest", password="guest"):
        return f"amqp://{user}:{password}@127.0.0.1:{self.amqp_port}/"


class Result:
    """What a finished program did."""

    def __init__(self, args, rc, out, err, elapsed):
        self.args, self.rc, self.out, self.err, self.elapsed = args, rc, out, err, elapsed

    @property
    def err_lines(self):
        return [l for l in self.err.decode("utf-8", "replace").split("\n") if l.strip()]

    @property
    def out_text(self):
        return self.out.decode("utf-8", "replace")

    @property
    def err_text(self):
        return self.err.decode("utf-8", "replace")

    def describe(self):
        cmd = " ".join(_shell_quote(a) for a in self.args)
        return (f"$ {cmd}\n  exit {self.rc} after {self.elapsed:.2f} s\n  stdout: {self.out[-1500:]!r}\n"
                f"  stderr: {self.err[-1500:]!r}")


def _shell_quote(a):
    if isinstance(a, bytes):
        a = a.decode("utf-8", "replace")
    if a and all(c.isalnum() or c in "-_./:=@%+," for c in a):
        return a
    if len(a) > 80:
        a = a[:77] + "..."
    return "'" + a.replace("'", "'\\''") + "'"


class Proc:
    """A program running in the background; stdout and stderr go to files (no pipe can fill up)."""

    def __init__(self, t, label, args, stdin=None, env=None):
        self.t, self.label, self.args = t, label, list(args)
        self.out_path = os.path.join(t.tmp, f"{label}.stdout")
        self.err_path = os.path.join(t.tmp, f"{label}.stderr")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        if stdin is None:
            stdin = subprocess.DEVNULL
        self.started = time.monotonic()
        self.p = subprocess.Popen(self.args, stdin=stdin, stdout=self._out, stderr=self._err, cwd=t.tmp,
                                  env=env if env is not None else t.child_env())
        self.pid = self.p.pid
        t.children.append(self)

    def poll(self):
        return self.p.poll()

    def alive(self):
        return self.p.poll() is None

    def send_signal(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def wait(self, timeout):
        """Exit status, or None if still running after `timeout` seconds (the process is left alone)."""
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.alive():
            self.p.kill()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def stdout(self):
        self._out.flush()
        with open(self.out_path, "rb") as f:
            return f.read()

    def stderr(self):
        self._err.flush()
        with open(self.err_path, "rb") as f:
            return f.read()

    def result(self):
        return Result(self.args, self.p.poll(), self.stdout(), self.stderr(), time.monotonic() - self.started)

    def close_files(self):
        for f in (self._out, self._err):
            try:
                f.close()
            except OSError:
                pass


class TestRun:
    def __init__(self, name, time_limit=420):
        self.name = name
        self.env = Env()
        self.failures = []
        self.passed = 0
        self.children = []
        self.queues = []
        self.users = []
        self._amqp = AmqpBroker(self.env)
        self.broker = RedisBroker(self.env) if self.env.transport == "redis" else self._amqp
        self.tmp = os.path.join(self.env.tmp, f"{name}-{os.getpid()}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        os.makedirs(self.tmp)
        self.started = time.monotonic()

        def on_alarm(signum, frame):
            raise TimeLimit(f"test {name} ran past its time limit of {time_limit} s")

        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(time_limit)
        print(f"== {name}: broker {self.env.broker} ({self.env.transport}), binaries {self.env.bin}, scratch {self.tmp}", flush=True)

    # ---- reporting -------------------------------------------------------------------------
    def section(self, title):
        print(f"\n-- {title}", flush=True)

    def note(self, text):
        print(f"   {text}", flush=True)

    def check(self, cond, what, detail=None):
        if cond:
            self.passed += 1
            print(f"ok   {what}", flush=True)
        else:
            self.failures.append(what)
            print(f"FAIL {what}", flush=True)
            if detail:
                for line in str(detail).splitlines():
                    print(f"     | {line}", flush=True)
        return bool(cond)

    def require(self, cond, what, detail=None):
        if not self.check(cond, what, detail):
            raise TestAbort(what)

    def check_equal(self, actual, expected, what):
        return self.check(actual == expected, what, f"expected {expected!r}\nactual   {actual!r}")

    # ---- names and files -------------------------------------------------------------------
    def queue(self, tag=""):
        """A queue name unique to this test process; it and its .dead queue are deleted at the end."""
        q = f"e2e_{self.name}{'_' + tag if tag else ''}_{os.getpid()}"
        self.queues += [q, q + ".dead"]
        return q

    def path(self, name):
        return os.path.join(self.tmp, name)

    def child_env(self, **overrides):
        """Environment of a child: the test broker in LOGSHIP_BROKER, no inherited LOGSHIP_PASSWORD.
        Pass NAME=None to remove a variable."""
        e = dict(os.environ)
        e["LOGSHIP_BROKER"] = self.env.broker
        e.pop("LOGSHIP_PASSWORD", None)
        if self.env.transport == "redis":
            e["LOGSHIP_PASSWORD"] = self.env.redis_password
        for k, v in overrides.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return e

    # ---- running programs --------------------------------------------------------------------
    def run(self, prog, args, input=None, timeout=60, env=None):
        """Runs one of our programs to completion (in the scratch directory). A run past `timeout` is
        killed, fails a check and gives a Result with rc None."""
        argv = [self.env.prog(prog)] + list(args)
        start = time.monotonic()
        try:
            cp = subprocess.run(argv, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                                capture_output=True, timeout=timeout, cwd=self.tmp,
                                env=env if env is not None else self.child_env())
        except subprocess.TimeoutExpired as e:
            # subprocess.run killed it. rc None makes every check on the result fail.
            r = Result(argv, None, e.stdout or b"", e.stderr or b"", time.monotonic() - start)
            self.check(False, f"{prog} finishes within {timeout} s", r.describe())
            return r
        return Result(argv, cp.returncode, cp.stdout, cp.stderr, time.monotonic() - start)

    def spawn(self, label, prog, args, stdin=None, env=None):
        return Proc(self, label, [self.env.prog(prog)] + list(args), stdin=stdin, env=env)

    def start_aggregator(self, label, queue, output, fmt="raw", extra=(), wait_ready=True):
        p = self.spawn(label, "log_aggregator", ["--queue", queue, "--output", output, "--format", fmt] + list(extra))
        if wait_ready:
            self.wait_ready(p)
        return p

    def wait_ready(self, p, timeout=30):
        """Waits for the aggregator's ' [*] Waiting for logs' line (printed once it consumes)."""
        ok = wait_for(lambda: b"[*] Waiting for logs" in p.stdout() or not p.alive(), timeout)
        self.require(ok and p.alive() and b"[*] Waiting for logs" in p.stdout(),
                     f"{p.label} is consuming within {timeout} s", p.result().describe())

    def finish_proc(self, p, timeout, what=None, expect_rc=0):
        rc = p.wait(timeout)
        if rc is None:
            p.kill()
            self.check(False, what or f"{p.label} exits within {timeout} s", p.result().describe())
            return None
        self.check(rc == expect_rc, what or f"{p.label} exits with status {expect_rc}", p.result().describe())
        return rc

    def drain(self, label, queue, output, fmt="raw", extra=(), idle=2, timeout=180, until_empty=False):
        """Runs an aggregator until the queue stays idle for `idle` seconds; checks it exits 0.
        until_empty: a loaded machine can pause deliveries for longer than `idle` while records are
        still queued; then the aggregator is run again (same output: its id journal drops what
        was written) until the queue is empty or `timeout` has passed — a condition, not a pause."""
        deadline = time.monotonic() + timeout
        while True:
            p = self.start_aggregator(label, queue, output, fmt, ["--idle-exit", str(idle)] + list(extra),
                                      wait_ready=False)
            rc = self.finish_proc(p, max(1.0, deadline - time.monotonic()),
                                  f"{label} drains '{queue}' and exits 0 (--idle-exit {idle})")
            left = (self.queue_ready(queue) or 0) if until_empty and rc == 0 else 0
            if left == 0 or time.monotonic() >= deadline:
                return p, rc
            print(f"note {label}: {left} records still queued after a {idle} s pause in deliveries: draining again",
                  flush=True)

    def produce(self, queue, data, extra=(), timeout=120):
        """Pipes `data` (bytes) into log_producer; checks exit 0."""
        r = self.run("log_producer", ["--queue", queue] + list(extra), input=data, timeout=timeout)
        lines = data.count(b"\n")
        self.check(r.rc == 0, f"log_producer ships {lines} lines to '{queue}' and exits 0", r.describe())
        return r

    # ---- the broker (through t.broker: AMQP or Redis, same methods) ------------------------
    def pika(self):
        return self._amqp.pika()

    def publish(self, queue, messages, declare=True, confirm=True):
        """Publishes (body, headers-or-None) pairs, or plain bodies, persistent, like the tutorial."""
        return self.broker.publish(queue, messages, declare=declare, confirm=confirm)

    def get_all(self, queue, expect=None, timeout=20):
        """Takes every message of `queue`: returns [(properties, body)] (properties.headers is a dict
        or None). Stops once `expect` messages arrived, or when the queue stays empty for 1 s."""
        return self.broker.get_all(queue, expect=expect, timeout=timeout)

    def queue_ready(self, queue):
        """Messages ready in `queue`, or None if it does not exist (a Redis list always "exists")."""
        return self.broker.queue_ready(queue)

    def queue_counts(self, queue):
        """(ready, unacked), or None."""
        return self.broker.queue_counts(queue)

    def check_queue_counts(self, queue, want, what, timeout=30):
        """Checks that `queue` reaches (ready, unacked) == want within `timeout` seconds. A quorum
        queue's counts in rabbitmqctl are the leader's metrics, published on its tick (every 5 s):
        read right after the last ack they can still show a moment of the run before."""
        wait_for(lambda: self.queue_counts(queue) == want, timeout, 0.5)
        self.check_equal(self.queue_counts(queue), want, what)

    # ---- users -------------------------------------------------------------------------------
    def add_user(self, user, password):
        """A broker user with full rights on '/', deleted at the end."""
        for args in (["add_user", user, password], ["set_permissions", "-p", "/", user, ".*", ".*", ".*"]):
            cp = subprocess.run(["rabbitmqctl", "-q", "-n", self.env.node] + args, capture_output=True,
                                timeout=60, stdin=subprocess.DEVNULL)
            self.require(cp.returncode == 0, f"rabbitmqctl {args[0]} {user}", cp.stderr.decode(errors="replace"))
        self.users.append(user)

    # ---- the end -----------------------------------------------------------------------------
    def cleanup(self):
        signal.alarm(0)
        for p in self.children:
            if p.alive():
                print(f"   (killing {p.label}, pid {p.pid}, still running at the end)", flush=True)
                p.kill()
            p.close_files()
        if self.queues:
            try:
                self.broker.delete_queues(self.queues)
            except Exception as e:  # cleanup must not hide the test's result
                print(f"   (could not delete queues: {e!r})", flush=True)
        self._amqp.close()
        for u in self.users:
            subprocess.run(["rabbitmqctl", "-q", "-n", self.env.node, "delete_user", u], capture_output=True,
                           timeout=60, stdin=subprocess.DEVNULL)

    def finish(self):
        self.cleanup()
        took = time.monotonic() - self.started
        if self.failures:
            print(f"\n== {self.name}: FAILED, {len(self.failures)} check(s) failed, {self.passed} passed "
                  f"({took:.1f} s):", flush=True)
            for f in self.failures:
                print(f"   - {f}", flush=True)
            sys.exit(1)
        print(f"\n== {self.name}: PASSED, {self.passed} checks ({took:.1f} s)", flush=True)
        shutil.rmtree(self.tmp, ignore_errors=True)  # kept only when the test failed
        sys.exit(0)


def run_test(name, body, time_limit=420):
    """Runs body(t) with a TestRun; exceptions count as failures; exits with the verdict."""
    t = TestRun(name, time_limit)
    try:
        body(t)
    except TestAbort as e:
        print(f"   aborting: {e}", flush=True)
    except BaseException as e:  # noqa: BLE001 - anything that escapes is a failure, including TimeLimit
        t.failures.append(f"unexpected {type(e).__name__}: {e}")
        traceback.print_exc()
        sys.stdout.flush()
    t.finish()


class AmqpBroker:
    """Queue operations over RabbitMQ (pika), like the tutorial's clients."""

    def __init__(self, env):
        self.env = env
        self._connections = []

    def pika(self):
        params = pika.URLParameters(self.env.amqp_url)
        params.socket_timeout = 10
        params.blocked_connection_timeout = 30
        params.connection_attempts = 3
        params.retry_delay = 1
        params.heartbeat = 60
        conn = pika.BlockingConnection(params)
        self._connections.append(conn)
        return conn

    def close(self):
        for c in self._connections:
            try:
                if c.is_open:
                    c.close()
            except Exception:
                pass

    def delete_queues(self, queues):
        """Deletes the queues and the exchanges of those that are log queues (not NAME.dead)."""
        conn = self.pika()
        ch = conn.channel()
        for q in queues:
            try:
                ch.queue_delete(queue=q)
                if not q.endswith(".dead"):
                    ch.exchange_delete(exchange=exchange_name(q))
            except pika.exceptions.ChannelClosedByBroker:
                ch = conn.channel()
        conn.close()

    def publish(self, queue, messages, declare=True, confirm=True):
        """Publishes (body, headers-or-None) pairs, or plain bodies, persistent, like the tutorial."""
        conn = self.pika()
        ch = conn.channel()
        if declare:
            ch.queue_declare(queue=queue, durable=True)
        if confirm:
            ch.confirm_delivery()
        n = 0
        for m in messages:
            body, headers = (m if isinstance(m, tuple) else (m, None))
            ch.basic_publish(exchange="", routing_key=queue, body=body,
                             properties=pika.BasicProperties(delivery_mode=2, headers=headers))
            n += 1
        conn.close()
        return n

    def get_all(self, queue, expect=None, timeout=20):
        """Takes (auto-ack) every message of `queue`: returns [(properties, body)]. Stops once `expect`
        messages arrived, or when the queue stays empty for 1 s (or `timeout` passed)."""
        conn = self.pika()
        ch = conn.channel()
        got = []
        try:
            self._get_loop(ch, queue, expect, timeout, got)
        except pika.exceptions.ChannelClosedByBroker as e:
            if e.reply_code != 404:
                raise
            print(f"   (queue '{queue}' does not exist)", flush=True)
        if conn.is_open:
            conn.close()
        return got

    @staticmethod
    def _get_loop(ch, queue, expect, timeout, got):
        deadline = time.monotonic() + timeout
        empty_since = None
        while time.monotonic() < deadline:
            if expect is not None and len(got) >= expect:
                # Make sure nothing more is there.
                method, props, body = ch.basic_get(queue=queue, auto_ack=True)
                if method is not None:
                    got.append((props, body))
                    continue
                break
            method, props, body = ch.basic_get(queue=queue, auto_ack=True)
            if method is None:
                if empty_since is None:
                    empty_since = time.monotonic()
                elif time.monotonic() - empty_since > (1.0 if expect is None else timeout):
                    break
                time.sleep(0.05)
                continue
            empty_since = None
            got.append((props, body))

    def queue_ready(self, queue):
        """Messages ready in `queue` (passive declare), or None if it does not exist."""
        conn = self.pika()
        ch = conn.channel()
        try:
            ok = ch.queue_declare(queue=queue, passive=True)
            return ok.method.message_count
        except pika.exceptions.ChannelClosedByBroker as e:
            if e.reply_code == 404:
                return None
            raise
        finally:
            if conn.is_open:
                conn.close()

    def queue_counts(self, queue):
        """(ready, unacked) from rabbitmqctl, or None."""
        r = rabbitmqctl(self.env.node, ["list_queues", "name", "messages_ready", "messages_unacknowledged"])
        for name, *rest in r:
            if name == queue and len(rest) == 2:
                return int(rest[0]), int(rest[1])
        return None

def exchange_name(queue):
    """The topic exchange producers publish a queue's records through (docs/FORMATS.md)."""
    return "logs" if queue == "logs_queue" else queue + ".logs"


# ---- Redis ----------------------------------------------------------------------------------
REDIS_MAGIC = b"\xffLS"


def _pct(data, key):
    out = bytearray()
    for c in data:
        if c <= 0x20 or c == 0x7F or c == 0x25 or (key and c in (0x3D, 0x2B)):
            out += b"%%%02X" % c
        else:
            out.append(c)
    return bytes(out)


def _unpct(data):
    out, i = bytearray(), 0
    while i < len(data):
        if data[i] == 0x25:
            out.append(int(data[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def redis_envelope(body, headers):
    """The Redis form of a message (docs/FORMATS.md): an independent implementation of the format."""
    if isinstance(body, str):
        body = body.encode()
    if not headers and not body.startswith(REDIS_MAGIC):
        return body
    parts = [REDIS_MAGIC + b"1"]
    for k, v in headers.items():
        kb, vb = k.encode(), (v if isinstance(v, bytes) else str(v).encode())
        key = _pct(kb[8:], True) if kb.startswith(b"logship-") and len(kb) > 8 else b"+" + _pct(kb, True)
        parts.append(key + b"=" + _pct(vb, False))
    return b" ".join(parts) + b"\n" + body


def redis_unenvelope(value):
    """(body, headers dict or None) of a Redis list value."""
    if not value.startswith(REDIS_MAGIC):
        return value, None
    line, _, body = value.partition(b"\n")
    headers = {}
    for item in line.split(b" ")[1:]:
        k, _, v = item.partition(b"=")
        k = _unpct(k[1:]) if k.startswith(b"+") else b"logship-" + _unpct(k)
        headers[k.decode("utf-8", "replace")] = _unpct(v).decode("utf-8", "replace")
    return body, headers


class RedisProps:
    def __init__(self, headers):
        self.headers = headers


class RedisBroker:
    """Queue operations over the suite's Redis server (redis-py), same methods as AmqpBroker."""

    def __init__(self, env):
        if redis is None:
            raise RuntimeError("python3-redis is not installed (scripts/install-deps.sh installs it)")
        self.env = env
        self.r = redis.Redis.from_url(env.redis_url, password=env.redis_password, socket_timeout=30)

    def close(self):
        self.r.close()

    def publish(self, queue, messages, declare=True, confirm=True):
        values = []
        for m in messages:
            body, headers = (m if isinstance(m, tuple) else (m, None))
            values.append(redis_envelope(body, headers))
        for i in range(0, len(values), 1000):
            self.r.rpush(queue, *values[i:i + 1000])
        return len(values)

    def get_all(self, queue, expect=None, timeout=20):
        got = []
        deadline = time.monotonic() + timeout
        empty_since = None
        while time.monotonic() < deadline:
            value = self.r.lpop(queue)
            if value is None:
                if expect is not None and len(got) >= expect:
                    break
                if empty_since is None:
                    empty_since = time.monotonic()
                elif time.monotonic() - empty_since > (1.0 if expect is None else timeout):
                    break
                time.sleep(0.05)
                continue
            empty_since = None
            body, headers = redis_unenvelope(value)
            got.append((RedisProps(headers), body))
        return got

    def processing_lists(self, queue):
        ids = {m.decode() for m in self.r.smembers(queue + ".consumers")}
        keys = {f"{queue}.processing.{i}" for i in ids}
        keys |= {k.decode() for k in self.r.scan_iter(match=queue + ".processing.*")}
        return sorted(keys)

    def queue_ready(self, queue):
        return self.r.llen(queue)

    def queue_counts(self, queue):
        return self.r.llen(queue), sum(self.r.llen(k) for k in self.processing_lists(queue))

    def delete_queues(self, queues):
        for q in queues:
            keys = [q, q + ".consumers"] + self.processing_lists(q)
            keys += [k.decode() for k in self.r.scan_iter(match=q + ".lease.*")]
            self.r.delete(*keys)


# ---- small helpers ------------------------------------------------------------------------------
def broker_down(t, how):
    """Stops the suite's broker: how = 'stop' (clean) or 'kill' (SIGKILL)."""
    if t.env.transport == "redis":
        d = os.environ["LOGSHIP_TEST_REDIS_DIR"]
        if how == "kill":
            with open(os.path.join(d, "redis.pid")) as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)
        else:
            subprocess.run([os.path.join(os.environ.get("LOGSHIP_SOURCE_DIR", ""), "scripts/redis-server.sh"), "stop", d], check=True,
                           capture_output=True, timeout=60)
    else:
        if how == "kill":
            # The node name is not on the beam's command line: ask the node for its OS pid.
            cp = subprocess.run(["rabbitmqctl", "-q", "-n", t.env.node, "eval", "os:getpid()."],
                                capture_output=True, text=True, timeout=60)
            beams = [cp.stdout.strip().strip('"')] if cp.returncode == 0 else []
            t.require(beams and beams[0].isdigit(), f"found the OS pid of {t.env.node}", cp.stdout + cp.stderr)
            for p in beams:
                os.kill(int(p), signal.SIGKILL)
        else:
            subprocess.run(["rabbitmqctl", "-q", "-n", t.env.node, "stop_app"], check=True, capture_output=True,
                           timeout=120)


def broker_up(t, how):
    if t.env.transport == "redis":
        d = os.environ["LOGSHIP_TEST_REDIS_DIR"]
        port = open(os.path.join(d, "port")).read().strip()
        cp = subprocess.run([os.path.join(os.environ.get("LOGSHIP_SOURCE_DIR", ""), "scripts/redis-server.sh"), "start", d, port], capture_output=True,
                            timeout=60)
    elif how == "kill":
        cp = subprocess.run([os.path.join(os.environ.get("LOGSHIP_SOURCE_DIR", ""), "scripts/rabbitmq-node.sh"), "start",
                             os.environ["LOGSHIP_TEST_BROKER_DIR"], str(t.env.amqp_port), t.env.mgmt_port],
                            capture_output=True, timeout=180)
    else:
        cp = subprocess.run(["rabbitmqctl", "-q", "-n", t.env.node, "start_app"], capture_output=True, timeout=180)
    t.require(cp.returncode == 0, f"the broker is back ({how})", cp.stderr.decode(errors="replace")[-2000:])


def feed_pipe(records, wfd, pace=0.0, chunk=250):
    """Writes `records` as lines into the pipe end `wfd` (closed at the end) from a thread, `chunk`
    lines at a time with `pace` seconds between chunks; a reader that died ends it quietly (the
    checks say so). Returns the started thread."""
    def run():
        try:
            with os.fdopen(wfd, "wb") as w:
                for i in range(0, len(records), chunk):
                    w.write(("\n".join(records[i:i + chunk]) + "\n").encode())
                    w.flush()
                    if pace:
                        time.sleep(pace)
        except BrokenPipeError:
            pass
    th = threading.Thread(target=run)
    th.start()
    return th


def wait_for(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def start_limited(t, label, q, out, limit, extra=()):
    """A raw-format aggregator (--prefetch 1) whose files may not grow past `limit` bytes: a record
    whose line does not fit is held unacknowledged (a poison record, tests/e2e/test_poison.py)."""
    args = ["prlimit", f"--fsize={limit}:unlimited", t.env.prog("log_aggregator"), "--queue", q, "--output", out,
            "--format", "raw", "--prefetch", "1"] + list(extra)
    return Proc(t, label, args)


def kill_while_holding(t, label, q, out, limit, extra=(), timeout=60):
    """Starts start_limited's aggregator, waits until it holds the poison record (it cannot write
    its line), SIGKILLs it."""
    p = start_limited(t, label, q, out, limit, extra)
    ok = wait_for(lambda: b"cannot write to" in p.stderr() or not p.alive(), timeout)
    t.require(ok and p.alive(), f"{label} holds the poison record (its line does not fit)", p.result().describe())
    p.send_signal(signal.SIGKILL)
    t.check(p.wait(10) == -signal.SIGKILL, f"{label} SIGKILLed while holding it")
    return p


def read_lines(path):
    """(complete lines without their '\\n', trailing bytes after the last '\\n')."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return [], b""
    parts = data.split(b"\n")
    return parts[:-1], parts[-1]


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def tally(expected, lines):
    """Compares lines with the expected records: (missing, duplicates, unexpected, counter).
    duplicates counts extra copies (a record seen 3 times counts 2)."""
    seen = collections.Counter(lines)
    expected = set(expected)
    missing = [e for e in expected if e not in seen]
    duplicates = sum(c - 1 for c in seen.values() if c > 1)
    unexpected = [l for l in seen if l not in expected]
    return missing, duplicates, unexpected, seen


def sample(items, n=5):
    items = sorted(items)
    return ", ".join(repr(i) for i in items[:n]) + (" ..." if len(items) > n else "")


# ---- throwaway servers of the deploy tests (started by the scripts under test, found by pid file) ----
def port_open(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def redis_cli_at(port, args, password=None, timeout=15):
    """redis-cli on 127.0.0.1:PORT; the password in REDISCLI_AUTH, never on the command line."""
    env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
    argv = ["redis-cli", "-h", "127.0.0.1", "-p", str(port)]
    if password is not None:
        env["REDISCLI_AUTH"] = password
        argv.append("--no-auth-warning")
    cp = subprocess.run(argv + list(args), capture_output=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    return (cp.stdout + cp.stderr).decode("utf-8", "replace").strip()


def read_pid(path):
    """The pid in a pid file if that process is alive, else None."""
    try:
        with open(path) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def is_redis(pid):
    """Whether PID is a Redis process (a server or a sentinel)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"redis" in f.read()
    except OSError:
        return False


def stop_pid(t, pid, what, sig=signal.SIGTERM):
    """Sends SIG to a Redis process of ours and waits until it is gone (SIGKILL after 30 s)."""
    if pid is None or not is_redis(pid):
        return
    t.note(f"stopping {what} (pid {pid})")
    os.kill(pid, sig)
    if not wait_for(lambda: not is_redis(pid), 30, 0.1):
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not is_redis(pid), 10, 0.1)


def run_command(t, label, argv, env, timeout=180):
    """Runs a command that is not one of our programs (a deploy script, ...) in t's scratch directory,
    stdin closed; a run past `timeout` fails a check and gives rc None. Returns the Result."""
    start = time.monotonic()
    try:
        cp = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, cwd=t.tmp, env=env)
        r = Result(argv, cp.returncode, cp.stdout, cp.stderr, time.monotonic() - start)
    except subprocess.TimeoutExpired as e:
        r = Result(argv, None, e.stdout or b"", e.stderr or b"", time.monotonic() - start)
        t.check(False, f"{label}: finishes within {timeout} s", r.describe())
    t.note(f"{label}: exit {r.rc} after {r.elapsed:.1f} s")
    return r


def rabbitmqctl(node, args, timeout=60):
    """Rows (lists of fields) printed by `rabbitmqctl -q -n NODE ARGS` (header row excluded)."""
    cp = subprocess.run(["rabbitmqctl", "-q", "-n", node] + list(args) + ["--no-table-headers"],
                        capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if cp.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {cp.stderr.decode(errors='replace')}")
    return [line.split("\t") for line in cp.stdout.decode("utf-8", "replace").splitlines() if line.strip()]


# ---- --metrics-listen: the Prometheus endpoint and /healthz -------------------------------------
def metrics_address(t, p, timeout=30):
    """HOST:PORT that program `p` (started with --metrics-listen ...:0) logged it serves metrics on."""
    import re
    pattern = re.compile(rb"serving metrics on http://(\S+)/metrics")
    found = []

    def logged():
        m = pattern.search(p.stderr())
        if m:
            found.append(m.group(1).decode())
        return bool(found) or not p.alive()

    wait_for(logged, timeout)
    t.require(found, f"{p.label} logs the address it serves metrics on", p.result().describe())
    return found[0]


def http_get(address, path, timeout=10):
    """(status, body text) of GET http://address/path (urllib: HTTPError statuses are returned too)."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=timeout) as r:
            return r.status, r.read().decode("utf-8"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8"), dict(e.headers)


def healthz(address):
    """(status, body) of /healthz."""
    status, body, _ = http_get(address, "/healthz")
    return status, body


class Metrics:
    """A parsed /metrics page (text exposition format 0.0.4). Parsing is strict: a line that is not
    a HELP, TYPE or sample line, a sample of a family without HELP and TYPE, or a histogram whose
    buckets are not cumulative or whose +Inf bucket differs from _count raises ValueError."""

    def __init__(self, text):
        import re
        self.text = text
        self.types, self.help, self.samples = {}, {}, {}
        sample_re = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
        for n, line in enumerate(text.split("\n"), 1):
            if line == "":
                continue
            if line.startswith("# HELP "):
                name, _, text_ = line[7:].partition(" ")
                self.help[name] = text_
            elif line.startswith("# TYPE "):
                name, _, typ = line[7:].partition(" ")
                if typ not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    raise ValueError(f"line {n}: unknown type {typ!r}")
                if name not in self.help:
                    raise ValueError(f"line {n}: TYPE of {name} before its HELP")
                self.types[name] = typ
            elif line.startswith("#"):
                raise ValueError(f"line {n}: unexpected comment {line!r}")
            else:
                m = sample_re.match(line)
                if not m:
                    raise ValueError(f"line {n}: not a sample line: {line!r}")
                name, labels, value = m.group(1), self._labels(m.group(2) or ""), m.group(3)
                family = self._family(name)
                if family is None:
                    raise ValueError(f"line {n}: sample {name} of no declared family")
                self.samples[(name, frozenset(labels.items()))] = float(value)
        for name, typ in self.types.items():
            if typ == "histogram":
                self._check_histogram(name)

    def _family(self, name):
        if name in self.types:
            return name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and self.types.get(base) == "histogram":
                return base
        return None

    @staticmethod
    def _labels(s):
        labels, i = {}, 0
        while i < len(s):
            eq = s.index("=", i)
            key = s[i:eq]
            if s[eq + 1] != '"':
                raise ValueError(f"label {key}: value not quoted in {s!r}")
            j, value = eq + 2, []
            while s[j] != '"':
                if s[j] == "\\":
                    value.append({"\\": "\\", '"': '"', "n": "\n"}[s[j + 1]])
                    j += 2
                else:
                    value.append(s[j])
                    j += 1
            labels[key] = "".join(value)
            i = j + 1
            if i < len(s):
                if s[i] != ",":
                    raise ValueError(f"expected ',' in {s!r}")
                i += 1
        return labels

    def _check_histogram(self, name):
        groups = {}
        for (sname, labels), value in self.samples.items():
            if sname == name + "_bucket":
                d = dict(labels)
                le = d.pop("le")
                groups.setdefault(frozenset(d.items()), []).append((float(le), value))
        for labels, buckets in groups.items():
            buckets.sort()
            counts = [v for _, v in buckets]
            if counts != sorted(counts) or buckets[-1][0] != float("inf"):
                raise ValueError(f"{name}{dict(labels)}: buckets not cumulative or no +Inf bucket: {buckets}")
            if self.samples.get((name + "_count", labels)) != counts[-1]:
                raise ValueError(f"{name}{dict(labels)}: _count differs from the +Inf bucket")

    def value(self, name, **labels):
        """The sample's value, or None if there is none."""
        return self.samples.get((name, frozenset(labels.items())))

    def families(self):
        return dict(self.types)


def scrape(address):
    """The parsed /metrics page of a program."""
    status, body, headers = http_get(address, "/metrics")
    if status != 200:
        raise RuntimeError(f"GET http://{address}/metrics: status {status}")
    return Metrics(body)


# ---- the suite's RabbitMQ cluster (tests labelled `cluster`) ------------------------------------
class Cluster:
    """The suite's N-node cluster (scripts/rabbitmq-cluster.sh). Nodes are numbered 0..N-1 here
    (node i is the script's node i + 1)."""

    def __init__(self, t):
        self.t = t
        self.urls = _require_env("LOGSHIP_TEST_CLUSTER_URLS").split(",")
        self.nodes = _require_env("LOGSHIP_TEST_CLUSTER_NODES").split(",")
        self.ports = [int(p) for p in _require_env("LOGSHIP_TEST_CLUSTER_PORTS").split(",")]
        self.mgmt_ports = [int(p) for p in _require_env("LOGSHIP_TEST_CLUSTER_MGMT_PORTS").split(",")]
        self.dir = _require_env("LOGSHIP_TEST_CLUSTER_DIR")
        self.script = os.path.join(t.env.source, "scripts", "rabbitmq-cluster.sh")

    def __len__(self):
        return len(self.nodes)

    def broker_arg(self, first=0):
        """--broker value listing every node, starting with node `first`."""
        n = len(self.urls)
        return ",".join(self.urls[(first + k) % n] for k in range(n))

    def index(self, node):
        return self.nodes.index(node)

    def pid(self, i):
        with open(os.path.join(self.dir, f"n{i + 1}", "pid")) as f:
            return int(f.read().strip())

    def alive(self, i):
        """Whether node i's recorded OS process runs (a zombie counts as dead)."""
        try:
            with open(f"/proc/{self.pid(i)}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (FileNotFoundError, ValueError):
            return False

    def running(self, i):
        """Whether node i answers and runs the broker application."""
        cp = subprocess.run(["rabbitmqctl", "-q", "-n", self.nodes[i], "eval", "rabbit:is_running()."],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        return cp.returncode == 0 and cp.stdout.strip() == "true"

    def running_nodes(self, i):
        """Names of the nodes that node i sees running."""
        import json
        cp = subprocess.run(["rabbitmqctl", "-q", "-n", self.nodes[i], "cluster_status", "--formatter", "json"],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        if cp.returncode != 0:
            raise RuntimeError(f"rabbitmqctl -n {self.nodes[i]} cluster_status failed: {cp.stderr}")
        return sorted(json.loads(cp.stdout)["running_nodes"])

    def kill(self, i):
        """SIGKILLs node i by the OS pid the script recorded (checked to be that node's beam), and
        waits until the process is gone."""
        pid = self.pid(i)
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read().split(b"\0")
        self.t.require(f"RABBITMQ_NODENAME={self.nodes[i]}".encode() in environ,
                       f"pid {pid} recorded for {self.nodes[i]} is that node's process")
        os.kill(pid, signal.SIGKILL)
        self.t.require(wait_for(lambda: not self.alive(i), 60), f"{self.nodes[i]} (pid {pid}) is gone after SIGKILL")
        self.t.note(f"SIGKILLed {self.nodes[i]} (pid {pid})")

    def restart(self, i):
        """Starts node i again (it rejoins the cluster); returns once every node runs."""
        cp = subprocess.run([self.script, "restart", self.dir, str(i + 1)], capture_output=True, timeout=400,
                            stdin=subprocess.DEVNULL)
        self.t.require(cp.returncode == 0, f"{self.nodes[i]} restarted and the cluster is whole again",
                       (cp.stdout + cp.stderr).decode(errors="replace")[-2000:])

    def make_whole(self):
        """Restarts any node a previous test left down, so that a test starts on the whole cluster."""
        for i in range(len(self.nodes)):
            if not self.running(i):
                self.t.note(f"{self.nodes[i]} is down: restarting it")
                self.restart(i)

    def queue_info(self, queue):
        """The management API's record of `queue` (a dict: type, leader, members, online, ...), asked of
        the first node that answers; None if the queue does not exist."""
        import json
        import urllib.error
        import urllib.parse
        import urllib.request
        import base64
        auth = "Basic " + base64.b64encode(b"guest:guest").decode()
        last = None
        for port in self.mgmt_ports:
            url = f"http://127.0.0.1:{port}/api/queues/%2F/{urllib.parse.quote(queue, safe='')}"
            try:
                with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": auth}),
                                            timeout=10) as r:
                    return json.loads(r.read())
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    return None
                last = e
            except OSError as e:
                last = e
        raise RuntimeError(f"no management API of the cluster answered for queue {queue}: {last!r}")

    def leader(self, queue):
        """Index of the node holding the queue's leader (a quorum queue) or the queue (classic)."""
        info = self.queue_info(queue)
        self.t.require(info is not None, f"queue {queue} exists on the cluster")
        return self.index(info.get("leader") or info["node"])

    def pika(self, i):
        """A pika connection to node i (closed at the end of the test)."""
        params = pika.URLParameters(self.urls[i])
        params.socket_timeout = 10
        params.blocked_connection_timeout = 30
        params.connection_attempts = 3
        params.retry_delay = 1
        conn = pika.BlockingConnection(params)
        self.t._amqp._connections.append(conn)
        return conn
# ---- Redis Sentinel (the `sentinel` fixture: scripts/redis-sentinel.sh) ---------------------------
SENTINEL_MASTER = "logship"


class Sentinel:
    """The suite's Redis Sentinel setup: master BASE, replicas BASE+1 and BASE+2, sentinels BASE+3 to
    BASE+5, master name "logship"; the data nodes' password in DIR/password, the sentinels' in
    DIR/sentinel-password (LOGSHIP_TEST_SENTINEL_DIR, LOGSHIP_TEST_SENTINEL_PORT)."""

    def __init__(self):
        self.dir = _require_env("LOGSHIP_TEST_SENTINEL_DIR")
        self.base = int(_require_env("LOGSHIP_TEST_SENTINEL_PORT"))
        self.data_ports = [self.base, self.base + 1, self.base + 2]
        self.sentinel_ports = [self.base + 3, self.base + 4, self.base + 5]
        with open(os.path.join(self.dir, "password")) as f:
            self.password = f.read().strip()
        with open(os.path.join(self.dir, "sentinel-password")) as f:
            self.sentinel_password = f.read().strip()
        import redis.sentinel
        self.client = redis.sentinel.Sentinel([("127.0.0.1", p) for p in self.sentinel_ports], socket_timeout=5,
                                              sentinel_kwargs={"password": self.sentinel_password,
                                                               "socket_timeout": 2})

    def urls(self, name=SENTINEL_MASTER, ports=None):
        return ",".join(f"redis-sentinel://127.0.0.1:{p}/{name}" for p in (ports or self.sentinel_ports))

    def master_port(self):
        return self.client.discover_master(SENTINEL_MASTER)[1]

    def master(self):
        return self.client.master_for(SENTINEL_MASTER, password=self.password, socket_timeout=30)

    def node_pid(self, port):
        with open(os.path.join(self.dir, f"node-{port}", "pid")) as f:
            return int(f.read().strip())

    def script(self, *args):
        return subprocess.run([os.path.join(os.environ.get("LOGSHIP_SOURCE_DIR", ""), "scripts/redis-sentinel.sh")]
                              + list(args), capture_output=True, timeout=120)

    def healthy(self):
        """True when the master the sentinels name answers as master and has 2 replicas online."""
        try:
            info = self.master().info("replication")
            return info.get("role") == "master" and info.get("connected_slaves", 0) == 2
        except Exception:  # noqa: BLE001 - a failover in progress
            return False


class SentinelBroker(RedisBroker):
    """RedisBroker over the master the sentinels name (redis-py's Sentinel client)."""

    def __init__(self, env, sentinel):
        self.env = env
        self.r = sentinel.master()


def use_sentinel(t):
    """Points t's programs and queue operations at the sentinel setup: LOGSHIP_BROKER the three
    redis-sentinel:// URLs, LOGSHIP_PASSWORD the data nodes' password, LOGSHIP_SENTINEL_PASSWORD the
    sentinels'. Waits (60 s at most) for a master with both replicas (an earlier test may have killed
    one). Returns the Sentinel."""
    s = Sentinel()
    t.require(wait_for(s.healthy, 60, 0.2), "the sentinel setup has a master with 2 replicas online")
    t.env.broker = s.urls()
    t.env.redis_password = s.password
    os.environ["LOGSHIP_SENTINEL_PASSWORD"] = s.sentinel_password
    t.broker = SentinelBroker(t.env, s)
    return s
