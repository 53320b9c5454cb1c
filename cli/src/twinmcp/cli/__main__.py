"""Entry point of the `twinmcp` command."""

from __future__ import annotations

import sys

from twinmcp.cli.commands import run


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
