"""The tau2 results format: what maps to what, both ways.

A tau2 results file is ``{timestamp, info, tasks, simulations}``; the JSON
Schema toolgym checks its exports against is ``tau2_results.schema.json`` in
this package (written for toolgym from tau2-bench's documented data models;
see its description). tau2 has no place for some of what toolgym records
(its own termination reasons, per-role token counts, the full grading
breakdown, timings, a message's reasoning): an export keeps them under a
``toolgym`` key of ``reward_info.info`` (per simulation) and of
``raw_data`` (per message), which tau2 ignores and an import reads back, so
that export -> import gives the same rollouts.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from toolgym.runner._results import Termination

__all__ = [
    "EXTENSION",
    "TAU2_TERMINATIONS",
    "from_tau2_termination",
    "results_schema",
    "to_tau2_termination",
]

#: The key under which an export keeps what tau2 has no field for.
EXTENSION = "toolgym"
#: Version of the extension's layout.
EXTENSION_FORMAT = 1

#: The termination reasons an export writes (those of tau2 v1.0).
TAU2_TERMINATIONS = ("user_stop", "agent_stop", "max_steps", "too_many_errors", "agent_error",
                     "user_error")

_TO_TAU2 = {
    Termination.USER_STOP: "user_stop",
    # The user ends a transfer (###TRANSFER###): a user stop for tau2.
    Termination.TRANSFER: "user_stop",
    Termination.AGENT_STOP: "agent_stop",
    Termination.MAX_STEPS: "max_steps",
    Termination.TOO_MANY_ERRORS: "too_many_errors",
}

_FROM_TAU2 = {
    "user_stop": Termination.USER_STOP,
    "agent_stop": Termination.AGENT_STOP,
    "max_steps": Termination.MAX_STEPS,
    "too_many_errors": Termination.TOO_MANY_ERRORS,
    "timeout": Termination.TIMEOUT,
    "context_window_exceeded": Termination.CONTEXT_OVERFLOW,
    # tau2 leaves infrastructure errors out of its metrics, as toolgym's tau2
    # convention leaves out model errors.
    "infrastructure_error": Termination.MODEL_ERROR,
    # A failure of the agent's or user's model (or code) in tau2: the closest
    # toolgym reason. tau2 counts these as failed trials, toolgym's tau2
    # convention leaves them out.
    "agent_error": Termination.MODEL_ERROR,
    "user_error": Termination.MODEL_ERROR,
    "assistant_error": Termination.MODEL_ERROR,
    "unexpected_error": Termination.INTERNAL_ERROR,
}


def to_tau2_termination(termination: Termination) -> str:
    """tau2's termination reason for a toolgym one (errors and limits: ``agent_error``)."""
    return _TO_TAU2.get(termination, "agent_error")


def from_tau2_termination(reason: str) -> Termination | None:
    """toolgym's termination for a tau2 reason (None when tau2 never used it)."""
    return _FROM_TAU2.get(reason)


@cache
def _schema_text() -> str:
    return resources.files("toolgym.interop").joinpath("tau2_results.schema.json").read_text(
        encoding="utf-8")


def results_schema() -> dict[str, Any]:
    """The JSON Schema of tau2 results files that exports are checked against."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema
