"""Model-backed user simulators: ``llm``, ``react``, ``verify`` and ``reflection``.

What the user model sees
    Only the agent's text messages and the user's own earlier messages.
    System prompts, tool messages and assistant messages carrying tool calls
    (whose text is pre-call chatter or, for the ``react`` agent, its private
    thought) are hidden. Roles are flipped for the user model: the agent's
    text is sent as ``user`` and the simulated user's earlier messages as
    ``assistant``. Its own system prompt holds the persona, the scenario
    instructions and the rules of play.

Mitigation: the simulated user ending the episode right after confirming
    A known failure of LLM user simulators is to answer the agent's "Shall I
    go ahead?" with "Yes, please. ###STOP###": the episode ends before the
    agent performs the write it was about to make, and a correct agent is
    scored as a failure. toolgym counters it twice:

    1. The prompt tells the user never to put a stop marker in a message
       that confirms an action, but to wait for the agent to report the
       outcome and only then end the conversation.
    2. A guard in code (``confirm_guard``, on by default): when a user
       message contains ``###STOP###`` together with a confirmation word
       (yes, yeah, yep, confirm, go ahead, proceed, please do, do it,
       approve...), the marker is removed and the confirmation is kept, so
       the agent gets its turn to act; the user's next message may stop. The
       guard never fires on two user messages in a row, so a user that keeps
       saying "yes, thanks ###STOP###" still ends the episode one turn later
       instead of running into the step limit. ``###TRANSFER###`` and
       ``###OUT-OF-SCOPE###`` are never touched. Set ``confirm_guard: false``
       in the user args to reproduce simulators without the guard.

Arguments (``ctx.args``): sampling parameters (``temperature``,
``max_tokens``, ``seed``...), ``confirm_guard`` (bool, default true) and, for
``verify``, ``max_redrafts`` (default 2; named so that it cannot be taken for
the model client's ``max_retries``).
"""

from __future__ import annotations

import re
from typing import Any

from toolgym.agents._tool_calling import SAMPLING_ARGS, check_args, sampling_params
from toolgym.errors import ConfigError
from toolgym.messages import Message, Usage
from toolgym.models._base import Model
from toolgym.users._base import STOP, UserContext, UserReply, UserSimulator, register_user
from toolgym.users._prompts import (
    CHECK_SYSTEM,
    FIRST_TURN_CUE,
    REACT_FORMAT,
    REFLECTION_REQUEST,
    check_request,
    feedback_note,
    notes_note,
    transcript,
    user_system_prompt,
)

__all__ = [
    "LLMUser",
    "ReActUser",
    "ReflectionUser",
    "VerifyUser",
    "extract_user_response",
    "strip_premature_stop",
    "user_view",
    "visible_turns",
]

_CONFIRM = re.compile(
    r"\b(yes|yeah|yep|yup|confirm(?:s|ed|ing)?|go ahead|proceed|please do|do it|"
    r"approved?|i approve)\b",
    re.IGNORECASE,
)
_USER_RESPONSE = re.compile(r"^[ \t>*#_]*user[ \t]*response[ \t*_]*:[ \t*_]*",
                            re.IGNORECASE | re.MULTILINE)
_VERDICT = re.compile(r"\b(inconsistent|consistent)\b", re.IGNORECASE)
USER_ARGS: frozenset[str] = SAMPLING_ARGS | {"confirm_guard"}


def visible_turns(messages: list[Message]) -> list[tuple[str, str]]:
    """What a user sees of the canonical conversation: ``("agent"|"user", text)`` pairs.

    Agent text messages (assistant, with content, without tool calls) and the
    user's own messages; everything else is hidden.
    """
    turns: list[tuple[str, str]] = []
    for msg in messages:
        if not msg.content:
            continue
        if msg.role == "assistant" and not msg.tool_calls:
            turns.append(("agent", msg.content))
        elif msg.role == "user" and not msg.tool_calls:
            turns.append(("user", msg.content))
    return turns


def user_view(messages: list[Message]) -> list[Message]:
    """The visible turns role-flipped for the user model (agent -> user, user -> assistant)."""
    return [Message.user(text) if who == "agent" else Message.assistant(text)
            for who, text in visible_turns(messages)]


def strip_premature_stop(text: str) -> str | None:
    """The confirmation without its ``###STOP###``, when both are in ``text``.

    Returns:
        The text with the marker removed, or None when the guard does not
        apply (no ``###STOP###``, or no confirmation word besides it).
    """
    if STOP not in text:
        return None
    body = " ".join(text.replace(STOP, " ").split())
    if not body or not _CONFIRM.search(body):
        return None
    return body


def extract_user_response(text: str) -> str:
    """The ``User Response:`` part of a ReAct user reply (the whole text when absent)."""
    m = _USER_RESPONSE.search(text)
    if m is None:
        return text.strip()
    return text[m.end():].strip()


