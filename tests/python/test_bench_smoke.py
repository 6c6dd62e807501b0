"""Smoke tests of the Python benchmarks in bench/, each in a small configuration,
so that none of them can rot between `make bench` runs (bench_engine.c has
its own: the ctest bench_engine_quick).

bench_net.py --quick (about 10 s) must fill its table: every stack's column
(ours over QUIC and over μTCP, TLS 1.3 over TCP, plain TCP, aioquic) holds a
positive number in each row that stack measures and "-" in the others, the
ratio columns hold a ratio wherever both figures exist, and --json has the
same stacks, rows and goals. The references always run; our columns are
checked only when l2sess.node exists. bench_crypto.py with a short time per
operation must measure every operation and report every goal; bench_relay.py
at one low rate must carry datagrams both ways through both impairment
profiles. The figures are not judged, only that they are there.
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


def rows(*names, quantiles=("p50", "p99")):
    return [(f"{name} {q}", "ms") for name in names for q in quantiles]


HANDSHAKE = rows("full handshake incl. connect")
RESUMPTION = rows("resumption incl. connect")
OURS_ONLY = (rows("full handshake (L2 exchange)", "crypto floor", "resumption (L2 exchange)")
             + rows("crypto floor, exchange span", quantiles=("p50",)))
THROUGHPUT = [(f"throughput {run}", unit) for run in ("1 KiB, 1 per call", "1 KiB, 64 per call", "64 KiB, 64 per call")
              for unit in ("msg/s", "MB/s")]
# the JSON's latency series, by their rows' names
SERIES = {"handshake": "full handshake incl. connect", "handshake_l2": "full handshake (L2 exchange)",
          "floor": "crypto floor", "floor_span": "crypto floor, exchange span",
          "resumption": "resumption incl. connect", "resumption_l2": "resumption (L2 exchange)"}
OURS = {"QUIC": "l2sess-quic", "μTCP": "l2sess-utcp"}
REFERENCES = {"TLS/TCP": "tls-tcp", "TCP": "tcp", "aioquic": "aioquic"}
# the rows each column fills; every other row of it says "-"
FILLED = {"TLS/TCP": HANDSHAKE + THROUGHPUT, "TCP": HANDSHAKE + THROUGHPUT,
          "aioquic": HANDSHAKE + RESUMPTION + THROUGHPUT,
          **dict.fromkeys(OURS, HANDSHAKE + RESUMPTION + OURS_ONLY + THROUGHPUT)}
FIGURE = re.compile(r"^[0-9][0-9,]*(?:\.[0-9]+)?x?$")


def run_script(script, *args):
    """Runs bench/<script> with args; its stdout. It must exit 0."""
    # The l2sess this test imports (the checkout's), not another install.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def bench_net(tmp_path_factory):
    """One bench_net.py --quick run of every stack: (stdout, the --json data)."""
    pytest.importorskip("aioquic")
    out = tmp_path_factory.mktemp("bench_net") / "bench.json"
    stdout = run_script(BENCH.name, "--quick", "--json", out)
    return stdout, json.loads(out.read_text(encoding="utf-8"))


def figures_table(stdout):
    """The figures table: its column names, and {(metric, unit): {column: cell}}."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("metric"))
    columns = re.split(r"\s{2,}", lines[header].strip())
    table = {}
    for line in lines[header + 2:]:
        if not line.strip():
            break
        cells = dict(zip(columns, re.split(r"\s{2,}", line.strip())))
        assert len(cells) == len(columns), line
        table[(cells["metric"], cells["unit"])] = cells
    return columns, table


def figure(cell):
    assert FIGURE.match(cell), cell
    return float(cell.rstrip("x").replace(",", ""))


def assert_column_filled(stdout, data, column, name):
    """The column's rows of FILLED hold positive figures, its other rows "-";
    the JSON has the same stack with positive figures."""
    columns, table = figures_table(stdout)
    assert column in columns, stdout
    assert set(FILLED[column]) <= set(table), stdout
    for row, cells in table.items():
        if row in FILLED[column]:
            assert figure(cells[column]) > 0, (column, row, stdout)
        else:
            assert cells[column] == "-", (column, row, stdout)
    result = data["stacks"][name]
    assert result["skipped"] is None, result["skipped"]
    for series, label in SERIES.items():
        lat = result[series]
        if (f"{label} p50", "ms") in FILLED[column]:
            assert 0 < lat["p50_ms"] <= lat["p99_ms"], (name, series, lat)
        else:
            assert lat is None, (name, series, lat)
    assert set(result["throughput"]) == {"1024x1", "1024x64", "65536x64"}
    for t in result["throughput"].values():
        assert t["messages"] > 0 and t["msgs_per_s"] > 0 and t["mb_per_s"] > 0
    json_rows = {(r["metric"], r["unit"]): r for r in data["rows"]}
    for row in FILLED[column]:
        assert json_rows[row]["values"][name] > 0, (name, row)


def test_references_quick(bench_net):
    stdout, data = bench_net
    for column, name in REFERENCES.items():
        assert_column_filled(stdout, data, column, name)
    assert data["stacks"]["tls-tcp"]["info"]["tls"].startswith("TLSv1.3")


def node_missing():
    """bench_net's own probe: "" when l2sess.node works, else why not."""
    spec = importlib.util.spec_from_file_location("bench_net", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_net"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.node_available()


def test_ours_quick(bench_net):
    stdout, data = bench_net
    missing = node_missing()
    if missing:
        assert all(data["stacks"][name]["skipped"] == missing for name in OURS.values())
        pytest.skip(missing)
    for column, name in OURS.items():
        assert_column_filled(stdout, data, column, name)
        result = data["stacks"][name]
        assert result["info"]["handshake transports"] == [name.removeprefix("l2sess-")]
        for kind in ("handshake", "resumption"):
            l2, whole = result[f"{kind}_l2"], result[kind]
            # the exchange is part of the whole run it was measured in
            assert 0 < l2["p50_ms"] <= whole["p50_ms"] and l2["runs"] == whole["runs"]
        # a floor run beside every handshake; the exchange's span is part of the floor
        assert result["floor"]["runs"] == data["settings"]["handshakes"] == result["floor_span"]["runs"]
        assert 0 < result["floor_span"]["p50_ms"] < result["floor"]["p50_ms"]
    # ours against both references, wherever both have a figure
    columns, table = figures_table(stdout)
    ratios = [f"{o}/{ref}" for ref in ("TLS", "aioquic") for o in OURS]
    assert columns[-len(ratios):] == ratios, columns
    for cells in table.values():
        for ratio in ratios:
            ours, ref = ratio.split("/")
            both = "-" not in (cells[ours], cells["TLS/TCP" if ref == "TLS" else ref])
            assert (figure(cells[ratio]) > 0) if both else cells[ratio] == "-", (ratio, cells)
    # every goal has its figure, and says met or NOT met
    goals = data["goals"]
    assert len(goals) == 16 and sum(g["earlier"] for g in goals) == 6
    assert all(g["figure"] > 0 and isinstance(g["met"], bool) for g in goals), goals
    assert "\ngoal " in stdout and "goal (earlier, kept)" in stdout and "n/a" not in stdout


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
