"""Imports every built-in agent strategy so that it registers itself."""

from toolgym.agents import _few_shot, _planner, _react, _tool_calling

__all__ = ["_few_shot", "_planner", "_react", "_tool_calling"]
