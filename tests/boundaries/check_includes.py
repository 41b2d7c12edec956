#!/usr/bin/env python3
"""The include boundaries of tally's source tree, checked.

Usage: check_includes.py ROOT      prints each violation; exit 1 if any.

Rules (docs/design.md, "Module seams"):
  1. Folders: aggregate/ includes nothing from ingest/, api/ or app/; api/ and
     ingest/ include nothing from each other (nor from app/).
  2. Targets: a file of a library target (listed in add_library in aggregate/,
     ingest/ or api/ CMakeLists.txt, a header also by its .cpp) includes only
     headers of its own target or of targets it links, directly or through
     them (target_link_libraries). So tally_model includes no store header and
     tally_decode no Kafka header. A header of those folders must belong to a
     target.
  3. Private headers: a header whose opening comment says "Private to FOLDER/"
     is included only from FOLDER/ and its tests (tests/FOLDER/).
  4. A header that includes RocksDB or simdjson (PRIVATE dependencies of their
     targets) is private to its folder.
"""

import os
import re
import sys

LIBRARY_FOLDERS = ("aggregate", "ingest", "api")
SOURCE_FOLDERS = LIBRARY_FOLDERS + ("app",)
SCANNED_FOLDERS = SOURCE_FOLDERS + ("tests", "bench")
FORBIDDEN_FOLDERS = {
    "aggregate": ("ingest", "api", "app"),
    "api": ("ingest", "app"),
    "ingest": ("api", "app"),
}
PRIVATE_DEPENDENCIES = re.compile(r"^(rocksdb/|simdjson\.h$)")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')
PRIVATE_MARK = re.compile(r"\bPrivate\s+to\s+(\w+)/")
SOURCE_SUFFIXES = (".h", ".hpp", ".cpp", ".cc")


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def includes(text):
    """(line number, quoted?, path) of each #include."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        m = INCLUDE.match(line)
        if m:
            out.append((number, m.group(1) == '"', m.group(2)))
    return out


def private_folder(text):
    """FOLDER if the header's opening comment (before any code) says "Private to FOLDER/"."""
    comment = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#pragma") or not stripped:
            continue
        if not stripped.startswith("//"):
            break
        comment.append(stripped[2:])
    m = PRIVATE_MARK.search(" ".join(comment))
    return m.group(1) if m else None


def cmake_calls(text, command):
    """(first argument, other arguments) of each call of `command`, comments removed."""
    text = re.sub(r"#[^\n]*", "", text)
    for m in re.finditer(r"\b%s\s*\(([^)]*)\)" % command, text):
        words = m.group(1).split()
        if words:
            yield words[0], words[1:]


def targets(root):
    """owner: {relative path: target}; links: {target: set of targets it links}."""
    owner, links, folder_of = {}, {}, {}
    texts = {}
    for folder in LIBRARY_FOLDERS:
        path = os.path.join(root, folder, "CMakeLists.txt")
        if os.path.exists(path):
            texts[folder] = read(path)
    for folder, text in texts.items():
        for name, files in cmake_calls(text, "add_library"):
            links[name] = set()
            folder_of[name] = folder
            for f in files:
                if f.endswith(SOURCE_SUFFIXES) and "$" not in f:
                    owner[folder + "/" + f] = name
    for text in texts.values():
        for name, words in cmake_calls(text, "target_link_libraries"):
            if name in links:
                links[name].update(w for w in words if w in links)
    # A header not listed belongs to its .cpp's target, or to its folder's only target.
    for folder in LIBRARY_FOLDERS:
        directory = os.path.join(root, folder)
        if not os.path.isdir(directory):
            continue
        only = [t for t, f in folder_of.items() if f == folder]
        for name in sorted(os.listdir(directory)):
            rel = folder + "/" + name
            if not name.endswith((".h", ".hpp")) or rel in owner:
                continue
            stem = os.path.splitext(rel)[0]
            for suffix in (".cpp", ".cc"):
                if stem + suffix in owner:
                    owner[rel] = owner[stem + suffix]
            if rel not in owner and len(only) == 1:
                owner[rel] = only[0]
    return owner, links


def closure(links, target):
    seen, stack = set(), [target]
    while stack:
        for t in links.get(stack.pop(), ()):
            if t not in seen:
                seen.add(t)
                stack.append(t)
    return seen


def check(root):
    """The violations in the tree at `root`, one message each."""
    owner, links = targets(root)
    problems = []
    files = []
    for folder in SCANNED_FOLDERS:
        for directory, _, names in os.walk(os.path.join(root, folder)):
            for name in names:
                if name.endswith(SOURCE_SUFFIXES):
                    files.append(os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/"))
    files.sort()
    texts = {f: read(os.path.join(root, f)) for f in files}
    private = {f: private_folder(t) for f, t in texts.items() if f.endswith((".h", ".hpp"))}

    for f in files:
        folder = f.split("/")[0]
        if folder in LIBRARY_FOLDERS and f.endswith((".h", ".hpp")) and f not in owner:
            problems.append(f"{f}: belongs to no target: list it in add_library in {folder}/CMakeLists.txt")
    for f in files:
        folder = f.split("/")[0]
        parts = f.split("/")
        tests_of = parts[1] if folder == "tests" and len(parts) > 2 else None
        for number, quoted, header in includes(texts[f]):
            where = f"{f}:{number}: includes {header}"
            if not quoted:
                if (folder in LIBRARY_FOLDERS and f in private and PRIVATE_DEPENDENCIES.match(header)
                        and private[f] != folder):
                    problems.append(f"{where}, a PRIVATE dependency of its target, so {f} must be private "
                                    f"(say 'Private to {folder}/' in its opening comment)")
                continue
            target_folder = header.split("/")[0]
            if target_folder in FORBIDDEN_FOLDERS.get(folder, ()):
                problems.append(f"{where}: {folder}/ must not include {target_folder}/ headers")
            marked = private.get(header)
            if marked and folder != marked and tests_of != marked:
                problems.append(f"{where}, which is private to {marked}/")
            mine, theirs = owner.get(f), owner.get(header)
            if mine and theirs and theirs != mine and theirs not in closure(links, mine):
                problems.append(f"{where} of target {theirs}, which {mine} does not link")
    return problems


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems = check(argv[1])
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} include boundary violation(s); the rules are in docs/design.md (Module seams)")
        return 1
    print("include boundaries hold")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
