#!/usr/bin/python3
"""amqps:// end to end, against a private RabbitMQ node with a TLS listener that this test starts
(node logship-5697@localhost: AMQP 127.0.0.1:5697, AMQPS 127.0.0.1:5698 and [::1]:5698, dist port
25697) and always stops, with throwaway certificates from scripts/make-test-ca.sh. The suite's own
broker is not used.
(a) producer -> amqps -> aggregator with the right CA: every one of 2000 records arrives, over
    `localhost` (DNS SAN) and `127.0.0.1` (IP SAN); logctl status works over amqps.
(b) the broker's certificate is refused: CA of somebody else, no CA (the system store), a name the
    certificate lacks ([::1]), a plain AMQP port: exit 1 at once, one clear line.
(c) client certificates: ours is accepted, one from another CA is refused; after a restart with
    fail_if_no_peer_cert = true, no certificate is refused and ours is accepted.
(d) flags: --require-tls refuses amqp:// and redis:// (exit 2, naming the scheme) and accepts
    amqps://, also as LOGSHIP_REQUIRE_TLS=1; --tls-* on amqp:// or redis://, --tls-cert without
    --tls-key, a missing file, rediss://: exit 2 with one line.
(e) the broker user's password appears in no output of any run.
(f) over amqps:// the deadlines hold too: under a memory alarm the producer with
    --reconnect-seconds 0 exits 1 instead of hanging in a TLS write (the send watchdog shuts the
    socket under OpenSSL); every connection closed by the broker mid-stream
    (close_all_connections): producer and aggregator reconnect over TLS, every record arrives."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import count_lines, read_lines, run_test, sample, tally, wait_for  # noqa: E402

AMQP_PORT = 5697
TLS_PORT = 5698
NODE = f"logship-{AMQP_PORT}@localhost"
USER, PASSWORD = "tlsuser", "Tls-Secret-4711-xyzzy"
RECORDS = 2000
PROGS = ("log_producer", "log_aggregator", "logctl")


class Tls:
    """The node, the certificates and every result (for the password check)."""

    def __init__(self, t):
        self.t = t
        self.source = t.env.source or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.certs = t.path("certs")
        self.node_dir = t.path("node")
        self.results = []
        self.ipv6 = False

    def script(self, name):
        return os.path.join(self.source, "scripts", name)

    def cert(self, name):
        return os.path.join(self.certs, name)

    def start_node(self, require_client_cert, fresh):
        env = dict(os.environ, TLS_PORT=str(TLS_PORT), TLS_DIR=self.certs,
                   TLS_FAIL_IF_NO_PEER_CERT="true" if require_client_cert else "false", FRESH="1" if fresh else "0")
        started = time.monotonic()
        cp = subprocess.run([self.script("rabbitmq-node.sh"), "start", self.node_dir, str(AMQP_PORT)], env=env,
                            capture_output=True, timeout=180, stdin=subprocess.DEVNULL)
        self.t.require(cp.returncode == 0,
                       f"TLS node {NODE} starts (fail_if_no_peer_cert = {str(require_client_cert).lower()}, "
                       f"{time.monotonic() - started:.1f} s)",
                       (cp.stdout + cp.stderr).decode(errors="replace"))
        with open(os.path.join(self.node_dir, "rabbitmq.conf")) as f:
            self.ipv6 = "::1:" in f.read()

    def stop_node(self):
        cp = subprocess.run([self.script("rabbitmq-node.sh"), "stop", self.node_dir], capture_output=True, timeout=120,
                            stdin=subprocess.DEVNULL)
        print(f"   {cp.stdout.decode(errors='replace').strip()}", flush=True)

    def ctl(self, args, stdin=None):
        cp = subprocess.run(["rabbitmqctl", "-q", "-n", NODE] + args, input=stdin, capture_output=True, timeout=60)
        self.t.require(cp.returncode == 0, f"rabbitmqctl {args[0]}", cp.stderr.decode(errors="replace"))

    def env(self, url, **extra):
        """A child environment pointing at `url`, with no TLS or password setting inherited."""
        e = self.t.child_env(LOGSHIP_BROKER=url, LOGSHIP_PASSWORD=None, LOGSHIP_TLS_CA=None, LOGSHIP_TLS_CERT=None,
                             LOGSHIP_TLS_KEY=None, LOGSHIP_REQUIRE_TLS=None)
        e.update(extra)
        return e

    def run(self, prog, args, url, input=None, timeout=60, **extra):
        r = self.t.run(prog, args, input=input, timeout=timeout, env=self.env(url, **extra))
        self.results.append(r)
        return r

    def expect_failure(self, prog, args, url, rc, keywords, what, max_seconds=None, **extra):
        """Runs a program that must fail with `rc` and end with one '<prog>: error:' line holding `keywords`."""
        r = self.run(prog, args, url, **extra)
        errors = [l for l in r.err_lines if l.startswith(f"{prog}: error:")]
        last = r.err_lines[-1] if r.err_lines else ""
        ok = (r.rc == rc and len(errors) == 1 and last == errors[0]
              and all(k.lower() in last.lower() for k in keywords))
        if rc == 2:
            ok = ok and len(r.err_lines) == 1 and r.out == b""
        t = self.t
        t.check(ok, f"{prog} {what}: exit {rc}, one error line naming {keywords}", r.describe())
        if max_seconds is not None:
            t.check(r.elapsed < max_seconds, f"{prog} {what}: fails at once ({r.elapsed:.2f} s, no retries)")
        if errors:
            t.note(f"-> {errors[0]}")
        return r


def tls_url(host="localhost", port=TLS_PORT, password=False):
    return f"amqps://{USER}{':' + PASSWORD if password else ''}@{host}:{port}/"


def pipeline(t, s, host, tag):
    """Aggregator and producer over amqps://host with the right CA; every record must arrive."""
    q = f"tls_{tag}_{os.getpid()}"
    out = t.path(f"{tag}.log")
    # The aggregator gets the password from a file, the producer from LOGSHIP_PASSWORD, the CA by flag
    # and by LOGSHIP_TLS_CA.
    pwfile = t.path("password")
    with open(pwfile, "w") as f:
        f.write(PASSWORD + "\n")
    agg = t.spawn(f"agg-{tag}", "log_aggregator",
                  ["--queue", q, "--output", out, "--format", "raw", "--password-file", pwfile,
                   "--tls-ca", s.cert("ca.pem")],
                  env=s.env(tls_url(host)))
    t.wait_ready(agg)
    banner = agg.stdout().decode(errors="replace")
    t.check(f"amqps://{USER}:***@" in banner, f"the aggregator's banner shows the redacted amqps URL", banner)
    records = [f"{tag}-{n:05d}" for n in range(RECORDS)]
    r = s.run("log_producer", ["--queue", q], tls_url(host), input=("\n".join(records) + "\n").encode(),
              timeout=120, LOGSHIP_PASSWORD=PASSWORD, LOGSHIP_TLS_CA=s.cert("ca.pem"))
    t.check(r.rc == 0, f"log_producer ships {RECORDS} records over {tls_url(host)} (exit 0)", r.describe())
    t.check(f"sent {RECORDS} records".encode() in r.err, "the producer reports every record confirmed", r.describe())
    wait_for(lambda: count_lines(out) >= RECORDS or not agg.alive(), 60)
    agg.send_signal(signal.SIGTERM)
    t.finish_proc(agg, 20, f"agg-{tag} exits 0 on SIGTERM")
    s.results.append(agg.result())
    lines, partial = read_lines(out)
    missing, dups, unexpected, _ = tally(records, [l.decode(errors="replace") for l in lines])
    t.check(not missing and dups == 0 and not unexpected and partial == b"",
            f"all {RECORDS} records written once over {host} ({len(missing)} missing, {dups} duplicates, "
            f"{len(unexpected)} unexpected)", sample(missing or unexpected))
    st = s.run("logctl", ["status", "--queue", q, "--json", "--tls-ca", s.cert("ca.pem")], tls_url(host, password=True))
    try:
        ready = {row["queue"]: row["ready"] for row in json.loads(st.out_text)}.get(q)
    except (ValueError, KeyError, TypeError):
        ready = None
    t.check(st.rc == 0 and ready == 0, f"logctl status over amqps://{host} shows '{q}' drained", st.describe())


