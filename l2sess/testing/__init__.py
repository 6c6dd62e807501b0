"""Test doubles for the session API, part of the package (SPEC-018 §6.3):
simulated time and network (mock). The project's own rigs (relay, node
processes, the daemon) live outside it, in testbed/l2sess_testbed."""
