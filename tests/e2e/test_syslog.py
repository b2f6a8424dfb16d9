#!/usr/bin/python3
"""log_producer as a syslog receiver (--syslog-udp, --syslog-tcp) and with --input-format json:
- util-linux `logger` sends N messages of each kind: RFC 5424 and RFC 3164, over UDP, over TCP one
  per line, and over TCP octet-counted. The aggregator's JSON output holds exactly N records of each
  kind, with severity -> level, tag/APP-NAME -> service, HOSTNAME -> host, facility, PROCID / [PID],
  MSGID and structured data (escapes included) -> fields, the template's --field on every one; the
  producer stops on SIGTERM with exit 0 and says how many it received;
- JSON lines on stdin (read with input-format = "json" from a configuration file): keys mapped,
  other keys as (flattened) fields, lines without a message, invalid JSON and non-objects kept with
  a parse_error field, empty lines skipped; a line with 60 KiB of fields goes through; exact counts;
- Python's logging.handlers.SysLogHandler over TCP (frames end with a NUL): a logged exception with
  its stack trace is one record with its level, LFs kept, next to one-line messages;
- bad addresses, a port in use and MESSAGE with --syslog-*: exit codes and one error line."""
# transports: amqp redis
import calendar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import metrics_address, read_lines, run_test, scrape, wait_for  # noqa: E402

N = 40
HOST = socket.gethostname()

# kind: (logger options, service (tag), severity, expected level, facility)
KINDS = {
    "5424-udp": (["-d", "--rfc5424"], "s5u", "local0.err", "error", "local0"),
    "3164-udp": (["-d", "--rfc3164"], "s3u", "user.warning", "warn", "user"),
    "5424-tcp": (["-T", "--rfc5424"], "s5t", "daemon.notice", "info", "daemon"),
    "3164-tcp": (["-T", "--rfc3164"], "s3t", "local7.debug", "debug", "local7"),
    "5424-octet": (["-T", "--octet-count", "--rfc5424"], "s5o", "auth.crit", "fatal", "auth"),
    "3164-octet": (["-T", "--octet-count", "--rfc3164"], "s3o", "mail.info", "info", "mail"),
}


def listening(p, proto, timeout=30):
    pattern = re.compile(rb"listening for syslog on " + proto.encode() + rb" 127\.0\.0\.1:(\d+)")
    found = []

    def logged():
        m = pattern.search(p.stderr())
        if m:
            found.append(int(m.group(1)))
        return bool(found) or not p.alive()

    wait_for(logged, timeout)
    return found[0] if found else None


def json_records(t, path):
    lines, partial = read_lines(path)
    t.check(partial == b"", f"{os.path.basename(path)} ends with a newline")
    return [json.loads(l) for l in lines]