def part_a(t, s):
    t.section("(a) producer -> amqps -> aggregator, every record counted")
    pipeline(t, s, "localhost", "dns")
    pipeline(t, s, "127.0.0.1", "ip")


def part_b(t, s):
    t.section("(b) the broker's certificate is refused: exit 1 at once, one clear line")
    args = ["--queue", "tls_refused", "never sent"]
    pw = {"LOGSHIP_PASSWORD": PASSWORD}
    s.expect_failure("log_producer", args + ["--tls-ca", s.cert("other-ca.pem")], tls_url(), 1,
                     ["TLS handshake with amqps://localhost:5698 failed", "certificate verify failed", "other-ca.pem"],
                     "trusting an unrelated CA", max_seconds=5, **pw)
    s.expect_failure("log_producer", args, tls_url(), 1,
                     ["certificate verify failed", "system's store", "--tls-ca"],
                     "with no --tls-ca (the system's CA store does not know the test CA)", max_seconds=5, **pw)
    if s.ipv6:
        s.expect_failure("log_producer", args + ["--tls-ca", s.cert("ca.pem")], tls_url("[::1]"), 1,
                         ["certificate verify failed", "not valid for '::1'", "localhost, 127.0.0.1"],
                         "connecting to [::1], a name the certificate lacks", max_seconds=5, **pw)
        for prog, pargs in (("log_aggregator", ["--queue", "tls_refused", "--output", t.path("never.log")]),
                            ("logctl", ["status"])):
            s.expect_failure(prog, pargs + ["--tls-ca", s.cert("ca.pem")], tls_url("[::1]"), 1,
                             ["certificate verify failed", "not valid for '::1'"], "connecting to [::1]",
                             max_seconds=5, **pw)
    else:
        t.note("no IPv6 loopback on this machine: the host-name mismatch case ([::1]) is skipped")
    s.expect_failure("log_producer", args + ["--tls-ca", s.cert("ca.pem")], tls_url(port=AMQP_PORT), 1,
                     ["TLS handshake", f"is port {AMQP_PORT} a TLS port"], "to the plain AMQP port", max_seconds=5,
                     **pw)


