#!/usr/bin/env python3
"""lake_check.py: reads what the relay's s3 sink wrote the way a lake user
does, with pyarrow, and prints one JSON line describing it.

    lake_check.py --endpoint http://127.0.0.1:PORT --bucket B [--prefix events]
                  --source SOURCE [--relay-id ID] [--region us-east-1]
                  [--access-key K --secret-key S [--session-token T]]

The events are a pyarrow dataset over s3://B/PREFIX/SOURCE/ (gzip NDJSON,
hive partitions dt=YYYY-MM-DD/hour=HH; pyarrow decompresses .ndjson.gz by
its extension and skips files starting with `_` or `.`), read through
pyarrow.fs.S3FileSystem. Markers are looked up beside them:
PREFIX/SOURCE/dt=../hour=../_SUCCESS.RELAY_ID and
_manifests/SOURCE/dt=../hour=../RELAY_ID.json (at the bucket's root).

Output, one line:
  {"total_events": N, "objects": N, "distinct_message_ids": N,
   "duplicate_message_ids": N, "duplicates": [up to 20 ids],
   "events_without_message_id": N,
   "per_hour": {"YYYY-MM-DD/HH": N, ...},
   "hours": {"YYYY-MM-DD/HH": {"events": N, "objects": N, "success": bool,
             "manifest": bool, "manifest_events": N or null,
             "manifest_matches": bool}},
   "overlapping_ranges": [["key", "key"], ...],   # same partition, sequence ranges intersect
   "objects_list": [{"key":.., "events":.., "bytes":.., "first_seq":.., "last_seq":..}]}
and with --expect-ids FILE (one messageId a line) also
  {"expected": N, "missing_expected": N, "missing": [up to 20 ids],
   "unexpected": N}   # ids in the lake that are not in FILE

Keys default to AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
Exit status: 0 when the bucket could be read (whatever it holds), 2 on a
read error or a missing bucket (message on stderr). A bucket without the
SOURCE directory is an empty lake.
"""

import argparse
import collections
import json
import os
import re
import sys
import urllib.parse

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.json as pj

KEY_RE = re.compile(r"^(?P<relay>.+)-(?P<first>\d{20})-(?P<last>\d{20})\.ndjson\.gz$")
HOUR_RE = re.compile(r"dt=(?P<dt>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/")


def fail(message):
    print("lake_check: " + message, file=sys.stderr, flush=True)
    sys.exit(2)


