"""Fixtures of the interop tests: the imported gpt-4o airline file and an offline tau2 run.

Both are made once per session into temporary directories; tests that write
into a run directory (judges, edited configs) work on a copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import toolgym
from toolgym.interop import import_tau_bench
from toolgym.runner import RunData


@pytest.fixture(scope="session")
def v1_file(shared_dir: Path) -> Path:
    """tau-bench's published gpt-4o airline results (200 trajectories)."""
    return shared_dir / "tau-bench-v1" / "gpt-4o-airline.json"


@pytest.fixture(scope="session")
def v1_records(v1_file: Path) -> list[dict[str, Any]]:
    """The raw records of the gpt-4o file."""
    data: list[dict[str, Any]] = json.loads(v1_file.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def v1_run(v1_file: Path, tau2_airline_dir: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> RunData:
    """The gpt-4o file imported with tau2's airline data (do not write into it)."""
    data_dir = tau2_airline_dir
    out = tmp_path_factory.mktemp("v1") / "gpt-4o"
    return import_tau_bench(v1_file, out, "airline", data_dir=data_dir, agent_model="gpt-4o",
                            user_model="gpt-4o")


@pytest.fixture(scope="session")
def offline_run(tau2_airline_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> RunData:
    """An offline toolgym run on tau2's airline tasks: oracle agent that errs, scripted user,
    4 trials of all 50 base tasks (do not write into it)."""
    data_dir = tau2_airline_dir
    out = tmp_path_factory.mktemp("offline") / "airline"
    return toolgym.run(domain="airline", data_dir=str(data_dir),
                       agent_model={"model": "oracle", "args": {"error_rate": 0.3}},
                       user="scripted", trials=4, concurrency=8, out=str(out))