def syslog(t):
    t.section(f"logger: {N} messages of each of {len(KINDS)} kinds over UDP and TCP")
    q = t.queue("syslog")
    p = t.spawn("producer-syslog", "log_producer",
                ["--queue", q, "--batch-records", "1", "--syslog-udp", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0",
                 "--field", "env=e2e", "--service", "not-used", "--metrics-listen", "127.0.0.1:0"])
    udp, tcp = listening(p, "udp"), listening(p, "tcp")
    address = metrics_address(t, p)
    seen = []

    def zero():  # polled: on a loaded machine the first scrape may come before the receivers' counters
        m = scrape(address)
        seen[:] = [m.value("logship_producer_syslog_messages_total"), m.value("logship_producer_syslog_connections")]
        return seen == [0, 0]
    t.check(wait_for(zero, 30, 0.2), "metrics before any message: 0 syslog messages, 0 connections open", repr(seen))
    t.require(udp and tcp, f"the producer logs the UDP and TCP ports it bound ({udp}, {tcp})", p.result().describe())
    expected = {}
    for kind, (opts, tag, prio, _, _) in KINDS.items():
        texts = [f"{kind} message {i} caf\u00e9" for i in range(N)]
        expected[kind] = texts
        args = ["logger", "-n", "127.0.0.1", "-P", str(udp if "-d" in opts else tcp), *opts, "-t", tag, "-p", prio,
                "--id=4242"]
        if "--rfc5424" in opts:
            args += ["--msgid", f"M-{kind}", "--sd-id", "meta@32473", "--sd-param", f'kind="{kind}"',
                     "--sd-param", 'quote="say \\"hi\\" [ok\\]"']
        # One message per line of standard input; the UDP ones paced a little (UDP has no flow control).
        if "-d" in opts:
            for i in range(0, N, 10):
                cp = subprocess.run(args, input=("\n".join(texts[i:i + 10]) + "\n").encode(), capture_output=True,
                                    timeout=30)
                t.check(cp.returncode == 0, f"logger {kind} #{i}..{i + 9} exits 0", cp.stderr.decode(errors="replace"))
                time.sleep(0.05)
        else:
            cp = subprocess.run(args, input=("\n".join(texts) + "\n").encode(), capture_output=True, timeout=30)
            t.check(cp.returncode == 0, f"logger {kind} exits 0", cp.stderr.decode(errors="replace"))
    total = N * len(KINDS)
    ok = wait_for(lambda: t.queue_ready(q) == total, 30, 0.2)
    t.check(ok, f"{total} records in the queue (ready: {t.queue_ready(q)})", p.result().describe())
    # logger closed its connections: the gauge goes back to 0 once the producer saw them close.
    wait_for(lambda: scrape(address).value("logship_producer_syslog_connections") == 0, 10)
    m = scrape(address)
    want = {"logship_producer_syslog_messages_total": total, "logship_producer_syslog_unparsed_total": 0,
            "logship_producer_syslog_refused_total": 0, "logship_producer_syslog_udp_lost_total": 0,
            "logship_producer_syslog_connections_total": 4, "logship_producer_syslog_connections": 0}
    got = {name: m.value(name) for name in want}
    t.check_equal(got, want, f"metrics: {total} syslog messages, none unparsed, refused or lost, 4 TCP connections "
                  "accepted and closed")
    p.send_signal(signal.SIGTERM)
    t.finish_proc(p, 30, "the producer exits 0 after SIGTERM")
    err = p.stderr().decode(errors="replace")
    t.check(re.search(rf"syslog udp 127\.0\.0\.1:{udp}: {N * 2} message\(s\) received \(0 without a syslog header\), "
                      r"0 refused as too large, 0 lost in the kernel", err),
            f"the producer says it received {N * 2} datagrams, 0 lost", err[-2000:])
    t.check(re.search(rf"syslog tcp 127\.0\.0\.1:{tcp}: {N * 4} message\(s\) received .* over 4 connection", err),
            f"the producer says it received {N * 4} TCP frames over 4 connections", err[-2000:])
    t.check(f"sent {total} records" in err, f"the producer reports {total} records sent and confirmed", err[-2000:])

    out = t.path("syslog.json")
    t.drain("agg-syslog", q, out, "json")
    records = json_records(t, out)
    t.check_equal(len(records), total, f"{total} records written")
    now = time.time()
    for kind, (opts, tag, prio, level, facility) in KINDS.items():
        mine = [r for r in records if r["service"] == tag]
        t.check_equal(sorted(r["message"] for r in mine), sorted(expected[kind]),
                      f"{kind}: exactly the {N} messages, once each, service '{tag}'")
        bad = [r for r in mine if r["level"] != level or r["host"] != (HOST if "5424" in kind else HOST.split(".")[0])]
        t.check(not bad, f"{kind}: level {level} ({prio}), host {HOST}", bad[:2])
        want = {"env": "e2e", "facility": facility}
        if "5424" in kind:
            want.update({"procid": "4242", "msgid": f"M-{kind}", "sd.meta_32473.kind": kind,
                         "sd.meta_32473.quote": 'say "hi" [ok]'})
        else:
            want["pid"] = "4242"
        bad = [r for r in mine if {k: r.get("fields", {}).get(k) for k in want} != want
               or "parse_error" in r.get("fields", {})]
        t.check(not bad, f"{kind}: fields {want}", bad[:2])
        if "5424" in kind:
            t.check(all(r["fields"].get("sd.timeQuality.tzKnown") == "1" for r in mine),
                    f"{kind}: logger's own timeQuality element is kept too")
        # The sender's time: RFC 5424's with microseconds, RFC 3164's whole seconds in local time.
        stamps = [calendar.timegm(time.strptime(r["ts"][:19], "%Y-%m-%dT%H:%M:%S")) for r in mine]
        t.check(all(abs(s - now) < 3600 for s in stamps), f"{kind}: the timestamps are the sender's (today)",
                [r["ts"] for r in mine[:3]])
        if "3164" in kind:
            t.check(all(r["ts"].endswith(".000000Z") for r in mine), f"{kind}: an RFC 3164 time has whole seconds")


