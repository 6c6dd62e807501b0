"""The tree's shape (docs/ARCHITECTURE.md): csrc/ is layered, every layer
depends only on the layers below it, and no two files depend on each other
through a cycle.

Includes are read from the sources; which file calls which is read from the
built libraries' symbol tables (`nm`: a file that uses a symbol another
defines depends on it), so that a call back up a layer, or a loop of calls
between files of one layer, is caught whatever headers it goes through.
"""
from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CSRC = ROOT / "csrc"

# Bottom to top. The public headers belong to the layer whose API they are.
LAYERS = ["api", "crypto", "lib", "wire", "handshake", "engine", "transport", "loop"]
PUBLIC = {"l2s.h": "api", "l2s_transport.h": "transport", "l2s_loop.h": "loop"}

# File cycles that exist today and are being taken apart (issue 10); the
# list may only shrink: a new cycle fails, and so does a listed one that is gone.
KNOWN_C_CYCLES: list[set[str]] = [
    {"exchange", "node", "receive", "schedule", "send", "session"},
    {"loop", "loop_disc", "loop_event", "path", "peer"},
]
KNOWN_PY_CYCLES: list[set[str]] = [{"cli", "node"}]


def layer_of(path: Path) -> str:
    rel = path.relative_to(CSRC)
    if rel.parts[0] == "include":
        return PUBLIC[rel.name]
    return rel.parts[0]


def included(path: Path) -> list[str]:
    return re.findall(r'^\s*#\s*include\s+"([^"]+)"', path.read_text(), re.M)


def sources() -> list[Path]:
    return sorted(p for p in CSRC.rglob("*") if p.suffix in (".c", ".h"))


def test_every_file_is_in_a_layer():
    for p in sources():
        assert layer_of(p) in LAYERS, p


def test_includes_only_go_down():
    for p in sources():
        mine = LAYERS.index(layer_of(p))
        for inc in included(p):
            target = CSRC / "include" / inc if "/" not in inc else CSRC / inc
            assert target.exists(), f"{p.relative_to(ROOT)}: #include \"{inc}\" names no file of csrc/"
            theirs = LAYERS.index(layer_of(target))
            assert theirs <= mine, f"{p.relative_to(ROOT)} ({layer_of(p)}) includes {inc} ({layer_of(target)})"


def test_bindings_use_public_headers_only():
    pxd = (ROOT / "l2sess" / "l2s.pxd").read_text() + (ROOT / "l2sess" / "_core.pyx").read_text()
    for header in re.findall(r'cdef extern from "([^"<>]+)"', pxd):
        assert header in PUBLIC, f"the bindings read {header}, which is not in csrc/include"


# ---- who calls whom, from the built libraries ------------------------------------------------

def libraries() -> list[Path]:
    for build in ("build/native", "build/cmake-py"):
        libs = [ROOT / build / name for name in ("libl2s.a", "libl2s_loop.a")]
        if all(p.exists() for p in libs):
            return libs
    pytest.fail("no built libl2s.a and libl2s_loop.a (make build first)")


NM_LINE = re.compile(r"^[^:]+:([^:]+)\.c\.o:\s*(?:[0-9a-f]+\s+)?([A-Za-z])\s+(\S+)$")


def call_graph() -> dict[str, set[str]]:
    """file -> the files whose functions (or data) it uses; our files only."""
    ours = {p.stem for p in sources() if p.suffix == ".c"}
    defined: dict[str, str] = {}
    used: dict[str, set[str]] = {m: set() for m in ours}
    for lib in libraries():
        out = subprocess.run(["nm", "-A", "-g", str(lib)], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            m = NM_LINE.match(line)
            if not m or m.group(1) not in ours:
                continue
            member, kind, symbol = m.groups()
            if kind == "U":
                used[member].add(symbol)
            else:
                defined[symbol] = member
    return {member: {defined[s] for s in symbols if s in defined and defined[s] != member}
            for member, symbols in used.items()}


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_calls_only_go_down():
    files = {p.stem: layer_of(p) for p in sources() if p.suffix == ".c"}
    for caller, callees in call_graph().items():
        for callee in callees:
            assert LAYERS.index(files[callee]) <= LAYERS.index(files[caller]), \
                f"{caller}.c ({files[caller]}) calls into {callee}.c ({files[callee]})"


def test_no_new_file_cycles_in_c():
    found = cycles(call_graph())
    assert sorted(map(sorted, found)) == sorted(map(sorted, KNOWN_C_CYCLES))


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


# ---- Python imports ---------------------------------------------------------------------------

def python_imports() -> dict[str, set[str]]:
    pkg = ROOT / "l2sess"
    names = {p.stem for p in pkg.glob("*.py")} | {"_core"}
    graph: dict[str, set[str]] = {}
    for p in pkg.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1:
                    module = node.module or ""
                elif node.module == "l2sess" or (node.module or "").startswith("l2sess."):
                    module = node.module[len("l2sess"):].lstrip(".")
                else:
                    continue
                deps |= {module.split(".")[0]} if module else {a.name for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name.split(".")[1] for a in node.names if a.name.startswith("l2sess.")}
        graph[p.stem] = {d for d in deps if d in names and d != p.stem}
    return graph


def test_no_new_import_cycles_in_python():
    found = cycles(python_imports())
    assert sorted(map(sorted, found)) == sorted(map(sorted, KNOWN_PY_CYCLES))