def manifest_events(doc):
    """The event count a manifest states: its own total, else the sum over its objects."""
    if not isinstance(doc, dict):
        return None
    for name in ("events", "event_count", "total_events"):
        if isinstance(doc.get(name), int):
            return doc[name]
    objects = doc.get("objects")
    if isinstance(objects, list):
        total = 0
        for o in objects:
            if not isinstance(o, dict):
                return None
            n = o.get("events", o.get("event_count"))
            if not isinstance(n, int):
                return None
            total += n
        return total
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--prefix", default="events")
    ap.add_argument("--source", required=True)
    ap.add_argument("--relay-id", default="")
    ap.add_argument("--expect-ids", default="",
                    help="a file of messageIds, one a line, that must all be in the lake")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--access-key", default=os.environ.get("AWS_ACCESS_KEY_ID", ""))
    ap.add_argument("--secret-key", default=os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
    ap.add_argument("--session-token", default=os.environ.get("AWS_SESSION_TOKEN", ""))
    args = ap.parse_args()

    url = urllib.parse.urlsplit(args.endpoint)
    if not url.scheme or not url.netloc:
        fail("--endpoint must be a URL such as http://127.0.0.1:9000")
    kwargs = dict(endpoint_override=url.netloc, scheme=url.scheme, region=args.region,
                  connect_timeout=5, request_timeout=30)
    if args.access_key:
        kwargs.update(access_key=args.access_key, secret_key=args.secret_key)
        if args.session_token:
            kwargs["session_token"] = args.session_token
    else:
        kwargs["anonymous"] = True
    prefix = args.prefix.strip("/")
    root = "/".join(p for p in (args.bucket, prefix, args.source) if p)
    manifests_root = "/".join((args.bucket, "_manifests", args.source))

    try:
        fs = pafs.S3FileSystem(**kwargs)
        if fs.get_file_info(args.bucket).type == pafs.FileType.NotFound:
            fail("no bucket %s at %s" % (args.bucket, args.endpoint))
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        manifest_infos = fs.get_file_info(
            pafs.FileSelector(manifests_root, recursive=True, allow_not_found=True))
    except (OSError, pa.ArrowException) as e:
        fail("listing s3://%s: %s" % (root, e))

    files = [i for i in infos if i.type == pafs.FileType.File]
    data_files = sorted(i.path for i in files if i.path.endswith(".ndjson.gz")
                        and not i.base_name.startswith(("_", ".")))
    sizes = {i.path: i.size for i in files}
    markers = {i.path for i in files if i.base_name.startswith("_SUCCESS.")}
    manifests = {i.path for i in manifest_infos if i.type == pafs.FileType.File}

    message_ids = collections.Counter()
    per_hour = collections.Counter()
    per_file = collections.Counter()
    without_id = 0
    if data_files:
        event_schema = pa.schema([("messageId", pa.string())])
        fmt = ds.JsonFileFormat(parse_options=pj.ParseOptions(
            explicit_schema=event_schema, unexpected_field_behavior="ignore"))
        partitioning = ds.partitioning(pa.schema([("dt", pa.string()), ("hour", pa.string())]),
                                       flavor="hive")
        schema = pa.schema(list(event_schema) + [("dt", pa.string()), ("hour", pa.string())])
        try:
            dataset = ds.dataset(root, filesystem=fs, format=fmt, partitioning=partitioning,
                                 schema=schema)
            # Object by object (the dataset's __filename column over S3 with
            # hive partitions crashes pyarrow 26), each with its partition.
            for fragment in dataset.get_fragments():
                table = fragment.to_table(columns=["messageId", "dt", "hour"], schema=schema)
                for row in table.to_pylist():
                    mid = row["messageId"]
                    if mid is None:
                        without_id += 1
                    else:
                        message_ids[mid] += 1
                    per_hour["%s/%s" % (row["dt"], row["hour"])] += 1
                    per_file[fragment.path] += 1
        except (OSError, pa.ArrowException) as e:
            fail("reading s3://%s: %s" % (root, e))

    # Objects, their sequence ranges, and overlaps within one partition.
    objects_list = []
    ranges = collections.defaultdict(list)
    hours = {}
    for path in data_files:
        rel = path[len(root) + 1:]
        m = HOUR_RE.match(rel)
        name = path.rsplit("/", 1)[1]
        k = KEY_RE.match(name)
        entry = {"key": path[len(args.bucket) + 1:], "events": per_file.get(path, 0),
                 "bytes": sizes.get(path)}
        if k:
            entry.update(relay_id=k.group("relay"), first_seq=int(k.group("first")),
                         last_seq=int(k.group("last")))
        objects_list.append(entry)
        if m:
            hour_key = "%s/%s" % (m.group("dt"), m.group("hour"))
            h = hours.setdefault(hour_key, {"events": 0, "objects": 0})
            h["objects"] += 1
            if k:
                ranges[hour_key].append((entry["first_seq"], entry["last_seq"], entry["key"]))
    overlapping = []
    for part_ranges in ranges.values():
        part_ranges.sort()
        for a, b in zip(part_ranges, part_ranges[1:]):
            if b[0] <= a[1]:
                overlapping.append([a[2], b[2]])

    for hour_key, n in per_hour.items():
        hours.setdefault(hour_key, {"events": 0, "objects": 0})["events"] = n
    for hour_key, h in sorted(hours.items()):
        dt, hour = hour_key.split("/")
        part = "dt=%s/hour=%s" % (dt, hour)
        if args.relay_id:
            success = "%s/%s/_SUCCESS.%s" % (root, part, args.relay_id) in markers
            manifest_path = "%s/%s/%s.json" % (manifests_root, part, args.relay_id)
        else:  # any relay's marker and manifest
            success = any(p.startswith("%s/%s/_SUCCESS." % (root, part)) for p in markers)
            found = sorted(p for p in manifests if p.startswith("%s/%s/" % (manifests_root, part)))
            manifest_path = found[0] if found else None
        h["success"] = success
        h["manifest"] = manifest_path in manifests
        h["manifest_events"] = None
        if h["manifest"]:
            try:
                with fs.open_input_stream(manifest_path) as f:
                    h["manifest_events"] = manifest_events(json.loads(f.read().decode()))
            except (OSError, ValueError, pa.ArrowException) as e:
                fail("reading s3://%s: %s" % (manifest_path, e))
        h["manifest_matches"] = h["manifest_events"] == h["events"]

    duplicates = sorted(mid for mid, n in message_ids.items() if n > 1)
    expected_report = {}
    if args.expect_ids:
        try:
            with open(args.expect_ids) as f:
                expected = {line.strip() for line in f if line.strip()}
        except OSError as e:
            fail("reading %s: %s" % (args.expect_ids, e))
        missing = sorted(expected.difference(message_ids))
        expected_report = {"expected": len(expected), "missing_expected": len(missing),
                           "missing": missing[:20],
                           "unexpected": len(set(message_ids).difference(expected))}
    print(json.dumps({
        **expected_report,
        "total_events": sum(per_hour.values()),
        "objects": len(data_files),
        "distinct_message_ids": len(message_ids),
        "duplicate_message_ids": len(duplicates),
        "duplicates": duplicates[:20],
        "events_without_message_id": without_id,
        "per_hour": dict(sorted(per_hour.items())),
        "hours": hours,
        "overlapping_ranges": overlapping,
        "objects_list": objects_list,
    }, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
