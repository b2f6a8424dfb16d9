#!/usr/bin/python3
"""Configuration files (--config FILE, LOGSHIP_CONFIG) and --print-config, with the real programs.

One host-wide file (shared broker, password file and queue at the top level; a table per program)
configures everything; the programs run with no LOGSHIP_BROKER / LOGSHIP_PASSWORD in their
environment and no flag but --config:
(a) log_producer ships N records (one per message: batch-records = 1 in [log_producer]) with the
    file's service, level and fields; logctl status ([logctl.status] json = true) and the broker
    count N messages.
(b) log_aggregator ([log_aggregator]: output, json format, idle-exit) writes exactly the N records,
    each once, with those metadata; logctl search ([logctl.search]: level, service) finds all N, and
    --service on the command line overrides the file's list (nothing matches).
(c) Precedence: LOGSHIP_CONFIG names the file; a command-line --service beats the file's (M more
    records, written by an aggregator whose --output is given on the command line); LOGSHIP_BROKER
    beats the file's broker (an unreachable one: the producer fails naming it).
(d) --print-config on every program (logctl: status, search and no subcommand) prints TOML that
    loads again with --config and prints the same values (round trip); the URL's password and the
    password file's content are never printed; exit 0, nothing on stderr.
(e) Errors: exit 2, one line "PROG: error: FILE:LINE: key 'K': ..." for an unknown key, a key in
    another program's table, a wrong type, a bad value (range, choice, queue name, URL); a syntax
    error names FILE:LINE:COLUMN; a missing file is named. Nothing on stdout.
"""
# transports: amqp redis
import json
import os
import sys
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import run_test  # noqa: E402

N = 300
M = 25


def s(text):
    """A TOML basic string (JSON's escaping is valid TOML for these texts)."""
    return json.dumps(text)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def json_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def body(t):
    redis = t.env.transport == "redis"
    q = t.queue()
    password_file = write(t.path("broker-password"), (t.env.redis_password if redis else "guest") + "\n")
    url = t.env.redis_url if redis else f"amqp://guest@127.0.0.1:{t.env.amqp_port}/"  # no password in it
    out = t.path("aggregated.jsonl")
    config = write(t.path("logship.toml"), f"""# The host's Logship settings.
broker = {s(url)}
password_file = {s(password_file)}   # underscores work as well as dashes
queue = {s(q)}
retry-seconds = 20

[log_producer]
service = "cfgsvc"
level = "warn"
field = ["env=test", "via=config"]
batch-records = 1

[log_aggregator]
output = {s(out)}
format = "json"
idle-exit = 2
prefetch = 50

[logctl.status]
json = true
management-url = "off"

[logctl.search]
level = "warn"
service = ["cfgsvc", "other"]
""")
    # Nothing about the broker in the environment: it all comes from the file.
    bare = t.child_env(LOGSHIP_BROKER=None, LOGSHIP_PASSWORD=None, LOGSHIP_MANAGEMENT_URL=None, LOGSHIP_CONFIG=None)

    t.section("(a) a producer configured only by the file")
    messages = [f"configured record {i}" for i in range(N)]
    r = t.run("log_producer", ["--config", config], input="".join(m + "\n" for m in messages).encode(), env=bare,
              timeout=120)
    t.check(r.rc == 0 and f"sent {N} records to '{q}'".encode() in r.err,
            f"log_producer --config ships {N} records to the file's queue and exits 0", r.describe())
    r = t.run("logctl", ["status", "--config", config], env=bare)
    try:
        doc = json.loads(r.out)
    except ValueError:
        doc = None
    ready = doc[0].get("ready") if isinstance(doc, list) and doc else None
    t.check(r.rc == 0 and ready == N, f"logctl status --config prints JSON ([logctl.status]) with ready {N} "
            "(one record per message)", r.describe())
    t.check_equal(t.queue_ready(q), N, f"the broker holds {N} messages in '{q}'")

    t.section("(b) an aggregator configured only by the file")
    r = t.run("log_aggregator", ["--config", config], env=bare, timeout=180)
    t.check(r.rc == 0, "log_aggregator --config drains the queue and exits 0 (idle-exit from the file)", r.describe())
    records = json_lines(out) if os.path.exists(out) else []
    got = sorted(rec.get("message") for rec in records)
    t.check_equal(len(records), N, f"the file's output holds {N} JSON lines (format from the file)")
    t.check(got == sorted(messages), f"every record exactly once ({len(set(got))} distinct)")
    t.check(all(rec.get("service") == "cfgsvc" and rec.get("level") == "warn"
                and rec.get("fields") == {"env": "test", "via": "config"} for rec in records),
            "every record has the file's service, level and fields", records[:2])
    t.check_equal(t.queue_ready(q), 0, "the queue is empty")
    r = t.run("logctl", ["search", out, "--config", config], env=bare)
    t.check(r.rc == 0 and r.out.count(b"\n") == N, f"logctl search ([logctl.search] level and services) finds all {N}",
            r.describe())
    r = t.run("logctl", ["search", out, "--config", config, "--service", "nobody"], env=bare)
    t.check(r.rc == 1 and r.out == b"", "--service on the command line replaces the file's list: nothing matches",
            r.describe())

    t.section("(c) precedence: command line > environment > file")
    via_env = t.child_env(LOGSHIP_BROKER=None, LOGSHIP_PASSWORD=None, LOGSHIP_MANAGEMENT_URL=None,
                          LOGSHIP_CONFIG=config)
    more = [f"overridden record {i}" for i in range(M)]
    r = t.run("log_producer", ["--service", "from-cli"], input="".join(m + "\n" for m in more).encode(), env=via_env)
    t.check(r.rc == 0 and f"sent {M} records".encode() in r.err, f"LOGSHIP_CONFIG names the file: {M} records shipped",
            r.describe())
    out2 = t.path("second.jsonl")
    r = t.run("log_aggregator", ["--output", out2], env=via_env, timeout=120)
    records = json_lines(out2) if os.path.exists(out2) else []
    t.check(r.rc == 0 and sorted(rec.get("message") for rec in records) == sorted(more),
            f"the aggregator writes the {M} records to the --output given on the command line", r.describe())
    t.check(records and all(rec.get("service") == "from-cli" and rec.get("fields") == {"env": "test", "via": "config"}
                            for rec in records),
            "--service from the command line beats the file's; the fields still come from the file", records[:2])
    unreachable = "redis://127.0.0.1:1" if redis else "amqp://guest:guest@127.0.0.1:1/"
    r = t.run("log_producer", ["--retry-seconds", "0", "never sent"],
              env=dict(via_env, LOGSHIP_BROKER=unreachable), timeout=60)
    t.check(r.rc == 1 and "127.0.0.1:1" in r.err_text,
            "LOGSHIP_BROKER beats the file's broker (an unreachable one: exit 1 naming it)", r.describe())

    print_config(t, config, bare, url)
    errors(t, bare)


