"""What every command needs: the settings and the warehouse they name."""

from __future__ import annotations

from ..control import open_warehouse

__all__ = ["open_warehouse"]
