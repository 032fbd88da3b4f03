"""Tests for the shared safe arithmetic evaluator."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolgym.domains._calculate import calculate
from toolgym.errors import ToolError


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2 + 2", "4.0"),
        ("2/3", "0.67"),
        ("10 / 4", "2.5"),
        ("(1 + 2) * 3", "9.0"),
        ("-3 + +5", "2.0"),
        ("--3", "3.0"),
        ("1.005 * 1000", "1005.0"),
        ("0.1 + 0.2", "0.3"),
        ("  7 - 10", "-3.0"),
        ("100 - 12.345", "87.66"),
        (".5 + 5.", "5.5"),
        ("2 ** 10", "1024.0"),
        ("7 // 2", "3.0"),
        ("123456789012345678901234567890 - 123456789012345678901234567889", "1.0"),
        ("1/3*3", "1.0"),
    ],
)
def test_values(expression: str, expected: str) -> None:
    assert calculate(expression) == expected


@pytest.mark.parametrize(
    "expression",
    ["2 + x", "__import__('os')", "1e3", "2,3", "1 % 2", "abs(1)", "1\n+1", "1\t+1"],
)
def test_invalid_characters(expression: str) -> None:
    with pytest.raises(ToolError, match=r"^Invalid characters in expression$"):
        calculate(expression)


@pytest.mark.parametrize("expression", ["1/0", "1.0 / 0", "5 // 0", "0 ** -1", "1/(2-2)"])
def test_division_by_zero(expression: str) -> None:
    with pytest.raises(ToolError, match=r"^division by zero$"):
        calculate(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 +", "invalid syntax (<string>, line 1)"),
        ("", "invalid syntax (<string>, line 0)"),
        ("1..2", "invalid syntax (<string>, line 1)"),
        ("()", "unsupported expression"),
        ("9 ** 9 ** 9", "result too large"),
        ("(-8) ** 0.5", "not 'complex'"),
    ],
)
def test_other_errors(expression: str, message: str) -> None:
    with pytest.raises(ToolError) as info:
        calculate(expression)
    assert message in str(info.value)


def test_float_overflow_is_a_tool_error() -> None:
    with pytest.raises(ToolError):
        calculate("2.0 ** 5000")


# -- property: the evaluator agrees with Python's own arithmetic ---------------

_Value = int | float | None  # None marks a division by zero somewhere below


@st.composite
def _literal(draw: st.DrawFn) -> tuple[str, _Value]:
    if draw(st.booleans()):
        n = draw(st.integers(min_value=0, max_value=10_000))
        return str(n), n
    d = draw(st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False))
    return str(d), float(str(d))


@st.composite
def _expressions(draw: st.DrawFn, depth: int = 3) -> tuple[str, _Value]:
    """An expression's text together with its value computed independently."""
    if depth == 0 or draw(st.booleans()):
        text, number = draw(_literal())
        if draw(st.booleans()) and number is not None:
            return f"-{text}", -number
        return text, number
    ltext, lval = draw(_expressions(depth=depth - 1))
    rtext, rval = draw(_expressions(depth=depth - 1))
    op = draw(st.sampled_from(["+", "-", "*", "/"]))
    value: _Value = None
    if lval is not None and rval is not None:
        if op == "+":
            value = lval + rval
        elif op == "-":
            value = lval - rval
        elif op == "*":
            value = lval * rval
        elif rval != 0:
            value = lval / rval
    return f"({ltext} {op} {rtext})", value


@settings(max_examples=300, deadline=None)
@given(_expressions())
def test_matches_python_arithmetic(case: tuple[str, _Value]) -> None:
    expression, value = case
    if value is None:
        with pytest.raises(ToolError, match=r"^division by zero$"):
            calculate(expression)
    else:
        assert calculate(expression) == str(round(float(value), 2))


@pytest.mark.parametrize(
    "expr", ["-" * 3000 + "1", "-" * 20000 + "1", "(" * 5000 + "1" + ")" * 5000]
)
def test_pathological_nesting_is_a_tool_error(expr: str) -> None:
    with pytest.raises(ToolError):
        calculate(expr)
