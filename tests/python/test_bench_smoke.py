"""Smoke test of bench/bench_net.py: a --quick run must fill its table.

The aioquic part always runs (about 5 s); our part runs only when
l2sess.node exists. The figures are not judged, only that every row the
part owns holds a positive number, in the printed table and in --json.
"""
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("aioquic")

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "bench_net.py"
ROWS = ("full handshake incl. connect p50", "full handshake incl. connect p99", "resumption incl. connect p50",
        "resumption incl. connect p99", "throughput 1 KiB", "throughput 64 KiB")
OURS_ONLY = ("full handshake (L2 exchange) p50", "full handshake (L2 exchange) p99",
             "resumption (L2 exchange) p50", "resumption (L2 exchange) p99")
FIGURE = re.compile(r"^([0-9][0-9,]*(?:\.[0-9]+)?) (ms|msg/s|MB/s)$")


def run_bench(tmp_path, part):
    out = tmp_path / "bench.json"
    # The l2sess this test imports (the checkout's), not another install.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--part", part, "--json", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, json.loads(out.read_text(encoding="utf-8"))


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
