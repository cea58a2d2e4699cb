"""The ASTM F3548-21 surface: Deconflict as a UTM Discovery and Synchronization Service (issue 8)."""

from __future__ import annotations

from .auth import F3548Config
from .router import router

__all__ = ["F3548Config", "router"]
