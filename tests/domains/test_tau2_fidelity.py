"""tau2 argument mode: every recorded tau2 call sequence gives tau2's exact output.

``../shared/tau2/fidelity/cases.jsonl`` holds 280 tool-call sequences run
through tau2-bench v1.0.1 with what tau2 returned (its README describes the
format). Long outputs are recorded as their first 400 (``tau2_outputs``) or
700 (``tau2_last``) characters followed by ``... [N chars]``, N being the
full length: such an output must start with that head and have that length.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from toolgym.domains import Domain, ToolResult, load_domain
from toolgym.env import Environment
from toolgym.tasks import InitialState

#: The number of sequences in cases.jsonl (its README).
N_CASES = 280
_TRUNCATED = re.compile(r"^(?P<head>.*)\.\.\. \[(?P<length>\d+) chars\]$", re.DOTALL)


@pytest.fixture(scope="module")
def data_dirs(tau2_airline_dir: Path, tau2_retail_dir: Path) -> dict[str, Path]:
    return {"airline": tau2_airline_dir, "retail": tau2_retail_dir}


@cache
def _domain(data_dir: Path, name: str, mode: str) -> Domain[Any]:
    return load_domain(name, data_dir=data_dir, tool_args=mode)


def same_output(expected: str, got: str) -> bool:
    """Whether ``got`` is tau2's output ``expected`` (which may be a head and a length)."""
    m = _TRUNCATED.match(expected)
    if m is not None and len(m["head"]) in (400, 700):
        return len(got) == int(m["length"]) and got.startswith(m["head"])
    return got == expected


def run_case(data_dirs: dict[str, Path], case: dict[str, Any], mode: str, index: int = 0
             ) -> list[ToolResult]:
    """Run a case's calls on its task's initial state; every call's result."""
    domain = _domain(data_dirs[case["domain"]], case["domain"], mode)
    base = domain.task(case["task_id"].split("~")[0])
    state = case["initial_state"]
    if state:
        # The domain object caches a task's own snapshot (a whole database) by task id:
        # a throwaway copy of the domain lets it go with the test.
        domain = domain.with_toolkit(domain.toolkit_type, domain.tool_args)
    task = base.model_copy(update={
        "id": f"fidelity-case-{index}",
        "initial_state": InitialState.model_validate(state) if state else None})
    env = Environment(domain, task)
    return [env.toolkit.call(c["name"], c["arguments"]) for c in case["calls"]]


def test_the_comparison_reads_truncated_outputs() -> None:
    head = "x" * 400
    assert same_output(head + "... [405 chars]", head + "abcde")
    assert not same_output(head + "... [405 chars]", head + "abcdef")
    assert not same_output(head + "... [405 chars]", "y" + head[1:] + "abcde")
    assert same_output("Error: Too many certificates", "Error: Too many certificates")
    assert not same_output("Error: Too many certificates", "Error: Too many certificates.")


def test_cases_file_has_every_sequence(tau2_fidelity_cases: list[dict[str, Any]]) -> None:
    assert len(tau2_fidelity_cases) == N_CASES


@pytest.mark.parametrize("index", range(N_CASES))
def test_tau2_case(index: int, tau2_fidelity_cases: list[dict[str, Any]],
                   data_dirs: dict[str, Path]) -> None:
    case = tau2_fidelity_cases[index]
    results = run_case(data_dirs, case, "tau2", index)
    if "tau2_last" in case:
        expected = case["tau2_last"]
        got = results[-1]
        assert same_output(expected["content"], got.content), (expected["content"],
                                                               got.content)
        assert got.error == expected["error"]
    else:
        assert len(results) == len(case["tau2_outputs"])
        for i, (expected_text, got) in enumerate(zip(case["tau2_outputs"], results,
                                                     strict=True)):
            assert same_output(expected_text, got.content), (i, expected_text, got.content)
            assert got.error == expected_text.startswith("Error: ")


def test_cases_leave_the_shared_snapshots_untouched(
        tau2_fidelity_cases: list[dict[str, Any]], data_dirs: dict[str, Path]) -> None:
    for i, case in enumerate(tau2_fidelity_cases):
        if case["initial_state"] is None:  # those share the domain's snapshot
            run_case(data_dirs, case, "tau2", 10_000 + i)
    for name, data_dir in data_dirs.items():
        assert _domain(data_dir, name, "tau2").snapshot.verify(), name


def test_strict_mode_keeps_its_own_validation(data_dirs: dict[str, Path]) -> None:
    """The same malformed calls in the strict mode: toolgym's own messages."""
    flights = [{"flight_number": "HAT001", "date": "2024-05-20"}, "HAT001"]
    call = {"name": "book_reservation", "arguments": {
        "user_id": "mei_hernandez_8984", "origin": "PHL", "destination": "LGA",
        "flight_type": "one_way", "cabin": "economy", "flights": flights,
        "passengers": [{"first_name": "Mei", "last_name": "Hernandez", "dob": "1981-01-01"}],
        "payment_methods": [{"payment_id": "credit_card_2140654", "amount": 137}],
        "total_baggages": 0, "nonfree_baggages": 0, "insurance": "no"}}
    case = {"domain": "airline", "task_id": "0", "initial_state": None, "calls": [call]}
    (strict,) = run_case(data_dirs, case, "strict")
    (tau2,) = run_case(data_dirs, case, "tau2")
    assert strict.content.startswith("Error: invalid flights.1: Input should be a valid "
                                     "dictionary")
    assert tau2.content == "Error: 'dict' object has no attribute 'flight_number'"
    binding = {"domain": "airline", "task_id": "0", "initial_state": None,
               "calls": [{"name": "get_user_details", "arguments": {}}]}
    assert run_case(data_dirs, binding, "strict")[0].content == (
        "Error: get_user_details() missing a required argument: 'user_id'")
    assert run_case(data_dirs, binding, "tau2")[0].content == (
        "Error: AirlineTools.get_user_details() missing 1 required positional argument: "
        "'user_id'")

