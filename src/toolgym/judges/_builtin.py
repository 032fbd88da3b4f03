"""Importing this module registers the built-in judges."""

from __future__ import annotations

__all__: list[str] = []
