#!/usr/bin/python3
"""Runs ctest in a build directory and ends with what each test label cost.

    scripts/run-tests.py BUILD_DIR [ctest arguments...]      (what `make test` and its tiers run)

Prints, after ctest's own output, one row per label (tests run, failed, the sum of their run times,
the slowest test) and the run's wall time: with `ctest -j N` the sum is larger than the wall time,
and the slowest tests show what bounds it. Exits with ctest's exit status."""
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET


def labels_by_test(build_dir):
    """{test name: [labels]} for every test ctest knows in build_dir."""
    out = subprocess.run(["ctest", "--show-only=json-v1"], cwd=build_dir, capture_output=True, text=True,
                         check=True).stdout
    labels = {}
    for test in json.loads(out).get("tests", []):
        props = {p["name"]: p["value"] for p in test.get("properties", [])}
        labels[test["name"]] = props.get("LABELS") or ["(no label)"]
    return labels


def results(junit):
    """[(name, seconds, passed)] from ctest's JUnit file."""
    rows = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        status = case.get("status")
        if status in ("disabled", "notrun"):
            continue
        rows.append((case.get("name"), float(case.get("time") or 0), status == "run"))
    return rows


def summary(rows, labels, wall):
    per = {}
    for name, seconds, passed in rows:
        for label in labels.get(name, ["(no label)"]):
            s = per.setdefault(label, {"n": 0, "failed": 0, "sum": 0.0, "slowest": ("", -1.0)})
            s["n"] += 1
            s["failed"] += 0 if passed else 1
            s["sum"] += seconds
            if seconds > s["slowest"][1]:
                s["slowest"] = (name, seconds)
    lines = ["", "Per-label summary (sum = the tests' run times added up; they overlap under -j):",
             f"  {'label':<12} {'tests':>5} {'failed':>6} {'sum':>9}  slowest"]
    for label, s in sorted(per.items(), key=lambda kv: -kv[1]["sum"]):
        lines.append(f"  {label:<12} {s['n']:>5} {s['failed']:>6} {s['sum']:>8.1f}s  "
                     f"{s['slowest'][0]} ({s['slowest'][1]:.1f}s)")
    total = sum(r[1] for r in rows)
    lines.append(f"  {len(rows)} tests, {sum(1 for r in rows if not r[2])} failed, {total:.1f}s of test time "
                 f"in {wall:.1f}s of wall time ({wall / 60:.1f} min)")
    return "\n".join(lines)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: run-tests.py BUILD_DIR [ctest arguments...]")
    build_dir = os.path.abspath(sys.argv[1])
    junit = os.path.join(build_dir, "Testing", "Temporary", "run-tests.junit.xml")
    if os.path.exists(junit):
        os.remove(junit)
    start = time.monotonic()
    rc = subprocess.run(["ctest", "--output-junit", junit, "--no-label-summary"] + sys.argv[2:],
                        cwd=build_dir).returncode
    wall = time.monotonic() - start
    if os.path.exists(junit):
        print(summary(results(junit), labels_by_test(build_dir), wall), flush=True)
    else:
        print(f"run-tests: ctest wrote no results ({junit}); wall time {wall:.1f}s", flush=True)
    sys.exit(rc)


if __name__ == "__main__":
    main()
