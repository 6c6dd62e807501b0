"""python -m l2sess.node: the command-line node (l2sess.node.cli)."""
import sys

from l2sess.node.cli import main

sys.exit(main())
