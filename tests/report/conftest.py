"""Fixtures for the report tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from report_synth import write_run

from toolgym.runner._results import RolloutResult
from toolgym.runner._store import RunData


@pytest.fixture
def run_factory(tmp_path: Path) -> Callable[..., RunData]:
    """``run_factory(name, results, **kw)`` writes a run under tmp_path and loads it."""

    def factory(name: str, results: Sequence[RolloutResult], **kw: Any) -> RunData:
        return write_run(tmp_path / name, results, **kw)

    return factory
