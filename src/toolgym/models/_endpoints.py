"""Named endpoints from ``toolgym.toml`` and environment variables from ``.env``.

Example ``toolgym.toml``::

    [endpoints.local-qwen]
    model = "openai/Qwen/Qwen2.5-7B-Instruct"
    base_url = "http://localhost:8000/v1"
    max_concurrency = 32
    args = { temperature = 0.0, max_tokens = 1024 }

    [endpoints.gpt]
    model = "openai/gpt-4.1-mini"
    api_key_env = "OPENAI_API_KEY"

    [prices."Qwen/Qwen2.5-7B-Instruct"]
    input = 0.0
    output = 0.0

``--agent-model local-qwen`` then resolves to that endpoint. Keys never go
in the file: ``api_key_env`` names the variable that holds one, and a
``.env`` file next to it can set that variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from toolgym._io import load_toml, read_text
from toolgym._secrets import url_credentials
from toolgym.errors import ConfigError, DataError
from toolgym.models._base import ModelConfig, find_secrets
from toolgym.models._pricing import Price, _to_price, lookup_price

__all__ = ["EndpointsConfig", "load_dotenv", "load_endpoints", "resolve_model"]

DEFAULT_CONFIG_FILE = "toolgym.toml"


@dataclass
class EndpointsConfig:
    """Endpoint aliases and prices read from a config file."""

    endpoints: dict[str, ModelConfig] = field(default_factory=dict)
    prices: dict[str, Price] = field(default_factory=dict)
    path: Path | None = None

    def resolve(self, model: str | ModelConfig, **overrides: Any) -> ModelConfig:
        """See :func:`resolve_model`."""
        return resolve_model(model, self, **overrides)


def _endpoint(alias: str, raw: Any, where: str) -> ModelConfig:
    if not isinstance(raw, Mapping):
        raise DataError(f"{where}: [endpoints.{alias}] must be a table")
    secrets = find_secrets(dict(raw))
    if secrets:
        raise DataError(
            f"{where}: [endpoints.{alias}] has {sorted(secrets)}; never put keys in a config "
            "file: set an environment variable (or a .env line) and name it in api_key_env"
        )
    base_url = raw.get("base_url")
    problem = url_credentials(base_url) if isinstance(base_url, str) else None
    if problem:
        raise DataError(
            f"{where}: [endpoints.{alias}] base_url has {problem}; never put keys in a config "
            "file: set an environment variable (or a .env line) and name it in api_key_env"
        )
    if "model" not in raw:
        raise DataError(f"{where}: [endpoints.{alias}] needs a 'model'")
    try:
        return ModelConfig.model_validate(dict(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{where}: [endpoints.{alias}] {loc}: {first['msg']}") from None


def load_endpoints(path: str | Path | None = None) -> EndpointsConfig:
    """Read endpoint aliases and prices.

    Args:
        path: The TOML file. When omitted, ``./toolgym.toml`` is read if it
            exists (an empty config otherwise).

    Raises:
        DataError: the file is missing (when named), malformed, or holds a key.
    """
    if path is None:
        default = Path(DEFAULT_CONFIG_FILE)
        if not default.exists():
            return EndpointsConfig()
        path = default
    p = Path(path)
    data = load_toml(p, "endpoints file")
    raw_endpoints = data.get("endpoints", {})
    if not isinstance(raw_endpoints, Mapping):
        raise DataError(f"{p}: [endpoints] must be a table of tables")
    endpoints = {alias: _endpoint(alias, raw, str(p)) for alias, raw in raw_endpoints.items()}
    raw_prices = data.get("prices", {})
    if not isinstance(raw_prices, Mapping):
        raise DataError(f"{p}: [prices] must be a table")
    try:
        prices = {name: _to_price(v, f"{p}: [prices.{name}]") for name, v in raw_prices.items()}
    except ConfigError as exc:
        raise DataError(str(exc)) from None
    return EndpointsConfig(endpoints=endpoints, prices=prices, path=p)


def resolve_model(
    model: str | ModelConfig,
    endpoints: EndpointsConfig | None = None,
    *,
    endpoints_file: str | Path | None = None,
    **overrides: Any,
) -> ModelConfig:
    """Turn a model string (an alias or ``provider/model``) into a :class:`ModelConfig`.

    Aliases take precedence over provider names. When the config file has a
    price for the model and the args set none, ``price_in`` / ``price_out``
    are filled in.

    Args:
        model: An alias, a model string, or a config (returned updated).
        endpoints: Aliases and prices; read from ``endpoints_file`` (or
            ``./toolgym.toml`` when present) when omitted.
        endpoints_file: The TOML file to read when ``endpoints`` is omitted.
        **overrides: ModelConfig fields to set; None values are ignored (so
            unset CLI options keep the alias's values) and ``args`` are merged
            into the endpoint's args rather than replacing them.

    Raises:
        ConfigError: an override is not a valid ModelConfig value.
    """
    if endpoints is None:
        endpoints = load_endpoints(endpoints_file)
    if isinstance(model, ModelConfig):
        base = model
    elif model in endpoints.endpoints:
        base = endpoints.endpoints[model]
    else:
        base = ModelConfig(model=model)
    data = base.model_dump()
    for key, value in overrides.items():
        if value is None:
            continue
        data[key] = {**data.get("args", {}), **value} if key == "args" else value
    try:
        config = ModelConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"model {base.model!r}: {loc}: {first['msg']}") from None
    if endpoints.prices and "price_in" not in config.args:
        price = lookup_price(config.model, endpoints.prices, defaults=False)
        if price is not None:
            config.args["price_in"] = price.input_per_m
            config.args["price_out"] = price.output_per_m
    return config


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        if value[0] == '"':
            inner = inner.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        return inner
    # An unquoted value ends at a " #" comment.
    hash_at = value.find(" #")
    return (value[:hash_at] if hash_at >= 0 else value).strip()


def load_dotenv(
    path: str | Path = ".env",
    environ: MutableMapping[str, str] | None = None,
) -> list[str]:
    """Load ``KEY=VALUE`` lines into the environment, never overriding what is set.

    Blank lines and ``#`` comments are skipped, an ``export`` prefix is
    allowed, and single or double quotes around a value are removed. A missing
    file is not an error.

    Args:
        path: The file to read.
        environ: The mapping to fill (``os.environ`` by default).

    Returns:
        The names of the variables that were set (values are never returned).

    Raises:
        DataError: the file is not UTF-8 or a line is not ``KEY=VALUE``.
    """
    env = os.environ if environ is None else environ
    p = Path(path)
    if not p.is_file():
        return []
    set_names: list[str] = []
    for lineno, line in enumerate(read_text(p, "environment file").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("export "):
            text = text[len("export "):].lstrip()
        name, sep, value = text.partition("=")
        name = name.strip()
        if not sep or not name or not name.replace("_", "").isalnum():
            raise DataError(f"{p}:{lineno}: expected KEY=VALUE")
        if name in env:
            continue
        env[name] = _unquote(value.strip())
        set_names.append(name)
    return set_names
