"""Importing this module registers the built-in judges."""

from __future__ import annotations

from toolgym.judges import _graph_judge, _in_context, _nl, _rater

__all__: list[str] = []

# The imports above register "graph", "in-context", "nl" and "rater".
_REGISTERED = (_graph_judge, _in_context, _nl, _rater)
