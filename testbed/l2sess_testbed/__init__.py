"""The project's test rigs, not part of the l2sess package: a real-socket
impairment relay (relay), a node in a process of its own (procnode), the C
daemon built from this checkout (daemon) and under qemu-user (hil).

The test doubles of the session API (simulated clock and network) are
public and stay in the package: l2sess.testing.mock."""
