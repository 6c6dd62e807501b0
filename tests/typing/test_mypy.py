"""The type information cannot rot: mypy --strict passes on the package and on
this folder (the README's examples and api_usage.py), the extension's stub
matches the extension (mypy's stubtest), and the README's examples here are
still the README's."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = ROOT / "build" / "mypy-cache"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_mypy_strict() -> None:
    # the files and strict = true come from pyproject.toml's [tool.mypy]
    r = run("mypy", "--strict", "--cache-dir", str(CACHE), "l2sess", "tests/typing")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("Success: no issues found"), r.stdout


def test_stub_matches_the_extension() -> None:
    r = run("mypy.stubtest", "l2sess._core", "--allowlist", str(HERE / "stubtest-allowlist.txt"),
            "--mypy-config-file", str(ROOT / "pyproject.toml"))
    assert r.returncode == 0, r.stdout + r.stderr


def test_readme_examples_are_checked() -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    copies = [p.read_text() for p in sorted(HERE.glob("readme_*.py"))]
    assert len(copies) == len(blocks), "one tests/typing/readme_*.py per ```python block of the README"
    for block in blocks:
        assert any(block in copy for copy in copies), f"README block not in tests/typing/readme_*.py:\n{block}"