def part_c(t, s):
    t.section("(c) client certificates (the broker verifies the ones it gets)")
    ok = s.run("log_producer", ["--queue", "tls_client_cert", "with a client certificate"], tls_url(),
               LOGSHIP_PASSWORD=PASSWORD, LOGSHIP_TLS_CA=s.cert("ca.pem"), LOGSHIP_TLS_CERT=s.cert("client.pem"),
               LOGSHIP_TLS_KEY=s.cert("client.key"))
    t.check(ok.rc == 0, "a client certificate of the broker's CA is accepted (LOGSHIP_TLS_CERT/KEY)", ok.describe())
    s.expect_failure("log_producer", ["--queue", "tls_client_cert", "x", "--tls-ca", s.cert("ca.pem"), "--retry-seconds",
                                      "5", "--tls-cert", s.cert("other-client.pem"), "--tls-key",
                                      s.cert("other-client.key")],
                     tls_url(), 1, ["client certificate", "other-client.pem"],
                     "with a client certificate from an unrelated CA", LOGSHIP_PASSWORD=PASSWORD)
    s.expect_failure("log_producer", ["--queue", "tls_client_cert", "x", "--tls-ca", s.cert("ca.pem"),
                                      "--tls-cert", s.cert("client.pem"), "--tls-key", s.cert("other-client.key")],
                     tls_url(), 2, ["--tls-cert", "key values mismatch"], "with a key that is not the certificate's",
                     LOGSHIP_PASSWORD=PASSWORD)

    t.section("(c) the broker now requires a client certificate (fail_if_no_peer_cert = true)")
    s.stop_node()
    s.start_node(require_client_cert=True, fresh=False)
    # With TLS 1.3 the broker refuses after our side of the handshake: its alert may be lost in a
    # reset, then the producer retries (--retry-seconds) and reports the alert the next time.
    s.expect_failure("log_producer", ["--queue", "tls_client_cert", "x", "--tls-ca", s.cert("ca.pem"),
                                      "--retry-seconds", "5"],
                     tls_url(), 1, ["client certificate", "--tls-cert"], "without a client certificate",
                     LOGSHIP_PASSWORD=PASSWORD)
    ok = s.run("log_producer", ["--queue", "tls_client_cert", "with a client certificate", "--tls-ca", s.cert("ca.pem"),
                                "--tls-cert", s.cert("client.pem"), "--tls-key", s.cert("client.key")],
               tls_url("127.0.0.1"), LOGSHIP_PASSWORD=PASSWORD)
    t.check(ok.rc == 0, "with the client certificate the producer is accepted", ok.describe())


