"""A responder that plays both sides of an episode over HTTP.

:func:`roleplay_responder` lets one :class:`FakeOpenAIServer` serve the agent
*and* an LLM-style user simulator for a whole task set, so that a real run
(``--agent-model openai/...`` and ``--user llm --user-model openai/...``)
exercises the full client path offline:

* a request **without** tools comes from the user simulator: the responder
  finds the task whose ``reason_for_call`` appears in the user's system
  prompt, opens with ``[task:<id>]`` plus that reason, and writes
  ``###STOP###`` once the agent has given its final answer;
* a request **with** tools comes from the agent: the responder reads the
  task tag from the first user message (or, with toolgym's ``scripted``
  user, finds the task's ``reason_for_call`` in it) and plays the task's
  gold actions, one tool call per reply, then the oracle's final text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from toolgym.models._oracle import CLOSING_TEXT, oracle_plan
from toolgym.testing._server import Responder

__all__ = ["roleplay_responder"]

_TAG = re.compile(r"\[task:([^\]]+)\]")


def _reason(task: Any) -> str:
    instructions = task.user_scenario.instructions
    if isinstance(instructions, str):
        return instructions.strip().splitlines()[0]
    return str(instructions.reason_for_call).strip().splitlines()[0]


def roleplay_responder(tasks: Sequence[Any]) -> Responder:
    """Serve agent and user requests for ``tasks`` (see the module docstring)."""
    by_id = {t.id: t for t in tasks}
    plans = {t.id: oracle_plan(t) for t in tasks}
    reasons = sorted(((_reason(t), t.id) for t in tasks), key=lambda r: -len(r[0]))

    def user_turn(request: dict[str, Any]) -> str:
        messages = request.get("messages", [])
        system = " ".join(m.get("content") or "" for m in messages if m.get("role") == "system")
        task_id = next((tid for reason, tid in reasons if reason and reason in system), None)
        if task_id is None:
            return "###OUT-OF-SCOPE###"
        spoken = [m for m in messages if m.get("role") == "assistant"]
        if not spoken:
            return f"[task:{task_id}] {_reason(by_id[task_id])}"
        heard = [m.get("content") or "" for m in messages if m.get("role") == "user"]
        if heard and plans[task_id].final_text in heard[-1]:
            return "###STOP###"
        return "Yes, please go ahead."

    def agent_turn(request: dict[str, Any]) -> Any:
        messages = request.get("messages", [])
        first_user = next((m.get("content") or "" for m in messages if m.get("role") == "user"),
                          "")
        match = _TAG.search(first_user)
        task_id = match.group(1) if match else next(
            (tid for reason, tid in reasons if reason and reason in first_user), None)
        if task_id not in plans:
            return "Could you tell me more about your request?"
        plan = plans[task_id]
        done = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
        if done < len(plan.calls):
            name, args = plan.calls[done]
            return {"tool_calls": [{"name": name, "arguments": args}]}
        said = any(m.get("role") == "assistant" and m.get("content") == plan.final_text
                   for m in messages)
        return CLOSING_TEXT if said else plan.final_text

    def respond(request: dict[str, Any]) -> Any:
        return agent_turn(request) if request.get("tools") else user_turn(request)

    return respond
