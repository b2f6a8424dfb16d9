#!/usr/bin/python3
"""`make bench-broker-cost`: what one message costs RabbitMQ, by what it carries and how it travels.

Runs amqp_cost.c (the shared probe with switches for what Logship's messages add: headers, a topic
exchange, the mandatory flag) on a private RabbitMQ node, publisher and consumer at once as in the
bench's probe row, and reports per variant the rate and the broker's CPU time per message (median
of the rounds; the variants are interleaved in every round so that a change of load hits them
alike). docs/PERFORMANCE.md quotes it: with one record per message the broker is the bound on this
machine, so its CPU per message decides the rate."""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

VARIANTS = [  # name, environment
    ("bare (the probe's message)", {}),
    ("+ 7 string headers", {"HEADERS": "7"}),
    ("+ 1 string header (all the metadata)", {"ONE_HEADER": "1"}),
    ("+ standard properties (id, timestamp, type, app-id, content-type)", {"PROPERTIES": "1"}),
    ("+ topic exchange", {"EXCHANGE": "logs_cost"}),
    ("+ mandatory", {"MANDATORY": "1"}),
    ("ours: 7 headers + topic exchange + mandatory", {"HEADERS": "7", "EXCHANGE": "logs_cost", "MANDATORY": "1"}),
    ("1 header + topic exchange + mandatory", {"ONE_HEADER": "1", "EXCHANGE": "logs_cost", "MANDATORY": "1"}),
]


sys.path.insert(0, str(ROOT / "bench"))
from run import listener_pid, process_cpu_s  # noqa: E402 - the bench's own helpers


def beam_cpu_s(pid: int) -> float:
    cpu = process_cpu_s(pid)
    if cpu is None:
        sys.exit(f"bench-broker-cost: the broker (pid {pid}) is gone")
    return cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="messages per run (default 100,000)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds over all variants (default 3)")
    ap.add_argument("--port", type=int, default=5697, help="AMQP port of the private node (default 5697)")
    a = ap.parse_args()

    build = ROOT / "build" / "bench-cost"
    build.mkdir(parents=True, exist_ok=True)
    exe = build / "amqp_cost"
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", exe, HERE / "amqp_cost.c", "-lrabbitmq"],
                   check=True)
    node_dir = ROOT / ".run" / "bench-cost" / "rabbitmq"
    script = ROOT / "scripts" / "rabbitmq-node.sh"
    subprocess.run(["bash", script, "start", node_dir, str(a.port)], env=os.environ | {"FRESH": "1"}, check=True)
    try:
        pid = listener_pid(a.port)
        if pid is None:
            sys.exit(f"bench-broker-cost: nothing listens on 127.0.0.1:{a.port}")
        env = os.environ | {"AMQP_PORT": str(a.port)}
        results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in VARIANTS}
        for r in range(a.rounds):
            for name, extra in VARIANTS:
                print(f"  round {r + 1}/{a.rounds}: {name}", file=sys.stderr, flush=True)
                cpu0 = beam_cpu_s(pid)
                t0 = time.monotonic()
                sub = subprocess.Popen([exe, "sub", str(a.n), "1000"], env=env | extra, stdout=subprocess.DEVNULL)
                subprocess.run([exe, "pub", str(a.n), "1000", "100"], env=env | extra, check=True,
                               stdout=subprocess.DEVNULL)
                if sub.wait(timeout=600) != 0:
                    sys.exit(f"bench-broker-cost: the consumer failed in {name}")
                seconds = time.monotonic() - t0
                results[name].append((a.n / seconds, (beam_cpu_s(pid) - cpu0) / a.n * 1e6))
        base = statistics.median(us for _, us in results[VARIANTS[0][0]])
        print(f"\n{a.n:,} persistent 100-byte messages per run, publisher (window 1000, confirms) and consumer "
              f"(prefetch 1000) at once; medians of {a.rounds} rounds.\n")
        print("| Message | msg/s | broker CPU µs/msg | vs bare |")
        print("|---|---:|---:|---:|")
        for name, _ in VARIANTS:
            rate = statistics.median(x for x, _ in results[name])
            us = statistics.median(u for _, u in results[name])
            print(f"| {name} | {rate:,.0f} | {us:.0f} | {us / base:.2f}× |")
    finally:
        subprocess.run(["bash", script, "stop", node_dir], stdout=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
