"""Prompt optimization with GEPA: ``toolgym optimize`` and :func:`optimize`.

Candidates (system prompt, policy, tool descriptions, few-shot block) are
evaluated through toolgym's rollout engine and scored on ground truth (or a
judge); feedback for GEPA's reflection comes from the grading breakdown. The
seed and the best candidate are compared on held-out test tasks at the end.
Needs the optional ``gepa`` package: ``pip install 'toolgym[optimize]'``.

The package is callable: ``toolgym.optimize(...)`` is :func:`optimize_run`
(keyword arguments like :func:`toolgym.run`); :func:`optimize` takes a complete
:class:`OptimizeConfig`.
"""

import sys
import types
from typing import Any

from toolgym.optimize._optimize import (
    GEPA_VERSION,
    OptimizeConfig,
    OptimizeError,
    OptimizeResult,
    estimate,
    optimize,
    optimize_run,
    resolve_splits,
)

__all__ = [
    "GEPA_VERSION",
    "OptimizeConfig",
    "OptimizeError",
    "OptimizeResult",
    "estimate",
    "optimize",
    "optimize_run",
    "resolve_splits",
]


class _CallableModule(types.ModuleType):
    """Makes ``toolgym.optimize(...)`` the verb while ``toolgym.optimize`` stays a package."""

    def __call__(self, *args: Any, **kwargs: Any) -> OptimizeResult:
        return optimize_run(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
