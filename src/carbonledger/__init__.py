"""carbonledger: honest energy and carbon accounting for machine-learning work."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
