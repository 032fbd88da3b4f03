"""Helpers of the synthetic-task tests."""

from __future__ import annotations

import copy
from typing import Any

from toolgym.synth import SynthResult


def of_type(result: SynthResult, kind: str) -> dict[str, Any]:
    """A deep copy of the first generated task dict of a scenario type."""
    return copy.deepcopy(next(t for t in result.raw if t["scenario_type"] == kind))