def part_d(t, s):
    t.section("(d) --require-tls and the TLS flags: usage errors (exit 2)")
    plain = f"amqp://{USER}@127.0.0.1:{AMQP_PORT}/"
    redis = "redis://127.0.0.1:6390"
    for prog in PROGS:
        pre = {"log_producer": ["--queue", "tls_flags"], "log_aggregator": ["--queue", "tls_flags", "--idle-exit", "1"],
               "logctl": ["status", "--queue", "tls_flags"]}[prog]
        post = ["x"] if prog == "log_producer" else []
        s.expect_failure(prog, pre + ["--require-tls"] + post, plain, 2, ["--require-tls", "amqp://", "amqps://"],
                         "--require-tls with an amqp:// URL", LOGSHIP_PASSWORD=PASSWORD)
        s.expect_failure(prog, pre + ["--require-tls"] + post, redis, 2, ["--require-tls", "redis://"],
                         "--require-tls with a redis:// URL")
        s.expect_failure(prog, pre + post, plain, 2, ["--require-tls", "amqp://"],
                         "LOGSHIP_REQUIRE_TLS=1 with an amqp:// URL", LOGSHIP_REQUIRE_TLS="1", LOGSHIP_PASSWORD=PASSWORD)
        s.expect_failure(prog, pre + ["--tls-ca", s.cert("ca.pem")] + post, plain, 2, ["--tls-ca needs an amqps://"],
                         "--tls-ca with an amqp:// URL", LOGSHIP_PASSWORD=PASSWORD)
        s.expect_failure(prog, pre + ["--tls-cert", s.cert("client.pem")] + post, redis, 2,
                         ["--tls-cert needs an amqps://", "Redis over TLS is not supported"], "--tls-cert with a redis:// URL")
        s.expect_failure(prog, pre + ["--tls-cert", s.cert("client.pem")] + post, tls_url(), 2,
                         ["--tls-cert needs --tls-key"], "--tls-cert without --tls-key")
        s.expect_failure(prog, pre + ["--tls-ca", t.path("no-such-ca.pem")] + post, tls_url(), 2,
                         ["--tls-ca", "no-such-ca.pem", "No such file"], "a missing --tls-ca file")
        s.expect_failure(prog, pre + post, "rediss://:pw@127.0.0.1:6390", 2,
                         ["rediss://", "not supported", "hiredis"], "a rediss:// URL")
    for prog, args in (("log_producer", ["--queue", "tls_require", "required and given"]),
                       ("logctl", ["status", "--queue", "tls_require"])):
        r = s.run(prog, args + ["--require-tls", "--tls-ca", s.cert("ca.pem"), "--tls-cert", s.cert("client.pem"),
                                "--tls-key", s.cert("client.key")], tls_url(), LOGSHIP_PASSWORD=PASSWORD)
        t.check(r.rc == 0, f"{prog} --require-tls accepts an amqps:// URL", r.describe())
    r = s.run("log_aggregator", ["--queue", "tls_require", "--output", t.path("require.log"), "--idle-exit", "1",
                                 "--tls-ca", s.cert("ca.pem"), "--tls-cert", s.cert("client.pem"),
                                 "--tls-key", s.cert("client.key")],
              tls_url(), LOGSHIP_PASSWORD=PASSWORD, LOGSHIP_REQUIRE_TLS="1")
    t.check(r.rc == 0 and count_lines(t.path("require.log")) == 1,
            "log_aggregator with LOGSHIP_REQUIRE_TLS=1 drains the queue over amqps://", r.describe())


def part_e(t, s):
    t.section("(e) the password is never printed")
    leaks = [r for r in s.results if PASSWORD.encode() in r.out or PASSWORD.encode() in r.err]
    t.check(not leaks, f"the password appears in none of the {len(s.results)} runs' output",
            "\n".join(r.describe() for r in leaks[:3]))


