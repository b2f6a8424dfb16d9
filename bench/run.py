#!/usr/bin/python3
"""`make bench`: Logship side by side with its peers, on the same brokers, in one run.

    /usr/bin/python3 bench/run.py [--n N] [--quick] [--repeat R] [--only KEY,...] ...

Rows (bench/README.md says how each is measured):
  1  probe              rabbitmq-c ceiling probe (bench/baselines/amqp_ceiling.c), pub + sub at once
  2  pika_tutorial      the tutorial's pika producer (--confirm) and aggregator (prefetch 1)
     pika_fast          the same, producer without confirms, aggregator prefetch 100
  3  syslog_ng          syslog-ng's amqp() destination shipping a file into logs_queue
  4  ours_amqp          log_producer -> RabbitMQ -> log_aggregator, one record per message
  5  ours_amqp_batched  the same with --batch-records (only when log_producer --help lists it)
  6  redis_benchmark_*  redis-benchmark pipelined LPUSH (1 and 50 connections)
     ours_redis(_batched) log_producer -> Redis -> log_aggregator
  7  cluster_*          ours on a private 3-node RabbitMQ cluster: classic, quorum (batched also with
                        --compress zstd), 3 quorum shards, stream
  8  sentinel_batched(_wait1)  ours through Redis Sentinel, --wait-replicas 0 and 1
plus a paced latency run (10,000 records/s) of each of our single-node configurations.

Uses the RabbitMQ on 127.0.0.1:5672 and the Redis on 127.0.0.1:6379 if they run (deleting and
re-creating `logs_queue` there between rows), else starts private ones and stops them at the end.
The cluster (127.0.0.1:5660-5662) and the Sentinel set-up (127.0.0.1:6350-6355) are always private,
started on their first row and stopped at the end.
The peers' programs are the project's own, in bench/baselines/ (--shared DIR: the team's reference
copies of the probe and the pika scripts instead). Writes bench/RESULTS.md, bench/results.json and
bench/results.png. Exit status: 0 when every available row ran (goals not met do not fail the run),
1 when a row failed, 130 when interrupted.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loggen  # noqa: E402
import report as R  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
QUEUE = "logs_queue"
PAYLOAD = 100            # bytes of a record of the old fixed input (ours_amqp_batched_fixed, latency, soak)
AMQP_PORT = 5672
REDIS_PORT = 6379
# The rows on several nodes run on private set-ups of their own, on ports of their own (tests/README.md's
# table of ports): a 3-node RabbitMQ cluster (node I: AMQP CLUSTER_PORT + I - 1, management + 10000,
# Erlang distribution + 20000) and a Redis master + 2 replicas + 3 sentinels (SENTINEL_PORT ... + 5).
CLUSTER = "RabbitMQ 3-node cluster"
CLUSTER_PORT = 5660
CLUSTER_NODES = 3
SENTINEL = "Redis Sentinel"
SENTINEL_PORT = 6350
SENTINEL_MASTER = "logship"
CLUSTER_SHARDS = 3
PROBE_CONFIRM_BATCH = 1000
PROBE_PREFETCH = 1000
PIKA_BODY = "2026-11-23T00:00:00Z INFO bench-{:08d} user=alice action=login status=ok latency_ms=12"
PIKA_PAYLOAD = len(PIKA_BODY.format(0))
PYTHON = "/usr/bin/python3"  # Debian's, with pika (python3-pika): a python3 earlier on PATH may lack it
BASELINES = BENCH_DIR / "baselines"  # the peers' programs, written for this project (bench/README.md)
# The baselines a --shared DIR replaces, by their path in it; the syslog-ng configuration is always
# bench/baselines/syslog-ng.conf (the reference set has none).
SHARED_BASELINES = ("amqp_ceiling.c", "seed_pika/log_producer.py", "seed_pika/log_aggregator.py")


class RowFailed(Exception):
    pass


def log(msg: str = "") -> None:
    print(msg, flush=True)


def progress(msg: str) -> None:
    """A progress line while a row runs: on a terminal only (quiet when stdout is a file or a pipe)."""
    if sys.stdout.isatty():
        print(msg, flush=True)


# --- child processes -----------------------------------------------------------------------------

class Proc:
    """A child process whose CPU time and peak RSS are measured by GNU time (/usr/bin/time -o).

    Not by wait4() on the child itself: the kernel folds the pre-exec address space's high-water
    mark into ru_maxrss at exec, so a child forked from this ~30 MB Python process would report at
    least ~30 MB. GNU time is small, so its child's ru_maxrss is the program's own.
    Each runs in its own session, so that a Ctrl-C reaches the harness only; the harness then
    stops every child it started (Proc.stop_all). Signals go to the measured program, not to time.
    """
    live: list["Proc"] = []

    def __init__(self, name: str, argv: list[str], log_path: Path, *, env=None, cwd=None, stdin=None):
        self.name = name
        self.log_path = log_path
        self.stats_path = log_path.with_suffix(".rusage")
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(["/usr/bin/time", "-o", str(self.stats_path), "-f", "%U %S %M %x"]
                                      + [str(a) for a in argv], env=env, cwd=cwd, stdin=stdin,
                                      stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.started = time.monotonic()
        self.ended: Optional[float] = None
        self.stats: Optional[R.ProcStats] = None
        self._child: Optional[int] = None
        Proc.live.append(self)

    @property
    def pid(self) -> Optional[int]:
        """The measured program's pid (time's only child), None once it is gone."""
        if self._child is None:
            tp = self.popen.pid
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not self.poll():
                try:
                    kids = Path(f"/proc/{tp}/task/{tp}/children").read_text().split()
                except OSError:
                    kids = []
                if kids:
                    self._child = int(kids[0])
                    break
                time.sleep(0.005)
        return self._child

    def poll(self) -> bool:
        """True once the process has ended (reaping it)."""
        if self.stats is not None:
            return True
        if self.popen.poll() is None:
            return False
        self.ended = time.monotonic()
        self._log.close()
        if self.popen.stdin:
            try:
                self.popen.stdin.close()
            except OSError:
                pass
        try:
            # "Command terminated by signal N" may precede the line with the figures.
            user, sys_, rss, code = self.stats_path.read_text().split("\n")[-2].split()
            self.stats = R.ProcStats(self.name, float(user) + float(sys_), int(rss), int(code))
        except (OSError, ValueError, IndexError):
            self.stats = R.ProcStats(self.name, 0.0, 0, self.popen.returncode or -1)
        if self.stats.exit_code != self.popen.returncode and self.popen.returncode != 0:
            self.stats.exit_code = self.popen.returncode
        Proc.live.remove(self)
        return True

    def wait(self, timeout: float) -> R.ProcStats:
        deadline = time.monotonic() + timeout
        while not self.poll():
            if time.monotonic() > deadline:
                raise RowFailed(f"{self.name} did not exit within {timeout:.0f} s")
            time.sleep(0.01)
        return self.stats

    def send_signal(self, sig) -> None:
        pid = self.pid
        if pid is not None and not self.poll():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, sig=signal.SIGTERM, timeout: float = 20) -> R.ProcStats:
        if not self.poll():
            self.send_signal(sig)
            try:
                self.wait(timeout)
            except RowFailed:
                self.send_signal(signal.SIGKILL)
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.wait(5)
        return self.stats

    def output(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_bytes()[-tail:].decode(errors="replace")
        except OSError:
            return ""

    def expect_ok(self) -> R.ProcStats:
        if self.stats is None or self.stats.exit_code != 0:
            raise RowFailed(f"{self.name} exited with {self.stats.exit_code if self.stats else '?'}: "
                            f"{self.output(600).strip()}")
        return self.stats

    @classmethod
    def stop_all(cls) -> None:
        for p in list(cls.live):
            try:
                p.stop(signal.SIGTERM, 10)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass


def wait_ready(proc: Proc, marker: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while marker not in proc.output(100000):
        if proc.poll():
            raise RowFailed(f"{proc.name} exited before it was ready: {proc.output(600).strip()}")
        if time.monotonic() > deadline:
            raise RowFailed(f"{proc.name} not ready after {timeout:.0f} s: {proc.output(600).strip()}")
        time.sleep(0.02)


class LineCounter:
    """Counts the lines of a growing file by reading what was appended since the last call."""

    def __init__(self, path: Path):
        self.path, self.f, self.count = path, None, 0

    def __call__(self) -> int:
        if self.f is None:
            try:
                self.f = open(self.path, "rb")
            except FileNotFoundError:
                return 0
        while data := self.f.read(1 << 22):
            self.count += data.count(b"\n")
        return self.count

    def close(self) -> None:
        if self.f:
            self.f.close()


def wait_count(what: str, count: Callable[[], int], target: int, watch: list[Proc], *,
               timeout: float, stall: float = 30, poll: float = 0.005) -> float:
    """Polls count() until it reaches target; returns the monotonic time it did. Fails when a
    watched process exits non-zero (or, for a process that must not exit, at all), when nothing
    moves for `stall` seconds, or after `timeout`. Prints a progress line every 2 s."""
    start = last_move = next_print = time.monotonic()
    last = -1
    while True:
        c = count()
        now = time.monotonic()
        if c >= target:
            return now
        if c != last:
            last, last_move = c, now
        for p in watch:
            if p.poll() and (p.stats.exit_code != 0 or getattr(p, "must_live", False)):
                raise RowFailed(f"{p.name} exited with {p.stats.exit_code} at {c:,}/{target:,}: "
                                f"{p.output(600).strip()}")
        if now - last_move > stall:
            raise RowFailed(f"stalled at {c:,}/{target:,} {what} for {stall:.0f} s")
        if now - start > timeout:
            raise RowFailed(f"only {c:,}/{target:,} {what} after {timeout:.0f} s")
        if now >= next_print and now > start + 1:
            el = now - start
            progress(f"      {c:>10,}/{target:,} {what}  {el:5.1f} s  {c / el:,.0f}/s")
            next_print = now + 2
        time.sleep(poll)


# --- brokers -------------------------------------------------------------------------------------

def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def listener_pid(port: int) -> Optional[int]:
    try:
        out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"pid=(\d+)", out)
    return int(m.group(1)) if m else None


def process_cpu_s(pid: Optional[int]) -> Optional[float]:
    """User + system CPU seconds of a running process (all its threads), from /proc."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def shown(path: Path) -> str:
    """A path relative to the project when it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


class PrivateBroker:
    """What both brokers share: the broker's CPU time, and stopping the private one we started."""
    what = ""    # "RabbitMQ node", "Redis server"
    script = ""  # scripts/NAME.sh start|stop DIR

    def cpu_s(self) -> Optional[float]:
        return process_cpu_s(self.pid)

    def ready(self) -> None:
        """Called by each row before it runs: the set-ups started on first use start here."""

    def stop(self) -> None:
        if self.started:
            log(f"  stopping the private {self.what} ({shown(self.dir)})")
            subprocess.run(["bash", ROOT / "scripts" / self.script, "stop", self.dir],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.started = False


class Rabbit(PrivateBroker):
    what, script = "RabbitMQ node", "rabbitmq-node.sh"
    port = AMQP_PORT

    def __init__(self):
        self.dir = ROOT / ".run" / "bench" / "rabbitmq"
        self.started = False
        self.version = "?"
        self.pid: Optional[int] = None

    def env_vars(self) -> dict:
        return {"LOGSHIP_BROKER": f"amqp://guest:guest@127.0.0.1:{AMQP_PORT}/"}

    def ensure(self) -> None:
        if listening(AMQP_PORT):
            log(f"  RabbitMQ: using the broker already listening on 127.0.0.1:{AMQP_PORT} (guest/guest); "
                f"the bench deletes and re-creates '{QUEUE}' and '{QUEUE}.dead' on it")
        else:
            if os.geteuid() != 0:
                raise SystemExit("bench: nothing listens on 127.0.0.1:5672 and starting a private RabbitMQ "
                                 "node needs root: run 'sudo make bench'")
            log(f"  RabbitMQ: nothing listens on 127.0.0.1:{AMQP_PORT}: starting a private node in "
                f"{self.dir.relative_to(ROOT)} (about 15 s; stopped at the end)")
            self.started = True  # from here on, stop() must run even if start fails half-way
            subprocess.run(["bash", ROOT / "scripts/rabbitmq-node.sh", "start", self.dir, str(AMQP_PORT)],
                           env=os.environ | {"FRESH": "1"}, check=True, stdout=subprocess.DEVNULL)
        import pika
        try:
            self.version = self.server_version()
        except Exception as e:  # noqa: BLE001 - any failure here ends the bench with one line
            raise SystemExit(f"bench: cannot log in to RabbitMQ on 127.0.0.1:{AMQP_PORT} as guest/guest "
                             f"(the probe needs exactly that): {e!r}") from None
        self.pid = listener_pid(AMQP_PORT)
        self.pika_version = pika.__version__

    def server_version(self) -> str:
        conn = self._connect()
        version = conn._impl.server_properties.get("version", b"?")
        conn.close()
        return version.decode() if isinstance(version, bytes) else str(version)

    def _connect(self):
        import pika
        return pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", self.port, credentials=pika.PlainCredentials("guest", "guest"),
            heartbeat=0, blocked_connection_timeout=60))

    def reset_queue(self, declare: bool = False) -> None:
        """A fresh, empty logs_queue for the next row: delete it (and its dead-letter queue)."""
        conn = self._connect()
        ch = conn.channel()
        ch.queue_delete(QUEUE)
        ch.queue_delete(QUEUE + ".dead")
        self.delete_more(ch)
        if declare:
            ch.queue_declare(QUEUE, durable=True)
        conn.close()

    def delete_more(self, ch) -> None:
        """What else a row may have declared (the cluster's rows: shards and their exchange)."""

    def depth_poller(self):
        """Returns (poll, close): poll() gives the queue's ready-message count via a passive
        declare on one connection kept open for the row."""
        conn = self._connect()
        ch = conn.channel()
        return (lambda: ch.queue_declare(QUEUE, passive=True).method.message_count), conn.close

    def consumers(self) -> int:
        conn = self._connect()
        try:
            return conn.channel().queue_declare(QUEUE, passive=True).method.consumer_count
        except Exception:  # noqa: BLE001 - queue not there yet
            return 0
        finally:
            if conn.is_open:
                conn.close()



