"""Shared pytest set-up for the Python tests of l2sess.crypto.

Loads the public test vectors from tests/vectors/ (relative to this file) and
parametrizes any test that asks for one of the *_case arguments below, one
test case per vector with a readable id. Also registers the `slow` marker,
the `--runslow` option (or L2S_RUNSLOW=1) and the hypothesis profiles.
"""
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

VECTORS = Path(__file__).resolve().parent.parent / "vectors"

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "ci", parent=settings.get_profile("default"), derandomize=True, print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def load_vectors(name):
    """The parsed JSON of tests/vectors/<name>."""
    with open(VECTORS / name, encoding="utf-8") as f:
        return json.load(f)


# ---- the vector sets: name of the test argument -> [(id, case dict)] --------

def _acvp_keygen():
    data = load_vectors("mlkem768_acvp_keygen.json")
    return [(f"acvp-keygen-tc{t['tcId']}", t)
            for g in data["testGroups"] if g["parameterSet"] == "ML-KEM-768" for t in g["tests"]]


def _acvp_groups(function):
    data = load_vectors("mlkem768_acvp_encapdecap.json")
    return [g for g in data["testGroups"]
            if g["parameterSet"] == "ML-KEM-768" and g["function"] == function]


def _acvp_encaps():
    return [(f"acvp-encap-tc{t['tcId']}", t) for g in _acvp_groups("encapsulation") for t in g["tests"]]


def _acvp_decaps():
    cases = []
    for g in _acvp_groups("decapsulation"):
        for t in g["tests"]:
            tag = "modified" if t["reason"] == "modify ciphertext" else "valid"
            # the keys live at group level; give each case its own copy of them
            cases.append((f"acvp-decap-tc{t['tcId']}-{tag}", dict(t, ek=g["ek"], dk=g["dk"])))
    return cases


XWING_FILES = {
    "xwing_vectors.json": "xwing-draft10",
    "mlkem768_x25519_concrete_hybrid_kems_vectors.json": "xwing-hybridkems",
}


def _xwing():
    cases = []
    for name, prefix in XWING_FILES.items():
        for i, v in enumerate(load_vectors(f"xwing/{name}")):
            cases.append((f"{prefix}-{i}", dict(v, file=name, index=i)))
    return cases


def _blake3():
    data = load_vectors("blake3_test_vectors.json")
    cases = []
    for c in data["cases"]:
        for mode in ("hash", "keyed_hash", "derive_key"):
            cases.append((f"blake3-{mode}-len{c['input_len']}",
                          {"mode": mode, "input_len": c["input_len"], "out": c[mode],
                           "key": data["key"], "context": data["context_string"]}))
    return cases


def _rfc(section):
    return lambda: [(v["id"], v) for v in load_vectors("rfc_vectors.json")[section]]


CASES = {
    "acvp_keygen_case": _acvp_keygen,
    "acvp_encaps_case": _acvp_encaps,
    "acvp_decaps_case": _acvp_decaps,
    "xwing_case": _xwing,
    "blake3_case": _blake3,
    "aead_case": _rfc("chacha20_poly1305"),
    "x25519_case": _rfc("x25519"),
    "x25519_iter_case": _rfc("x25519_iterated"),
    "x25519_dh_case": _rfc("x25519_dh"),
    "ed25519_case": _rfc("ed25519"),
}

_loaded = {}


def vector_cases(argname):
    """[(id, case)] for one of the names in CASES, loaded once."""
    if argname not in _loaded:
        _loaded[argname] = CASES[argname]()
    return _loaded[argname]


def pytest_generate_tests(metafunc):
    for argname in CASES:
        if argname in metafunc.fixturenames:
            cases = vector_cases(argname)
            ids = [i for i, _ in cases]
            values = []
            for case_id, case in cases:
                marks = [pytest.mark.slow] if case.get("iterations", 0) >= 100_000 else []
                values.append(pytest.param(case, id=case_id, marks=marks))
            assert len(set(ids)) == len(ids), f"duplicate vector ids in {argname}"
            metafunc.parametrize(argname, values)


@pytest.fixture(scope="session", name="load_vectors")
def load_vectors_fixture():
    """load_vectors as a fixture, so test modules need not import conftest."""
    return load_vectors


@pytest.fixture(scope="session", name="vector_cases")
def vector_cases_fixture():
    return vector_cases


@pytest.fixture(scope="session")
def vector_set_names():
    """The names of every vector set (the *_case arguments)."""
    return tuple(CASES)


@pytest.fixture(scope="session")
def runslow(request):
    """True when slow tests must run whatever they cost: --runslow or L2S_RUNSLOW=1.

    (--runslow is known only when pytest starts in tests/python; the variable
    works from anywhere, e.g. `make pytest`.)"""
    return bool(request.config.getoption("--runslow", default=False)) or os.environ.get("L2S_RUNSLOW") == "1"


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="run `slow` tests even when their measured cost is above the budget")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "slow: long-running test; it runs by default when its measured cost fits the budget "
        "(see test_vectors.py), deselect with -m 'not slow', force with --runslow or L2S_RUNSLOW=1",
    )
