"""Toolkits that mix code tools with simulated ones.

A :class:`SimToolkit` is an ordinary :class:`~toolgym.domains.Toolkit` (code
tools are ``@tool`` methods, as in any domain) plus the simulated tools
listed in its ``simulated`` class attribute. Each simulated tool becomes a
method of the class whose signature follows the spec's parameters, so the
task check, ``toolgym validate``, judges and the agent's tool list see it
like any other tool. Called synchronously (task validation, replaying a
trajectory) such a method checks the arguments against the schema and
returns a placeholder: only an episode's simulator (:mod:`toolgym.simtools`)
produces real results.

Two markers give code tools a role in the episode: :func:`asks_user` (the
user simulator answers the call; ``ask_user``) and :func:`ends_episode` (a
successful call ends the episode; ``final_answer``). :class:`AskUserTool` and
:class:`FinalAnswerTool` are ready-made mixins with those two tools.
"""

from __future__ import annotations

import inspect
import keyword
import typing
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from toolgym.domains._db import DB
from toolgym.domains._toolkit import ToolKind, Toolkit, tool
from toolgym.errors import ToolError
from toolgym.simtools._spec import SimTool, argument_problem

__all__ = [
    "AskUserTool",
    "FinalAnswerTool",
    "SimDB",
    "SimToolkit",
    "asks_user",
    "ends_episode",
    "is_sim_toolkit",
]

_ASKS_USER = "__toolgym_asks_user__"
_ENDS_EPISODE = "__toolgym_ends_episode__"
_SIM_SPEC = "__toolgym_sim_tool__"

#: What a simulated tool returns outside an episode (task validation, replay).
PLACEHOLDER = "(simulated tool: answered by the tool-sim model during an episode)"
USER_PLACEHOLDER = "(answered by the user during an episode)"

F = TypeVar("F", bound=Callable[..., Any])


def asks_user(fn: F) -> F:
    """Mark a ``@tool`` method as answered by the user simulator (its ``question`` argument)."""
    setattr(fn, _ASKS_USER, True)
    return fn


def ends_episode(fn: F) -> F:
    """Mark a ``@tool`` method whose successful call ends the episode (``final_answer``)."""
    setattr(fn, _ENDS_EPISODE, True)
    return fn


class SimDB(DB):
    """An empty database, for domains whose world lives in the simulator."""


DBT = TypeVar("DBT", bound=DB)


def _stub(spec: SimTool) -> Callable[..., Any]:
    """The method standing for a simulated tool outside an episode."""

    def simulated(self: Any, **arguments: Any) -> str:
        problem = argument_problem(spec, arguments)
        if problem is not None:
            raise ToolError(f"invalid arguments for {spec.name}: {problem}")
        return PLACEHOLDER

    simulated.__name__ = simulated.__qualname__ = spec.name
    simulated.__doc__ = spec.description
    names = spec.argument_names
    if all(n.isidentifier() and not keyword.iskeyword(n) for n in names):
        # A real signature, so that static task checks report unknown and
        # missing arguments exactly as for code tools.
        required = set(spec.parameters.get("required", []))
        params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY,
                                     default=inspect.Parameter.empty if n in required
                                     else None) for n in names]
        simulated.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    setattr(simulated, _SIM_SPEC, spec)
    return simulated


class SimToolkit(Toolkit[DBT]):
    """A toolkit of code tools (``@tool`` methods) and simulated tools (``simulated``).

    Subclass it and list the simulated tools::

        class ResearchTools(SimToolkit[SimDB], AskUserTool, FinalAnswerTool):
            simulated = (SimTool(name="search_papers", description=..., ...),)

            @tool(ToolKind.READ)
            def word_count(self, text: str) -> int:
                \"\"\"Count the words of a text.\"\"\"
                return len(text.split())
    """

    #: The simulated tools of this toolkit.
    simulated: ClassVar[tuple[SimTool, ...]] = ()
    #: A rubric for the ``rater`` judge on this domain (None: the rater's default).
    rubric: ClassVar[list[dict[str, str]] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        seen: set[str] = set()
        for spec in cls.simulated:
            if spec.name in seen:
                raise TypeError(f"{cls.__name__}: simulated tool {spec.name!r} declared twice")
            seen.add(spec.name)
            existing = inspect.getattr_static(cls, spec.name, None)
            if existing is not None and getattr(existing, _SIM_SPEC, None) is None:
                raise TypeError(f"{cls.__name__}: simulated tool {spec.name!r} clashes with "
                                "a method of the same name")
            setattr(cls, spec.name, _stub(spec))

    @classmethod
    def tool_specs(cls) -> dict[str, tuple[ToolKind, str, dict[str, Any]]]:
        """Code tools from their methods, simulated tools from their specs."""
        cached = cls.__dict__.get("_toolgym_sim_specs")
        if cached is not None:
            return typing.cast(dict[str, tuple[ToolKind, str, dict[str, Any]]], cached)
        specs = dict(super().tool_specs())
        for spec in cls.simulated:
            specs[spec.name] = (spec.kind, spec.description, spec.openai_parameters())
        cls._toolgym_sim_specs = specs  # type: ignore[attr-defined]
        return specs

    @classmethod
    def sim_tools(cls) -> dict[str, SimTool]:
        """The simulated tools by name."""
        return {t.name: t for t in cls.simulated}

    @classmethod
    def user_tools(cls) -> frozenset[str]:
        """Tools the user simulator answers (methods marked :func:`asks_user`)."""
        return frozenset(n for n in cls.tool_specs()
                         if getattr(getattr(cls, n, None), _ASKS_USER, False))

    @classmethod
    def ending_tools(cls) -> frozenset[str]:
        """Tools whose successful call ends the episode (marked :func:`ends_episode`)."""
        return frozenset(n for n in cls.tool_specs()
                         if getattr(getattr(cls, n, None), _ENDS_EPISODE, False))


class AskUserTool:
    """Mixin: an ``ask_user`` tool answered by the user simulator."""

    @asks_user
    @tool(ToolKind.GENERIC)
    def ask_user(self, question: str) -> str:
        """Ask the user a question and get their answer (only when the request leaves
        something open that no other tool can find out).

        Args:
            question: The question, as the user will read it.
        """
        if not isinstance(question, str) or not question.strip():
            raise ToolError("question must be a non-empty string")
        return USER_PLACEHOLDER


class FinalAnswerTool:
    """Mixin: a ``final_answer`` tool that ends the episode."""

    @ends_episode
    @tool(ToolKind.GENERIC)
    def final_answer(self, answer: str) -> str:
        """Give the user your final answer; this ends the conversation.

        Args:
            answer: The complete answer to the user's request.
        """
        if not isinstance(answer, str) or not answer.strip():
            raise ToolError("answer must be a non-empty string")
        return "Final answer recorded."


def is_sim_toolkit(toolkit_type: Any) -> bool:
    """Whether a toolkit class has simulated or user-answered tools."""
    return isinstance(toolkit_type, type) and issubclass(toolkit_type, SimToolkit) and bool(
        toolkit_type.simulated or toolkit_type.user_tools())