class Redis(PrivateBroker):
    what, script = "Redis server", "redis-server.sh"
    def __init__(self):
        self.dir = ROOT / ".run" / "bench" / "redis"
        self.started = False
        self.password: Optional[str] = None
        self.version = "?"
        self.persistence = "?"
        self.pid: Optional[int] = None

    def ensure(self) -> None:
        if listening(REDIS_PORT):
            self.password = os.environ.get("LOGSHIP_PASSWORD")
            demo = ROOT / ".run" / "redis"
            if self.password is None and (demo / "password").exists() and \
                    (demo / "port").read_text().strip() == str(REDIS_PORT):
                self.password = (demo / "password").read_text().strip()
            log(f"  Redis: using the server already listening on 127.0.0.1:{REDIS_PORT} (password from "
                f"{'LOGSHIP_PASSWORD' if 'LOGSHIP_PASSWORD' in os.environ else 'make demo' if self.password else 'nowhere: none'}); "
                f"the bench deletes the keys '{QUEUE}' and '{QUEUE}.*' on it")
        else:
            log(f"  Redis: nothing listens on 127.0.0.1:{REDIS_PORT}: starting a private server in "
                f"{self.dir.relative_to(ROOT)} (stopped at the end)")
            self.started = True
            subprocess.run(["bash", ROOT / "scripts/redis-server.sh", "start", self.dir, str(REDIS_PORT)],
                           env=os.environ | {"FRESH": "1"}, check=True, stdout=subprocess.DEVNULL)
            self.password = (self.dir / "password").read_text().strip()
        c = self.client()
        try:
            c.ping()
        except Exception as e:  # noqa: BLE001
            raise SystemExit(f"bench: Redis on 127.0.0.1:{REDIS_PORT} does not answer PING ({e}); "
                             f"if it needs a password, set LOGSHIP_PASSWORD") from None
        self.version = c.info("server")["redis_version"]
        try:
            cfg = c.config_get("append*")
            self.persistence = f"appendonly {cfg.get('appendonly')}, appendfsync {cfg.get('appendfsync')}"
        except Exception:  # noqa: BLE001 - CONFIG may be renamed or forbidden
            self.persistence = "unknown (CONFIG GET refused)"
        self.pid = listener_pid(REDIS_PORT)

    def client(self):
        import redis
        return redis.Redis(host="127.0.0.1", port=REDIS_PORT, password=self.password, socket_timeout=30)

    def env_vars(self) -> dict:
        return {"LOGSHIP_BROKER": f"redis://127.0.0.1:{REDIS_PORT}"} | (
            {"LOGSHIP_PASSWORD": self.password} if self.password else {})

    def reset_queue(self) -> None:
        c = self.client()
        keys = list(c.scan_iter(match=QUEUE)) + list(c.scan_iter(match=QUEUE + ".*", count=1000))
        if keys:
            c.delete(*keys)

    def llen(self) -> int:
        return self.client().llen(QUEUE)


