"""Puts the licence notices of the libraries auditwheel bundled into a wheel.

auditwheel copies the shared libraries the extension links (libsodium,
ngtcp2, GnuTLS and what GnuTLS needs) into l2sess.libs/ but not their
licences, several of which (LGPL) ask to travel with the binary. Each
bundled library is traced back to the Debian package that installed it
(dpkg -S on its soname) and that package's copyright file goes into the
wheel as <dist-info>/licenses/bundled/<package>.copyright; the wheel's
RECORD is rewritten by `wheel pack`.

    python scripts/wheel_licenses.py dist/l2sess-...-manylinux_....whl
"""
from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

# auditwheel's renaming: libgnutls-1a2b3c4d.so.30.34.3 (a hash, then the version)
BUNDLED = re.compile(r"^(?P<stem>lib[\w+.-]*?)-[0-9a-f]{8}\.so(?P<version>(\.\d+)*)$")


def soname_of(bundled: str) -> str:
    m = BUNDLED.match(bundled)
    if not m:
        raise SystemExit(f"wheel_licenses: {bundled}: not a name auditwheel gives")
    major = m.group("version").split(".")[1] if m.group("version") else ""
    return f"{m.group('stem')}.so" + (f".{major}" if major else "")


def package_of(soname: str) -> str:
    out = subprocess.run(["dpkg", "-S", soname], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        pkg, _, path = line.partition(": ")
        if path.endswith("/" + soname):
            return pkg.split(":")[0]
    raise SystemExit(f"wheel_licenses: no Debian package has {soname}")


def main(wheel: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "wheel", "unpack", "--dest", tmp, wheel], check=True,
                       capture_output=True)
        (root,) = pathlib.Path(tmp).iterdir()
        (info,) = root.glob("*.dist-info")
        target = info / "licenses" / "bundled"
        target.mkdir(parents=True, exist_ok=True)
        for lib in sorted((root / "l2sess.libs").iterdir()):
            pkg = package_of(soname_of(lib.name))
            shutil.copyfile(f"/usr/share/doc/{pkg}/copyright", target / f"{pkg}.copyright")
        out = pathlib.Path(wheel).resolve().parent
        pathlib.Path(wheel).unlink()
        subprocess.run([sys.executable, "-m", "wheel", "pack", "--dest-dir", str(out), str(root)], check=True,
                       capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
