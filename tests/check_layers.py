#!/usr/bin/python3
"""The layers of docs/ARCHITECTURE.md, checked over the #include lines of src/ and apps/: a file
includes only headers of its own folder or of a lower layer. The arrows point down only:

    core  <-  metrics, search  <-  broker  <-  producer, aggregator, ctl, cli  <-  client  <-  apps

Folders on the same layer do not include each other (search knows no metrics, ctl no producer).
Public headers (<logship/...>) and system headers may be included anywhere. A file of a folder
this script does not know fails too: a new folder must be given its layer here.
Usage: check_layers.py SOURCE_DIR"""
import os
import re
import sys

LAYERS = {
    "core": 0,
    "metrics": 1, "search": 1,
    "broker": 2,
    "producer": 3, "aggregator": 3, "ctl": 3, "cli": 3,
    "client": 4, "console": 4,
    "apps": 5,
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SOURCE_ENDINGS = (".hpp", ".cpp", ".h", ".cc")


def folder_of(include):
    """The top folder an #include "a/b.hpp" names: "a" (None for a bare "b.hpp")."""
    return include.split("/", 1)[0] if "/" in include else None


def check_file(path, own, problems):
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = folder_of(m.group(1))
            if target is None or target == own:
                continue  # a header beside it, or of its own folder
            if target not in LAYERS:
                problems.append(f"{path}:{number}: includes \"{m.group(1)}\" of a folder with no layer ({target})")
            elif LAYERS[target] >= LAYERS[own]:
                problems.append(f"{path}:{number}: {own} (layer {LAYERS[own]}) includes \"{m.group(1)}\" of "
                                f"{target} (layer {LAYERS[target]}): only lower layers may be included")


def main():
    root = os.path.abspath(sys.argv[1])
    problems = []
    checked = 0
    tops = [("src", name) for name in sorted(os.listdir(os.path.join(root, "src")))] + [("", "apps")]
    for parent, name in tops:
        top = os.path.join(root, parent, name)
        if not os.path.isdir(top):
            continue
        if name not in LAYERS:
            problems.append(f"{top}: a folder with no layer: add it to LAYERS in {sys.argv[0]}")
            continue
        for dirpath, _, files in os.walk(top):
            for file in sorted(files):
                if file.endswith(SOURCE_ENDINGS):
                    check_file(os.path.join(dirpath, file), name, problems)
                    checked += 1
    for p in problems:
        print(f"FAIL {p}")
    print(f"{checked} files checked, {len(problems)} layering problem(s)")
    return 1 if problems or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