class StartedOnFirstUse:
    """A private set-up of several nodes that the bench starts when the first row needing it runs (so a
    run without such a row never starts it, and the rows before it do not share the CPU with its idle
    nodes), once per run, in the work directory, and stops at the end. A failed start fails that row
    and every later one on the set-up, with its reason, without trying again."""
    ports: list[int] = []

    def ready(self) -> None:
        if self.up:
            return
        if self.failed:
            raise RowFailed(self.failed)
        busy = [p for p in self.ports if listening(p)]
        if busy:
            self.failed = (f"the {self.what}'s ports {', '.join(map(str, busy))} are in use by another program: "
                           f"not started")
            raise RowFailed(self.failed)
        log(f"        starting the private {self.what} in {shown(self.dir)} (stopped after the throughput rows)")
        self.started = True  # from here on, stop() must run even if the start fails half-way
        t = time.monotonic()
        with open(self.dir.parent / f"{self.dir.name}.log", "wb") as out:
            # In a session of its own, so that a Ctrl-C reaches the bench only, which then ends the
            # start before stop() stops whatever it had started.
            start = subprocess.Popen(["bash", ROOT / "scripts" / self.script, "start", self.dir, *self.start_args],
                                     stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                code = start.wait()
            except BaseException:
                os.killpg(start.pid, signal.SIGTERM)
                start.wait()
                raise
        if code != 0:
            self.failed = (f"starting the {self.what} failed (exit {code}): "
                           f"{(self.dir.parent / f'{self.dir.name}.log').read_text(errors='replace')[-600:].strip()}")
            raise RowFailed(self.failed)
        self.started_in = time.monotonic() - t
        self.after_start()
        self.up = True
        log(f"        {self.what} up in {self.started_in:.0f} s")

    def leftover_running(self) -> bool:
        """Whether a process that an earlier run recorded in the directory (DIR/*/pid) still runs."""
        for pidfile in self.dir.glob("*/pid"):
            try:
                os.kill(int(pidfile.read_text().strip()), 0)
                return True
            except (OSError, ValueError):
                pass
        return False

    def cpu_s(self) -> Optional[float]:
        """CPU seconds of all its server processes together."""
        cpus = [process_cpu_s(pid) for pid in self.pids]
        return None if not cpus or None in cpus else sum(cpus)


class Cluster(StartedOnFirstUse, Rabbit):
    """A private 3-node RabbitMQ cluster (scripts/rabbitmq-cluster.sh) on CLUSTER_PORT..: the cluster
    rows' queues (classic, quorum, 3 quorum shards, a stream), the programs given every node."""
    what, script = f"{CLUSTER_NODES}-node RabbitMQ cluster", "rabbitmq-cluster.sh"
    port = CLUSTER_PORT
    ports = [CLUSTER_PORT + i + off for i in range(CLUSTER_NODES) for off in (0, 10000, 20000)]
    start_args = [str(CLUSTER_NODES), str(CLUSTER_PORT)]

    def __init__(self, work: Path):
        super().__init__()
        self.dir = work / "rabbitmq-cluster"
        self.up, self.failed, self.pids, self.started_in = False, "", [], 0.0

    def after_start(self) -> None:
        self.pids = [int((self.dir / f"n{i}" / "pid").read_text().strip()) for i in range(1, CLUSTER_NODES + 1)]
        self.version = self.server_version()

    def env_vars(self) -> dict:
        return {"LOGSHIP_BROKER": ",".join(f"amqp://guest:guest@127.0.0.1:{CLUSTER_PORT + i}/"
                                           for i in range(CLUSTER_NODES))}

    def delete_more(self, ch) -> None:
        for i in range(CLUSTER_SHARDS):
            ch.queue_delete(f"{QUEUE}.shard.{i}")
        ch.exchange_delete(f"{QUEUE}.shards")


class Sentinel(StartedOnFirstUse, Redis):
    """A private Redis master + 2 replicas + 3 sentinels (scripts/redis-sentinel.sh) on SENTINEL_PORT..,
    the programs given the three sentinels' redis-sentinel:// URLs. No persistence on its data nodes
    (the script's choice: appendonly no, no snapshots)."""
    what, script = "Redis Sentinel set-up (master, 2 replicas, 3 sentinels)", "redis-sentinel.sh"
    ports = list(range(SENTINEL_PORT, SENTINEL_PORT + 6))
    start_args = [str(SENTINEL_PORT)]

    def __init__(self, work: Path):
        super().__init__()
        self.dir = work / "redis-sentinel"
        self.up, self.failed, self.pids, self.started_in = False, "", [], 0.0

    def after_start(self) -> None:
        self.password = (self.dir / "password").read_text().strip()
        self.sentinel_password = (self.dir / "sentinel-password").read_text().strip()
        # The data nodes: the master and both replicas (replication is part of what a push costs).
        self.pids = [int((self.dir / f"node-{SENTINEL_PORT + i}" / "pid").read_text().strip()) for i in range(3)]
        self.version = self.client().info("server")["redis_version"]

    def client(self):
        import redis
        return redis.Redis(host="127.0.0.1", port=SENTINEL_PORT, password=self.password, socket_timeout=30)

    def env_vars(self) -> dict:
        return {"LOGSHIP_BROKER": ",".join(f"redis-sentinel://127.0.0.1:{SENTINEL_PORT + 3 + i}/{SENTINEL_MASTER}"
                                           for i in range(3)),
                "LOGSHIP_PASSWORD": self.password, "LOGSHIP_SENTINEL_PASSWORD": self.sentinel_password}



# --- the bench -----------------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.a = args
        self.bin = Path(args.bin).resolve()
        self.shared = Path(args.shared).resolve() if args.shared else None
        self.baselines = baseline_paths(self.shared)
        self.work = Path(args.work).resolve()
        self.rabbit = Rabbit()
        self.redis = Redis()
        self.cluster = Cluster(self.work)
        self.sentinel = Sentinel(self.work)
        self.batch_flag = False
        self.notes: list[str] = []

    # -- set-up --

    def prepare(self) -> None:
        for prog in ("log_producer", "log_aggregator"):
            if not os.access(self.bin / prog, os.X_OK):
                raise SystemExit(f"bench: {self.bin / prog} is missing: run 'make build' first")
        for path in self.baselines.values():
            if not path.exists():
                raise SystemExit(f"bench: {path} is missing" + (f" (--shared {self.shared} must hold "
                                                                f"{', '.join(SHARED_BASELINES)})" if self.shared else ""))
        if self.work.exists():
            for leftover in (self.cluster, self.sentinel):  # of a run killed before its clean-up
                if leftover.leftover_running():
                    leftover.started = True
                    leftover.stop()
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        self.probe = self.work / "amqp_ceiling"
        subprocess.run(["gcc", "-O2", "-o", self.probe, self.baselines["amqp_ceiling.c"], "-lrabbitmq"], check=True)
        # The probe with our messages' exact shape (bench/broker_cost/amqp_cost.c, OURS_SHAPE=1).
        self.shape_probe = self.work / "amqp_cost"
        subprocess.run(["gcc", "-O2", "-o", self.shape_probe, BENCH_DIR / "broker_cost" / "amqp_cost.c", "-lrabbitmq"],
                       check=True)
        help_text = subprocess.run([self.bin / "log_producer", "--help"], capture_output=True,
                                   text=True).stdout
        self.batch_flag = "--batch-records" in help_text
        # The bytes of an average realistic record: the probe and redis-benchmark send bodies of
        # this size, so that their rows move as many bytes per record as ours.
        sample = self.input_file(self.a.n)
        self.payload = round(sample.stat().st_size / self.a.n) - 1

    def input_file(self, n: int, fixed: bool = False) -> Path:
        """n realistic records (bench/loggen.py, seed 1: web access, application, JSON and stack trace
        lines of 100-300 bytes); with `fixed`, the old input: n records of exactly PAYLOAD bytes each,
        a fixed text padded with 'x' (kept for comparison with earlier results)."""
        path = self.work / (f"fixed-{n}.log" if fixed else f"input-{n}.log")
        if not fixed and not path.exists():
            loggen.write_file(path, n, seed=1)
        if not path.exists():
            with open(path, "w") as f:
                for i in range(n):
                    line = f"2026-11-23T00:00:00.000000Z INFO bench-{i:09d} user=alice action=login status=ok latency_ms=12 "
                    f.write(line.ljust(PAYLOAD, "x")[:PAYLOAD] + "\n")
        return path

    def row_dir(self, key: str) -> Path:
        d = self.work / key
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        return d

    def env(self, broker: str) -> dict:
        e = {k: v for k, v in os.environ.items() if not k.startswith("LOGSHIP_")}
        return e | self.broker_of(broker).env_vars()

    def broker_of(self, broker: str):
        return {"RabbitMQ": self.rabbit, "Redis": self.redis, CLUSTER: self.cluster, SENTINEL: self.sentinel}[broker]

    def single_args(self) -> list[str]:
        # Batching is the default once log_producer has it: the one-per-message rows ask for 1.
        return ["--batch-records", "1"] if self.batch_flag else []

    def batch_args(self) -> list[str]:
        return ["--batch-records", str(self.a.batch_records)]

    # -- rows --

    def pubsub_row(self, row: R.Row, d: Path, label: str, sub_argv: list, pub_argv: list, env: dict,
                   what: str, count: Callable[[], int]) -> tuple[Proc, Proc]:
        """A probe's consumer started first, then its publisher; the clock runs from the publisher's
        start to the consumer's exit (after N messages). Fills the row's times and CPU."""
        n = row.records
        sub = Proc(f"{label} sub", sub_argv, d / "sub.log", env=env, cwd=d)
        sub.must_live = False
        deadline = time.monotonic() + 20
        while self.rabbit.consumers() < 1:
            if sub.poll() or time.monotonic() > deadline:
                raise RowFailed(f"the probe's consumer did not start: {sub.output(600)}")
            time.sleep(0.05)
        cpu0, t0 = self.rabbit.cpu_s(), time.monotonic()
        pub = Proc(f"{label} pub", pub_argv, d / "pub.log", env=env, cwd=d)
        wait_count(what, lambda: n if sub.poll() else count(), n, [pub, sub], timeout=self.a.row_timeout)
        sub.wait(5)
        t1 = sub.ended
        cpu1 = self.rabbit.cpu_s()
        pub.wait(30)
        row.sender, row.receiver = pub.expect_ok(), sub.expect_ok()
        row.seconds = t1 - t0
        row.broker_cpu_s = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
        return pub, sub

    def probe_row(self, row: R.Row) -> None:
        self.rabbit.reset_queue()
        d = self.row_dir(row.key)
        n = row.records
        env = os.environ | {"CEILING_OUT": str(d / "ceiling_out.txt"), "AMQP_PORT": str(AMQP_PORT)}
        out = d / "ceiling_out.txt"
        size = lambda: out.stat().st_size // (self.payload + 1) if out.exists() else 0
        pub, sub = self.pubsub_row(row, d, "probe", [self.probe, "sub", n, PROBE_PREFETCH],
                                   [self.probe, "pub", n, PROBE_CONFIRM_BATCH, self.payload], env,
                                   "records (approx., buffered)", size)
        row.note = (f"`amqp_ceiling pub {n} {PROBE_CONFIRM_BATCH} {self.payload}` and `amqp_ceiling sub {n} "
                    f"{PROBE_PREFETCH}` at once; time from the publisher's start to the consumer's exit. "
                    f"Their own figures: {pub.output().strip()} / {sub.output().strip()}.")

    def shape_probe_row(self, row: R.Row) -> None:
        """The probe sending and consuming messages of exactly our one-record shape (same properties,
        the six logship-* headers, through the logs exchange, mandatory), with our producer's confirm
        window (1024) and our aggregator's prefetch (200): the like-for-like ceiling of ours_amqp."""
        self.rabbit.reset_queue()
        d = self.row_dir(row.key)
        n = row.records
        env = os.environ | {"AMQP_PORT": str(AMQP_PORT), "OURS_SHAPE": "1", "EXCHANGE": "logs", "MANDATORY": "1"}
        pub, sub = self.pubsub_row(row, d, "shape", [self.shape_probe, "sub", n, 200],
                                   [self.shape_probe, "pub", n, 1024, self.payload], env,
                                   "messages consumed (the consumer exits at N)", lambda: 0)
        row.note = (f"`OURS_SHAPE=1 EXCHANGE=logs MANDATORY=1 amqp_cost pub {n} 1024 {self.payload}` and `amqp_cost sub "
                    f"{n} 200` at once (bench/broker_cost/amqp_cost.c: our properties and six logship-* headers, "
                    f"our confirm window and prefetch; no file written, no dedup); time from the publisher's start "
                    f"to the consumer's exit. Their own figures: {pub.output().strip()} / {sub.output().strip()}.")

    def pika_row(self, row: R.Row, confirm: bool, prefetch: int) -> None:
        self.rabbit.reset_queue()
        d = self.row_dir(row.key)
        n = row.records
        out = d / "aggregated_logs.txt"
        env = os.environ | {"AMQP_PORT": str(AMQP_PORT)}
        agg = Proc("pika aggregator", [PYTHON, self.baselines["seed_pika/log_aggregator.py"], "--exit-after", n,
                                       "--prefetch", prefetch, "--out", out], d / "aggregator.log", env=env, cwd=d)
        wait_ready(agg, "Waiting for logs")
        cpu0, t0 = self.rabbit.cpu_s(), time.monotonic()
        prod = Proc("pika producer", [PYTHON, self.baselines["seed_pika/log_producer.py"], "--bench", n]
                    + (["--confirm"] if confirm else []), d / "producer.log", env=env, cwd=d)
        counter = LineCounter(out)
        t1 = wait_count("lines written", counter, n, [prod, agg], timeout=self.a.row_timeout)
        cpu1 = self.rabbit.cpu_s()
        prod.wait(60)
        agg.wait(30)
        counter.close()
        row.sender, row.receiver = prod.expect_ok(), agg.expect_ok()
        row.seconds = t1 - t0
        row.broker_cpu_s = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
        row.note = (f"`log_producer.py --bench {n}{' --confirm' if confirm else ''}` and "
                    f"`log_aggregator.py --exit-after {n} --prefetch {prefetch}` at once; "
                    f"{PIKA_PAYLOAD}-byte bodies (the seed's fixed text); the producer alone took "
                    f"{prod.ended - t0:.2f} s.")

    def syslog_ng_row(self, row: R.Row) -> None:
        self.rabbit.reset_queue(declare=True)  # syslog-ng publishes to it but does not declare it
        d = self.row_dir(row.key)
        n = row.records
        # bench/baselines/syslog-ng.conf reads the input file and the port from the environment.
        conf = self.baselines["syslog-ng.conf"]
        env = os.environ | {"BENCH_INPUT": str(self.input_file(n)), "AMQP_PORT": str(AMQP_PORT)}
        depth, close = self.rabbit.depth_poller()
        try:
            cpu0, t0 = self.rabbit.cpu_s(), time.monotonic()
            sng = Proc("syslog-ng", ["syslog-ng", "-F", "--no-caps", "-f", conf, "-R", d / "syslog-ng.persist",
                                     "-p", d / "syslog-ng.pid", "-c", d / "syslog-ng.ctl"], d / "syslog-ng.log",
                       env=env)
            sng.must_live = True
            t1 = wait_count("messages in the queue", depth, n, [sng], timeout=self.a.row_timeout, poll=0.02)
            cpu1 = self.rabbit.cpu_s()
            time.sleep(0.3)
            final = depth()
        finally:
            close()
        row.sender = sng.stop()
        row.seconds = t1 - t0
        row.broker_cpu_s = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
        row.note = ("syslog-ng 3.38's amqp() publishes without publisher confirms (none of its options "
                    "turns them on), so it never learns whether the broker has a message; time from "
                    "its start until the queue holds all N messages (passive declare polled every "
                    "20 ms); no consumer runs meanwhile.")
        if final != n:
            row.note += f" The queue held {final:,} messages, not {n:,}."

    def ours_row(self, row: R.Row, extra: list[str], fixed: bool = False, setup: Optional[list[str]] = None,
                 both: tuple[str, ...] = ()) -> None:
        """log_aggregator started first, then log_producer reading the input; with `setup`, `logctl
        setup --queue Q SETUP` declares the queue first; `both` are flags of both programs."""
        broker = self.broker_of(row.broker)
        broker.ready()
        broker.reset_queue()
        d = self.row_dir(row.key)
        n = row.records
        out = d / "aggregated_logs.txt"
        env = self.env(row.broker)
        if setup is not None:
            res = subprocess.run([self.bin / "logctl", "setup", "--queue", QUEUE, *setup], env=env, cwd=d,
                                 capture_output=True, text=True, timeout=120)
            (d / "setup.log").write_text(res.stdout + res.stderr)
            if res.returncode != 0:
                raise RowFailed(f"{' '.join(['logctl setup', *setup])} exited with {res.returncode}: "
                                f"{(res.stdout + res.stderr).strip()[-600:]}")
        agg = Proc("aggregator", [self.bin / "log_aggregator", "--output", out, "--queue", QUEUE,
                                  "--metrics-listen", "127.0.0.1:0", *both, *self.a.agg_args],
                   d / "aggregator.log", env=env, cwd=d)
        agg.must_live = True
        wait_ready(agg, "Waiting for logs")
        with open(self.input_file(n, fixed), "rb") as stdin:
            cpu0, t0 = broker.cpu_s(), time.monotonic()
            prod = Proc("producer", [self.bin / "log_producer", "-q", "--queue", QUEUE, *both, *extra],
                        d / "producer.log", env=env, cwd=d, stdin=stdin)
        counter = LineCounter(out)
        t1 = wait_count("lines written", counter, n, [prod, agg], timeout=self.a.row_timeout)
        cpu1 = broker.cpu_s()
        prod.wait(120)
        time.sleep(0.2)
        row.wire_bytes = scrape_counter(agg, "logship_aggregator_bytes_received_total")
        agg.stop()
        lines = counter()
        counter.close()
        row.sender, row.receiver = prod.expect_ok(), agg.expect_ok()
        row.seconds = t1 - t0
        row.broker_cpu_s = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
        cmd = " ".join(["log_producer -q", *both, *extra, "< input"])
        agg_cmd = " ".join(["log_aggregator --output F", *both, *self.a.agg_args])
        row.note = (f"`{agg_cmd}` started first, then `{cmd}`; time until the aggregator's output has N lines; "
                    f"the producer alone (all confirmed) took {prod.ended - t0:.2f} s.")
        if setup is not None:
            row.note = f"`{' '.join(['logctl setup', *setup])}`, then " + row.note
        if getattr(broker, "pids", None):
            row.note += f" Broker CPU: the {len(broker.pids)} server processes' together."
        if lines != n:
            row.note += f" The output has {lines:,} lines, not {n:,}."
            raise RowFailed(f"the output has {lines:,} lines, not {n:,}")

    def sentinel_row(self, row: R.Row, wait_replicas: int) -> None:
        """The batched row through the sentinels with --wait-replicas N; the note says how many WAIT
        commands the master ran (its command statistics, reset before the row)."""
        self.sentinel.ready()
        self.sentinel.client().config_resetstat()
        self.ours_row(row, self.batch_args() + ["--wait-replicas", str(wait_replicas)])
        waits = self.sentinel.client().info("commandstats").get("cmdstat_wait", {}).get("calls", 0)
        row.note += f" The master ran {waits:,} WAIT commands during the row."

    def redis_benchmark_row(self, row: R.Row, clients: int) -> None:
        self.redis.reset_queue()
        d = self.row_dir(row.key)
        n = row.records
        argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", REDIS_PORT]
        if self.redis.password:
            argv += ["-a", self.redis.password]  # redis-benchmark has no other way to take it
        argv += ["--csv", "-n", n, "-c", clients, "-P", 100, "LPUSH", QUEUE, "x" * self.payload]
        cpu0 = self.redis.cpu_s()
        rb = Proc("redis-benchmark", argv, d / "redis-benchmark.log")
        rb.wait(self.a.row_timeout)
        cpu1 = self.redis.cpu_s()
        row.sender = rb.expect_ok()
        m = re.search(r'^"LPUSH[^"]*","([\d.]+)"', rb.output(100000), re.M)
        if not m:
            raise RowFailed(f"no rate in redis-benchmark's output: {rb.output(600)}")
        rps = float(m.group(1))
        got = self.redis.llen()
        row.seconds = n / rps
        row.broker_cpu_s = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
        row.note = (f"`redis-benchmark -n {n} -c {clients} -P 100 --csv LPUSH {QUEUE} <{self.payload} bytes>`; "
                    f"the rate is the one it reports; publish only (no consumer, no per-record confirm "
                    f"beyond the reply).")
        if got != n:
            row.note += f" The list held {got:,} values, not {n:,}."
        self.redis.reset_queue()

    # -- soak --

    def soak_start(self, d: Path, env: dict) -> dict[str, SoakFeeder]:
        feeders = {}
        for kind in SOAK_INPUTS:
            name = kind.replace(" ", "_")
            extra = {"stdin": [], "syslog udp": ["--syslog-udp", "127.0.0.1:0"],
                     "syslog tcp": ["--syslog-tcp", "127.0.0.1:0"],
                     "follow": ["--follow", d / "follow.log", "--state-file", d / "follow.state"]}[kind]
            (d / "follow.log").touch()
            proc = Proc(f"producer {kind}", [self.bin / "log_producer", "--queue", QUEUE, *extra], d / f"{name}.log",
                        env=env, cwd=d, stdin=subprocess.PIPE if kind == "stdin" else subprocess.DEVNULL)
            port = None
            if kind.startswith("syslog"):
                proto = kind.split()[1]
                wait_ready(proc, f"listening for syslog on {proto}")
                port = int(re.search(rf"listening for syslog on {proto} 127\.0\.0\.1:(\d+)", proc.output(100000)).group(1))
            elif kind == "follow":
                wait_ready(proc, "follow")
            feeders[kind] = SoakFeeder(kind, proc, port, d / "follow.log")
        return feeders

    def soak_run(self) -> list[R.Soak]:
        """log_producer's RSS while it ships --soak-rate records/s per input kind for --soak-seconds, the
        four kinds at once over RabbitMQ, and the RSS of one log_aggregator that writes all of them
        (rotated every 64 MB, 2 files kept, so the disk stays bounded). Should the aggregator fall
        behind, the queue is purged every 5 s, so a backlog cannot grow the broker's memory instead."""
        self.rabbit.reset_queue(declare=True)
        d = self.row_dir("soak")
        rate, secs = self.a.soak_rate, self.a.soak_seconds
        early, late = soak_marks(secs)
        soaks = {k: R.Soak(k, rate) for k in SOAK_INPUTS}
        soaks[SOAK_AGGREGATOR] = R.Soak(SOAK_AGGREGATOR, rate * len(SOAK_INPUTS))
        feeders = self.soak_start(d, self.env("RabbitMQ"))
        agg = Proc("aggregator (soak)", [self.bin / "log_aggregator", "--queue", QUEUE, "-o", d / "soak_out.txt",
                                         "--rotate-bytes", "64M", "--keep", "2", "--compress", "none"],
                   d / "aggregator.log", env=self.env("RabbitMQ"), cwd=d)
        wait_ready(agg, "Waiting for logs")
        procs = {**{k: f.proc for k, f in feeders.items()}, SOAK_AGGREGATOR: agg}
        conn = self.rabbit._connect()
        ch = conn.channel()
        try:
            t0 = time.monotonic()
            next_purge, next_print, read_early = t0 + 5, t0 + 10, False
            while (now := time.monotonic()) - t0 < late:
                due = int((now - t0) * rate) + 1
                for f in feeders.values():
                    if f.proc.poll():
                        raise RowFailed(f"{f.proc.name} exited during the soak: {f.proc.output(600).strip()}")
                    f.feed(due)
                if agg.poll():
                    raise RowFailed(f"{agg.name} exited during the soak: {agg.output(600).strip()}")
                if not read_early and now - t0 >= early:
                    for k, p in procs.items():
                        soaks[k].early_s, soaks[k].early_rss_kb = now - t0, vm_rss_kb(p.pid)
                    read_early = True
                if now >= next_purge:
                    ch.queue_purge(QUEUE)
                    next_purge = now + 5
                if now >= next_print:
                    rss = ", ".join(f"{k} {vm_rss_kb(p.pid) or 0:,} KiB" for k, p in procs.items())
                    progress(f"      {now - t0:5.0f}/{secs:.0f} s  RSS: {rss}")
                    next_print = now + 10
                time.sleep(0.005)
            for k, p in procs.items():
                soaks[k].late_s, soaks[k].late_rss_kb = time.monotonic() - t0, vm_rss_kb(p.pid)
            for k, f in feeders.items():
                soaks[k].fed = f.fed
            soaks[SOAK_AGGREGATOR].fed = sum(f.fed for f in feeders.values())
        except RowFailed as e:
            for s in soaks.values():
                s.status, s.note = "failed", str(e)
        finally:
            for f in feeders.values():
                f.close()
                f.proc.stop()
            agg.stop()
            conn.close()
            self.rabbit.reset_queue()
        return list(soaks.values())

    # -- latency --

    def latency_run(self, row: R.Row, extra: list[str]) -> R.Latency:
        broker = self.broker_of(row.broker)
        broker.reset_queue()
        d = self.row_dir(row.key + "-latency")
        rate, secs, warm = self.a.latency_rate, self.a.latency_seconds, self.a.latency_warmup
        total, warmup = int(rate * secs), int(rate * warm)
        out = d / "aggregated_logs.txt"
        env = self.env(row.broker)
        agg = Proc("aggregator", [self.bin / "log_aggregator", "--output", out, "--queue", QUEUE, *self.a.agg_args],
                   d / "aggregator.log", env=env, cwd=d)
        agg.must_live = True
        wait_ready(agg, "Waiting for logs")
        tail = Proc("latency tail", [PYTHON, BENCH_DIR / "latency_tail.py", out, total, warmup, secs + 120],
                    d / "tail.log")
        wait_ready(tail, "ready")
        prod = Proc("producer", [self.bin / "log_producer", "-q", "--queue", QUEUE, *extra], d / "producer.log",
                    env=env, cwd=d, stdin=subprocess.PIPE)
        fd = prod.popen.stdin.fileno()
        # The feeder: at each tick, write the lines that are due by now, each stamped with the
        # wall-clock time of that write. A slow producer blocks the write (the pipe is full), and
        # the achieved rate then falls below the target: it is reported.
        i, t0 = 0, time.monotonic()
        next_print = t0 + 2
        while i < total:
            now = time.monotonic()
            due = min(total, int((now - t0) * rate) + 1)
            if due > i:
                t_us = time.time_ns() // 1000
                chunk = "".join(f"lat seq={k:09d} t={t_us} ".ljust(PAYLOAD, "x") + "\n" for k in range(i, due))
                try:
                    os.write(fd, chunk.encode())
                except BrokenPipeError:
                    prod.wait(10)
                    raise RowFailed(f"the producer exited while being fed: {prod.output(600)}")
                i = due
            else:
                time.sleep(min(0.001, max(0.0, i / rate - (now - t0))))
            if now >= next_print:
                progress(f"      {i:>10,}/{total:,} records fed  {now - t0:5.1f} s  {i / (now - t0):,.0f}/s")
                next_print = now + 2
        fed_s = time.monotonic() - t0
        prod.popen.stdin.close()
        tail.wait(secs + 150)
        prod.wait(60)
        agg.stop()
        prod.expect_ok(), agg.expect_ok()
        import json
        lines = [ln for ln in tail.output(100000).splitlines() if ln.startswith("{")]
        if not lines:
            raise RowFailed(f"the latency tail printed no result: {tail.output(600)}")
        res = json.loads(lines[-1])
        if res["seen"] < total:
            raise RowFailed(f"only {res['seen']:,} of {total:,} paced records arrived")
        return R.Latency(target_rate=rate, achieved_rate=total / fed_s, fed=total, measured=res["measured"],
                         p50_ms=res["p50_ms"], p90_ms=res["p90_ms"], p99_ms=res["p99_ms"], max_ms=res["max_ms"],
                         seconds=fed_s, warmup_s=warm, procs=[prod.stats, agg.stats])


SOAK_INPUTS = ("stdin", "syslog udp", "syslog tcp", "follow")
SOAK_AGGREGATOR = "aggregator (all four)"  # the soak's log_aggregator, consuming what the four producers ship


def soak_selected(a) -> bool:
    """The soak runs by default; --no-soak skips it, and --only runs it when its keys include 'soak'."""
    return not a.no_soak and (not a.only or "soak" in a.only.split(","))


def soak_marks(seconds: float) -> tuple[float, float]:
    """When log_producer's RSS is read: at a fifth of the run (1 minute of the default 5) and at its end."""
    return seconds / 5, seconds


def soak_line(kind: str, seq: int) -> bytes:
    """One record of the soak for that input, PAYLOAD bytes of message (a syslog frame for syslog)."""
    text = f"soak seq={seq:010d} ".ljust(PAYLOAD, "x")
    if kind.startswith("syslog"):
        return f"<14>1 - bench soak - - - {text}".encode() + (b"\n" if kind == "syslog tcp" else b"")
    return text.encode() + b"\n"


class SoakFeeder:
    """Writes the soak's records into one input: the producer's stdin, a UDP or TCP socket, a followed file."""

    def __init__(self, kind: str, proc: Proc, port: Optional[int], path: Path):
        self.kind, self.proc, self.fed = kind, proc, 0
        if kind == "syslog udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.connect(("127.0.0.1", port))
        elif kind == "syslog tcp":
            self.sock = socket.create_connection(("127.0.0.1", port))
        elif kind == "follow":
            self.file = open(path, "ab")

    def feed(self, upto: int) -> None:
        lines = [soak_line(self.kind, i) for i in range(self.fed, upto)]
        if self.kind == "syslog udp":
            for line in lines:
                try:
                    self.sock.send(line)
                except OSError:
                    pass  # the receive buffer is full: UDP's way, and not what the soak measures
        elif self.kind == "syslog tcp":
            self.sock.sendall(b"".join(lines))
        elif self.kind == "follow":
            self.file.write(b"".join(lines))
            self.file.flush()
        else:
            os.write(self.proc.popen.stdin.fileno(), b"".join(lines))
        self.fed = upto

    def close(self) -> None:
        for attr in ("sock", "file"):
            if hasattr(self, attr):
                getattr(self, attr).close()
        if self.kind == "stdin" and self.proc.popen.stdin:
            self.proc.popen.stdin.close()


def scrape_counter(proc: Proc, name: str) -> Optional[int]:
    """A counter of a running program's /metrics (its --metrics-listen address from its log), or None."""
    m = re.search(r"serving metrics on http://([0-9.:]+)/metrics", proc.output(100_000))
    if not m:
        return None
    try:
        with urllib.request.urlopen(f"http://{m.group(1)}/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return None
    found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    return int(float(found.group(1))) if found else None


def vm_rss_kb(pid: Optional[int]) -> Optional[int]:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, TypeError):
        pass
    return None


def baseline_paths(shared: Optional[Path]) -> dict[str, Path]:
    """Each peer program's file: bench/baselines/ (the project's own), or with --shared DIR the team's
    reference copies of the probe and the pika scripts in DIR."""
    paths = {f: BASELINES / f for f in SHARED_BASELINES + ("syslog-ng.conf",)}
    if shared is not None:
        paths |= {f: shared / f for f in SHARED_BASELINES}
    return paths


def baselines_info(b: Bench) -> str:
    """RESULTS.md's line saying which baselines ran."""
    if b.shared is None:
        return ("the project's own, bench/baselines/ (amqp_ceiling.c, seed_pika/log_producer.py and "
                "log_aggregator.py, syslog-ng.conf)")
    return (f"the reference copies in {b.shared} (--shared: {', '.join(SHARED_BASELINES)}); "
            f"syslog-ng.conf from bench/baselines/")


def build_plan(b: Bench) -> list[tuple[R.Row, Callable[[R.Row], None]]]:
    a = b.a
    n, slow, fast, sng, batched = a.n, a.slow_n, a.pika_n, a.syslog_n, a.batched_n
    conf = "confirms, ack after write"
    P = b.payload  # the mean bytes of a realistic record (bench/loggen.py)
    plan = [
        (R.Row("probe", "rabbitmq-c probe", "RabbitMQ", R.CEILING, "pub+sub at once", "batched confirms, multi-ack (no fsync)", n, P),
         b.probe_row),
        (R.Row("pika_tutorial", "pika tutorial", "RabbitMQ", R.PEER, "end to end", "confirm per message, ack after write", slow, PIKA_PAYLOAD),
         lambda r: b.pika_row(r, confirm=True, prefetch=1)),
        (R.Row("pika_fast", "pika, prefetch 100, no confirms", "RabbitMQ", R.PEER, "end to end", "NO confirms, ack after write", fast, PIKA_PAYLOAD),
         lambda r: b.pika_row(r, confirm=False, prefetch=100)),
        (R.Row("syslog_ng", "syslog-ng amqp()", "RabbitMQ", R.PEER, "publish only", "NO confirms, persistent", sng, P),
         b.syslog_ng_row),
        (R.Row("probe_our_shape", "rabbitmq-c probe, our message shape", "RabbitMQ", R.CEILING, "pub+sub at once",
               "confirm window 1024, prefetch 200 (no file, no fsync)", n, P),
         b.shape_probe_row),
        (R.Row("ours_amqp", "ours, 1 record/message", "RabbitMQ", R.OURS, "end to end", conf, n, P),
         lambda r: b.ours_row(r, b.single_args())),
        (R.Row("ours_amqp_batched", f"ours, batched ({a.batch_records}/message)", "RabbitMQ", R.OURS, "end to end", conf, batched, P),
         lambda r: b.ours_row(r, b.batch_args())),
        (R.Row("ours_amqp_batched_zstd", f"ours, batched ({a.batch_records}/message), --compress zstd", "RabbitMQ",
               R.OURS, "end to end", conf, batched, P),
         lambda r: b.ours_row(r, b.batch_args() + ["--compress", "zstd"])),
        (R.Row("ours_amqp_batched_fixed", f"ours, batched ({a.batch_records}/message), old fixed {PAYLOAD}-byte input",
               "RabbitMQ", R.OURS, "end to end", conf, batched, PAYLOAD, throughput_only=True),
         lambda r: b.ours_row(r, b.batch_args(), fixed=True)),
        (R.Row("redis_benchmark_1", "redis-benchmark -c 1 -P 100", "Redis", R.PEER, "publish only", "reply per push", n, P),
         lambda r: b.redis_benchmark_row(r, 1)),
        (R.Row("redis_benchmark_50", "redis-benchmark -c 50 -P 100", "Redis", R.PEER, "publish only", "reply per push", n, P),
         lambda r: b.redis_benchmark_row(r, 50)),
        (R.Row("ours_redis", "ours, 1 record/value", "Redis", R.OURS, "end to end", conf, n, P),
         lambda r: b.ours_row(r, b.single_args())),
        (R.Row("ours_redis_batched", f"ours, batched ({a.batch_records}/value)", "Redis", R.OURS, "end to end", conf, batched, P),
         lambda r: b.ours_row(r, b.batch_args())),
        (R.Row("ours_redis_batched_zstd", f"ours, batched ({a.batch_records}/value), --compress zstd", "Redis", R.OURS,
               "end to end", conf, batched, P),
         lambda r: b.ours_row(r, b.batch_args() + ["--compress", "zstd"])),
    ] + cluster_plan(b) + sentinel_plan(b)
    if a.only:
        keys = {r.key for r, _ in plan}
        plan = [(r, f) for r, f in plan if selected(a.only, r.key, keys)]
    return plan


def selected(only: str, key: str, keys: set[str]) -> bool:
    """--only: a row's key, or the first word of several rows' keys ("cluster", "sentinel", "ours"),
    a word that is not itself a key (so "probe" is the probe alone); the probe always runs."""
    wanted = set(only.split(","))
    first = key.split("_")[0]
    return key == "probe" or key in wanted or (first in wanted and first not in keys)


def cluster_plan(b: Bench) -> list[tuple[R.Row, Callable[[R.Row], None]]]:
    """Our programs on the private 3-node cluster, given every node (--broker URL1,URL2,URL3): a classic
    queue (it lives on one node) beside quorum queues (replicated on all three; batched also with
    --compress zstd: fewer bytes for every replica to write and receive), 3 quorum shards and a stream.
    Each row against the one it varies (Row.versus)."""
    a = b.a
    conf, per = "confirms, ack after write", f"{a.batch_records}/message"
    quorum = ["--queue-type", "quorum"]
    shards = ("--shards", str(CLUSTER_SHARDS))

    def row(key, label, records, versus):
        return R.Row(key, label, CLUSTER, R.OURS, "end to end", conf, records, b.payload, versus=versus,
                     throughput_only=True)
    return [
        (row("cluster_classic", "ours, classic queue, 1 record/message", a.n, "ours_amqp"),
         lambda r: b.ours_row(r, b.single_args(), setup=[])),
        (row("cluster_classic_batched", f"ours, classic queue, batched ({per})", a.batched_n, "ours_amqp_batched"),
         lambda r: b.ours_row(r, b.batch_args(), setup=[])),
        (row("cluster_quorum", "ours, quorum queue, 1 record/message", a.n, "cluster_classic"),
         lambda r: b.ours_row(r, b.single_args(), setup=quorum)),
        (row("cluster_quorum_batched", f"ours, quorum queue, batched ({per})", a.batched_n, "cluster_classic_batched"),
         lambda r: b.ours_row(r, b.batch_args(), setup=quorum)),
        (row("cluster_quorum_batched_zstd", f"ours, quorum queue, batched ({per}), --compress zstd", a.batched_n,
             "cluster_quorum_batched"),
         lambda r: b.ours_row(r, b.batch_args() + ["--compress", "zstd"], setup=quorum)),
        (row("cluster_shards_batched", f"ours, {CLUSTER_SHARDS} quorum shards, batched ({per})", a.batched_n,
             "cluster_quorum_batched"),
         lambda r: b.ours_row(r, b.batch_args(), setup=quorum + list(shards), both=shards)),
        (row("cluster_stream_batched", f"ours, stream, batched ({per})", a.batched_n, "cluster_quorum_batched"),
         lambda r: b.ours_row(r, b.batch_args(), setup=["--queue-type", "stream"])),
    ]


def sentinel_plan(b: Bench) -> list[tuple[R.Row, Callable[[R.Row], None]]]:
    """The batched producer against a Sentinel-managed master with 2 replicas, through the sentinels'
    redis-sentinel:// URLs: confirmed once the master has a push (--wait-replicas 0), and once WAIT
    says a replica has it too (--wait-replicas 1): the cost of the stronger confirm."""
    a = b.a
    per = f"{a.batch_records}/value"

    def row(key, label, guarantees, versus):
        return R.Row(key, label, SENTINEL, R.OURS, "end to end", guarantees, a.batched_n, b.payload, versus=versus,
                     throughput_only=True)
    return [
        (row("sentinel_batched", f"ours, batched ({per}), --wait-replicas 0", "confirms (master), ack after write",
             "ours_redis_batched"),
         lambda r: b.sentinel_row(r, 0)),
        (row("sentinel_batched_wait1", f"ours, batched ({per}), --wait-replicas 1",
             "confirms (master + 1 replica), ack after write", "sentinel_batched"),
         lambda r: b.sentinel_row(r, 1)),
    ]


def run_once(row: R.Row, fn: Callable[[R.Row], None]) -> R.Row:
    """One run of a row on a fresh copy of its description; a failure is recorded in the row."""
    r = R.Row(**{f: getattr(row, f) for f in ("key", "label", "broker", "group", "measured", "guarantees",
                                                "records", "payload_bytes", "versus", "throughput_only")})
    try:
        fn(r)
    except RowFailed as e:
        r.status, r.note = "failed", str(e)
        Proc.stop_all()
    return r


def median_run(runs: list[R.Row]) -> R.Row:
    """The run with the median records/s (a failed run wins: it must show)."""
    failed = [r for r in runs if not r.ok]
    if failed:
        return failed[0]
    runs = sorted(runs, key=lambda r: r.rate)
    best = runs[len(runs) // 2]
    if len(runs) > 1:
        best.note += f" Median of {len(runs)} runs by records/s ({', '.join(f'{r.rate:,.0f}' for r in runs)})."
    return best


def machine_info(b: Bench) -> dict:
    def first(path, key):
        try:
            for ln in Path(path).read_text().splitlines():
                if ln.startswith(key):
                    return ln.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"
    mem_kb = first("/proc/meminfo", "MemTotal").split()[0]
    try:
        sng = subprocess.run(["syslog-ng", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        sng = "?"
    try:
        commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = "?"
    return {
        "Date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": f"{first('/proc/cpuinfo', 'model name')}, {os.cpu_count()} cores",
        "RAM": f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb.isdigit() else "?",
        "Kernel": platform.release(),
        "Debian": Path("/etc/debian_version").read_text().strip() if Path("/etc/debian_version").exists() else "?",
        "RabbitMQ": f"{b.rabbit.version} ({'private node started by the bench' if b.rabbit.started else 'already running'})",
        "Redis": f"{b.redis.version} ({'private server started by the bench' if b.redis.started else 'already running'}; {b.redis.persistence})",
        "syslog-ng": sng,
        "pika": getattr(b.rabbit, "pika_version", "?"),
        "Logship": f"{commit} ({b.bin})",
    } | setups_info(b)


def setups_info(b: Bench) -> dict:
    """The set-ups of several nodes this run started (none when no row needed them)."""
    info = {}
    if b.cluster.up:
        info["RabbitMQ cluster"] = (f"{b.cluster.version}, {CLUSTER_NODES} private nodes on 127.0.0.1:{CLUSTER_PORT}-"
                                    f"{CLUSTER_PORT + CLUSTER_NODES - 1}, started by the bench in "
                                    f"{b.cluster.started_in:.0f} s; **the {CLUSTER_NODES} nodes share this one "
                                    f"machine's {os.cpu_count()} cores**")
    if b.sentinel.up:
        info["Redis Sentinel"] = (f"{b.sentinel.version}, master 127.0.0.1:{SENTINEL_PORT}, replicas {SENTINEL_PORT + 1}-"
                                  f"{SENTINEL_PORT + 2}, sentinels {SENTINEL_PORT + 3}-{SENTINEL_PORT + 5}, started by "
                                  f"the bench; no persistence on the data nodes (appendonly no)")
    return info


def setup_notes(rows: list[R.Row]) -> list[str]:
    """What a reader of the cluster and Sentinel rows must know, when the run has such rows."""
    notes = []
    if any(r.broker == CLUSTER for r in rows):
        notes.append(f"**The {CLUSTER_NODES} RabbitMQ nodes of the cluster rows run on this one machine and share its "
                     f"{os.cpu_count()} CPU cores** (with the producer, the aggregator and the idle single-node "
                     f"brokers): a quorum queue's three replicas compete for the same cores, so the cluster rows here "
                     f"are slower than one node and than a real cluster, where each node has its own cores. Compare "
                     f"them with each other (\"Against the base row\"), not with a real deployment. Broker CPU is "
                     f"the three nodes' together; the programs are given every node (`--broker URL1,URL2,URL3` through "
                     f"`LOGSHIP_BROKER`) and connect to the first.")
    if any(r.broker == SENTINEL for r in rows):
        notes.append("The Redis Sentinel rows run a master, 2 replicas and 3 sentinels on this machine, the programs "
                     "given the three sentinels' `redis-sentinel://` URLs; broker CPU is the three data nodes' "
                     "together. Its data nodes keep no AOF (the single server's rows do), so compare "
                     "`--wait-replicas 1` with `--wait-replicas 0` (\"Against the base row\") rather than with "
                     "the single server.")
    return notes


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000, help="records of the fast rows (default 200,000)")
    ap.add_argument("--slow-n", type=int, help="records of the pika tutorial row (default n/20: confirms make it slow)")
    ap.add_argument("--pika-n", type=int, help="records of the pika no-confirm row (default n/4)")
    ap.add_argument("--syslog-n", type=int, help="records of the syslog-ng row (default n/2)")
    ap.add_argument("--batched-n", type=int, help="records of the batched rows (default 5 n)")
    ap.add_argument("--batch-records", type=int, default=1000, help="--batch-records of the batched rows (default 1000)")
    ap.add_argument("--latency-rate", type=float, default=10_000, help="records/s of the latency runs (default 10,000)")
    ap.add_argument("--latency-seconds", type=float, default=12, help="feeding time of a latency run (default 12)")
    ap.add_argument("--latency-warmup", type=float, default=2, help="first seconds not measured (default 2)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the whole plan R times over, keep each row's median run (default 1)")
    ap.add_argument("--quick", action="store_true", help="n=20,000, 5 s latency runs: a smoke test, not figures")
    ap.add_argument("--only", help="comma-separated row keys (the probe always runs)")
    ap.add_argument("--no-latency", action="store_true", help="skip the latency runs")
    ap.add_argument("--agg-args", default="", help="extra log_aggregator flags for our rows (quoted)")
    ap.add_argument("--bin", default=str(ROOT / "build" / "bin"), help="where log_producer and log_aggregator are")
    ap.add_argument("--shared", metavar="DIR",
                    help="run the team's reference copies of the probe and the pika scripts in DIR "
                         "(amqp_ceiling.c, seed_pika/) instead of bench/baselines/ (e.g. ../shared/bench)")
    ap.add_argument("--work", help="scratch directory (default BIN/../bench-run)")
    ap.add_argument("--out", default=str(BENCH_DIR), help="where RESULTS.md, results.json, results.png go")
    ap.add_argument("--render", metavar="RESULTS_JSON",
                    help="write RESULTS.md and the chart again from a results.json; runs nothing")
    ap.add_argument("--row-timeout", type=float, default=300, help="seconds a row may take (default 300)")
    ap.add_argument("--soak-seconds", type=float, default=None,
                    help="length of the soak: log_producer's RSS per input kind, read at a fifth and at the end "
                         "(default 300; 30 with --quick)")
    ap.add_argument("--soak-rate", type=float, default=5000, help="records/s per input kind in the soak (default 5,000)")
    ap.add_argument("--no-soak", action="store_true", help="skip the soak")
    a = ap.parse_args(argv)
    if a.soak_seconds is None:
        a.soak_seconds = 30 if a.quick else 300
    if a.quick:
        if a.n == 200_000:
            a.n = 20_000
        if a.latency_seconds == 12:
            a.latency_seconds, a.latency_warmup = 5, 1
    a.slow_n = a.slow_n or max(1000, a.n // 20)
    a.pika_n = a.pika_n or max(1000, a.n // 4)
    a.syslog_n = a.syslog_n or max(1000, a.n // 2)
    a.batched_n = a.batched_n or 5 * a.n
    a.work = a.work or str(Path(a.bin).resolve().parent / "bench-run")
    a.agg_args = shlex.split(a.agg_args)
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    if a.render:
        return render(Path(a.render), Path(a.out))
    command = os.environ.get("BENCH_COMMAND") or "/usr/bin/python3 bench/run.py " + " ".join(
        shlex.quote(x) for x in (sys.argv[1:] if argv is None else argv))
    def on_sigterm(*_):
        raise KeyboardInterrupt  # the same clean-up as Ctrl-C: children stopped, brokers stopped
    signal.signal(signal.SIGTERM, on_sigterm)
    b = Bench(a)
    started = time.monotonic()
    rows: list[R.Row] = []
    load0 = os.getloadavg()
    try:
        log("== Logship bench: ours side by side with the peers, same brokers, one run")
        log("== Set-up")
        b.prepare()
        log(f"  probe compiled from {b.baselines['amqp_ceiling.c']} into {b.probe}")
        log(f"  log_producer --help {'lists' if b.batch_flag else 'does not list'} --batch-records: "
            f"batched rows {'run' if b.batch_flag else 'are reported as not available yet'}")
        b.rabbit.ensure()
        b.redis.ensure()
        plan = build_plan(b)
        log(f"== Throughput ({len(plan)} rows)")
        # With --repeat R the whole plan runs R times over (rounds), so that a change of load on
        # the machine hits every row alike; each row keeps its median run.
        runs: dict[str, list[R.Row]] = {row.key: [] for row, _ in plan}
        for rnd in range(1, a.repeat + 1):
            if a.repeat > 1:
                log(f"  -- round {rnd}/{a.repeat}")
            for i, (row, fn) in enumerate(plan, 1):
                log(f"  [{i}/{len(plan)}] {row.label} ({row.broker}, {row.measured}, {row.records:,} records)")
                if "_batched" in row.key and not b.batch_flag:
                    log("        not available yet (log_producer --help has no --batch-records)")
                    continue
                if any(not r.ok for r in runs[row.key]):
                    log("        skipped (failed in an earlier round)")
                    continue
                t = time.monotonic()
                r = run_once(row, fn)
                runs[row.key].append(r)
                if r.ok:
                    log(f"        {r.rate:>12,.0f} records/s  {r.mb_per_s:6.2f} MB/s  "
                        f"CPU {r.client_cpu_s:.2f} s  ({time.monotonic() - t:.1f} s)")
                else:
                    log(f"        FAILED: {r.note}")
        # Their idle nodes would share the CPU with the latency runs and the soak.
        b.sentinel.stop()
        b.cluster.stop()
        for row, _ in plan:
            if runs[row.key]:
                rows.append(median_run(runs[row.key]))
            else:
                row.status = "n/a"
                row.note = "not available yet: log_producer has no --batch-records"
                row.latency_na = "batching not available yet"
                rows.append(row)
        # The fixed-input row is there for its throughput only (the comparison with earlier results).
        lat_rows = [r for r in rows if r.group == R.OURS and r.status == "ok" and not r.throughput_only]
        if a.no_latency:
            for r in lat_rows:
                r.latency_na = "latency runs skipped (--no-latency)"
        else:
            log(f"== Latency at a steady {a.latency_rate:,.0f} records/s ({a.latency_seconds:g} s each, "
                f"first {a.latency_warmup:g} s not measured)")
            for i, r in enumerate(lat_rows, 1):
                log(f"  [{i}/{len(lat_rows)}] {r.label} ({r.broker})")
                extra = b.batch_args() if "_batched" in r.key else []
                if r.key.endswith("_zstd"):
                    extra += ["--compress", "zstd"]
                try:
                    r.latency = b.latency_run(r, extra)
                    L = r.latency
                    log(f"        p50 {L.p50_ms:.1f} ms  p99 {L.p99_ms:.1f} ms  max {L.max_ms:.1f} ms  "
                        f"at {L.achieved_rate:,.0f} records/s ({L.measured:,} measured)")
                except RowFailed as e:
                    Proc.stop_all()
                    r.latency_na = f"the latency run failed: {e}"
                    log(f"        FAILED: {e}")
        for r in rows:
            if r.latency is None and not r.latency_na:
                r.latency_na = {
                    "probe": "its bodies are constant bytes: no send time to compare",
                    "probe_our_shape": "its bodies are constant bytes: no send time to compare",
                    "pika_tutorial": "the seed producer's body has a fixed timestamp: no send time to compare",
                    "pika_fast": "the seed producer's body has a fixed timestamp: no send time to compare",
                    "syslog_ng": "publish only: nothing consumes during the row",
                    "ours_amqp_batched_fixed": "the old input, kept for its throughput only (compare ours_amqp_batched)",
                    "redis_benchmark_1": "publish only; its own request latency is not end to end",
                    "redis_benchmark_50": "publish only; its own request latency is not end to end",
                }.get(r.key, "throughput only: the latency runs are on the single node and server"
                             if r.broker in (CLUSTER, SENTINEL) else "")
        soaks: list[R.Soak] = []
        if soak_selected(a):
            log(f"== Soak: log_producer's RSS per input kind, {a.soak_rate:,.0f} records/s each for "
                f"{a.soak_seconds:g} s, read at {soak_marks(a.soak_seconds)[0]:g} s and at the end")
            soaks = b.soak_run()
            for s in soaks:
                log(f"  {s.input:<11} " + (f"RSS {s.early_rss_kb or 0:,} KiB at {s.early_s:.0f} s, "
                                            f"{s.late_rss_kb or 0:,} KiB at {s.late_s:.0f} s: "
                                            f"{s.growth_kb_per_min:+,.0f} KiB/min" if s.status == "ok"
                                            else f"FAILED: {s.note}"))
        load1 = os.getloadavg()
        machine = machine_info(b)
        machine["Load average (1 min) at start / end"] = f"{load0[0]:.2f} / {load1[0]:.2f}"
        settings = {
            "Records": f"{a.n:,} for the probe, syslog-ng ({a.syslog_n:,}), ours and redis-benchmark; "
                       f"{a.slow_n:,} for the pika tutorial (one confirm per message is slow), "
                       f"{a.pika_n:,} for pika without confirms; {a.batched_n:,} for the batched rows",
            "Record": f"realistic lines from bench/loggen.py (seed 1; {b.payload} bytes on average; the probe and "
                      f"redis-benchmark send bodies of that size); ours_amqp_batched_fixed, the latency runs and the soak: "
                      f"the old fixed {PAYLOAD}-byte text; the pika seed: {PIKA_PAYLOAD} bytes, its fixed text",
            "Baselines": baselines_info(b),
            "Probe": f"pub confirm batch {PROBE_CONFIRM_BATCH}, sub prefetch {PROBE_PREFETCH} (multiple-ack every {PROBE_PREFETCH // 2})",
            "Our programs": f"defaults (log_aggregator: --prefetch 200, --format text, --dedup-window 1000000, no --fsync"
                            f"{'; extra: ' + ' '.join(a.agg_args) if a.agg_args else ''}; log_producer: --confirm-window 1024)",
            "Batched rows": f"--batch-records {a.batch_records}" if b.batch_flag else "not run: log_producer has no --batch-records yet",
            "Latency runs": f"{a.latency_rate:,.0f} records/s for {a.latency_seconds:g} s, first {a.latency_warmup:g} s not measured",
            "Repeats": f"{a.repeat} rounds of every row, each row's median run by records/s" if a.repeat > 1 else "1",
            "Soak": (f"{a.soak_rate:,.0f} records/s per input kind ({', '.join(SOAK_INPUTS)}) for {a.soak_seconds:g} s"
                     if soaks else "not run"),
            "Wall time of the whole bench": f"{time.monotonic() - started:.0f} s",
        }
        write_outputs(Path(a.out), rows, machine, settings, command, standard_notes(load0[0]) + setup_notes(rows), soaks)
        return 1 if any(r.status == "failed" for r in rows) or any(s.status == "failed" for s in soaks) else 0
    except KeyboardInterrupt:
        log("\nbench: interrupted")
        return 130
    finally:
        Proc.stop_all()
        for broker in (b.sentinel, b.cluster, b.redis, b.rabbit):
            try:
                broker.stop()
            except BaseException as e:  # noqa: BLE001 - stop the others all the same
                log(f"  stopping the {broker.what} failed: {e!r}")


def standard_notes(load_at_start: Optional[float] = None) -> list[str]:
    cores = os.cpu_count() or 1
    if load_at_start is not None and load_at_start < cores / 2:
        quiet = ("The machine was quiet at the start (load average below half its cores, above); rows "
                 "still spread from run to run: compare rows of the same run, not runs.")
    else:
        quiet = ("The machine was shared with other work while this ran (see the load average above), so "
                 "figures are noisy; compare rows of the same run, not runs.")
    return [
        quiet,
        f"The bench deletes and re-creates `{QUEUE}` (and `{QUEUE}.dead`, and over Redis the "
        f"`{QUEUE}.*` keys) on the local brokers between rows.",
        "Rows marked *publish only* stop the clock when the broker holds every record; *end to "
        "end* rows stop it when the consumer has written every record to its file.",
    ]


def write_outputs(out: Path, rows: list[R.Row], machine: dict, settings: dict, command: str,
                  notes: list[str], soaks: Optional[list[R.Soak]] = None) -> None:
    """The table, ratios and goals on stdout; RESULTS.md, results.json and results.png in out."""
    goals = R.evaluate_goals(rows)
    out.mkdir(parents=True, exist_ok=True)
    chart = make_chart(rows, out, machine)
    (out / "RESULTS.md").write_text(R.markdown_report(rows, goals, machine, command, settings, notes,
                                                      chart.name if chart else None, soaks))
    (out / "results.json").write_text(R.to_json(rows, goals, machine, settings, command, notes, soaks))
    log("")
    log(R.stdout_report(rows, goals, soaks))
    log("")
    log(f"Wrote {out / 'RESULTS.md'}, {out / 'results.json'}" + (f", {chart}" if chart else " (no chart)"))


def render(path: Path, out: Path) -> int:
    """--render: the outputs again from a results.json, without running anything (for a change
    of the report's layout; the figures are the saved ones, the goals are judged again)."""
    text = path.read_text()
    rows, machine, settings, command, notes = R.from_json(text)
    write_outputs(out, rows, machine, settings, command, notes or standard_notes(), R.soaks_from_json(text))
    return 0


def make_chart(rows: list[R.Row], out: Path, machine: dict) -> Optional[Path]:
    if not shutil.which("gnuplot"):
        log("  gnuplot is missing (bench/install-deps.sh installs gnuplot-nox): no chart")
        return None
    data = out / "results.dat"
    png = out / "results.png"
    n = len(rows)
    data.write_text(R.chart_data(rows))
    title = f"Logship bench, records/s (log scale) - {machine.get('Date', '')}, {machine.get('CPU', '')}"
    script = R.gnuplot_script(str(data), str(png), title.replace('"', "'"), n)
    res = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    data.unlink()
    if res.returncode != 0:
        log(f"  gnuplot failed: {res.stderr.strip()}")
        return None
    return png


if __name__ == "__main__":
    sys.exit(main())
