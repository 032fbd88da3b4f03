"""``python -m toolgym`` runs the CLI."""

from toolgym.cli import main

main()
