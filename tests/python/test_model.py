"""model/recovery.pml (the SPIN model of session recovery) against the C engine.

The model's session states must be the engine's (csrc/engine/state.c, read through
l2sess._core as tests/python/test_state_machine.py does), and every
transition the model can take must be one of the engine's: the model changes
a state only through goto_state / goto_half, which assert ALLOWED(from, to)
(`make model` checks that assertion in every reachable state), and this test
requires ALLOWED to be a subset of the engine's transition table. SPIN itself
is not run here (`make model` does).
"""
import re
from pathlib import Path

import pytest

from l2sess import _core

MODEL = Path(__file__).resolve().parents[2] / "model" / "recovery.pml"
END = "[*]"
MODEL_END = "state_end"  # the model's name for the engine's "[*]"


@pytest.fixture(scope="module")
def text():
    return MODEL.read_text(encoding="utf-8")


def engine_name(name):
    return END if name == MODEL_END else name


def model_states(text):
    """The names of the model's session-state mtype (the one that starts with idle)."""
    for body in re.findall(r"^mtype\s*=\s*\{([^}]*)\}", text, re.M):
        names = [n.strip() for n in body.split(",")]
        if names[0] == "idle":
            return names
    raise AssertionError(f"no mtype of session states in {MODEL.name}")


def allowed_pairs(text):
    """(from, to) pairs of the model's ALLOWED(f, t) macro, engine names."""
    m = re.search(r"^#define ALLOWED\(f, t\) \((.*?)\)\n\n", text, re.M | re.S)
    assert m, f"no ALLOWED(f, t) macro in {MODEL.name}"
    body = m.group(1)
    pairs = re.findall(r"\(f == (\w+) && t == (\w+)\)", body)
    # nothing else in the macro: one pair per line, joined by ||
    assert len(pairs) == body.count("&&"), "unparsed term in ALLOWED"
    return [(engine_name(a), engine_name(b)) for a, b in pairs]


def code(text):
    """The model without comments."""
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def test_model_states_are_the_engine_states(text):
    """Same names, same order as enum l2s_state, the end ([*]) last."""
    states = [engine_name(n) for n in model_states(text)]
    assert states == list(_core.STATE_NAMES)
    assert _core.STATE_NAMES[-1] == END


def test_model_transitions_are_engine_transitions(text):
    pairs = allowed_pairs(text)
    assert pairs, "ALLOWED is empty"
    assert len(pairs) == len(set(pairs)), "ALLOWED repeats a transition"
    engine = set(_core.transition_table())
    outside = [p for p in pairs if p not in engine]
    assert not outside, f"the model takes transitions the engine refuses: {outside}"


def test_state_changes_are_checked_against_allowed(text):
    """goto_state / goto_half assert ALLOWED, and every state they are asked
    to reach is one that some allowed transition reaches."""
    src = code(text)
    for name, var in (("goto_state", "st"), ("goto_half", "hst")):
        m = re.search(r"inline %s\(p, to\) \{(.*?)\n\}" % name, src, re.S)
        assert m, f"no inline {name}"
        assert f"assert(ALLOWED({var}[p], to));" in m.group(1)
        assert f"{var}[p] = to" in m.group(1)
    states = set(model_states(text))
    targets = {engine_name(t) for t in re.findall(r"(?<!inline )goto_(?:state|half)\(p, (\w+)\)", src)}
    assert targets, "the model makes no state change"
    assert targets <= {engine_name(s) for s in states}
    reachable = {b for _, b in allowed_pairs(text)}
    assert targets <= reachable, f"targets no allowed transition reaches: {targets - reachable}"


# Writes to a state variable that are not a transition: a session object that
# begins (init, a restored node's new session, a new half-open one), ends
# (the half-open one is gone) or takes over (a confirmed half-open session
# becomes the node's main session, after its own goto_half to established).
NOT_TRANSITIONS = {
    "st[0] = established": "init: both sides start established",
    "st[1] = established": "init",
    "st[p] = idle": "crash: the restored session is a new object (then idle -> handshake_initiated)",
    "st[p] = established": "adopt_half: the confirmed half-open session replaces the main one",
    "hst[0] = state_end": "init: no half-open session",
    "hst[1] = state_end": "init",
    "hst[p] = idle": "a new half-open session (then idle -> handshake_received)",
    "hst[p] = state_end": "the half-open session became the main one, or none",
    "st[p] = to": "goto_state",
    "hst[p] = to": "goto_half",
}


def test_no_state_change_bypasses_the_check(text):
    writes = re.findall(r"\b(h?st\[\w+\] = \w+)", code(text))
    unknown = sorted(set(writes) - set(NOT_TRANSITIONS))
    assert not unknown, f"state variables written outside goto_state/goto_half: {unknown}"
