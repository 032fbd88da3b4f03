"""The ``toolgym`` command line."""

from toolgym.cli._app import app, main

__all__ = ["app", "main"]
