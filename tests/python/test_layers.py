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


def test_file_names_are_unique():
    """The call check names a file by its object's name in the library."""
    stems = [p.stem for p in sources() if p.suffix == ".c"]
    assert len(stems) == len(set(stems))


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


def test_no_file_cycles_in_c():
    assert cycles(call_graph()) == [], "files that call each other, directly or round a loop"


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


# ---- Python imports ---------------------------------------------------------------------------

# l2sess's layers, bottom to top: the library, the node, the test rigs.
# l2sess.aio is the node for asyncio programs: the node layer.
PY_LAYERS = ["library", "node", "testing"]


def py_layer(module: str) -> str:
    top = module.split(".")[0]
    if top == "aio":
        return "node"
    return top if top in ("node", "testing") else "library"


def python_imports() -> dict[str, set[str]]:
    """module (dotted, below l2sess) -> the l2sess modules it imports."""
    pkg = ROOT / "l2sess"
    modules = {".".join(p.relative_to(pkg).with_suffix("").parts).removesuffix(".__init__")
               for p in pkg.rglob("*.py")} | {"_core"}
    graph: dict[str, set[str]] = {}
    for p in pkg.rglob("*.py"):
        me = ".".join(p.relative_to(pkg).with_suffix("").parts).removesuffix(".__init__")
        package = me if p.name == "__init__.py" else me.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(filter(None, [package.rsplit(".", node.level - 1)[0] if node.level > 1
                                                  else package, node.module]))
                elif node.module == "l2sess" or (node.module or "").startswith("l2sess."):
                    base = node.module[len("l2sess"):].lstrip(".")
                else:
                    continue
                names = [f"{base}.{a.name}" if base else a.name for a in node.names]
                deps |= {n for n in names if n in modules} or {base}
            elif isinstance(node, ast.Import):
                deps |= {a.name[len("l2sess."):] for a in node.names if a.name.startswith("l2sess.")}
        graph[me] = {d for d in deps if d in modules and d != me}
    return graph


def test_python_imports_only_go_down():
    for module, deps in python_imports().items():
        for dep in deps:
            assert PY_LAYERS.index(py_layer(dep)) <= PY_LAYERS.index(py_layer(module)), \
                f"l2sess.{module} ({py_layer(module)}) imports l2sess.{dep} ({py_layer(dep)})"


def test_no_import_cycles_in_python():
    graph = python_imports()
    # a package's __init__ re-exports its modules: that is not a cycle
    for module in graph:
        graph[module] = {d for d in graph[module] if not (d.startswith(module + ".") or module.startswith(d + "."))}
    assert cycles(graph) == []


def test_the_package_imports_no_test_rig():
    """The rigs (testbed/, l2sess_testbed) are not in the wheel: l2sess must not need them."""
    for p in (ROOT / "l2sess").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            assert not any(n.split(".")[0] == "l2sess_testbed" for n in names), p
