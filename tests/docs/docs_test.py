"""Keeps the repository's Markdown docs honest.

Usage:
  docs_test.py links REPO_ROOT
      Every relative link in every Markdown file of the repository (tracked, or new
      and not ignored) resolves to a file or folder inside the repository, and to a
      heading when it names an anchor; no Markdown file refers to ../shared (the
      project's own docs/ must stand alone in a clone).
  docs_test.py readmes REPO_ROOT
      Every top-level folder of the repository, and every folder of C++ sources
      outside tests/, has a README.md saying what it holds.
  docs_test.py http-api REPO_ROOT
      docs/http-api.md and schemas/openapi.yaml agree: every path, method,
      parameter, answer code, HTTP status, response field and Helix status of the
      one is in the other, and the reverse for paths, methods, codes and statuses.
  docs_test.py configuration REPO_ROOT TALLY_BINARY
      docs/configuration.md describes every command of `tally --help` and every flag
      (and environment variable) of each command's --help, and names no flag a
      command does not have.
"""
import os
import re
import subprocess
import sys

failures = []
passed = 0


def check(ok, what):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(what)
        print("FAIL:", what)


def finish():
    print(f"{passed} checks passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# --- Markdown helpers ---------------------------------------------------------

FENCE = re.compile(r"^\s*(```|~~~)")


def prose_lines(text):
    """(line number, line) of the lines outside fenced code blocks."""
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            inside = not inside
            continue
        if not inside:
            yield number, line


def without_code_spans(line):
    return re.sub(r"(`+)(.+?)\1", "", line)


def headings(text):
    """(level, title) of every ATX heading outside code blocks."""
    out = []
    for _, line in prose_lines(text):
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            out.append((len(m.group(1)), m.group(2)))
    return out


def slug(title):
    """GitHub's anchor for a heading title."""
    title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # links keep their text
    title = title.lower()
    title = re.sub(r"[^\w\- ]", "", title)  # drops punctuation, backticks included
    return title.replace(" ", "-")


def anchors(text):
    seen = {}
    out = set()
    for _, title in headings(text):
        base = slug(title)
        n = seen.get(base, 0)
        out.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return out


INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")


def links(text):
    """(line number, target) of every inline link, image and reference definition."""
    for number, line in prose_lines(text):
        plain = without_code_spans(line)
        for m in INLINE_LINK.finditer(plain):
            yield number, m.group(1).strip("<>")
        m = REFERENCE_DEF.match(plain)
        if m:
            yield number, m.group(1).strip("<>")


def section(text, predicate):
    """The lines under the first heading for which predicate(title) holds, up to the
    next heading of the same or a higher level; None if there is no such heading."""
    lines = text.splitlines()
    start = level = None
    inside = False
    for i, line in enumerate(lines):
        if FENCE.match(line):
            inside = not inside
            continue
        m = None if inside else re.match(r"^(#{1,6})\s+(.*)$", line)
        if not m:
            continue
        if start is None:
            if predicate(m.group(2)):
                start, level = i, len(m.group(1))
        elif len(m.group(1)) <= level:
            return "\n".join(lines[start:i])
    return None if start is None else "\n".join(lines[start:])


def table_rows(text, header_pattern):
    """The cells of the rows of the first table whose header row matches."""
    rows = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and re.search(header_pattern, line):
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append([c.strip() for c in row.strip().strip("|").split("|")])
            break
    return rows


# --- links --------------------------------------------------------------------

def repository_files(root, pattern=None):
    """The repository's files (tracked, or new and not ignored), relative to root."""
    pathspec = ["--", pattern] if pattern else []
    try:
        listed = subprocess.run(
            ["git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard"] + pathspec,
            capture_output=True, text=True, check=True).stdout.split("\n")
        files = [f for f in listed if f and os.path.isfile(os.path.join(root, f))]
        if files:
            return sorted(files)
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for directory, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("build", "node_modules")]
        files += [os.path.relpath(os.path.join(directory, n), root) for n in names]
    suffix = pattern.lstrip("*") if pattern else ""
    return sorted(f for f in files if f.endswith(suffix))


def markdown_files(root):
    return repository_files(root, "*.md")


def check_links(root):
    root = os.path.realpath(root)
    files = markdown_files(root)
    check("README.md" in files and "docs/README.md" in files, "README.md and docs/README.md exist")
    anchor_cache = {}

    def anchors_of(path):
        if path not in anchor_cache:
            anchor_cache[path] = anchors(read(path))
        return anchor_cache[path]

    for name in files:
        path = os.path.join(root, name)
        text = read(path)
        for number, line in enumerate(text.splitlines(), 1):
            check("../shared" not in line and "/work/shared" not in line,
                  f"{name}:{number}: refers to ../shared, which a clone of the repository does not have")
        for number, target in links(text):
            where = f"{name}:{number}: link {target}"
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                continue  # http:, https:, mailto: are not checked here
            file_part, _, fragment = target.partition("#")
            resolved = path if not file_part else os.path.realpath(
                os.path.join(os.path.dirname(path), file_part))
            if not file_part.startswith("/"):
                check(resolved == root or resolved.startswith(root + os.sep),
                      f"{where}: leaves the repository")
            else:
                check(False, f"{where}: absolute paths do not resolve in a clone; use a relative link")
                continue
            if not check_exists(resolved, where):
                continue
            if fragment and resolved.endswith(".md") and os.path.isfile(resolved):
                check(fragment in anchors_of(resolved), f"{where}: no heading with anchor #{fragment}")
    print(f"{len(files)} Markdown files")
    finish()


