"""The ``human`` user: a person types the customer's messages in the terminal.

The agent's new text messages are printed with rich (tool traffic is not
shown); the reply is read with :func:`input` in a worker thread so the event
loop keeps running. An empty line or end of input (Ctrl-D) ends the episode
with ``###STOP###``; typing a stop marker works too. ``args.show_scenario``
(default true) prints the task's scenario before the first message.
"""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from toolgym.agents._tool_calling import check_args
from toolgym.messages import Message
from toolgym.users._base import STOP, UserContext, UserReply, UserSimulator, register_user
from toolgym.users._llm import visible_turns
from toolgym.users._prompts import scenario_block

__all__ = ["HumanUser"]

PROMPT = "you> "


def _read_line(prompt: str) -> str | None:
    try:
        return input(prompt)
    except EOFError:
        return None


class HumanUser(UserSimulator):
    """Reads the user's messages from the terminal (registered as ``human``)."""

    allowed_args = frozenset({"show_scenario"})

    def __init__(self, ctx: UserContext, console: Console | None = None) -> None:
        super().__init__(ctx)
        check_args(ctx.args, self.allowed_args, "user 'human'")
        self.show_scenario = bool(ctx.args.get("show_scenario", True))
        self.console = console or Console()
        self._shown_scenario = False

    def _new_agent_messages(self, messages: list[Message]) -> list[str]:
        """Agent texts after the user's last message."""
        new: list[str] = []
        for who, text in visible_turns(messages):
            if who == "user":
                new = []
            else:
                new.append(text)
        return new

    async def respond(self, messages: list[Message]) -> UserReply:
        """Show the agent's new messages and read the user's reply."""
        # Text() keeps brackets in agent messages from being read as rich markup.
        if self.show_scenario and not self._shown_scenario:
            self._shown_scenario = True
            self.console.print(Panel(Text(scenario_block(self.task)), title="Your scenario",
                                     subtitle="empty line or Ctrl-D ends the conversation"))
        for text in self._new_agent_messages(messages):
            self.console.print(Panel(Text(text), title="agent", title_align="left"))
        line = await asyncio.to_thread(_read_line, PROMPT)
        text = line.strip() if line is not None else ""
        return UserReply(message=Message.user(text or STOP))


@register_user("human")
def _human(ctx: UserContext) -> UserSimulator:
    """Interactive: you type the customer's messages in the terminal (empty line stops)."""
    return HumanUser(ctx)
