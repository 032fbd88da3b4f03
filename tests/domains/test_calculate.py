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


# -- limits: refused before anything slow happens -----------------------------

@pytest.mark.parametrize(
    ("expression", "message"),
    [
        # A 10,000-character power tower: too many operators to even parse.
        ("2" + "**2" * 3333, "expression too complex (at most 1000 operators)"),
        ("1" + " + 1" * 1001, "expression too complex (at most 1000 operators)"),
        ("1" + "+1" * 400, "expression too deeply nested (at most 300 levels)"),
        ("-" * 999 + "1", "expression too deeply nested (at most 300 levels)"),
        ("9" * 4000, "number too large"),
        ("2 ** 10001", "result too large"),
        ("3 ** 10000", "result too large"),
        # Each factor is allowed, the product is not: refused before multiplying
        # (with 3**31000 factors, the evaluator used to spend 8 s on 100, 76 s on 300).
        ("*".join(["3**6000"] * 100), "result too large"),
        ("(2**9000) * (2**9000)", "result too large"),
    ],
)
def test_oversized_expressions_are_refused(expression: str, message: str) -> None:
    with pytest.raises(ToolError) as info:
        calculate(expression)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1" + "+1" * 299, "300.0"),                 # a sum of 300 numbers still works
        ("(10 ** 3000) / (10 ** 2999)", "10.0"),     # big exact intermediates are fine
        ("2 ** 9999 / 2 ** 9998", "2.0"),
        ("2 ** -10001", "0.0"),
    ],
)
def test_large_but_reasonable_expressions_still_work(expression: str, expected: str) -> None:
    assert calculate(expression) == expected


def test_the_tool_returns_the_limit_as_an_error_message() -> None:
    from toolgym.domains import load_domain
    from toolgym.env import Environment
    from toolgym.messages import ToolCall

    env = Environment(load_domain("retail"))
    done = env.execute(ToolCall(id="c", name="calculate",
                                arguments={"expression": "*".join(["3**6000"] * 200)}))
    assert done.result.error and not done.bug
    assert done.result.content == "Error: result too large"
