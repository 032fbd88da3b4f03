"""The tool-sim model's prompt, and reading its answer.

The prompt is built from the tool's spec: a fixed system message (answer as
the tool would, consistently with the session, ``ERROR: ...`` for a failure),
then the tool section (the generic one, or the tool's own ``prompt``
template), the episode's earlier tool results, and the call itself as a JSON
block ``{"tool", "arguments", "answer": "full" | "partial"}``. The call block
is always last and always in that form, whatever the template, so any model
(including the offline ``oracle``) can read the call unambiguously.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from toolgym.messages import Message
from toolgym.simtools._cache import HistoryItem
from toolgym.simtools._spec import _PLACEHOLDER, SimTool

__all__ = ["SIM_SYSTEM", "parse_call_block", "parse_tool_output", "render_history",
           "sim_prompt"]

SIM_SYSTEM = """\
You simulate a software tool used by an AI assistant that is being tested. You get the \
tool's description and one call, and you answer with exactly what the tool would return \
for that call: no explanation, no commentary, no markdown fences around the output.
When you cannot know the real answer, make your best plausible guess. Stay consistent \
with the earlier results of this session: the same entity keeps the same facts, and \
whatever was created or sent earlier still exists.
Never mention that you are simulating. When the real tool would fail on this call (for \
example with one of its listed errors), answer with one line: ERROR: <message>"""

PARTIAL_NOTE = (
    "This time the tool returns only part of what was asked for: give a partial, "
    "incomplete result (fewer items, or some of the requested facts missing or cut off), "
    "as real tools sometimes do. Do not say that it is partial.")

#: Earlier results shown to the simulator, at most (the most recent ones).
HISTORY_LIMIT = 30
#: Characters of one earlier result shown to the simulator, at most.
HISTORY_CHARS = 1500

_CALL_BLOCK = re.compile(r"```json\s*(\{.*?\})\s*```", re.DOTALL)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def render_history(history: Sequence[HistoryItem]) -> str:
    """Earlier tool results as numbered lines (``(none)`` when there are none)."""
    shown = list(history)[-HISTORY_LIMIT:]
    if not shown:
        return "(none)"
    first = len(history) - len(shown) + 1
    lines = []
    for i, (name, args, content, error) in enumerate(shown, start=first):
        text = content if len(content) <= HISTORY_CHARS else content[:HISTORY_CHARS] + " [...]"
        lines.append(f"{i}. {name}({_json(args)}) -> {'[error] ' if error else ''}{text}")
    return "\n".join(lines)


def _tool_section(tool: SimTool) -> str:
    lines = [f"Name: {tool.name}", f"Description: {tool.description}",
             f"Parameters (JSON schema): {_json(tool.parameters)}"]
    if tool.returns:
        lines.append(f"A result looks like: {tool.returns}")
    if tool.result_schema:
        lines.append(f"Result JSON schema: {_json(tool.result_schema)}")
    if tool.errors:
        lines.append("Errors it may raise: " + "; ".join(tool.errors))
    return "\n".join(lines)


def _render_template(tool: SimTool, arguments: dict[str, Any], answer: str,
                     history: Sequence[HistoryItem]) -> str:
    assert tool.prompt is not None
    values: dict[str, str] = {
        "tool": tool.name, "description": tool.description, "arguments": _json(arguments),
        "returns": tool.returns, "errors": "; ".join(tool.errors) or "(none)",
        "history": render_history(history), "answer": answer,
    }
    for name in tool.argument_names:
        value = arguments.get(name)
        values[name] = value if isinstance(value, str) else ("" if value is None
                                                              else _json(value))
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), tool.prompt)


def sim_prompt(tool: SimTool, arguments: dict[str, Any], answer: str,
               history: Sequence[HistoryItem]) -> list[Message]:
    """The messages sent to the tool-sim model for one call.

    Args:
        tool: The tool's spec.
        arguments: The call's (already validated) arguments.
        answer: ``full``, or ``partial`` when a partial answer is injected.
        history: The episode's earlier tool results, in order.
    """
    if tool.prompt is not None:
        body = _render_template(tool, arguments, answer, history)
    else:
        body = (f"# Tool\n{_tool_section(tool)}\n\n"
                f"# Earlier tool results in this session\n{render_history(history)}")
    call = _json({"tool": tool.name, "arguments": arguments, "answer": answer})
    parts = [body, f"# Call\n```json\n{call}\n```"]
    if answer == "partial":
        parts.append(PARTIAL_NOTE)
    parts.append("Answer with the tool's output only.")
    return [Message.system(SIM_SYSTEM), Message.user("\n\n".join(parts))]


def parse_call_block(text: str) -> dict[str, Any] | None:
    """The call block of a tool-sim prompt (the last JSON block naming a tool), or None."""
    for match in reversed(_CALL_BLOCK.findall(text or "")):
        try:
            value = json.loads(match)
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("tool"), str):
            return value
    return None


_FENCE = re.compile(r"\A```[A-Za-z0-9_-]*\n(.*?)\n?```\Z", re.DOTALL)
_ERROR = re.compile(r"\AERROR\s*:\s*", re.IGNORECASE)


def parse_tool_output(text: str | None) -> tuple[str, bool]:
    """``(content, error)`` from the tool-sim model's reply.

    A reply wrapped in one markdown fence is unwrapped; ``ERROR: <message>``
    becomes the error result ``Error: <message>`` (how code tools fail).
    """
    out = (text or "").strip()
    fenced = _FENCE.match(out)
    if fenced:
        out = fenced.group(1).strip()
    match = _ERROR.match(out)
    if match:
        return "Error: " + (out[match.end():].strip() or "the tool failed"), True
    return out, False
