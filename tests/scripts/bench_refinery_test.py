#!/usr/bin/env python3
"""scripts/bench-refinery on a small corpus whose answers are known, through the real fab binary
and the built-in deterministic refinery: each case must be scored as what it is (right, wrong,
left), the rule named, a Latin-1 case sent as the floor sends it, and the totals printed.

Usage: bench_refinery_test.py FAB   (the fab binary; its fab-plugin-deterministic.so beside it)
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "scripts", "bench-refinery")

LIST = [b"LIB_OBJS += abspath.o\n", b"LIB_OBJS += advice.o\n", b"LIB_OBJS += alias.o\n",
        b"LIB_OBJS += apply.o\n", b"LIB_OBJS += archive.o\n"]


def sorted_list_case(ours_entry, theirs_entry, resolved_entries):
    """Both sides add an entry after `alias`: a conflict for git, settled by sorted-insert."""
    base = b"".join(LIST)
    ours = b"".join(LIST[:3] + [ours_entry] + LIST[3:])
    theirs = b"".join(LIST[:3] + [theirs_entry] + LIST[3:])
    return {"base": base, "ours": ours, "theirs": theirs,
            "resolved": b"".join(LIST[:3] + resolved_entries + LIST[3:]), "path": "Makefile"}


CASES = {
    # settled, as the humans did
    "0001": ("right", sorted_list_case(b"LIB_OBJS += alloc.o\n", b"LIB_OBJS += ambiguous.o\n",
                                       [b"LIB_OBJS += alloc.o\n", b"LIB_OBJS += ambiguous.o\n"])),
    # settled, but the humans kept only one of the two entries
    "0002": ("wrong", sorted_list_case(b"LIB_OBJS += alloc.o\n", b"LIB_OBJS += ambiguous.o\n",
                                       [b"LIB_OBJS += alloc.o\n"])),
    # both sides rewrote one line their own way: no rule settles it
    "0003": ("left", {"base": b"a\nx = 1\nz\n", "ours": b"a\nx = 2\nz\n", "theirs": b"a\nx = 3\nz\n",
                      "resolved": b"a\nx = 2\nz\n", "path": "main.py"}),
    # a Latin-1 file (0xe7): sent as its Latin-1 reading, scored on its bytes
    "0004": ("right", sorted_list_case(b"LIB_OBJS += al\xe7o.o\n", b"LIB_OBJS += ambiguous.o\n",
                                       [b"LIB_OBJS += al\xe7o.o\n", b"LIB_OBJS += ambiguous.o\n"])),
}


def main():
    fab = sys.argv[1]
    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus")
        for name, (_, case) in CASES.items():
            d = os.path.join(corpus, name)
            os.makedirs(d)
            for side in ("base", "ours", "theirs", "resolved"):
                with open(os.path.join(d, side), "wb") as f:
                    f.write(case[side])
            with open(os.path.join(d, "meta.json"), "w") as f:
                json.dump({"path": case["path"]}, f)
        # git itself must report each case as a conflict, or it is no case of a corpus
        for name, (_, case) in CASES.items():
            d = os.path.join(corpus, name)
            git = subprocess.run(["git", "merge-file", "-p", os.path.join(d, "ours"), os.path.join(d, "base"),
                                  os.path.join(d, "theirs")], capture_output=True)
            check(git.returncode > 0, f"{name}: git merge-file settles it, so it is no corpus case")
        out_json = os.path.join(tmp, "rows.json")
        run = subprocess.run([sys.executable, BENCH, "--fab", fab, "--tools", os.path.join(tmp, "no-tools"),
                              "--json", out_json, corpus], capture_output=True, text=True, timeout=600)
        check(run.returncode == 0, f"bench-refinery exited {run.returncode}:\n{run.stderr}")
        rows = {r["case"]: r for r in json.load(open(out_json))} if os.path.exists(out_json) else {}
        for name, (kind, _) in CASES.items():
            row = rows.get(name)
            check(row is not None and row["kind"] == kind,
                  f"{name}: scored {row and row['kind']} ({row and row['message']}), expected {kind}")
        for name in ("0001", "0002", "0004"):
            check(name in rows and rows[name]["rules"] == ["sorted-insert"],
                  f"{name}: rules {rows.get(name, {}).get('rules')}, expected ['sorted-insert']")
        total = [line for line in run.stdout.splitlines() if line.startswith("| **all** |")]
        check(total == ["| **all** | 4 | **50.0 % (2)** | **25.0 % (1)** | 25.0 % (1) | | | | 0.0 % (0) |"],
              f"the totals line is {total}:\n{run.stdout}")
    for f in failures:
        print("FAILED:", f)
    print(f"{len(CASES)} cases, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