PYTHON_SENDER = r"""
import logging, logging.handlers, socket, sys
handler = logging.handlers.SysLogHandler(address=("127.0.0.1", int(sys.argv[1])), socktype=socket.SOCK_STREAM)
log = logging.getLogger("e2e")
log.addHandler(handler)
log.setLevel(logging.INFO)
for i in range(int(sys.argv[2])):
    try:
        raise ValueError(f"broken {i}")
    except ValueError:
        log.exception(f"failed {i}")
    log.info(f"line {i}")
handler.close()
"""


def python_handler(t):
    t.section("Python's SysLogHandler over TCP: a stack trace is one record")
    q = t.queue("pysyslog")
    p = t.spawn("producer-pysyslog", "log_producer",
                ["--queue", q, "--batch-records", "1", "--syslog-tcp", "127.0.0.1:0", "--service", "py"])
    tcp = listening(p, "tcp")
    t.require(tcp, f"the producer logs the TCP port it bound ({tcp})", p.result().describe())
    n = 5
    cp = subprocess.run(["/usr/bin/python3", "-c", PYTHON_SENDER, str(tcp), str(n)], capture_output=True, timeout=60)
    t.check(cp.returncode == 0, "the Python sender exits 0", cp.stderr.decode(errors="replace"))
    wait_for(lambda: t.queue_ready(q) >= 2 * n, 30, 0.2)
    p.send_signal(signal.SIGTERM)
    t.finish_proc(p, 30, "the producer exits 0 after SIGTERM")
    out = t.path("pysyslog.json")
    t.drain("agg-pysyslog", q, out, "json")
    records = json_records(t, out)
    t.check_equal(len(records), 2 * n, f"{2 * n} records: {n} exceptions with their traces, {n} lines")
    traces = [r for r in records if r["message"].startswith("failed")]
    ok = len(traces) == n and all(
        r["level"] == "error" and "\nTraceback (most recent call last):\n" in r["message"]
        and r["message"].endswith(f"ValueError: broken {r['message'].split()[1]}")
        and "parse_error" not in r.get("fields", {}) for r in traces)
    t.check(ok, "each exception is one record, level error, with its whole stack trace", traces[:1])
    lines = sorted(r["message"] for r in records if r["message"].startswith("line"))
    t.check_equal(lines, [f"line {i}" for i in range(n)], "the one-line messages")
    t.check(all(r["level"] == "info" for r in records if r["message"].startswith("line")), "each one level info")


