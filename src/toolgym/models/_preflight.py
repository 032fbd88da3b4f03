"""Endpoint preflight: is every model endpoint of a run usable, before any rollout?

For each role with an HTTP model, :func:`check_endpoints` makes the cheapest
requests that catch the usual set-up mistakes at once, instead of after a
night of retries: the server answers, it knows the model name
(``GET /models``), and it takes a chat request — for the agent, one that
offers a tool and carries a tool call and its result, so that a server
started without tool-call support (vLLM without ``--enable-auto-tool-choice``)
fails here. When the agent model does call the offered tool, its call is
sent back with a result: a full round trip.

Local models (``oracle``, ``scripted``) need no check. Providers opt in by
implementing ``preflight(tools: bool) -> str`` on their model class; it
returns what was verified and raises :class:`PreflightError` with the
problem otherwise.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from toolgym._secrets import redact_secrets
from toolgym.errors import ConfigError
from toolgym.models._base import ModelConfig, create_model

__all__ = ["PING_TOOL", "EndpointCheck", "PreflightError", "check_endpoints"]

#: The tool offered to the agent's model during the preflight.
PING_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "ping",
        "description": "Check that the service is up. Returns 'pong'.",
        "parameters": {"type": "object", "properties": {}, "required": []},
    },
}

#: Longest a preflight request may take (the model's own timeout may be shorter).
PREFLIGHT_TIMEOUT_S = 60.0


class PreflightError(ConfigError):
    """An endpoint failed its preflight: the message says what, one line per endpoint."""


@dataclass
class EndpointCheck:
    """The outcome of one endpoint's preflight."""

    role: str
    model: str
    base_url: str | None
    ok: bool
    detail: str
    seconds: float

    def line(self) -> str:
        """``agent endpoint http://127.0.0.1:9/v1: connection refused``."""
        where = self.base_url or "(provider default URL)"
        return redact_secrets(f"{self.role} endpoint {where}: {self.detail}")


async def _check_one(role: str, config: ModelConfig, tools: bool) -> EndpointCheck:
    started = time.perf_counter()
    try:
        model = create_model(config)
    except ConfigError as exc:
        return EndpointCheck(role, config.model, config.base_url, False, str(exc), 0.0)
    check = getattr(model, "preflight", None)
    try:
        if check is None:
            return EndpointCheck(role, config.model, config.base_url, True,
                                 "local model, nothing to check", 0.0)
        base_url = getattr(model, "base_url", None) or config.base_url
        try:
            detail = await check(tools=tools)
        except PreflightError as exc:
            return EndpointCheck(role, config.model, base_url, False, str(exc),
                                 time.perf_counter() - started)
        return EndpointCheck(role, config.model, base_url, True, detail,
                             time.perf_counter() - started)
    finally:
        await model.aclose()


async def check_endpoints(roles: dict[str, ModelConfig]) -> list[EndpointCheck]:
    """Check every role's endpoint, concurrently.

    Args:
        roles: ``{"agent": config, "user": config, ...}``; the ``agent`` role
            is checked with a tool call.

    Returns:
        One :class:`EndpointCheck` per role, in the order given.
    """
    jobs = [_check_one(role, cfg, tools=(role == "agent")) for role, cfg in roles.items()]
    return list(await asyncio.gather(*jobs))
