#!/usr/bin/python3
"""The client library as an installed package: `cmake --install` of the build into a temporary
prefix, then a project outside the tree (tests/install_consumer/) that does
find_package(logship REQUIRED COMPONENTS spdlog_sink) and links logship::spdlog_sink is configured
against that prefix alone, built and run against the test broker:
- the prefix holds the shared library, the public headers and the CMake package files;
- the consumer builds, and the records it logs (50 through logship::Client, 30 through the spdlog
  sink, then main returns) all arrive, with its service and fields;
- asking for another version (find_package(logship 0.2)) is refused."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import read_lines, run_test  # noqa: E402


def run(t, what, args, timeout=600, expect_ok=True, env=None):
    cp = subprocess.run(args, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, env=env)
    out = (cp.stdout + cp.stderr).decode(errors="replace")
    if expect_ok:
        t.require(cp.returncode == 0, what, f"$ {' '.join(args)}\n{out[-3000:]}")
    return cp.returncode, out


def body(t):
    build = os.environ.get("LOGSHIP_BUILD_DIR", "")
    t.require(os.path.isfile(os.path.join(build, "CMakeCache.txt")), f"LOGSHIP_BUILD_DIR is a build tree ({build!r})")
    source = t.env.source
    prefix = t.path("prefix")

    t.section("cmake --install into a temporary prefix")
    run(t, "cmake --install succeeds", ["cmake", "--install", build, "--prefix", prefix])
    for rel in ("include/logship/client.hpp", "include/logship/spdlog_sink.hpp", "include/logship/level.hpp",
                "lib/liblogship-client.so", "lib/cmake/logship/logshipConfig.cmake",
                "lib/cmake/logship/logshipConfigVersion.cmake", "lib/cmake/logship/logshipTargets.cmake"):
        t.check(os.path.exists(os.path.join(prefix, rel)), f"the prefix holds {rel}")
    t.check(not os.path.exists(os.path.join(prefix, "include", "core")), "no internal header is installed")

    t.section("a project outside the tree: find_package(logship), build, run")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    consumer_build = t.path("consumer-build")
    run(t, "the consumer project configures against the prefix (find_package(logship 0.1 ... spdlog_sink))",
        ["cmake", "-S", os.path.join(source, "tests", "install_consumer"), "-B", consumer_build,
         f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_BUILD_TYPE=Release"] + generator)
    run(t, "the consumer builds", ["cmake", "--build", consumer_build])
    consumer = os.path.join(consumer_build, "consumer")
    q = t.queue("installed")
    r_rc, r_out = run(t, "the consumer runs and exits 0", [consumer, q, "50", "30"], timeout=120, env=t.child_env())
    t.check("accepted=80 dropped=0" in r_out, "it accepted all 80 records", r_out)

    out = t.path("installed.json")
    t.drain("agg-installed", q, out, "json", idle=2)
    lines, _ = read_lines(out)
    recs = [json.loads(l) for l in lines]
    t.check_equal(len(recs), 80, "exactly 80 records arrive")
    got = sorted(r["message"] for r in recs)
    want = sorted([f"installed client {i}" for i in range(50)] + [f"installed sink {i}" for i in range(30)])
    t.check(got == want, "every record once")
    t.check(all(r["service"] == "install-consumer" and r.get("fields", {}).get("build") == "installed" for r in recs),
            "with the consumer's service and field")
    sink = [r for r in recs if r["message"].startswith("installed sink")]
    t.check(all(r["level"] == "warn" and r["fields"].get("logger") == "consumer" for r in sink),
            "the sink's records: level warn, field logger=consumer", sink[:2])

    t.section("another version is refused")
    rc, out_text = run(t, "", ["cmake", "-S", os.path.join(source, "tests", "install_consumer"), "-B",
                               t.path("consumer-0.2"), f"-DCMAKE_PREFIX_PATH={prefix}", "-DLOGSHIP_WANTED_VERSION=0.2"]
                       + generator, expect_ok=False)
    t.check(rc != 0 and "0.2" in out_text and "logshipConfig" in out_text,
            "find_package(logship 0.2) fails, naming the version found", out_text[-2000:])


if __name__ == "__main__":
    run_test("client_install", body)
