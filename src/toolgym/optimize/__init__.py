"""Prompt optimization with GEPA: ``toolgym optimize`` and :func:`optimize`.

Candidates (system prompt, policy, tool descriptions, few-shot block) are
evaluated through toolgym's rollout engine and scored on ground truth (or a
judge); feedback for GEPA's reflection comes from the grading breakdown. The
seed and the best candidate are compared on held-out test tasks at the end.
Needs the optional ``gepa`` package: ``pip install 'toolgym[optimize]'``.
"""

from toolgym.optimize._optimize import (
    GEPA_VERSION,
    OptimizeConfig,
    OptimizeError,
    OptimizeResult,
    estimate,
    optimize,
    resolve_splits,
)

__all__ = [
    "GEPA_VERSION",
    "OptimizeConfig",
    "OptimizeError",
    "OptimizeResult",
    "estimate",
    "optimize",
    "resolve_splits",
]
