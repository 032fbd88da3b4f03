"""Importing this module registers the built-in model providers."""

from __future__ import annotations

from toolgym.models import _litellm, _openai, _oracle, _scripted

__all__: list[str] = []

# The imports above register "openai", "litellm", "scripted" and "oracle";
# litellm itself is only imported when a litellm model is built.
_REGISTERED = (_litellm, _openai, _oracle, _scripted)
