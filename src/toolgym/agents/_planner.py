"""The ``planner`` strategy: each turn one JSON step whose tool is one of the domain's.

The model is called without native tools and answers with one object::

    {"thought": "<why>", "tool": "<tool name or respond>", "arguments": {...}}

where ``tool`` is constrained to the domain's tool names plus ``respond``
(text for the user, ``{"content": ...}``). Where the endpoint supports it the
constraint is the decoder's: the request carries a JSON schema
(``response_format``, the ``tool`` member an ``enum``); otherwise, and always
as a check, the reply goes through a validated parse (a JSON object, a known
tool, an arguments object), and a reply that fails it is asked again with the
reason (``attempts``, default 2) before it becomes a text message holding the
raw reply, as for ``react``.

History is shown the way the ReAct strategy shows it (tool results as ``API
output:`` user messages), with earlier steps written back as planner JSON.

Arguments (``--agent-arg``): sampling parameters; ``structured`` (``auto``:
the schema for HTTP providers, dropped for the episode after the endpoint
refuses it; ``json_schema``: always; ``off``: never); ``attempts``.
"""

from __future__ import annotations

import json
from typing import Any

from toolgym._io import loads_json
from toolgym.agents._base import Agent, AgentContext, AgentReply, register_agent
from toolgym.agents._prompts import RESPOND_ACTION, describe_tools
from toolgym.agents._react import ReActAgent, find_json_object
from toolgym.agents._tool_calling import SAMPLING_ARGS, reply_from_response
from toolgym.errors import ConfigError
from toolgym.messages import Message, ToolCall, Usage
from toolgym.models._base import ModelResponse, TerminalModelError

__all__ = ["PlannerAgent", "planner_schema"]

_FORMAT = """\
# How to reply
You do not call tools directly. Every reply is exactly one JSON object, and nothing else:

{"thought": "<a short note on what you know and what you do next>", \
"tool": "<one tool name, or respond>", "arguments": {<the tool's arguments>}}

Rules:
- One step per reply; it is carried out before you write the next one.
- "tool" must be one of: %s.
- A tool's result comes back to you in a message starting with "API output:".
- To write to the user, use "tool": "respond" with "arguments": {"content": "<message>"}.
"""

#: Providers whose endpoints may take a JSON-schema ``response_format``.
_HTTP_PROVIDERS = ("openai", "litellm")


def planner_schema(names: list[str]) -> dict[str, Any]:
    """The JSON schema of one planner step (``tool`` restricted to ``names``)."""
    return {
        "type": "object",
        "properties": {
            "thought": {"type": "string"},
            "tool": {"type": "string", "enum": names},
            "arguments": {"type": "object"},
        },
        "required": ["thought", "tool", "arguments"],
        "additionalProperties": False,
    }