def part_f(t, s):
    t.section("(f) deadlines and reconnects over amqps://")
    env = dict(LOGSHIP_PASSWORD=PASSWORD, LOGSHIP_TLS_CA=s.cert("ca.pem"))
    q = f"tls_alarm_{os.getpid()}"
    r = s.run("logctl", ["setup", "--queue", q], tls_url(), **env)
    t.require(r.rc == 0, "logctl setup over amqps", r.describe())
    input_path = t.path("alarm-input.log")
    with open(input_path, "wb") as f:
        for i in range(300):
            f.write(f"r{i:04d} ".encode() + b"x" * 400_000 + b"\n")  # 120 MB: far more than socket buffers hold
    s.ctl(["set_vm_memory_high_watermark", "0.000001"])
    try:
        start = time.monotonic()
        with open(input_path, "rb") as stdin:
            p = t.spawn("tls-alarm-producer", "log_producer",
                        ["--queue", q, "--confirm-timeout", "20", "--reconnect-seconds", "0"], stdin=stdin,
                        env=s.env(tls_url(), **env))
        rc = p.wait(90)
        if rc is None:
            p.kill()
        r = p.result()
        s.results.append(r)
        errors = [l for l in r.err_lines if l.startswith("log_producer: error:")]
        t.check(rc == 1 and len(errors) == 1, f"under a memory alarm the producer exits 1 over TLS instead of hanging "
                f"({time.monotonic() - start:.0f} s)", r.describe())
        t.check("all confirmed" not in r.err_text, "no claim that records were delivered", r.describe())
    finally:
        s.ctl(["set_vm_memory_high_watermark", "0.4"])

    q = f"tls_reconnect_{os.getpid()}"
    out = t.path("reconnect.log")
    agg = t.spawn("tls-reconnect-agg", "log_aggregator", ["--queue", q, "--output", out, "--format", "raw"],
                  env=s.env(tls_url(), **env))
    t.wait_ready(agg)
    records = [f"re-{n:05d}" for n in range(6000)]
    rfd, wfd = os.pipe()
    producer = t.spawn("tls-reconnect-producer", "log_producer", ["--queue", q], stdin=rfd,
                       env=s.env(tls_url(), **env))
    os.close(rfd)
    with os.fdopen(wfd, "wb") as w:
        for i in range(0, len(records), 500):
            w.write(("\n".join(records[i:i + 500]) + "\n").encode())
            w.flush()
            time.sleep(0.1)
            if i == 2500:
                s.ctl(["close_all_connections", "logship test: closed mid-stream"])
    t.finish_proc(producer, 120, "the producer reconnects over TLS and exits 0 (every record confirmed)")
    s.results.append(producer.result())
    t.check(b"reconnect" in producer.stderr(), "the producer says it reconnected", producer.result().describe())
    wait_for(lambda: len(set(read_lines(out)[0])) >= len(records) or not agg.alive(), 60)
    t.check(b"reconnect" in agg.stderr(), "the aggregator says it reconnected", agg.result().describe())
    agg.send_signal(signal.SIGTERM)
    t.finish_proc(agg, 20, "the aggregator exits 0 on SIGTERM")
    s.results.append(agg.result())
    missing, dups, unexpected, _ = tally(records, [l.decode(errors="replace") for l in read_lines(out)[0]])
    t.check(not missing and not unexpected and dups == 0,
            f"every record arrives once ({len(missing)} missing, {dups} duplicates)", sample(missing))


def body(t):
    s = Tls(t)
    cp = subprocess.run([s.script("make-test-ca.sh"), s.certs], capture_output=True, timeout=60)
    t.require(cp.returncode == 0, "make-test-ca.sh makes the test CA and certificates",
              (cp.stdout + cp.stderr).decode(errors="replace"))
    try:
        s.start_node(require_client_cert=False, fresh=True)
        s.ctl(["add_user", USER], stdin=PASSWORD.encode())  # the password on stdin, not in the process list
        s.ctl(["set_permissions", "-p", "/", USER, ".*", ".*", ".*"])
        part_a(t, s)
        part_b(t, s)
        part_d(t, s)
        part_f(t, s)
        part_c(t, s)  # restarts the node to require client certificates
        part_e(t, s)
    finally:
        s.stop_node()


if __name__ == "__main__":
    run_test("tls", body, time_limit=540)
