#!/usr/bin/python3
"""Every C and C++ file of the tree (src/, apps/, include/, tests/, bench/, examples/, fuzz/) is laid
out as .clang-format says: `clang-format --dry-run --Werror` over each, in parallel. A file that is
not prints one line naming it and the first line that differs; fix with
`clang-format -i FILE` (or `git clang-format` for the lines of a change).
Usage: check_format.py SOURCE_DIR"""
import concurrent.futures
import os
import shutil
import subprocess
import sys

FOLDERS = ("src", "apps", "include", "tests", "bench", "examples", "fuzz")
ENDINGS = (".cpp", ".hpp", ".h", ".c", ".cc")


def tool():
    for name in ("clang-format-14", "clang-format"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("check_format: clang-format is not installed (Debian package clang-format; make deps installs it)")


def sources(root):
    for folder in FOLDERS:
        for top, dirs, files in os.walk(os.path.join(root, folder)):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not d.startswith("build"))
            for name in sorted(files):
                if name.endswith(ENDINGS):
                    yield os.path.join(top, name)


def check(clang_format, path):
    r = subprocess.run([clang_format, "--style=file", "--dry-run", "--Werror", path],
                       capture_output=True, text=True)
    if r.returncode == 0:
        return None
    first = next((l for l in r.stderr.splitlines() if "error:" in l), r.stderr.strip()[:200])
    return first


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    clang_format = tool()
    files = list(sources(root))
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda p: (p, check(clang_format, p)), files))
    bad = [(p, why) for p, why in results if why is not None]
    for p, why in bad:
        print(f"{os.path.relpath(p, root)}: not formatted: {why}")
    print(f"{len(files)} files checked, {len(bad)} not formatted as .clang-format says")
    return 1 if bad or not files else 0


if __name__ == "__main__":
    sys.exit(main())
