"""``python -m toolgym`` runs the CLI."""

from toolgym.cli import console_main

console_main()
