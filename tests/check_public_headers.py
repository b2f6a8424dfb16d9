#!/usr/bin/python3
"""The client library's public headers (include/logship/*.hpp), as an application sees them:
- each compiles alone (-std=c++20 -fsyntax-only) with the include directory only, with the
  project's warnings as errors, so an application built with strict warnings can include it;
- its own #include lines name only standard headers, <logship/...> and, for spdlog_sink.hpp,
  <spdlog/...>;
- everything it pulls in (the compiler's -M list) is the standard library, include/logship/ and,
  for spdlog_sink.hpp, spdlog and fmt: no broker library (rabbitmq-c, hiredis, OpenSSL), no other
  dependency of Logship (CLI11, toml++, nlohmann-json, cpp-httplib, zstd), no header of src/.
Usage: check_public_headers.py CXX INCLUDE_DIR"""
import os
import re
import subprocess
import sys

FORBIDDEN = ("amqp", "rabbitmq", "hiredis", "openssl", "/CLI/", "toml", "nlohmann", "httplib", "zstd", "zlib")
WARNINGS = ["-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Werror"]


def main():
    cxx, include = sys.argv[1], os.path.abspath(sys.argv[2])
    src = os.path.join(os.path.dirname(include), "src")
    headers = sorted(f for f in os.listdir(os.path.join(include, "logship")) if f.endswith(".hpp"))
    failures = []

    def fail(what):
        failures.append(what)
        print(f"FAIL {what}", flush=True)

    if not {"client.hpp", "spdlog_sink.hpp", "level.hpp"} <= set(headers):
        fail(f"expected client.hpp, spdlog_sink.hpp and level.hpp in {include}/logship, found {headers}")
    for h in headers:
        before = len(failures)
        path = os.path.join(include, "logship", h)
        sink = h == "spdlog_sink.hpp"
        with open(path) as f:
            includes = re.findall(r'^\s*#\s*include\s*([<"][^>"]+[>"])', f.read(), re.M)
        for inc in includes:
            name = inc[1:-1]
            ok = (inc.startswith("<") and ("/" not in name and "." not in name)) or name.startswith("logship/") or \
                 (sink and name.startswith("spdlog/"))
            if not ok:
                fail(f"{h}: #include {inc}: only standard headers, <logship/...>{' and <spdlog/...>' if sink else ''}")
        # A translation unit that includes the header, as an application's does.
        tu = f"#include <logship/{h}>\n"
        base = [cxx, "-std=c++20", "-I", include, "-x", "c++"]
        cp = subprocess.run(base + ["-fsyntax-only"] + WARNINGS + ["-"], input=tu, capture_output=True, text=True)
        if cp.returncode != 0:
            fail(f"{h} does not compile alone:\n{cp.stderr[-3000:]}")
            continue
        cp = subprocess.run(base + ["-M", "-"], input=tu, capture_output=True, text=True)
        deps = cp.stdout.replace("\\\n", " ").split()[1:]
        for d in deps:
            real = os.path.realpath(d)
            if real.startswith(src + os.sep):
                fail(f"{h} pulls in an internal header: {d}")
            elif any(x in real.lower() for x in FORBIDDEN):
                fail(f"{h} pulls in a dependency an application must not need: {d}")
            elif not sink and ("spdlog" in real or "/fmt/" in real):
                fail(f"{h} pulls in spdlog or fmt: {d}")
        if len(failures) == before:
            print(f"ok   {h}: {len(includes)} includes, {len(deps)} headers pulled in, compiles alone with {' '.join(WARNINGS)}",
                  flush=True)
    if failures:
        print(f"{len(failures)} problem(s)")
        sys.exit(1)


if __name__ == "__main__":
    main()
