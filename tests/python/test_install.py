"""The C library is consumable (issue 11): `cmake --install` puts libl2s and
libl2s_loop (static, and shared with a versioned soname exporting the public
API only), the public headers and pkg-config files into a prefix; an
integrator's CFLAGS set the optimisation and no -Werror is imposed; and a
program built from the installed files alone, shared and static, makes a PQ
session (tests/c/install/handshake.c). Built without QUIC
(-DL2S_WITH_QUIC=OFF), the loop installs too, its pkg-config file names
neither ngtcp2 nor GnuTLS, and a static program on it runs a node that says
it has μTCP and discovery only."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "tests" / "c" / "install" / "handshake.c"


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def install(tmp_path_factory, *options):
    if not shutil.which("cmake") or not shutil.which("pkg-config"):
        pytest.fail("cmake and pkg-config are build requirements (make deps)")
    tmp = tmp_path_factory.mktemp("install")
    build, prefix = tmp / "build", tmp / "prefix"
    env = dict(os.environ, CFLAGS="-Os")
    run(["cmake", "-S", str(ROOT), "-B", str(build), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
         "-DL2S_BUILD_TESTS=OFF", "-DL2S_BUILD_BENCH=OFF", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON",
         f"-DCMAKE_INSTALL_PREFIX={prefix}", *options], env=env)
    run(["cmake", "--build", str(build), "-j", "2"], env=env)
    run(["cmake", "--install", str(build)])
    libdir = next(p.parent for p in prefix.rglob("libl2s.a"))
    return build, prefix, libdir


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return install(tmp_path_factory)


@pytest.fixture(scope="module")
def installed_without_quic(tmp_path_factory):
    return install(tmp_path_factory, "-DL2S_WITH_QUIC=OFF")


def pkg(prefix, libdir, *args):
    env = dict(os.environ, PKG_CONFIG_PATH=str(libdir / "pkgconfig"))
    return run(["pkg-config", *args], env=env).split()


def test_the_integrators_cflags_set_the_optimisation_and_no_werror(installed):
    build, _, _ = installed
    commands = [c["command"] for c in json.loads((build / "compile_commands.json").read_text())
                if "/csrc/" in c["file"]]
    assert commands
    for cmd in commands:
        levels = [f for f in cmd.split() if f.startswith("-O")]
        assert levels == ["-Os"], cmd
        assert "-Werror" not in cmd.split()


def test_headers_libraries_and_pkgconfig_are_installed(installed):
    _, prefix, libdir = installed
    for header in ("l2s.h", "l2s_loop.h", "l2s_transport.h"):
        assert (prefix / "include" / header).is_file()
    for lib in ("l2s", "l2s_loop"):
        assert (libdir / f"lib{lib}.a").is_file()
        soname = run(["readelf", "-d", str(libdir / f"lib{lib}.so")])
        assert f"[lib{lib}.so.0]" in soname
        assert (libdir / f"lib{lib}.so.0").resolve().name == f"lib{lib}.so.0.1.0"
    assert pkg(prefix, libdir, "--modversion", "l2s") == ["0.1.0"]
    version = (ROOT / "pyproject.toml").read_text().split('version = "')[1].split('"')[0]
    assert version == "0.1.0", "pyproject.toml and l2s.h's L2S_VERSION differ"


def test_the_shared_libraries_export_the_public_api_only(installed):
    _, _, libdir = installed
    exported = set(run(["nm", "-D", "--defined-only", "--format=just-symbols", str(libdir / "libl2s.so")]).split())
    assert {"l2s_node_new", "l2s_node_receive_typed", "l2s_version"} <= exported
    assert all(s.startswith("l2s_") for s in exported), sorted(s for s in exported if not s.startswith("l2s_"))
    assert "l2s_session_alloc" not in exported and "l2s_exchange_loaded" not in exported  # internal
    loop = set(run(["nm", "-D", "--defined-only", "--format=just-symbols", str(libdir / "libl2s_loop.so")]).split())
    assert {"l2s_loop_new", "l2s_node_new"} <= loop and all(s.startswith("l2s_") for s in loop)


def test_a_program_on_the_shared_library_makes_a_session(installed, tmp_path):
    _, prefix, libdir = installed
    exe = tmp_path / "handshake"
    run(["cc", "-Wall", "-Wextra", "-Werror", str(PROGRAM), "-o", str(exe),
         *pkg(prefix, libdir, "--cflags", "--libs", "l2s")])
    assert "libl2s.so.0" in run(["ldd", str(exe)], env=dict(os.environ, LD_LIBRARY_PATH=str(libdir)))
    out = run([str(exe)], env=dict(os.environ, LD_LIBRARY_PATH=str(libdir)))
    assert "session established, 1 message delivered" in out


def test_a_program_on_the_static_library_makes_a_session(installed, tmp_path):
    _, prefix, libdir = installed
    exe = tmp_path / "handshake"
    libs = [str(libdir / "libl2s.a") if f == "-ll2s" else f for f in pkg(prefix, libdir, "--static", "--libs", "l2s")]
    run(["cc", "-Wall", "-Wextra", "-Werror", str(PROGRAM), "-o", str(exe),
         *pkg(prefix, libdir, "--cflags", "l2s"), *libs])
    assert "libl2s" not in run(["ldd", str(exe)])
    assert "session established, 1 message delivered" in run([str(exe)])


def test_a_program_on_the_shared_event_loop_runs_a_node(installed, tmp_path):
    _, prefix, libdir = installed
    exe = tmp_path / "loop"
    run(["cc", "-Wall", "-Wextra", "-Werror", str(ROOT / "tests" / "c" / "install" / "loop.c"), "-o", str(exe),
         *pkg(prefix, libdir, "--cflags", "--libs", "l2s_loop")])
    out = run([str(exe)], env=dict(os.environ, LD_LIBRARY_PATH=str(libdir))).splitlines()
    assert out[0].startswith("l2s_loop 0.1.0: listening on port ") and int(out[0].split()[-1]) > 0
    assert out[1] == "transports: QUIC, uTCP, discovery"


def test_without_quic_a_static_program_on_the_event_loop_runs_a_node(installed_without_quic, tmp_path):
    _, prefix, libdir = installed_without_quic
    requires = [line for line in (libdir / "pkgconfig" / "l2s_loop.pc").read_text().splitlines()
                if line.startswith("Requires")]
    assert requires == ["Requires.private: libsodium"] or requires == ["Requires.private: libsodium liboqs"]
    assert (libdir / "libl2s_loop.so.0").is_file()
    exe = tmp_path / "loop"
    libs = [str(libdir / f"lib{f[2:]}.a") if f in ("-ll2s", "-ll2s_loop") else f
            for f in pkg(prefix, libdir, "--static", "--libs", "l2s_loop")]
    run(["cc", "-Wall", "-Wextra", "-Werror", str(ROOT / "tests" / "c" / "install" / "loop.c"), "-o", str(exe),
         *pkg(prefix, libdir, "--cflags", "l2s_loop"), *libs])
    assert "libl2s" not in run(["ldd", str(exe)]) and "ngtcp2" not in run(["ldd", str(exe)])
    out = run([str(exe)]).splitlines()
    assert out[0].startswith("l2s_loop 0.1.0: listening on port ") and int(out[0].split()[-1]) > 0
    assert out[1] == "transports: uTCP and discovery only"
