"""Prompt text and renderers used by the agent strategies.

All wording here is toolgym's own. The ReAct/Act protocol is plain text: the
model writes an optional ``Thought:`` and one ``Action:`` holding a JSON
object ``{"name": ..., "arguments": {...}}``; the pseudo-tool ``respond``
(``{"content": ...}``) is how it talks to the user.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from toolgym.messages import Message, ToolCall

__all__ = [
    "AGENT_SYSTEM_TEMPLATE",
    "RESPOND_ACTION",
    "TextMode",
    "action_json",
    "agent_system_prompt",
    "describe_tools",
    "few_shot_system_prompt",
    "react_system_prompt",
    "render_demonstration",
    "respond_json",
]

TextMode = Literal["react", "act"]

#: The default agent system prompt: the domain policy inside a short frame
#: (our wording; the same turn rule as tau2's agents: a message or a tool
#: call per turn). ``--system-prompt-file`` replaces the whole text.
AGENT_SYSTEM_TEMPLATE = """\
You are a customer-service agent. Help the user with their request while following the \
policy below exactly; it overrides anything the user asks for.
In each turn, either write one message to the user or make one tool call, not both. \
Tool arguments must be valid JSON.

<policy>
{policy}
</policy>
"""


def agent_system_prompt(policy: str) -> str:
    """The default system prompt for a domain policy."""
    return AGENT_SYSTEM_TEMPLATE.format(policy=policy.strip())

RESPOND_ACTION = "respond"

_REACT_FORMAT = """\
# How to reply
You do not call tools directly. Every reply you write must have exactly this shape:

Thought:
<a short note on what you know so far and what you will do next>
Action:
{"name": "<tool name or respond>", "arguments": {<the arguments as a JSON object>}}

Rules for the reply:
- Write exactly one Action per reply. It is carried out before you write the next one.
- The Action must be one JSON object using double quotes; write nothing after it.
- To call a tool, put its name and arguments in the Action. Its result comes back to \
you in a message starting with "API output:".
- To say something to the customer, use the action "respond" with \
{"content": "<your message>"}. The customer sees only that content, never your \
Thought or your tool calls.
"""

_ACT_FORMAT = """\
# How to reply
You do not call tools directly. Every reply you write must have exactly this shape:

Action:
{"name": "<tool name or respond>", "arguments": {<the arguments as a JSON object>}}

Rules for the reply:
- Write exactly one Action per reply. It is carried out before you write the next one.
- The Action must be one JSON object using double quotes; write nothing before or after it.
- To call a tool, put its name and arguments in the Action. Its result comes back to \
you in a message starting with "API output:".
- To say something to the customer, use the action "respond" with \
{"content": "<your message>"}. The customer sees only that content, never your tool calls.
"""

_TOOLS_HEADER = """\
# Tools
These are the tools you can use. Each entry gives the tool's name, what it does and its \
parameters as a JSON Schema:
"""

_DEMO_HEADER = """\
# Example conversations
Below are earlier conversations that show how requests are handled under this policy. \
They involve other customers: never reuse their names, ids, amounts or any other detail \
in the current conversation, and always act on what the current customer and the tools \
tell you.
"""


def describe_tools(tools: list[dict[str, Any]]) -> str:
    """Tool definitions (OpenAI format) as a JSON list of name/description/parameters."""
    entries = []
    for tool in tools:
        fn = tool.get("function", tool)
        entries.append({
            "name": fn.get("name"),
            "description": fn.get("description", ""),
            "parameters": fn.get("parameters", {"type": "object", "properties": {}}),
        })
    return json.dumps(entries, indent=2, ensure_ascii=False)


def react_system_prompt(policy: str, tools: list[dict[str, Any]], mode: TextMode) -> str:
    """The system prompt of the ReAct/Act strategies: protocol, tools, then the policy."""
    fmt = _REACT_FORMAT if mode == "react" else _ACT_FORMAT
    parts = [fmt, _TOOLS_HEADER + describe_tools(tools)]
    if policy.strip():
        parts.append("# Policy\n" + policy.strip())
    return "\n\n".join(parts) + "\n"


def action_json(call: ToolCall) -> str:
    """One action as the JSON text of the ReAct protocol.

    Arguments that did not parse are written back as their raw text, so the
    model sees what it actually wrote.
    """
    if call.parse_error and call.raw_arguments is not None:
        return f'{{"name": {json.dumps(call.name)}, "arguments": {call.raw_arguments}}}'
    return json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False)


def respond_json(content: str) -> str:
    """The ``respond`` action carrying ``content``."""
    return json.dumps({"name": RESPOND_ACTION, "arguments": {"content": content}},
                      ensure_ascii=False)


def render_demonstration(messages: list[Message]) -> str:
    """One demonstration conversation as labelled lines (system messages skipped)."""
    lines: list[str] = []
    for msg in messages:
        if msg.role == "system":
            continue
        if msg.role == "user":
            lines.append(f"[customer] {msg.content or ''}")
        elif msg.role == "assistant":
            if msg.content:
                lines.append(f"[agent] {msg.content}")
            for call in msg.tool_calls or []:
                lines.append(f"[agent calls] {call.name} {call.arguments_json()}")
        else:
            label = f"[result of {msg.name}]" if msg.name else "[tool result]"
            lines.append(f"{label} {msg.content or ''}")
    return "\n".join(lines)


def few_shot_system_prompt(policy: str, demonstrations: list[list[Message]]) -> str:
    """The policy followed by numbered example conversations."""
    if not demonstrations:
        return policy
    blocks = [f"## Example {i}\n{render_demonstration(demo)}"
              for i, demo in enumerate(demonstrations, 1)]
    return policy.rstrip() + "\n\n" + _DEMO_HEADER + "\n" + "\n\n".join(blocks) + "\n"
