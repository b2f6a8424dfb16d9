#!/usr/bin/python3
"""docs/CLI.md is what logship_gendocs generates from the programs' definitions (apps/programs.cpp)
and the prose in docs/man/: a flag added, renamed or described anew without regenerating the
reference fails here. LOGSHIP_UPDATE_CLI_DOC=1 rewrites docs/CLI.md from what the code generates.
Usage: check_cli_doc.py GENDOCS SOURCE_DIR WORK_DIR"""
import difflib
import os
import subprocess
import sys


def main():
    gendocs, source, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    generated_path = os.path.join(work, "CLI.md")
    subprocess.run([gendocs, "--prose", os.path.join(source, "docs", "man"), "--markdown", generated_path], check=True)
    committed_path = os.path.join(source, "docs", "CLI.md")
    with open(generated_path, encoding="utf-8") as f:
        generated = f.read()
    committed = ""
    if os.path.exists(committed_path):
        with open(committed_path, encoding="utf-8") as f:
            committed = f.read()
    if generated == committed:
        print(f"docs/CLI.md matches the code ({len(generated.splitlines())} lines)")
        return 0
    if os.environ.get("LOGSHIP_UPDATE_CLI_DOC") == "1":
        with open(committed_path, "w", encoding="utf-8") as f:
            f.write(generated)
        print("docs/CLI.md rewritten from the code")
        return 0
    sys.stdout.writelines(difflib.unified_diff(committed.splitlines(True), generated.splitlines(True),
                                               "docs/CLI.md (committed)", "docs/CLI.md (generated)"))
    print("\nFAIL docs/CLI.md differs from what the code generates (apps/programs.cpp, docs/man/*.md). "
          "Regenerate it: `LOGSHIP_UPDATE_CLI_DOC=1 ctest -R cli_reference` in the build directory "
          "(or `cmake --build build --target logship_docs && cp build/docs/CLI.md docs/CLI.md`), then commit it.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
