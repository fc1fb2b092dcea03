"""tlcore: the transfer-learning engine behind the studio (no UI code here)."""

from tlcore.errors import TLError

__version__ = "0.1.0"

__all__ = ["TLError", "__version__"]