def print_config(t, config, env, url):
    t.section("(d) --print-config: TOML that loads again, no secret")
    secret_pw = f"UrlSecret{os.getpid()}"
    file_secret = f"FileSecret{os.getpid()}"
    other_pw_file = write(t.path("other-password"), file_secret + "\n")
    scheme, rest = url.split("://", 1)
    host_part = rest.split("@", 1)[-1]
    with_password = f"{scheme}://user:{secret_pw}@{host_part}"
    cases = [("log_producer", [], ["--password-file", other_pw_file, "--quiet"]),
             ("log_aggregator", [], ["--prefetch", "7", "--password-file", other_pw_file]),
             ("logctl", ["status"], ["--queue", "from-cli"]),
             ("logctl", ["search"], ["--grep", "a\"quote\\and backslash"]),
             ("logctl", [], [])]
    for prog, sub, flags in cases:
        name = " ".join([prog] + sub)
        first = t.run(prog, sub + ["--config", config, "--print-config"] + flags,
                      env=dict(env, LOGSHIP_BROKER=with_password))
        t.check(first.rc == 0 and first.err == b"", f"{name} --print-config exits 0, nothing on stderr",
                first.describe())
        t.check(secret_pw not in first.out_text and file_secret not in first.out_text,
                f"{name} --print-config shows neither the URL's password nor the password file's content",
                first.out_text)
        try:
            doc = tomllib.loads(first.out_text)
        except tomllib.TOMLDecodeError as e:
            t.check(False, f"{name} --print-config prints valid TOML", f"{e}\n{first.out_text}")
            continue
        printed = write(t.path(f"printed-{prog}-{'-'.join(sub) or 'all'}.toml"), first.out_text)
        second = t.run(prog, sub + ["--config", printed, "--print-config"], env=env)
        again = tomllib.loads(second.out_text) if second.rc == 0 else None
        t.check(second.rc == 0 and again == doc, f"{name}: its output loads with --config and prints the same values",
                f"{second.describe()}\nfirst: {doc}\nsecond: {again}")
        if prog == "log_producer":
            table = doc.get("log_producer", {})
            t.check("user:***@127.0.0.1" in table.get("broker", ""), "the broker URL's password is shown as ***",
                    table)
            t.check(table.get("service") == "cfgsvc" and table.get("batch-records") == 1 and table.get("quiet") is True
                    and table.get("field") == ["env=test", "via=config"],
                    "log_producer's table: the file's values and the command line's flag, typed", table)
            t.check("LOGSHIP_BROKER" in first.out_text and "logship.toml:10" in first.out_text,
                    "each setting says where it came from (environment, FILE:LINE)", first.out_text)
        if prog == "log_aggregator":
            table = doc.get("log_aggregator", {})
            t.check(table.get("prefetch") == 7 and table.get("format") == "json" and table.get("idle-exit") == 2,
                    "log_aggregator's table: prefetch from the command line, format and idle-exit from the file", table)
        if prog == "logctl" and not sub:
            t.check(set(doc.get("logctl", {})) == {"setup", "status", "recover", "tail", "dead", "search", "serve"},
                    "logctl --print-config shows every subcommand's table", doc)


