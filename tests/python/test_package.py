"""The daemon's packages (issue 11): the Debian package installs, its unit
verifies, lintian finds nothing; OpenWrt's UCI config becomes a node.toml
that the daemon accepts, through the init script's own converter run by
busybox (OpenWrt's shell and awk) and by dash."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from l2sess import Identity
from l2sess_testbed.daemon import ROOT, daemon_programs

OPENWRT = ROOT / "firmware" / "openwrt" / "l2sess"
PEER_DID = Identity.generate().did


def uci_show(config_text: str) -> str:
    """What `uci -q show l2sess` prints for an /etc/config/l2sess: named
    sections by name, anonymous ones as @type[i], lists on one line."""
    lines, counts, current, values = [], {}, None, {}
    for raw in config_text.splitlines():
        if raw.strip().startswith("#"):
            continue
        words = [a or b for a, b in re.findall(r"'([^']*)'|(\S+)", raw)]
        if not words:
            continue
        if words[0] == "config":
            kind = words[1]
            if len(words) > 2:
                current = words[2]
            else:
                current = f"@{kind}[{counts.get(kind, 0)}]"
                counts[kind] = counts.get(kind, 0) + 1
            lines.append(f"l2sess.{current}={kind}")
            values = {}
        elif words[0] in ("option", "list"):
            quoted = "'" + words[2].replace("'", "'\\''") + "'"
            key = f"l2sess.{current}.{words[1]}"
            if words[0] == "list" and key in values:
                lines[values[key]] += " " + quoted
            else:
                values[key] = len(lines)
                lines.append(f"{key}={quoted}")
    return "\n".join(lines) + "\n"


@pytest.fixture(params=["busybox", "dash"])
def converter(request, tmp_path):
    """Runs files/uci2toml as OpenWrt would (busybox sh and awk) or under dash."""
    env = dict(os.environ)
    if request.param == "busybox":
        busybox = shutil.which("busybox")
        if busybox is None:
            pytest.fail("busybox is not installed (scripts/install-deps.sh installs it)")
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        for tool in ("sh", "awk"):
            os.symlink(busybox, bin_dir / tool)
        env["PATH"] = f"{bin_dir}:{env['PATH']}"
        shell = [str(bin_dir / "sh")]
    else:
        shell = ["dash"]

    def run(show: str) -> str:
        out = subprocess.run([*shell, str(OPENWRT / "files" / "uci2toml")], input=show, capture_output=True,
                             text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout
    return run


def check(tmp_path: Path, toml: str) -> subprocess.CompletedProcess:
    config = tmp_path / "node.toml"
    config.write_text(toml)
    return subprocess.run([daemon_programs()[0], "check", "--config", str(config)], capture_output=True,
                          text=True, timeout=60)


def test_the_shipped_uci_config_with_a_peer_becomes_a_config_the_daemon_accepts(tmp_path, converter):
    text = (OPENWRT / "files" / "l2sess.config").read_text()
    text += f"\nconfig peer\n\toption did '{PEER_DID}'\n\toption address '192.0.2.7:4433'\n\toption connect '1'\n"
    text += "\nconfig peer\n\toption did 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'\n" \
            "\toption connect 'no'\n"
    result = check(tmp_path, converter(uci_show(text)))
    assert result.returncode == 0, result.stderr
    cfg = json.loads(result.stdout)
    assert cfg["node"]["listen"] == "0.0.0.0:4433" and cfg["node"]["transports"] == ["quic", "utcp"]
    assert cfg["node"]["checkpoint_interval"] == 30 and cfg["node"]["state_dir"] == "/etc/l2sess/state"
    assert cfg["session"]["heartbeat_interval"] == 30 and cfg["loop"]["memory_budget"] == 8388608
    assert cfg["peers"] == [{"did": PEER_DID, "address": "192.0.2.7:4433", "connect": True},
                            {"did": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "address": None,
                             "connect": False}]


def test_a_uci_mistake_is_refused_by_the_daemon_naming_the_key(tmp_path, converter):
    show = uci_show("config node 'node'\n\toption accept_any 'maybe'\n")
    result = check(tmp_path, converter(show))
    assert result.returncode == 2 and "[node] accept_any" in result.stderr and '"maybe"' in result.stderr
    show = uci_show("config session 'session'\n\toption ttl '1h'\n")
    result = check(tmp_path, converter(show))
    assert result.returncode == 2 and "[session] ttl" in result.stderr


def test_uci_quoting_survives_the_conversion(tmp_path, converter):
    # uci show writes a single quote in a value as '\'' and leaves the rest be.
    show = "l2sess.node=node\nl2sess.node.audit_log='/tmp/it'\\''s \"here\" \\ .jsonl'\n"
    result = check(tmp_path, converter(show))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["node"]["audit_log"] == "/tmp/it's \"here\" \\ .jsonl"


@pytest.mark.skipif(os.geteuid() != 0, reason="installing a package needs root")
def test_the_debian_package_installs_verifies_and_is_lintian_clean(tmp_path):
    daemon, _ = daemon_programs()
    build = Path(daemon).parents[1]
    made = subprocess.run([str(ROOT / "scripts" / "package-deb.sh"), "amd64", str(build), str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    deb = made.stdout.strip().splitlines()[-1]
    lint = subprocess.run(["lintian", "--tag-display-limit", "0", deb], capture_output=True, text=True,
                          timeout=600)
    findings = [line for line in lint.stdout.splitlines() if re.match(r"^[EWI]: ", line)]
    assert findings == [], findings
    if subprocess.run(["dpkg-query", "-W", "l2sessd"], capture_output=True).returncode == 0:
        pytest.fail("l2sessd is installed on this machine already; the test would replace it")
    try:
        inst = subprocess.run(["dpkg", "-i", deb], capture_output=True, text=True, timeout=300)
        assert inst.returncode == 0, inst.stderr
        assert subprocess.run(["/usr/sbin/l2sessd", "--version"], capture_output=True, text=True).stdout \
            .startswith("l2sessd ")
        verify = subprocess.run(["systemd-analyze", "verify", "/lib/systemd/system/l2sessd.service"],
                                capture_output=True, text=True, timeout=120)
        assert verify.returncode == 0 and verify.stderr == "", verify.stderr
        # The shipped config is one the daemon accepts.
        checked = subprocess.run(["/usr/sbin/l2sessd", "check", "--config", "/etc/l2sess/node.toml"],
                                 capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
    finally:
        subprocess.run(["dpkg", "-P", "l2sessd"], capture_output=True, timeout=300)
    assert not os.path.exists("/usr/sbin/l2sessd")
