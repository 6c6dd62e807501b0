"""The state machine of docs/STATE_MACHINE.md against the C engine.

The mermaid diagram in the doc, the doc's transition table and the table the
C engine exports (and enforces) must be the same set of (from, to) pairs,
ignoring the initial `[*] --> idle`; every other pair of the eight states
(and [*]) must raise InvalidState through the binding that asks the engine.
"""
import itertools
import re
from pathlib import Path

import pytest

from l2sess import InvalidState, State, _core
from l2sess import session as session_mod

DOC = Path(__file__).resolve().parents[2] / "docs" / "STATE_MACHINE.md"
STATES = ["idle", "handshake_initiated", "handshake_received", "established",
          "degraded", "rotating", "suspended", "failed"]
END = "[*]"
ARROW = re.compile(r"^\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)\s*(?::\s*(.*))?$")


def _doc_text():
    return DOC.read_text(encoding="utf-8")


def mermaid_transitions(text):
    """(from, to) pairs of the one stateDiagram-v2 block; [*] stays '[*]'."""
    blocks = re.findall(r"```mermaid\n(.*?)```", text, re.S)
    assert len(blocks) == 1, f"expected one mermaid block in {DOC.name}, found {len(blocks)}"
    lines = [ln.strip() for ln in blocks[0].splitlines() if ln.strip() and not ln.strip().startswith("%%")]
    assert lines[0] == "stateDiagram-v2", lines[0]
    pairs = []
    for ln in lines[1:]:
        m = ARROW.match(ln)
        assert m, f"unparsed mermaid line: {ln!r}"
        pairs.append((m.group(1), m.group(2)))
    return pairs


def doc_table_transitions(text):
    """(from, to) pairs of the markdown table under '## Transitions'."""
    section = text.split("## Transitions", 1)[1].split("\n## ", 1)[0]
    pairs = []
    for ln in section.splitlines():
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].startswith("`"):
            continue
        pairs.append((cells[0].strip("`"), cells[1].strip("`")))
    assert pairs, "no rows in the doc's transition table"
    return pairs


def engine_transitions():
    """The C table (l2s_transition_table) through the binding, as state names."""
    return list(_core.transition_table())


def test_python_table_is_the_engine_table():
    """l2sess.transition_table() is the C table with State members (None for [*])."""
    py = [(a.value, END if b is None else b.value) for a, b in session_mod.transition_table()]
    assert py == engine_transitions()
    assert [s.value for s in State] == STATES


def test_mermaid_is_well_formed():
    pairs = mermaid_transitions(_doc_text())
    assert pairs.count(("[*]", "idle")) == 1
    names = {s for p in pairs for s in p}
    assert names == set(STATES) | {END}, names ^ (set(STATES) | {END})
    assert len(pairs) == len(set(pairs)), "a transition is drawn twice"


def test_mermaid_equals_engine_table():
    drawn = set(mermaid_transitions(_doc_text())) - {(END, "idle")}
    engine = engine_transitions()
    assert len(engine) == len(set(engine)), "the engine's table repeats a transition"
    assert drawn == set(engine), f"only drawn: {drawn - set(engine)}; only in C: {set(engine) - drawn}"


def test_doc_table_equals_engine_table():
    assert set(doc_table_transitions(_doc_text())) == set(engine_transitions())


def test_mermaid_matches_spec_section_3():
    """The doc's diagram is the spec's diagram (SPEC-018 §3.2), label for label."""
    spec = Path(__file__).resolve().parents[3] / "shared" / "spec" / "SPEC-018-l2-session-manager.md"
    if not spec.exists():
        pytest.skip(f"{spec} not present")

    def arrows(text):
        block = re.findall(r"```mermaid\n(.*?)```", text, re.S)[0]
        return sorted(ln.strip() for ln in block.splitlines() if "-->" in ln)

    assert arrows(_doc_text()) == arrows(spec.read_text(encoding="utf-8"))


ALL_PAIRS = list(itertools.product(STATES + [END], STATES + [END]))


@pytest.mark.parametrize("src,dst", ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
def test_every_pair_checked_by_engine(src, dst):
    """The 81 pairs of the eight states and [*]: the diagram's transitions pass
    l2s_transition_allowed, every other one (the initial [*] -> idle included: a
    session is created in idle, it does not move there) raises InvalidState."""
    drawn = set(mermaid_transitions(_doc_text())) - {(END, "idle")}
    as_state = {END: None, **{n: State(n) for n in STATES}}
    if (src, dst) in drawn:
        session_mod.check_transition(src, dst)
        session_mod.check_transition(as_state[src], as_state[dst])
    else:
        with pytest.raises(InvalidState, match="transition"):
            session_mod.check_transition(src, dst)
        with pytest.raises(InvalidState):
            session_mod.check_transition(as_state[src], as_state[dst])


def test_unknown_state_is_not_a_transition_question():
    with pytest.raises(ValueError):
        session_mod.check_transition("idle", "connected")
    with pytest.raises(TypeError):
        session_mod.check_transition(State.IDLE, 3)
