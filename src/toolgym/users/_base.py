"""User simulators: who plays the customer.

A :class:`UserSimulator` sees the conversation from the user's side (the
agent's text messages; never tool traffic) and returns the user's next
message. A user ends the episode by including a stop marker: ``###STOP###``
(goal reached or given up), ``###TRANSFER###`` (was transferred) or
``###OUT-OF-SCOPE###`` (the scenario does not say what to do).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from toolgym._registry import Registry
from toolgym.messages import Message, Usage
from toolgym.models._base import Model
from toolgym.tasks import Task

__all__ = [
    "STOP_MARKERS",
    "UserContext",
    "UserReply",
    "UserSimulator",
    "create_user",
    "register_user",
    "stop_marker",
    "user_strategies",
]

STOP = "###STOP###"
TRANSFER = "###TRANSFER###"
OUT_OF_SCOPE = "###OUT-OF-SCOPE###"
STOP_MARKERS = (STOP, TRANSFER, OUT_OF_SCOPE)


def stop_marker(text: str | None) -> str | None:
    """The first stop marker found in ``text``, if any."""
    if not text:
        return None
    for marker in STOP_MARKERS:
        if marker in text:
            return marker
    return None


@dataclass(frozen=True)
class UserContext:
    """What a user simulator is built with for one episode."""

    task: Task
    model: Model | None
    seed: int
    args: dict[str, Any] = field(default_factory=dict)
    #: A system prompt that replaces the simulator's own (a prompt pack's
    #: user instructions, the task's scenario filled in); None: its own.
    system_prompt: str | None = None


@dataclass
class UserReply:
    """The user's next message and what producing it cost."""

    message: Message
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0


class UserSimulator(abc.ABC):
    """A simulated (or human) user for one episode."""

    def __init__(self, ctx: UserContext) -> None:
        self.ctx = ctx
        self.task = ctx.task

    @abc.abstractmethod
    async def respond(self, messages: list[Message]) -> UserReply:
        """Return the user's next message (role ``user``).

        ``messages`` is the canonical conversation (system prompt, user,
        assistant and tool messages); the simulator picks what a user sees.
        """


UserFactory = Callable[[UserContext], UserSimulator]


def _import_builtin() -> None:
    import toolgym.users._simulators  # noqa: F401


_USERS: Registry[UserFactory] = Registry("user simulator", _import_builtin)


def register_user(name: str) -> Callable[[UserFactory], UserFactory]:
    """Decorator registering a user simulator under ``name``."""
    return _USERS.register(name)


def user_strategies() -> list[str]:
    """Names of the registered user simulators."""
    return _USERS.names()


def create_user(name: str, ctx: UserContext) -> UserSimulator:
    """Build the user simulator ``name``."""
    return _USERS.get(name)(ctx)
