#!/usr/bin/env python3
"""How many flows two builds of lantern name differently, and how.

Usage: benches/name_changes.py OLD_LANTERN NEW_LANTERN FILE...   (a directory means its captures)

Replays each file with both binaries (`replay --no-store --events -`) and compares every flow
event by flow id: its server_name, name_source and app. Prints the share of flows that changed
and each kind of change with its count and an example, so a change of the naming rules can be
reviewed on real traffic (the shared captures, the benchmark capture) before it lands.
"""
import collections
import json
import os
import subprocess
import sys


def flows(binary, path):
    run = subprocess.run(
        [binary, "replay", "--no-store", "--quiet", "--events", "-", path],
        capture_output=True, text=True,
    )
    out = {}
    if run.returncode != 0:
        # A file cut short still gives its events up to the cut: compare those.
        print(f"note: {run.stderr.strip().splitlines()[-1]}", file=sys.stderr)
    for line in run.stdout.splitlines():
        event = json.loads(line)
        if event["event_type"] == "flow":
            app = (event.get("app") or {}).get("id")
            out[event["flow_id"]] = (event["server_name"], event["name_source"], app)
    return out


def files(args):
    for arg in args:
        if os.path.isdir(arg):
            for root, _, names in sorted(os.walk(arg)):
                for name in sorted(names):
                    if name.endswith((".pcap", ".pcapng", ".cap")):
                        yield os.path.join(root, name)
        else:
            yield arg


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    old_bin, new_bin = sys.argv[1], sys.argv[2]
    total = named_old = named_new = 0
    changes = collections.Counter()
    example = {}
    for path in files(sys.argv[3:]):
        old, new = flows(old_bin, path), flows(new_bin, path)
        if old.keys() != new.keys():
            sys.exit(f"{path}: the two builds see different flows")
        for flow_id, before in old.items():
            after = new[flow_id]
            total += 1
            named_old += before[0] is not None
            named_new += after[0] is not None
            if before != after:
                kind = f"{before[1]} {before[0]} [{before[2]}] -> {after[1]} {after[0]} [{after[2]}]"
                changes[kind] += 1
                example.setdefault(kind, f"{os.path.basename(path)} flow {flow_id}")
    changed = sum(changes.values())
    share = 100.0 * changed / total if total else 0.0
    print(f"{total} flows; named before {named_old}, after {named_new}; "
          f"changed {changed} ({share:.3f}%)")
    for kind, n in changes.most_common():
        print(f"  {n:6}  {kind}   (e.g. {example[kind]})")


if __name__ == "__main__":
    main()