def check_exists(resolved, where):
    ok = os.path.exists(resolved)
    check(ok, f"{where}: no such file or folder")
    return ok


# --- http-api -----------------------------------------------------------------

def check_http_api(root):
    import yaml

    api = yaml.safe_load(read(os.path.join(root, "schemas", "openapi.yaml")))
    doc = read(os.path.join(root, "docs", "http-api.md"))
    components = api.get("components", {})

    def resolve(node):
        while isinstance(node, dict) and "$ref" in node:
            parts = node["$ref"].lstrip("#/").split("/")
            node = api
            for p in parts:
                node = node[p]
        return node

    # Endpoint headings: "### `/path` (GET, POST)".
    documented = {}
    for _, title in headings(doc):
        m = re.match(r"^`(/[^`]*)`\s*\(([^)]*)\)", title)
        if m:
            documented[m.group(1)] = {x.strip().lower() for x in m.group(2).split(",") if x.strip()}
    methods_of = {p: {m for m in ops if m in ("get", "post", "put", "delete", "patch", "head", "options")}
                  for p, ops in api["paths"].items()}
    for path, methods in methods_of.items():
        check(path in documented, f"openapi path {path} has no heading \"`{path}` (METHODS)\" in docs/http-api.md")
        for method in methods:
            check(method in documented.get(path, set()),
                  f"openapi {method.upper()} {path} is not listed in its heading in docs/http-api.md")
    for path, methods in documented.items():
        check(path in methods_of, f"docs/http-api.md documents {path}, which openapi.yaml does not have")
        for method in methods:
            check(method in methods_of.get(path, set()),
                  f"docs/http-api.md lists {method.upper()} {path}, which openapi.yaml does not have")
    overview = {row[0].strip("`"): row for row in table_rows(doc, r"^\|\s*path\s*\|")}
    for path in methods_of:
        check(path in overview, f"openapi path {path} is missing from the table of endpoints in docs/http-api.md")
    for path in overview:
        check(path in methods_of, f"the table of endpoints lists {path}, which openapi.yaml does not have")

    # Parameters and body properties, in the section of their path.
    for path, ops in api["paths"].items():
        body = section(doc, lambda title, p=path: title.startswith(f"`{path}`")) or ""
        for method in methods_of[path]:
            op = ops[method]
            for parameter in map(resolve, op.get("parameters", [])):
                name = parameter["name"]
                where = body if parameter["in"] == "query" else doc
                check(f"`{name}`" in where,
                      f"parameter {name} ({parameter['in']}) of {method.upper()} {path} is not in docs/http-api.md"
                      + (" under its heading" if parameter["in"] == "query" else ""))
            request = resolve(op.get("requestBody", {}))
            for media in request.get("content", {}).values():
                for name in resolve(media.get("schema", {})).get("properties", {}):
                    check(f"`{name}`" in body, f"body property {name} of {path} is not in its docs/http-api.md section")

    # Answer codes and HTTP statuses.
    code_rows = table_rows(doc, r"^\|\s*code\s*\|\s*HTTP\s*\|")
    check(code_rows, "docs/http-api.md has a table of answer codes (| code | HTTP | when |)")
    doc_codes = {int(c) for row in code_rows for c in re.findall(r"\d+", row[0])}
    doc_statuses = {int(s) for row in code_rows for s in re.findall(r"\d{3}", row[1])}
    api_codes = set(resolve(components["schemas"]["Envelope"])["properties"]["code"]["enum"])
    api_statuses = {int(s) for ops in api["paths"].values() for m, op in ops.items()
                    if isinstance(op, dict) for s in op.get("responses", {}) if str(s).isdigit()}
    for code in sorted(api_codes - doc_codes):
        check(False, f"answer code {code} of openapi.yaml is missing from the code table of docs/http-api.md")
    for code in sorted(doc_codes - api_codes):
        check(False, f"the code table of docs/http-api.md has {code}, which openapi.yaml's Envelope does not")
    for status in sorted(api_statuses - doc_statuses):
        check(False, f"HTTP status {status} of openapi.yaml is missing from the code table of docs/http-api.md")
    for status in sorted(doc_statuses - api_statuses):
        check(False, f"the code table of docs/http-api.md has HTTP {status}, which no openapi.yaml response has")
    check(api_codes == doc_codes and api_statuses == doc_statuses, "codes and statuses agree")

    # Fields of the answers: the envelope, tasks, records, readiness.
    for schema in ("Envelope", "Task", "Record", "Readiness"):
        for name in resolve(components["schemas"][schema]).get("properties", {}):
            check(f"`{name}`" in doc or f"\"{name}\"" in doc,
                  f"field {name} of {schema} is not in docs/http-api.md")
    # Every response header, by the name responses give it (not the component's key).
    header_names = set()
    responses = list(components.get("responses", {}).values())
    for ops in api["paths"].values():
        for op in ops.values():
            if isinstance(op, dict):
                responses += list(op.get("responses", {}).values())
    for response in responses:
        header_names.update(resolve(response).get("headers", {}))
    check(header_names, "openapi.yaml names response headers")
    for name in sorted(header_names):
        check(f"`{name}" in doc, f"response header {name} is not in docs/http-api.md")

    # The Helix status table against /task/get's status enum.
    task_get = resolve(api["paths"]["/task/get"]["post"]["responses"]["200"])
    schema = resolve(task_get["content"]["application/json"]["schema"])
    data = next(resolve(part)["properties"]["data"] for part in schema["allOf"]
                if "data" in resolve(part).get("properties", {}) and "properties" in
                resolve(part)["properties"]["data"])
    api_helix = set(data["properties"]["status"]["enum"])
    helix_rows = table_rows(doc, r"^\|\s*latest record\s*\|\s*Helix status\s*\|")
    doc_helix = {int(re.match(r"\d+", row[1]).group()) for row in helix_rows if re.match(r"\d+", row[1])}
    check(api_helix == doc_helix,
          f"Helix statuses: openapi.yaml has {sorted(api_helix)}, the table in docs/http-api.md {sorted(doc_helix)}")
    finish()


