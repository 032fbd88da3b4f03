"""A small, safe selection language for rollouts: ``--select "reward==1 and steps<20"``.

The expression is parsed with :mod:`ast` and evaluated by walking an
allow-list of nodes (comparisons, ``and``/``or``/``not``, literals, tuples and
lists, field names) — never ``eval``. Fields a rollout offers:

``reward``, ``success``, ``termination``, ``steps``, ``task_id``, ``trial``,
``split`` (the task's split names, for ``"train" in split``), ``cost``,
``duration``, ``infra_error``, ``rating`` (the ``rater`` scoring's score, if
any) and ``score_<name>`` / ``success_<name>`` for any scoring of the run.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

from toolgym.errors import ConfigError

__all__ = ["FIELDS", "Selector", "compile_selection"]

#: The fields every rollout offers (scorings add score_<name> and success_<name>).
FIELDS = ("reward", "success", "termination", "steps", "task_id", "trial", "split", "cost",
          "duration", "infra_error", "rating")

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
    # ``rating is None``: identity is only meaningful for None, True and False.
    ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b,
}
_MAX_CHARS = 2000
_MAX_NODES = 300

Selector = Callable[[Mapping[str, Any]], bool]


def compile_selection(text: str) -> Selector:
    """Compile a selection expression into a predicate over a rollout's fields.

    Raises:
        ConfigError: the expression is not valid, or uses something other than
            comparisons, ``and``/``or``/``not``, literals and field names.
    """
    if len(text) > _MAX_CHARS:
        raise ConfigError(f"--select expression too long (over {_MAX_CHARS} characters)")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"--select {text!r}: not a valid expression ({exc.msg})") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > _MAX_NODES:
        raise ConfigError("--select expression too large")
    for node in nodes:
        if not isinstance(node, ast.Expression | ast.BoolOp | ast.And | ast.Or | ast.UnaryOp
                          | ast.Not | ast.USub | ast.Compare | ast.Name | ast.Load
                          | ast.Constant | ast.Tuple | ast.List | ast.cmpop):
            raise ConfigError(f"--select {text!r}: {type(node).__name__} is not allowed (use "
                              "comparisons, and/or/not, literals and fields: "
                              f"{', '.join(FIELDS)}, score_<scoring>, success_<scoring>)")
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not | ast.USub):
            raise ConfigError(f"--select {text!r}: operator not allowed")
    body = tree.body

    def select(fields: Mapping[str, Any]) -> bool:
        return bool(_eval(body, fields, text))

    return select


def _eval(node: ast.AST, fields: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in ("true", "false", "none"):
            return {"true": True, "false": False, "none": None}[node.id]
        if node.id not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"--select {text!r}: unknown field {node.id!r} (known: {known}; "
                              "quote text values: termination == \"user_stop\")")
        return fields[node.id]
    if isinstance(node, ast.Tuple | ast.List):
        return tuple(_eval(e, fields, text) for e in node.elts)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, fields, text)
        if isinstance(node.op, ast.Not):
            return not value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"--select {text!r}: '-' applies to numbers, not "
                              f"{type(value).__name__} values")
        return -value
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_eval(v, fields, text) for v in node.values)
        return any(_eval(v, fields, text) for v in node.values)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, fields, text)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, fields, text)
            try:
                ok = _COMPARE[type(op)](left, right)
            except TypeError:
                ok = False  # e.g. None < 1: a missing value never matches
            if not ok:
                return False
            left = right
        return True
    raise ConfigError(f"--select {text!r}: {type(node).__name__} is not allowed")
