"""Hardware in the loop, under emulation: the C daemon built for a gateway's
CPU and C library (toolchains/), run by qemu-user, beside x86-64 Python
nodes on loopback.

TARGETS names each target's toolchain, build folder and how qemu runs its
binaries; hil_daemon(target) returns the argv prefix that runs the target's
l2sessd, building it when the build folder lacks it (a build that fails
raises: a test that asked for a target must not pass without it)."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess

from l2sess_testbed.daemon import ROOT

__all__ = ["TARGETS", "hil_daemon", "hil_targets"]

# target: (toolchain file, qemu argv). Debian's multiarch targets need the
# sysroot of their dynamic libraries; the musl ones are static.
TARGETS = {
    "aarch64": ("aarch64-linux-gnu", ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]),
    "armhf": ("arm-linux-gnueabihf", ["qemu-arm", "-L", "/usr/arm-linux-gnueabihf"]),
    "aarch64-musl": ("aarch64-linux-musl", ["qemu-aarch64"]),
    # bookworm's qemu-mipsel 7.2 hands SO_ERROR over in the host's errno
    # numbers; make cross unpacks bookworm-backports' (scripts/fetch-qemu-mipsel.sh).
    "mipsel-musl": ("mipsel-linux-musl", [str(ROOT / "build" / "qemu-backports" / "qemu-mipsel")]),
}
# What `make test` runs; `make hil` runs every target.
DEFAULT_TARGETS = ("aarch64", "armhf")


def hil_targets() -> list[str]:
    """$HIL_TARGETS (comma-separated, or "all"), else DEFAULT_TARGETS."""
    wanted = os.environ.get("HIL_TARGETS", ",".join(DEFAULT_TARGETS))
    names = list(TARGETS) if wanted == "all" else [t for t in wanted.split(",") if t]
    unknown = [t for t in names if t not in TARGETS]
    if unknown:
        raise ValueError(f"HIL_TARGETS: unknown target(s) {unknown}; the targets are {list(TARGETS)}")
    return names


@functools.cache
def hil_daemon(target: str) -> list[str]:
    """The argv prefix that runs target's l2sessd under qemu."""
    triplet, qemu = TARGETS[target]
    build = ROOT / "build" / triplet
    daemon = build / "firmware" / "l2sessd"
    if not (build / "CMakeCache.txt").exists():
        if "musl" in triplet:  # zig and libsodium from source: make cross sets them up
            raise FileNotFoundError(f"{build}: not configured; `make cross` builds the musl targets")
        gen = ["-G", "Ninja"] if shutil.which("ninja") else []
        subprocess.run(["cmake", *gen, f"-DCMAKE_TOOLCHAIN_FILE={ROOT}/toolchains/{triplet}.cmake", "-S", str(ROOT),
                        "-B", str(build)], check=True, stdout=subprocess.DEVNULL, timeout=600)
    subprocess.run(["cmake", "--build", str(build), "--target", "l2sessd"], check=True, stdout=subprocess.DEVNULL,
                   timeout=1800)
    return [*qemu, str(daemon)]