# --- configuration ------------------------------------------------------------

def help_of(tally, *args):
    out = subprocess.run([tally, *args, "--help"], capture_output=True, text=True, timeout=30)
    check(out.returncode == 0, f"tally {' '.join(args)} --help exits 0")
    return out.stdout


def flags_in_help(text):
    flags = set()
    for line in text.splitlines():
        m = re.match(r"^\s+(-\w,)?(--[a-z][a-z0-9-]*)", line)
        if m and m.group(2) not in ("--help", "--version"):
            flags.add(m.group(2))
    return flags


def check_configuration(root, tally):
    doc = read(os.path.join(root, "docs", "configuration.md"))
    top = help_of(tally)
    commands = re.findall(r"^\s{2}([a-z][a-z-]*)\s{2,}", top.split("Subcommands:", 1)[-1], re.M)
    check(commands, "tally --help lists its commands")
    command_table = {row[0].strip("`") for row in table_rows(doc, r"^\|\s*command\s*\|")}
    for command in commands:
        check(f"tally {command}" in command_table,
              f"tally {command} is missing from the table of commands in docs/configuration.md")
        text = section(doc, lambda title, c=command: f"`tally {c}`" in title)
        check(text is not None, f"docs/configuration.md has no heading for `tally {command}`")
        if text is None:
            continue
        usage = help_of(tally, command)
        flags = flags_in_help(usage)
        for flag in sorted(flags):
            check(re.search(r"`" + re.escape(flag) + r"[` =]", text) is not None,
                  f"tally {command} {flag} is not described in docs/configuration.md under `tally {command}`")
        for env in sorted(set(re.findall(r"\(env (TALLY_[A-Z_]+)\)", usage))):
            check(f"`{env}`" in text, f"{env} (tally {command}) is not described in docs/configuration.md")
        # The reverse: flags named in the first column of the section's tables exist.
        for line in text.splitlines():
            m = re.match(r"^\|\s*([^|]*)\|", line)
            if not m:
                continue
            for flag in re.findall(r"`(--[a-z][a-z0-9-]*)", m.group(1)):
                check(flag in flags, f"docs/configuration.md lists {flag} for tally {command}, which it does not have")
    finish()


# --- readmes ------------------------------------------------------------------

def check_readmes(root):
    root = os.path.realpath(root)
    files = repository_files(root)
    folders = set()
    for f in files:
        parts = f.split("/")
        if len(parts) < 2 or parts[0].startswith("."):
            continue
        folders.add(parts[0])
        if parts[0] != "tests" and f.endswith((".cpp", ".h")):
            folders.add(os.path.dirname(f))
    check(len(folders) > 3, f"the repository's folders are found ({sorted(folders)})")
    for folder in sorted(folders):
        check(os.path.isfile(os.path.join(root, folder, "README.md")), f"{folder}/ has a README.md")
    finish()


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "links":
        check_links(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "readmes":
        check_readmes(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "http-api":
        check_http_api(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "configuration":
        check_configuration(sys.argv[2], sys.argv[3])
    else:
        print(__doc__)
        sys.exit(2)


main()
