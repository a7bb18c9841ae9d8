"""``python -m alt42_pipeline <command>``: the project's command line.

Each domain registers its own subcommands; this module only dispatches to them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .interventions import cli as interventions_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alt42_pipeline", description="The alt42_pipeline command line.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    interventions_cli.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
