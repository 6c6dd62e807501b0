"""The gateway node: Node (a node on real sockets, driven by the C event
loop), its command line (`python -m l2sess.node`, cli), node.toml (config),
the state folder (store) and its Prometheus metrics (metrics)."""
from l2sess.node.metrics import format_metrics
from l2sess.node.node import Address, LoopSettings, Node, NodeEvent, parse_address
from l2sess.node.status import NodeStatus, PeerStatus, SessionStatus

__all__ = ["Address", "LoopSettings", "Node", "NodeEvent", "NodeStatus", "PeerStatus", "SessionStatus",
           "format_metrics", "parse_address"]
