"""The ``toolgym`` command line."""

from toolgym.cli._app import app, console_main, main

__all__ = ["app", "console_main", "main"]
