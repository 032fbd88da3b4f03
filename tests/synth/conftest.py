"""Fixtures of the synthetic-task tests: domains and small generated task sets."""

from __future__ import annotations

from typing import Any

import pytest

import toolgym
from toolgym.synth import SCENARIO_TYPES, SynthResult, generate_tasks


@pytest.fixture(scope="session")
def airline() -> Any:
    """The built-in airline domain."""
    return toolgym.load_domain("airline")


@pytest.fixture(scope="session")
def retail() -> Any:
    """The built-in retail domain."""
    return toolgym.load_domain("retail")


@pytest.fixture(scope="session")
def airline_set(airline: Any) -> SynthResult:
    """Three template tasks of every airline scenario type (seed 0)."""
    return generate_tasks(airline, n=3 * len(SCENARIO_TYPES["airline"]), seed=0)


@pytest.fixture(scope="session")
def retail_set(retail: Any) -> SynthResult:
    """Three template tasks of every retail scenario type (seed 0)."""
    return generate_tasks(retail, n=3 * len(SCENARIO_TYPES["retail"]), seed=0)

