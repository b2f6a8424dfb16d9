#!/usr/bin/python3
"""Every reference from the code to a section of the documentation still leads somewhere:
- `docs/FORMATS.md, "Exchange and routing keys"`, `docs/FORMATS.md ("Spool")`, `README, "Client
  library"`: the file exists and has a heading that starts with the quoted title (case aside;
  `code` marks aside), the title possibly broken over two comment lines;
- `docs/SECURITY.md#files`, `README.md#routing`: the file has a heading with that GitHub anchor,
  an <a id="..."> with that name, or a heading whose anchor starts with it followed by "-";
- `docs/X.md` alone: the file exists.
Read: the comments and strings of src/, apps/, include/, examples/, tests/, scripts/, bench/,
deploy/ and the CMake files (headings inside ``` blocks do not count).
Usage: check_doc_refs.py SOURCE_DIR"""
import os
import re
import sys

SCANNED = ("src", "apps", "include", "examples", "tests", "scripts", "bench", "deploy", "cmake")
ENDINGS = (".hpp", ".cpp", ".h", ".py", ".sh", ".cmake", ".in", ".txt", "Makefile")
DOC = r"(?<![\w/.-])(?P<doc>(?:[\w.-]+/)*[A-Z][A-Z_]*\.md(?!\w)|README)"
# DOC, then `, "Title"`, ` ("Title"`, ` "Title"`, or `#anchor`.
REFERENCE = re.compile(DOC + r'(?:(?:,\s*|\s+\(|\s+)"(?P<title>[^"]{2,120})"|#(?P<anchor>[a-z0-9-]+))?')
COMMENT_MARK = re.compile(r"^\s*(?://+|#+|\*+|/\*+)\s?")


def slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def normal(text):
    return re.sub(r"\s+", " ", text.replace("`", "")).strip().lower()


def sections(path):
    """(headings, anchors) of a Markdown file, skipping fenced code blocks."""
    headings, anchors = [], set()
    fenced = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            if fenced:
                continue
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                headings.append(normal(m.group(1)))
                anchors.add(slug(m.group(1).replace("`", "")))
            anchors.update(re.findall(r'<a\s+(?:id|name)="([^"]+)"', line))
    return headings, anchors


def resolve(root, doc, where):
    """The Markdown file a reference from the file `where` names: beside it (bench/README.md from
    bench/), else at the top or in docs/ (README: README.md)."""
    name = "README.md" if doc == "README" else doc
    for candidate in (os.path.join(os.path.dirname(where), name), name, os.path.join("docs", name)):
        if os.path.isfile(os.path.join(root, candidate)):
            return os.path.normpath(candidate)
    return None


def flattened(text):
    """The file's lines without comment marks, joined by spaces: a title broken over two comment
    lines reads whole."""
    return " ".join(COMMENT_MARK.sub("", line).strip() for line in text.splitlines())


def check(root, path, cache, problems):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = flattened(f.read())
    rel = os.path.relpath(path, root)
    found = 0
    for m in REFERENCE.finditer(text):
        doc, title, anchor = m.group("doc"), m.group("title"), m.group("anchor")
        if doc == "README" and text[m.end("doc"):m.end("doc") + 1] not in (",", " ", "#", ")", ""):
            continue  # README_something, README.txt: not the README
        target = resolve(root, doc, rel)
        if target is None:
            problems.append(f"{rel}: names {doc}, which is not in the repository")
            continue
        found += 1
        headings, anchors = cache.setdefault(target, sections(os.path.join(root, target)))
        if title is not None:
            want = normal(title)
            if not any(h == want or h.startswith(want + " ") or h.startswith(want + ":") or
                       h.startswith(want + ",") for h in headings):
                problems.append(f'{rel}: {doc}, "{title}": no such section in {target}')
        elif anchor is not None:
            if anchor not in anchors and not any(a.startswith(anchor + "-") for a in anchors):
                problems.append(f"{rel}: {doc}#{anchor}: no such anchor in {target}")
    return found


def main():
    root = os.path.abspath(sys.argv[1])
    problems, cache = [], {}
    references = 0
    files = [os.path.join(root, "CMakeLists.txt"), os.path.join(root, "Makefile")]
    for top in SCANNED:
        for dirpath, dirnames, names in os.walk(os.path.join(root, top)):
            dirnames[:] = [d for d in dirnames if d not in ("__pycache__",)]
            files += [os.path.join(dirpath, n) for n in sorted(names) if n.endswith(ENDINGS)]
    for path in files:
        if os.path.isfile(path) and os.path.abspath(path) != os.path.abspath(__file__):  # its examples
            references += check(root, path, cache, problems)
    for p in problems:
        print(f"FAIL {p}")
    print(f"{len(files)} files read, {references} references to the documentation, {len(problems)} broken")
    return 1 if problems or references == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
