"""Where the CLI writes: results to stdout, problems to stderr."""

from __future__ import annotations

from rich.console import Console

console = Console()
err = Console(stderr=True)