class PlannerAgent(ReActAgent):
    """JSON steps constrained to the tool names (see the module docstring)."""

    allowed_args: frozenset[str] = SAMPLING_ARGS | {"structured", "attempts"}

    def __init__(self, ctx: AgentContext) -> None:
        structured = ctx.args.get("structured", "auto")
        attempts = ctx.args.get("attempts", 2)
        super().__init__(AgentContext(ctx.model, ctx.system_prompt, ctx.tools,
                                      {k: v for k, v in ctx.args.items()
                                       if k not in ("structured", "attempts")}), "react")
        self.ctx = ctx
        if structured not in ("auto", "json_schema", "off"):
            raise ConfigError(f"agent 'planner': structured must be auto, json_schema or off, "
                              f"got {structured!r}")
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 5:
            raise ConfigError(f"agent 'planner': attempts must be an integer in [1, 5], got "
                              f"{attempts!r}")
        self.attempts = attempts
        self.names = [t.get("function", t).get("name") for t in ctx.tools] + [RESPOND_ACTION]
        provider = ctx.model.config.model.split("/", 1)[0]
        self.structured = structured == "json_schema" or (
            structured == "auto" and provider in _HTTP_PROVIDERS)
        self.fallback = structured == "auto"
        self.response_format = {"type": "json_schema", "json_schema": {
            "name": "planner_step", "schema": planner_schema(self.names), "strict": False}}

    def system_text(self, policy: str) -> str:
        """The planner's system prompt: the protocol, the tools, the policy."""
        parts = [_FORMAT % ", ".join(self.names),
                 "# Tools\n" + describe_tools(self.ctx.tools)]
        if policy.strip():
            parts.append("# Policy\n" + policy.strip())
        return "\n\n".join(parts) + "\n"

    def _format(self, thought: str | None, action: str) -> str:
        """An earlier step as planner JSON (``action`` is a ReAct action object's text)."""
        try:
            obj = loads_json(action)
        except ValueError:
            return action
        return json.dumps({"thought": thought or "", "tool": obj.get("name"),
                           "arguments": obj.get("arguments", {})}, ensure_ascii=False)

    def to_text_conversation(self, messages: list[Message]) -> list[Message]:
        """The conversation with the planner's system prompt and JSON steps."""
        out = super().to_text_conversation(messages)
        policy = messages[0].content or "" if messages and messages[0].role == "system" \
            else self.ctx.system_prompt
        return [Message.system(self.system_text(policy)), *out[1:]]

    def parse_step(self, raw: str) -> tuple[dict[str, Any] | None, str | None]:
        """``(step, None)`` for a valid reply, else ``(None, reason)``."""
        obj = find_json_object(raw)
        if obj is None:
            return None, "the reply is not one JSON object"
        tool = obj.get("tool", obj.get("name"))
        if not isinstance(tool, str) or tool.strip() not in self.names:
            return None, (f"\"tool\" must be one of {', '.join(self.names)}, got "
                          f"{json.dumps(tool)}")
        args = obj.get("arguments", {})
        if isinstance(args, str):
            try:
                args = loads_json(args) if args.strip() else {}
            except ValueError:
                return None, "\"arguments\" is not a JSON object"
        if not isinstance(args, dict):
            return None, "\"arguments\" must be a JSON object"
        if tool.strip() == RESPOND_ACTION and not isinstance(args.get("content"), str):
            return None, "respond needs {\"content\": \"<message>\"}"
        thought = obj.get("thought")
        return {"thought": thought if isinstance(thought, str) else None,
                "tool": tool.strip(), "arguments": args}, None

    async def _ask(self, prompt: list[Message]) -> ModelResponse:
        params = dict(self.params)
        if self.structured:
            params["response_format"] = self.response_format
        try:
            return await self.model.generate(prompt, None, **params)
        except TerminalModelError as exc:
            # An endpoint without structured outputs: parse-and-validate from now on.
            if not (self.structured and self.fallback and exc.status in (400, 422)):
                raise
            self.structured = False
            params.pop("response_format", None)
            return await self.model.generate(prompt, None, **params)

    async def act(self, messages: list[Message]) -> AgentReply:
        """Ask for one step (again, with the reason, while it does not validate)."""
        prompt = self.to_text_conversation(messages)
        usage, latency = Usage(), 0.0
        raw, step = "", None
        response: ModelResponse | None = None
        for _ in range(self.attempts):
            response = await self._ask(prompt)
            usage, latency = usage + response.usage, latency + response.latency_s
            raw = response.message.content or ""
            calls = response.message.tool_calls or []
            if calls and find_json_object(raw) is None:
                # A provider (or the oracle) answered with a native call: take it as the step.
                raw = json.dumps({"thought": raw.strip(), "tool": calls[0].name,
                                  "arguments": calls[0].arguments}, ensure_ascii=False)
            step, reason = self.parse_step(raw)
            if step is not None:
                break
            prompt = [*prompt, Message.assistant(raw),
                      Message.user(f"That reply could not be used: {reason}. Answer again "
                                   "with exactly one JSON object in the required shape.")]
        assert response is not None
        message = self._step_message(step, raw, f"planner_{len(messages)}")
        response = ModelResponse(message=message, usage=usage, latency_s=latency,
                                 raw=response.raw)
        return reply_from_response(response, message)

    def _step_message(self, step: dict[str, Any] | None, raw: str, call_id: str) -> Message:
        if step is None:  # still unusable: the user sees the raw reply (as for react)
            msg = Message.assistant(raw.strip() or "(empty reply)")
            self._rendered[self._key(msg)] = raw.strip()
            return msg
        text = json.dumps(step, ensure_ascii=False)
        if step["tool"] == RESPOND_ACTION:
            msg = Message.assistant(step["arguments"]["content"])
        else:
            msg = Message.assistant(tool_calls=[ToolCall(id=call_id, name=step["tool"],
                                                         arguments=step["arguments"])])
        msg.reasoning = step["thought"]
        self._rendered[self._key(msg)] = text
        return msg


@register_agent("planner")
def _planner(ctx: AgentContext) -> Agent:
    """One JSON step per turn, its tool constrained to the domain's tool names."""
    return PlannerAgent(ctx)
