"""Smoke tests of the Python benchmarks in bench/, each in a small configuration,
so that none of them can rot between `make bench` runs (bench_engine.c has
its own: the ctest bench_engine_quick).

bench_net.py --quick must fill its table: the aioquic part always runs (about
5 s); our part runs only when l2sess.node exists. bench_crypto.py with a
short time per operation must measure every operation and report every goal;
bench_relay.py at one low rate must carry datagrams both ways through both
impairment profiles. The figures are not judged, only that every row holds a
positive number (bench_net: in the printed table and in --json).
"""
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "bench_net.py"
ROWS = ("full handshake incl. connect p50", "full handshake incl. connect p99", "resumption incl. connect p50",
        "resumption incl. connect p99", "throughput 1 KiB", "throughput 64 KiB")
OURS_ONLY = ("full handshake (L2 exchange) p50", "full handshake (L2 exchange) p99",
             "resumption (L2 exchange) p50", "resumption (L2 exchange) p99")
FIGURE = re.compile(r"^([0-9][0-9,]*(?:\.[0-9]+)?) (ms|msg/s|MB/s)$")


def run_script(script, *args):
    """Runs bench/<script> with args; its stdout. It must exit 0."""
    # The l2sess this test imports (the checkout's), not another install.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def run_bench(tmp_path, part):
    pytest.importorskip("aioquic")
    out = tmp_path / "bench.json"
    stdout = run_script(BENCH.name, "--quick", "--part", part, "--json", out)
    return stdout, json.loads(out.read_text(encoding="utf-8"))


