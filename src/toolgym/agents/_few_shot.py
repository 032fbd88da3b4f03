"""The ``few-shot`` strategy: native tool calling with example conversations in the prompt.

Demonstrations come from a JSONL file (``args.examples``). Each line is a
JSON object with a ``messages`` list: either a saved
:class:`~toolgym.runner.RolloutResult` (toolgym's message format) or plain
``{"messages": [...]}`` in OpenAI chat format (``tool_calls`` with
``function.name`` / ``function.arguments`` as JSON text). ``args.num_examples``
of them (default 3) are picked with a ``random.Random(args.seed or 0)``, kept
in file order, and appended to the policy as labelled transcripts.
"""

from __future__ import annotations

import json
import random
from functools import lru_cache
from pathlib import Path
from typing import Any

from toolgym._io import parse_json, read_text
from toolgym.agents._base import Agent, AgentContext, register_agent
from toolgym.agents._prompts import few_shot_system_prompt
from toolgym.agents._tool_calling import NATIVE_TOOL_ARGS, SAMPLING_ARGS, ToolCallingAgent
from toolgym.errors import ConfigError, DataError
from toolgym.messages import Message, ToolCall

__all__ = ["FewShotAgent", "load_demonstrations", "select_demonstrations"]

DEFAULT_NUM_EXAMPLES = 3
_ROLES = ("system", "user", "assistant", "tool")


def _text(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        # OpenAI content parts: keep the text ones.
        return "".join(p.get("text", "") for p in value if isinstance(p, dict)) or None
    raise DataError(f"{where}: message content must be text, got {type(value).__name__}")


def _tool_call(raw: Any, index: int, where: str) -> ToolCall:
    if not isinstance(raw, dict):
        raise DataError(f"{where}: a tool call must be an object")
    fn = raw["function"] if isinstance(raw.get("function"), dict) else raw
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise DataError(f"{where}: a tool call has no name")
    call_id = str(raw.get("id") or f"demo_call_{index}")
    args = fn.get("arguments")
    if args is None or isinstance(args, dict):
        return ToolCall(id=call_id, name=name, arguments=args or {})
    if isinstance(args, str):
        try:
            decoded = json.loads(args) if args.strip() else {}
        except (ValueError, RecursionError):
            decoded = None
        if isinstance(decoded, dict):
            return ToolCall(id=call_id, name=name, arguments=decoded)
        return ToolCall(id=call_id, name=name, raw_arguments=args,
                        parse_error="arguments are not a JSON object")
    raise DataError(f"{where}: tool call arguments must be an object or JSON text")


def parse_conversation(raw: Any, where: str) -> list[Message]:
    """Messages of one demonstration from a ``messages`` list in either format.

    Args:
        raw: The decoded ``messages`` value.
        where: ``file:line`` for error messages.

    Raises:
        DataError: when the list or one of its messages is malformed.
    """
    if not isinstance(raw, list) or not raw:
        raise DataError(f"{where}: expected a non-empty 'messages' list")
    names: dict[str, str] = {}
    out: list[Message] = []
    for i, m in enumerate(raw):
        at = f"{where}: message {i}"
        if not isinstance(m, dict):
            raise DataError(f"{at}: expected an object")
        role = m.get("role")
        if role not in _ROLES:
            raise DataError(f"{at}: unknown role {role!r}")
        calls = [_tool_call(c, k, at) for k, c in enumerate(m.get("tool_calls") or [])]
        names.update((c.id, c.name) for c in calls)
        tool_call_id = m.get("tool_call_id")
        name = m.get("name") if role == "tool" else None
        if role == "tool" and not name and tool_call_id in names:
            name = names[tool_call_id]
        out.append(Message(role=role, content=_text(m.get("content"), at),
                           tool_calls=calls or None,
                           tool_call_id=str(tool_call_id) if tool_call_id else None,
                           name=str(name) if name else None))
    return out


@lru_cache(maxsize=16)
def _load_cached(path: str, _mtime_ns: int, _size: int) -> tuple[tuple[Message, ...], ...]:
    demos: list[tuple[Message, ...]] = []
    for lineno, line in enumerate(read_text(path, "few-shot examples file").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        obj = parse_json(line, where)
        if not isinstance(obj, dict) or "messages" not in obj:
            raise DataError(f"{where}: expected an object with a 'messages' list")
        demos.append(tuple(parse_conversation(obj["messages"], where)))
    if not demos:
        raise DataError(f"{path}: the few-shot examples file holds no examples")
    return tuple(demos)


def load_demonstrations(path: str | Path) -> list[list[Message]]:
    """All demonstrations of a JSONL file (parsed once per file version).

    Raises:
        DataError: the file is missing, empty, or a line is malformed (the
            message names ``file:line``).
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: few-shot examples file not found")
    st = p.stat()
    return [list(d) for d in _load_cached(str(p), st.st_mtime_ns, st.st_size)]


def select_demonstrations(demos: list[list[Message]], k: int, seed: int) -> list[list[Message]]:
    """``k`` demonstrations picked with ``random.Random(seed)``, in file order."""
    if k >= len(demos):
        return list(demos)
    picked = sorted(random.Random(seed).sample(range(len(demos)), k))
    return [demos[i] for i in picked]


class FewShotAgent(ToolCallingAgent):
    """Tool calling with example conversations appended to the policy.

    ``ctx.args``: ``examples`` (JSONL path, required), ``num_examples``
    (default 3), ``seed`` (selection seed, default 0; also forwarded to the
    model like any sampling parameter), plus sampling parameters and
    ``tool_choice`` / ``parallel_tool_calls``.
    """

    allowed_args = SAMPLING_ARGS | NATIVE_TOOL_ARGS | {"examples", "num_examples"}
    strategy_name = "few-shot"

    def __init__(self, ctx: AgentContext) -> None:
        super().__init__(ctx)
        path = ctx.args.get("examples")
        if not isinstance(path, str | Path) or not str(path):
            raise ConfigError("agent 'few-shot': args.examples must name a JSONL file of "
                              "example conversations")
        num = ctx.args.get("num_examples", DEFAULT_NUM_EXAMPLES)
        if isinstance(num, bool) or not isinstance(num, int) or num < 0:
            raise ConfigError(f"agent 'few-shot': num_examples must be an integer >= 0, "
                              f"got {num!r}")
        seed = ctx.args.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ConfigError(f"agent 'few-shot': seed must be an integer, got {seed!r}")
        self.demonstrations = select_demonstrations(load_demonstrations(path), num, seed or 0)

    def system_prompt(self, policy: str) -> str:
        """The policy followed by the selected example conversations."""
        return few_shot_system_prompt(policy, self.demonstrations)


@register_agent("few-shot")
def _few_shot(ctx: AgentContext) -> Agent:
    """Native tool calling with example conversations (args: examples=FILE.jsonl) in the prompt."""
    return FewShotAgent(ctx)
