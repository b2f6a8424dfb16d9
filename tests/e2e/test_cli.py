#!/usr/bin/python3
"""Command-line behaviour of the three programs:
- bad flags, values and URLs: exit 2 and exactly one stderr line '<prog>: error: ...' naming the problem
  (a mistyped URL never echoes its password);
- --help: exit 0 with examples; --version;
- wrong password (env, URL, file): exit 1 quickly, one clear error line, the password never printed;
- unknown vhost: exit 1 at once;
- --password-file / LOGSHIP_PASSWORD / URL password with the right password work, and are not printed;
- logctl setup is idempotent; logctl status --json reports the ready count;
- --max-message-bytes: an argv message over it exits 2, a stdin line over it is refused (exit 1) while
  the other lines are delivered."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import run_test, wait_for  # noqa: E402

PROGS = ("log_producer", "log_aggregator", "logctl")


def base_args(t, prog, q):
    """Arguments that make each program do its normal job on queue q (logctl: status)."""
    if prog == "log_producer":
        return ["--queue", q], ["hello"]
    if prog == "log_aggregator":
        return ["--queue", q, "--output", t.path("agg-cli.log"), "--idle-exit", "1"], []
    return ["status", "--queue", q], []


def expect_usage_error(t, prog, args, keywords, what, env=None):
    r = t.run(prog, args, timeout=20, env=env)
    lines = r.err_lines
    ok = (r.rc == 2 and len(lines) == 1 and lines[0].startswith(f"{prog}: error:")
          and all(k.lower() in lines[0].lower() for k in keywords) and r.out == b"")
    t.check(ok, f"{prog} {what}: exit 2, one '{prog}: error:' line naming {keywords}, nothing on stdout",
            r.describe())
    return r


def usage_errors(t, q):
    t.section("bad flags and values: exit 2, one line")
    for prog in PROGS:
        pre, post = base_args(t, prog, q)
        expect_usage_error(t, prog, pre + ["--bogus-flag"] + post, ["--bogus-flag"], "unknown flag")
        expect_usage_error(t, prog, pre + ["--retry-seconds", "soon"] + post, ["--retry-seconds"],
                           "bad --retry-seconds")
        expect_usage_error(t, prog, pre + ["--queue", ""] + post, ["--queue"], "empty --queue")
        expect_usage_error(t, prog, pre + ["--password-file", t.path("no-such-file")] + post, ["--password-file"],
                           "missing --password-file")
    empty = t.path("empty-password-file")
    open(empty, "w").close()
    for prog in PROGS:
        pre, post = base_args(t, prog, q)
        expect_usage_error(t, prog, pre + ["--password-file", empty] + post, ["password file"], "empty --password-file")
    expect_usage_error(t, "logctl", ["--bogus-flag"], ["--bogus-flag"], "unknown flag before the subcommand")
    expect_usage_error(t, "logctl", [], ["subcommand"], "without a subcommand")
    expect_usage_error(t, "logctl", ["frobnicate"], ["frobnicate"], "unknown subcommand")
    agg, _ = base_args(t, "log_aggregator", q)
    for value in ("0", "abc", "-1", "65536"):
        expect_usage_error(t, "log_aggregator", agg + ["--prefetch", value], ["--prefetch"], f"--prefetch {value}")
    for value in ("xml", "", "TEXT"):
        expect_usage_error(t, "log_aggregator", agg + ["--format", value], ["--format"], f"--format {value!r}")
    expect_usage_error(t, "log_aggregator", agg + ["--idle-exit", "-5"], ["--idle-exit"], "--idle-exit -5")
    for value in ("", "has space", "tab\there", "x" * 201):
        expect_usage_error(t, "log_aggregator", agg + ["--consumer-id", value], ["--consumer-id"],
                           f"--consumer-id {value[:20]!r}")
    for value in ("0", "-3", "soon"):
        expect_usage_error(t, "log_aggregator", agg + ["--lease-seconds", value], ["--lease-seconds"],
                           f"--lease-seconds {value}")
    for value in ("-1", "soon"):
        expect_usage_error(t, "log_aggregator", agg + ["--write-retry-seconds", value], ["--write-retry-seconds"],
                           f"--write-retry-seconds {value}")
    for value in ("-1", "many", "100000001"):
        expect_usage_error(t, "log_aggregator", agg + ["--dedup-window", value], ["--dedup-window"],
                           f"--dedup-window {value}")
    for value in ("-1", "often", "1000001", "2.5"):
        expect_usage_error(t, "log_aggregator", agg + ["--max-deliveries", value], ["--max-deliveries"],
                           f"--max-deliveries {value}")
    # Rotation: sizes and durations are parsed by the producer's parser (core/units).
    for flag, value in (("--rotate-bytes", "0"), ("--rotate-bytes", "5x"), ("--rotate-bytes", "-1M"),
                        ("--rotate-bytes", "1.5G"), ("--rotate-interval", "5x"), ("--rotate-interval", "0s"),
                        ("--rotate-interval", "3600"), ("--max-age", "soon"), ("--keep", "-1"), ("--keep", "0"),
                        ("--keep", "many")):
        expect_usage_error(t, "log_aggregator", agg + ["--rotate-bytes", "100M", flag, value], [flag],
                           f"{flag} {value}")
    expect_usage_error(t, "log_aggregator", agg + ["--rotate-bytes", "100M", "--compress", "gzip"], ["--compress"],
                       "--compress gzip")
    for flag, value in (("--keep", "3"), ("--max-age", "7d"), ("--compress", "none")):
        expect_usage_error(t, "log_aggregator", agg + [flag, value], [flag, "--rotate-bytes"],
                           f"{flag} without --rotate-bytes or --rotate-interval")
    for value in ("5x", "0"):
        expect_usage_error(t, "log_producer", ["--queue", q, "--batch-bytes", value, "hello"], ["--batch-bytes"],
                           f"--batch-bytes {value}")
    expect_usage_error(t, "logctl", ["recover", "--bogus"], ["--bogus"], "unknown flag of recover")
    expect_usage_error(t, "log_aggregator", agg + ["--max-message-bytes", "0"], ["--max-message-bytes"],
                       "--max-message-bytes 0")
    for value in ("loud", "", "inf0"):
        expect_usage_error(t, "log_producer", ["--queue", q, "--level", value, "hello"], ["--level"],
                           f"--level {value!r}")
    expect_usage_error(t, "log_producer", ["--queue", q, "--field", "novalue", "hello"], ["--field"],
                       "--field without '='")
    for key in ("caf\u00e9", "k" * 129, "a b"):
        expect_usage_error(t, "log_producer", ["--queue", q, "--field", key + "=1", "hello"], ["--field"],
                           f"--field with the key {key[:20]!r} (one key rule: ASCII letters, digits, _ . -, 128 bytes)")
    expect_usage_error(t, "log_producer", ["--queue", q, "--confirm-window", "0", "hello"], ["--confirm-window"],
                       "--confirm-window 0")

    t.section("bad broker URLs: exit 2, one line")
    bad_urls = [("127.0.0.1:5672", ["URL"], "no scheme"),
                ("amqp://guest:guest@127.0.0.1:99999/", ["URL", "port"], "port 99999"),
                ("amqp://guest:guest@127.0.0.1:0/", ["URL", "port"], "port 0"),
                ("amqp://guest:guest@127.0.0.1:abc/", ["URL", "port"], "port abc"),
                ("ftp://127.0.0.1/", ["URL", "ftp"], "ftp://"),
                ("amqp://", ["URL", "host"], "no host")]
    for prog in PROGS:
        pre, post = base_args(t, prog, q)
        for url, keywords, what in bad_urls:
            expect_usage_error(t, prog, pre + ["--broker", url] + post, keywords, f"--broker {what}")
        # The same through the environment.
        expect_usage_error(t, prog, pre + post, ["URL", "ftp"], "LOGSHIP_BROKER=ftp://...",
                           env=t.child_env(LOGSHIP_BROKER="ftp://127.0.0.1/"))
        # Mistyped URLs must not echo a password (docs/FORMATS.md: errors never repeat the text after ://).
        for url, what in ((f"amqp://guest:Leak1Secret{os.getpid()}", "password taken for a port (no host)"),
                          (f"amqp://guest:Leak2/Secret{os.getpid()}@127.0.0.1/", "'/' in the password"),
                          (f"amqp://guest:Leak3Secret{os.getpid()}@127.0.0.1:5672/a b", "space in the URL")):
            r = expect_usage_error(t, prog, pre + ["--broker", url] + post, ["URL"], f"--broker with {what}")
            secret_absent(t, [r], f"Secret{os.getpid()}", f"{prog} --broker with {what}")


def help_texts(t):
    t.section("--help")
    for prog, example in (("log_producer", 'log_producer "Log Entry 1: This is a sample log."'),
                          ("log_aggregator", "log_aggregator --output"), ("logctl", "logctl setup")):
        r = t.run(prog, ["--help"], timeout=20)
        t.check(r.rc == 0 and "Examples:" in r.out_text and example in r.out_text,
                f"{prog} --help exits 0 and shows examples (e.g. {example!r})", r.describe())
        t.check(r.err == b"", f"{prog} --help prints nothing on stderr", r.describe())
        for flag in ("--broker", "--queue", "--password-file"):
            t.check(flag in r.out_text or prog == "logctl", f"{prog} --help lists {flag}")
    for prog in PROGS:
        r = t.run(prog, ["--version"], timeout=20)
        t.check(r.rc == 0 and r.out_text.startswith(f"{prog} (logship) "), f"{prog} --version exits 0 and names it",
                r.describe())
    for sub in ("setup", "status"):
        r = t.run("logctl", [sub, "--help"], timeout=20)
        t.check(r.rc == 0 and "--broker" in r.out_text, f"logctl {sub} --help exits 0 and lists --broker",
                r.describe())


def secret_absent(t, results, secret, what):
    leaked = [r for r in results if secret.encode() in r.out or secret.encode() in r.err]
    t.check(not leaked, f"{what}: the password appears neither on stdout nor on stderr",
            "\n".join(r.describe() for r in leaked))


def wrong_password(t, q):
    t.section("wrong password: exit 1 quickly, one error line, password not printed")
    port = t.env.amqp_port
    pwfile = t.path("wrong-password")
    secret_file = f"FileSecret-{os.getpid()}-zz"
    with open(pwfile, "w") as f:
        f.write(secret_file + "\n")
    for prog in PROGS:
        pre, post = base_args(t, prog, q)
        cases = [
            ("LOGSHIP_PASSWORD", f"EnvSecret-{os.getpid()}-xx", lambda s: (pre + post, t.child_env(LOGSHIP_PASSWORD=s))),
            ("password in --broker URL", f"UrlSecret-{os.getpid()}-yy",
             lambda s: (pre + ["--broker", f"amqp://guest:{s}@127.0.0.1:{port}/"] + post, None)),
            ("password in LOGSHIP_BROKER", f"EnvUrlSecret-{os.getpid()}-ww",
             lambda s: (pre + post, t.child_env(LOGSHIP_BROKER=f"amqp://guest:{s}@127.0.0.1:{port}/"))),
            ("--password-file", secret_file, lambda s: (pre + ["--password-file", pwfile] + post, None)),
        ]
        for what, secret, make in cases:
            args, env = make(secret)
            r = t.run(prog, args, timeout=30, env=env)
            # A password in a --broker URL on the command line is warned of (test_secret_errors).
            lines = [l for l in r.err_lines if " warning " not in l or "--password-file" not in l]
            t.check(r.rc == 1 and r.elapsed < 5, f"{prog}, wrong {what}: exit 1 within 5 s "
                    f"(exit {r.rc}, {r.elapsed:.2f} s)", r.describe())
            t.check(len(lines) == 1 and lines[0].startswith(f"{prog}: error:")
                    and ("refused" in lines[0].lower() or "password" in lines[0].lower()),
                    f"{prog}, wrong {what}: one clear error line (login refused)", r.describe())
            secret_absent(t, [r], secret, f"{prog}, wrong {what}")


def unknown_vhost(t, q):
    t.section("unknown vhost: exit 1 at once, one error line")
    for prog in PROGS:
        pre, post = base_args(t, prog, q)
        url = f"amqp://guest:guest@127.0.0.1:{t.env.amqp_port}/no-such-vhost-{os.getpid()}"
        r = t.run(prog, pre + ["--broker", url] + post, timeout=30)
        lines = r.err_lines
        t.check(r.rc == 1 and r.elapsed < 5 and len(lines) == 1 and lines[0].startswith(f"{prog}: error:")
                and "vhost" in lines[0].lower(),
                f"{prog}: unknown vhost: exit 1 within 5 s, one error line naming the vhost", r.describe())


def unwritable_output(t, q):
    t.section("aggregator output not writable: exit 1, one error line")
    bad = t.path("no-such-dir/out.log")
    r = t.run("log_aggregator", ["--queue", q, "--output", bad, "--idle-exit", "1"], timeout=30)
    lines = r.err_lines
    t.check(r.rc == 1 and len(lines) == 1 and lines[0].startswith("log_aggregator: error:") and bad in lines[0],
            "log_aggregator --output in a missing directory: exit 1, one error line naming the file", r.describe())


def right_password(t, q):
    t.section("right password through --password-file, LOGSHIP_PASSWORD and the URL")
    port = t.env.amqp_port
    user = f"e2e_cli_{os.getpid()}"
    secret = f"Right-{os.getpid()}-Secret"
    t.add_user(user, secret)
    pwfile = t.path("right-password")
    with open(pwfile, "w") as f:
        f.write(secret + "\n")
    nopw = f"amqp://{user}@127.0.0.1:{port}/"
    withpw = f"amqp://{user}:{secret}@127.0.0.1:{port}/"
    wrongpw = f"amqp://{user}:not-the-password@127.0.0.1:{port}/"
    runs = []
    r = t.run("log_producer", ["--broker", nopw, "--password-file", pwfile, "--queue", q, "via password file"])
    runs.append(r)
    t.check(r.rc == 0 and r.out_text == " [x] Sent 'via password file'\n", "log_producer --password-file works",
            r.describe())
    r = t.run("log_producer", ["--broker", wrongpw, "--password-file", pwfile, "--queue", q, "file over URL"])
    runs.append(r)
    t.check(r.rc == 0, "--password-file overrides the URL's password", r.describe())
    r = t.run("log_producer", ["--queue", q, "via env"], env=t.child_env(LOGSHIP_BROKER=nopw, LOGSHIP_PASSWORD=secret))
    runs.append(r)
    t.check(r.rc == 0, "LOGSHIP_PASSWORD works", r.describe())
    r = t.run("log_producer", ["--queue", q], input=b"via URL 1\nvia URL 2\n",
              env=t.child_env(LOGSHIP_BROKER=withpw))
    runs.append(r)
    t.check(r.rc == 0, "a password in LOGSHIP_BROKER works", r.describe())
    r = t.run("logctl", ["status", "--broker", withpw, "--queue", q])
    runs.append(r)
    t.check(r.rc == 0 and q in r.out_text, "logctl status with the password in the URL works", r.describe())
    r = t.run("logctl", ["status", "--broker", nopw, "--password-file", pwfile, "--queue", q, "--json"])
    runs.append(r)
    t.check(r.rc == 0, "logctl status --password-file works", r.describe())
    out = t.path("right-password.log")
    r = t.run("log_aggregator", ["--broker", withpw, "--queue", q, "--output", out, "--format", "raw",
                                 "--idle-exit", "1"], timeout=60)
    runs.append(r)
    t.check(r.rc == 0, "log_aggregator with the password in the URL works", r.describe())
    t.check("***" in r.out_text, "the aggregator shows the broker URL with the password masked", r.describe())
    with open(out, "rb") as f:
        got = f.read().decode().splitlines()
    t.check_equal(got, ["via password file", "file over URL", "via env", "via URL 1", "via URL 2"],
                  "every record sent with the right password arrived")
    secret_absent(t, runs, secret, "successful runs")


def logctl(t):
    t.section("logctl setup (idempotent) and status --json")
    q = t.queue("ctl")
    for i in (1, 2):
        r = t.run("logctl", ["setup", "--queue", q])
        t.check(r.rc == 0, f"logctl setup run {i} exits 0", r.describe())
    r = t.run("log_producer", ["--queue", q, "--batch-records", "1"],
              input=b"".join(f"status record {i}\n".encode() for i in range(7)))
    t.check(r.rc == 0, "log_producer sends 7 records", r.describe())
    r = t.run("logctl", ["setup", "--queue", q])
    t.check(r.rc == 0, "logctl setup after use still exits 0", r.describe())
    # The management API counts as of its last statistics sample (every 5 s): ask until it shows them.
    state = {}

    def status_shows_7():
        state["json"] = t.run("logctl", ["status", "--json", "--queue", q])
        state["table"] = t.run("logctl", ["status", "--queue", q])
        try:
            doc = json.loads(state["json"].out)
        except ValueError:
            return False
        entries = {e.get("queue"): e for e in doc} if isinstance(doc, list) else {}
        state["entries"] = entries
        return entries.get(q, {}).get("ready") == 7 and " 7 " in state["table"].out_text

    wait_for(status_shows_7, 30, 0.5)
    r = state["json"]
    t.check(r.rc == 0, "logctl status --json exits 0", r.describe())
    try:
        doc = json.loads(r.out)
    except ValueError as e:
        t.check(False, "logctl status --json prints JSON", f"{e}: {r.out!r}")
        return
    entries = state.get("entries", {})
    main = entries.get(q, {})
    t.check(main.get("exists") is True and main.get("ready") == 7,
            "status --json: the queue exists with ready 7 (within 30 s: the API's statistics sample)", repr(doc))
    dead = entries.get(q + ".dead", {})
    t.check(dead.get("exists") is True and dead.get("ready") == 0, "status --json: the dead-letter queue, ready 0",
            repr(doc))
    t.check_equal(t.queue_ready(q), 7, "the broker agrees: 7 ready")
    r = state["table"]
    t.check(r.rc == 0 and q in r.out_text and " 7 " in r.out_text, "logctl status (table) shows the count",
            r.describe())
    missing = f"e2e_cli_never_declared_{os.getpid()}"
    r = t.run("logctl", ["status", "--json", "--queue", missing])
    try:
        doc = json.loads(r.out)
        t.check(doc[0]["queue"] == missing and doc[0]["exists"] is False,
                "status --json on a missing queue says exists: false", r.describe())
    except (ValueError, LookupError, TypeError) as e:
        t.check(False, "status --json on a missing queue prints JSON", f"{e}\n{r.describe()}")
    t.check(r.rc == 1, f"logctl status on a missing queue exits 1 (got {r.rc})", r.describe())
    t.check_equal(t.queue_ready(missing), None, "logctl status did not create the missing queue")


def size_limits(t):
    t.section("--max-message-bytes")
    q = t.queue("size")
    msg = "m" * 50
    expect_usage_error(t, "log_producer", ["--queue", q, "--max-message-bytes", "10", msg], ["max-message-bytes"],
                       "argv message of 50 bytes over --max-message-bytes 10")
    t.check(not t.queue_ready(q), "nothing was published")
    lines = [b"ok-1", b"x" * 500, b"ok-2", b"b" * 100, b"c" * 101, b"y" * 300000, b"ok-3", b"ok-4 without newline"]
    data = b"\n".join(lines)  # the last line has no trailing newline
    r = t.run("log_producer", ["--queue", q, "--max-message-bytes", "100", "--batch-records", "1"], input=data, timeout=60)
    t.check(r.rc == 1, f"stdin with lines over the limit: exit 1 (got {r.rc})", r.describe())
    errors = [l for l in r.err_lines if l.startswith("log_producer: error:")]
    t.check(len(errors) == 1 and "3" in errors[0] and "refused" in errors[0],
            "one final error line counts the 3 refused records", r.describe())
    t.check(any("line 2" in l for l in r.err_lines) and any("line 5" in l for l in r.err_lines)
            and any("line 6" in l for l in r.err_lines), "each refused line is reported with its number",
            r.describe())
    got = [b for _, b in t.get_all(q, expect=5)]
    t.check_equal(got, [b"ok-1", b"ok-2", b"b" * 100, b"ok-3", b"ok-4 without newline"],
                  "the other lines (including one of exactly 100 bytes) were delivered, in order")


def field_flag(t):
    t.section("--field")
    q = t.queue("field")
    r = t.run("log_producer", ["--queue", q, "two fields", "--field", "a=1", "--field", "b=x=y"])
    t.check(r.rc == 0, "--field is repeatable", r.describe())
    r = t.run("log_producer", ["--queue", q, "--field", "user=alice", "field then message"])
    t.check(r.rc == 0 and r.out_text == " [x] Sent 'field then message'\n",
            "log_producer --field KEY=VALUE MESSAGE sends MESSAGE", r.describe())
    got = {b: p for p, b in t.get_all(q, expect=2)}
    h = (got[b"two fields"].headers or {}) if b"two fields" in got else {}
    t.check(h.get("logship-field-a") == "1" and h.get("logship-field-b") == "x=y",
            "the record with two fields arrived with logship-field-<key> headers", repr(h))
    h = (got[b"field then message"].headers or {}) if b"field then message" in got else {}
    t.check(h.get("logship-field-user") == "alice", "the message given after --field arrived with its field",
            repr(h))


def body(t):
    q = t.queue()
    usage_errors(t, q)
    help_texts(t)
    t.check(t.queue_ready(q) is None, "no usage error reached the broker (the queue was never declared)")
    wrong_password(t, q)
    unknown_vhost(t, q)
    unwritable_output(t, t.queue("out"))
    right_password(t, t.queue("pw"))
    logctl(t)
    size_limits(t)
    field_flag(t)


if __name__ == "__main__":
    run_test("cli", body)
