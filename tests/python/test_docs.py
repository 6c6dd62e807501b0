"""`make docs` builds the API reference from the docstrings: its pdoc command
runs and writes pages for l2sess, l2sess.aio and l2sess.node (Node)."""
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_docs_builds_the_reference(tmp_path):
    # make -n: the recipe only; the `build` prerequisite (deps, the extension) is here already
    plan = subprocess.run(["make", "-n", "docs", f"BUILD={tmp_path}", f"PY={sys.executable}"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout.splitlines()
    (command,) = [line for line in plan if " -m pdoc " in line]
    subprocess.run(shlex.split(command), cwd=ROOT, check=True, timeout=600)
    out = tmp_path / "docs"
    assert (out / "index.html").exists()
    pages = {"l2sess.html": ['id="Timeout"', 'id="InvalidDID"'], "l2sess/aio.html": ['id="connect"', 'id="Session"'],
             "l2sess/node.html": ['id="Node"', 'id="Node.wait_for"']}
    for page, anchors in pages.items():
        html = (out / page).read_text()
        for anchor in anchors:
            assert anchor in html, f"{page} has no {anchor}"
        assert "SPEC-018" not in html, f"{page} cites the spec, which is not in the package"
