#!/usr/bin/python3
"""Routing rules in the aggregator (--route CONDITIONS:FILE, --unrouted-only), with the real programs.

Six producers with different --service and --level send exact counts, some one record per message,
some in batches: api error 300, api info 200, web info 400, web fatal 100, worker-1 warn 150,
worker-2 debug 50 (1,200 records). The routes are
    level>=error:errors.log    service=web:web.log    ' service = worker-* , level >= warn : workers.log'
(the last with spaces, a glob and two conditions), relative to the aggregator's working directory.
(a) Copies: every file holds exactly the records its rule selects (errors 400, web 500, workers
    150), each once, every line's level and service meeting the rule; the default output holds all
    1,200 once. /metrics counts the lines per file (output_records_written_total{output, route}) and
    records_written_total = 1,200; the exit log gives the lines per file. logctl search reads a route
    file (and skips its .ids journal).
(b) --unrouted-only: the default output holds only the 250 records no route matched; the route files
    as in (a); the union is every record.
(c) A configuration file alone ([log_aggregator] route = [...], unrouted-only = true) gives the
    same split; --print-config shows the routes as an array and loads again; a bad rule in the
    file is exit 2 naming FILE:LINE and the key 'route'.
(d) Bad rules on the command line: exit 2, one line naming the rule and the problem, before any
    broker is contacted."""
# transports: amqp redis
import json
import os
import signal
import sys
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import count_lines, metrics_address, run_test, sample, scrape, wait_for  # noqa: E402

# (service, level, records, --batch-records or None for the default batching)
PRODUCERS = [("api", "error", 300, "1"), ("api", "info", 200, None), ("web", "info", 400, "7"),
             ("web", "fatal", 100, "1"), ("worker-1", "warn", 150, None), ("worker-2", "debug", 50, "1")]
ROUTES = ["level>=error:errors.log", "service=web:web.log", " service = worker-* , level >= warn : workers.log"]
ORDER = ["trace", "debug", "info", "warn", "error", "fatal"]


def selects(route_file, service, level):
    """What the routes above select, written out again in Python."""
    if route_file == "errors.log":
        return ORDER.index(level) >= ORDER.index("error")
    if route_file == "web.log":
        return service == "web"
    if route_file == "workers.log":
        return service.startswith("worker-") and ORDER.index(level) >= ORDER.index("warn")
    raise ValueError(route_file)


ROUTE_FILES = ["errors.log", "web.log", "workers.log"]


def produce_all(t, q, tag):
    """Runs the six producers; returns {message: (service, level)} of every record sent."""
    sent = {}
    for service, level, n, batch in PRODUCERS:
        records = [f"{tag}-{service}-{level}-{i:04d}" for i in range(n)]
        extra = ["--service", service, "--level", level] + (["--batch-records", batch] if batch else [])
        t.produce(q, ("\n".join(records) + "\n").encode(), extra)
        for r in records:
            sent[r] = (service, level)
    return sent


