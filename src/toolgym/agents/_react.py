"""The ``react`` and ``act`` strategies: tools described in text, actions parsed from text.

The model is called without native tools. Its system prompt holds the reply
protocol, the tool list (name, description, JSON Schema parameters) and the
policy; it answers with::

    Thought:
    <reasoning>                      (react only)
    Action:
    {"name": "<tool or respond>", "arguments": {...}}

The canonical conversation is translated to this protocol on every call:
earlier assistant tool calls become ``Thought``/``Action`` text (one action
per assistant turn; a message with several calls is split), tool results
become user messages ``API output: <result>``, and agent text becomes a
``respond`` action. Replies this agent produced itself are rendered back
exactly as it normalised them, thought included.

Parsing uses :func:`json.loads` only, never ``eval``: the text after
``Action:`` is decoded as it is, else the first balanced ``{...}`` object in
it (which copes with code fences and trailing prose). Python-style single
quotes are therefore *not* accepted.

The resulting canonical message carries the thought in ``reasoning`` (react;
``None`` for act) plus one :class:`~toolgym.messages.ToolCall` for a tool
action, or ``content=<text>`` and no calls for ``respond``. **A reply that cannot be
parsed** (no action object, invalid JSON, no tool name, a ``respond``
without text) **becomes an assistant text message holding the raw reply**:
the user simulator sees it verbatim and the conversation goes on, exactly as
if the agent had said something unhelpful. Format failures are thus scored
as the agent's behaviour, not hidden by the harness.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from toolgym._io import loads_json
from toolgym.agents._base import Agent, AgentContext, AgentReply, register_agent
from toolgym.agents._prompts import (
    RESPOND_ACTION,
    TextMode,
    action_json,
    react_system_prompt,
    respond_json,
)
from toolgym.agents._tool_calling import (
    SAMPLING_ARGS,
    check_args,
    reply_from_response,
    sampling_params,
    split_system,
)
from toolgym.messages import Message, ToolCall

__all__ = ["ParsedAction", "ReActAgent", "find_json_object", "parse_action"]

# "Action:" at the start of a line (tolerating markdown decoration), else anywhere.
_ACTION_LINE = re.compile(r"^[ \t>*#_]*action[ \t*_]*:[ \t*_]*", re.IGNORECASE | re.MULTILINE)
_ACTION_INLINE = re.compile(r"\bAction\s*:")
_THOUGHT_LEAD = re.compile(r"\A[ \t>*#_]*thought[ \t*_]*:[ \t*_]*", re.IGNORECASE)
_MAX_CANDIDATES = 8
API_OUTPUT_PREFIX = "API output: "


@dataclass(frozen=True)
class ParsedAction:
    """One action decoded from a ReAct/Act reply."""

    thought: str | None
    name: str
    arguments: dict[str, Any]
    raw_arguments: str | None = None
    parse_error: str | None = None


def _balanced_objects(text: str) -> Iterator[str]:
    """Top-level ``{...}`` spans of ``text``, honouring double-quoted strings."""
    start = text.find("{")
    while start != -1:
        depth = 0
        in_str = escaped = False
        end = -1
        for j in range(start, len(text)):
            c = text[j]
            if in_str:
                if escaped:
                    escaped = False
                elif c == "\\":
                    escaped = True
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    end = j
                    break
        if end == -1:
            return
        yield text[start:end + 1]
        start = text.find("{", end + 1)


def find_json_object(text: str, require_name: bool = False) -> dict[str, Any] | None:
    """Decode ``text`` as a JSON object, else its first decodable balanced ``{...}``.

    Args:
        text: Model output.
        require_name: Only accept objects with a string ``name`` key.

    Returns:
        The decoded object, or None. Nothing is ever evaluated as Python.
    """

    def ok(value: Any) -> bool:
        return isinstance(value, dict) and (
            not require_name or isinstance(value.get("name"), str))

    try:
        value = loads_json(text.strip())
    except ValueError:
        pass
    else:
        return value if ok(value) else None
    for i, candidate in enumerate(_balanced_objects(text)):
        if i >= _MAX_CANDIDATES:
            break
        try:
            value = loads_json(candidate)
        except ValueError:
            continue
        if ok(value):
            return value
    return None


def _split_thought(text: str) -> tuple[str | None, str]:
    """(thought, action text); without an Action marker the whole text is searched."""
    m = _ACTION_LINE.search(text) or _ACTION_INLINE.search(text)
    if m is None:
        return None, text
    thought = _THOUGHT_LEAD.sub("", text[:m.start()].strip()).strip()
    return thought or None, text[m.end():]


def _decode_arguments(value: Any) -> tuple[dict[str, Any], str | None, str | None]:
    """(arguments, raw text, error) from the ``arguments`` member of an action."""
    if value is None:
        return {}, None, None
    if isinstance(value, dict):
        return value, None, None
    if isinstance(value, str):
        try:
            decoded = loads_json(value) if value.strip() else {}
        except ValueError as exc:
            return {}, value, f"arguments are not valid JSON: {exc}"
        if isinstance(decoded, dict):
            return decoded, None, None
        return {}, value, "arguments must be a JSON object"
    return {}, json.dumps(value), f"arguments must be a JSON object, got {type(value).__name__}"


def parse_action(text: str) -> ParsedAction | None:
    """Decode a ReAct/Act reply into its thought and single action.

    Args:
        text: The model's raw reply.

    Returns:
        The first action found, or None when the reply has no decodable
        action object with a tool name.
    """
    thought, rest = _split_thought(text)
    obj = find_json_object(rest, require_name=True)
    if obj is None:
        return None
    arguments, raw, error = _decode_arguments(obj.get("arguments"))
    return ParsedAction(thought=thought, name=obj["name"].strip(), arguments=arguments,
                        raw_arguments=raw, parse_error=error)


def _respond_text(action: ParsedAction, obj_fallback: dict[str, Any]) -> str | None:
    content = action.arguments.get("content", obj_fallback.get("content"))
    if isinstance(content, str):
        return content
    strings = [v for v in action.arguments.values() if isinstance(v, str)]
    # A lone text argument under another key ("message", "text") is still the answer.
    return strings[0] if len(strings) == 1 else None


class ReActAgent(Agent):
    """Text-protocol agent (``react`` with thoughts, ``act`` without).

    ``ctx.args`` may hold sampling parameters only.
    """

    allowed_args: frozenset[str] = SAMPLING_ARGS

    def __init__(self, ctx: AgentContext, mode: TextMode = "react") -> None:
        super().__init__(ctx)
        self.mode: TextMode = mode
        check_args(ctx.args, self.allowed_args, f"agent {mode!r}")
        self.params = sampling_params(ctx.args, SAMPLING_ARGS)
        # Exact text of the replies this agent produced, keyed by message identity,
        # so history is shown to the model the way it (normalised) wrote it.
        self._rendered: dict[str, str] = {}

    @staticmethod
    def _key(msg: Message) -> str:
        if msg.tool_calls:
            return "calls:" + ",".join(c.id for c in msg.tool_calls)
        return "text:" + (msg.content or "")

    def _format(self, thought: str | None, action: str) -> str:
        if self.mode == "react" and thought:
            return f"Thought:\n{thought}\nAction:\n{action}"
        return f"Action:\n{action}"

    def to_text_conversation(self, messages: list[Message]) -> list[Message]:
        """The canonical conversation rewritten in the text protocol."""
        policy, rest = split_system(messages, self.ctx.system_prompt)
        out = [Message.system(react_system_prompt(policy, self.ctx.tools, self.mode))]
        i = 0
        while i < len(rest):
            msg = rest[i]
            i += 1
            if msg.role == "assistant" and msg.tool_calls:
                results: dict[str, Message] = {}
                while i < len(rest) and rest[i].role == "tool":
                    results.setdefault(rest[i].tool_call_id or f"#{i}", rest[i])
                    i += 1
                cached = self._rendered.get(self._key(msg))
                for k, call in enumerate(msg.tool_calls):
                    if k == 0 and cached is not None:
                        text = cached
                    else:
                        # A foreign (native tool-calling) turn may carry its
                        # thought as content.
                        thought = (msg.reasoning or msg.content) if k == 0 else None
                        text = self._format(thought, action_json(call))
                    out.append(Message.assistant(text))
                    result = results.pop(call.id, None)
                    if result is not None:
                        out.append(Message.user(API_OUTPUT_PREFIX + (result.content or "")))
                # Results answering no call of this message still reach the model.
                out.extend(Message.user(API_OUTPUT_PREFIX + (r.content or ""))
                           for r in results.values())
            elif msg.role == "assistant":
                if not msg.content:
                    continue
                cached = self._rendered.get(self._key(msg))
                if cached is None:
                    cached = self._format(None, respond_json(msg.content))
                out.append(Message.assistant(cached))
            elif msg.role == "tool":
                out.append(Message.user(API_OUTPUT_PREFIX + (msg.content or "")))
            elif msg.role == "user":
                out.append(Message.user(msg.content or ""))
            else:
                out.append(msg)
        return out

    def _message_from_text(self, raw: str, call_id: str) -> Message:
        action = parse_action(raw)
        if action is not None and action.name == RESPOND_ACTION:
            obj = find_json_object(_split_thought(raw)[1], require_name=True) or {}
            text = _respond_text(action, obj)
            if text is not None and text.strip():
                msg = Message.assistant(text)
                if self.mode == "react":
                    msg.reasoning = action.thought
                self._rendered[self._key(msg)] = self._format(action.thought, respond_json(text))
                return msg
            action = None
        if action is None or not action.name:
            # Unparseable: the user sees the raw reply (documented behaviour).
            msg = Message.assistant(raw.strip())
            self._rendered[self._key(msg)] = raw.strip()
            return msg
        call = ToolCall(id=call_id, name=action.name, arguments=action.arguments,
                        raw_arguments=action.raw_arguments, parse_error=action.parse_error)
        msg = Message.assistant(tool_calls=[call])
        if self.mode == "react":
            msg.reasoning = action.thought
        self._rendered[self._key(msg)] = self._format(action.thought, action_json(call))
        return msg

    async def act(self, messages: list[Message]) -> AgentReply:
        """Ask the model for one Thought/Action and turn it into a canonical message."""
        prompt = self.to_text_conversation(messages)
        response = await self.model.generate(prompt, None, **self.params)
        raw = response.message.content or ""
        calls = response.message.tool_calls or []
        if calls and parse_action(raw) is None:
            # Some providers turn a bare JSON action into a native call; undo that.
            raw = self._format(raw.strip() or None, action_json(calls[0]))
        # The conversation length makes call ids unique and reproducible.
        message = self._message_from_text(raw, f"{self.mode}_{len(messages)}")
        return reply_from_response(response, message)


@register_agent("react")
def _react(ctx: AgentContext) -> Agent:
    """Tools described in text; each turn a thought, then one JSON action (ReAct)."""
    return ReActAgent(ctx, "react")


@register_agent("act")
def _act(ctx: AgentContext) -> Agent:
    """Tools described in text; each turn one JSON action, no thought (Act)."""
    return ReActAgent(ctx, "act")
