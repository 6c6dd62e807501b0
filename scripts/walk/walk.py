"""The receive-path walk: how a received message travels through the files
of csrc/. Reads the records hooks.c wrote (WALK_OUT) for an executable built
with -finstrument-functions, and prints, per kind of message, the fullest
walk seen: the files it enters, its cross-file calls, re-entries (calls into
a file it entered before) and call-backs (calls into a file that is still
waiting on the stack: a cycle at run time).

usage: python walk.py EXECUTABLE RECORDS"""
import subprocess
import sys
from collections import defaultdict

KINDS = [  # (name, a function only that kind of message reaches)
    ("HANDSHAKE_INIT (responder)", "l2s_on_handshake_init"),
    ("HANDSHAKE_RESP (initiator)", "l2s_on_handshake_resp"),
    ("RESUME_INIT (responder)", "l2s_on_resume_init"),
    ("RESUME_RESP (initiator)", "l2s_on_resume_resp"),
    ("TRANSPORT with DATA", "deliver_message"),
]


def symbolize(exe: str, offsets: list[int]) -> dict[int, tuple[str, str]]:
    out = subprocess.run(["addr2line", "-f", "-e", exe] + [hex(o) for o in offsets],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    names = {}
    for i, off in enumerate(offsets):
        fn, loc = out[2 * i], out[2 * i + 1]
        path = loc.split(":")[0]
        names[off] = (fn, path.split("csrc/", 1)[1] if "csrc/" in path else "")
    return names


def walks(lines: list[str]) -> list[list[tuple[int, int]]]:
    """(depth, offset) lists, one per walk, each in call order."""
    current: dict[int, list] = {}
    done = []
    for line in lines:
        thread, depth, off = line.split()
        thread, depth = int(thread), int(depth)
        if depth == 1:
            if current.get(thread):
                done.append(current[thread])
            current[thread] = []
        if thread in current:
            current[thread].append((depth, int(off, 16)))
    return done + [w for w in current.values() if w]


def measure(walk, names):
    stack: list[str] = []  # the file of each frame
    entered: list[str] = []
    calls = reentries = callbacks = 0
    for depth, off in walk:
        fn, file = names[off]
        del stack[depth - 1:]
        if not file:
            file = stack[-1] if stack else "?"
        if stack and file != stack[-1]:
            calls += 1
            if file in entered:
                reentries += 1
            if file in stack[:-1]:
                callbacks += 1
        if file not in entered:
            entered.append(file)
        stack.append(file)
    return entered, calls, reentries, callbacks


def main() -> None:
    exe, records = sys.argv[1], sys.argv[2]
    all_walks = walks(open(records).read().split("\n")[:-1])
    names = symbolize(exe, sorted({off for w in all_walks for _, off in w}))
    print(f"{len(all_walks)} walks")
    print(f"| message | walks | files entered | cross-file calls | re-entries | call-backs |")
    print(f"|---|---|---|---|---|---|")
    for kind, marker in KINDS:
        mine = [w for w in all_walks if any(names[o][0] == marker for _, o in w)]
        if not mine:
            print(f"| {kind} | 0 | | | | |")
            continue
        best = max(mine, key=lambda w: (len(measure(w, names)[0]), measure(w, names)[1]))
        files, calls, re, cb = measure(best, names)
        print(f"| {kind} | {len(mine)} | {len(files)} | {calls} | {re} | {cb} |")
        print(f"|  | | {' → '.join(files)} | | | |", file=sys.stderr)


if __name__ == "__main__":
    main()
