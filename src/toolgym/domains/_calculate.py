"""A safe arithmetic evaluator shared by the airline and retail ``calculate`` tools.

tau2's ``calculate`` tool restricts the expression to the characters
``0-9 + - * / ( ) .`` and space, evaluates it as Python arithmetic, rounds the
result to 2 decimals and returns ``str(float)``. We reproduce those results
without ever calling ``eval``: the expression is parsed with :mod:`ast` (which
compiles nothing) and the tree is walked, allowing only number literals,
binary ``+ - * /`` (plus ``//`` and ``**``, which the allowed characters can
also spell and which Python arithmetic therefore accepts), unary ``+``/``-``
and parentheses.

Values keep Python's own types while evaluating (ints stay exact ints, ``/``
is true division), so the result is the same float Python would compute.

Tools run on the event loop, so an expression must never take long: before
anything is parsed, its length and operator count are capped; before
anything is evaluated, the syntax tree's size and depth are; while
evaluating, no integer may grow past :data:`MAX_INT_BITS` (Python's own
arithmetic, as in tau2, spends over a minute multiplying 300 factors
``3**31000``; no float result is that large anyway). Each limit is a
:class:`ToolError` the agent sees.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable

from toolgym.errors import ToolError

__all__ = ["ALLOWED_CHARACTERS", "MAX_DEPTH", "MAX_EXPRESSION_LENGTH", "MAX_INT_BITS",
           "MAX_NODES", "MAX_OPERATORS", "calculate"]

#: Characters an expression may contain; anything else is refused up front.
ALLOWED_CHARACTERS = frozenset("0123456789+-*/(). ")
#: Longer input is refused before parsing (an agent has no use for it).
MAX_EXPRESSION_LENGTH = 10_000
#: More operator characters than this are refused before parsing.
MAX_OPERATORS = 1_000
#: Syntax trees larger than this are refused before evaluation.
MAX_NODES = 2 * MAX_OPERATORS + 1
#: Syntax trees nested deeper than this are refused before evaluation (a
#: sum of 300 numbers is 300 levels deep).
MAX_DEPTH = 300
#: No integer, intermediate or final, may have more bits; a float result
#: needs fewer than 1,100.
MAX_INT_BITS = 10_000

Number = int | float

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
}


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression and return the rounded result as text.

    Args:
        expression: Arithmetic over number literals with ``+ - * /`` and
            parentheses, e.g. ``"(2 + 3) * 4.5"``.

    Returns:
        ``str(round(float(result), 2))``, e.g. ``"4.0"`` or ``"0.67"``.

    Raises:
        ToolError: ``Invalid characters in expression`` for any character
            outside the allowed set, ``division by zero``, the parser's
            message for malformed input, or ``expression too long`` /
            ``too complex`` / ``too deeply nested`` / ``result too large``
            past the limits in the module docstring.
    """
    if not isinstance(expression, str) or not set(expression) <= ALLOWED_CHARACTERS:
        raise ToolError("Invalid characters in expression")
    # Python's eval() skips leading blanks of a string source; ast.parse does
    # not, so strip them to accept the same inputs.
    source = expression.lstrip(" ")
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ToolError(f"expression too long (at most {MAX_EXPRESSION_LENGTH} characters)")
    operators = sum(source.count(c) for c in "+-*/")
    if operators > MAX_OPERATORS:
        raise ToolError(f"expression too complex (at most {MAX_OPERATORS} operators)")
    try:
        tree = ast.parse(source, filename="<string>", mode="eval")
        _check_size(tree.body)
        value = _eval(tree.body)
        return str(round(float(value), 2))
    except SyntaxError as exc:
        raise ToolError(str(exc)) from None
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except OverflowError as exc:
        raise ToolError(str(exc)) from None
    except (RecursionError, MemoryError):
        # Deeply nested input (e.g. thousands of unary minus signs) must not
        # take the episode down.
        raise ToolError("expression too deeply nested") from None


def _check_size(root: ast.expr) -> None:
    """Refuse trees with too many nodes or too deep, without recursing."""
    stack = [(root, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ToolError(f"expression too complex (at most {MAX_NODES} terms)")
        if depth > MAX_DEPTH:
            raise ToolError(f"expression too deeply nested (at most {MAX_DEPTH} levels)")
        if isinstance(node, ast.BinOp):
            stack.append((node.left, depth + 1))
            stack.append((node.right, depth + 1))
        elif isinstance(node, ast.UnaryOp):
            stack.append((node.operand, depth + 1))


def _too_large(*values: Number) -> bool:
    return any(isinstance(v, int) and v.bit_length() > MAX_INT_BITS for v in values)


def _eval(node: ast.expr) -> Number:
    if isinstance(node, ast.Constant):
        # Only ints and floats can be spelled with the allowed characters, but
        # check anyway so a bool/str/complex can never slip through.
        value = node.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            if _too_large(value):
                raise ToolError("number too large")
            return value
        raise ToolError("unsupported expression")
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return +operand
        raise ToolError("unsupported expression")
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            return _pow(left, right)
        fn = _BINARY.get(type(node.op))
        if fn is None:
            raise ToolError("unsupported expression")
        if (isinstance(node.op, ast.Mult) and isinstance(left, int) and isinstance(right, int)
                and left.bit_length() + right.bit_length() > MAX_INT_BITS + 1):
            raise ToolError("result too large")  # checked before the multiplication
        result = fn(left, right)
        if _too_large(result):
            raise ToolError("result too large")
        return result
    # e.g. "()" parses to an empty tuple; Python's float() would reject it.
    raise ToolError("unsupported expression")


def _pow(base: Number, exponent: Number) -> Number:
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and abs(base) > 1
        and (base.bit_length() - 1) * exponent > MAX_INT_BITS
    ):
        raise ToolError("result too large")
    result = base**exponent
    if _too_large(result):
        raise ToolError("result too large")
    if isinstance(result, complex):
        # A negative base to a fractional power; float() of it fails in Python.
        raise ToolError("float() argument must be a string or a real number, not 'complex'")
    return result