def parse_verdict(text: str) -> tuple[bool, str]:
    """(consistent, reason) from a check answer; an unreadable verdict counts as consistent."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return True, ""
    m = _VERDICT.search(lines[0])
    if m is not None:
        rest = lines[0][m.end():].strip(" :-.,")
        reason = " ".join(part for part in (rest, *lines[1:]) if part)
    else:
        m = _VERDICT.search(text)
        if m is None:
            return True, ""
        reason = " ".join(lines)
    return m.group(1).lower() == "consistent", reason


class LLMUser(UserSimulator):
    """A model plays the customer from the task's scenario (registered as ``llm``)."""

    allowed_args: frozenset[str] = USER_ARGS
    simulator_name = "llm"
    react_format = False

    def __init__(self, ctx: UserContext) -> None:
        super().__init__(ctx)
        check_args(ctx.args, self.allowed_args, f"user {self.simulator_name!r}")
        if ctx.model is None:
            raise ConfigError(f"user {self.simulator_name!r} needs a model")
        self.user_model: Model = ctx.model
        self.params: dict[str, Any] = sampling_params(ctx.args, SAMPLING_ARGS)
        self.confirm_guard = bool(ctx.args.get("confirm_guard", True))
        if ctx.system_prompt is not None:  # a prompt pack's; the reply format stays ours
            self.system_prompt = ctx.system_prompt + (
                "\n" + REACT_FORMAT if self.react_format else "")
        else:
            self.system_prompt = user_system_prompt(ctx.task, react=self.react_format)
        self._guarded_last = False
        self._usage = Usage()
        self._latency = 0.0

    async def _call(self, messages: list[Message]) -> str:
        """One model call; its usage and latency are added to this turn's totals."""
        response = await self.user_model.generate(messages, None, **self.params)
        self._usage = self._usage + response.usage
        self._latency += response.latency_s
        return (response.message.content or "").strip()

    async def generate(self, messages: list[Message], note: str | None = None) -> str:
        """A candidate user message (``note`` is appended to the system prompt)."""
        system = self.system_prompt if note is None else f"{self.system_prompt}\n{note}"
        view = user_view(messages) or [Message.user(FIRST_TURN_CUE)]
        text = await self._call([Message.system(system), *view])
        return extract_user_response(text) if self.react_format else text

    async def compose(self, messages: list[Message]) -> str:
        """The user's message before the confirmation guard (strategies override this)."""
        return await self.generate(messages)

    def guard(self, text: str) -> str:
        """Apply the confirm+stop guard described in the module docstring."""
        if self.confirm_guard and not self._guarded_last:
            stripped = strip_premature_stop(text)
            if stripped is not None:
                self._guarded_last = True
                return stripped
        self._guarded_last = False
        return text

    async def respond(self, messages: list[Message]) -> UserReply:
        """The user's next message; usage and latency cover every model call it took."""
        self._usage, self._latency = Usage(), 0.0
        text = self.guard(await self.compose(messages))
        msg = Message(role="user", content=text, usage=self._usage, latency_s=self._latency)
        return UserReply(message=msg, usage=self._usage, latency_s=self._latency)


class ReActUser(LLMUser):
    """The user model writes ``Thought:`` then ``User Response:``; only the response is kept."""

    simulator_name = "react"
    react_format = True


class VerifyUser(LLMUser):
    """Each draft is checked for consistency with the scenario by a second call.

    A draft judged inconsistent is regenerated (with the rejection reason in
    the prompt) up to ``args.max_redrafts`` times (default 2); the last draft
    is used when every check fails. An unreadable verdict accepts the draft.
    """

    allowed_args = USER_ARGS | {"max_redrafts"}
    simulator_name = "verify"

    def __init__(self, ctx: UserContext) -> None:
        if "max_retries" in ctx.args:
            # The old name; it now belongs to the model client only.
            raise ConfigError("user 'verify': max_retries was renamed max_redrafts "
                              "(max_retries is the model client's retry setting)")
        super().__init__(ctx)
        redrafts = ctx.args.get("max_redrafts", 2)
        if isinstance(redrafts, bool) or not isinstance(redrafts, int) or redrafts < 0:
            raise ConfigError(f"user 'verify': max_redrafts must be an integer >= 0, "
                              f"got {redrafts!r}")
        self.max_redrafts = redrafts

    async def check(self, messages: list[Message], draft: str) -> tuple[bool, str]:
        """Ask the model whether ``draft`` is consistent with the scenario."""
        question = check_request(self.task, visible_turns(messages), draft)
        answer = await self._call([Message.system(CHECK_SYSTEM), Message.user(question)])
        return parse_verdict(answer)

    async def compose(self, messages: list[Message]) -> str:
        """Draft, check, and regenerate while the check rejects the draft."""
        draft = await self.generate(messages)
        for _ in range(self.max_redrafts):
            ok, reason = await self.check(messages, draft)
            if ok:
                break
            draft = await self.generate(messages, feedback_note(draft, reason))
        return draft


class ReflectionUser(LLMUser):
    """A private reflection call on the conversation precedes each answer."""

    simulator_name = "reflection"

    async def reflect(self, messages: list[Message]) -> str:
        """Notes on the conversation so far (never shown to the agent)."""
        request = f"# Conversation so far\n{transcript(visible_turns(messages))}\n\n" \
                  f"{REFLECTION_REQUEST}"
        return await self._call([Message.system(self.system_prompt), Message.user(request)])

    async def compose(self, messages: list[Message]) -> str:
        """Reflect, then answer with the notes added to the system prompt."""
        notes = await self.reflect(messages)
        return await self.generate(messages, notes_note(notes) if notes else None)


@register_user("llm")
def _llm(ctx: UserContext) -> UserSimulator:
    """A model (--user-model) plays the customer from the task's scenario."""
    return LLMUser(ctx)


@register_user("react")
def _react(ctx: UserContext) -> UserSimulator:
    """Like llm, but the model writes a thought before each reply; only the reply is sent."""
    return ReActUser(ctx)


@register_user("verify")
def _verify(ctx: UserContext) -> UserSimulator:
    """Like llm, plus a second call that checks each draft against the scenario."""
    return VerifyUser(ctx)


@register_user("reflection")
def _reflection(ctx: UserContext) -> UserSimulator:
    """Like llm, plus a private reflection call on the conversation before each answer."""
    return ReflectionUser(ctx)