def read_json_lines(t, path):
    """[(message, service, level)] of a json-format file; a torn last line fails a check."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    t.check(data == b"" or data.endswith(b"\n"), f"{os.path.basename(path)} ends with a whole line")
    out = []
    for line in data.split(b"\n"):
        if line:
            o = json.loads(line)
            out.append((o["message"], o["service"], o["level"]))
    return out


def check_file(t, path, expected, what):
    """The file holds exactly the messages of `expected` ({message: (service, level)}), each once,
    with their service and level."""
    lines = read_json_lines(t, path)
    messages = [m for m, _, _ in lines]
    dups = len(messages) - len(set(messages))
    missing = sorted(set(expected) - set(messages))
    unexpected = sorted(set(messages) - set(expected))
    t.check(len(lines) == len(expected) and dups == 0 and not missing and not unexpected,
            f"{what}: exactly its {len(expected)} records, each once ({len(lines)} lines, {dups} duplicates, "
            f"{len(missing)} missing, {len(unexpected)} unexpected)",
            f"missing {sample(missing)}\nunexpected {sample(unexpected)}")
    wrong = [(m, s, lv) for m, s, lv in lines if m in expected and expected[m] != (s, lv)]
    t.check(not wrong, f"{what}: every line carries its record's service and level", sample(wrong))
    return lines


def expected_by_file(sent, unrouted_only):
    files = {f: {m: sl for m, sl in sent.items() if selects(f, *sl)} for f in ROUTE_FILES}
    routed = set().union(*[set(v) for v in files.values()])
    default = {m: sl for m, sl in sent.items() if not unrouted_only or m not in routed}
    return default, files


def part_a(t):
    t.section("(a) copies: every matching route and the default output")
    q = t.queue("copies")
    out = t.path("all.jsonl")
    agg = t.start_aggregator("agg-copies", q, out, "json",
                             sum([["--route", r] for r in ROUTES], []) + ["--metrics-listen", "127.0.0.1:0"])
    address = metrics_address(t, agg)
    t.check(b"routes to errors.log, web.log, workers.log" in agg.stdout(),
            "the ready line names the route files", agg.stdout())
    sent = produce_all(t, q, "a")
    t.require(len(sent) == 1200, f"1200 records sent ({len(sent)})")
    default, files = expected_by_file(sent, False)
    t.check_equal({f: len(v) for f, v in files.items()}, {"errors.log": 400, "web.log": 500, "workers.log": 150},
                  "the routes select 400, 500 and 150 of them")
    wait_for(lambda: count_lines(out) >= 1200 and all(count_lines(t.path(f)) >= len(files[f]) for f in ROUTE_FILES),
             60, 0.2)
    # The lines per file are counted right after their write, the records once acked (after that).
    wait_for(lambda: (scrape(address).value("logship_aggregator_records_written_total") or 0) >= 1200, 30, 0.1)
    m = scrape(address)
    for f, route in (("errors.log", "level>=error"), ("web.log", "service=web"),
                     ("workers.log", "service=worker-*,level>=warn")):
        t.check_equal(m.value("logship_aggregator_output_records_written_total", output=f, route=route),
                      float(len(files[f])), f"/metrics: lines written to {f} (route=\"{route}\")")
        t.check(m.value("logship_aggregator_output_bytes_written_total", output=f, route=route) ==
                os.path.getsize(t.path(f)), f"/metrics: bytes written to {f} = its size")
    t.check_equal(m.value("logship_aggregator_output_records_written_total", output=out, route="default"), 1200.0,
                  "/metrics: lines written to the default output (route=\"default\")")
    t.check_equal(m.value("logship_aggregator_records_written_total"), 1200.0,
                  "/metrics: records_written_total counts each record once")
    total_bytes = os.path.getsize(out) + sum(os.path.getsize(t.path(f)) for f in ROUTE_FILES)
    t.check_equal(m.value("logship_aggregator_bytes_written_total"), float(total_bytes),
                  "/metrics: bytes_written_total is the sum over the four files")
    agg.send_signal(signal.SIGTERM)
    t.finish_proc(agg, 20, "the aggregator exits 0 on SIGTERM")
    check_file(t, out, default, "the default output")
    for f in ROUTE_FILES:
        lines = check_file(t, t.path(f), files[f], f)
        t.check(all(selects(f, s, lv) for _, s, lv in lines), f"{f}: every line meets its rule")
        t.check(os.path.exists(t.path(f + ".ids")), f"{f} has its own duplicate journal {f}.ids")
    err = agg.stderr().decode("utf-8", "replace")
    t.check(f"lines written per file: {out} 1200 (default), errors.log 400 (level>=error), web.log 500 "
            f"(service=web), workers.log 150 (service=worker-*,level>=warn)" in err,
            "the exit log gives the lines per file", err[-1500:])
    t.check("wrote 1200 records to " in err and "and 3 route files" in err, "the exit line counts 1200 records",
            err[-1500:])

    # logctl search reads a route file like any aggregated file; its journal is skipped.
    r = t.run("logctl", ["search", "errors.log", "errors.log.ids", "--service", "api", "--level", "error", "--json"])
    found = [json.loads(line)["message"] for line in r.out_text.splitlines()]
    t.check(r.rc == 0 and sorted(found) == sorted(m for m, sl in sent.items() if sl == ("api", "error")),
            f"logctl search errors.log --service api --level error finds the 300 api errors ({len(found)})",
            r.describe())
    t.check("warning" not in r.err_text, "logctl search skips errors.log.ids silently", r.describe())
    r = t.run("logctl", ["search", "workers.log", "--service", "web"])
    t.check(r.rc == 1 and r.out == b"", "logctl search workers.log --service web finds nothing (exit 1)", r.describe())


def part_b(t):
    t.section("(b) --unrouted-only: the default output gets only what no route matched")
    q = t.queue("split")
    out = t.path("split/rest.jsonl")
    os.makedirs(t.path("split"))
    routes = [cond + ":split/" + f.strip() for cond, f in (r.split(":", 1) for r in ROUTES)]
    sent = produce_all(t, q, "b")
    t.drain("agg-split", q, out, "json", sum([["--route", r] for r in routes], []) + ["--unrouted-only"])
    default, files = expected_by_file(sent, True)
    t.check_equal(len(default), 250, "250 records match no route (api info 200, worker-2 debug 50)")
    check_file(t, out, default, "the default output (--unrouted-only)")
    union = set(m for m, _, _ in read_json_lines(t, out))
    for f in ROUTE_FILES:
        check_file(t, t.path("split/" + f), files[f], f"split/{f}")
        union |= set(m for m, _, _ in read_json_lines(t, t.path("split/" + f)))
    t.check(union == set(sent), f"every record is in some file ({len(union)} of {len(sent)})")
    t.check_equal(t.queue_counts(q), (0, 0), "queue empty (ready, unacked) at the end")


def part_c(t):
    t.section("(c) routes from a configuration file")
    q = t.queue("config")
    os.makedirs(t.path("conf"))
    config = t.path("conf/logship.toml")
    with open(config, "w") as f:
        f.write(f'''queue = "{q}"

[log_aggregator]
output = "conf/rest.jsonl"
format = "json"
idle-exit = 2
route = ["level>=error:conf/errors.log",
         "service=web:conf/web.log",
         " service = worker-* , level >= warn : conf/workers.log"]
unrouted-only = true
''')
    sent = produce_all(t, q, "c")
    p = t.spawn("agg-config", "log_aggregator", ["--config", config])
    t.finish_proc(p, 120, "the aggregator configured by the file alone drains the queue and exits 0")
    default, files = expected_by_file(sent, True)
    check_file(t, t.path("conf/rest.jsonl"), default, "conf/rest.jsonl (unrouted-only from the file)")
    for f in ROUTE_FILES:
        check_file(t, t.path("conf/" + f), files[f], f"conf/{f} (route from the file)")

    r = t.run("log_aggregator", ["--config", config, "--print-config"])
    doc = tomllib.loads(r.out_text) if r.rc == 0 else {}
    table = doc.get("log_aggregator", {})
    t.check(table.get("route") == ["level>=error:conf/errors.log", "service=web:conf/web.log",
                                   " service = worker-* , level >= warn : conf/workers.log"]
            and table.get("unrouted-only") is True,
            "--print-config shows the routes as an array and unrouted-only", r.describe())
    t.check(f"{config}:7" in r.out_text, "--print-config says where the routes came from (FILE:LINE)", r.out_text)
    printed = t.path("conf/printed.toml")
    with open(printed, "w") as f:
        f.write(r.out_text)
    again = t.run("log_aggregator", ["--config", printed, "--print-config"])
    t.check(again.rc == 0 and tomllib.loads(again.out_text) == doc, "the printed configuration loads again, the same",
            again.describe())
    r = t.run("log_aggregator", ["--config", config, "--print-config", "--route", "service=db:db.log"])
    t.check(r.rc == 0 and tomllib.loads(r.out_text)["log_aggregator"].get("route") == ["service=db:db.log"],
            "a --route on the command line replaces the file's list", r.describe())

    bad = t.path("conf/bad.toml")
    with open(bad, "w") as f:
        f.write('[log_aggregator]\noutput = "x.log"\n\nroute = ["level>=error:e.log", "level>=loud:l.log"]\n')
    r = t.run("log_aggregator", ["--config", bad, "--broker", "amqp://guest:guest@127.0.0.1:1/"])
    t.check(r.rc == 2 and len(r.err_lines) == 1 and r.err_lines[0] ==
            f"log_aggregator: error: {bad}:4: key 'route': 'level>=loud:l.log': unknown level 'loud' (the levels are "
            "trace, debug, info, warn, error, fatal)",
            "a bad rule in the file: exit 2, one line naming FILE:LINE, the key and the rule", r.describe())
    with open(bad, "w") as f:
        f.write('[log_aggregator]\noutput = "x.log"\nroute = ["level>=error:x.log"]\n')
    r = t.run("log_aggregator", ["--config", bad, "--broker", "amqp://guest:guest@127.0.0.1:1/"])
    t.check(r.rc == 2 and len(r.err_lines) == 1 and r.err_lines[0].startswith(
            f"log_aggregator: error: {bad}:3: key 'route': 'level>=error:x.log': 'x.log' is the default output"),
            "a route to the file's own output: exit 2 naming FILE:LINE and the key", r.describe())
    with open(bad, "w") as f:
        f.write('[log_aggregator]\nunrouted-only = true\n')
    r = t.run("log_aggregator", ["--config", bad, "--broker", "amqp://guest:guest@127.0.0.1:1/"])
    t.check(r.rc == 2 and len(r.err_lines) == 1 and r.err_lines[0].startswith(
            f"log_aggregator: error: {bad}:2: key 'unrouted-only': there is no --route"),
            "unrouted-only without a route in the file: exit 2 naming FILE:LINE", r.describe())


def part_d(t):
    t.section("(d) bad rules on the command line: exit 2, one line, nothing contacted")
    unreachable = ["--broker", "amqp://guest:guest@127.0.0.1:1/", "--output", "out.log"]
    cases = [
        (["level>=error"], "--route 'level>=error': no ':' between the conditions and the file"),
        ([":e.log"], "--route ':e.log': no condition before ':'"),
        (["level>=error:"], "--route 'level>=error:': no file after ':'"),
        (["level>=loud:e.log"], "--route 'level>=loud:e.log': unknown level 'loud'"),
        (["severity>=error:e.log"], "--route 'severity>=error:e.log': unknown key 'severity'"),
        (["level=>error:e.log"], "--route 'level=>error:e.log': 'level=>error': unknown operator"),
        (["service>api:e.log"], "--route 'service>api:e.log': 'service>api': service takes = or !="),
        (["level>=error,,service=api:e.log"], "--route 'level>=error,,service=api:e.log': an empty condition"),
        (["level>=error:e.log", "service=api:./e.log"],
         "--route 'service=api:./e.log': './e.log' is already the file of route 'level>=error:e.log'"),
        (["level>=error:out.log"], "--route 'level>=error:out.log': 'out.log' is the default output (--output)"),
        (["level>=error:e.log.ids"], "--route 'level>=error:e.log.ids': 'e.log.ids': names ending in .ids"),
    ]
    for rules, expected in cases:
        r = t.run("log_aggregator", unreachable + sum([["--route", x] for x in rules], []), timeout=30)
        t.check(r.rc == 2 and len(r.err_lines) == 1 and r.err_lines[0].startswith(f"log_aggregator: error: {expected}")
                and r.out == b"", f"{' '.join(rules)!r}: exit 2, one line '{expected}...'", r.describe())
    r = t.run("log_aggregator", unreachable + ["--unrouted-only"], timeout=30)
    t.check(r.rc == 2 and r.err_lines == ["log_aggregator: error: --unrouted-only: there is no --route, so every "
                                          "record would go to --output anyway (see --help)"],
            "--unrouted-only without --route: exit 2, one line", r.describe())
    t.check(not os.path.exists(t.path("e.log")) and not os.path.exists(t.path("out.log")),
            "no file was created by a refused command line")


def body(t):
    part_a(t)
    part_b(t)
    part_c(t)
    part_d(t)


run_test("routing", body)
