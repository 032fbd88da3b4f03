"""Imports every built-in user simulator so that it registers itself."""

from toolgym.users import _human, _llm, _scripted

__all__ = ["_human", "_llm", "_scripted"]
