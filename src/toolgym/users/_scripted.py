"""The ``scripted`` user: deterministic rules, no model.

Meant for smoke tests, demos and cheap baselines, not for measuring agents.
On each turn, in order:

1. ``args.turns`` (optional list of strings): the next unused fixed message.
2. First turn: the scenario's reason for calling, followed by its known
   info (structured instructions), or the plain instructions text.
3. The agent's last text message asks for the user's identity (user id,
   email, name, zip code...): the scenario's known info (at most twice).
4. It asks for a confirmation (has a ``?`` and words such as confirm,
   proceed, yes, "would you like", "shall I"): ``Yes, please go ahead.``
   (at most ``args.max_confirmations`` times, default 3).
5. Otherwise ``###STOP###``.
"""

from __future__ import annotations

import re

from toolgym.agents._tool_calling import check_args
from toolgym.errors import ConfigError
from toolgym.messages import Message
from toolgym.tasks import StructuredInstructions
from toolgym.users._base import STOP, UserContext, UserReply, UserSimulator, register_user
from toolgym.users._llm import visible_turns

__all__ = ["CONFIRMATION", "ScriptedUser"]

CONFIRMATION = "Yes, please go ahead."
MAX_IDENTITY_ANSWERS = 2

_CONFIRM_ASK = re.compile(
    r"\b(confirm|proceed|yes|would you like|shall i|should i|do you want|go ahead)\b",
    re.IGNORECASE)
_IDENTITY_FIELD = re.compile(
    r"\byour\s+(?:full\s+)?(?:user\s*id|e-?mail|zip(?:\s*code)?|postal code|name|"
    r"first\s+and\s+last\s+name|date\s+of\s+birth)\b",
    re.IGNORECASE)
_ASKING = re.compile(
    r"\?|\b(provide|share|give me|tell me|what is|what's|may i have|could you|can you|please)\b",
    re.IGNORECASE)


class ScriptedUser(UserSimulator):
    """Rule-based user (registered as ``scripted``); see the module docstring."""

    allowed_args = frozenset({"turns", "max_confirmations"})

    def __init__(self, ctx: UserContext) -> None:
        super().__init__(ctx)
        check_args(ctx.args, self.allowed_args, "user 'scripted'")
        turns = ctx.args.get("turns", [])
        if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
            raise ConfigError("user 'scripted': turns must be a list of strings")
        limit = ctx.args.get("max_confirmations", 3)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ConfigError(f"user 'scripted': max_confirmations must be an integer >= 0, "
                              f"got {limit!r}")
        self.turns: list[str] = list(turns)
        self.max_confirmations = limit
        self._spoken = 0
        self._confirmations = 0
        self._identity_answers = 0

    def _known_info(self) -> str | None:
        instructions = self.task.user_scenario.instructions
        if isinstance(instructions, StructuredInstructions) and instructions.known_info:
            return instructions.known_info.strip()
        return None

    def opening(self) -> str:
        """The first message: reason for calling (plus known info) or the instructions."""
        instructions = self.task.user_scenario.instructions
        if isinstance(instructions, StructuredInstructions):
            known = self._known_info()
            reason = instructions.reason_for_call.strip()
            return f"{reason}\n\n{known}" if known else reason
        return instructions.strip()

    def next_text(self, messages: list[Message]) -> str:
        """The rule-based reply to the conversation so far."""
        if self._spoken < len(self.turns):
            return self.turns[self._spoken]
        if self._spoken == 0:
            return self.opening()
        agent = [text for who, text in visible_turns(messages) if who == "agent"]
        last = agent[-1] if agent else ""
        known = self._known_info()
        if (known and self._identity_answers < MAX_IDENTITY_ANSWERS
                and _IDENTITY_FIELD.search(last) and _ASKING.search(last)):
            self._identity_answers += 1
            return known
        if ("?" in last and _CONFIRM_ASK.search(last)
                and self._confirmations < self.max_confirmations):
            self._confirmations += 1
            return CONFIRMATION
        return STOP

    async def respond(self, messages: list[Message]) -> UserReply:
        """The next scripted message (no model call, zero usage)."""
        text = self.next_text(messages)
        self._spoken += 1
        return UserReply(message=Message.user(text))


@register_user("scripted")
def _scripted(ctx: UserContext) -> UserSimulator:
    """Rules, no model: states the goal, gives its identity, confirms, then stops."""
    return ScriptedUser(ctx)
