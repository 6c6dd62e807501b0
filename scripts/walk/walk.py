"""The receive-path walk: how a received message travels through the files
of csrc/. Reads the records hooks.c wrote (WALK_OUT) for an executable built
with -finstrument-functions, and prints, per kind of message, the fullest
walk of each (medians over the walks of that kind, and on stderr the files
of the one that entered the most):
- files entered;
- cross-file calls;
- re-entries: calls into a file the walk entered before;
- call-backs: calls into a file that is still waiting on the stack (a cycle
  at run time: only a function pointer can make one where the files' call
  graph has none);
- moves up: calls into a higher layer (csrc's folders, bottom to top as in
  tests/python/test_layers.py).
Twice: over every file, and over the protocol's files only (the crypto and
lib layers, the leaves every path ends in, and header inlines are folded
into their callers). A file's layer is that of the file of the same name in
this tree, so an older, flat tree is measured on the same scale.

usage: python walk.py EXECUTABLE RECORDS"""
import statistics
import subprocess
import sys
from pathlib import Path

CSRC = Path(__file__).resolve().parents[2] / "csrc"
LAYERS = ["api", "crypto", "lib", "wire", "handshake", "engine", "transport", "loop"]
LEAVES = {"crypto", "lib"}
LAYER_OF = {p.stem: p.relative_to(CSRC).parts[0] for p in CSRC.rglob("*.c")}

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


def layer(file: str) -> int:
    return LAYERS.index(LAYER_OF.get(Path(file).stem, "engine"))


def folded(file: str, protocol_only: bool) -> bool:
    """A frame counted as part of its caller."""
    if not file:
        return True
    return protocol_only and (file.endswith(".h") or LAYERS[layer(file)] in LEAVES)


def measure(walk, names, protocol_only=False):
    stack: list[str] = []  # the file of each frame
    entered: list[str] = []
    calls = reentries = callbacks = up = 0
    for depth, off in walk:
        file = names[off][1]
        del stack[depth - 1:]
        if folded(file, protocol_only):
            file = stack[-1] if stack else "?"
        if stack and file != stack[-1]:
            calls += 1
            reentries += file in entered
            callbacks += file in stack[:-1]
            up += layer(file) > layer(stack[-1])
        if file not in entered:
            entered.append(file)
        stack.append(file)
    return entered, calls, reentries, callbacks, up


def main() -> None:
    exe, records = sys.argv[1], sys.argv[2]
    all_walks = walks(open(records).read().split("\n")[:-1])
    names = symbolize(exe, sorted({off for w in all_walks for _, off in w}))
    print(f"{len(all_walks)} walks")
    for protocol_only in (False, True):
        print("\n" + ("protocol files only" if protocol_only else "every file"))
        print("| message | walks | files entered | cross-file calls | re-entries | call-backs | moves up |")
        print("|---|---|---|---|---|---|---|")
        for kind, marker in KINDS:
            mine = [w for w in all_walks if any(names[o][0] == marker for _, o in w)]
            if not mine:
                print(f"| {kind} | 0 | | | | | |")
                continue
            rows = [measure(w, names, protocol_only) for w in mine]
            mid = [statistics.median_low(r[i] if i else len(r[0]) for r in rows) for i in range(5)]
            print(f"| {kind} | {len(mine)} | " + " | ".join(str(v) for v in mid) + " |")
            fullest = max(rows, key=lambda r: len(r[0]))
            print(f"{kind}: {' > '.join(fullest[0])}", file=sys.stderr)


if __name__ == "__main__":
    main()
