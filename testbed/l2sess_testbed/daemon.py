"""The C daemon (firmware/l2sessd) and its client, for the tests that run
it beside the Python node.

daemon_programs() returns the paths of l2sessd and l2sessctl: those of
$L2SESSD_DIR when set (a cross build's, say), else of the CMake build in
build/native (`make ctest` configures it; brought up to date here), else of
a build of their own in build/pytest-daemon. A build that fails raises: a
test that asked for the daemon must not pass without it."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["daemon_programs", "ROOT"]

ROOT = Path(__file__).resolve().parents[2]


def _build(build: Path, configure: bool) -> None:
    if configure:
        gen = ["-G", "Ninja"] if shutil.which("ninja") else []
        subprocess.run(["cmake", *gen, "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                        "-DL2S_BUILD_TESTS=OFF", "-DL2S_BUILD_BENCH=OFF"], check=True, stdout=subprocess.DEVNULL,
                       timeout=600)
    subprocess.run(["cmake", "--build", str(build), "--target", "l2sessd", "l2sessctl"], check=True,
                   stdout=subprocess.DEVNULL, timeout=1200)


@functools.cache
def daemon_programs() -> tuple[str, str]:
    """(l2sessd, l2sessctl), built when needed."""
    given = os.environ.get("L2SESSD_DIR")
    if given:
        folder = Path(given)
    else:
        build = ROOT / "build" / "native"
        configured = (build / "CMakeCache.txt").exists()
        if not configured:
            build = ROOT / "build" / "pytest-daemon"
        _build(build, not (build / "CMakeCache.txt").exists())
        folder = build / "firmware"
    programs = (folder / "l2sessd", folder / "l2sessctl")
    for p in programs:
        if not os.access(p, os.X_OK):
            raise FileNotFoundError(f"{p}: not built")
    return str(programs[0]), str(programs[1])