def errors(t, env):
    t.section("(e) errors name the file, the line and the key: exit 2, one line")

    def expect(prog, args, content, expected, what):
        path = write(t.path("bad.toml"), content) if content is not None else t.path("missing.toml")
        r = t.run(prog, args + ["--config", path], env=env, timeout=30)
        want = expected.replace("FILE", path)
        lines = r.err_lines
        t.check(r.rc == 2 and len(lines) == 1 and lines[0].startswith(f"{prog}: error: {want}") and r.out == b"",
                f"{prog} {what}: exit 2, one line '{prog}: error: {expected}...'", r.describe())

    progs = (("log_producer", ["x"]), ("log_aggregator", []), ("logctl", ["status"]), ("logctl", ["search", "f"]))
    for prog, args in progs:
        expect(prog, args, "queue = \"q\"\n\nprefetchh = 5\n", "FILE:3: key 'prefetchh': no program has such a setting",
               "unknown key")
        expect(prog, args, "[log_producer]\nprefetch = 5\n", "FILE:2: key 'prefetch': log_producer has no such setting",
               "key in another program's table")
        expect(prog, args, "[log_aggregator]\nfsync = \"yes\"\n", "FILE:2: key 'fsync': expected true or false, not a string",
               "wrong type")
        expect(prog, args, "[logctl.status]\nservice = \"x\"\n", "FILE:2: key 'service': logctl status has no such setting",
               "key in another subcommand's table")
        expect(prog, args, "[log_aggregatorr]\n", "FILE:1: key 'log_aggregatorr': no program is called so", "unknown table")
        expect(prog, args, "queue = \"q\"\nprefetch = = 1\n", "FILE:2:12: ", "syntax error")
        expect(prog, args, None, "cannot read the configuration file FILE: No such file or directory", "missing file")
    expect("log_aggregator", [], "[log_aggregator]\nprefetch = 0\n", "FILE:2: key 'prefetch': '0' is too small: at least 1",
           "prefetch out of range")
    expect("log_aggregator", [], "\n[log_aggregator]\nformat = \"xml\"\n", "FILE:3: key 'format': xml not in", "bad format")
    expect("log_producer", ["x"], "[log_producer]\nbatch-records = 1.5\n",
           "FILE:2: key 'batch-records': expected an integer, not a float", "a float for an integer")
    for prog, args in progs[:3]:
        expect(prog, args, "queue = \"amq.reserved\"\n", "FILE:1: key 'queue': names starting with 'amq.' are reserved",
               "bad queue name (checked by the program)")
        expect(prog, args, "broker = \"ftp://x\"\n", "FILE:1: key 'broker': bad broker URL", "bad broker URL")
    expect("log_producer", ["x"], "[log_producer]\nlevel = \"loud\"\n", "FILE:2: key 'level': 'loud'", "bad level")


run_test("config", body)
