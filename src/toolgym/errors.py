"""Exception types shared across toolgym.

A :class:`ToolError` raised inside a tool is part of the simulation: it goes
back to the agent as an error tool message and the episode continues. Every
other exception type here signals user error (bad input files, bad
configuration) or infrastructure trouble, and carries a one-line message
meant for people.
"""

from __future__ import annotations


class ToolgymError(Exception):
    """Base class for toolgym errors whose message is meant for a person."""


class ToolError(Exception):
    """Raised by a tool when a call fails; the agent sees ``Error: <message>``."""


class DataError(ToolgymError):
    """A task, database or configuration file is malformed.

    The message names the file, and where known the task id and the field.
    """


class DomainNotFoundError(ToolgymError):
    """No domain is registered under the requested name."""


class ConfigError(ToolgymError):
    """A configuration value is invalid or inconsistent."""


class MissingDependencyError(ToolgymError):
    """An optional dependency is needed; the message says which extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this feature needs the optional package {package!r}: "
            f"pip install 'toolgym[{extra}]'"
        )
        self.package = package
        self.extra = extra
