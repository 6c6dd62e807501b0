"""The generated reference (scripts/gen_docs.py, `make man`) is what the code
says: regenerated into a temporary directory it equals the committed files,
the man pages render without a warning, and the bash completion works.

When test_the_committed_files_are_generated fails, the parser
(l2sess/node/cli.py) or the schema (l2sess/node/config.py) changed: run
`make man` and commit what it rewrites."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from l2sess import Identity
from l2sess.node.cli import build_parser
from l2sess.node.config import LOOP, NODE, PEER, SESSION

ROOT = Path(__file__).resolve().parents[2]
GEN = ROOT / "scripts" / "gen_docs.py"
FILES = {"man/l2sess.1": "docs/man/l2sess.1", "man/node.toml.5": "docs/man/node.toml.5",
         "completion/l2sess.bash": "docs/completion/l2sess.bash", "NODE.md": "docs/NODE.md"}
PAGES = [ROOT / "docs/man/l2sess.1", ROOT / "docs/man/node.toml.5"]
COMPLETION = ROOT / "docs/completion/l2sess.bash"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    subprocess.run([sys.executable, str(GEN), "--out", str(out)], check=True, capture_output=True, timeout=120)
    return out


@pytest.mark.parametrize("rel", sorted(FILES))
def test_the_committed_files_are_generated(generated, rel):
    committed = (ROOT / FILES[rel]).read_text(encoding="utf-8")
    assert (generated / rel).read_text(encoding="utf-8") == committed, \
        f"{FILES[rel]} is not what scripts/gen_docs.py writes: run `make man` and commit the result"


def test_every_command_option_and_key_is_documented():
    man1 = (ROOT / "docs/man/l2sess.1").read_text()
    man5 = (ROOT / "docs/man/node.toml.5").read_text()
    sub = build_parser()._subparsers._group_actions[0]
    for name, parser in sub.choices.items():
        assert f".SS {name}\n" in man1
        for action in parser._actions:
            if action.help != "==SUPPRESS==":
                for opt in action.option_strings:
                    assert opt.replace("-", "\\-") in man1, (name, opt)
    for schema in (NODE, SESSION, LOOP, PEER):
        for key in schema:
            assert f"\\fB{key.replace('-', chr(92) + '-')}\\fR =" in man5, key
    for word in ("L2SESS_CONFIG", "SIGHUP", "SIGTERM", "node.toml\\fR(5)", "l2sessd\\fR(8)"):
        assert word in man1


def render(page: Path) -> subprocess.CompletedProcess:
    """man -l (man-db) with its warnings on, else groff itself."""
    env = {**os.environ, "MANWIDTH": "80", "LC_ALL": "C.UTF-8", "MAN_KEEP_FORMATTING": ""}
    if shutil.which("man"):
        return subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", str(page)], capture_output=True,
                              text=True, env=env, timeout=60)
    if shutil.which("groff"):
        return subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True,
                              text=True, env=env, timeout=60)
    pytest.skip("neither man-db nor groff is installed (scripts/install-deps.sh installs them)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_man_pages_render_without_warnings(page):
    r = render(page)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    assert "NAME" in r.stdout and "SEE ALSO" in r.stdout


def complete(words: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> list[str]:
    """What the completion offers for words (the last one being completed)."""
    script = ("source \"$1\"; shift; COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); _l2sess; "
              "printf '%s\\n' \"${COMPREPLY[@]}\"")
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", str(COMPLETION), *words],
                       capture_output=True, text=True, check=True, env={**os.environ, **(env or {})},
                       cwd=cwd, timeout=30)
    assert r.stderr == ""
    return [w for w in r.stdout.splitlines() if w]


def test_bash_accepts_the_completion():
    subprocess.run(["bash", "-n", str(COMPLETION)], check=True, timeout=30)


def test_the_completion_completes_commands_options_choices_and_files(tmp_path):
    assert complete(["l2sess", "st"]) == ["status"]
    assert complete(["l2sess", "-c", "node.toml", "ro"]) == ["rotate"]
    assert complete(["l2sess", "run", "--log-level", ""]) == ["error", "warning", "info", "debug"]
    assert complete(["l2sess", "run", "--log-format", "j"]) == ["json"]
    assert "--follow" in complete(["l2sess", "recv", "--f"])
    (tmp_path / "node.toml").touch()
    assert complete(["l2sess", "--config", "no"], cwd=tmp_path) == ["node.toml"]


def test_the_completion_offers_the_peers_of_the_node_toml_in_use(tmp_path):
    a, b = Identity.generate().did, Identity.generate().did
    config = tmp_path / "node.toml"
    config.write_text(f'[node]\nlisten = "127.0.0.1:0"\n\n[[peers]]\ndid = "{a}"\naddress = "127.0.0.1:4433"\n\n'
                      f"[[peers]]\n  did = '{b}'\n  connect = false\n")
    assert sorted(complete(["l2sess", "-c", str(config), "send", ""])) == sorted([a, b])
    assert complete(["l2sess", "send", "--config", str(config), a[:-3]]) == [a]
    assert complete(["l2sess", "-c", str(config), "send", a, ""]) == []  # TEXT
    assert sorted(complete(["l2sess", "recv", "--from", ""], env={"L2SESS_CONFIG": str(config)})) == sorted([a, b])
    assert sorted(complete(["l2sess", "rotate", ""], env={"L2SESS_CONFIG": str(config)})) == sorted([a, b])
