#!/usr/bin/python3
"""The web console (`logctl serve`) in headless Chromium, against the real pipeline.

An aggregator (json format, metrics on) writes the records that log_producer sends: 6 records that hold
a known word (4 of service web on host h-a at info, 2 of service db on host h-b at error with the field
region=eu), 1,200 bulk records, and records whose message, service and field value are HTML that would
run script if it were ever parsed. Two poison records end in the dead-letter queue. Then one
`logctl serve --token-file` over that queue, the aggregated file and two metrics targets (the
aggregator, and a port nobody listens on), and tests/browser/console.mjs drives Debian's Chromium
through playwright-core (no browser download): the token prompt and 401s, Live (a record within 2 s,
filters, pause, XSS inert), Search (the known records, histogram and facet counts, highlight, context,
export, paging past 1,000, zoom by dragging), Queues (charts, dead letters peeked, requeued, deleted,
CSRF) and Pipeline (green and red), no console errors on any page, and a screenshot of each page in
LOGSHIP_CONSOLE_SCREENSHOTS."""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from logship_testlib import count_lines, metrics_address, run_test, wait_for  # noqa: E402

KNOWN = "needle7f3"
BULK = 1200
DEMO = 400
XSS = [{"message": '<img src=x onerror="window.__xss=1"> xss-probe',
        "service": "<script>window.__xss=2</script>",
        "field": '<svg onload="window.__xss=3">'}]
TERMINAL = "term-probe \x1b[2J\x1b]0;owned\x07 done"  # the page shows \x1b ... \x07
TOKEN = "console-test-token-5e1d"


def poison(i):
    return (f"poison {i}".encode(), {
        "logship-version": "1", "logship-id": f"console-dl-{i}", "logship-service": "svc", "logship-host": "h1",
        "logship-level": "error", "logship-ts": str(1795509864175062 + i), "logship-deliveries": "5"})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_records(n, minutes, seed):
    """n JSON lines spread over the last `minutes` (what a busy hour looks like: the screenshots'
    data); the count of those whose message holds "timeout"."""
    rng = random.Random(seed)
    now = time.time()
    services = {"api": ["GET /orders/{id} 200 in {ms} ms", "POST /cart 201 in {ms} ms",
                        "upstream timeout calling payments after {ms} ms"],
                "payments": ["charge {id} accepted", "card declined for order {id}",
                             "timeout talking to the bank after {ms} ms"],
                "db": ["slow query on orders ({ms} ms)", "connection pool at {pct}%"],
                "auth": ["login ok for user {id}", "token refresh for user {id}"]}
    levels = {"GET": "info", "POST": "info", "upstream": "error", "charge": "info", "card": "warn",
              "timeout": "error", "slow": "warn", "connection": "warn", "login": "info", "token": "debug"}
    lines, timeouts = [], 0
    for i in range(n):
        service = rng.choice(list(services))
        message = rng.choice(services[service]).format(id=rng.randint(1000, 9999), ms=rng.randint(5, 4000),
                                                       pct=rng.randint(60, 99))
        ts = now - minutes * 60 * (1 - i / n) * rng.uniform(0.97, 1.0)
        host = f"{service}-{rng.randint(1, 3)}"
        lines.append(json.dumps({"ts": int(ts * 1000), "level": levels[message.split()[0]], "msg": message,
                                 "service": service, "host": host, "region": rng.choice(["eu", "us"])}))
        timeouts += "timeout" in message
    return lines, timeouts


