"""The Python and pydantic texts of the tau2 argument mode, built by our own code.

Where this interpreter and the installed pydantic are the versions tau2's
texts come from, our texts must equal theirs on many inputs (beyond the
recorded cases); elsewhere they are checked against fixed strings only.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from toolgym.domains._error_texts import (
    PYDANTIC_DOCS_VERSION,
    call_error,
    validate,
    validation_report,
)
from toolgym.domains.airline._db import Certificate, Passenger, Reservation
from toolgym.domains.retail._db import UserAddress
from toolgym.errors import ToolError

PY_TEXTS = (3, 10) <= sys.version_info[:2] <= (3, 13)
PYDANTIC_TEXTS = pydantic.VERSION.startswith(PYDANTIC_DOCS_VERSION + ".")


class Tools:
    def none(self) -> None: ...
    def one(self, a: Any) -> None: ...
    def three(self, a: Any, b: Any, c: Any) -> None: ...
    def default(self, a: Any, b: Any = 1) -> None: ...


def _python_text(fn: Any, kwargs: dict[str, Any]) -> str | None:
    try:
        fn(Tools(), **kwargs)
    except TypeError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("kwargs", [
    {}, {"a": 1}, {"x": 1}, {"a": 1, "x": 1, "y": 2}, {"x": 1, "self": 2}, {"self": 2, "x": 1},
    {"b": 1}, {"c": 1}, {"a": 1, "b": 2, "c": 3}, {"b": 1, "z": 0},
])
@pytest.mark.parametrize("name", ["none", "one", "three", "default"])
def test_call_errors_are_pythons(name: str, kwargs: dict[str, Any]) -> None:
    fn = getattr(Tools, name)
    ours = call_error(f"Tools.{name}", inspect.signature(fn), kwargs)
    if PY_TEXTS:
        assert ours == _python_text(fn, kwargs)
    assert ours is None or ours.startswith(f"Tools.{name}() ")


def test_call_error_wording() -> None:
    sig = inspect.signature(Tools.three)
    assert call_error("T.three", sig, {}) == (
        "T.three() missing 3 required positional arguments: 'a', 'b', and 'c'")
    assert call_error("T.three", sig, {"a": 1}) == (
        "T.three() missing 2 required positional arguments: 'b' and 'c'")
    assert call_error("T.three", sig, {"q": 1}) == (
        "T.three() got an unexpected keyword argument 'q'")
    assert call_error("T.three", sig, {"self": 1}) == (
        "T.three() got multiple values for argument 'self'")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=60),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=6)


def _pydantic_text(model: type[BaseModel], data: dict[str, Any]) -> str | None:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return str(exc)
    return None


def _ours(model: type[BaseModel], data: dict[str, Any]) -> str | None:
    try:
        validate(model, data)
    except ToolError as exc:
        return str(exc)
    return None


@pytest.mark.skipif(not PYDANTIC_TEXTS, reason=f"needs pydantic {PYDANTIC_DOCS_VERSION}.x")
@settings(max_examples=300, deadline=None)
@given(st.sampled_from([Reservation, Passenger, Certificate, UserAddress]),
       st.dictionaries(st.sampled_from(["reservation_id", "user_id", "origin", "flight_type",
                                        "cabin", "passengers", "payment_history",
                                        "total_baggages", "insurance", "first_name", "dob",
                                        "id", "source", "amount", "address1", "address2",
                                        "zip", "city", "extra"]), json_values, max_size=8))
def test_reports_equal_pydantics_own(model: type[BaseModel], data: dict[str, Any]) -> None:
    assert _ours(model, data) == _pydantic_text(model, data)


@pytest.mark.skipif(not PYDANTIC_TEXTS, reason=f"needs pydantic {PYDANTIC_DOCS_VERSION}.x")
@pytest.mark.parametrize("value", ["é" * 40, ["é" * 40], ["x" * 13 + "é" + "y" * 40],
                                   ["x" * 30 + "é" + "y" * 21], "\U0001f600" * 20,
                                   {"k": ["ab" * 30]}, 10**60, 1e300])
def test_long_inputs_are_cut_like_pydantic_cuts_them(value: Any) -> None:
    data = {"first_name": value, "last_name": "x", "dob": "y"}
    assert _ours(Passenger, data) == _pydantic_text(Passenger, data)


def test_report_format_without_pydantic() -> None:
    errors = [{"type": "literal_error", "loc": ("cabin",), "input": "Economy",
               "ctx": {"expected": "whatever the library says"}},
              {"type": "model_type", "loc": ("passengers", 0), "input": "x" * 60,
               "ctx": {"class_name": "Passenger"}},
              {"type": "missing", "loc": (), "input": {}}]
    assert validation_report("Reservation", errors, Reservation) == (
        "3 validation errors for Reservation\n"
        "cabin\n"
        "  Input should be 'business', 'economy' or 'basic_economy' [type=literal_error, "
        "input_value='Economy', input_type=str]\n"
        f"    For further information visit https://errors.pydantic.dev/"
        f"{PYDANTIC_DOCS_VERSION}/v/literal_error\n"
        "passengers.0\n"
        "  Input should be a valid dictionary or instance of Passenger [type=model_type, "
        "input_value='xxxxxxxxxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxxxxxxx', input_type=str]\n"
        f"    For further information visit https://errors.pydantic.dev/"
        f"{PYDANTIC_DOCS_VERSION}/v/model_type\n"
        "  Field required [type=missing, input_value={}, input_type=dict]\n"
        f"    For further information visit https://errors.pydantic.dev/"
        f"{PYDANTIC_DOCS_VERSION}/v/missing")
