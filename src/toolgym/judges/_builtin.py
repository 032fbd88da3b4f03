"""Importing this module registers the built-in judges."""

from __future__ import annotations

import toolgym.judges._graph_judge  # noqa: F401  (registers "graph")

__all__: list[str] = []