def send_records(t, q):
    t.produce(q, "".join(f"web request {i} {KNOWN} ok\n" for i in range(4)).encode(),
              ["--service", "web", "--host", "h-a", "--level", "info"])
    t.produce(q, "".join(f"db query {i} {KNOWN} failed\n" for i in range(2)).encode(),
              ["--service", "db", "--host", "h-b", "--level", "error", "--field", "region=eu"])
    t.produce(q, "".join(f"bulk line {i}\n" for i in range(BULK)).encode(), ["--service", "bulk"])
    for x in XSS:
        t.produce(q, (x["message"] + "\n").encode(), ["--service", x["service"], "--field", f"note={x['field']}"])
    r = t.run("log_producer", ["--queue", q, "--service", "term", TERMINAL])
    t.check(r.rc == 0, "the record with terminal escapes is sent", r.describe())
    demo, timeouts = demo_records(DEMO, 60, 18)
    t.produce(q, ("\n".join(demo) + "\n").encode(), ["--input-format", "json"])
    return 6 + BULK + len(XSS) + 1 + DEMO, timeouts


def start_serve(t, q, out, targets):
    token_file = t.path("token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(token_file, 0o600)
    args = ["serve", "--listen", "127.0.0.1:0", "--queue", q, "--files", out, "--token-file", token_file]
    for target in targets:
        args += ["--metrics-target", target]
    p = t.spawn("serve", "logctl", args)
    pattern = re.compile(rb"serving the console on (http://\S+?)/?\s")
    wait_for(lambda: pattern.search(p.stderr() + p.stdout()) or not p.alive(), 30)
    m = pattern.search(p.stderr() + p.stdout())
    t.require(m and p.alive(), "logctl serve logs the address it serves on", p.result().describe())
    return p, m.group(1).decode()


def body(t):
    chromium = shutil.which("chromium")
    modules = os.environ.get("LOGSHIP_CONSOLE_NODE_MODULES", "")
    t.require(chromium, "Debian's chromium is installed (scripts/install-deps.sh)")
    t.require(os.path.isdir(os.path.join(modules, "playwright-core")),
              "playwright-core is installed (the console_assets target's npm ci)", modules)
    q = t.queue("console")
    out = t.path("agg.log")
    agg = t.start_aggregator("agg", q, out, "json", ["--metrics-listen", "127.0.0.1:0"])
    agg_metrics = f"http://{metrics_address(t, agg)}/metrics"

    t.section("records through the real pipeline, 2 dead letters")
    n, timeouts = send_records(t, q)
    t.require(wait_for(lambda: count_lines(out) == n, 60), f"the aggregator wrote all {n} records", count_lines(out))
    t.publish(q, [poison(i) for i in range(2)])
    t.require(wait_for(lambda: t.queue_ready(q + ".dead") == 2, 60), "the 2 poison records are dead-lettered")

    t.section("logctl serve and the browser")
    down = f"http://127.0.0.1:{free_port()}/metrics"
    serve, url = start_serve(t, q, out, [agg_metrics, down])
    config = {
        "url": url, "token": TOKEN, "queue": q, "producer": t.env.prog("log_producer"), "env": t.child_env(),
        "chromium": chromium, "node_modules": modules,
        "screenshots": os.environ.get("LOGSHIP_CONSOLE_SCREENSHOTS", t.path("screenshots")),
        "known": {"q": KNOWN, "total": 6, "facets": [["service", "web", 4], ["service", "db", 2], ["level", "info", 4],
                                                     ["level", "error", 2], ["host", "h-b", 2], ["region", "eu", 2]]},
        "bulk": {"service": "bulk", "total": BULK},
        "demo": {"q": "timeout", "total": timeouts, "live": [l for l in demo_records(40, 1, 99)[0] if "timeout" not in l]}, "xss_records": XSS, "xss_q": "xss-probe",
        "terminal": {"q": "term-probe", "shown": TERMINAL.encode("unicode_escape").decode()},
        "dead": 2, "up_target": agg_metrics, "down_target": down,
    }
    with open(t.path("browser.json"), "w") as f:
        json.dump(config, f)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "console.mjs")
    r = subprocess.run(["node", script, t.path("browser.json")], stdin=subprocess.DEVNULL, timeout=400)
    t.check(r.returncode == 0, "every browser check passed (console.mjs, its lines above)")

    for p in (serve, agg):
        p.send_signal(signal.SIGTERM)
        t.finish_proc(p, 30)


if __name__ == "__main__":
    run_test("console_browser", body, time_limit=540)