def json_input(t):
    t.section("--input-format json (from a configuration file) on stdin")
    q = t.queue("json")
    config = t.path("producer.toml")
    with open(config, "w") as f:
        f.write('[log_producer]\ninput-format = "json"\nservice = "tmpl"\nfield = ["env=e2e"]\n')
    lines, want = [], []
    for i in range(20):
        lines.append(json.dumps({"time": "2026-11-27T10:00:00.5+01:00", "level": "ERROR", "msg": f"mapped {i}",
                                 "app": "api", "hostname": "web-1", "user": {"id": i, "name": "bob"},
                                 "tags": ["a", "b"], "ok": True, "none": None, "bad key!": "x"}))
        want.append(("mapped", f"mapped {i}"))
    for i in range(5):
        lines.append(json.dumps({"level": 50, "ts": 1700000000123, "event": f"no message {i}"}))
        want.append(("nomsg", lines[-1]))
    for i in range(5):
        lines.append(f'{{"level": "info", "msg": "cut short {i}"')
        want.append(("invalid", lines[-1]))
    lines.append("")  # skipped
    lines.append("[1, 2, 3]")
    want.append(("array", "[1, 2, 3]"))
    lines.append("plain text, not json")
    want.append(("text", "plain text, not json"))
    wide = {"msg": "wide"}
    wide.update({f"k{i:05d}": "v" * 50 for i in range(1000)})  # about 60 KiB of fields
    lines.append(json.dumps(wide))
    want.append(("wide", "wide"))
    r = t.produce(q, ("\n".join(lines) + "\n").encode(), ["--config", config, "--batch-records", "1"])
    t.check(f"sent {len(want)} records" in r.err_text, f"the producer reports {len(want)} records", r.describe())
    out = t.path("json.json")
    t.drain("agg-json", q, out, "json")
    records = json_records(t, out)
    t.check_equal(len(records), len(want), f"{len(want)} records written (the empty line skipped)")
    t.check_equal(sorted(r["message"] for r in records), sorted(m for _, m in want), "every message once")
    by = {r["message"]: r for r in records}
    mapped = [by.get(f"mapped {i}") for i in range(20)]
    ok = all(m and m["level"] == "error" and m["service"] == "api" and m["host"] == "web-1"
             and m["ts"] == "2026-11-27T09:00:00.500000Z"
             and m["fields"] == {"env": "e2e", "user.id": str(i), "user.name": "bob", "tags": '["a","b"]',
                                 "ok": "true", "none": "null", "bad_key_": "x"}
             for i, m in enumerate(mapped))
    t.check(ok, "mapped lines: level, service, host, time mapped; other keys flattened into fields", mapped[:1])
    nomsg = [by.get(m) for k, m in want if k == "nomsg"]
    ok = all(m and m["level"] == "error" and m["service"] == "tmpl" and m["ts"] == "2023-11-14T22:13:20.123000Z"
             and m["fields"]["event"].startswith("no message") for m in nomsg)
    t.check(ok, "lines without a message key: the line is the message, pino's numeric level and epoch ms mapped",
            nomsg[:1])
    broken = [by.get(m) for k, m in want if k in ("invalid", "array", "text")]
    ok = all(m and m["level"] == "info" and m["service"] == "tmpl" and set(m["fields"]) == {"env", "parse_error"}
             for m in broken)
    t.check(ok, "invalid JSON and non-objects are kept whole with a parse_error field", broken)
    t.check(by["[1, 2, 3]"]["fields"]["parse_error"] == "not a JSON object but an array", "the reason is said",
            by["[1, 2, 3]"]["fields"])
    w = by.get("wide")
    t.check(w is not None and len(w["fields"]) == 1001 and "fields_dropped" not in w["fields"],
            "a line with 1000 fields (60 KiB) arrives whole", None if w is None else len(w["fields"]))


def errors(t):
    t.section("bad addresses, a port in use, MESSAGE with a listener")

    def one_error_line(r, rc, text, what):
        lines = r.err_lines
        t.check(r.rc == rc and len(lines) == 1 and lines[0].startswith("log_producer: error: ") and text in lines[0],
                f"{what}: exit {rc}, one error line with '{text}'", r.describe())

    r = t.run("log_producer", ["--syslog-udp", "localhost"])
    one_error_line(r, 2, "--syslog-udp 'localhost': no port", "--syslog-udp without a port")
    r = t.run("log_producer", ["--syslog-tcp", "127.0.0.1:99999"])
    one_error_line(r, 2, "--syslog-tcp '127.0.0.1:99999': the port must be a number", "a port out of range")
    r = t.run("log_producer", ["--syslog-tcp", "no-such-host.invalid:5140"])
    one_error_line(r, 2, "cannot resolve 'no-such-host.invalid'", "a host that does not resolve")
    r = t.run("log_producer", ["--syslog-udp", "127.0.0.1:0", "a message"])
    one_error_line(r, 2, "MESSAGE arguments cannot be combined with --syslog-udp or --syslog-tcp", "MESSAGE and a listener")
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    port = held.getsockname()[1]
    r = t.run("log_producer", ["--syslog-tcp", f"127.0.0.1:{port}"])
    one_error_line(r, 1, f"--syslog-tcp 127.0.0.1:{port}: cannot bind: Address already in use", "a TCP port in use")
    held.close()
    held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    held.bind(("127.0.0.1", 0))
    port = held.getsockname()[1]
    r = t.run("log_producer", ["--syslog-udp", f"127.0.0.1:{port}"])
    one_error_line(r, 1, f"--syslog-udp 127.0.0.1:{port}: cannot bind: Address already in use", "a UDP port in use")
    held.close()


def body(t):
    errors(t)
    python_handler(t)
    json_input(t)
    syslog(t)


if __name__ == "__main__":
    run_test("syslog", body)
