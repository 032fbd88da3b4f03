"""Tool-call parsing: JSON arguments, and tool calls a server left in the text.

Two kinds of damage are common with open-weight models behind
OpenAI-compatible servers:

* the arguments of a native tool call are not valid JSON. The call is kept
  with ``arguments={}``, the raw text and a parse error, so the environment
  can answer with a tool error and the model can try again;
* the server did not run a tool parser, so the call arrives as text: Hermes /
  Qwen style ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``
  blocks, or a bare JSON object ``{"name": ..., "arguments": {...}}`` as the
  whole reply. :func:`recover_text_tool_calls` turns those back into calls.

Everything here uses :func:`json.loads` only; nothing is ever evaluated.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from typing import Any

from toolgym._io import loads_json
from toolgym.messages import ToolCall

__all__ = ["make_tool_call", "parse_arguments", "recover_text_tool_calls"]

_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_FENCE = re.compile(r"\A```(?:json)?\s*(.*?)\s*```\Z", re.DOTALL)
_NAME = re.compile(r'"name"\s*:\s*"([^"\\]+)"')


def parse_arguments(raw: str | dict[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    """Parse tool-call arguments.

    Args:
        raw: The arguments as the model wrote them: JSON text, an already
            decoded object (some servers send one), or None.

    Returns:
        ``(arguments, error)``: the decoded object and None, or ``{}`` and a
        short description of what is wrong.
    """
    if raw is None:
        return {}, None
    if isinstance(raw, dict):
        return raw, None
    text = raw.strip()
    if not text:
        # Servers send "" for calls without arguments.
        return {}, None
    try:
        value = loads_json(text)
    except json.JSONDecodeError as exc:
        return {}, f"arguments are not valid JSON: {exc.msg} (line {exc.lineno} col {exc.colno})"
    if isinstance(value, str):
        # Some models encode the object twice; one extra decode is harmless.
        with contextlib.suppress(json.JSONDecodeError):
            value = loads_json(value)
    if not isinstance(value, dict):
        return {}, f"arguments must be a JSON object, got {type(value).__name__}"
    return value, None


def make_tool_call(call_id: str, name: str, raw: str | dict[str, Any] | None) -> ToolCall:
    """A :class:`ToolCall`, keeping the raw text when the arguments do not parse."""
    arguments, error = parse_arguments(raw)
    if error is None:
        return ToolCall(id=call_id, name=name, arguments=arguments)
    raw_text = raw if isinstance(raw, str) else json.dumps(raw)
    return ToolCall(id=call_id, name=name, arguments={}, raw_arguments=raw_text,
                    parse_error=error)


def _call_id(text: str, index: int) -> str:
    # Deterministic ids keep cached and replayed conversations identical.
    digest = hashlib.sha256(f"{index}:{text}".encode()).hexdigest()[:20]
    return f"call_{digest}"


def _call_from_object(obj: Any, source: str, index: int) -> ToolCall | None:
    if not isinstance(obj, dict):
        return None
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return None
    raw = obj.get("arguments", obj.get("parameters", {}))
    if not isinstance(raw, str | dict):
        raw = json.dumps(raw)
    return make_tool_call(_call_id(source, index), name, raw)


def _calls_from_block(block: str, index: int) -> list[ToolCall]:
    text = block.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        value = loads_json(text)
    except json.JSONDecodeError as exc:
        # The name is often still readable; a call with a parse error lets the
        # environment tell the model what went wrong.
        m = _NAME.search(text)
        if not m:
            return []
        return [ToolCall(id=_call_id(text, index), name=m.group(1), arguments={},
                         raw_arguments=text, parse_error=f"tool call is not valid JSON: {exc.msg}")]
    items = value if isinstance(value, list) else [value]
    calls = [_call_from_object(item, text, index + i) for i, item in enumerate(items)]
    return [c for c in calls if c is not None]


def recover_text_tool_calls(
    content: str | None, tool_names: set[str] | None = None
) -> tuple[str | None, list[ToolCall]]:
    """Find tool calls written as text in an assistant reply.

    Args:
        content: The reply text.
        tool_names: Names of the offered tools. A bare JSON reply is only
            taken as a call when its name is one of them (a JSON answer is
            otherwise legitimate text); ``<tool_call>`` blocks are explicit and
            accepted whatever the name. None accepts any name.

    Returns:
        ``(remaining_text, calls)``: the text outside the recovered blocks
        (None when nothing is left) and the calls, in order. When nothing is
        recovered the content comes back unchanged with an empty list.
    """
    if not content:
        return content, []
    if "<tool_call>" in content:
        calls: list[ToolCall] = []
        for block in _BLOCK.findall(content):
            calls.extend(_calls_from_block(block, len(calls)))
        if calls:
            rest = _BLOCK.sub("", content).strip()
            return (rest or None), calls
        return content, []
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    if not text.startswith(("{", "[")):
        return content, []
    try:
        value = loads_json(text)
    except json.JSONDecodeError:
        return content, []
    items = value if isinstance(value, list) else [value]
    if not items or not all(
        isinstance(it, dict) and "name" in it and ("arguments" in it or "parameters" in it)
        for it in items
    ):
        return content, []
    found = [_call_from_object(it, text, i) for i, it in enumerate(items)]
    calls = [c for c in found if c is not None]
    if len(calls) != len(items):
        return content, []
    if tool_names is not None and any(c.name not in tool_names for c in calls):
        return content, []
    return None, calls
