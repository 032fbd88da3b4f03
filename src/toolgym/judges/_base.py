"""Judges: registered components that score a finished rollout.

A :class:`Judge` looks at one saved rollout (its task, conversation and
ground-truth breakdown) and returns a :class:`Score`: success, a score,
written feedback and typed failures. Judges are built by name from a
:class:`JudgeContext` (the domain, an optional model, the arguments), so a
scoring of a run can be rebuilt and resumed like a run; their model calls go
through the run's retry layer and endpoint pool and are counted under the
``judge`` role.

Ground truth stays the reward; scorings sit beside it in
``RUN_DIR/scores/<name>.jsonl``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from toolgym._registry import Registry
from toolgym.errors import ConfigError
from toolgym.messages import Usage
from toolgym.models._base import Model

__all__ = [
    "Judge",
    "JudgeContext",
    "JudgeOutputError",
    "Score",
    "create_judge",
    "judge_names",
    "register_judge",
]


class Score(BaseModel):
    """One judge's verdict on one rollout (a line of ``scores/<judge>.jsonl``)."""

    task_id: str = Field(description="Task id.")
    trial: int = Field(description="Trial index.")
    judge: str = Field(description="Registered judge name.")
    success: bool | None = Field(
        description="Whether the judge passes the rollout; None when the judge failed "
        "(never a pass on a judge error).")
    score: float | None = Field(
        None, description="The judge's score: 0/1 (binary), 1-5 (rater scale=5), or the "
        "recomputed reward (nl); None on a judge error.")
    feedback: str = Field("", description="Written feedback, for people and optimizers.")
    failures: list[dict[str, Any]] = Field(
        default_factory=list, description="Typed failures: {type, ...} (see each judge).")
    usage: Usage = Field(default_factory=Usage, description="What the judge's calls cost.")
    error: str | None = Field(None, description="Why the judge could not score, if it failed.")
    details: dict[str, Any] = Field(
        default_factory=dict, description="Judge-specific details (criteria, matching...).")

    @property
    def key(self) -> tuple[str, int]:
        """The (task id, trial) pair this score is about."""
        return (self.task_id, self.trial)


class JudgeOutputError(ValueError):
    """A judge model's reply could not be used (malformed JSON, missing verdict)."""


@dataclass(frozen=True)
class JudgeContext:
    """What a judge is built with.

    Attributes:
        name: The name the judge was registered (and is recorded) under.
        domain: The run's domain (policy, tools, tool kinds).
        model: The judge model, already wrapped with retries and the endpoint
            pool; None for judges that need none.
        args: Judge arguments (``--judge-arg k=v``), recorded with the scoring.
    """

    name: str
    domain: Any
    model: Model | None = None
    args: dict[str, Any] = field(default_factory=dict)


class Judge(abc.ABC):
    """Scores one rollout.

    Subclasses set :attr:`needs_model` and :attr:`allowed_args`, validate
    their arguments in ``__init__`` (raise :class:`ConfigError`), and
    implement :meth:`score`. A judge is shared by concurrent scorings, so it
    keeps no per-rollout state.
    """

    #: Whether the judge calls a model (``--judge-model`` is then required).
    needs_model: bool = True
    #: Arguments the judge accepts; others are refused.
    allowed_args: frozenset[str] = frozenset()

    def __init__(self, ctx: JudgeContext) -> None:
        self.ctx = ctx
        unknown = sorted(set(ctx.args) - self.allowed_args)
        if unknown:
            known = ", ".join(sorted(self.allowed_args)) or "none"
            raise ConfigError(f"judge {ctx.name!r}: unknown argument(s) {', '.join(unknown)} "
                              f"(allowed: {known})")
        if self.needs_model and ctx.model is None:
            raise ConfigError(f"judge {ctx.name!r} needs a model: give --judge-model")

    @property
    def model(self) -> Model:
        """The judge model (only for judges that need one)."""
        assert self.ctx.model is not None
        return self.ctx.model

    def applies(self, result: Any) -> bool:
        """Whether this judge scores ``result`` (a :class:`~toolgym.runner.RolloutResult`)."""
        return True

    @abc.abstractmethod
    async def score(self, task: Any, result: Any) -> Score:
        """Score one rollout.

        Args:
            task: The rollout's :class:`~toolgym.tasks.Task`.
            result: The saved :class:`~toolgym.runner.RolloutResult`.

        Returns:
            The score. A model error should propagate
            (:class:`~toolgym.models.ModelError`): the scoring records it as a
            judge error and ``toolgym judge`` can retry it.
        """


JudgeFactory = Callable[[JudgeContext], Judge]


def _import_builtin() -> None:
    import toolgym.judges._builtin  # noqa: F401


_JUDGES: Registry[JudgeFactory] = Registry("judge", _import_builtin)


def register_judge(name: str) -> Callable[[JudgeFactory], JudgeFactory]:
    """Decorator registering a judge class (or factory) under ``name``."""
    return _JUDGES.register(name)


def judge_names() -> list[str]:
    """Names of the registered judges."""
    return _JUDGES.names()


def create_judge(ctx: JudgeContext) -> Judge:
    """Build the judge registered under ``ctx.name``."""
    return _JUDGES.get(ctx.name)(ctx)


def judge_factory(name: str) -> JudgeFactory:
    """The factory registered under ``name`` (ConfigError listing the known ones)."""
    return _JUDGES.get(name)
