"""Test rigs, not needed by a deployed node: simulated time and network
(mock), a real-socket impairment relay (relay), a node in a process of its
own (procnode)."""