def table_column(stdout, column):
    """{metric + unit: value} of one column ('ours' or 'aioquic') of the
    table; a row the column has no figure for ('-') is left out."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("metric"))
    names = re.split(r"\s{2,}", lines[header].strip())
    figures = {}
    for line in lines[header + 2:]:
        if not line.strip():
            break
        cells = dict(zip(names, re.split(r"\s{2,}", line.strip())))
        if cells[column] == "-":
            continue
        m = FIGURE.match(cells[column])
        assert m, f"not a figure in column {column!r}: {line!r}"
        figures[f"{cells['metric']} {m.group(2)}"] = float(m.group(1).replace(",", ""))
    return figures


def assert_positive_figures(stdout, data, column, stack, rows=ROWS):
    figures = table_column(stdout, column)
    for row in rows:
        units = ("ms",) if "p" in row.split()[-1] else ("msg/s", "MB/s")
        for unit in units:
            assert figures.get(f"{row} {unit}", 0) > 0, (row, unit, stdout)
    result = data[stack]
    assert result["skipped"] is None
    for kind in ("handshake", "resumption"):
        assert result[kind]["p50_ms"] > 0 and result[kind]["p99_ms"] >= result[kind]["p50_ms"]
    for size in ("1024", "65536"):
        t = result["throughput"][size]
        assert t["messages"] > 0 and t["msgs_per_s"] > 0 and t["mb_per_s"] > 0


def test_aioquic_part_quick(tmp_path):
    stdout, data = run_bench(tmp_path, "aioquic")
    assert_positive_figures(stdout, data, "aioquic", "aioquic")
    assert not any(name.startswith(OURS_ONLY) for name in table_column(stdout, "aioquic"))
    assert "l2sess: not run" in stdout


def node_missing():
    """bench_net's own probe: "" when l2sess.node works, else why not."""
    spec = importlib.util.spec_from_file_location("bench_net", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_net"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.node_available()


def test_our_part_quick(tmp_path):
    missing = node_missing()
    if missing:
        pytest.skip(missing)
    stdout, data = run_bench(tmp_path, "ours")
    assert_positive_figures(stdout, data, "ours", "l2sess", ROWS + OURS_ONLY)
    for kind in ("handshake", "resumption"):
        l2, whole = data["l2sess"][f"{kind}_l2"], data["l2sess"][kind]
        # the exchange is part of the whole run it was measured in
        assert 0 < l2["p50_ms"] <= whole["p50_ms"] and l2["runs"] == whole["runs"]


# ---- bench_crypto.py -------------------------------------------------------------------------------

def test_bench_crypto_small(tmp_path):
    """10 ms per operation in one round (about 2 s): every operation measured once
    at least, and the table, the goals and the JSON written."""
    out = tmp_path / "crypto.json"
    stdout = run_script("bench_crypto.py", "--time", "0.01", "--rounds", "1", "--json", out)
    data = json.loads(out.read_text(encoding="utf-8"))
    names = [r["name"] for r in data["results"]]
    assert len(names) == len(set(names)) and len(names) >= 20
    for r in data["results"]:
        assert r["us"] > 0 and r["batches"] >= 1, r
        assert r["name"] in stdout
    # four ML-KEM-768 ratios against pyca and BLAKE3's throughput
    assert len(data["goals"]) == 5 and all(isinstance(g["met"], bool) for g in data["goals"])
    assert all(g["ratio"] > 0 for g in data["goals"][:4]) and data["goals"][4]["gb_per_s"] > 0
    assert "BLAKE3 64 KiB:" in stdout and "total run time:" in stdout


# ---- bench_relay.py --------------------------------------------------------------------------------

RELAY_LINE = re.compile(r"^(clean|impaired)\s+(one-way|echo)\s+(offered\s+(\d+)/s|closed loop)")


def test_bench_relay_small():
    """One low rate (2,000/s) for 0.25 s per measurement (about 5 s): the relay
    process carries datagrams one way and echoed, clean and impaired."""
    stdout = run_script("bench_relay.py", "--seconds", "0.25", "--rates", "2000")
    rows = {}
    for line in stdout.splitlines():
        m = RELAY_LINE.match(line)
        assert m, f"not a result line: {line!r}"
        numbers = {k: int(v) for k, v in re.findall(r"(sent|received|echoed|impairment)\s+(\d+)", line)}
        rows[(m.group(1), m.group(2), "closed" if m.group(3) == "closed loop" else "offered")] = (numbers, line)
    assert sorted(rows) == [("clean", "echo", "closed"), ("clean", "echo", "offered"),
                            ("clean", "one-way", "offered"), ("impaired", "echo", "offered"),
                            ("impaired", "one-way", "offered")]
    for (profile, kind, how), (numbers, line) in rows.items():
        if how == "closed":
            assert float(re.search(r"window \d+:\s+([0-9.]+) echoes/s", line).group(1)) > 0, line
            continue
        assert numbers["sent"] > 0 and numbers["received" if kind == "one-way" else "echoed"] > 0, line
        if profile == "impaired":  # 5 % loss (seeded) of some 500 datagrams: the impairment ran
            assert numbers["impairment"] > 0, line


def test_bench_flood_quick_fills_its_table_and_newcomers_get_in(tmp_path):
    """bench_flood.py --quick with two μTCP floods against a node process:
    every figure of each row is there; the session still carries messages
    during each flood; a new peer, and a new μTCP-only peer, establish
    during it (the goal is 2 s; here within the bench's 10 s wait, so that
    a loaded machine does not fail it); the node's memory after the flood is
    no more than its peak (what the flood's connections held went back)."""
    out = tmp_path / "flood.json"
    stdout = run_script("bench_flood.py", "--quick", "--floods", "tcp-handshake,tcp-noread", "--json", out)
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [r["flood"] for r in rows] == ["tcp-handshake", "tcp-noread"], stdout
    for r in rows:
        assert r["sent"] > 0 and r["before_msg_s"] > 0 and r["during_msg_s"] > 0, r
        assert r["new_peer_s"] is not None and r["new_utcp_peer_s"] is not None, r
        assert 0 < r["rss_before_mb"] <= r["rss_peak_mb"] and r["rss_after_mb"] <= r["rss_peak_mb"], r
        assert f"| {r['flood']} |" in stdout


def test_bench_daemon_quick_measures_both_nodes():
    """bench_daemon.py --quick: the daemon's stripped size, and both nodes'
    memory idle, with 1 and with 20 sessions over μTCP."""
    result = json.loads(run_script("bench_daemon.py", "--quick", "--json"))
    assert result["sizes"]["x86-64 (glibc)"] > 0
    rows = {r["node"]: r for r in result["memory"]}
    assert set(rows) == {"l2sessd", "python -m l2sess.node"}
    for r in rows.values():
        assert r["transport"] == "utcp" and r["sessions"] == 20
        assert 0 < r["idle"] <= r["1"] and r["20"] > 0 and r["20_peak"] >= r["20"]
