#!/usr/bin/python3
"""Arrival stamper of the latency run (bench/README.md, "Latency").

    latency_tail.py OUTPUT_FILE TOTAL WARMUP_RECORDS TIMEOUT_S

Follows OUTPUT_FILE (the aggregator's output) from its start, polling every 0.5 ms, and stamps
each read with the wall clock. Every line holding `lat seq=N t=T` (T: the microsecond wall-clock
time at which the feeder wrote that line to log_producer's stdin) arrived at the read's stamp, so
its latency is stamp - T. The first WARMUP_RECORDS records (seq below it: the first seconds, with
the connection set-up) are counted but not measured. Stops after TOTAL such lines or TIMEOUT_S seconds and
prints one JSON object: lines seen, measured, and the sorted latencies' percentiles in ms.

A separate process, so that the feeder's pacing and this polling do not share one interpreter.
"""
import json
import math
import os
import re
import sys
import time

LINE = re.compile(rb"lat seq=(\d+) t=(\d+)")


def percentile(sorted_values, p):
    if not sorted_values:
        return math.nan
    k = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(k, len(sorted_values)) - 1]


def main():
    path, total, warmup, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            break
        time.sleep(0.001)
    seen, lat_us, rest, seqs = 0, [], b"", set()
    dupes = 0
    print("ready", flush=True)  # the harness starts feeding only after this
    with open(path, "rb") as f:
        while seen < total and time.monotonic() < deadline:
            data = f.read(1 << 20)
            if not data:
                time.sleep(0.0005)
                continue
            now_us = time.time_ns() // 1000
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            for ln in lines:
                m = LINE.search(ln)
                if not m:
                    continue
                seq = int(m.group(1))
                if seq in seqs:
                    dupes += 1
                    continue
                seqs.add(seq)
                seen += 1
                if seq >= warmup:
                    lat_us.append(now_us - int(m.group(2)))
    lat_us.sort()
    ms = lambda p: percentile(lat_us, p) / 1000 if lat_us else None
    print(json.dumps({"seen": seen, "duplicates": dupes, "measured": len(lat_us),
                      "p50_ms": ms(50), "p90_ms": ms(90), "p99_ms": ms(99),
                      "max_ms": lat_us[-1] / 1000 if lat_us else None}), flush=True)


if __name__ == "__main__":
    main()
