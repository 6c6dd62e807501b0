"""l2sess: a post-quantum peer-to-peer session layer for edge gateways."""
__version__ = "0.1.0"
