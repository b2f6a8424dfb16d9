#!/usr/bin/python3
"""The metrics log_aggregator and log_producer serve (--metrics-listen) are exactly those listed, with
their types, in tests/metrics_names.txt: renaming, adding or removing a metric is a conscious change
of that snapshot (and of docs/OPERATIONS.md, which must describe every one of them).
Both programs run against the real broker with records flowing; every family follows the naming
scheme logship_<program>_<thing>_<unit> (counters end in _total, nothing else does) and has a help
text. LOGSHIP_UPDATE_METRICS_SNAPSHOT=1 rewrites the snapshot from what the programs serve."""
# transports: amqp redis
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import metrics_address, run_test, scrape, wait_for  # noqa: E402

HEADER = """\
# The metric families log_aggregator and log_producer serve at /metrics (--metrics-listen), with
# their types. tests/e2e/test_metrics_names.py compares this list with what the programs serve, so
# renaming, adding or removing a metric is a conscious change: update this file (or run
# `LOGSHIP_UPDATE_METRICS_SNAPSHOT=1 ctest -R e2e_metrics_names` in the build directory) and
# describe the metric in docs/OPERATIONS.md.
"""


def read_snapshot(path):
    with open(path) as f:
        return {line.strip() for line in f if line.strip() and not line.startswith("#")}


def body(t):
    snapshot_path = os.path.join(t.env.source, "tests", "metrics_names.txt")
    docs_path = os.path.join(t.env.source, "docs", "OPERATIONS.md")
    q = t.queue()
    agg = t.start_aggregator("agg", q, t.path("names.log"), "raw", ["--metrics-listen", "127.0.0.1:0"])
    rfd, wfd = os.pipe()
    producer = t.spawn("producer", "log_producer", ["--queue", q, "--spool-dir", t.path("spool"),
                                                    "--metrics-listen", "127.0.0.1:0"], stdin=rfd)
    os.close(rfd)
    w = os.fdopen(wfd, "wb")
    w.write(b"".join(b"record %d\n" % i for i in range(100)))
    w.flush()
    addresses = {"aggregator": metrics_address(t, agg), "producer": metrics_address(t, producer)}
    t.check(wait_for(lambda: scrape(addresses["aggregator"]).value("logship_aggregator_records_written_total") == 100,
                     60, 0.2), "records flow through both programs")

    served = set()
    for program, address in addresses.items():
        families = scrape(address).families()
        m = scrape(address)
        prefix = f"logship_{program}_"
        for name, typ in sorted(families.items()):
            served.add(f"{name} {typ}")
            t.check(name.startswith(prefix), f"{name}: named {prefix}<thing>_<unit>")
            t.check(name.endswith("_total") == (typ == "counter"), f"{name}: _total if and only if a counter ({typ})")
            t.check(bool(m.help.get(name, "").strip()), f"{name}: has a help text")
    w.close()
    t.finish_proc(producer, 60, "the producer exits 0 at the end of its input")
    agg.send_signal(signal.SIGTERM)
    t.finish_proc(agg, 20, "the aggregator exits 0 on SIGTERM")

    if os.environ.get("LOGSHIP_UPDATE_METRICS_SNAPSHOT") == "1":
        with open(snapshot_path, "w") as f:
            f.write(HEADER + "".join(f"{line}\n" for line in sorted(served)))
        t.note(f"wrote {len(served)} metric families to {snapshot_path}")
    expected = read_snapshot(snapshot_path)
    added, removed = sorted(served - expected), sorted(expected - served)
    detail = "\n".join([f"+ {x}   (served, not in the snapshot)" for x in added] +
                       [f"- {x}   (in the snapshot, not served)" for x in removed] +
                       ["If this change is intended, update tests/metrics_names.txt (or run",
                        "`LOGSHIP_UPDATE_METRICS_SNAPSHOT=1 ctest -R e2e_metrics_names` in the build directory)",
                        "and describe the metric in docs/OPERATIONS.md."])
    t.check(not added and not removed,
            f"the {len(served)} metric families served are those of tests/metrics_names.txt", detail)
    with open(docs_path) as f:
        docs = f.read()
    undocumented = sorted(x.split()[0] for x in served if f"`{x.split()[0]}`" not in docs)
    t.check(not undocumented, "docs/OPERATIONS.md describes every metric", "\n".join(undocumented))


if __name__ == "__main__":
    run_test("metrics_names", body)
