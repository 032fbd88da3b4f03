"""The generic name registry and the three public registries built on it."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from toolgym._registry import Registry
from toolgym.agents import AgentContext, agent_strategies, create_agent
from toolgym.errors import ConfigError
from toolgym.models import create_model, model_providers
from toolgym.tasks import Task
from toolgym.users import UserContext, create_user, user_strategies


def test_register_returns_the_entry_and_get_finds_it() -> None:
    reg: Registry[Callable[[], str]] = Registry("widget")

    @reg.register("b")
    def make_b() -> str:
        return "B"

    reg.register("a")(lambda: "A")
    assert make_b() == "B"  # the decorator hands back the function itself
    assert reg.get("b") is make_b
    assert reg.get("a")() == "A"
    assert reg.names() == ["a", "b"]
    assert reg.kind == "widget"


def test_registering_a_name_again_replaces_the_entry() -> None:
    reg: Registry[int] = Registry("number")
    reg.register("x")(1)
    reg.register("x")(2)
    assert reg.get("x") == 2
    assert reg.names() == ["x"]


def test_unknown_name_lists_the_known_ones_sorted() -> None:
    reg: Registry[int] = Registry("gadget")
    reg.register("zeta")(1)
    reg.register("alpha")(2)
    with pytest.raises(ConfigError) as info:
        reg.get("nope")
    assert str(info.value) == "unknown gadget 'nope' (known: alpha, zeta)"
    with pytest.raises(ConfigError) as info:
        reg.get("nope", within="nope/model-x")
    assert str(info.value) == "unknown gadget 'nope' in 'nope/model-x' (known: alpha, zeta)"


def test_empty_registry_error() -> None:
    with pytest.raises(ConfigError, match=re.escape("unknown thing 'a' (known: )")):
        Registry[int]("thing").get("a")


def test_builtins_load_lazily_before_every_lookup() -> None:
    calls: list[str] = []

    def load() -> None:
        calls.append("load")
        reg.register("builtin")("B")

    reg: Registry[str] = Registry("part", load)
    reg.register("plugin")("P")  # registering does not trigger the import
    assert calls == []
    assert reg.names() == ["builtin", "plugin"]
    assert reg.get("builtin") == "B"
    with pytest.raises(ConfigError, match=r"\(known: builtin, plugin\)"):
        reg.get("other")
    assert calls == ["load", "load", "load"]


def test_a_failing_builtin_import_propagates_and_is_retried() -> None:
    attempts: list[int] = []

    def load() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise ImportError("broken plugin")

    reg: Registry[int] = Registry("part", load)
    reg.register("x")(1)
    with pytest.raises(ImportError, match="broken plugin"):
        reg.get("x")
    assert reg.get("x") == 1
    assert len(attempts) == 2


def test_plugin_override_of_a_builtin_survives_the_lazy_import() -> None:
    # The built-in module registers once (import caching), so a later
    # registration under the same name wins, as it did before the Registry.
    loaded = False

    def load() -> None:
        nonlocal loaded
        if not loaded:
            loaded = True
            reg.register("std")("builtin")

    reg: Registry[str] = Registry("part", load)
    assert reg.get("std") == "builtin"
    reg.register("std")("plugin")
    assert reg.get("std") == "plugin"


# -- the public registries keep their names, built-ins and messages --------------


def test_agent_registry_message_and_builtins() -> None:
    names = agent_strategies()
    assert {"act", "few-shot", "react", "tool-calling"} <= set(names)
    assert names == sorted(names)
    ctx = AgentContext(model=create_model("scripted"), system_prompt="", tools=[])
    with pytest.raises(ConfigError) as info:
        create_agent("nope", ctx)
    assert str(info.value) == f"unknown agent strategy 'nope' (known: {', '.join(names)})"


def test_user_registry_message_and_builtins() -> None:
    names = user_strategies()
    assert {"human", "llm", "scripted"} <= set(names)
    task = Task.model_validate({"id": "t1", "user_scenario": {"instructions": "Be brief."}})
    with pytest.raises(ConfigError) as info:
        create_user("nope", UserContext(task=task, model=None, seed=0))
    assert str(info.value) == f"unknown user simulator 'nope' (known: {', '.join(names)})"


def test_model_registry_message_and_builtins() -> None:
    names = model_providers()
    assert {"litellm", "openai", "oracle", "scripted"} <= set(names)
    with pytest.raises(ConfigError) as info:
        create_model("nope/some-model")
    assert str(info.value) == (
        f"unknown model provider 'nope' in 'nope/some-model' (known: {', '.join(names)})"
    )
    assert create_model("scripted").name == "scripted"


def test_description_is_the_first_docstring_line() -> None:
    reg: Registry[object] = Registry("widget")

    @reg.register("documented")
    def documented() -> None:
        """Makes a ``widget``.

        More text.
        """

    @reg.register("cls")
    class Documented:
        """A class entry."""

    reg.register("bare")(lambda: None)
    assert reg.description("documented") == "Makes a widget."
    assert reg.description("cls") == "A class entry."
    # No docstring of its own: the first line of its module's.
    assert reg.description("bare") == "The generic name registry and the three public " \
        "registries built on it."
    with pytest.raises(ConfigError, match="unknown widget 'x'"):
        reg.description("x")
