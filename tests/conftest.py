"""Shared fixtures.

Tests that read ``../shared`` (tau2 and tau-bench data) skip when it is
missing, except under ``TOOLGYM_REQUIRE_SHARED=1`` (set by CI), where they
fail: CI must never pass by skipping the standard benchmark.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO.parent / "shared").resolve()


def require_shared(*parts: str) -> Path:
    """Path under ../shared; skip (or fail under TOOLGYM_REQUIRE_SHARED=1) if absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"shared data not found: {path}"
        if os.environ.get("TOOLGYM_REQUIRE_SHARED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared directory."""
    return require_shared()


@pytest.fixture(scope="session")
def tau2_airline_dir() -> Path:
    """../shared/tau2/airline."""
    return require_shared("tau2", "airline")


@pytest.fixture(scope="session")
def tau2_retail_dir() -> Path:
    """../shared/tau2/retail."""
    return require_shared("tau2", "retail")


@pytest.fixture(scope="session")
def tau2_fidelity_cases() -> list[dict[str, Any]]:
    """The call sequences of ../shared/tau2/fidelity/cases.jsonl, with tau2's outputs."""
    path = require_shared("tau2", "fidelity", "cases.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


# ---------------------------------------------------------------- memory cap

#: Default cap on the writable memory of the test process (and of the
#: subprocesses it starts), in GiB. The whole suite peaks near 0.3 GiB; with
#: a copy-on-write database that shared its records, the resume property test
#: grew 8x per example, to 24 GB. TOOLGYM_TEST_MEMORY_GIB overrides it (0
#: disables). Time is capped by pytest-timeout (pyproject.toml).
MEMORY_CAP_GIB = 4.0


def memory_cap_bytes() -> int | None:
    """The configured cap in bytes, or None when disabled."""
    gib = float(os.environ.get("TOOLGYM_TEST_MEMORY_GIB", MEMORY_CAP_GIB))
    return int(gib * 2**30) if gib > 0 else None


def _cap_memory() -> None:
    """Lower RLIMIT_DATA's soft limit so a runaway test fails with MemoryError.

    RLIMIT_DATA (private writable memory: heap, anonymous mmap, thread stacks;
    Linux >= 4.7) rather than RLIMIT_AS: address space that is reserved but
    never written (glibc's per-thread malloc arenas, Chromium's heap cage)
    counts in AS. This suite's virtual size peaks at 4.5 GiB while its data
    segment stays near 0.3 GiB, and headless Chromium (the browser tests)
    aborts under a 4 GiB AS cap but runs under a 4 GiB data cap. Children
    inherit the limit, so subprocess tests are bounded too; a child may
    raise its soft limit back up to the unchanged hard one.
    """
    try:
        import resource
    except ImportError:  # not on Windows
        return
    cap = memory_cap_bytes()
    if cap is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft == resource.RLIM_INFINITY or soft > cap:
        resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))


def pytest_configure(config: pytest.Config) -> None:
    _cap_memory()


@pytest.fixture(scope="session")
def memory_cap() -> int | None:
    """The memory cap in force (bytes), or None when disabled."""
    return memory_cap_bytes()


@pytest.fixture
def datasets_lib() -> object:
    """The optional ``datasets`` package; skip without it, or fail under TOOLGYM_REQUIRE_HF=1
    (CI installs the ``[hf]`` extra and runs the ``hf`` tests that way)."""
    try:
        import datasets

        if not hasattr(datasets, "Dataset"):  # not Hugging Face's (a folder of that name)
            raise ImportError("datasets")
    except ImportError:
        if os.environ.get("TOOLGYM_REQUIRE_HF") == "1":
            pytest.fail("the datasets package is required here (pip install -e '.[hf]')")
        pytest.skip("needs the optional datasets package: pip install -e '.[hf]'")
    return datasets


@pytest.fixture(scope="session")
def ray_lib() -> object:
    """The optional ``ray`` package with a local instance; skip without it, or fail under
    TOOLGYM_REQUIRE_RAY=1 (CI installs the ``[ray]`` extra for the ``ray`` tests)."""
    try:
        import ray
    except ImportError:
        if os.environ.get("TOOLGYM_REQUIRE_RAY") == "1":
            pytest.fail("the ray package is required here (pip install -e '.[ray]')")
        pytest.skip("needs the optional ray package: pip install -e '.[ray]'")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             ignore_reinit_error=True)
    yield ray
    ray.shutdown()
