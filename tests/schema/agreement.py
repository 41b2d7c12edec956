#!/usr/bin/python3
"""Runs tally's decoder and a real JSON Schema validator (python3-jsonschema) over
the same fixture corpus and fails if they disagree on any event.

Usage: agreement.py DECODE_VERDICTS_BINARY SCHEMA FIXTURE_DIR

The validator side is schemas/task-action.schema.json plus the rules its
description names as outside JSON Schema (strict UTF-8 JSON, depth, duplicate
keys) and the x-maxUtf8Bytes keyword, implemented here as a validator extension.
"""
import decimal
import json
import pathlib
import re
import subprocess
import sys

import jsonschema

MAX_DEPTH = 1024
KNOWN_FIELDS = {
    "id", "annotationRequestId", "campaignId", "sceneId", "taskId", "projectId", "poolId",
    "poolName", "poolType", "folderId", "aliceName", "status", "actionType", "createdTime",
    "instanceInfo", "modifyInstanceNum", "modifyAttributesNum", "instanceSum", "attributesSum",
}


class JsonObject(dict):
    """A JSON object that remembers which keys it saw more than once."""
    duplicates = frozenset()


def object_pairs(pairs):
    obj, seen, dups = JsonObject(), set(), set()
    for key, value in pairs:
        if key in seen:
            dups.add(key)
        seen.add(key)
        obj[key] = value
    obj.duplicates = frozenset(dups)
    return obj


def reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def depth(value):
    """Nesting depth of arrays/objects, iteratively (no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (list, dict)):
            deepest = max(deepest, d)
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def has_lone_surrogate(value):
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def max_utf8_bytes(validator, limit, instance, schema):
    if isinstance(instance, str) and len(instance.encode("utf-8", "surrogatepass")) > limit:
        yield jsonschema.ValidationError(f"{instance[:40]!r}... is over {limit} UTF-8 bytes")


def utc_years(validator, bounds, instance, schema):
    """The year of a well-formed createdTime once its offset is applied (x-utcYears)."""
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)[ Tt](\d\d):(\d\d):\d\d(?:\.\d+)?([Zz]|[+-]\d\d:?\d\d)?",
                     instance) if isinstance(instance, str) else None
    if m is None or m.group(6) in (None, "Z", "z"):
        return  # the pattern judges the form; without an offset the year is as written
    zone = m.group(6).replace(":", "")
    offset = (int(zone[1:3]) * 60 + int(zone[3:5])) * (-1 if zone[0] == "-" else 1)
    year, month, day, hour, minute = (int(m.group(i)) for i in range(1, 6))
    minutes = hour * 60 + minute - offset  # minutes into the written day, in UTC
    last_day = 31 if month == 12 else 0
    if year == bounds[1] and month == 12 and day == last_day and minutes >= 24 * 60:
        yield jsonschema.ValidationError(f"{instance!r} is after year {bounds[1]} in UTC")
    if year == bounds[0] and month == 1 and day == 1 and minutes < 0:
        yield jsonschema.ValidationError(f"{instance!r} is before year {bounds[0]} in UTC")


def make_validator(schema):
    base = jsonschema.validators.validator_for(schema)
    base.check_schema(schema)
    cls = jsonschema.validators.extend(base, {"x-maxUtf8Bytes": max_utf8_bytes, "x-utcYears": utc_years})
    return cls(schema)


def parse_message(data):
    """The message's JSON value, or None if it is not valid JSON by RFC 8259."""
    try:
        text = data.decode("utf-8")  # strict: no overlongs, no surrogates
        value = json.loads(text, object_pairs_hook=object_pairs, parse_float=decimal.Decimal,
                           parse_constant=reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if depth(value) > MAX_DEPTH or has_lone_surrogate(value):
        return None
    return value


def event_ok(validator, event):
    if not isinstance(event, dict):
        return False
    if event.duplicates & KNOWN_FIELDS:
        return False
    info = event.get("instanceInfo")
    if isinstance(info, JsonObject) and info.duplicates:
        return False
    return validator.is_valid(event)


def schema_verdicts(validator, data):
    """One boolean per event, as the decoder counts events."""
    value = parse_message(data)
    if value is None:
        return [False]
    events = value if isinstance(value, list) else [value]
    return [event_ok(validator, e) for e in events]


def main():
    decoder, schema_path, fixture_dir = sys.argv[1:4]
    sys.setrecursionlimit(100000)
    sys.set_int_max_str_digits(0)
    validator = make_validator(json.loads(pathlib.Path(schema_path).read_text()))
    files = sorted(p for p in pathlib.Path(fixture_dir).rglob("*.json"))
    out = subprocess.run([decoder, *map(str, files)], check=True, capture_output=True, text=True)
    decoded = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(decoded) == len(files), "the decoder answered for a different number of files"

    failures, events = [], 0
    for path, answer in zip(files, decoded):
        assert answer["file"] == str(path)
        ours = [v == "ok" for v in answer["verdicts"]]
        theirs = schema_verdicts(validator, path.read_bytes())
        events += len(ours)
        if ours != theirs:
            failures.append(f"{path.relative_to(fixture_dir)}: decoder {answer['verdicts']} "
                            f"vs schema {['ok' if t else 'invalid' for t in theirs]}")
    print(f"{len(files)} fixtures, {events} events, {len(failures)} disagreements")
    for f in failures:
        print("DISAGREE", f)
    if len(files) < 60:
        print("the corpus needs at least 60 fixtures")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
