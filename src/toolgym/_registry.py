"""A small name -> factory registry shared by agents, user simulators and model providers.

Each registry knows what kind of thing it holds (for error messages) and
how to import the built-in entries; the import runs lazily, on the first
lookup, so that importing a base module does not pull in every
implementation (and plugins can register their own entries first or later).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Generic, TypeVar

from toolgym.errors import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one kind, registered by name.

    Registering a name again replaces the earlier entry, so a plugin may
    override a built-in.

    Args:
        kind: What an entry is, as said in errors, e.g. ``"agent strategy"``.
        load_builtins: Imports the modules that register the built-in
            entries; called before every lookup (a repeated import is a
            cheap ``sys.modules`` hit, and a failed one is retried).
    """

    def __init__(self, kind: str, load_builtins: Callable[[], object] | None = None) -> None:
        self.kind = kind
        self._load_builtins = load_builtins
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering its target under ``name`` and returning it unchanged."""

        def deco(entry: T) -> T:
            self._entries[name] = entry
            return entry

        return deco

    def names(self) -> list[str]:
        """The registered names, sorted (built-ins included)."""
        self._ensure_builtins()
        return sorted(self._entries)

    def get(self, name: str, *, within: str | None = None) -> T:
        """The entry registered under ``name``.

        Args:
            name: The name to look up.
            within: Where the name came from (e.g. a full model string), quoted
                in the error as ``in '<within>'``.

        Raises:
            ConfigError: No entry has that name; the message lists the known names.
        """
        self._ensure_builtins()
        entry = self._entries.get(name)
        if entry is None:
            where = f" in {within!r}" if within is not None else ""
            known = ", ".join(sorted(self._entries))
            raise ConfigError(f"unknown {self.kind} {name!r}{where} (known: {known})")
        return entry

    def description(self, name: str) -> str:
        """A one-line description of the entry ``name``.

        The first line of the entry's own docstring (a factory function's, or
        a registered class's), else of its module's docstring, with reST
        literal quotes removed; ``""`` when neither has one.

        Raises:
            ConfigError: No entry has that name.
        """
        entry = self.get(name)
        for doc in (getattr(entry, "__doc__", None),
                    getattr(sys.modules.get(getattr(entry, "__module__", "") or ""), "__doc__",
                            None)):
            if isinstance(doc, str) and doc.strip():
                return doc.strip().splitlines()[0].replace("``", "").strip()
        return ""

    def _ensure_builtins(self) -> None:
        if self._load_builtins is not None:
            self._load_builtins()
