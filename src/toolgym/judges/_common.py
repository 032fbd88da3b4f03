"""What model-based judges share: the context they show, reply parsing, retries.

Judges ask their model for JSON (or a bracketed verdict), retry once with the
parse error when the reply is unusable, and raise
:class:`~toolgym.models.TerminalModelError` carrying the usage of the failed
attempts when it stays unusable: the scoring records a judge error, never a
pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from toolgym._io import loads_json
from toolgym.domains._toolkit import ToolKind
from toolgym.judges._base import JudgeOutputError
from toolgym.messages import Message, ToolCall, Usage
from toolgym.models._base import Model, TerminalModelError

__all__ = [
    "ToolEvent",
    "ask_until_parsed",
    "extract_json",
    "tool_events",
    "tool_kinds",
    "tools_summary",
    "user_goal",
]

T = TypeVar("T")


def extract_json(text: str) -> Any:
    """The JSON object in a model reply (a fenced block, or the outermost braces)."""
    text = text.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fence:
        text = fence.group(1)
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise JudgeOutputError("no JSON object in the reply")
    try:
        return loads_json(text[start: end + 1])
    except ValueError as exc:
        raise JudgeOutputError(f"invalid JSON ({exc})") from None


async def ask_until_parsed(model: Model, prompt: list[Message], parse: Callable[[str], T],
                           attempts: int = 2, what: str = "judge",
                           **params: Any) -> tuple[T, Usage, str]:
    """Ask ``model`` until ``parse`` accepts its reply (at most ``attempts`` times).

    Returns:
        ``(parsed, usage of every attempt, raw reply text)``.

    Raises:
        TerminalModelError: no reply parsed; its ``usage`` is what the attempts cost.
    """
    usage = Usage()
    last = ""
    for _ in range(max(1, attempts)):
        response = await model.generate(prompt, **params)
        usage = usage + response.usage
        text = response.message.content or ""
        try:
            return parse(text), usage, text
        except (JudgeOutputError, ValueError, KeyError, TypeError) as exc:
            last = str(exc)
            prompt = [*prompt, Message(role="assistant", content=text),
                      Message.user(f"Your answer could not be used: {exc}. Answer again, "
                                   "exactly in the requested format.")]
    error = TerminalModelError(f"{what} gave no usable verdict: {last}")
    error.usage = usage
    raise error


@dataclass(frozen=True)
class ToolEvent:
    """A tool call of the conversation with its outcome."""

    index: int  # message index of the assistant message that made the call
    call: ToolCall
    result: str | None
    failed: bool
    kind: ToolKind | None


def tool_events(messages: Sequence[Message], domain: Any) -> list[ToolEvent]:
    """Every tool call in order, with its result and whether it failed."""
    kinds = tool_kinds(domain)
    answers = {m.tool_call_id: m for m in messages if m.role == "tool" and m.tool_call_id}
    out: list[ToolEvent] = []
    for i, m in enumerate(messages):
        if m.role != "assistant":
            continue
        for c in m.tool_calls or []:
            answer = answers.get(c.id)
            failed = c.parse_error is not None or answer is None or answer.error
            out.append(ToolEvent(i, c, answer.content if answer else None, failed,
                                 kinds.get(c.name)))
    return out


def tool_kinds(domain: Any) -> dict[str, ToolKind]:
    """Tool name -> kind (READ, WRITE, GENERIC) of a domain's tools."""
    toolkit = getattr(domain, "toolkit_type", None)
    if toolkit is None:
        return {}
    return {name: spec[0] for name, spec in toolkit.tool_specs().items()}


def tools_summary(domain: Any) -> str:
    """The domain's tools as short text: name(kind): description; parameters."""
    toolkit = getattr(domain, "toolkit_type", None)
    if toolkit is None:
        return "(no tool definitions)"
    lines = []
    for name, (kind, desc, params) in sorted(toolkit.tool_specs().items()):
        props = ", ".join((params.get("properties") or {}).keys())
        first = (desc or "").strip().splitlines()[0] if desc else ""
        lines.append(f"- {name} [{kind.value}]({props}): {first}")
    return "\n".join(lines)


def user_goal(task: Any) -> str:
    """What the simulated user wanted, from the task's user scenario."""
    scenario = getattr(task, "user_scenario", None)
    instructions = getattr(scenario, "instructions", None)
    if instructions is None:
        return "(unknown)"
    if isinstance(instructions, str):
        return instructions
    parts = []
    for key in ("reason_for_call", "known_info", "unknown_info", "task_instructions"):
        value = getattr(instructions, key, None)
        if value:
            parts.append(f"{key.replace('_', ' ')}: {value}")
    return "\n".join(parts) or json.dumps(instructions.model_dump(mode="json"))


async def gather_votes(votes: int, one: Callable[[], Awaitable[T]]) -> list[T]:
    """Run ``one`` ``votes`` times concurrently."""
    import asyncio

    return list(await asyncio.gather(*(one() for _ in range(max(1, votes)))))
