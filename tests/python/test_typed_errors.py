"""The typed errors as the public API raises them: every timeout is an
l2sess.Timeout (still a TimeoutError), InvalidDID is exported and is what a
malformed peer DID raises everywhere."""
import pytest

import l2sess
from l2sess import DecodeError, Identity, InvalidDID, SessionError, Timeout
from l2sess.did import public_key_from_did
from l2sess.node import Node


def test_timeout_is_a_session_error_and_a_timeout_error():
    assert issubclass(Timeout, SessionError) and issubclass(Timeout, TimeoutError)
    exc = Timeout("late", -3)
    assert str(exc) == "late" and exc.code == -3


def test_invalid_did_is_exported_and_a_decode_error():
    assert "InvalidDID" in l2sess.__all__ and l2sess.InvalidDID is InvalidDID
    assert issubclass(InvalidDID, DecodeError) and issubclass(InvalidDID, ValueError)
    for bad in ("did:web:example.com", "did:key:z0OIl", "did:key:z" + "1" * 60):
        with pytest.raises(InvalidDID):
            public_key_from_did(bad)


def test_node_raises_the_typed_errors():
    with Node(Identity.generate(), ("127.0.0.1", 0)) as node:
        with pytest.raises(Timeout):
            node.wait_for(lambda e: True, 0.05)  # nothing happens on a node with no peers
        for call in (lambda: node.add_peer("did:key:nope"), lambda: node.send("x", b"y"),
                     lambda: node.rotate("did:example:1"), lambda: node.export("")):
            with pytest.raises(InvalidDID):
                call()
